"""The figures of both phases, and the now-vs-goal table."""

from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.goals import Goal
from bench.load.records import StreamRecord, ms, p50_p99_max, percentile
from bench.load.server import ServerProbe
from bench.scale.phases import Phase
from bench.scale.settings import GAP_GOAL_MS, RECOVERY_GOAL_S


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


@dataclass
class GapStages:
    """A phase's gaps cut where its load changes: stream starts, then every stream, ends.

    All streams start at once and run as long, so they also end within a short time of
    each other: the starts (human messages stored, first tokens) overlap the first
    streams' tokens, and the ends (replies stored) the last streams' tokens. Between the
    last stream's first token and the first stream's last token every stream runs and
    nothing else happens: the streaming itself. Each gap is placed by the time it ended:
    its stream's start, plus its time to first token, plus its gaps so far (perf_counter
    seconds, CLOCK_MONOTONIC in every process).
    """

    starting: list[float] = field(default_factory=list)
    all_running: list[float] = field(default_factory=list)
    ending: list[float] = field(default_factory=list)
    # The window in which every stream ran (perf_counter seconds; empty when none did).
    window: tuple[float, float] = (0.0, 0.0)


def _first_token_at(record: StreamRecord) -> float:
    """When a stream's first token came (perf_counter seconds; it must have one)."""
    assert record.first_token is not None
    return record.started + record.first_token


def _last_token_at(record: StreamRecord) -> float:
    """When a stream's last token came: its first, plus every gap after it."""
    return _first_token_at(record) + sum(record.gaps)


def gaps_by_stage(records: Sequence[StreamRecord]) -> GapStages:
    """Every gap of `records`, by the stage of the phase it ended in (see GapStages)."""
    timed = [r for r in records if r.first_token is not None]
    stages = GapStages()
    if not timed:
        return stages
    all_started = max(map(_first_token_at, timed))
    first_end = min(map(_last_token_at, timed))
    stages.window = (all_started, max(all_started, first_end))
    for record in timed:
        at = _first_token_at(record)
        for gap in record.gaps:
            at += gap
            if at <= all_started:
                stages.starting.append(gap)
            elif at <= first_end:
                stages.all_running.append(gap)
            else:
                stages.ending.append(gap)
    return stages


def busy_cores_between(samples: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Cores busy on average from `start` to `end`, from (perf_counter, busy CPU) samples.

    The samples are the machine's busy CPU seconds (/proc/stat) read every `BUSY_SAMPLE_S`
    during the phase; the window is widened to the samples around it. NaN when fewer
    than two samples fall in or around it.
    """
    before = [s for s in samples if s[0] <= start]
    after = [s for s in samples if s[0] >= end]
    if not before or not after or after[0][0] <= before[-1][0]:
        return math.nan
    (t0, busy0), (t1, busy1) = before[-1], after[0]
    return (busy1 - busy0) / (t1 - t0)


def last_token_behind(records: Sequence[StreamRecord], tokens_per_second: float) -> list[float]:
    """How far behind the pace each reply's last token came (seconds; 0 or more is late).

    The gaps say how evenly messages came; a server that falls behind and sends its backlog
    in one message shows a long gap once, one that sends it a message a round trip shows
    many short ones after a long wait, each token later than the last. The time the last
    token came after the first, less the (tokens - 1) / pace the sampler took, shows
    both alike. Only replies streamed whole from their own replica count: one resumed
    elsewhere gets its rest resent from the store at once, ahead of any pace.
    """
    return [
        sum(r.gaps) - (r.tokens - 1) / tokens_per_second
        for r in records
        if r.first_token is not None and r.tokens > 1 and not r.error_type and not r.resumes
    ]


def reply_after_last_token(records: Sequence[StreamRecord]) -> list[float]:
    """Seconds from each completed stream's last token to its end (the stored reply).

    The stream ends with the stored reply's message; when hundreds of replies end
    together their stores queue (server/servicer/reply_streaming.py: a few at a time,
    so the streams still running keep their pace), which this shows.
    """
    return [
        r.ended - _last_token_at(r)
        for r in records
        if r.first_token is not None and r.completed and not r.resumes
    ]


def probe_line(probe: ServerProbe | None) -> str:
    """A probed replica's loop lag and collector passes during the streams, in one line."""
    if probe is None:
        return "no figures (the replica was killed, or its probe wrote none)"
    lags, pauses = probe.lags, probe.gc_pauses
    longest = f", longest {ms(max(pauses))}" if pauses else ""
    return (
        f"loop lag {p50_p99_max(lags)} (5 ms ticker); collector passes "
        f"{len(pauses)}, {ms(sum(pauses))} in all{longest} (each stops all its streams)"
    )


def print_phase(args: argparse.Namespace, phase: Phase) -> None:
    """Prints one phase's figures."""
    records = phase.records
    ttft = [r.first_token for r in records if r.first_token is not None]
    gaps = [g for r in records for g in r.gaps]
    cores = os.cpu_count() or 1
    print(f"\n{phase.name}")
    split = ", ".join(f"{name} {count}" for name, count in phase.split.items())
    print(
        f"  streams              {len(records)} over {len(phase.results)} client process(es); "
        f"per replica (from their checkpoints): {split}"
        + (f", never seen running {phase.unseen}" if phase.unseen else "")
    )
    print(f"  wall time            {phase.wall:.2f} s")
    print(f"  time to first token  {p50_p99_max(ttft)}")
    print(
        f"  token-message gap    {p50_p99_max(gaps)}   "
        f"(ideal {ms(1.0 / args.tokens_per_second)}; {len(gaps):,} gaps)"
    )
    stages = gaps_by_stage(records)
    start, end = stages.window
    busy = busy_cores_between(phase.busy_samples, start, end)
    for label, part, what in (
        ("while starting", stages.starting, "until the last stream's first token"),
        ("while all run", stages.all_running, f"{end - start:.2f} s; {busy:.2f} cores busy"),
        ("while ending", stages.ending, "after the first stream's last token"),
    ):
        print(f"    {label:<16} {p50_p99_max(part)}   ({len(part):,} gaps, {what})")
    behind = last_token_behind(records, args.tokens_per_second)
    print(
        f"  last token behind    {p50_p99_max(behind)}   "
        "(after the first token, less the pace's; replies not resumed: how late they end)"
    )
    stored = reply_after_last_token(records)
    print(
        f"  reply after last token {p50_p99_max(stored)}   "
        "(the stored reply's message, after the stream's last token: a reply is stored "
        "once its tokens are sent)"
    )
    lags = [lag for result in phase.results for lag in result.loop_lags]
    client_cpu = sum(result.cpu_seconds for result in phase.results)
    print(
        f"  client loop lag      {p50_p99_max(lags)}   (a late client loop reads tokens late); "
        f"client CPU {client_cpu:.1f} s"
    )
    cpu = ", ".join(
        f"{name} {seconds:.1f} s ({100 * seconds / phase.wall:.0f} % of a core)"
        for name, seconds in phase.cpu.items()
    )
    print(f"  replica CPU          {cpu}")
    for name, probe in phase.probes.items():
        print(f"  replica {name} probe      {probe_line(probe)}")
    rest = phase.machine_busy - client_cpu - sum(phase.cpu.values())
    print(
        f"  machine CPU          {phase.machine_busy:.1f} s: {phase.busy_cores:.2f} of {cores} "
        f"cores busy on average (replicas {sum(phase.cpu.values()):.1f} s, clients "
        f"{client_cpu:.1f} s, PostgreSQL and the rest {rest:.1f} s); near {cores} the gaps "
        "measure the machine's saturation, not one replica's latency"
    )
    print(
        f"  machine load         {_load(phase.load_before)} before, {_load(phase.load_after)} "
        f"after (1/5/15-min load average; {cores} cores)"
    )
    errors = Counter(r.error_type for r in records if r.error_type)
    first: dict[str, str] = {}
    for r in records:
        if r.error_type:
            first.setdefault(r.error_type, r.error_message)
    print(f"  errors               {sum(errors.values())}")
    for kind, count in errors.most_common():
        print(f"    {count:>5} x {kind}: {first[kind][:160]}")
    checked = phase.checked
    kill = phase.kill
    if kill is not None:
        print(
            f"  kill -9 of A         {kill.at:.2f} s after the start, with {kill.seen} of "
            f"{len(records)} streams seen running (checkpointed), {len(kill.victims)} running on A"
        )
        recovery = "not all" if kill.recovery is None else f"{kill.recovery:.2f} s"
        print(
            f"  recovery             {kill.recovered}/{len(kill.victims)} replies of the streams "
            f"A was running stored (B's partial replies, or whole before the kill); the last "
            f"{recovery} after the kill"
        )
        resumes = sum(r.resumes for r in records)
        print(
            f"  outcomes             completed {checked.completed} (of which resumed "
            f"{checked.resumed}), partial reply recovered {checked.partial}, reply stored "
            f"whole before the kill but not all read {checked.finished_unread}, human message "
            f"only {checked.human_only}, not acknowledged {checked.unacknowledged}; "
            f"{resumes} resume attempts"
        )
        print(
            f"  resumed from store   {checked.from_store} streams of A ended with the reply "
            f"B resent from the store (whole, or partial from A's checkpoint); "
            f"StreamNotResumableError {checked.not_resumable}"
        )
        beyond = checked.beyond
        print(
            f"  errors of A's streams {checked.expected_errors} (expected: the reply ran on A), "
            f"other errors {checked.unexpected_errors}"
        )
        early = checked.before_checkpoint
        if early:
            print(
                f"  killed before their first checkpoint  {len(early)} streams of A had "
                f"received up to {max(early)} chars (their human message is stored; the "
                "reply text was not yet: checkpoints every --checkpoint-ms)"
            )
            for note in checked.notes[:3]:
                print(f"    {note}")
        if beyond:
            behind = [-b for b in beyond if b < 0]
            print(
                f"  text after the last checkpoint  max {max(0, *beyond)} chars received and not "
                f"in the partial reply; {len(behind)} clients were behind their checkpoint "
                f"(by up to {max(behind, default=0)} chars, sampled but not yet read)"
            )
    else:
        print(
            f"  stored replies       {checked.completed}/{len(records)} complete and equal to "
            f"what the client received"
        )
    print(f"  lost                 {len(checked.lost)}")
    for line in checked.lost[:5]:
        print(f"    {line}")
    for text in phase.server_errors:
        print(f"  replica log          {text[:300]}")


def goals(first: Phase, second: Phase) -> list[Goal]:
    """The scale figure's goals (issue 17)."""
    records = first.records
    gaps = [g for r in records for g in r.gaps]
    gap = percentile(gaps, 0.99)
    errors = sum(bool(r.error_type) for r in records)
    rows = [
        Goal("phase 1: errors", str(errors), "0", errors == 0),
        Goal("phase 1: lost", str(len(first.checked.lost)), "0", not first.checked.lost),
        Goal(
            f"phase 1: token gap ({first.busy_cores:.1f} of {os.cpu_count()} cores busy)",
            ms(gap),
            f"p99 < {GAP_GOAL_MS:g} ms on a quiet machine",
            gap * 1000 < GAP_GOAL_MS,
        ),
    ]
    stages = gaps_by_stage(records)
    busy = busy_cores_between(first.busy_samples, *stages.window)
    rows.append(
        Goal(
            f"phase 1: token gap while all run ({busy:.2f} cores busy)",
            ms(percentile(stages.all_running, 0.99)),
            "(figure) p99",
            None,
        )
    )
    checked = second.checked
    rows.append(Goal("phase 2 (kill -9): lost", str(len(checked.lost)), "0", not checked.lost))
    rows.append(
        Goal(
            "phase 2: errors besides the killed replica's",
            str(checked.unexpected_errors),
            "0",
            checked.unexpected_errors == 0,
        )
    )
    kill = second.kill
    victims = 0 if kill is None else len(kill.victims)
    rows.append(Goal("phase 2: streams on the killed replica", str(victims), "> 0", victims > 0))
    early = len(checked.before_checkpoint)
    rows.append(
        Goal("phase 2: A's streams killed before a checkpoint", str(early), "(figure)", None)
    )
    ahead = [b for b in checked.beyond if b > 0]
    rows.append(
        Goal(
            "phase 2: text received after A's last checkpoint",
            f"{len(ahead)} streams, max {max(ahead, default=0)} chars",
            "(figure; --checkpoint-ms bounds it)",
            None,
        )
    )
    rows.append(
        Goal(
            "phase 2: A's streams resumed from the store / not resumable",
            f"{checked.from_store} / {checked.not_resumable}",
            "(figure)",
            None,
        )
    )
    recovery = None if kill is None else kill.recovery
    rows.append(
        Goal(
            "phase 2: A's replies stored after the kill",
            "not all" if recovery is None else f"{recovery:.2f} s",
            f"≤ {RECOVERY_GOAL_S:g} s",
            recovery is not None and recovery <= RECOVERY_GOAL_S,
        )
    )
    return rows
