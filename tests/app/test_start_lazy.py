"""`grove` paints its first frame without gRPC, the protos or pydantic (issue 13).

gRPC, protobuf and pydantic (the SDK's models) were a third of start-up; the explorer
needs none of them to draw its first frame with no conversation open (the embedded server
starts after it, and every service call waits for the client).
Pinned here: the modules of the start path import neither, the first frame is painted
before either is imported (checked in a fresh interpreter), and what was made lazy for it
behaves as before: the SDK's error classes still carry `grpc.StatusCode` members, server
statuses still become the same classes, and finish-reason words still match the proto.

The command line likewise: `grove COMMAND --help` imports no store, no SDK, no command's
run module, and a command (a real `grove import FILE --server ADDR`) imports its own
module only and no store (every `grove` paid for all of them: 534 modules for
`grove import --help`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pytest

from grove_explorer.app.headless import HEADLESS_COMMANDS
from grove_explorer.app.headless.running import command_of
from grove_explorer.client import Client, errors
from grove_explorer.client.finish import FINISH_REASONS, finish_reason_from_proto
from grove_explorer.client.finish import finish_reason_to_proto as to_wire
from grove_explorer.protos import chat_pb2
from grove_explorer.server.runtime import GroveServer

AFTER_THE_FIRST_FRAME = (
    "grpc",
    "google.protobuf",
    "pydantic",  # the SDK's models: a conversation's responses, models, search hits
    "grove_explorer.client.models",
    "grove_explorer.client.forest",
    "grove_explorer.client.research",
    "grove_explorer.client.catalog",
    "grove_explorer.protos",
    "grove_explorer.client.client",
    "grove_explorer.client.conversation",
    "grove_explorer.client.convert",
    "grove_explorer.client.streams",
)


def run_fresh(code: str) -> list[str]:
    """Runs `code` in a fresh interpreter; the lines it printed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.split()


def too_early(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(AFTER_THE_FIRST_FRAME))


def test_the_start_path_imports_neither_grpc_nor_protos() -> None:
    modules = run_fresh(
        """
        import sys
        from grove_explorer.app import cli
        cli.run_app = lambda config: 0  # everything before the UI, not the UI itself
        assert cli.main([]) == 0
        import grove_explorer.app.embedded
        import grove_explorer.app.grove_app
        import grove_explorer.client.errors, grove_explorer.client.finish
        import grove_explorer.client.service
        print("\\n".join(sorted(sys.modules)))
        """
    )
    assert "grove_explorer.app.screens.main" in modules
    assert not too_early(modules)


def test_the_first_frame_is_painted_before_grpc_is_imported(tmp_path: object) -> None:
    """The real app with its embedded server, headless: modules at its first frame; then
    the server starts (gRPC loaded) and the explorer talks to it."""
    lines = run_fresh(
        f"""
        import asyncio, sys
        from pathlib import Path
        from grove_explorer.app.config import AppConfig
        from grove_explorer.app.grove_app import GroveApp
        from grove_explorer.app.screens.main import MainScreen

        seen = []

        class Probe(GroveApp):
            def _display(self, screen, renderable):
                if not seen and renderable is not None and isinstance(screen, MainScreen):
                    seen.append(sorted(sys.modules))
                super()._display(screen, renderable)

        async def main():
            app = Probe(AppConfig(db=Path({str(tmp_path)!r}) / "g.sqlite3", token_delay_ms=0))
            async with app.run_test(size=(120, 36)) as pilot:
                await app.service.connected()
                listed = await app.service.list_conversations()
                await pilot.pause()
            assert listed == [] and "grpc" in sys.modules
            print("\\n".join(seen[0]))

        asyncio.run(main())
        """
    )
    assert "grove_explorer.app.widgets.welcome" in lines, "the explorer was painted"
    assert not too_early(lines)


def test_the_sdk_errors_import_without_grpc() -> None:
    modules = run_fresh(
        """
        import sys
        from grove_explorer.client.errors import NotFoundError, GroveError
        assert issubclass(NotFoundError, LookupError)
        print("\\n".join(sorted(sys.modules)))
        """
    )
    assert "grpc" not in modules


STATUS_OF = {
    errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    errors.ServerUnavailableError: grpc.StatusCode.UNAVAILABLE,
    errors.ServerInternalError: grpc.StatusCode.INTERNAL,
    errors.DataLossError: grpc.StatusCode.DATA_LOSS,
    errors.StorageFullError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.StorageReadOnlyError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.StorageCorruptError: grpc.StatusCode.DATA_LOSS,
    errors.StorageUnavailableError: grpc.StatusCode.UNAVAILABLE,
}


class FakeRpcError(grpc.RpcError):
    """What a failed call raises: a status, its sentence and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple = ()) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._trailing


@pytest.mark.parametrize("cls", list(STATUS_OF), ids=lambda cls: cls.__name__)
def test_each_error_class_carries_its_grpc_status(cls: type[errors.GroveError]) -> None:
    assert cls.code is STATUS_OF[cls]
    assert cls("said").code is STATUS_OF[cls], "an instance reads its class's status"
    other = grpc.StatusCode.ABORTED
    assert cls("said", other).code is other, "a status given to the instance wins"


def test_the_base_class_has_no_status() -> None:
    assert errors.GroveError.code is None and errors.GroveError("x").code is None


@pytest.mark.parametrize("code", list(grpc.StatusCode), ids=lambda code: code.name)
def test_every_status_translates_to_the_class_it_did_before(code: grpc.StatusCode) -> None:
    by_status = {
        status: cls for cls, status in STATUS_OF.items() if not issubclass(cls, errors.StorageError)
    }
    translated = errors.translate(FakeRpcError(code, "The server's sentence."))
    if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        expected: type[errors.GroveError] = errors.ServerUnavailableError
    else:
        expected = by_status.get(code, errors.GroveError)
    assert type(translated) is expected
    assert translated.code is code
    if code is not grpc.StatusCode.CANCELLED:
        assert translated.message == "The server's sentence."


def test_storage_and_backend_failures_still_translate() -> None:
    full = errors.translate(
        FakeRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "The disk is full.",
            ((errors.STORAGE_ERROR_KEY, "full"),),
        )
    )
    assert type(full) is errors.StorageFullError and full.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    backend = errors.translate(
        FakeRpcError(
            grpc.StatusCode.UNAVAILABLE,
            "Rate limited.",
            ((errors.BACKEND_ERROR_KEY, "rate_limited"), (errors.RETRY_AFTER_KEY, "2.5")),
        )
    )
    assert isinstance(backend, errors.BackendError)
    assert (backend.kind, backend.code, backend.retry_after_seconds) == (
        "rate_limited",
        grpc.StatusCode.UNAVAILABLE,
        2.5,
    )


def test_finish_reason_words_match_the_proto_enum() -> None:
    """The words are written out in `client.finish` (no protobuf before the first frame)."""
    prefix = "FINISH_REASON_"
    from_proto = {
        number: "" if name == "FINISH_REASON_UNSPECIFIED" else name.removeprefix(prefix).lower()
        for name, number in chat_pb2.FinishReason.items()
    }
    for number, word in from_proto.items():
        assert finish_reason_from_proto(number) == word
        if word:
            assert to_wire(word) == number
    assert tuple(word for word in from_proto.values() if word) == FINISH_REASONS
    assert finish_reason_from_proto(max(from_proto) + 1) == ""


async def test_the_first_frame_shows_the_whole_explorer(tmp_path: Path) -> None:
    """The first frame output is the explorer complete (no frame of it rendered and
    dropped while the app mounts it): welcome panel, the list's filter, footer keys."""
    from grove_explorer.app.config import AppConfig
    from grove_explorer.app.grove_app import GroveApp
    from grove_explorer.app.screens.main import MainScreen
    from tests.app_helpers import main_screen

    frames: list[str] = []

    class Probe(GroveApp):
        def _display(self, screen: Any, renderable: Any) -> None:
            if not frames and renderable is not None and isinstance(screen, MainScreen):
                assert not self._batch_count, "a frame rendered inside a batch is dropped"
                strips = screen._compositor.render_strips()
                frames.append("\n".join(strip.text for strip in strips))
            super()._display(screen, renderable)

    app = Probe(AppConfig(db=tmp_path / "g.sqlite3", token_delay_ms=0))
    async with app.run_test(size=(120, 36)) as pilot:
        await main_screen(pilot)
        assert app.painted
        await app.service.connected()
    first = frames[0]
    for text in ("Welcome to Grove", "Filter conversations", "Quit", "Message"):
        assert text in first, text


def test_sampling_mode_numbers_match_the_proto_enum() -> None:
    """The mode names are written out in `client.sampler` (no protobuf at start)."""
    from grove_explorer.client.sampler import (
        SAMPLING_MODES,
        sampling_mode_name,
        sampling_mode_number,
    )

    from_proto = {
        ""
        if name == "SAMPLING_MODE_UNSPECIFIED"
        else name.removeprefix("SAMPLING_MODE_").lower(): n
        for name, n in chat_pb2.SamplingMode.items()
    }
    assert from_proto == SAMPLING_MODES
    for name, number in from_proto.items():
        assert sampling_mode_number(name) == number
        if name:
            assert sampling_mode_name(number) == name
    assert sampling_mode_name(99) == "chat"


# -- the command line: a command imports what it uses -----------------------------------------

COMMAND_MODULES = tuple(
    f"grove_explorer.app.headless.{name}"
    for name in (
        "arena",
        "foreign_import",
        "fusing",
        "importing",
        "judging",
        "placing",
        "reading",
        "replaying",
        "sampling",
        "share_links",
        "sharing",
        "stats",
        "sweeping",
        "transfer",
    )
)
"""The modules that run the headless commands (each loads SDK parts, some the app's)."""

NO_STORE = (
    "grove_explorer.server.store",  # its __init__ loads both stores
    "aiosqlite",
    "sqlite3",
    "psycopg",
    "grove_explorer.server.keys",  # opens a store; its parser is server.keys_arguments
    "grove_explorer.server.auth",
    "grove_explorer.server.runtime",
    "grove_explorer.app.embedded",
    "textual",
)
"""What a command talking to `--server` never needs: the local store and the UI."""

NOT_FOR_HELP = (
    *NO_STORE,
    *COMMAND_MODULES,
    "grpc",
    "google.protobuf",
    "grove_explorer.protos",
    "pydantic",
    "grove_explorer.client.client",
    "grove_explorer.client.grok",
    "grove_explorer.client.export",
    "rich",
    "asyncio",
)
"""What printing any command's help never needs."""

EVERY_HELP = [
    [],
    ["serve"],
    ["keys"],
    ["keys", "create"],
    ["db"],
    ["db", "migrate-to"],
    *([name] for name in HEADLESS_COMMANDS),
]


NOT_FOR_IMPORT = (
    "pydantic",  # the SDK's models: an import reads a file and sends it, and builds none
    "grove_explorer.client.models",
    "grove_explorer.client.conversation",
    "grove_explorer.client.convert",
    "grove_explorer.client.export.document",  # the writers of `grove export`
    "grove_explorer.client.export.drawing",
    "grove_explorer.client.export.reading",
    "grove_explorer.server.sampler.base",  # the samplers' interface: the model flags' checks
    # need only the offline model's name (`server.backends`)
)
"""What `grove import FILE --server` never needs (a fifth of its start-up, issue 13)."""


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """The modules of `modules` that are one of `names` or inside one of those packages."""
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


def test_no_command_help_imports_a_store_the_sdk_or_a_commands_module() -> None:
    """Every help of `grove`, one after the other in one interpreter: what they import
    together (a subcommand's help builds the whole parser: every command's flags)."""
    lines = run_fresh(
        f"""
        import contextlib, io, sys
        from grove_explorer.app import cli

        for argv in {EVERY_HELP!r}:
            with contextlib.redirect_stdout(io.StringIO()) as shown:
                try:
                    cli.main([*argv, "--help"])
                except SystemExit as exit:
                    assert exit.code == 0, (argv, exit.code)
            usage = " ".join(["usage: grove", *argv])
            assert shown.getvalue().startswith(usage), (argv, shown.getvalue()[:80])
        print("\\n".join(sorted(sys.modules)))
        """
    )
    assert "grove_explorer.app.headless.command_arguments" in lines
    assert not loaded(lines, NOT_FOR_HELP)


async def test_a_command_imports_its_own_module_and_no_store(
    client: Client, server: GroveServer, tmp_path: Path
) -> None:
    """A real `grove import FILE --server ADDR` in a fresh interpreter: it imports the
    conversation, and of the commands' modules only its own (importing, foreign_import):
    not `grove export`'s (transfer), nor the SDK's models and conversation client."""
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps(
            {
                "format": "grove.conversation",
                "version": 1,
                "title": "lazy",
                "responses": [
                    {
                        "response_id": "q",
                        "parent_response_id": None,
                        "sender": "human",
                        "message": "Why?",
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    code = textwrap.dedent(
        f"""
        import sys
        from grove_explorer.app.cli import main
        code = main(["import", {str(path)!r}, "--server", {server.address!r}])
        print("--", code)
        print("\\n".join(sorted(sys.modules)))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XAI_", "GROVE_"))}
    env["GROVE_CONFIG"] = str(tmp_path / "no-config.toml")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    printed, _, modules_text = out.decode().partition("-- 0\n")
    new_id = printed.strip()
    assert new_id in {c.conversation_id for c in await client.grok.list_conversations()}
    modules = modules_text.split()
    assert "grove_explorer.app.headless.importing" in modules
    others = tuple(m for m in COMMAND_MODULES if not m.endswith((".importing", ".foreign_import")))
    assert not loaded(modules, others)
    assert not loaded(modules, NO_STORE)
    assert not loaded(modules, NOT_FOR_IMPORT)


def test_every_command_still_runs_its_own_function() -> None:
    for name in HEADLESS_COMMANDS:
        run = command_of(name)
        assert inspect.iscoroutinefunction(run) and run.__name__ == f"cmd_{name}", name


def test_the_sweep_prompt_word_of_the_parser_is_the_sdks() -> None:
    """One word: the parser takes it from `research_modes`, where the SDK's comes from."""
    from grove_explorer.app.headless.command_arguments import DEFAULT_PROMPT_WORD
    from grove_explorer.client.sweeps import DEFAULT_PROMPT_WORD as SDK_WORD

    assert DEFAULT_PROMPT_WORD == SDK_WORD
