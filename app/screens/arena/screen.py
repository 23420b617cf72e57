"""The blind arena: two setups sample under one node, shown as A and B without names.

The order of the setups on screen is drawn from an injectable `random.Random` (tests pass
a seeded one), so which side a setup lands on says nothing. Until the vote the columns are
titled only "A" and "B"; one key votes (a, b, t = tie, x = both bad), the vote is stored
with RecordVote, and then each column names its setup. `n` samples the next pair with the
same setups, `L` opens the leaderboard, Esc closes. Both replies stream live, each in a
tail view (`LiveText`: only changed rows repaint) under a placeholder id the screen chose,
and become the whole text when they finish. Replies are model output: `clean()`ed (a
`StreamCleaner` per side, for control sequences split between fragments) and drawn as
inert Text.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from grove_explorer.app import events
from grove_explorer.app.events import connect_service
from grove_explorer.app.safe_text import StreamCleaner, clean
from grove_explorer.app.widgets.fitting_footer import FittingFooter
from grove_explorer.app.widgets.live_lines import LiveText
from grove_explorer.app.workers import run_service_call
from grove_explorer.client.arena import Outcome, Setup, Vote
from grove_explorer.client.models import ResponseNode
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.service import ConversationService

SIDES = ("A", "B")
VOTE_WORDS: dict[Outcome, str] = {
    "a": "A is better",
    "b": "B is better",
    "tie": "a tie",
    "both_bad": "both bad",
}


@dataclass(slots=True)
class ArenaPair:
    """One pair on screen: the setups in the order shown, their replies, the vote."""

    shown: tuple[Setup, Setup]
    placeholders: tuple[str, str] = ("", "")
    """The ids the two live replies' events carry until they are stored."""
    replies: list[ResponseNode | None] = field(default_factory=lambda: [None, None])
    done: bool = False
    vote: Vote | None = None


def shown_order(setups: tuple[Setup, Setup], rng: random.Random) -> tuple[Setup, Setup]:
    """The setups as A and B: swapped or not, by `rng`."""
    first, second = setups
    return (second, first) if rng.random() < 0.5 else (first, second)


class ArenaScreen(Screen[None]):
    """A and B side by side; vote with one key; names after the vote."""

    DEFAULT_CSS = """
    ArenaScreen #arena-title { padding: 0 1; background: $panel; }
    ArenaScreen Horizontal { height: 1fr; }
    ArenaScreen .arena-side { width: 1fr; border: round $primary 50%; padding: 0 1; }
    ArenaScreen .arena-side-title { text-style: bold; }
    ArenaScreen #arena-status { padding: 0 1; color: $text-muted; height: auto; }
    ArenaScreen .arena-live { height: auto; max-height: 100%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "vote('a')", "A better", id="arena_vote_a"),
        Binding("b", "vote('b')", "B better", id="arena_vote_b"),
        Binding("t", "vote('tie')", "Tie", id="arena_vote_tie"),
        Binding("x", "vote('both_bad')", "Both bad", id="arena_vote_both_bad"),
        Binding("n", "next_pair", "Next pair", id="arena_next"),
        Binding("L", "leaderboard", "Leaderboard", id="arena_leaderboard"),
        Binding("escape", "close", "Close", id="arena_close"),
        Binding("question_mark", "help", "Help", id="arena_help", show=False),
    ]

    def __init__(
        self,
        service: ConversationService,
        conversation_id: str,
        parent_id: str,
        setups: tuple[Setup, Setup],
        *,
        rng: random.Random | None = None,
    ) -> None:
        """Both `setups` sample under `parent_id`; `rng` draws the order shown."""
        super().__init__()
        self._service = service
        self._conversation_id = conversation_id
        self._parent_id = parent_id
        self._setups = setups
        self._rng = rng or random.Random()
        self.pair: ArenaPair | None = None
        self.pairs_voted = 0
        self._cleaners = (StreamCleaner(), StreamCleaner())
        self._unsubscribe = connect_service(service, self)

    def compose(self) -> ComposeResult:
        yield Static(id="arena-title")
        with Horizontal():
            for index, side in enumerate(SIDES):
                with VerticalScroll(classes="arena-side", id=f"arena-side-{index}"):
                    yield Static(side, classes="arena-side-title", id=f"arena-title-{index}")
                    yield Static("", id=f"arena-body-{index}")
        yield Static(id="arena-status")
        yield FittingFooter()

    def on_mount(self) -> None:
        self._start_pair()

    def on_unmount(self) -> None:
        self._unsubscribe()

    # -- live replies ------------------------------------------------------------------

    def _side_of(self, placeholder_id: str) -> int | None:
        pair = self.pair
        if pair is None or placeholder_id not in pair.placeholders:
            return None
        return pair.placeholders.index(placeholder_id)

    @on(events.TokensAppended)
    def _on_tokens(self, message: events.TokensAppended) -> None:
        index = self._side_of(message.event.response_id)
        if index is None or not message.event.text:
            return
        side = self.query_one(f"#arena-side-{index}", VerticalScroll)
        if not side.is_attached:
            return  # the app's teardown detached the screen: mounting would raise
        lives = side.query(LiveText)
        if lives:
            live = lives.first()
        else:
            self.query_one(f"#arena-body-{index}", Static).update(Text(""))
            live = LiveText(classes="arena-live")
            side.mount(live)
        live.append(self._cleaners[index].feed(message.event.text))

    @on(events.ResponseCompleted)
    def _on_completed(self, message: events.ResponseCompleted) -> None:
        index = self._side_of(message.event.placeholder_id)
        if index is not None and self.pair is not None:
            self.pair.replies[index] = message.event.node
            self._show_side(index, message.event.node)

    # -- one pair ----------------------------------------------------------------------

    def _start_pair(self) -> None:
        """Samples the next pair: both setups at once, under the node."""
        pair = ArenaPair(
            shown=shown_order(self._setups, self._rng),
            placeholders=(
                self._service.new_placeholder_id(),
                self._service.new_placeholder_id(),
            ),
        )
        self.pair = pair
        self._cleaners = (StreamCleaner(), StreamCleaner())
        self.query_one("#arena-title", Static).update(
            Text(f"Blind arena · pair {self.pairs_voted + 1} · which reply is better?")
        )
        for index, side in enumerate(SIDES):
            self.query_one(f"#arena-title-{index}", Static).update(Text(side))
            self.query_one(f"#arena-side-{index}", VerticalScroll).query(LiveText).remove()
            self.query_one(f"#arena-body-{index}", Static).update(Text("sampling…", style="dim"))
        self._status("Sampling both replies…")

        async def both() -> list[ResponseNode | None]:
            return list(
                await asyncio.gather(
                    *(
                        self._service.sample_at(
                            self._conversation_id,
                            self._parent_id,
                            sampling=_sampling(setup),
                            model_name=setup.model_name or None,
                            system_prompt=(
                                setup.system_prompt_name is not None,
                                setup.system_prompt_name or "",
                            ),
                            placeholder_id=placeholder_id,
                        )
                        for setup, placeholder_id in zip(pair.shown, pair.placeholders, strict=True)
                    )
                )
            )

        def sampled(replies: list[ResponseNode | None]) -> None:
            pair.replies = replies
            self._show_replies(pair)

        def finished() -> None:
            pair.done = True
            if any(reply is None for reply in pair.replies):
                self._status("A reply failed, so this pair cannot be voted on: n tries again.")

        run_service_call(self, both(), done=sampled, always=finished, name="arena pair")

    def _show_side(self, index: int, reply: ResponseNode | None) -> None:
        """A side's whole reply (its live tail view goes), or why there is none."""
        self.query_one(f"#arena-side-{index}", VerticalScroll).query(LiveText).remove()
        body = self.query_one(f"#arena-body-{index}", Static)
        if reply is None:
            body.update(Text("(no reply: the stream failed)", style="italic"))
        else:
            body.update(Text(clean(reply.message)))

    def _show_replies(self, pair: ArenaPair) -> None:
        for index, reply in enumerate(pair.replies):
            self._show_side(index, reply)
        if all(reply is not None for reply in pair.replies):
            self._status("Vote: a = A better, b = B better, t = tie, x = both bad.")

    def _status(self, text: str) -> None:
        self.query_one("#arena-status", Static).update(Text(text))

    def _reveal(self, pair: ArenaPair, outcome: Outcome) -> None:
        """Names each side's setup (after the vote only) and marks the preferred one."""
        for index, (side, setup) in enumerate(zip(SIDES, pair.shown, strict=True)):
            title = Text(f"{side} · {clean(setup.key)}")
            if outcome == ("a", "b")[index]:
                title.append("  ✓ preferred", style="bold green")
            self.query_one(f"#arena-title-{index}", Static).update(title)
        self._status(f"Voted {VOTE_WORDS[outcome]}. n: next pair · L: leaderboard · Esc: close.")

    # -- actions -----------------------------------------------------------------------

    def action_vote(self, outcome: Outcome) -> None:
        """Stores the vote on the pair shown, then reveals the names."""
        pair = self.pair
        if pair is None or not pair.done or any(r is None for r in pair.replies):
            self.notify("Wait for both replies before voting.", severity="warning")
            return
        if pair.vote is not None:
            self.notify("This pair has its vote: n samples the next one.", severity="warning")
            return
        reply_a, reply_b = pair.replies
        assert reply_a is not None and reply_b is not None

        async def record() -> Vote:
            client = await self._service.connected()
            return await client.grok.record_vote(
                self._conversation_id,
                self._parent_id,
                reply_a.response_id,
                reply_b.response_id,
                pair.shown[0],
                pair.shown[1],
                outcome,
            )

        def recorded(vote: Vote) -> None:
            pair.vote = vote
            self.pairs_voted += 1
            self._reveal(pair, outcome)

        run_service_call(self, record(), done=recorded, name="arena vote")

    def action_next_pair(self) -> None:
        """The next pair with the same setups (after a vote, or when a reply failed)."""
        pair = self.pair
        if (
            pair is not None
            and pair.vote is None
            and not (pair.done and any(r is None for r in pair.replies))
        ):
            self.notify("Vote first (a, b, t or x), or Esc to leave.", severity="warning")
            return
        self._start_pair()

    def action_leaderboard(self) -> None:
        """The ranked setups of this conversation's votes."""
        from grove_explorer.app.screens.arena.leaderboard import LeaderboardScreen

        self.app.push_screen(LeaderboardScreen(self._service, self._conversation_id))

    def action_close(self) -> None:
        """Back to the explorer (replies sampled so far stay in the tree)."""
        self.dismiss(None)

    def action_help(self) -> None:
        """Every key of the arena."""
        from grove_explorer.app.screens.help import HelpScreen, binding_rows

        self.app.push_screen(HelpScreen(binding_rows([self.app, self])))


def _sampling(setup: Setup) -> SamplingParams | None:
    """The setup's parameters (None when it sets none: the server's defaults)."""
    if all(v is None for v in (setup.temperature, setup.top_p, setup.seed, setup.max_tokens)):
        return None
    return SamplingParams(
        temperature=setup.temperature,
        top_p=setup.top_p,
        max_tokens=setup.max_tokens,
        seed=setup.seed,
    )
