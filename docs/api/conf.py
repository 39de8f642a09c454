"""Sphinx configuration of the cellsense API reference (scripts/build_api_docs.sh builds it, warnings as errors).

The reference is generated from the docstrings of the installed package: autosummary walks `cellsense`
recursively (every public module, so a new or moved module is picked up without editing these sources),
autodoc renders each module's members, napoleon reads the NumPy / Google style sections."""
from __future__ import annotations

import cellsense

project = "cellsense"
release = version = cellsense.__version__
author = "cellsense developers"
copyright = "cellsense developers, Apache-2.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"]
autosummary_generate = True
autosummary_ignore_module_all = True  # list every public submodule (cellsense.__all__ names the top-level functions only)
autodoc_default_options = {"undoc-members": False}  # members: per module in _templates/autosummary/module.rst
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_mock_imports = []  # the optional extras are imported lazily, inside functions: nothing to mock
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_ivar = True
# `name` in a docstring is code (the docstrings use it for parameters, columns, files), not a cross-reference
default_role = "code"
nitpicky = False
suppress_warnings: list[str] = []
html_theme = "alabaster"
html_title = f"cellsense {release} API reference"
exclude_patterns = ["_build"]
templates_path = ["_templates"]


# The docstrings are plain text with reStructuredText inline markup, and write an absolute value as |x| (|error|,
# |i|, |device - host|), which reStructuredText would read as a substitution reference: escape every "|" outside
# ``literals`` so it prints as written. (No docstring uses reST substitutions or tables.)
def _escape_bars(app, what, name, obj, options, lines):
    for k, line in enumerate(lines):
        if "|" not in line:
            continue
        parts = line.split("``")
        for j in range(0, len(parts), 2):  # even pieces are outside ``...``
            parts[j] = parts[j].replace("\\|", "|").replace("|", "\\|")
        lines[k] = "``".join(parts)


# napoleon reads the first line of an attribute's docstring as Google-style "type: description"; these
# docstrings are prose ("The ECM parameters in cs_ecm_params order (name, kind): the header is ..."), so an empty
# reST comment as the first line keeps napoleon from taking the words before the first colon for a type (it
# renders as nothing). Runs before napoleon.
def _no_inline_attribute_type(app, what, name, obj, options, lines):
    if what in ("attribute", "data") and lines and ":" in lines[0]:
        lines[0:0] = ["..", ""]


def setup(app):
    app.connect("autodoc-process-docstring", _no_inline_attribute_type, priority=100)
    app.connect("autodoc-process-docstring", _escape_bars)
