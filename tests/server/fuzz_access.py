"""The fuzz test's sharing part: grants that succeed, and the access rules checked after.

tests/server/test_fuzz.py draws GrantAccess to the sequence's other user too (as a reader
or a writer), so later steps of that user act on a conversation shared with them — reads,
writes, owner-only calls refused with PERMISSION_DENIED. What each grant and revocation
did is noted (`Grants`); after each sequence the tables and the RPCs must agree with the
shares the database holds:

* rows: a response stays in its owner's forest and names a writer as its author; a vote,
  an annotation or a judgement is the owner's or a writer's; a place (leaf) the owner's
  or a grantee's; a share never names the owner, and has a role;
* RPCs: a grantee reads the conversation with their role, a reader's write and a
  writer's owner-only call are PERMISSION_DENIED, a user without a share gets NOT_FOUND;
  the owner's ListAccess lists the shares; ListConversations and Search show the caller's
  own conversations and those shared with them, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2

from grove_explorer.protos import chat_pb2

ROLE_NAMES = {chat_pb2.SHARE_ROLE_READER: "reader", chat_pb2.SHARE_ROLE_WRITER: "writer"}
WIRE_ROLES = {name: wire for wire, name in ROLE_NAMES.items()}
WIRE_ROLES["owner"] = chat_pb2.SHARE_ROLE_OWNER


@dataclass
class Grants:
    """Shares as the sequence's replies said (current) and every writer and grantee ever.

    `current` is exact between steps: only the owner grants and revokes, one step at a
    time, and deleting a conversation deletes its shares. `writers` and `grantees` last
    across sequences (the database does): a revoked writer's replies, votes and marks
    stay, and so does a revoked grantee's place.
    """

    current: dict[str, dict[str, str]] = field(default_factory=dict)  # cid -> user -> role
    writers: dict[str, set[str]] = field(default_factory=dict)  # cid -> users
    grantees: dict[str, set[str]] = field(default_factory=dict)  # cid -> users
    roles: set[str] = field(default_factory=set)  # the roles granted at least once

    def shared_with(self, user: str) -> list[str]:
        """The conversations shared with `user` now, in grant order."""
        return [cid for cid, users in self.current.items() if user in users]

    def note(self, kind: str, request: Any, reply: Any) -> None:
        """Takes what a successful GrantAccess, RevokeAccess or DeleteConversation did."""
        if kind == "GrantAccess":
            role = ROLE_NAMES[reply.role]
            self.roles.add(role)
            self.current.setdefault(reply.conversation_id, {})[reply.user_id] = role
            self.grantees.setdefault(reply.conversation_id, set()).add(reply.user_id)
            if role == "writer":
                self.writers.setdefault(reply.conversation_id, set()).add(reply.user_id)
        elif kind == "RevokeAccess" and reply.revoked:
            self.current.get(request.conversation_id, {}).pop(request.user_id, None)
        elif kind == "DeleteConversation":
            self.current.pop(request.conversation_id, None)


def check_access_rows(tables: dict[str, Any], grants: Grants) -> None:
    """The rows a share allows: who may own which row of a conversation (see the module)."""
    owners = {c["conversation_id"]: c["user_id"] for c in tables["conversations"]}
    by_id = {r["response_id"]: r for r in tables["responses"]}
    held = {(s["conversation_id"], s["user_id"]): s["role"] for s in tables["shares"]}
    assert {cid: users for cid, users in _by_conversation(held).items()} == {
        cid: users for cid, users in grants.current.items() if users
    }, "the shares are what the grants and revocations said"
    for (cid, user), role in held.items():
        assert user != owners[cid], "a conversation is never shared with its owner"
        assert role in ("reader", "writer")

    def writer_or_owner(cid: str, user: str, what: str) -> None:
        assert user == owners[cid] or user in grants.writers.get(cid, set()), (
            f"{what} by {user}, neither the owner nor ever a writer of {cid}"
        )

    for response in tables["responses"]:
        cid = response["conversation_id"]
        assert response["author"] != owners[cid], "the owner's responses have no author"
        if response["author"]:
            writer_or_owner(cid, response["author"], "a response")
    for vote in tables["votes"]:
        writer_or_owner(vote["conversation_id"], vote["user_id"], "a vote")
    for judgement in tables["judgements"]:
        writer_or_owner(judgement["conversation_id"], judgement["user_id"], "a judgement")
    for annotation in tables["annotations"]:
        cid = by_id[annotation["response_id"]]["conversation_id"]
        writer_or_owner(cid, annotation["user_id"], "an annotation")
    for leaf in tables["leaves"]:
        cid = leaf["conversation_id"]
        assert leaf["user_id"] == owners[cid] or leaf["user_id"] in grants.grantees.get(
            cid, set()
        ), "a place is the owner's or a grantee's"


def _by_conversation(held: dict[tuple[str, str], str]) -> dict[str, dict[str, str]]:
    grouped: dict[str, dict[str, str]] = {}
    for (cid, user), role in held.items():
        grouped.setdefault(cid, {})[user] = role
    return grouped


def readable(tables: dict[str, Any], user: str) -> set[str]:
    """The conversations `user` may read: theirs and those shared with them (the tables)."""
    own = {c["conversation_id"] for c in tables["conversations"] if c["user_id"] == user}
    return own | {s["conversation_id"] for s in tables["shares"] if s["user_id"] == user}


def role_of(tables: dict[str, Any], cid: str, user: str) -> str | None:
    """`user`'s role in `cid` by the tables: "owner", "reader", "writer" or None."""
    for conversation in tables["conversations"]:
        if conversation["conversation_id"] == cid and conversation["user_id"] == user:
            return "owner"
    for share in tables["shares"]:
        if share["conversation_id"] == cid and share["user_id"] == user:
            return str(share["role"])
    return None


async def _refusal(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        assert (error.details() or "").strip(), "a refusal says why"
        return error.code()
    raise AssertionError("the call was not refused")


async def probe_roles(stub: Any, cid: str, role: str, some_response: str | None) -> None:
    """A grantee's reads pass and what their role does not allow is refused, unchanged.

    Called for a conversation shared with the stub's user as `role`; the refused calls
    store nothing (check_store compares the tables before and after).
    """
    view = await stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    assert view.role == WIRE_ROLES[role]
    assert view.owner_user_id and view.caller_user_id != view.owner_user_id
    denied = grpc.StatusCode.PERMISSION_DENIED
    owner_only = stub.UpdateConversation(
        chat_pb2.UpdateConversationRequest(conversation_id=cid, title="taken over")
    )
    assert await _refusal(owner_only) == denied, "an owner-only call by a grantee"
    listing = stub.ListAccess(chat_pb2.ListAccessRequest(conversation_id=cid))
    assert await _refusal(listing) == denied
    if role == "reader":
        write = stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(conversation_id=cid, message="a reader writes")
        )
        assert await _refusal(write) == denied, "a reader's write"
        if some_response is not None:
            mark = stub.AnnotateResponse(
                chat_pb2.AnnotateResponseRequest(
                    conversation_id=cid,
                    response_id=some_response,
                    annotation=chat_pb2.Annotation(note="a reader's note"),
                )
            )
            assert await _refusal(mark) == denied, "a reader's annotation"


async def writer_writes(stub: Any, owner: Any, cid: str, user: str) -> None:
    """A writer adds a reply by hand; the owner marks it, then the writer: all theirs.

    Run at the end of a sequence for every writer, so the rows the checks then read hold
    a writer's response and an annotation the writer took over from the owner (whose
    index rows must follow) whatever the random steps did.
    """
    reply = await stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(conversation_id=cid, message=f"{user}, by hand")
    )
    assert reply.author_user_id == user, "a writer's response is theirs"
    for who, tags in ((owner, ["owners"]), (stub, ["owners", "writers"])):
        await who.AnnotateResponse(
            chat_pb2.AnnotateResponseRequest(
                conversation_id=cid,
                response_id=reply.response_id,
                annotation=chat_pb2.Annotation(tags=tags, note=f"{user}'s reply"),
            )
        )


async def probe_listing(stub: Any, user: str, tables: dict[str, Any]) -> None:
    """ListConversations and Search show what `user` may read, with their roles.

    The listing is newest first, its own and shared ones alike.
    """
    listing = await stub.ListConversations(empty_pb2.Empty())
    may_read = readable(tables, user)
    rows = [c for c in tables["conversations"] if c["conversation_id"] in may_read]
    newest_first = sorted(rows, key=lambda c: c["update_time"], reverse=True)
    assert [c.conversation_id for c in listing.conversations] == [
        c["conversation_id"] for c in newest_first
    ]
    for listed in listing.conversations:
        role = role_of(tables, listed.conversation_id, user)
        assert role is not None and listed.role == WIRE_ROLES[role], (listed, role)
    for query in ("sender:human", "sender:model"):
        hits = await stub.Search(chat_pb2.SearchRequest(query=query, limit=500))
        assert {hit.conversation_id for hit in hits.hits} <= may_read, query
