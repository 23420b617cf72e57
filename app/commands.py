"""Command palette entries: every explorer action and every conversation."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from grove_explorer.app.safe_text import first_line

if TYPE_CHECKING:
    from grove_explorer.app.screens.main import MainScreen

# (label, action on the main screen, help)
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("New conversation", "new_conversation", "Start an empty conversation"),
    ("Generate title", "generate_title", "Title the conversation from its current path"),
    ("Star / unstar conversation", "toggle_star", "Starred conversations are listed first"),
    ("Rename conversation", "rename", "Set the conversation's title"),
    ("Delete conversation", "delete_conversation", "Delete the open conversation"),
    (
        "Share conversation with users",
        "share_with_users",
        "Who else on the server may read or write it: list, share, revoke (owner only)",
    ),
    (
        "Choose model / system prompt",
        "pick_model",
        "The model and system prompt of new replies (raw model: none)",
    ),
    ("Resample message", "resample", "Sample a new sibling of the focused model message"),
    (
        "Continue text",
        "continue_text",
        "Sample a model child that continues the focused message's text (completion mode)",
    ),
    (
        "Blind arena",
        "arena",
        "Two setups reply to the focused message as A and B without names; vote (A)",
    ),
    ("Arena leaderboard", "arena_leaderboard", "Ratings of the setups you voted on"),
    ("Edit message", "edit", "Edit the focused message as a new branch"),
    ("Copy message", "copy", "Copy the focused message's text"),
    (
        "Token view",
        "token_view",
        "Tokens of the focused reply by probability; branch from an alternative",
    ),
    ("Previous branch", "sibling(-1)", "Switch to the previous sibling"),
    ("Next branch", "sibling(1)", "Switch to the next sibling"),
    ("Stop sampling", "stop", "Stop the stream; the partial reply is kept"),
    ("Search all conversations", "search", "Full-text search; Enter jumps to a hit"),
    ("Bookmark / unbookmark message", "bookmark", "Toggle the focused message's bookmark"),
    ("Rate message +1", "rate(1)", "Rate the focused message +1 (again: clear)"),
    ("Rate message -1", "rate(-1)", "Rate the focused message -1 (again: clear)"),
    ("Note on message", "note", "Write or edit a note (empty removes it)"),
    ("Tag message", "tags", "Tags separated by spaces or commas (empty removes them)"),
    ("Next bookmark", "bookmark_jump(1)", "Go to the next bookmark in tree order"),
    ("Previous bookmark", "bookmark_jump(-1)", "Go to the previous bookmark in tree order"),
    ("Hoist forest here", "hoist", "Show only the subtree under the focused node"),
    ("Unhoist forest", "unhoist", "Show the whole forest again"),
    ("Toggle subtree totals", "subtree_totals", "Responses, tokens and time under each node"),
    ("Toggle sidebar", "toggle_sidebar", "Show or hide the conversation list"),
    ("Toggle forest", "toggle_forest", "Show or hide the forest tree"),
    ("Reload from the server", "reload", "Conversations and the open one, as stored"),
    ("Help: all keys", "help", "List every key binding"),
)


class GroveCommands(Provider):
    """Offers the explorer's actions and its conversations in Ctrl+P."""

    def _main_screen(self) -> MainScreen | None:
        from grove_explorer.app.screens.main import MainScreen

        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _entries(self) -> list[tuple[str, str, str]]:
        screen = self._main_screen()
        if screen is None:
            return []
        entries = [(label, action, help_text) for label, action, help_text in ACTIONS]
        from grove_explorer.app.widgets.conversation_list import ConversationList

        for summary in screen.query_one(ConversationList).summaries:
            title = first_line(summary.title, 60) or "Untitled"
            entries.append(
                (
                    f"Open: {title}",
                    f"open_conversation({summary.conversation_id!r})",
                    "★ starred conversation" if summary.starred else "Conversation",
                )
            )
        return entries

    async def discover(self) -> Hits:
        """Everything, before the user types."""
        screen = self._main_screen()
        if screen is None:
            return
        for label, action, help_text in self._entries():
            yield DiscoveryHit(label, partial(screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy matches of actions and conversation titles."""
        matcher = self.matcher(query)
        screen = self._main_screen()
        if screen is None:
            return
        for label, action, help_text in self._entries():
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(screen.run_action, action),
                    help=help_text,
                )
