"""Start-up benchmark: `grove` to first paint, opening a big conversation, subtree totals.

Usage: `python -m bench.start [--quick] [--part open|start] [--runs N] [--seed S]`.

Issue 13's figures, measured in the real app:

- **Opening a 2,080-response conversation** (goal < 300 ms) and **subtree totals** (`S`,
  goal < 50 ms). A conversation shaped like a long research session is built first
  (`research_session`: asking on at the tip, resampling replies and editing questions a
  few messages back, now and then going back far; 2,080 responses, the newest ending a
  377-message path under 223 branch points); model messages are Markdown with paragraphs,
  lists and code blocks, with token counts and sampling times. It goes into a fresh
  SQLite file through the server's import path (`ImportConversation`, a temporary
  in-process server), followed by a small newer conversation. Then the real `GroveApp` runs headless
  (`App.run_test(size=(160, 50))`) with its embedded default server on that file; it opens
  the newest (small) conversation by itself. The bench moves the conversation list's
  highlight onto the big one and presses Enter, as a person would: *open* is the time
  from that key to the frame that shows the leaf in the thread and the leaf's run in the
  forest pane. Then `S`: *totals* is the time from the key to the frame that shows the
  totals of the leaf's run ("Σ…") in the forest pane. Each is repeated (the big and the
  small conversation alternately opened, totals toggled off and on) and the median is
  compared with the goal. Frames are turned into terminal output as a real driver would
  and read back as in `bench.tui` (`FrameProbe`; the reading is excluded). Also printed:
  the process's CPU time from the key to that frame (app and embedded server), which
  other processes on a busy machine inflate less than wall time.
- **`grove` to first paint** (goals: < 1.0 s while another process keeps a core busy,
  < 0.6 s warm alone). The real `grove` command (no arguments: embedded server, offline
  sampler) runs in a pseudo-terminal (120x36, `TERM=xterm-256color`) with fresh
  `XDG_DATA_HOME`, `XDG_STATE_HOME` and `XDG_CONFIG_HOME` (an empty data dir: no database
  yet, no config, no remembered layout). First paint is the moment the welcome panel's
  text ("Welcome to Grove") has been written to the terminal, from the `fork`.
  *Cold* is the first launch after the project's bytecode caches (`__pycache__` of the
  `grove_explorer` sources) were deleted, so every module of ours is compiled again as on
  a first launch after installing or updating; the OS file cache stays warm (the bench
  cannot drop it). *Warm* is the median of the launches that follow (caches written, still
  a fresh data dir each time; PYTHONDONTWRITEBYTECODE is dropped from the launches'
  environment, or every launch would be a cold one). *Busy* repeats the warm launches
  while a subprocess burns one core (a tight loop), the condition issue 13 saw on first
  launches, then one cold launch. Also printed: the CPU time `grove` had used by its first
  paint (from /proc). This part runs first (it forks; the app part runs gRPC in this
  process).

`python -X importtime -c "import grove_explorer.app.cli"` shows what start-up imports;
`--profile` prints a cProfile summary of the open and totals steps instead of timing them
repeatedly. It prints each figure beside its goal with PASS/FAIL and exits 0 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import pty
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.goals import Goal, print_goals

perf = time.perf_counter

SIZE = (160, 50)
RESPONSES = 2_080
QUICK_RESPONSES = 300
OPEN_GOAL_S = 0.300
TOTALS_GOAL_S = 0.050
BUSY_GOAL_S = 1.0
WARM_GOAL_S = 0.6
PAINT_TIMEOUT_S = 30.0
WELCOME = b"Welcome to Grove"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = 20_261_205


# -- the research session ----------------------------------------------------------------


@dataclass
class Session:
    """A generated conversation: parents by index, who wrote each message, what it says."""

    parents: list[int | None] = field(default_factory=list)
    human: list[bool] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.parents)

    def children(self) -> dict[int | None, list[int]]:
        """Children by parent index, in creation order."""
        kids: dict[int | None, list[int]] = {}
        for index, parent in enumerate(self.parents):
            kids.setdefault(parent, []).append(index)
        return kids

    def run_start(self, index: int) -> int:
        """The first message of the run (chain of only children) holding `index`."""
        kids = self.children()
        while True:
            parent = self.parents[index]
            if parent is None or len(kids[parent]) != 1:
                return index
            index = parent

    def totals(self, index: int) -> tuple[int, int, float]:
        """(responses, tokens, seconds) of the subtree under `index` (computed here, apart
        from the client's `subtree_totals`, so the bench checks what it waits for)."""
        kids = self.children()
        count, tokens, seconds = 0, 0, 0.0
        stack = [index]
        while stack:
            current = stack.pop()
            count += 1
            tokens += self.tokens[current]
            seconds += self.seconds[current]
            stack.extend(kids.get(current, ()))
        return count, tokens, seconds


def research_session(size: int, seed: int) -> Session:
    """A long research session, in the order a person would have made it.

    They mostly ask and read on at the tip; now and then (15%) they resample a reply or
    edit a question up to four messages back and go on from there, and rarely (0.5%) go
    back to an idea anywhere earlier. The newest message ends a path a few hundred
    messages deep with a couple of hundred branch points above it. Messages carry the
    unique markers of `bench.tui` (`Q<n>Z`).
    """
    from bench.tui import human_text, marker, model_markdown

    rng = random.Random(seed)
    session = Session()

    def add(parent: int | None) -> int:
        index = len(session)
        human = parent is None or not session.human[parent]
        session.parents.append(parent)
        session.human.append(human)
        mark = marker(index)
        session.messages.append(human_text(rng, mark) if human else model_markdown(rng, mark))
        tokens = 0 if human else rng.randint(60, 900)
        session.tokens.append(tokens)
        session.seconds.append(0.0 if human else round(tokens / rng.uniform(30, 90), 2))
        return index

    tip = add(None)
    while len(session) < size:
        roll = rng.random()
        if roll < 0.005:  # back to an early idea, far up the tree
            tip = rng.randrange(len(session))
        elif roll < 0.15:  # a resample or an edit a few messages back
            for _ in range(rng.randint(0, 3)):
                if session.parents[tip] is not None:
                    tip = session.parents[tip]  # type: ignore[assignment]
            if session.human[tip] and session.parents[tip] is not None and rng.random() < 0.3:
                tip = session.parents[tip]  # type: ignore[assignment]  # edit the question
            elif not session.human[tip] and session.parents[tip] is not None:
                tip = session.parents[tip]  # type: ignore[assignment]  # resample the reply
        tip = add(tip)
    return session


def import_request(session: Session, title: str) -> object:
    """The `ImportConversationRequest` that stores `session` (ids are its indexes)."""
    from grove_explorer.protos import chat_pb2

    request = chat_pb2.ImportConversationRequest(title=title)
    for index in range(len(session)):
        parent = session.parents[index]
        human = session.human[index]
        request.responses.append(
            chat_pb2.Response(
                response_id=f"r{index}",
                parent_response_id="" if parent is None else f"r{parent}",
                sender="human" if human else "model",
                message=session.messages[index],
                model_name="" if human else "grok-bench",
                token_count=session.tokens[index],
                total_time_seconds=session.seconds[index],
                time_to_first_token_seconds=0.0 if human else 0.3,
            )
        )
    return request


async def build_database(db: Path, session: Session) -> None:
    """Stores `session` (title "Research session") and then a small newer conversation."""
    from grove_explorer.client import Client
    from grove_explorer.server.config import ServerConfig
    from grove_explorer.server.runtime import GroveServer

    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db))
    await server.start()
    try:
        async with Client(api_host=server.address) as sdk:
            await sdk.grok.import_conversation(import_request(session, "Research session"))  # type: ignore[arg-type]
            small = research_session(6, 1)
            await sdk.grok.import_conversation(import_request(small, "Small talk"))  # type: ignore[arg-type]
    finally:
        await server.stop()


# -- opening and totals in the real app --------------------------------------------------


@dataclass
class OpenResult:
    """Figures of the app part."""

    responses: int
    path_length: int
    opens: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    open_cpu: list[float] = field(default_factory=list)
    totals_cpu: list[float] = field(default_factory=list)
    """CPU time of the process (app and embedded server) from the key to the frame that
    showed the result: less sensitive than wall time to other processes on a busy machine."""
    missed: int = 0


def _probe_app_class() -> type:
    """`GroveApp` recording its frames (defined lazily: importing it is part of start-up)."""
    from textual._compositor import ChopsUpdate, LayoutUpdate

    from bench.tui import FrameProbe
    from grove_explorer.app.grove_app import GroveApp

    class ProbeApp(GroveApp):
        """The real app, recording every frame as terminal output (as `bench.tui` does)."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.probe = FrameProbe()
            self.frame_cpu: dict[float, float] = {}
            """CPU time of the process when each frame (by its probe time) was rendered."""

        def _display(self, screen: object, renderable: object) -> None:
            super()._display(screen, renderable)  # type: ignore[arg-type]
            if renderable is None or self._batch_count or screen is not self.screen:
                return
            if isinstance(renderable, LayoutUpdate | ChopsUpdate):
                renderable.render_segments(self.console)
            cpu = time.process_time()
            self.probe.on_frame(renderable)
            self.frame_cpu[self.probe.frames[-1]] = cpu

    return ProbeApp


async def _quiet(app: object, quiet: float = 0.15, limit: float = 15.0) -> None:
    """Waits until no frame was painted for `quiet` s and no worker runs (at most `limit`)."""
    deadline = perf() + limit
    while perf() < deadline:
        await asyncio.sleep(0.02)
        frames = app.probe.frames  # type: ignore[attr-defined]
        busy = any(not w.is_finished for w in app.workers)  # type: ignore[attr-defined]
        if not busy and (not frames or perf() - frames[-1] >= quiet):
            return


async def run_open(size: int, seed: int, rounds: int, profile: bool) -> OpenResult:
    """Builds the session's database, then times opening it and showing totals."""
    from bench.tui import marker, painted
    from grove_explorer.app.config import AppConfig
    from grove_explorer.app.screens.main import MainScreen
    from grove_explorer.app.widgets.conversation_list import ConversationList
    from grove_explorer.app.widgets.forest_tree.labels import format_totals

    session = research_session(size, seed)
    leaf = len(session) - 1  # never chosen: the newest response is the leaf
    leaf_run = session.run_start(leaf)
    path_length = 1
    walk = session.parents[leaf]
    while walk is not None:
        path_length += 1
        walk = session.parents[walk]
    open_markers = {"thread": marker(leaf), "tree": marker(leaf_run)}
    totals_marker = {"tree": format_totals(session.totals(leaf_run))}
    result = OpenResult(responses=len(session), path_length=path_length)
    with tempfile.TemporaryDirectory(prefix="grove-bench-start-") as tmp:
        db = Path(tmp) / "grove.sqlite3"
        await build_database(db, session)
        app = _probe_app_class()(AppConfig(db=db, state_dir=None))
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, MainScreen):
                await pilot.pause()
            screen = app.screen
            await _quiet(app)
            listing = screen.query_one(ConversationList)
            options = listing.options
            app.probe.set_panes(tree=screen.forest_pane, thread=screen.thread)
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            titles = {s.conversation_id: s.title for s in listing.summaries}
            big = next(
                i for i, cid in enumerate(ids) if (titles.get(cid) or "").startswith("Research")
            )
            small = 1 - big if len(ids) == 2 else next(i for i in range(len(ids)) if i != big)
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()

            async def press_until_painted(
                key: str, markers: dict[str, str]
            ) -> tuple[float, float] | None:
                """Wall and CPU seconds from pressing `key` to the frame showing `markers`."""
                gc.collect()
                watch = app.probe.watch(markers)
                cpu = time.process_time()
                start = perf()
                if profiler is not None:
                    profiler.enable()
                await pilot.press(key)
                done = await painted(app, watch, PAINT_TIMEOUT_S)  # type: ignore[arg-type]
                if profiler is not None:
                    profiler.disable()
                if done is None:
                    return None
                return done - start, app.frame_cpu[max(watch.seen.values())] - cpu

            for round_ in range(rounds):
                # Open the big one from the list, as a person would.
                options.focus()
                options.highlighted = big
                await _quiet(app)
                timed = await press_until_painted("enter", open_markers)
                if timed is None:
                    result.missed += 1
                else:
                    result.opens.append(timed[0])
                    result.open_cpu.append(timed[1])
                await _quiet(app)
                # Totals on (S) from the forest pane, then off again.
                screen.forest_pane.focus()
                await _quiet(app)
                timed = await press_until_painted("S", totals_marker)
                if timed is None:
                    result.missed += 1
                else:
                    result.totals.append(timed[0])
                    result.totals_cpu.append(timed[1])
                await _quiet(app)
                await pilot.press("S")
                await _quiet(app)
                if round_ < rounds - 1:  # back to the small one, so the next open is real
                    options.focus()
                    options.highlighted = small
                    await pilot.press("enter")
                    await _quiet(app)
            if profiler is not None:
                import pstats

                pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return result


# -- grove to first paint ----------------------------------------------------------------


def _grove_env(home: Path) -> dict[str, str]:
    """The environment of one launch: a fresh data, state and config dir under `home`."""
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "36",
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XAI_API_KEY": "",
    }
    # PYTHONDONTWRITEBYTECODE (set in some shells and CI images) would make every launch a
    # cold one: `grove` as installed writes its bytecode caches on the first launch.
    for name in (
        "XAI_API_HOST",
        "GROVE_DB",
        "GROVE_CONFIG",
        "GROVE_STATE_DIR",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    return env


def _grove_command() -> list[str]:
    """The `grove` console script of this environment (its entry point otherwise)."""
    script = Path(sys.executable).with_name("grove")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from grove_explorer.app.cli import main; main()"]


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_paint() -> tuple[float, float | None]:
    """Seconds from starting `grove` in a pseudo-terminal to the welcome panel's text, and
    the CPU seconds the process had used by then (None where /proc is missing)."""
    with tempfile.TemporaryDirectory(prefix="grove-bench-home-") as tmp:
        env = _grove_env(Path(tmp))
        command = _grove_command()
        start = perf()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the real command on this terminal
            os.execvpe(command[0], command, env)
        seen = bytearray()
        painted_at: float | None = None
        cpu: float | None = None
        try:
            deadline = start + PAINT_TIMEOUT_S
            while painted_at is None and perf() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                seen.extend(chunk)
                if WELCOME in seen:
                    painted_at = perf()
                    cpu = _cpu_seconds(pid)
            os.write(fd, b"\x11")  # ctrl+q
            _drain(fd)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(fd)
    if painted_at is None:
        raise RuntimeError("grove never painted its welcome panel")
    return painted_at - start, cpu


def _drain(fd: int) -> None:
    """Reads until the app closes the terminal (it quit) or 10 s pass."""
    deadline = perf() + 10
    while perf() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def clear_bytecode() -> int:
    """Deletes the `__pycache__` folders of the project's sources (a first launch)."""
    removed = 0
    for layer in ("app", "client", "server", "protos"):
        for cache in (ROOT / layer).rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def burning_core() -> object:
    """Another process keeping one core busy while the block runs."""
    burner = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.2)  # let it get going
        yield burner
    finally:
        burner.kill()
        burner.wait()


@dataclass
class StartResult:
    """Figures of the start-up part."""

    cold: float
    warm: list[float]
    busy: list[float]
    busy_cold: float | None
    cpu: dict[str, list[float]] = field(default_factory=dict)
    """CPU seconds of `grove` by the first paint, per kind of launch."""


def run_start(runs: int, quick: bool) -> StartResult:
    """Cold, warm and busy launches of `grove` to first paint."""
    cpu: dict[str, list[float]] = {}

    def launch(kind: str) -> float:
        seconds, used = first_paint()
        if used is not None:
            cpu.setdefault(kind, []).append(used)
        return seconds

    clear_bytecode()
    cold = launch("cold")
    warm = [launch("warm") for _ in range(runs)]
    busy: list[float] = []
    busy_cold = None
    if not quick:
        with burning_core():
            busy = [launch("busy") for _ in range(runs)]
            clear_bytecode()
            busy_cold = launch("busy cold")
    return StartResult(cold=cold, warm=warm, busy=busy, busy_cold=busy_cold, cpu=cpu)


# -- report ------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


def open_goals(result: OpenResult) -> list[Goal]:
    """The app part's rows."""
    opened = _median(result.opens)
    totals = _median(result.totals)
    print(
        f"CPU time of the app process (its embedded server included): open "
        f"{_ms(_median(result.open_cpu))}, totals {_ms(_median(result.totals_cpu))} (medians)"
        + (f"; {result.missed} never painted" if result.missed else "")
    )
    where = f"{result.responses} responses, path {result.path_length}"
    return [
        Goal(
            f"open a conversation ({where}), median of {len(result.opens)}",
            _ms(opened),
            "< 300 ms",
            None if opened is None else opened < OPEN_GOAL_S,
        ),
        Goal(
            f"subtree totals (S) painted, median of {len(result.totals)}",
            _ms(totals),
            "< 50 ms",
            None if totals is None else totals < TOTALS_GOAL_S,
        ),
    ]


def start_goals(result: StartResult) -> list[Goal]:
    """The start-up part's rows."""
    if result.cpu:
        print(
            "CPU time of grove by its first paint: "
            + ", ".join(f"{kind} {_ms(_median(values))}" for kind, values in result.cpu.items())
            + " (medians)"
        )
    warm = _median(result.warm)
    busy = max(result.busy) if result.busy else None
    rows = [
        Goal("grove to first paint, cold (no bytecode caches)", _ms(result.cold), "—", None),
        Goal(
            f"grove to first paint, warm alone (median of {len(result.warm)})",
            _ms(warm),
            "< 600 ms",
            None if warm is None else warm < WARM_GOAL_S,
        ),
        Goal(
            f"grove to first paint, a core busy (slowest of {len(result.busy)})",
            _ms(busy),
            "< 1000 ms",
            None if busy is None else busy < BUSY_GOAL_S,
        ),
    ]
    if result.busy_cold is not None:
        rows.append(
            Goal(
                "grove to first paint, cold with a core busy",
                _ms(result.busy_cold),
                "< 1000 ms",
                result.busy_cold < BUSY_GOAL_S,
            )
        )
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.start",
        description="grove to first paint (cold, warm, a core busy); opening a 2,080-response "
        "conversation and its subtree totals in the real app. Prints each figure beside its "
        "goal with PASS/FAIL; exits 0 either way.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--part", choices=("open", "start"), action="append")
    parser.add_argument("--runs", type=int, default=5, help="warm and busy launches (5)")
    parser.add_argument("--rounds", type=int, default=5, help="opens and totals (5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--profile", action="store_true", help="cProfile the open and totals")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the parts and prints the table."""
    args = parse_args(argv)
    os.environ.setdefault("COLORTERM", "truecolor")
    parts = args.part or ["open", "start"]
    goals: list[Goal] = []
    # Start-up first: it forks, which a process that has run gRPC should not do.
    if "start" in parts:
        runs = 1 if args.quick else args.runs
        goals += start_goals(run_start(runs, args.quick))
    if "open" in parts:
        size = QUICK_RESPONSES if args.quick else RESPONSES
        rounds = 1 if args.quick or args.profile else args.rounds
        goals += open_goals(asyncio.run(run_open(size, args.seed, rounds, args.profile)))
    print(f"\nmachine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end")
    print_goals("bench.start" + (" (quick)" if args.quick else ""), goals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
