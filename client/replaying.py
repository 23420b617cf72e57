"""Replaying a path under another setup (extension): "would model X have taken this path?".

Part of the SDK's `Conversation` (a base class of it, as `ResearchCalls` is). A replay
walks a path root → leaf (or from a chosen node down to the leaf) and builds a parallel
branch beside it: each human turn is copied, each model turn re-sampled by the chosen
model given the NEW branch's history (so the replayed model reads its own earlier
answers, not the original ones). Every new response names the original it replays
(`replay_of`, checked by the server), so both branches stay in the tree with their
provenance.

A human message can only be stored together with a sampled reply (AddResponse), so one
step is one call: a human turn and the model turn after it. Manual model replies are
re-sampled like any model turn (their `replay_of` is the manual reply): a replay asks
what the other setup says at every model turn, and copying a manual reply would leave a
stray sampled sibling beside its copy. A human turn with no model turn after it (a leaf,
or two human turns in a row) is copied with a new reply that replays nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, cast

from grove_explorer.client.ids import short_id
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.sampling_call import CallOwner, SamplingCall
from grove_explorer.client.streams import UserResponseEvent
from grove_explorer.protos import chat_pb2_grpc

if TYPE_CHECKING:
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.models import ResponseNode

TurnKind = Literal["human", "reply"]

ReplayProgress = Callable[[int, int], None]
"""Called before each step: (step number from 1, number of steps)."""


@dataclass(frozen=True, slots=True)
class ReplayedTurn:
    """One turn of the original path and the response that replays it."""

    original_id: str
    replayed_id: str
    kind: TurnKind  # "human": a copied message; "reply": a re-sampled model turn


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay made: the pairs in path order, the new leaf and the setup used.

    `extra_ids` are replies that replay nothing (a human turn with no model turn after
    it still gets a sampled reply: a message is stored only with one).
    """

    turns: tuple[ReplayedTurn, ...]
    leaf_id: str | None
    original_leaf_id: str | None
    model_name: str
    system_prompt_name: str | None
    extra_ids: tuple[str, ...] = ()

    def replayed(self, original_id: str) -> str | None:
        """The id that replays `original_id` (None: it was not replayed)."""
        for turn in self.turns:
            if turn.original_id == original_id:
                return turn.replayed_id
        return None


class ReplayStoppedError(RuntimeError):
    """A replay failed part way: what was made is kept (`partial`) and `cause` says why.

    `step` is the step that failed (from 1) of `total`; `original_id` the first original
    response of that step.
    """

    def __init__(
        self, partial: ReplayResult, step: int, total: int, original_id: str, cause: Exception
    ) -> None:
        made = len(partial.turns)
        where = f"at step {step} of {total} (original {short_id(original_id)})"
        kept = (
            f"the {made} replayed turn{'s' if made != 1 else ''} made so far stay in the tree"
            + (f" (leaf {short_id(partial.leaf_id)})" if partial.leaf_id else "")
            if made
            else "nothing was replayed"
        )
        super().__init__(f"The replay stopped {where}: {cause} — {kept}.")
        self.partial = partial
        self.step = step
        self.total = total
        self.original_id = original_id
        self.cause = cause


@dataclass(frozen=True, slots=True)
class _Step:
    """One AddResponse of a replay: a human turn to copy and/or a model turn to re-sample."""

    human: ResponseNode | None
    reply: ResponseNode | None

    @property
    def first_id(self) -> str:
        node = self.human or self.reply
        assert node is not None
        return node.response_id


def replay_steps(path: list[ResponseNode]) -> list[_Step]:
    """The steps of a path: each human turn with the model turn after it, lone replies alone."""
    steps: list[_Step] = []
    index = 0
    while index < len(path):
        node = path[index]
        if node.sender == "human":
            after = path[index + 1] if index + 1 < len(path) else None
            reply = after if after is not None and after.sender == "model" else None
            steps.append(_Step(node, reply))
            index += 2 if reply is not None else 1
        else:
            steps.append(_Step(None, node))
            index += 1
    return steps


def replay_path(forest: Forest, leaf_id: str, from_response_id: str | None) -> list[ResponseNode]:
    """The part of the path root → `leaf_id` a replay walks (from `from_response_id` on).

    Raises ValueError when the leaf is unknown or the start is not on its path.
    """
    path = forest.path_to(leaf_id)
    if not path:
        raise ValueError(f"Response {short_id(leaf_id)} is not in this conversation.")
    if from_response_id is None:
        return path
    for index, node in enumerate(path):
        if node.response_id == from_response_id:
            return path[index:]
    raise ValueError(
        f"Response {short_id(from_response_id)} is not on the path to "
        f"{short_id(leaf_id)}; a replay starts from a response of that path."
    )


class _Owner(CallOwner, Protocol):
    """What a replay needs of the `Conversation` it is part of."""

    def check_usable(self) -> None: ...


class ReplayCalls:
    """The replay half of `Conversation` (whose forest and settings it reads)."""

    _stub: chat_pb2_grpc.ChatStub

    async def replay(
        self,
        leaf_id: str,
        *,
        model_name: str,
        system_prompt_name: str | None = None,
        sampling: SamplingParams | None = None,
        from_response_id: str | None = None,
        progress: ReplayProgress | None = None,
        stored: Callable[[str], None] | None = None,
    ) -> ReplayResult:
        """Extension: replays the path to `leaf_id` under `model_name` as a new branch.

        The branch starts beside `from_response_id` (None: the path's root, so the copy is
        a new root); responses above it are shared. Each human turn is copied and each
        model turn re-sampled by `model_name` ("" the server's default) under
        `system_prompt_name` (None: the conversation's) and `sampling`, reading the new
        branch. Steps run one after another (each reads the one before); `progress` is
        told each step before it runs, and `stored` the id of each response as soon as it
        is stored (so a view can grow the tree step by step). The user's leaf does not
        move.

        Raises ValueError for a leaf or start not in the conversation, and
        ReplayStoppedError when a step fails: what was made before it is kept and named.
        """
        owner = cast("_Owner", self)
        owner.check_usable()
        path = replay_path(owner.forest, leaf_id, from_response_id)
        steps = replay_steps(path)
        parent_id = path[0].parent_id
        turns: list[ReplayedTurn] = []
        extras: list[str] = []
        made: str | None = None  # the last response this replay stored

        def result() -> ReplayResult:
            return ReplayResult(
                tuple(turns), made, leaf_id, model_name, system_prompt_name, tuple(extras)
            )

        def add_reply(original: ResponseNode | None, new_id: str) -> None:
            nonlocal made, parent_id
            if original is not None:
                turns.append(ReplayedTurn(original.response_id, new_id, "reply"))
            else:
                extras.append(new_id)
            made = parent_id = new_id
            if stored is not None:
                stored(new_id)

        for number, step in enumerate(steps, start=1):
            if progress is not None:
                progress(number, len(steps))
            human, reply = step.human, step.reply
            call = SamplingCall(
                owner,
                self._stub,
                human.message if human is not None else "",
                parent_id,
                sampling,
                0,
                exclusive=False,
                select=False,
                model_name=model_name,
                system_prompt=None if system_prompt_name is None else (True, system_prompt_name),
                replay_of=(
                    human.response_id if human is not None else "",
                    reply.response_id if reply is not None else "",
                ),
            )
            try:
                async with contextlib.aclosing(call.events()) as events:
                    async for event in events:
                        if type(event) is UserResponseEvent and human is not None:
                            copy = event.response.response_id
                            turns.append(ReplayedTurn(human.response_id, copy, "human"))
                            made = parent_id = copy  # kept even if the reply fails
                            if stored is not None:
                                stored(copy)
                add_reply(reply, call.future.result().response_id)
            except Exception as error:
                future = call.future
                if future.done() and not future.cancelled() and future.exception() is None:
                    add_reply(reply, future.result().response_id)  # a partial reply, kept
                raise ReplayStoppedError(
                    result(), number, len(steps), step.first_id, error
                ) from error
        return result()
