"""`GroveApp`: connects to a server (or starts the embedded one) and shows the explorer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.widgets import Input

from grove_explorer.app.commands import GroveCommands
from grove_explorer.app.config import AppConfig
from grove_explorer.app.memory import freeze_long_lived, tune_collector
from grove_explorer.app.safe_text import clean
from grove_explorer.app.screens.main import MainScreen
from grove_explorer.client.service import ConversationService

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.driver import Driver
    from textual.screen import Screen

    from grove_explorer.app.embedded import GroveServer
    from grove_explorer.client import Client


class GroveApp(App[None]):
    """The Grove explorer.

    With `config.server` unset the app starts the embedded local server (offline model,
    SQLite in the platform data dir) and stops it on exit; either way it talks to the
    server only through the SDK and `ConversationService`. The embedded server starts
    after the first frame: the explorer (its welcome panel, the composer) shows at once,
    and the service's calls wait until the server is up (`ConversationService.connected`).
    """

    TITLE = "Grove"
    COMMANDS: ClassVar = App.COMMANDS | {GroveCommands}
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="quit", priority=True)]

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__()
        self.config = config or AppConfig()
        self._embedded: GroveServer | None = None
        self.client: Client | None = None
        self.service: ConversationService | None = None
        self.startup_error: str | None = None
        """Why the embedded server could not start (printed once the UI has left)."""
        self._connecting: asyncio.Task[Client] | None = None
        self._server_starting = False
        self._first_frame: asyncio.Future[None] | None = None
        """Done once the explorer's first frame was output (the embedded server waits)."""
        self._painted = False
        """True once the explorer's first frame was output."""

    @property
    def _background_screens(self) -> list[Screen[Any]]:
        """Screens that show through the current one: none when the current one is opaque.

        Textual lists the screen right under the top one whatever covers it, so the
        explorer under the (opaque) Compare screen stayed "current": it laid itself out
        for its own streaming updates and forwarded each repaint as dirty regions of the
        top screen, which then repainted in full (`bench.compare`'s profile: nearly every
        frame a full update of all 8 columns). A covered screen catches up when it is
        resumed (Textual refreshes it then); dialogs (translucent) still show it.
        """
        try:
            top = self.screen
        except ScreenStackError:
            return []
        if top.styles.background.a >= 1:
            return []
        return super()._background_screens

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, except that on POSIX terminals a paste is read whole.

        `PasteSafeDriver` keeps a bracketed paste holding escape sequences one `Paste`
        event (Textual would turn part of it into key presses); see `app/terminal_input`.
        """
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver" and driver.__module__.startswith("textual."):
            from grove_explorer.app.terminal_input import PasteSafeDriver

            return PasteSafeDriver
        return driver

    async def on_event(self, event: events.Event) -> None:
        """A paste into a one-line field (title, filter, search) arrives cleaned.

        Such a field keeps what it draws as its value, so control sequences in a paste
        would reach the terminal; they have no use in a title or a query. Multi-line
        editors keep a paste exactly and hide its sequences (`MultilineEditor`).
        """
        if (
            isinstance(event, events.Paste)
            and not event.is_forwarded
            and isinstance(self.focused, Input)
        ):
            event = events.Paste(clean(event.text))
        await super().on_event(event)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Shows a notification, always as plain text.

        Notifications carry the server's sentences, which can quote user or model text; a
        `[/b]` in there must not be parsed as markup (it would raise), so markup is off
        for every notification whatever the caller asked.
        """
        super().notify(
            clean(message), title=clean(title), severity=severity, timeout=timeout, markup=False
        )

    async def on_mount(self) -> None:
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        if self.config.server is None:
            first_frame: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._connecting = asyncio.create_task(self._start_embedded(first_frame))
            self.service = ConversationService(self._connecting)
            self._first_frame = first_frame
        else:
            from grove_explorer.client import Client

            self.client = Client(api_key=self.config.api_key, api_host=self.config.server)
            self.service = ConversationService(self.client)
        await self.push_screen(MainScreen(self.service))
        tune_collector()

    @property
    def painted(self) -> bool:
        """True once the explorer's first frame was output."""
        return self._painted

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        """Outputs a frame; the explorer's first one lets the embedded server start.

        What exists by then is frozen out of the collector's sight after that frame
        (`freeze_long_lived`: a full collection, which would delay the frame if run before).
        """
        super()._display(screen, renderable)
        if (
            not self._painted
            and renderable is not None
            and not self._batch_count
            and isinstance(screen, MainScreen)
        ):
            self._painted = True
            asyncio.get_running_loop().call_soon(freeze_long_lived)
            first, self._first_frame = self._first_frame, None
            if first is not None and not first.done():
                first.set_result(None)

    async def _start_embedded(self, first_frame: asyncio.Future[None]) -> Client:
        """Starts the embedded server once the first frame is painted; its client.

        A database the server refuses makes the app leave with `startup_error` (`grove`
        checked the file before the UI started; this is what changed in between) and is
        raised to the calls waiting for the client.
        """
        await first_frame
        from grove_explorer.app.embedded import DATABASE_ERRORS, start_embedded_server

        self._server_starting = True
        try:
            self._embedded = await start_embedded_server(
                self.config.db,
                self.config.token_delay_ms,
                self.config.models,
                read_only=self.config.read_only,
                allow_damaged_db=self.config.allow_damaged_db,
            )
        except DATABASE_ERRORS as error:
            self.startup_error = str(error)
            self.exit(return_code=1)
            raise
        from grove_explorer.client import Client

        self.client = Client(api_key=self.config.api_key, api_host=self._embedded.address)
        if self._embedded.read_only:
            self.notify(
                f"The database {self._embedded.config.db} is open read-only: you can browse, "
                "search and export, and every change is refused.",
                title="Read-only",
                severity="warning",
                timeout=12,
            )
        return self.client

    async def on_unmount(self) -> None:
        connecting = self._connecting
        if connecting is not None:
            if not connecting.done() and not self._server_starting:
                connecting.cancel()  # the first frame never came: nothing was started
            with contextlib.suppress(BaseException):  # reported as `startup_error`
                await connecting  # a server being started is stopped below
        if self.service is not None:
            self.service.stop_following()  # before the channel closes under the watch
            await self.service.stop_all()
        if self.client is not None:
            await self.client.close()
        if self._embedded is not None:
            await self._embedded.stop()
