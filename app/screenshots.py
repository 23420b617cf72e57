"""Renders the SVG screenshots in `screenshots/` from a seeded demo session.

    python -m grove_explorer.app.screenshots [--out screenshots]

Each scene runs the real app (embedded server, offline model, a temporary database) and
saves what it draws with `App.save_screenshot`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import TextArea

from grove_explorer.app.config import AppConfig
from grove_explorer.app.demo import seed_demo
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.client.sampler import SamplingParams

Scene = Callable[[Pilot, MainScreen], Awaitable[None]]


async def ready(pilot: Pilot) -> MainScreen:
    """Waits for the explorer, seeds the demo session and settles."""
    app = pilot.app
    async with asyncio.timeout(30):
        while not isinstance(app.screen, MainScreen):
            await pilot.pause()
    screen = app.screen
    assert isinstance(screen, MainScreen)
    screen.composer.cursor_blink = False
    await seed_demo(screen.service)
    await settle(pilot)
    await screen.service.list_conversations()
    await settle(pilot)
    screen.thread.focus()
    screen.thread.move_focus(-1)
    # The embedded server's port changes every run: keep it out of the picture.
    screen.sub_title = "embedded server"
    await settle(pilot)
    return screen


async def settle(pilot: Pilot) -> None:
    """Lets workers finish and messages drain."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def explorer(pilot: Pilot, screen: MainScreen) -> None:
    """The main scene: sidebar, forest of runs, thread with branch markers."""
    forest = screen.forest
    assert forest is not None
    screen.thread.focus_message(forest.current_path[1].response_id)
    await settle(pilot)


async def help_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The help screen with every binding."""
    await pilot.press("question_mark")
    await settle(pilot)


async def palette(pilot: Pilot, screen: MainScreen) -> None:
    """The command palette filtered to conversations."""
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*"open")
    await settle(pilot)


async def edit_scene(pilot: Pilot, screen: MainScreen) -> None:
    """Editing a human message as a new branch."""
    forest = screen.forest
    assert forest is not None
    screen.thread.focus_message(forest.current_path[0].response_id)
    await pilot.press("e")
    await settle(pilot)
    # A blinking cursor would make the picture depend on the moment it is taken.
    for editor in pilot.app.screen.query(TextArea):
        editor.cursor_blink = False
    await settle(pilot)


async def compare_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The Compare screen on the first reply's three samples, side by side.

    Server timings differ on every run, so they are pinned to fixed values to keep the
    picture reproducible (everything else comes from fixed seeds).
    """
    forest = screen.forest
    assert forest is not None
    first = forest.current_path[1].response_id
    for rid in forest.siblings_of(first):
        node = forest.responses[rid]
        forest.add(node.model_copy(update={"time_to_first_token": 0.05, "total_time": 1.45}))
    screen.thread.focus_message(first)
    await pilot.press("c")
    await settle(pilot)


async def spread_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The spread view (`S` in Compare): the statistics of the first reply's samples."""
    from grove_explorer.app.screens.compare.spread_view import SpreadScreen

    await compare_scene(pilot, screen)
    await pilot.press("S")
    await settle(pilot)
    spread = pilot.app.screen
    for _ in range(200):  # the report is computed in a worker thread
        if not isinstance(spread, SpreadScreen) or spread.report is not None:
            break
        await pilot.pause(0.01)
    await settle(pilot)


async def compare_judged_scene(pilot: Pilot, screen: MainScreen) -> None:
    """Compare after `J` with the offline demo judge: a score per column, sorted by score."""
    from grove_explorer.app.screens.compare import CompareScreen
    from grove_explorer.app.screens.compare.judging import judged_ids

    await compare_scene(pilot, screen)
    compare = pilot.app.screen
    assert isinstance(compare, CompareScreen)
    await compare.service.judge(compare.conversation_id, judged_ids(compare))
    await settle(pilot)
    compare.sort = "score"
    compare._apply_view()
    await settle(pilot)


async def fused_scene(pilot: Pilot, screen: MainScreen) -> None:
    """Compare after `F`: the three samples and the reply fused from them (⊕), focused."""
    await compare_scene(pilot, screen)
    compare = pilot.app.screen
    # A fixed seed: the reply records its parameters, and a drawn seed differs every run.
    compare.sampling = SamplingParams(max_tokens=200, seed=7)  # type: ignore[attr-defined]
    await pilot.press("F")
    await settle(pilot)
    pilot.app.screen.action_submit()  # type: ignore[attr-defined]  # the fuse form: fuse
    await settle(pilot)
    fused = compare.query("SampleColumn").last()
    node = fused.node  # type: ignore[attr-defined]
    # Pinned like the samples' timings (compare_scene): they differ on every run.
    fused.update_node(  # type: ignore[attr-defined]
        node.model_copy(update={"time_to_first_token": 0.02, "total_time": 0.31})
    )
    await settle(pilot)


async def replay_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The replay view (`P`): the demo's first two exchanges replayed with another seed."""
    from grove_explorer.client.sampler import SamplingParams
    from grove_explorer.server.sampler.base import OFFLINE_MODEL_NAME

    forest = screen.forest
    assert forest is not None
    path = forest.current_path
    leaf = path[min(3, len(path) - 1)].response_id
    result = await screen.service.replay(
        forest.conversation.conversation_id,
        leaf,
        model_name=OFFLINE_MODEL_NAME,
        sampling=SamplingParams(max_tokens=60, seed=7),  # a fixed seed: the same text each run
    )
    screen.show_replay(result)
    await settle(pilot)
    await pilot.press("down")
    await settle(pilot)


FANOUT_MODELS = {
    "default_model": "grok-demo",
    "models": {
        "grok-demo": {"sampler": "offline", "description": "the offline model, one name"},
        "llama-demo": {"sampler": "offline", "description": "the offline model, another"},
    },
}
"""The fan-out scene's server: the offline model under two names (no network needed)."""


async def fanout_scene(pilot: Pilot, screen: MainScreen) -> None:
    """Compare after `p` picked two models, 2 each, and `R`: columns marked by model colour."""
    from grove_explorer.app.screens.compare import CompareScreen
    from grove_explorer.app.screens.compare.fanout import FanOut
    from grove_explorer.client.sampler import SamplingParams

    forest = screen.forest
    assert forest is not None
    first = forest.current_path[1].response_id
    screen.thread.focus_message(first)
    await pilot.press("c")
    await settle(pilot)
    compare = pilot.app.screen
    assert isinstance(compare, CompareScreen)
    compare.sampling = SamplingParams(max_tokens=40, seed=5)
    compare.fan_out = compare.session.fan_out = FanOut(("grok-demo", "llama-demo"), 2)
    await pilot.press("R")
    await settle(pilot)
    async with asyncio.timeout(30):
        while compare.streaming_ids:
            await pilot.pause()
    await settle(pilot)
    for column in compare.columns:  # server timings differ every run: pinned
        node = column.node
        column.update_node(node.model_copy(update={"time_to_first_token": 0.05, "total_time": 0.9}))
    await pilot.press("right", "right", "right")  # the new batch in view
    await settle(pilot)


async def sweep_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The results table of a sweep (`W`) at the first reply, sorted by score.

    Two models x two temperatures x two seeds, judged by the offline demo judge.
    """
    from grove_explorer.app.screens.sweep import SweepTableScreen
    from grove_explorer.client.sweeps import SweepSpec

    forest = screen.forest
    assert forest is not None
    first = forest.current_path[1].response_id
    cid = forest.conversation.conversation_id
    spec = SweepSpec(
        models=("grok-demo", "llama-demo"),
        temperatures=(0.2, 0.9),
        seeds=2,
        base_seed=3,
        max_tokens=40,
    )
    result = await screen.service.sweep(cid, first, spec, rubric_name="default")
    for outcome in result.outcomes:  # server timings differ every run: pinned
        outcome.time_to_first_token, outcome.total_time = 0.05, 0.9
    await settle(pilot)
    table = SweepTableScreen(screen.service, cid, result)
    await pilot.app.push_screen(table)
    await settle(pilot)
    table.sort_by("score", descending=True)
    await settle(pilot)
    await settle(pilot)


async def arena_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The blind arena before the vote (`A`): two models' replies as A and B, no names.

    The order of the sides comes from a seeded RNG and both setups get a seed, so the
    picture is the same every run.
    """
    import random

    from grove_explorer.app.screens.arena import ArenaScreen, ArenaSetupForm, opening

    forest = screen.forest
    assert forest is not None
    screen.thread.focus_message(forest.current_path[1].response_id)
    previous, opening.ARENA_RNG = opening.ARENA_RNG, random.Random(4)
    try:
        await pilot.press("A")
        await settle(pilot)
        form = pilot.app.screen
        assert isinstance(form, ArenaSetupForm)
        from textual.widgets import Input

        for index, seed in ((0, "5"), (1, "11")):  # the same model text differs by seed
            form.query_one(f"#arena-{index}-seed", Input).value = seed
        await pilot.press("enter")
        await settle(pilot)
    finally:
        opening.ARENA_RNG = previous
    assert isinstance(pilot.app.screen, ArenaScreen)


async def models_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The model picker: the server's models and system prompts (`m`)."""
    await pilot.press("m")
    await settle(pilot)


async def annotations_scene(pilot: Pilot, screen: MainScreen) -> None:
    """Bookmarks, ratings, tags and a note in the thread and the forest, with totals on (S).

    Sampling times differ on every run, so they are pinned (as in the compare scene)
    before the totals are shown.
    """
    forest = screen.forest
    assert forest is not None
    cid = forest.conversation.conversation_id
    path = forest.current_path
    chosen, follow_up = path[1].response_id, path[3].response_id
    service = screen.service
    await service.annotate(
        cid,
        chosen,
        bookmarked=True,
        rating=1,
        tags=["branching", "check"],
        note="Compare with the apical dominance notes.\nAsk about auxin next.",
    )
    await service.annotate(cid, follow_up, rating=-1, tags=["vague"])
    await service.annotate(cid, forest.siblings_of(chosen)[0], bookmarked=True)
    await settle(pilot)
    for step, rid in enumerate(list(forest.responses)):
        node = forest.responses[rid]
        if not node.is_human:
            pinned = {"time_to_first_token": 0.05, "total_time": 1.25 + 0.25 * step}
            forest.add(node.model_copy(update=pinned))
    screen.thread.focus_message(chosen)
    await pilot.press("S")
    await settle(pilot)


async def search_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The search screen (`/`): a query with a filter, hits with highlighted matches."""
    forest = screen.forest
    assert forest is not None
    await screen.service.annotate(
        forest.conversation.conversation_id,
        forest.current_path[1].response_id,
        bookmarked=True,
        tags=["branching"],
    )
    await settle(pilot)
    await pilot.press("slash")
    await settle(pilot)
    await pilot.press(*"branch* OR prun*", "enter")
    await settle(pilot)


async def tokens_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The token view (`v`) of the chosen first reply.

    The cursor is on its second unlikely token, with an alternative selected to branch from.
    """
    forest = screen.forest
    assert forest is not None
    screen.thread.focus_message(forest.current_path[1].response_id)
    await pilot.press("v")
    await settle(pilot)
    await pilot.press("n", "n", "down")
    await settle(pilot)


async def share_scene(pilot: Pilot, screen: MainScreen) -> None:
    """Sharing with users (a team server): Bob as a writer, Carol as a reader, Bob chosen.

    The embedded server holds keys for alice (the app's), bob and carol (`scene_keys`).
    """
    from textual.widgets import Input, OptionList

    screen.action_share_with_users()
    await settle(pilot)
    field = pilot.app.screen.query_one(Input)
    for grant in ("bob writer", "carol"):
        field.value = grant
        await pilot.press("enter")
        await settle(pilot)
    options = pilot.app.screen.query_one(OptionList)
    options.focus()
    options.highlighted = 0
    await settle(pilot)


async def welcome_scene(pilot: Pilot, screen: MainScreen) -> None:
    """The first screen with no conversation open: the welcome panel's essential keys."""
    screen._close_conversation()
    screen.thread.focus()
    await settle(pilot)


SCENES: dict[str, tuple[Scene, tuple[int, int]]] = {
    "welcome": (welcome_scene, (110, 30)),
    "explorer": (explorer, (140, 40)),
    "narrow": (explorer, (80, 24)),
    "help": (help_scene, (140, 40)),
    "palette": (palette, (140, 40)),
    "edit": (edit_scene, (140, 40)),
    "compare": (compare_scene, (140, 40)),
    "spread": (spread_scene, (140, 40)),
    "compare-judged": (compare_judged_scene, (140, 40)),
    "fused": (fused_scene, (140, 40)),
    "replay": (replay_scene, (140, 40)),
    "fanout": (fanout_scene, (160, 40)),
    "sweep": (sweep_scene, (140, 30)),
    "arena": (arena_scene, (140, 40)),
    "models": (models_scene, (140, 40)),
    "annotations": (annotations_scene, (140, 40)),
    "search": (search_scene, (140, 40)),
    "tokens": (tokens_scene, (140, 40)),
    "share": (share_scene, (140, 40)),
}


def scene_config(name: str, folder: Path) -> AppConfig:
    """The app's settings for a scene: a fresh database; two model names for `fanout`."""
    models = None
    if name in ("fanout", "sweep", "arena"):
        from grove_explorer.app.config import models_config

        models = models_config(FANOUT_MODELS, "the fan-out scene")
    return AppConfig(server=None, db=folder / "demo.sqlite3", token_delay_ms=0, models=models)


async def scene_keys(db: Path) -> str:
    """Keys for alice, bob and carol in the scene's database; alice's (the app's) key."""
    from grove_explorer.server.keys import create_key

    alice = await create_key(db, "alice")
    for user in ("bob", "carol"):
        await create_key(db, user)
    return alice.key


async def render_scene(name: str, out: Path) -> Path:
    """Runs the app for one scene and saves its SVG."""
    scene, size = SCENES[name]
    with tempfile.TemporaryDirectory() as folder:
        config = scene_config(name, Path(folder))
        if name == "share":
            assert isinstance(config.db, Path)
            config = dataclasses.replace(config, api_key=await scene_keys(config.db))
        app = GroveApp(config)
        async with app.run_test(size=size) as pilot:
            screen = await ready(pilot)
            await scene(pilot, screen)
            path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    """Renders every scene (or those named) into `--out`."""
    parser = argparse.ArgumentParser(
        prog="python -m grove_explorer.app.screenshots", description=__doc__
    )
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("scenes", nargs="*", choices=[*SCENES, []], help="scenes to render")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.scenes or SCENES:
        print(asyncio.run(render_scene(name, args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
