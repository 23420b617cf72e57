"""bench.load's server probe measures the server's own event loop (uvloop included).

The probe started its ticker from an event-loop policy, which uvloop's runner never asks:
the server's loop lag printed "n/a" on every probed run. It now starts inside the
coroutine the server's loop runs, whichever loop that is.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench.load.client import warm_up
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
