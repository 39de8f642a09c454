"""cellsense.stackbound: worst-case stack from a GCC call graph (-fcallgraph-info=su).

The real bound on the Cortex-M4F build is checked by the MCU suite (ctest stack_bound_cortex-m4f,
scripts/mcu_test.sh); these tests check the graph walk on small hand-written graphs.
"""
from pathlib import Path

import pytest

from cellsense.mcu.stackbound import StackBoundError, bound


def _ci(tmp_path: Path, nodes: dict[str, str], edges: list[tuple[str, str]]) -> Path:
    lines = ['graph: { title: "t.cpp"']
    for title, frame in nodes.items():
        lines.append(f'node: {{ title: "{title}" label: "void {title}()\\nt.cpp:1:1\\n{frame}" }}')
    for a, b in edges:
        lines.append(f'edge: {{ sourcename: "{a}" targetname: "{b}" }}')
    lines.append("}")
    p = tmp_path / "t.ci"
    p.write_text("\n".join(lines) + "\n")
    return p


# verifies: CS-PLAT-003
def test_depth_is_frame_plus_deepest_chain(tmp_path):
    ci = _ci(tmp_path, {"cs_step": "16 bytes (static)", "t.cpp:a": "100 bytes (static)",
                        "t.cpp:b": "40 bytes (static)", "t.cpp:c": "8 bytes (static)", "cs_soc": "0 bytes (static)"},
             [("cs_step", "t.cpp:a"), ("cs_step", "t.cpp:b"), ("t.cpp:b", "t.cpp:c"), ("t.cpp:a", "t.cpp:c")])
    r = bound([ci])
    assert r["cs_step"]["stack_bytes"] == 16 + 100 + 8
    assert r["cs_step"]["path"][:2] == ["void cs_step", "void t.cpp:a"]
    assert r["cs_soc"]["stack_bytes"] == 0


# verifies: CS-PLAT-003
@pytest.mark.parametrize("frame,edges,msg", [
    ("16 bytes (static)", [("cs_step", "t.cpp:a"), ("t.cpp:a", "cs_step")], "recursion"),
    ("16 bytes (dynamic)", [], "dynamic"),
    ("16 bytes (static)", [("cs_step", "memcpy")], "cannot bound"),
])
def test_unboundable_graphs_are_refused(tmp_path, frame, edges, msg):
    ci = _ci(tmp_path, {"cs_step": frame, "t.cpp:a": "4 bytes (static)"}, edges)
    with pytest.raises(StackBoundError, match=msg):
        bound([ci])
