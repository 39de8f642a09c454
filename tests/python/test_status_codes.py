"""#13: one status code space, owned by the core (cpp/include/cellsense/estimator/status.hpp).

Every code has one name; the Python constants (cellsense.status) equal the core's table as the compiled module
hands it out; the numbers tools and files depend on stay what they were."""
from __future__ import annotations

import pytest

from cellsense import status
from cellsense.estimators.base import _core

core = _core()


def test_python_table_equals_the_core_table():
    table = {int(k): str(v) for k, v in core.status_names().items()}
    assert table == status.NAMES
    assert {int(k): str(v) for k, v in core.STATUS_NAMES.items()} == table
    assert {int(k): str(v) for k, v in core.pack_event_names().items()} == status.EVENT_NAMES


def test_every_code_has_a_unique_name():
    names = list(core.status_names().values())
    assert len(names) == len(set(names)) == 18
    assert "unknown" not in names
    events = list(core.pack_event_names().values())
    assert len(events) == len(set(events)) == 5


@pytest.mark.parametrize("code", range(256))
def test_core_name_of_every_byte(code):
    assert core.status_name(code) == status.NAMES.get(code, "unknown")


def test_the_numbers_tools_depend_on():
    assert (status.INITIAL, status.CLOCK_REANCHORED, status.VOLTAGE_STUCK) == (255, 254, 253)
    assert (status.REST, status.REINIT, status.REINIT_FAILED) == (20, 21, 22)
    assert (core.STATUS_INITIAL, core.STATUS_CLOCK_REANCHORED, core.STATUS_VOLTAGE_STUCK) == (255, 254, 253)
    assert (core.PACK_STATUS_REST, core.PACK_STATUS_REINIT, core.PACK_STATUS_REINIT_FAILED) == (20, 21, 22)
    assert (core.PACK_EVENT_CLOCK_REANCHORED, core.PACK_EVENT_INITIAL) == (3, 255)
    assert status.NAMES[status.REJECTED_DT_NONPOSITIVE] == "rejected_dt_nonpositive"


def test_pack_and_estimator_use_the_same_space():
    from cellsense import pack

    assert pack.status_names() == status.NAMES
    assert pack.EVENTS == status.EVENT_NAMES
    assert (pack.STATUS_INITIAL, pack.STATUS_CLOCK_REANCHORED) == (status.INITIAL, status.CLOCK_REANCHORED)
