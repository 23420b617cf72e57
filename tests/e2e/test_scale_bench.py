"""`bench.scale` runs end to end on a tiny load and prints its now-vs-goal table.

The figures themselves are not judged here (timings of a shared machine); what is
checked is that both phases run — two replicas on a real PostgreSQL database, one of them
killed with SIGKILL in the second — and that every row of the table is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from bench.load.records import StreamRecord
from bench.load.settings import PROMPT
from bench.scale.cli import parse_args, run
from bench.scale.report import busy_cores_between, gaps_by_stage
from bench.scale.verify import Checked, judge
from grove_explorer.server.store.postgres.cluster import PostgresCluster
from tests.postgres_server import admin_url


async def test_the_scale_bench_runs_both_phases_and_prints_its_table(
    postgres_cluster: PostgresCluster | None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args(
        ["--quick", "--streams", "4", "--probe-replicas", "--pg", admin_url(postgres_cluster)]
    )
    await run(args)
    printed = capsys.readouterr().out
    assert "Phase 1: both replicas up" in printed
    assert "Phase 2: kill -9 of replica A mid-run" in printed
    assert "kill -9 of A" in printed
    first, second = printed.split("Phase 2:")
    for name in ("A", "B"):  # each probed replica's loop was measured while the streams ran
        line = next(x for x in first.splitlines() if f"replica {name} probe" in x)
        assert "loop lag p50" in line and "n/a" not in line, line
    killed = next(x for x in second.splitlines() if "replica A probe" in x)
    assert "no figures" in killed
    table = printed[printed.index("Now vs goal (bench.scale)") :]
    for row in (
        "phase 1: errors",
        "phase 1: lost",
        "phase 1: token gap",
        "phase 2 (kill -9): lost",
        "phase 2: errors besides the killed replica's",
        "phase 2: streams on the killed replica",
        "phase 2: A's replies stored after the kill",
        "phase 2: A's streams resumed from the store / not resumable",
    ):
        assert row in table


@dataclass(frozen=True)
class Reply:
    """A stored response as `judge` reads it."""

    sender: str
    message: str
    partial: bool = False


def stream(text: str, error: str = "", acknowledged: bool = True) -> StreamRecord:
    record = StreamRecord(index=0, conversation_id="c", text=text, error_type=error)
    record.user_response = 0.01 if acknowledged else None
    record.response_id = "" if error else "r"
    return record


HUMAN = Reply("human", PROMPT)
KILLED = "StreamNotResumableError"


def test_each_outcome_of_a_stream_is_told_apart() -> None:
    checked = Checked()
    # Complete and equal; a killed stream's partial reply (a prefix of what it received);
    # a killed stream whose reply was stored whole before the kill.
    judge(stream("abc"), [HUMAN, Reply("model", "abc")], False, False, checked)
    judge(stream("abcdef", KILLED), [HUMAN, Reply("model", "abc", True)], True, True, checked)
    judge(stream("ab", KILLED), [HUMAN, Reply("model", "abcd")], True, True, checked)
    assert (checked.completed, checked.partial, checked.finished_unread) == (1, 1, 1)
    assert checked.beyond == [3]
    assert checked.expected_errors == 2 and checked.unexpected_errors == 0
    # Killed before its first checkpoint: counted apart; a survivor's stream with no reply
    # is lost, as is an acknowledged human message that is not stored.
    judge(stream("ab", KILLED), [HUMAN], True, False, checked)
    judge(stream("ab", "ServerUnavailableError"), [HUMAN], False, False, checked)
    judge(stream("abc"), [Reply("model", "abc")], False, False, checked)
    assert checked.before_checkpoint == [2]
    assert checked.unexpected_errors == 1
    assert len(checked.lost) == 2
    assert (checked.from_store, checked.not_resumable) == (0, 3)
    # A killed stream resumed from the store: the partial reply B recovered, no error.
    resumed = stream("abcd")
    resumed.partial, resumed.resumes = True, 1
    judge(resumed, [HUMAN, Reply("model", "abc", True)], True, True, checked)
    assert checked.from_store == 1 and checked.partial == 2
    # Not acknowledged: nothing was promised.
    judge(stream("", "ServerUnavailableError", acknowledged=False), [], True, False, checked)
    assert checked.unacknowledged == 1 and len(checked.lost) == 2


def test_steady_gaps_are_those_after_every_stream_started() -> None:
    early = StreamRecord(index=0, conversation_id="a", started=0.0, first_token=0.1)
    early.gaps = [0.02, 0.5, 0.02]  # its tokens end at 0.12, 0.62, 0.64
    late = StreamRecord(index=1, conversation_id="b", started=0.0, first_token=0.6)
    late.gaps = [0.03]
    stages = gaps_by_stage([early, late])
    assert sorted(stages.all_running + stages.ending) == [0.02, 0.03, 0.5]


def test_gaps_by_stage_cut_where_streams_start_and_end() -> None:
    # a: first token at 0.1, tokens at 0.12, 0.62, 0.64 (its last: the first stream to end)
    a = StreamRecord(index=0, conversation_id="a", started=0.0, first_token=0.1)
    a.gaps = [0.02, 0.5, 0.02]
    # b: first token at 0.6 (the last first token), tokens at 0.63, 0.73, 1.0
    b = StreamRecord(index=1, conversation_id="b", started=0.0, first_token=0.6)
    b.gaps = [0.03, 0.1, 0.27]
    unstarted = StreamRecord(index=2, conversation_id="c", started=0.0)
    stages = gaps_by_stage([a, b, unstarted])
    assert stages.starting == [0.02]
    assert stages.all_running == [0.5, 0.02, 0.03]
    assert stages.ending == [0.1, 0.27]
    assert stages.window == pytest.approx((0.6, 0.64))
    assert gaps_by_stage([unstarted]).all_running == []


def test_busy_cores_between_uses_the_samples_around_the_window() -> None:
    samples = [(0.0, 10.0), (1.0, 11.5), (2.0, 13.5), (3.0, 14.0)]
    assert busy_cores_between(samples, 1.2, 1.8) == 2.0  # from 1.0 to 2.0
    assert busy_cores_between(samples, 0.5, 2.5) == 4.0 / 3.0  # from 0.0 to 3.0
    assert math.isnan(busy_cores_between(samples, 2.5, 3.5))  # no sample after it
    assert math.isnan(busy_cores_between([], 0.0, 1.0))
