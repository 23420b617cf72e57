"""`bench.scale` runs end to end on a tiny load and prints its now-vs-goal table.

The figures themselves are not judged here (timings of a shared machine); what is
checked is that both phases run — two replicas on a real PostgreSQL database, one of them
killed with SIGKILL in the second — and that every row of the table is printed.
"""

from __future__ import annotations

import pytest

from bench.scale.cli import parse_args, run
from grove_explorer.server.store.postgres.cluster import PostgresCluster
from tests.postgres_server import admin_url


async def test_the_scale_bench_runs_both_phases_and_prints_its_table(
    postgres_cluster: PostgresCluster | None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args(["--quick", "--streams", "4", "--pg", admin_url(postgres_cluster)])
    await run(args)
    printed = capsys.readouterr().out
    assert "Phase 1: both replicas up" in printed
    assert "Phase 2: kill -9 of replica A mid-run" in printed
    assert "kill -9 of A" in printed
    table = printed[printed.index("Now vs goal (bench.scale)") :]
    for row in (
        "phase 1: errors",
        "phase 1: lost",
        "phase 1: token gap",
        "phase 2 (kill -9): lost",
        "phase 2: errors besides the killed replica's",
        "phase 2: streams on the killed replica",
        "phase 2: A's replies stored after the kill",
    ):
        assert row in table
