"""The storage interface of the Chat server.

The servicer talks only to this protocol, so another database can be added later without
touching RPC code. Records are plain frozen dataclasses: the store knows nothing of protobuf.
Every conversation belongs to one user; every method that reads or changes a conversation
takes that user and behaves as if a conversation of another user did not exist. A
conversation shared with other users (`access`, `grant_access`; sharing_records.py) is
reached by asking `access` first and then calling these methods with the owner's id
(server/servicer/access.py); only a user's place (`get_leaf`, `set_leaf`) is keyed by the
caller. The records themselves are declared in `server/store/records.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from grove_explorer.server.store.arena_records import NewVote, VoteRecord
from grove_explorer.server.store.records import (
    AnnotationRecord,
    ApiKeyCheck,
    ApiKeyRecord,
    Checkpoint,
    ConversationRecord,
    ImportItem,
    ImportStream,
    JudgementRecord,
    LeafRecord,
    NewJudgement,
    NewResponse,
    ResponseRecord,
    SearchFilters,
    SearchHitRecord,
    TokenRow,
)
from grove_explorer.server.store.sharing_records import Access, ShareRecord


class StoreError(Exception):
    """A write was refused because it would break the forest's invariants."""


StorageKind = Literal["full", "read_only", "corrupt", "io", "not_database", "damaged"]


class StorageFailure(StoreError):
    """The storage itself failed or cannot be used; the message says what to do.

    `kind` says which: full (no space left, or a size limit), read_only (nothing can be
    saved), corrupt (the file is damaged), io (the disk failed to read or write); at start
    also not_database (the file is something else) and damaged (the start-up check failed).
    The servicer maps each kind to one gRPC status; nothing above the store sees SQLite.
    """

    def __init__(self, kind: StorageKind, message: str) -> None:
        super().__init__(message)
        self.kind: StorageKind = kind
        self.message = message


class UnknownConversationError(StoreError):
    """The conversation does not exist (or belongs to another user)."""


class UnknownParentError(StoreError):
    """The named parent response is not in the conversation."""


class Store(Protocol):
    """Persistent conversation forests, one writer, safe to call from the event loop.

    Implementations must never block the event loop and must serialise writes so that
    concurrent streams on one conversation keep the forest consistent.
    """

    async def open(self) -> None:
        """Opens the database, creating or migrating the schema."""
        ...

    async def close(self) -> None:
        """Flushes pending writes and closes the database."""
        ...

    async def create_conversation(self, user_id: str, title: str = "") -> ConversationRecord:
        """Creates an empty conversation owned by `user_id`."""
        ...

    async def get_conversation(
        self, user_id: str, conversation_id: str
    ) -> ConversationRecord | None:
        """Returns the conversation, or None if missing, deleted or another user's."""
        ...

    async def has_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Whether the conversation exists and is the user's.

        `get_conversation` without the record: its response count costs a pass over them.
        """
        ...

    async def list_conversations(self, user_id: str) -> list[ConversationRecord]:
        """The user's conversations and those shared with them, most recently updated first.

        `user_id` of a record is its owner; `role` the user's ("owner", "writer", "reader").
        """
        ...

    # -- sharing between users (sharing_records.py; the servicer's access.py) ------------

    async def access(self, user_id: str, conversation_id: str) -> Access | None:
        """The conversation's owner and the user's role (one indexed read).

        None when it is missing, or neither theirs nor shared with them. The servicer
        then calls the owner-scoped methods with the owner's id.
        """
        ...

    async def grant_access(
        self, owner_id: str, conversation_id: str, user_id: str, role: str
    ) -> ShareRecord:
        """Shares the owner's conversation with `user_id` as "reader" or "writer".

        Granting again changes the role. Raises ShareRefusedError (a ValueError with a
        sentence) for the owner themselves or another role, UnknownConversationError when
        the conversation is not `owner_id`'s.
        """
        ...

    async def revoke_access(self, owner_id: str, conversation_id: str, user_id: str) -> bool:
        """Ends the share; False when there was none (or the conversation is not theirs)."""
        ...

    async def list_access(self, owner_id: str, conversation_id: str) -> list[ShareRecord]:
        """The users the owner's conversation is shared with, oldest grant first."""
        ...

    async def locate_response(self, response_id: str) -> str | None:
        """The conversation holding a response, whoever owns it (None: no such response).

        Only for a share link, whose id is a response's: the caller checks `access` of
        the conversation before telling anyone anything.
        """
        ...

    async def update_conversation(
        self, user_id: str, conversation_id: str, title: str, starred: bool | None
    ) -> ConversationRecord | None:
        """Sets title and star (None: the star as it is); None if not the user's.

        In one statement: a title generated from a read made before a star was set keeps
        that star (GenerateTitle passes None).
        """
        ...

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        """Deletes the conversation and all its responses; False if not the user's."""
        ...

    async def list_responses(self, user_id: str, conversation_id: str) -> list[ResponseRecord]:
        """Returns every response of the conversation in creation order."""
        ...

    async def get_response(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> ResponseRecord | None:
        """Returns one response of the user's conversation, or None."""
        ...

    async def path_to(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> list[ResponseRecord]:
        """Returns the responses from the root down to `response_id` (inclusive).

        Raises UnknownParentError if the response is not in the conversation.
        """
        ...

    def reserve_start_time(self) -> datetime:
        """A time strictly after every earlier write of this store, for a reply starting now.

        The stream stores it as the reply's `start_time`, which orders siblings (creation
        order is start order, so parallel samples keep their numbers when they finish).
        """
        ...

    async def add_response(
        self,
        user_id: str,
        new: NewResponse,
        *,
        checkpoint_id: str | None = None,
        leaf_follows: str | None = None,
        start_following: bool = False,
    ) -> ResponseRecord:
        """Inserts a response atomically and bumps the conversation's update time.

        `checkpoint_id` names the checkpoint of the stream this reply ends; it is deleted in
        the same transaction, so a crash can never leave both. When the user's place
        follows stream `leaf_follows` (see `set_leaf`), it moves to the new response in
        that transaction. `start_following` first makes the place follow that stream (as
        `set_leaf` of the parent would), in the same transaction: one write for the start
        of a select_reply stream and its human message.
        Raises UnknownConversationError or UnknownParentError; nothing is written then.
        """
        ...

    async def get_leaf(self, user_id: str, conversation_id: str) -> LeafRecord | None:
        """The user's current leaf of the conversation; None if they never chose one."""
        ...

    async def set_leaf(
        self,
        user_id: str,
        conversation_id: str,
        response_id: str | None,
        *,
        follows: str | None = None,
    ) -> bool:
        """Makes `response_id` (None: no leaf) the user's leaf of the conversation.

        `follows` names a stream (by its checkpoint id) whose human message and reply take
        the place as they are stored — also when a crashed stream's checkpoint is
        recovered — until the user selects anything else. False, and nothing changes, if
        the conversation is not the user's or the response is not in it.
        """
        ...

    async def annotate(
        self,
        user_id: str,
        conversation_id: str,
        response_id: str,
        annotation: AnnotationRecord,
        *,
        author: str = "",
    ) -> bool:
        """Sets (or, when empty, removes) the annotation; False if not the user's response.

        `user_id` owns the conversation; the annotation is recorded as `author`'s (a
        writer it is shared with; "": the owner). One per response, seen by all.
        """
        ...

    async def annotations(self, user_id: str, conversation_id: str) -> dict[str, AnnotationRecord]:
        """The annotations of a conversation's responses, by response id."""
        ...

    async def add_judgements(
        self,
        user_id: str,
        conversation_id: str,
        judgements: Sequence[NewJudgement],
        *,
        author: str = "",
    ) -> list[JudgementRecord]:
        """Stores one judge call's judgements as a new batch, all in one transaction.

        `user_id` owns the conversation; the judgements are `author`'s ("": the owner's).

        Raises UnknownConversationError when the conversation is not the user's and
        UnknownParentError when a judged response is not in it; nothing is stored then.
        """
        ...

    async def judgements(
        self, user_id: str, conversation_id: str
    ) -> dict[str, list[JudgementRecord]]:
        """The judgements of a conversation's responses by response id, oldest first.

        Every author's (`user_id` owns the conversation). One read per conversation,
        however many responses it has.
        """
        ...

    async def add_vote(
        self, user_id: str, conversation_id: str, vote: NewVote, *, voter: str = ""
    ) -> VoteRecord:
        """Stores one arena vote (checked by the servicer).

        `user_id` owns the conversation; the vote is `voter`'s ("": the owner's): a
        leaderboard counts the votes its user cast.

        Raises UnknownConversationError when the conversation is not the user's.
        """
        ...

    async def votes(self, user_id: str, conversation_id: str = "") -> list[VoteRecord]:
        """The arena votes the user cast, oldest first: of one conversation, or of all ("").

        Only in conversations the user may still read (theirs or shared with them).
        """
        ...

    async def request_responses(self, user_id: str, request_id: str) -> list[ResponseRecord]:
        """The reply `user_id`'s AddResponse `request_id` stored, after its human message.

        The latest reply, should one id have been used twice. [] while no reply is stored
        under it (a human message alone is not returned).
        Keyed by the caller who made the responses (in a conversation shared with them,
        the owner's rows they authored); the caller checks their access still holds.
        """

    async def request_message(self, user_id: str, request_id: str) -> ResponseRecord | None:
        """The human message `user_id`'s AddResponse `request_id` stored (None: none).

        Stored before its reply; a request without a message (a resample) has none.
        """

    async def response_tokens(
        self, user_id: str, conversation_id: str, response_id: str
    ) -> list[TokenRow] | None:
        """The stored tokens of a response ([] if none); None if not the user's response."""
        ...

    async def responses_tokens(
        self, user_id: str, conversation_id: str, response_ids: Sequence[str]
    ) -> dict[str, list[TokenRow]]:
        """The stored tokens of many responses ([] if none), keyed by id.

        Ids that are not the user's responses in this conversation are left out.
        """
        ...

    async def search(
        self,
        user_id: str,
        match: str | None,
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
    ) -> list[SearchHitRecord]:
        """Best matches first of an FTS5 expression (None: filters alone, newest first).

        `offset` skips that many hits of the same (stable) order, for paging.
        """
        ...

    async def count_search(self, user_id: str, match: str | None, filters: SearchFilters) -> int:
        """How many hits `search` has in all for the expression and filters."""
        ...

    async def import_conversation(
        self,
        user_id: str,
        title: str,
        starred: bool,
        items: Sequence[ImportItem] | ImportStream,
        *,
        create_time: datetime | None = None,
    ) -> ConversationRecord:
        """Creates a conversation holding `items` (parents first) in one transaction.

        Each item is stored at its `create_time` and `response.start_time` when given (an
        import that keeps its file's times), else at the store's clock (one distinct tick
        each, in order). The conversation's create_time is the earliest of `create_time`
        and its responses' create times, its update_time the latest; `create_time` None is
        the store's clock, except when items' times are given: the conversation then
        starts at its earliest response. (Without given times: the clock's, as before.)
        Raises UnknownParentError when an item names a parent not imported before it.
        """
        ...

    async def import_forest(
        self,
        user_id: str,
        title: str,
        starred: bool,
        items: Sequence[ImportItem] | ImportStream,
        *,
        create_time: datetime | None = None,
    ) -> tuple[ConversationRecord, list[ResponseRecord]]:
        """`import_conversation`, also returning the stored responses in creation order.

        They are what `list_responses` would read back, so a reply needs no second read.
        """
        ...

    async def save_checkpoints(self, checkpoints: Sequence[Checkpoint], owner: str = "") -> None:
        """Upserts the current text of running streams, all in one transaction.

        Checkpoints of conversations deleted meanwhile are skipped.
        """
        ...

    async def discard_checkpoint(self, checkpoint_id: str) -> None:
        """Deletes a checkpoint whose stream ended without storing a reply."""
        ...

    async def recover_checkpoints(
        self, is_orphan: Callable[[str, datetime], bool] = ...
    ) -> list[ResponseRecord]:
        """Turns checkpoints of servers that are gone into partial replies; returns them.

        `is_orphan(owner, update_time)` decides which writers are gone, unless the store
        knows better: a PostgreSQL store asks the database which replicas are connected
        (see `announce_owner`).
        """
        ...

    async def announce_owner(self, owner: str) -> None:
        """Says that the server `owner` (server/owners.py) writes checkpoints from now on.

        Lets a store shared by servers on several hosts tell a live writer from a dead one
        without clocks: the PostgreSQL store keeps one connection named after `owner` open
        for as long as it is open, and a replica killed with `kill -9` drops it at once.
        The SQLite store needs nothing (its servers share a host; owners.py asks the OS).
        """
        ...

    async def mark_shared(
        self, user_id: str, conversation_id: str, response_ids: Sequence[str]
    ) -> int:
        """Marks the given responses shared; returns how many rows changed."""
        ...


# -- API keys ----------------------------------------------------------------------------


class DuplicateApiKeyError(StoreError):
    """A key with that hash or key id is stored already (generate another key)."""


@runtime_checkable
class KeyStore(Protocol):
    """Users and their API keys, kept beside the conversations (only hashes are stored).

    Separate from `Store` so that a conversation store without keys still works: the
    server then knows only the keys of its configuration.
    """

    async def create_api_key(
        self, user_id: str, key_hash: str, key_id: str, label: str = ""
    ) -> ApiKeyRecord:
        """Stores a new active key of `user_id` (creating the user if needed).

        Raises DuplicateApiKeyError if the hash or the key id is taken.
        """
        ...

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Returns every key, revoked ones included, oldest first."""
        ...

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Returns the key with that id, or None."""
        ...

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Marks the key revoked (a no-op if it already is); None if no key has that id."""
        ...

    async def check_api_key(self, key_hash: str | None) -> ApiKeyCheck:
        """Looks up one key by hash (None: no key was sent); an indexed, per-call read."""
        ...

    async def check_api_key_and_owner(
        self, key_hash: str | None, conversation_id: str
    ) -> tuple[ApiKeyCheck, str | None]:
        """`check_api_key` and the owner of `conversation_id` (None: no such one), one read."""
        ...

    async def has_active_api_keys(self) -> bool:
        """True when at least one non-revoked key exists."""
        ...
