"""The detailed report of a run."""

from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.goals import Goal
from bench.load import callgrind
from bench.load.client import Verification
from bench.load.records import ClientResult, StreamRecord, ms, p50_p99_max, percentile, verdict
from bench.load.server import ServerProbe
from bench.load.settings import (
    ALONE,
    BUSY_CORE,
    CAP_STREAMS,
    GAP_TARGET_MS,
    TICK_S,
    TTFT_GOAL_MS,
)


@dataclass
class Condition:
    """One streaming phase (alone, or with one core busy) and what it came to."""

    name: str
    results: Sequence[ClientResult]
    server_cpu: tuple[float, ...]
    checked: Verification
    server_probe: ServerProbe | None
    # CPU seconds the busy-core process took during the phase (None: no such process).
    burner_cpu: float | None = None
    # The server's instructions per thread during the phase (--callgrind), else None.
    instructions: dict[int, int] | None = None

    @property
    def records(self) -> list[StreamRecord]:
        """Every stream of the phase."""
        return [r for result in self.results for r in result.records]

    def ttft_p99(self) -> float:
        """p99 time to first token, seconds."""
        return percentile([r.first_token for r in self.records if r.first_token is not None], 0.99)

    def gap_p99(self) -> float:
        """p99 gap between token messages, seconds."""
        return percentile([g for r in self.records for g in r.gaps], 0.99)

    def errors(self) -> int:
        """Streams that ended with an error."""
        return sum(bool(r.error_type) for r in self.records)


def report(args: argparse.Namespace, condition: Condition) -> None:
    """Prints the detailed figures of one streaming phase."""
    results, server_cpu = condition.results, condition.server_cpu
    checked, server_probe = condition.checked, condition.server_probe
    records = [r for result in results for r in result.records]
    started = min(r.started for r in results)
    wall = max(r.ended for r in results) - started
    delay = 1.0 / args.tokens_per_second
    ideal = (args.tokens - 1) * delay
    completed = [r for r in records if r.completed]
    tokens = sum(r.tokens for r in records)
    messages = sum(r.messages for r in records)
    ttft = [r.first_token for r in records if r.first_token is not None]
    human = [r.user_response for r in records if r.user_response is not None]
    gaps = [g for r in records for g in r.gaps]
    lags = [lag for result in results for lag in result.loop_lags]
    client_cpu = sum(r.cpu_seconds for r in results)
    client_loop_cpu = max(r.loop_cpu_seconds for r in results)
    spread = max(r.started for r in records) - min(r.started for r in records)
    short = sum(r.completed and r.tokens != args.tokens for r in records)
    errors = Counter(r.error_type for r in records if r.error_type)
    first_error = {}
    for r in records:
        if r.error_type:
            first_error.setdefault(r.error_type, r.error_message)
    per_stream_rate = [
        (r.tokens - 1) / sum(r.gaps) for r in records if r.completed and r.gaps and sum(r.gaps)
    ]

    print(f"\nStreaming ({condition.name})")
    print(f"  wall time            {wall:.2f} s   (ideal {ideal:.2f} s: {args.tokens - 1} gaps)")
    print(f"  streams started      {len(records)} within {ms(spread)} of each other")
    print(
        f"  completed streams    {len(completed)}/{len(records)}   "
        f"{len(completed) / wall:.1f} streams/s"
        + (f"   ({short} with a token count other than {args.tokens})" if short else "")
    )
    print(
        f"  tokens received      {tokens:,}   {tokens / wall:,.0f} tokens/s aggregate, "
        f"{percentile(per_stream_rate, 0.5):.1f} tokens/s per stream (median); "
        f"{tokens / messages if messages else math.nan:.2f} tokens/message"
    )
    print(f"  time to first token  {p50_p99_max(ttft)}")
    print(
        f"    of which human   p50 {ms(percentile(human, 0.5))}   p99 "
        f"{ms(percentile(human, 0.99))}   (until the stored human message came back)"
    )
    print(f"  token-message gap    {p50_p99_max(gaps)}   (ideal {ms(delay)}; {len(gaps):,} gaps)")
    print(
        f"  server CPU           {server_cpu[0]:.2f} s   {100 * server_cpu[0] / wall:.0f} % of "
        f"one core; its event-loop thread {100 * server_cpu[1] / wall:.0f} %"
    )
    print(
        f"  client CPU           {client_cpu:.2f} s   {100 * client_cpu / wall:.0f} % of one core "
        f"({len(results)} process{'es' if len(results) > 1 else ''}; {os.cpu_count()} cores); "
        f"busiest event-loop thread {100 * client_loop_cpu / wall:.0f} %"
    )
    print_start_window(results)
    print_watchers(results)
    irq = server_cpu[3]
    others = max(0.0, server_cpu[2] - irq - server_cpu[0] - client_cpu)
    print(
        f"  other processes CPU  {others:.2f} s   {100 * others / wall:.0f} % of one core; "
        f"interrupts {100 * irq / wall:.0f} %; machine busy "
        f"{100 * server_cpu[2] / wall / (os.cpu_count() or 1):.0f} % of {os.cpu_count()} cores"
    )
    if condition.burner_cpu is not None:
        print(
            f"  busy-core process    {condition.burner_cpu:.2f} s   "
            f"{100 * condition.burner_cpu / wall:.0f} % of one core (a Python spin loop, nice 0)"
        )
    print(f"  client loop lag      {p50_p99_max(lags)}   ({TICK_S * 1000:g} ms ticker)")
    pauses = [p for result in results for p in result.gc_pauses]
    print(
        f"  client GC pauses     {len(pauses)}   total {ms(sum(pauses))}   "
        f"max {ms(max(pauses, default=0.0))}"
    )
    if server_probe is not None:
        lags, server_gc = server_probe.lags, server_probe.gc_pauses
        print(f"  server loop lag      {p50_p99_max(lags)}   (--probe-server-loop)")
        print(
            f"  server GC pauses     {len(server_gc)}   total {ms(sum(server_gc))}   "
            f"max {ms(max(server_gc, default=0.0))}   (--probe-server-loop)"
        )
    if server_probe is not None:
        print_start_split(records, server_probe)
    if condition.instructions is not None:
        print(callgrind.describe(condition.instructions, len(records)))
    if checked.server_total:
        print(
            f"  server pacing        reply total time p50 "
            f"{percentile(checked.server_total, 0.5):.2f} s   p99 "
            f"{percentile(checked.server_total, 0.99):.2f} s (ideal {ideal:.2f} s); server "
            f"TTFT p50 {ms(percentile(checked.server_ttft, 0.5))}   p99 "
            f"{ms(percentile(checked.server_ttft, 0.99))}   (stored replies' own clock)"
        )
    print(f"  errors               {sum(errors.values())}")
    for kind, count in errors.most_common():
        print(f"    {count:>5} x {kind}: {first_error[kind][:160]}")

    print("\nStored replies")
    print(
        f"  complete and equal   {checked.complete_equal}/{len(completed)} completed streams; "
        f"{checked.checked} conversations checked"
    )
    print(f"  lost                 {len(checked.lost)}")
    for line in checked.lost[:5]:
        print(f"    {line}")


def print_start_window(results: Sequence[ClientResult]) -> None:
    """How busy the client's (and the server's) loop thread was until every first token.

    A loop thread busy nearly all of that window is what the starts waited for: the
    client's own loop, if it is the client's, is a cost of the benchmark, not the server.
    """
    for number, result in enumerate(results):
        wall = result.starts_wall
        if math.isnan(wall) or wall <= 0:
            continue
        line = (
            f"  starts' window       {ms(wall)} until every first token"
            + (f" (client {number + 1})" if len(results) > 1 else "")
            + f"; client loop CPU {ms(result.starts_loop_cpu)} "
            f"({100 * result.starts_loop_cpu / wall:.0f} %)"
        )
        if not math.isnan(result.starts_server_loop_cpu):
            line += (
                f", server loop CPU {ms(result.starts_server_loop_cpu)} "
                f"({100 * result.starts_server_loop_cpu / wall:.0f} %)"
            )
        print(line)


def print_start_split(records: Sequence[StreamRecord], probe: ServerProbe) -> None:
    """Splits each start's time to its acknowledgement at the servicer's two marks.

    accepted: the client's request start to the servicer's first line (the SDK building
    and sending the call, gRPC accepting it: `--accept-ahead` calls at once); read: from
    there to the conversation read (the caller's key check and the conversation's owner,
    one grouped read); stored: from there to the stored human message (the group commit);
    back: from there to the client holding the acknowledgement (gRPC's write, the
    client's loop reading it).
    """
    accepted: list[float] = []
    read: list[float] = []
    stored: list[float] = []
    back: list[float] = []
    read_turns: list[float] = []
    stored_turns: list[float] = []
    for record in records:
        marks = probe.starts.get(record.conversation_id, {})
        if "human" not in marks or "conversation" not in marks or record.user_response is None:
            continue
        accepted.append(marks["arrived"] - record.started)
        read.append(marks["conversation"] - marks["arrived"])
        stored.append(marks["human"] - marks["conversation"])
        back.append(record.started + record.user_response - marks["human"])
        if "human turn" in marks:
            read_turns.append(marks["conversation turn"] - marks["arrived turn"])
            stored_turns.append(marks["human turn"] - marks["conversation turn"])

    def row(name: str, values: list[float], turns: list[float] | None = None) -> str:
        line = f"    {name:<15}{p50_p99_max(values)}"
        if turns:
            # Loop turns are what a start waits through, whatever else slows each turn.
            line += f"   turns p50 {percentile(turns, 0.5):.0f} p99 {percentile(turns, 0.99):.0f}"
        return line

    print(f"  start, split ({len(accepted)} streams; --probe-server-loop; trips: until the last)")
    if accepted and not read_turns:
        print("    (loop turns not counted: the server ran on uvloop, whose turns run in C)")
    print(row("accepted", accepted) + "   (request start → servicer)")
    print(row("read", read, read_turns) + "   (servicer → caller and conversation read)")
    print(row("stored", stored, stored_turns) + "   (→ human message stored: the group commit)")
    print(row("back", back) + "   (stored → acknowledgement at the client)")
    # The trips until the last human message was stored: what the starts waited for.
    humans = [m["human"] for m in probe.starts.values() if "human" in m]
    until = max(humans, default=math.inf)
    for kind, name in (("run_reads", "read trips"), ("run_group", "group commits")):
        trips = [t for t in probe.trips if t[0] == kind and t[1] <= until]
        wall = sum(t[2] - t[1] for t in trips)
        cpu = sum(t[4] for t in trips)
        longest = max(trips, key=lambda t: t[2] - t[1], default=None)
        print(
            f"    {name:<15}{len(trips)} for {sum(t[3] for t in trips)} "
            f"{'statements' if kind == 'run_reads' else 'writes'}: {ms(wall)} on the store's "
            f"thread, of which CPU {ms(cpu)} (the rest waits for the GIL or a core)"
            + (
                ""
                if longest is None
                else f"; longest {ms(longest[2] - longest[1])} (CPU {ms(longest[4])}, "
                f"{longest[3]} {'statements' if kind == 'run_reads' else 'writes'})"
            )
        )


def print_cap(cap: tuple[bool, str]) -> None:
    """Prints the cap check."""
    print(f"\nCap check (fresh server, --max-streams {CAP_STREAMS})")
    print(f"  {verdict(cap[0])}: {cap[1]}")


def goals(conditions: Sequence[Condition], cap: tuple[bool, str] | None) -> list[Goal]:
    """The now-vs-goal rows of issue 13 and the load run's own targets."""
    by_name = {c.name: c for c in conditions}
    rows: list[Goal] = []
    alone = by_name.get(ALONE)
    busy = by_name.get(BUSY_CORE)
    ttft_goal = f"p99 < {TTFT_GOAL_MS:g} ms"
    gap_goal = f"p99 < {GAP_TARGET_MS:g} ms"
    if alone is not None:
        ttft = alone.ttft_p99()
        rows.append(
            Goal("time to first token, alone", ms(ttft), ttft_goal, ttft * 1000 < TTFT_GOAL_MS)
        )
        gap = alone.gap_p99()
        rows.append(Goal("token gap, alone", ms(gap), gap_goal, gap * 1000 < GAP_TARGET_MS))
    else:
        rows.append(Goal("time to first token, alone", "not run", ttft_goal, None))
    if busy is not None:
        gap = busy.gap_p99()
        rows.append(Goal("token gap, one core busy", ms(gap), gap_goal, gap * 1000 < GAP_TARGET_MS))
        ttft = busy.ttft_p99()
        rows.append(Goal("time to first token, one core busy", ms(ttft), "(figure only)", None))
    else:
        rows.append(Goal("token gap, one core busy", "not run", gap_goal, None))
    for c in conditions:
        errors = c.errors()
        rows.append(Goal(f"errors, {c.name}", str(errors), "0", errors == 0))
        lost = len(c.checked.lost)
        rows.append(Goal(f"lost replies, {c.name}", str(lost), "0", lost == 0))
        if any(r.watchers for r in c.results):
            wrong = sum(r.watch_mismatches + r.watch_unfinished + r.watch_errors for r in c.results)
            rows.append(Goal(f"watchers wrong or cut, {c.name}", str(wrong), "0", wrong == 0))
    if cap is not None:
        rows.append(
            Goal(
                "stream over --max-streams",
                "RESOURCE_EXHAUSTED" if cap[0] else "wrong",
                "RESOURCE_EXHAUSTED",
                cap[0],
            )
        )
    return rows


def print_watchers(results: Sequence[ClientResult]) -> None:
    """What the watchers of `--watchers` saw (nothing without it)."""
    watchers = sum(r.watchers for r in results)
    if not watchers:
        return
    gaps = [g for r in results for g in r.watch_gaps]
    print(
        f"  watchers             {watchers}: {sum(r.watch_events for r in results):,} events; "
        f"text-event gap p50 {ms(percentile(gaps, 0.5))}   p99 {ms(percentile(gaps, 0.99))}; "
        f"watched text differing from the reply {sum(r.watch_mismatches for r in results)}, "
        f"reply end not seen {sum(r.watch_unfinished for r in results)}, "
        f"watch errors {sum(r.watch_errors for r in results)}"
    )
