"""The records the store reads and writes: plain frozen dataclasses, no protobuf.

`ResponseContent` is the one declaration of a response's stored fields. Its names are the
columns of the `responses` table (the sampling record spans four), and the SQLite row
mapping (`server/store/sqlite/rows.py`) is derived from it; the wire form is built in
`server/convert.py`. So a new response field is declared here (with a default, so older
checkpoints and callers keep working), added to the table by a migration and to the proto,
and converted in `server/convert.py` — nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

TokenRow = tuple[str, float | None, tuple[tuple[str, float], ...]]
"""One stored token: its text, its logprob (None: unknown) and its top alternatives."""


@dataclass(frozen=True, slots=True)
class SamplingRecord:
    """The sampling parameters actually used for a model response."""

    temperature: float
    top_p: float
    max_tokens: int
    seed: int


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A conversation's metadata (its responses are read separately)."""

    conversation_id: str
    user_id: str
    title: str
    starred: bool
    create_time: datetime
    update_time: datetime
    response_count: int
    # `user_id` is the owner. `role` is the reader's of the record: "owner", or "writer" /
    # "reader" for a conversation shared with them (`list_conversations` lists both).
    role: str = "owner"


@dataclass(frozen=True, slots=True)
class LeafRecord:
    """A user's current leaf of a conversation: where reopening it puts them.

    `response_id` None means they chose no leaf (their next reply starts a new root); a
    conversation whose user never chose one has no record at all.
    """

    response_id: str | None


@dataclass(frozen=True, slots=True)
class ResponseContent:
    """What a response says and how it was made: every field its writer gives.

    Each field is a column of the `responses` table under the same name (`sampling` spans
    temperature, top_p, max_tokens and seed). Field types are limited to what the row
    mapping knows: str, int, float, bool, `str | None`, `int | None`,
    `tuple[str, ...]` (a JSON array) and `SamplingRecord | None`.
    """

    conversation_id: str
    message: str
    sender: str  # "human" or "model"
    parent_response_id: str | None
    manual: bool = False
    partial: bool = False
    query: str = ""
    query_type: str = ""
    model_name: str = ""
    sampling: SamplingRecord | None = None
    token_count: int = 0
    time_to_first_token_seconds: float = 0.0
    total_time_seconds: float = 0.0
    # Characters at the start of `message` that were given, not sampled (a token branch).
    prefix_length: int = 0
    # Why sampling ended (`FinishReason`'s value: "stop", "length", …); "" for human
    # messages, manual replies and replies stored before it was recorded.
    finish_reason: str = ""
    # The endpoint's own usage figures (prompt and completion tokens), None when it reported
    # none. `token_count` is always the tokens received and stored; an endpoint may report
    # an estimate (LiteLLM), kept here as it said so the two can be told apart.
    reported_prompt_tokens: int | None = None
    reported_completion_tokens: int | None = None
    # A fused reply (AddResponseRequest.merge): its sources in the order given (ids of
    # siblings), the mode ("fuse", "checklist", "custom") and the instruction or checked
    # points as sent; empty for every other response.
    merged_from: tuple[str, ...] = ()
    merge_mode: str = ""
    merge_instruction: str = ""
    # A replayed turn (AddResponseRequest.replay_of_human / replay_of_reply): the response
    # of the original path it replays; "" for every other response.
    replay_of: str = ""
    # The named system prompt a model reply was sampled under ("" the default prompt); None
    # when none was sent (use_grok false, completion mode), for human and manual
    # responses, and for replies stored before it was recorded.
    system_prompt_name: str | None = None
    # Who made the response when it was not the conversation's owner: the id of a user it
    # is shared with as a writer; "" for the owner (and every response stored before).
    author: str = ""
    # The AddResponse request that made it (AddResponseRequest.request_id, the caller's
    # name for its stream): its human message and its reply carry it, so a ResumeResponse
    # on any replica finds a reply stored after its connection dropped (resuming.py). ""
    # for every other response (manual, imported, no request_id, stored before it).
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class NewResponse(ResponseContent):
    """What the servicer asks the store to insert; the store assigns id and time."""

    # The sampled tokens (text, logprob or None, alternatives), stored beside the reply.
    tokens: tuple[TokenRow, ...] | None = None
    # When making it began (`Store.reserve_start_time` when its stream started); None: now,
    # the insert itself (a human message, a manual reply, an imported response).
    start_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResponseRecord(ResponseContent):
    """A stored response: its content plus what the store assigned.

    `create_time` is when it was stored; `start_time` when making it began — the start of
    its stream for a sampled reply, else `create_time`. Creation order, the order of
    siblings and of `list_responses`, is (`start_time`, `seq`): parallel samples keep the
    order they were started in whatever order they finish. These fields are keyword-only
    (they follow the content's defaulted fields) and are columns too.
    """

    response_id: str = field(kw_only=True)
    seq: int = field(kw_only=True)
    create_time: datetime = field(kw_only=True)
    shared: bool = field(kw_only=True)
    start_time: datetime = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class AnnotationRecord:
    """A user's marks on a response: bookmark, tags, rating (-1, 0, +1) and a note.

    `set_by` is who set them (a user id), as reads give it — a writer's marks are theirs,
    and a team wants to know whose they are; writes take the setter from the call, so it
    is not part of the marks' equality.
    """

    bookmarked: bool = False
    tags: tuple[str, ...] = ()
    rating: int = 0
    note: str = ""
    set_by: str = field(default="", compare=False)

    @property
    def empty(self) -> bool:
        """True when nothing is marked (such an annotation is deleted, not stored)."""
        return not (self.bookmarked or self.tags or self.rating or self.note)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """The filters of a search query; None/False/empty mean "any"."""

    sender: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = ()
    rating: int | None = None
    bookmarked: bool = False
    partial: bool = False

    @property
    def on_responses(self) -> bool:
        """True when only responses can match (titles have no sender, tags, …)."""
        return bool(
            self.sender or self.model or self.tags or self.rating or self.bookmarked or self.partial
        )


@dataclass(frozen=True, slots=True)
class SearchHitRecord:
    """One search result: where it matched and an excerpt with the matched ranges."""

    conversation_id: str
    conversation_title: str
    field: str  # "message", "title", "tag" or "note"
    response: ResponseRecord | None
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    # (k, n): the response is the k-th of n siblings in creation order; (0, 0) for a title.
    branch: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class NewJudgement:
    """One judge's score (0-10) of one reply with its provenance, as a judge call made it.

    `mode` is "each" (one call per reply) or "table" (one call scored the batch);
    `heuristic` marks the offline demo judge. `create_time` and `batch_id` are given only
    by an import (kept from the export); otherwise the store sets them.
    """

    response_id: str
    score: float
    rationale: str
    judge_model: str
    rubric_name: str
    rubric: str
    sampling: SamplingRecord | None
    mode: str = "each"
    heuristic: bool = False
    create_time: datetime | None = None
    batch_id: str = ""


@dataclass(frozen=True, slots=True)
class JudgementRecord:
    """A stored judgement: what was judged and what the store assigned.

    `asked_by` is who asked for it (a user id: a writer's judgements are theirs), so a team
    sees whose scores these are; not part of equality (the row's owner, not its content).
    """

    judgement_id: str
    batch_id: str
    create_time: datetime
    judgement: NewJudgement
    asked_by: str = field(default="", compare=False)

    @property
    def response_id(self) -> str:
        """The judged reply."""
        return self.judgement.response_id


@dataclass(frozen=True, slots=True)
class ImportItem:
    """One response of an imported forest, linked by ids local to the import."""

    local_id: str
    parent_local_id: str | None
    response: NewResponse
    shared: bool = False
    annotation: AnnotationRecord | None = None
    # Judgements of the response (their response_id is the item's local id: ignored).
    judgements: tuple[NewJudgement, ...] = ()
    # When it was stored, as the import gives it (ImportConversationRequest.keep_times);
    # None: the store's clock, as for every import before. Its start is
    # `response.start_time` (None: this time). The servicer has checked the times: none
    # after the clock, none starting before its parent's start.
    create_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImportStream:
    """An import's `count` items arriving in batches (parents first), as they are checked.

    The store inserts each batch while the next is made; an error raised by `batches`
    ends the import with nothing stored.
    """

    count: int
    batches: AsyncIterable[Sequence[ImportItem]]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The text a running stream has so far, as the partial reply it would store now."""

    checkpoint_id: str
    user_id: str
    response: NewResponse


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored API key as operators see it: never the key, not even its hash."""

    key_id: str
    user_id: str
    label: str
    create_time: datetime
    revoked: bool
    revoke_time: datetime | None


@dataclass(frozen=True, slots=True)
class ApiKeyCheck:
    """What one call's key means, read in one snapshot.

    `user_id` is None when no stored key has that hash; `any_active` says whether any
    non-revoked key exists at all (which decides whether keys are required).
    """

    user_id: str | None
    revoked: bool
    any_active: bool
