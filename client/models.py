"""Pydantic models of what a conversation holds, as a UI needs them.

`ResponseNode` is one response (human or model) of a forest; `LiveResponseNode` is a reply
still streaming, whose text grows as tokens arrive; `ConversationSummary` is a
conversation's metadata; `TokenInfo` is one sampled token. They hold no gRPC types, so a
UI can use them without importing grpc. The wire forms become these in exactly one place,
`client.convert`; the tree they form is `client.forest.Forest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

from grove_explorer.client.research import Annotation

_set_attribute = object.__setattr__


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One sampled token: its text, logprob and the most likely alternatives."""

    text: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()


class SamplingInfo(BaseModel):
    """Sampling parameters actually used for a model response."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None


class ReportedUsage(BaseModel):
    """Token counts the backend itself reported for a reply (OpenAI's `usage`).

    An endpoint may report an estimate (LiteLLM): `completion_tokens` can differ from the
    reply's `token_count`, which is always the tokens received and stored.
    """

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0


_PRIVATE_TEMPLATES: dict[type, dict[str, Any] | None] = {}


def _private_defaults(cls: type[BaseModel]) -> dict[str, Any]:
    """A fresh dict of `cls`'s private attributes at their defaults (what pydantic sets).

    When no default is made by a factory, one template is copied (a dict copy instead of
    a deep copy of each default); otherwise every default is made anew.
    """
    template = _PRIVATE_TEMPLATES.get(cls, ...)
    if template is ...:
        attributes = cls.__private_attributes__.values()
        immutable = all(
            attr.default_factory is None and isinstance(attr.default, (type(None), str, int))
            for attr in attributes
        )
        template = _PRIVATE_TEMPLATES[cls] = (
            {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}
            if immutable
            else None
        )
    if template is not None:
        return template.copy()
    return {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}


class ResponseNode(BaseModel):
    """One response of a forest (human or model), or a reply still streaming."""

    model_config = ConfigDict(frozen=True)

    response_id: str
    parent_id: str | None
    sender: str
    message: str
    create_time: datetime | None = None
    manual: bool = False
    partial: bool = False
    shared: bool = False
    query: str = ""
    query_type: str = ""
    model_name: str = ""
    sampling: SamplingInfo | None = None
    token_count: int = 0
    time_to_first_token: float = 0.0
    total_time: float = 0.0
    streaming: bool = False
    # Mean token logprob, known for replies streamed in this session (the tokens themselves
    # are fetched on demand, see ConversationService.tokens).
    mean_logprob: float | None = None
    # Characters at the start of `message` that were given (a branch from a token).
    prefix_length: int = 0
    # Why sampling ended ("stop", "length", …; see client.finish); "" when unknown.
    finish_reason: str = ""
    # This user's annotation.
    annotation: Annotation = Annotation()
    # When making it began (the start of its stream for a sampled reply, else create_time):
    # siblings are ordered by it, so k/n is by start order live and after a reload.
    start_time: datetime | None = None
    # What the backend reported as its usage; None when it reported none.
    reported_usage: ReportedUsage | None = None
    # This user's judgements of the reply, oldest first (`client.judgements.Judgement`;
    # typed loosely here because that module builds on this one).
    judgements: tuple[Any, ...] = ()
    # A fused reply: its sources (in the order given), mode and instruction.
    merged_from: tuple[str, ...] = ()
    merge_mode: str = ""
    merge_instruction: str = ""
    # A replayed turn: the original response it replays ("" for any other).
    replay_of: str = ""
    # The named system prompt a model reply was sampled under ("" the default); None when
    # none was sent or it was not recorded.
    system_prompt_name: str | None = None
    # Who made it, when it arrived live from another session (a watch, client/service/
    # watching.py): the user's name, or "" for the watching user in another session.
    # Not stored: None for everything else.
    made_by: str | None = None
    # Who made it when not the conversation's owner (a writer it is shared with); "".
    author: str = ""

    # The wire message this node was read from (None for nodes built by hand), so the
    # SDK's `Response.proto` hands out the message itself rather than a rebuilt copy.
    _proto: Any = PrivateAttr(default=None)

    @classmethod
    def trusted(cls, fields: dict[str, Any], fields_set: set[str] | None = None) -> Self:
        """What `model_construct(**fields)` returns, for `fields` naming every field in order.

        pydantic's `model_construct` looks up every field's aliases and copies defaults one
        by one (about 40 µs a node); a conversation of 10,000 responses is converted when
        it loads and again when it is exported, so the converters (`client.convert`, the
        export's `DocumentTree`) build nodes here from a complete dict instead: the same
        `__dict__` (taken as is, so it must list the fields in declaration order: start from
        a copy of `NODE_DEFAULTS`), the same fields set (default: every field) and private
        attributes at their defaults.
        """
        node = cls.__new__(cls)
        _set_attribute(node, "__dict__", fields)
        _set_attribute(
            node, "__pydantic_fields_set__", set(fields) if fields_set is None else fields_set
        )
        _set_attribute(node, "__pydantic_extra__", None)
        _set_attribute(node, "__pydantic_private__", _private_defaults(cls))
        return node

    @property
    def bookmarked(self) -> bool:
        """True when bookmarked."""
        return self.annotation.bookmarked

    @property
    def is_human(self) -> bool:
        """True for messages a person wrote (sender "human")."""
        return self.sender == "human"

    @property
    def word_count(self) -> int:
        """Words in the message (whitespace-separated)."""
        return len(self.message.split())

    @property
    def tokens_per_second(self) -> float | None:
        """Sampling speed after the first token, when timings are known."""
        streaming_time = self.total_time - self.time_to_first_token
        if self.token_count < 2 or streaming_time <= 0:
            return None
        return (self.token_count - 1) / streaming_time

    @property
    def order_key(self) -> datetime | None:
        """Where it stands among its siblings: its start (else stored) time; None: unknown.

        A streaming placeholder has none: it keeps the slot it was added in (the end — it
        started after everything stored), and the stored reply replacing it takes its place
        by the start time the server recorded.
        """
        if self.streaming:
            return None
        moment = self.start_time or self.create_time
        if moment is not None and moment.tzinfo is None:  # built by hand: read as UTC
            moment = moment.replace(tzinfo=UTC)
        return moment


class LiveResponseNode(ResponseNode):
    """A reply still streaming: a placeholder whose `message` grows as tokens arrive.

    Tokens are appended to a list of pieces (O(1) each) and the text is joined only when
    somebody reads `message` — as xai-sdk-python's `Response.process_chunk` buffers chunks —
    so a reply of n tokens costs O(n) to assemble however often it grows, not the O(n²) of
    rebuilding the whole text (and the node) at every batch. The node itself stays the
    same object while it streams; the service swaps it for the stored reply at the end.
    """

    _pieces: list[str] = PrivateAttr(default_factory=list)

    def append(self, text: str) -> None:
        """Adds the text of newly arrived tokens."""
        if text:
            self._pieces.append(text)

    def _joined(self) -> str:
        pieces = self._pieces
        if len(pieces) > 1:
            pieces[:] = ["".join(pieces)]
        text = pieces[0] if pieces else ""
        # Kept in the field too, so equality, repr and dumps see the text read last.
        self.__dict__["message"] = text
        return text

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """A snapshot: a plain `ResponseNode` with the text so far (it does not grow)."""
        data = dict(self.__dict__)
        data["message"] = self._joined()
        if update:
            data.update(update)
        return ResponseNode.model_construct(**data)


NODE_DEFAULTS: dict[str, Any] = {
    name: field.default for name, field in ResponseNode.model_fields.items()
}
"""Every field of `ResponseNode` in declaration order, at its default.

Start a `ResponseNode.trusted` dict from a copy of it and update it (an update keeps the
order), giving at least the required fields (they hold `PydanticUndefined` here). The
defaults are immutable (the `Annotation` default is a frozen model), so nodes may share
them.
"""


# A data descriptor on the class wins over the instance's field value. Pydantic refuses a
# property that shadows a field in the class body, hence the assignment after it.
LiveResponseNode.message = property(  # type: ignore[assignment]
    LiveResponseNode._joined, doc="The text received so far."
)


class ConversationSummary(BaseModel):
    """A conversation's metadata, as listed in a sidebar."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    title: str
    starred: bool
    create_time: datetime | None = None
    update_time: datetime | None = None
    response_count: int = 0
    # Sharing between users: the owner, and the caller's role ("owner", "writer", "reader").
    owner_user_id: str = ""
    role: str = "owner"
    # The caller's own user id, as a loaded conversation tells it ("" when not told).
    caller_user_id: str = ""
