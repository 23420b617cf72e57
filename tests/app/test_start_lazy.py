"""`grove` paints its first frame without gRPC, the protos or pydantic (issue 13).

gRPC, protobuf and pydantic (the SDK's models) were a third of start-up; the explorer
needs none of them to draw its first frame with no conversation open (the embedded server
starts after it, and every service call waits for the client).
Pinned here: the modules of the start path import neither, the first frame is painted
before either is imported (checked in a fresh interpreter), and what was made lazy for it
behaves as before: the SDK's error classes still carry `grpc.StatusCode` members, server
statuses still become the same classes, and finish-reason words still match the proto.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pytest

from grove_explorer.client import errors
from grove_explorer.client.finish import FINISH_REASONS, finish_reason_from_proto
from grove_explorer.client.finish import finish_reason_to_proto as to_wire
from grove_explorer.protos import chat_pb2

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
