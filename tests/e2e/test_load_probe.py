"""bench.load's server probe measures the server's own event loop (uvloop included).

The probe started its ticker from an event-loop policy, which uvloop's runner never asks:
the server's loop lag printed "n/a" on every probed run. It now starts inside the
coroutine the server's loop runs, whichever loop that is.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.load.client import warm_up
from bench.load.records import StreamRecord
from bench.load.report import print_start_split
from bench.load.server import ServerProcess, read_probe
from grove_explorer.server.event_loop import resolved


async def test_a_probed_server_reports_its_loop_lag(tmp_path: Path) -> None:
    probe = tmp_path / "probe.json"
    async with ServerProcess(tmp_path / "g.sqlite3", ("--token-delay-ms", "5"), probe) as server:
        await warm_up(server.address)
    figures = read_probe(probe, -math.inf, math.inf)
    assert figures is not None, "the probe wrote nothing"
    assert len(figures.lags) > 3, f"the ticker did not run on the {resolved('auto')} loop"
    assert all(lag >= 0 for lag in figures.lags)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_start_marks_count_loop_turns_only_where_the_loop_has_turns_to_count(
    tmp_path: Path, loop: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The start split's "turns" column counts `_run_once` calls, which asyncio's loop
    makes and uvloop's never does: on uvloop it printed "turns p50 0", a figure that
    measured nothing. There the marks carry no turns and the report says why."""
    probe = tmp_path / "probe.json"
    args = ("--token-delay-ms", "5", "--event-loop", loop)
    async with ServerProcess(tmp_path / "g.sqlite3", args, probe) as server:
        await warm_up(server.address)
    figures = read_probe(probe, -math.inf, math.inf)
    assert figures is not None and len(figures.starts) == 1
    (marks,) = figures.starts.values()
    assert {"arrived", "conversation", "human"} <= marks.keys()
    turns = {name: value for name, value in marks.items() if name.endswith(" turn")}
    if loop == "asyncio":
        assert turns.keys() == {"arrived turn", "conversation turn", "human turn"}
        assert 0 < turns["arrived turn"] <= turns["conversation turn"] <= turns["human turn"]
    else:
        assert turns == {}
    records = [_record_of(next(iter(figures.starts)), marks)]
    print_start_split(records, figures)
    out = capsys.readouterr().out
    assert ("loop turns not counted" in out) == (loop == "uvloop")
    assert ("turns p50" in out) == (loop == "asyncio")


def _record_of(conversation_id: str, marks: dict[str, float]) -> StreamRecord:
    """A client's record of the probed start: sent just before it arrived, acknowledged
    just after it was stored (the split reads only these two client times)."""
    record = StreamRecord(index=0, conversation_id=conversation_id)
    record.started = marks["arrived"] - 0.001
    record.user_response = marks["human"] + 0.001 - record.started
    return record
