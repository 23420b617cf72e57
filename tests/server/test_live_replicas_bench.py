"""`bench.live_replicas` runs end to end on a small load and judges its own result."""

from __future__ import annotations

import argparse

import pytest

from bench.live_replicas import run
from grove_explorer.server.store.location import PostgresUrl


async def test_the_bench_runs_and_finds_nothing_wrong(
    postgres_url: PostgresUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(pg=postgres_url.url, streams=3, tokens=20, tokens_per_second=400.0)
    assert await run(args) == 0
    printed = capsys.readouterr().out
    assert "watchers             3:" in printed
    assert "watched text differing from the reply 0, reply end not seen 0" in printed
    assert "wrong or cut         0 (goal 0): ok" in printed
