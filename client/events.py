"""What `ConversationService` publishes: one frozen dataclass per kind of happening.

A UI subscribes to the service and receives these; the Textual app re-posts each kind as
its own Message, so a new kind of event is a new class here (and in `ServiceEvent`),
never a new branch in somebody's isinstance ladder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grove_explorer.client.forest import Forest
    from grove_explorer.client.models import ConversationSummary, ResponseNode, TokenInfo


@dataclass(frozen=True, slots=True)
class ConversationsListed:
    """The list of conversations was (re)loaded."""

    conversations: tuple[ConversationSummary, ...]


@dataclass(frozen=True, slots=True)
class ConversationOpened:
    """A conversation's forest was loaded."""

    forest: Forest


@dataclass(frozen=True, slots=True)
class ConversationUpdated:
    """Title or star of a conversation changed."""

    conversation: ConversationSummary


@dataclass(frozen=True, slots=True)
class ConversationDeleted:
    """A conversation was deleted."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class ResponseAdded:
    """A response joined the forest (a stored one, or a streaming placeholder)."""

    conversation_id: str
    node: ResponseNode


@dataclass(frozen=True, slots=True)
class TokensAppended:
    """Tokens arrived for a streaming placeholder."""

    conversation_id: str
    response_id: str
    text: str
    tokens: tuple[TokenInfo, ...]


@dataclass(frozen=True, slots=True)
class ResponseCompleted:
    """A stream ended: `placeholder_id` is now the stored `node` (partial if cut short)."""

    conversation_id: str
    placeholder_id: str
    node: ResponseNode


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """A stream failed. `error` is the SDK's exception.

    When the backend failed mid-reply the server kept the text so far: `partial` is that
    stored node (already announced by `ResponseCompleted`). Otherwise the placeholder was
    removed and `partial` is None.
    """

    conversation_id: str
    placeholder_id: str
    error: BaseException
    partial: ResponseNode | None = None


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """What new replies in a conversation are sampled with.

    `model_name` "" is the server's default model; `system_prompt_name` "" its default
    prompt; `use_system_prompt` False samples the raw model with no system prompt.
    """

    model_name: str = ""
    system_prompt_name: str = ""
    use_system_prompt: bool = True


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """The model or system prompt of a conversation changed."""

    conversation_id: str
    settings: ConversationSettings


@dataclass(frozen=True, slots=True)
class LeafMoved:
    """The current path of a conversation now ends at `leaf_id`."""

    conversation_id: str
    leaf_id: str | None


@dataclass(frozen=True, slots=True)
class BudgetUpdated:
    """Token budget of a running stream."""

    conversation_id: str
    response_id: str
    prompt_tokens: int
    sampled_tokens: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class QueryPerformed:
    """The model reported a query action ("searching: …")."""

    conversation_id: str
    response_id: str
    query_type: str
    query: str


@dataclass(frozen=True, slots=True)
class ReplyElsewhereStarted:
    """A reply another session or user samples began: `node` is its placeholder.

    `node.made_by` names who ("" : the same user in another session). Watched only while
    the conversation is open (client/service/watching.py).
    """

    conversation_id: str
    node: ResponseNode


@dataclass(frozen=True, slots=True)
class ReplyElsewhereText:
    """New text of a reply sampled elsewhere (appended to its placeholder already)."""

    conversation_id: str
    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ReplyElsewhereEnded:
    """A reply sampled elsewhere ended: the placeholder is now `node`, or gone (None)."""

    conversation_id: str
    placeholder_id: str
    node: ResponseNode | None


@dataclass(frozen=True, slots=True)
class DeletedElsewhere:
    """The open conversation was deleted by another session or user (`by`), or is gone.

    A watch begun again after the server was away, or ended by the server, that finds the
    conversation no longer readable (NOT_FOUND / PERMISSION_DENIED) is this event too: no
    watch event told who did it (`unknown` True; `by` ""). The server answers a deleted
    conversation and a revoked share alike (a stranger learns nothing), so for a shared
    one (`unshared`; `by` its owner, who did either) the app says the share was revoked
    or the conversation deleted.
    """

    conversation_id: str
    by: str
    unknown: bool = False
    unshared: bool = False


@dataclass(frozen=True, slots=True)
class WatchStopped:
    """Live updates of an open conversation stopped; `error` is the SDK's exception."""

    conversation_id: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class WatchReconnecting:
    """The open conversation's watch ended with UNAVAILABLE; it starts again after `delay`.

    `attempt` counts the tries since the watch was lost (1 first); `error` is the SDK's
    exception. Its placeholders of replies sampled elsewhere are gone meanwhile.
    """

    conversation_id: str
    error: BaseException
    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class WatchResumed:
    """The open conversation is watched again, after `attempts` tries.

    What was stored meanwhile has joined the forest (as after any start of a watch).
    """

    conversation_id: str
    attempts: int


ServiceEvent = (
    ConversationsListed
    | ConversationOpened
    | ConversationUpdated
    | ConversationDeleted
    | ResponseAdded
    | TokensAppended
    | ResponseCompleted
    | StreamFailed
    | LeafMoved
    | BudgetUpdated
    | QueryPerformed
    | SettingsChanged
    | ReplyElsewhereStarted
    | ReplyElsewhereText
    | ReplyElsewhereEnded
    | DeletedElsewhere
    | WatchStopped
    | WatchReconnecting
    | WatchResumed
)
Listener = Callable[[ServiceEvent], None]
