"""The share dialog: who the open conversation is shared with; grant and revoke.

Opened from the command palette ("Share conversation with users") on a conversation the
user owns. The list shows each user and their role; on it (Tab), `r` switches the
highlighted user between reader and writer and `d` / Delete revokes them (the footer shows
both while the list has focus: they are the list's keys, as typing goes to the line); the
line below takes "USER" or "USER writer" and Enter grants it (granting again changes the
role). Every call goes through the service; the server's refusals (an unknown
user, the owner themselves) come back as notifications with its sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from grove_explorer.app.safe_text import first_line, inert
from grove_explorer.app.screens.dialogs import DIALOG_CSS
from grove_explorer.app.workers import run_service_call

if TYPE_CHECKING:
    from grove_explorer.client.service import ConversationService
    from grove_explorer.client.sharing import AccessGrant

ROLES = ("reader", "writer")
HINT = "Enter: share with USER [reader|writer] · Tab: the list"


def parse_grant(text: str) -> tuple[str, str] | str:
    """(user, role) from "bob" or "bob writer"; a sentence saying what is wrong otherwise."""
    words = text.split()
    if not words:
        return "Type the user to share with (and reader or writer)."
    if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ROLES):
        return "Type a user, then reader or writer (e.g. 'bob writer')."
    role = words[1].lower() if len(words) == 2 else "reader"
    return words[0], role


def other_role(role: str) -> str:
    """The role `r` switches a grant to: reader ⇄ writer."""
    return "reader" if role == "writer" else "writer"


class GrantList(OptionList):
    """The grants, one a line; its keys act on the highlighted user (run by the dialog)."""

    BINDINGS = [
        Binding("r", "screen.switch_role", "Reader/writer"),
        Binding("d,delete", "screen.revoke", "Revoke"),
    ]


class ShareScreen(ModalScreen[None]):
    """Lists the grants of one conversation; grants and revokes through the service."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ShareScreen")
        + """
    ShareScreen OptionList {
        height: auto;
        max-height: 12;
        margin: 1 0;
    }
    """
    )
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, service: ConversationService, conversation_id: str, title: str) -> None:
        super().__init__()
        self._service = service
        self._conversation_id = conversation_id
        self._title = title
        self.grants: list[AccessGrant] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                inert(f"Share {first_line(self._title, 50) or 'this conversation'}", "bold")
            )
            yield GrantList(id="share-grants")
            yield Input(placeholder="user [reader|writer]", id="share-user")
            yield Label(inert(HINT, "dim"))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.reload()

    def reload(self) -> None:
        """Reads the grants again (after a change, or when opened)."""
        run_service_call(self, self._service.access_list(self._conversation_id), done=self._show)

    def _show(self, grants: list[AccessGrant]) -> None:
        kept = self._highlighted_user()
        self.grants = grants
        options = self.query_one(OptionList)
        options.clear_options()
        if not grants:
            options.add_option(
                Option(inert("Shared with no one yet.", "dim italic"), disabled=True)
            )
            return
        options.add_options(
            [
                Option(inert(f"{first_line(g.user_id, 40)}  ({g.role})"), id=g.user_id)
                for g in grants
            ]
        )
        users = [g.user_id for g in grants]
        if kept in users:  # a switched role keeps its line highlighted
            options.highlighted = users.index(kept)

    def _highlighted_user(self) -> str | None:
        """The user id of the highlighted grant (None: none highlighted)."""
        options = self.query_one(OptionList)
        if options.highlighted is None or not self.grants:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(Input.Submitted, "#share-user")
    def _grant(self, event: Input.Submitted) -> None:
        event.stop()
        parsed = parse_grant(event.value)
        if isinstance(parsed, str):
            self.notify(parsed, severity="warning")
            return
        user, role = parsed

        def granted(grant: AccessGrant) -> None:
            event.input.value = ""
            self.notify(f"Shared with {first_line(grant.user_id, 40)} as a {grant.role}.")
            self.reload()

        run_service_call(
            self, self._service.share_with(self._conversation_id, user, role), done=granted
        )

    def action_switch_role(self) -> None:
        """Makes the highlighted reader a writer, or writer a reader (granting again)."""
        user = self._highlighted_user()
        grant = next((g for g in self.grants if g.user_id == user), None)
        if grant is None:
            self.notify("Highlight a user in the list to switch their role.", severity="warning")
            return
        role = other_role(grant.role)

        def switched(done: AccessGrant) -> None:
            self.notify(f"{first_line(done.user_id, 40)} is now a {done.role}.")
            self.reload()

        run_service_call(
            self,
            self._service.share_with(self._conversation_id, grant.user_id, role),
            done=switched,
        )

    def action_revoke(self) -> None:
        """Ends the highlighted user's access."""
        user = self._highlighted_user()
        if user is None:
            self.notify("Highlight a user in the list to revoke them.", severity="warning")
            return

        def revoked(done: bool) -> None:
            said = "no longer has access" if done else "had no access"
            self.notify(f"{first_line(user, 40)} {said}.")
            self.reload()

        run_service_call(self, self._service.unshare(self._conversation_id, user), done=revoked)

    def action_close(self) -> None:
        """Closes the dialog."""
        self.dismiss(None)
