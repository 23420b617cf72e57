"""`run_service_call`: the one way screens run service calls in the background."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen

from grove_explorer.app.workers import run_service_call
from grove_explorer.client.errors import GroveError


class _Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.notes: list[tuple[str, str, str]] = []

    def notify(
        self, message: str, *, title: str = "", severity: str = "information", **_: object
    ) -> None:  # type: ignore[override]
        self.notes.append((message, title, severity))


async def _value() -> int:
    return 7


async def _grove_error() -> int:
    raise GroveError("The server said no.")


async def _bug() -> int:
    raise RuntimeError("boom")


async def test_result_goes_to_done_and_always_runs() -> None:
    app = _Host()
    got: list[object] = []
    async with app.run_test() as pilot:
        run_service_call(app.screen, _value(), done=got.append, always=lambda: got.append("end"))
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert got == ["end", 7]
    assert app.notes == []


async def test_a_grove_error_becomes_a_notification_with_its_sentence() -> None:
    app = _Host()
    got: list[object] = []
    async with app.run_test() as pilot:
        run_service_call(
            app.screen, _grove_error(), done=got.append, always=lambda: got.append("end")
        )
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert got == ["end"]
    assert app.notes == [("The server said no.", "Server", "error")]


async def test_an_unexpected_error_is_one_line_never_a_traceback() -> None:
    app = _Host()
    async with app.run_test() as pilot:
        worker = run_service_call(app.screen, _bug())
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert worker.error is None  # caught: the worker itself ended well
    assert app.notes == [("boom", "", "error")]


async def test_detached_work_belongs_to_the_app_and_outlives_its_screen() -> None:
    app = _Host()
    async with app.run_test() as pilot:
        screen = Screen[None]()
        await app.push_screen(screen)
        attached = run_service_call(screen, _value())
        detached = run_service_call(screen, _value(), detached=True)
        assert attached.node is screen
        assert detached.node is app
        await app.workers.wait_for_complete()
        await pilot.pause()
