"""Start-up and opening stay quick without changing what is shown (issue 13).

Pinned here: what `grove` imports before its first frame (checked in a fresh interpreter),
the embedded server starting after the first frame with the service waiting for it, the
thread's first screen and the rest of its window, forest labels built when drawn (totals
included), and a big conversation opened from the list.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from textual.app import App, ComposeResult

from grove_explorer.app.cli import build_parser, explorer_parser
from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.app.widgets.forest_tree import ForestTree, format_totals, subtree_totals
from grove_explorer.app.widgets.thread_first_screen import screenful_start
from grove_explorer.app.widgets.thread_view import WINDOW, ThreadView
from grove_explorer.client import Client
from grove_explorer.client.forest import Forest, run_start
from grove_explorer.client.models import ConversationSummary, ResponseNode
from grove_explorer.client.service import ConversationService
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import main_screen, settle

SUMMARY = ConversationSummary(conversation_id="c1", title="t", starred=False)

# -- what start-up imports -------------------------------------------------------------------

NOT_BEFORE_THE_FIRST_FRAME = (
    "grove_explorer.server.runtime",  # the embedded server starts after it
    "grove_explorer.server.sampler.offline",  # the flags need only its name (sampler.base)
    "grove_explorer.server.servicer",
    "grove_explorer.server.keys",
    "grove_explorer.app.headless",
    "grove_explorer.app.screens.compare",
    "grove_explorer.app.screens.tokens",
    "grove_explorer.app.screens.search",
    "grove_explorer.app.screens.model_picker",  # opened by a key, as dialogs are
    "grove_explorer.app.screens.dialogs",
    "markdown_it",  # drawing a model message imports them (`app.widgets.markdown_text`)
    "rich.markdown",
    "pygments",
    "grove_explorer.app.widgets.markdown_text",
)


def imported_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


def test_the_explorer_imports_no_server_runtime_nor_screens_opened_later() -> None:
    """`grove` as it runs up to the UI: config, the explorer's flags, the app module."""
    modules = imported_by(
        "from grove_explorer.app import cli\n"
        "cli.run_app = lambda config: 0\n"  # everything before the UI, not the UI itself
        "assert cli.main([]) == 0\n"
        "import grove_explorer.app.grove_app"
    )
    early = sorted(m for m in modules if m.startswith(NOT_BEFORE_THE_FIRST_FRAME))
    assert not early, early
    assert "grove_explorer.app.screens.main" in modules


def test_the_sdk_package_exports_its_names_lazily() -> None:
    """`import grove_explorer.client` (or one of its light submodules) needs no gRPC."""
    modules = imported_by(
        "import grove_explorer.client as xai_sdk\n"
        "import grove_explorer.client.research\n"
        "assert 'Client' in dir(xai_sdk)"
    )
    assert not {"grpc", "grove_explorer.client.client"} & modules
    modules = imported_by(
        "import grove_explorer.client as xai_sdk\n"
        "from grove_explorer.client import *\n"
        "assert all(getattr(xai_sdk, name) is globals()[name] for name in xai_sdk.__all__)\n"
        "assert xai_sdk.Client.__module__ == 'grove_explorer.client.client'\n"
        "assert xai_sdk.grok.AsyncGrok is xai_sdk.AsyncGrok\n"
        "assert not hasattr(xai_sdk, 'NoSuchName')"
    )
    assert "grpc" in modules


def test_a_subcommand_still_gets_the_whole_parser() -> None:
    modules = imported_by(
        "from grove_explorer.app import cli\n"
        "cli.run_app = lambda config: 0\n"
        "import grove_explorer.app.headless as h\n"
        "h.run_headless = lambda args, config: 7\n"
        "assert cli.main(['ls']) == 7"
    )
    assert "grove_explorer.app.headless" in modules


def test_the_explorer_flags_parse_alone_and_the_rest_goes_to_the_whole_parser() -> None:
    args, rest = explorer_parser().parse_known_args(["--db", "x.sqlite3", "--read-only"])
    assert not rest and str(args.db) == "x.sqlite3" and args.read_only
    _, rest = explorer_parser().parse_known_args(["--db", "x.sqlite3", "ls"])
    assert rest == ["ls"]
    assert build_parser().parse_args(["--db", "x.sqlite3", "ls"]).command == "ls"
    # The epilog (where the database is) is found for --help only, and only at the top.
    assert "Database:" in build_parser().format_help()
    assert build_parser().epilog is None


# -- the embedded server after the first frame -----------------------------------------------


async def test_the_explorer_shows_before_the_embedded_server_and_then_uses_it(
    tmp_path: Path,
) -> None:
    app = GroveApp(AppConfig(db=tmp_path / "grove.sqlite3", token_delay_ms=0))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await main_screen(pilot)
        assert app.service is not None
        client = await app.service.connected()
        await settle(pilot)
        assert app.client is client and client.api_host == screen.service.api_host
        assert screen.sub_title == client.api_host, "the header names the server once up"
        assert screen.status.server == client.api_host
        assert await app.service.list_conversations() == []


async def test_service_calls_wait_for_a_client_that_comes_later(server: GroveServer) -> None:
    ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
    service = ConversationService(ready)
    assert service.api_host == ""
    listing = asyncio.ensure_future(service.list_conversations())
    await asyncio.sleep(0)
    assert not listing.done(), "waits for the client"
    async with Client(api_host=server.address) as client:
        ready.set_result(client)
        assert await listing == []
        assert service.api_host == server.address


async def test_a_client_that_never_comes_fails_the_calls_with_its_reason() -> None:
    async def failing() -> Client:
        raise RuntimeError("the database is not a Grove database")

    service = ConversationService(failing())
    try:
        await service.list_conversations()
    except RuntimeError as error:
        assert "not a Grove database" in str(error)
    else:
        raise AssertionError("the call must fail")


# -- the thread's first screen ---------------------------------------------------------------


def chain(length: int, text: str = "message {i}\n\nsome **bold** text") -> Forest:
    """A straight path r0 … r{length-1}, alternating human and model."""
    nodes = []
    parent = None
    for i in range(length):
        sender = "human" if i % 2 == 0 else "model"
        nodes.append(
            ResponseNode(
                response_id=f"r{i}", parent_id=parent, sender=sender, message=text.format(i=i)
            )
        )
        parent = f"r{i}"
    return Forest.build(SUMMARY, nodes, parent)


def test_screenful_start_counts_rows_from_the_end() -> None:
    path = chain(50, "one line {i}").current_path
    # 3 rows a message (a line, two for header and spacing): 2 x 12 rows = 8 messages.
    assert screenful_start(path, 0, 50, width=80, height=12) == (42, True)
    assert screenful_start(path, 45, 50, width=80, height=12) == (45, False)
    long = chain(3, "x" * 800).current_path  # 10 rows of 80 + 3 each
    assert screenful_start(long, 0, 3, width=80, height=10) == (1, True)


class ThreadApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadView()


async def test_a_long_thread_shows_its_end_first_then_its_whole_window() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(ThreadView)
        shown = view.show_path(chain(400))
        first_lo, hi = view.window
        assert hi == 400 and 400 - WINDOW < first_lo < 400, "only a first screen mounted"
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0, "the first frame shows the end"
        await shown
        await pilot.pause()
        assert view.window == (400 - WINDOW, 400), "then the usual window"
        assert view.scroll_y == view.max_scroll_y, "still at the end"
        assert [v.response_id for v in view.query("AnnotatedMessageView")][-1] == "r399"


async def test_another_thread_shown_meanwhile_stops_filling_the_first() -> None:
    app = ThreadApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(ThreadView)
        first = view.show_path(chain(400))
        second = view.show_path(chain(7, "other {i}"))
        await first
        await second
        await pilot.pause()
        assert view.window == (0, 7)
        assert view.path[-1].message == "other 6"


# -- forest labels built when drawn ----------------------------------------------------------


def wide_forest(branch_points: int = 300) -> Forest:
    """A path with a second reply at every model message: many materialised runs."""
    nodes: list[ResponseNode] = []
    parent: str | None = None
    for i in range(branch_points):
        human = ResponseNode(response_id=f"h{i}", parent_id=parent, sender="human", message=f"q{i}")
        nodes.append(human)
        for k in range(2):
            nodes.append(
                ResponseNode(
                    response_id=f"m{i}{'ab'[k]}",
                    parent_id=human.response_id,
                    sender="model",
                    message=f"answer {i}{'ab'[k]}",
                    token_count=10 + k,
                    total_time=1.0,
                )
            )
        parent = f"m{i}b"
    return Forest.build(SUMMARY, nodes, parent)


class CountingTree(ForestTree):
    built: set[str] = set()
    """The runs whose labels were built (by first response id)."""

    def _label_for(self, item, *, text_width=None, depth_mark=False):  # type: ignore[no-untyped-def]
        CountingTree.built.add(item.first_id)
        return super()._label_for(item, text_width=text_width, depth_mark=depth_mark)


class TreeApp(App[None]):
    def __init__(self, forest: Forest) -> None:
        super().__init__()
        self.forest = forest

    def compose(self) -> ComposeResult:
        yield CountingTree()

    def on_mount(self) -> None:
        self.query_one(CountingTree).show_forest(self.forest)


async def test_labels_are_built_for_the_drawn_lines_only_and_show_totals() -> None:
    forest = wide_forest()
    app = TreeApp(forest)
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        tree = app.query_one(CountingTree)
        runs = len(tree._run_nodes)
        assert runs > 500, runs
        # The lines drawn (the top first, then scrolled to the leaf): two screens at most.
        built = len(CountingTree.built)
        assert built <= 2 * tree.size.height + 2, f"labels of {built} runs out of {runs}"
        CountingTree.built.clear()
        tree.show_totals = True
        assert not CountingTree.built, "turning totals on builds no label by itself"
        await pilot.pause()
        assert 0 < len(CountingTree.built) <= tree.size.height + 1
        leaf_run = run_start(forest, forest.leaf_id or "")
        expected = format_totals(subtree_totals(forest)[leaf_run])
        drawn = [tree.render_line(y).text for y in range(tree.size.height)]
        assert any(expected in line for line in drawn), (expected, drawn[-3:])
        # A label asked for is built then, with the totals (the same text as drawn).
        node = tree._run_nodes[leaf_run]
        assert str(node.label).startswith(f"◆ {expected} ")
        tree.show_totals = False
        await pilot.pause()
        assert expected not in str(node.label)


def test_subtree_totals_on_a_wide_forest() -> None:
    totals = subtree_totals(wide_forest(3))
    assert totals["h0"] == (9, 63, 6.0)  # 3 questions, 6 answers of 10 + 11 tokens, 1 s each
    assert totals["m0a"] == (1, 10, 1.0)
    assert totals["m0b"] == (7, 53, 5.0)
    assert totals["h2"] == (3, 21, 2.0)


# -- opening a conversation from the list ----------------------------------------------------


async def test_a_big_conversation_opened_from_the_list_shows_its_leaf_in_both_panes(
    server: GroveServer,
) -> None:
    request = chat_pb2.ImportConversationRequest(title="Big one")
    parent = ""
    for i in range(300):
        sender = "human" if i % 2 == 0 else "model"
        request.responses.append(
            chat_pb2.Response(
                response_id=f"r{i}",
                parent_response_id=parent,
                sender=sender,
                message=f"Z{i}Z\n\n" + "words and more words " * 20,
            )
        )
        if i % 10 == 5:  # a resampled reply beside the path
            request.responses.append(
                chat_pb2.Response(
                    response_id=f"r{i}x", parent_response_id=parent, sender=sender, message="alt"
                )
            )
        parent = f"r{i}"
    async with Client(api_host=server.address) as sdk:
        await sdk.grok.import_conversation(request)
        small = chat_pb2.ImportConversationRequest(title="Small one")
        small.responses.append(chat_pb2.Response(response_id="a", sender="human", message="hi"))
        await sdk.grok.import_conversation(small)
    app = GroveApp(AppConfig(server=server.address))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await main_screen(pilot)
        assert isinstance(screen, MainScreen)
        listing = screen.query_one("ConversationOptions")
        titles = [str(listing.get_option_at_index(i).prompt) for i in range(2)]  # type: ignore[attr-defined]
        listing.focus()
        listing.highlighted = next(i for i, t in enumerate(titles) if "Big one" in t)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        forest = screen.forest
        assert forest is not None and len(forest.responses) == 330
        thread = screen.thread
        assert thread.path[-1].message.startswith("Z299Z")
        assert thread.window == (300 - WINDOW, 300)
        assert thread.scroll_y == thread.max_scroll_y
        tree = screen.forest_pane
        leaf_run = run_start(forest, forest.leaf_id or "")
        cursor = tree.cursor_node
        assert cursor is not None and cursor.data is not None
        assert cursor.data.first_id == leaf_run
        drawn = "\n".join(tree.render_line(y).text for y in range(tree.size.height))
        assert forest.responses[leaf_run].message.split("\n")[0] in drawn
