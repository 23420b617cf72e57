"""Bad input, row by row: each request gets its exact status and a sentence, and stores nothing.

One server (module-scoped, a small message limit so oversized messages stay cheap) holds
three conversations: A (a human message, its model reply, annotated, and a manual reply),
B (one root) and D (deleted). Every row sends one bad request and checks the status code,
the sentence (a regex), and that every row of `conversations`, `responses`, `checkpoints`,
`annotations`, `response_tokens` and `search_rows` in the server's SQLite file is exactly
what it was before.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf.message import Message

from grove_explorer.client import Client, InvalidArgumentError, ResourceExhaustedError
from grove_explorer.client.import_call import request_chunks
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.helpers import collect

SERVICE = chat_pb2.DESCRIPTOR.services_by_name["Chat"]
MAX_MESSAGE_BYTES = 1000
MAX_TITLE_CHARS = 500
# Bound on any sentence: a huge id or name must not flood the reply.
MAX_DETAILS_CHARS = 400

module_loop = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class World:
    """The module's server and the ids the rows aim at."""

    server: GroveServer
    stub: chat_pb2_grpc.ChatStub
    channel: grpc.aio.Channel
    a: str  # conversation A
    a_human: str
    a_model: str
    a_manual: str
    b: str  # conversation B
    b_root: str
    deleted: str  # conversation D, deleted
    deleted_response: str  # a response D had


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the forest's tables, in a stable order."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in (
                "conversations",
                "responses",
                "checkpoints",
                "annotations",
                "leaves",
                "arena_votes",
                "response_tokens",
                "search_rows",
            )
        }


async def read_snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    return await asyncio.to_thread(snapshot, world.server.config.db)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("bad-input")
    config = ServerConfig(
        port=0,
        db=folder / "grove.sqlite3",
        max_message_bytes=MAX_MESSAGE_BYTES,
        # gRPC's own limit just above 4 x the message limit, as on a server configured so.
        max_request_bytes=4 * MAX_MESSAGE_BYTES + 64 * 1024,
        max_title_chars=MAX_TITLE_CHARS,
        # Streams run until stopped (max_tokens caps the setup's), paced so a row can
        # catch one running; no periodic checkpoint may write during a row.
        token_delay_ms=5.0,
        offline_min_reply_tokens=4096,
        checkpoint_interval_ms=600_000.0,
    )
    server = GroveServer(config)
    await server.start()
    channel = grpc.aio.insecure_channel(server.address)
    stub = chat_pb2_grpc.ChatStub(channel)
    try:
        a = (await stub.CreateConversation(chat_pb2.CreateConversationRequest())).conversation_id
        request = chat_pb2.AddResponseRequest(conversation_id=a, message="hello")
        request.sampling_params.max_tokens = 2
        streamed = [m async for m in stub.AddResponse(request)]
        a_human = streamed[0].user_response.response_id
        a_model = streamed[-1].model_response.response_id
        a_manual = (
            await stub.AddModelResponse(
                chat_pb2.AddModelResponseRequest(
                    conversation_id=a, message="by hand", parent_response_id=a_human
                )
            )
        ).response_id
        b = (await stub.CreateConversation(chat_pb2.CreateConversationRequest())).conversation_id
        b_root = (
            await stub.AddModelResponse(
                chat_pb2.AddModelResponseRequest(conversation_id=b, message="b's root")
            )
        ).response_id
        await stub.AnnotateResponse(
            chat_pb2.AnnotateResponseRequest(
                conversation_id=a,
                response_id=a_model,
                annotation=chat_pb2.Annotation(tags=["kept"], note="a note", rating=1),
            )
        )
        d = (await stub.CreateConversation(chat_pb2.CreateConversationRequest())).conversation_id
        d_root = (
            await stub.AddModelResponse(
                chat_pb2.AddModelResponseRequest(conversation_id=d, message="soon gone")
            )
        ).response_id
        await stub.DeleteConversation(chat_pb2.DeleteConversationRequest(conversation_id=d))
        yield World(server, stub, channel, a, a_human, a_model, a_manual, b, b_root, d, d_root)
    finally:
        await channel.close()
        await server.stop()


# -- the table ---------------------------------------------------------------------------------

Build = Callable[[World], "Message | bytes"]


@dataclass(frozen=True)
class Case:
    rpc: str
    build: Build
    code: grpc.StatusCode
    # A regex the whole sentence must match; a callable gets the world (to name its ids).
    pattern: str | Callable[[World], str]
    # While the row runs, a stream with this request_id ("": none) samples in conversation A.
    running_request_id: str | None = None


Q = r"""(?:'[^'\n]*'|"[^"\n]*")"""  # a value quoted by repr(), maybe cut short with "…"
SENTENCE = re.compile(r"[A-Za-z][^\n]{10,}[.]")
CID_REQUIRED = r"conversation_id is required\."
CID_MALFORMED = rf"conversation_id {Q} is not a Grove id \(32 hexadecimal digits\)\."
RID_MALFORMED = rf"response id {Q} is not a Grove id \(32 hexadecimal digits\)\."
DECODE = r"The request could not be decoded \(.+\); text fields must be valid UTF-8\."


def gone(w: World) -> str:
    return rf"Conversation '{w.deleted}' does not exist \(or was deleted\)\."


def not_in(response: Callable[[World], str], conversation: Callable[[World], str]):
    def pattern(w: World) -> str:
        return rf"Response '{response(w)}' is not in conversation '{conversation(w)}'\."

    return pattern


INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def request_for(rpc: str, cid: str, w: World, **fields: Any) -> Message:
    """A request of `rpc` on conversation `cid` that would be valid but for `fields`."""
    defaults: dict[str, dict[str, Any]] = {
        "GetConversation": {},
        "UpdateConversation": {"title": "t", "starred": True},
        "DeleteConversation": {},
        "GenerateTitle": {"leaf_response_id": ""},
        "AddResponse": {"message": "hi"},
        "AddModelResponse": {"message": "hi"},
        "ShareConversation": {"response_id": w.a_model},
        "AnnotateResponse": {
            "response_id": w.a_model,
            "annotation": chat_pb2.Annotation(bookmarked=True, tags=["ok"]),
        },
        "GetResponseTokens": {"response_id": w.a_model},
        "GetResponsesTokens": {"response_ids": [w.a_model, w.a_human]},
        "SelectResponse": {"response_id": w.a_model},
        "JudgeResponses": {"response_ids": [w.a_model]},
        "ExtractPoints": {"response_ids": [w.a_model]},
        "RecordVote": {
            "parent_response_id": w.a_human,
            "response_a": w.a_model,
            "response_b": w.a_manual,
            "setup_a": chat_pb2.ArenaSetup(model_name="m1"),
            "setup_b": chat_pb2.ArenaSetup(model_name="m2"),
            "outcome": chat_pb2.ARENA_OUTCOME_A,
        },
        "ListVotes": {},
        "WatchConversation": {},
        "GrantAccess": {"user_id": "bob", "role": chat_pb2.SHARE_ROLE_READER},
        "RevokeAccess": {"user_id": "bob"},
        "ListAccess": {},
    }
    request_class = {
        "GetConversation": chat_pb2.GetConversationRequest,
        "UpdateConversation": chat_pb2.UpdateConversationRequest,
        "DeleteConversation": chat_pb2.DeleteConversationRequest,
        "GenerateTitle": chat_pb2.GenerateTitleRequest,
        "AddResponse": chat_pb2.AddResponseRequest,
        "AddModelResponse": chat_pb2.AddModelResponseRequest,
        "ShareConversation": chat_pb2.ShareConversationRequest,
        "AnnotateResponse": chat_pb2.AnnotateResponseRequest,
        "GetResponseTokens": chat_pb2.GetResponseTokensRequest,
        "GetResponsesTokens": chat_pb2.GetResponsesTokensRequest,
        "SelectResponse": chat_pb2.SelectResponseRequest,
        "JudgeResponses": chat_pb2.JudgeResponsesRequest,
        "ExtractPoints": chat_pb2.ExtractPointsRequest,
        "RecordVote": chat_pb2.RecordVoteRequest,
        "ListVotes": chat_pb2.ListVotesRequest,
        "WatchConversation": chat_pb2.WatchConversationRequest,
        "GrantAccess": chat_pb2.GrantAccessRequest,
        "RevokeAccess": chat_pb2.RevokeAccessRequest,
        "ListAccess": chat_pb2.ListAccessRequest,
    }[rpc]
    values = {**defaults[rpc], **fields}
    return request_class(conversation_id=cid, **values)


CONVERSATION_RPCS = [
    "GetConversation",
    "UpdateConversation",
    "DeleteConversation",
    "GenerateTitle",
    "AddResponse",
    "AddModelResponse",
    "ShareConversation",
    "AnnotateResponse",
    "GetResponseTokens",
    "GetResponsesTokens",
    "SelectResponse",
    "JudgeResponses",
    "ExtractPoints",
    "RecordVote",
    "WatchConversation",
    "GrantAccess",
    "RevokeAccess",
    "ListAccess",
]
MALFORMED_IDS = {
    "too-short": "abc123",
    "too-long": "a" * 33,
    "huge": "f" * 20_000,
    "uppercase": "ABCDEF0123456789ABCDEF0123456789",
    "non-hex": "g" * 32,
    "dashed-uuid": str(uuid.UUID(int=7)),
    "sql": "' OR 1=1 --",
    "sql-drop": "0'; DROP TABLE conversations; --",
    "nul": "0" * 31 + "\x00",
    "padded": " " + "0" * 31,
    "non-ascii": "ä" * 32,
}

ROWS: list[Any] = []


def row(case_id: str, case: Case) -> None:
    ROWS.append(pytest.param(case, id=case_id))


# Malformed and missing conversation ids, on every RPC that takes one.
for rpc in CONVERSATION_RPCS:
    row(
        f"{rpc}-empty-conversation-id",
        Case(rpc, lambda w, rpc=rpc: request_for(rpc, "", w), INVALID, CID_REQUIRED),
    )
    for kind, bad in MALFORMED_IDS.items():
        row(
            f"{rpc}-conversation-id-{kind}",
            Case(rpc, lambda w, rpc=rpc, bad=bad: request_for(rpc, bad, w), INVALID, CID_MALFORMED),
        )
    # Deleted conversation reuse: a conversation that existed is as missing as any.
    row(
        f"{rpc}-deleted-conversation",
        Case(rpc, lambda w, rpc=rpc: request_for(rpc, w.deleted, w), NOT_FOUND, gone),
    )

# The deleted conversation, named together with the response it had.
row(
    "AddResponse-deleted-conversation-with-its-old-parent",
    Case(
        "AddResponse",
        lambda w: request_for(
            "AddResponse", w.deleted, w, message="", parent_response_id=w.deleted_response
        ),
        NOT_FOUND,
        gone,
    ),
)
row(
    "ShareConversation-deleted-conversation-with-its-old-response",
    Case(
        "ShareConversation",
        lambda w: request_for("ShareConversation", w.deleted, w, response_id=w.deleted_response),
        NOT_FOUND,
        gone,
    ),
)

# Malformed response ids, in every field that names one.
RESPONSE_FIELDS = {
    "AddResponse": "parent_response_id",
    "AddModelResponse": "parent_response_id",
    "GenerateTitle": "leaf_response_id",
    "ShareConversation": "response_id",
    "AnnotateResponse": "response_id",
    "GetResponseTokens": "response_id",
    "SelectResponse": "response_id",
}
for rpc, field_name in RESPONSE_FIELDS.items():
    for kind, bad in MALFORMED_IDS.items():
        row(
            f"{rpc}-{field_name}-{kind}",
            Case(
                rpc,
                lambda w, rpc=rpc, f=field_name, bad=bad: request_for(rpc, w.a, w, **{f: bad}),
                INVALID,
                RID_MALFORMED,
            ),
        )

# A response of another conversation (B names A's), and responses that do not exist (yet):
# every parent must already be a response of the same conversation, and a response's id is
# drawn by the server when it is stored, so no request can make a response its own
# ancestor (see also test_no_request_can_name_or_reparent_a_response).
FOREIGN = {
    "other-conversation": lambda w: w.a_human,
    "other-conversations-model-reply": lambda w: w.a_model,
    "not-yet-existing": lambda w: "0123456789abcdef" * 2,
    "deleted-conversations-response": lambda w: w.deleted_response,
}
for rpc, field_name in RESPONSE_FIELDS.items():
    messages = ["hi", ""] if rpc == "AddResponse" else [None]
    for kind, pick in FOREIGN.items():
        for message in messages:
            extra = {} if message is None else {"message": message}
            suffix = "" if message is None else ("-sample-only" if not message else "-with-message")
            row(
                f"{rpc}-{field_name}-{kind}{suffix}",
                Case(
                    rpc,
                    lambda w, rpc=rpc, f=field_name, pick=pick, extra=extra: request_for(
                        rpc, w.b, w, **{f: pick(w)}, **extra
                    ),
                    INVALID,
                    not_in(pick, lambda w: w.b),
                ),
            )

# A replayed turn names the original it replays (replay_of_human / replay_of_reply): a
# response of the same conversation, of the new response's sender; a copied human message
# needs the message. Nothing is stored when one is wrong.
REPLAY_FIELDS = {"replay_of_human": "hi", "replay_of_reply": ""}
for field_name, message in REPLAY_FIELDS.items():
    for kind, bad in MALFORMED_IDS.items():
        row(
            f"AddResponse-{field_name}-{kind}",
            Case(
                "AddResponse",
                lambda w, f=field_name, m=message, bad=bad: request_for(
                    "AddResponse", w.a, w, message=m, parent_response_id=w.a_model, **{f: bad}
                ),
                INVALID,
                rf"{field_name} {Q} is not a Grove id \(32 hexadecimal digits\)\.",
            ),
        )
    for kind, pick in FOREIGN.items():
        row(
            f"AddResponse-{field_name}-{kind}",
            Case(
                "AddResponse",
                lambda w, f=field_name, m=message, pick=pick: request_for(
                    "AddResponse", w.b, w, message=m, parent_response_id=w.b_root, **{f: pick(w)}
                ),
                INVALID,
                lambda w, f=field_name, pick=pick: (
                    rf"{f} '{pick(w)}' is not a response of conversation '{w.b}'\."
                ),
            ),
        )
row(
    "AddResponse-replay_of_human-names-a-model-reply",
    Case(
        "AddResponse",
        lambda w: request_for(
            "AddResponse", w.a, w, parent_response_id=w.a_model, replay_of_human=w.a_model
        ),
        INVALID,
        lambda w: (
            rf"replay_of_human '{w.a_model}' is a model response; it must be a human message\."
        ),
    ),
)
row(
    "AddResponse-replay_of_reply-names-a-human-message",
    Case(
        "AddResponse",
        lambda w: request_for(
            "AddResponse", w.a, w, parent_response_id=w.a_model, replay_of_reply=w.a_human
        ),
        INVALID,
        lambda w: rf"replay_of_reply '{w.a_human}' is a human response; it must be a model reply\.",
    ),
)
row(
    "AddResponse-replay_of_human-without-a-message",
    Case(
        "AddResponse",
        lambda w: request_for(
            "AddResponse",
            w.a,
            w,
            message="",
            parent_response_id=w.a_model,
            replay_of_human=w.a_human,
        ),
        INVALID,
        r"replay_of_human names the message a new human message copies, but the request has "
        r"no message\.",
    ),
)

# GetResponsesTokens names many responses: one bad id among good ones fails the call,
# and the sentence names it.
for kind, bad in MALFORMED_IDS.items():
    row(
        f"GetResponsesTokens-response_ids-{kind}",
        Case(
            "GetResponsesTokens",
            lambda w, bad=bad: request_for(
                "GetResponsesTokens", w.a, w, response_ids=[w.a_model, bad]
            ),
            INVALID,
            RID_MALFORMED,
        ),
    )
for kind, pick in FOREIGN.items():
    row(
        f"GetResponsesTokens-response_ids-{kind}",
        Case(
            "GetResponsesTokens",
            lambda w, pick=pick: request_for(
                "GetResponsesTokens", w.b, w, response_ids=[w.b_root, pick(w)]
            ),
            INVALID,
            not_in(pick, lambda w: w.b),
        ),
    )

# Sharing between users: who to share with, as what, and share links.
for rpc, fields, pattern in (
    ("GrantAccess", {"user_id": ""}, r"user_id is required: name the user\."),
    ("GrantAccess", {"user_id": " bob"}, rf"user_id {Q} is not a user name of this server\."),
    ("GrantAccess", {"user_id": "b" * 500}, rf"user_id {Q} is not a user name of this server\."),
    ("GrantAccess", {"role": chat_pb2.SHARE_ROLE_UNSPECIFIED}, r"role is required: .+\."),
    ("GrantAccess", {"role": chat_pb2.SHARE_ROLE_OWNER}, r"role is required: .+\."),
    ("GrantAccess", {"user_id": "nobody"}, rf"No user {Q} holds a key on this server; .+\."),
    ("RevokeAccess", {"user_id": ""}, r"user_id is required: name the user\."),
):
    row(
        f"{rpc}-{'-'.join(f'{k}={v!s:.12}' for k, v in fields.items())}",
        Case(rpc, lambda w, rpc=rpc, f=fields: request_for(rpc, w.a, w, **f), INVALID, pattern),
    )
for name, link in (
    ("empty", ""),
    ("blank", "   "),
    ("no-id", "grove://share/conversations/"),
    ("short-id", "https://grove.example/c/abc123"),
    ("huge", "x" * 20_000),
):
    row(
        f"ResolveShareLink-{name}",
        Case(
            "ResolveShareLink",
            lambda w, link=link: chat_pb2.ResolveShareLinkRequest(link=link),
            INVALID,
            r"link is required\." if not link.strip() else rf"Link {Q} is not a share link: .+\.",
        ),
    )
row(
    "ResolveShareLink-deleted-conversation",
    Case(
        "ResolveShareLink",
        lambda w: chat_pb2.ResolveShareLinkRequest(link=w.deleted),
        NOT_FOUND,
        r"No conversation you can read is named by that link\.",
    ),
)

# Arena votes (RecordVote checks, ListVotes' optional conversation).
for kind, bad in MALFORMED_IDS.items():
    row(
        f"ListVotes-conversation-id-{kind}",
        Case(
            "ListVotes", lambda w, bad=bad: request_for("ListVotes", bad, w), INVALID, CID_MALFORMED
        ),
    )
    for vote_field in ("parent_response_id", "response_a", "response_b"):
        row(
            f"RecordVote-{vote_field}-{kind}",
            Case(
                "RecordVote",
                lambda w, f=vote_field, bad=bad: request_for("RecordVote", w.a, w, **{f: bad}),
                INVALID,
                rf"{vote_field} {Q} is not a Grove id \(32 hexadecimal digits\)\.",
            ),
        )
row(
    "ListVotes-deleted-conversation",
    Case("ListVotes", lambda w: request_for("ListVotes", w.deleted, w), NOT_FOUND, gone),
)
for vote_field in ("parent_response_id", "response_a", "response_b"):
    row(
        f"RecordVote-{vote_field}-empty",
        Case(
            "RecordVote",
            lambda w, f=vote_field: request_for("RecordVote", w.a, w, **{f: ""}),
            INVALID,
            rf"{vote_field} is required\.",
        ),
    )
ARENA_ROWS: dict[str, tuple[Callable[[World], Message], str | Callable[[World], str]]] = {
    "outcome-unspecified": (
        lambda w: request_for("RecordVote", w.a, w, outcome=chat_pb2.ARENA_OUTCOME_UNSPECIFIED),
        r"outcome is required: A, B, TIE or BOTH_BAD \(ArenaOutcome\)\.",
    ),
    "same-reply-twice": (
        lambda w: request_for("RecordVote", w.a, w, response_b=w.a_model),
        rf"response_a and response_b are the same reply {Q}; a vote compares two different "
        r"replies\.",
    ),
    "human-reply": (
        lambda w: request_for("RecordVote", w.a, w, response_b=w.a_human),
        rf"Reply B {Q} is a human message; a vote compares two model replies\.",
    ),
    "not-a-child": (
        lambda w: request_for("RecordVote", w.a, w, parent_response_id=w.a_model),
        rf"Reply A {Q} is not a child of {Q}; both replies of a vote answer its parent\.",
    ),
    "other-conversations-reply": (
        lambda w: request_for(
            "RecordVote", w.b, w, parent_response_id=w.b_root, response_a=w.a_model
        ),
        not_in(lambda w: w.a_model, lambda w: w.b),
    ),
    "setup-without-name": (
        lambda w: request_for("RecordVote", w.a, w, setup_b=chat_pb2.ArenaSetup()),
        r"setup_b names no model and no label: a vote must say what sampled each reply\.",
    ),
    "setup-label-too-long": (
        lambda w: request_for("RecordVote", w.a, w, setup_a=chat_pb2.ArenaSetup(label="x" * 201)),
        r"setup_a\.label has 201 characters; at most 200\.",
    ),
    "setup-temperature-nan": (
        lambda w: request_for(
            "RecordVote",
            w.a,
            w,
            setup_a=chat_pb2.ArenaSetup(
                model_name="m", sampling_params={"temperature": float("nan")}
            ),
        ),
        r"setup_a\.sampling_params\.temperature is not a finite number\.",
    ),
}
for kind, (build, pattern) in ARENA_ROWS.items():
    row(f"RecordVote-{kind}", Case("RecordVote", build, INVALID, pattern))

# Messages.
MESSAGE_CASES = {
    "whitespace": (
        " \n\t \r ",
        r"The message is only whitespace; send text, or an empty message to sample a model "
        r"reply alone\.",
    ),
    "unicode-whitespace": (
        "\u3000\u00a0\u2003\n",
        r"The message is only whitespace; send text, or an empty message to sample a model "
        r"reply alone\.",
    ),
    "over-limit": (
        "x" * (MAX_MESSAGE_BYTES + 1),
        rf"The message is {MAX_MESSAGE_BYTES + 1} bytes; the limit is {MAX_MESSAGE_BYTES} "
        r"bytes\.",
    ),
    # The limit is in UTF-8 bytes, not characters: 501 times "é" is 1002 bytes.
    "over-limit-multibyte": (
        "é" * (MAX_MESSAGE_BYTES // 2 + 1),
        rf"The message is {MAX_MESSAGE_BYTES + 2} bytes; the limit is {MAX_MESSAGE_BYTES} "
        r"bytes\.",
    ),
    "nul": (
        "hello\x00world",
        r"The message contains a NUL character at position 5; Grove stores text, not binary "
        r"data\.",
    ),
    "only-nul": (
        "\x00",
        r"The message contains a NUL character at position 0; Grove stores text, not binary "
        r"data\.",
    ),
}
for rpc in ("AddResponse", "AddModelResponse"):
    for kind, (message, pattern) in MESSAGE_CASES.items():
        row(
            f"{rpc}-message-{kind}",
            Case(
                rpc,
                lambda w, rpc=rpc, m=message: request_for(
                    rpc, w.a, w, message=m, parent_response_id=w.a_model
                ),
                INVALID,
                pattern,
            ),
        )
row(
    "AddModelResponse-message-empty",
    Case(
        "AddModelResponse",
        lambda w: request_for("AddModelResponse", w.a, w, message=""),
        INVALID,
        r"The message is empty\.",
    ),
)
row(
    "AddModelResponse-message-empty-partial",
    Case(
        "AddModelResponse",
        lambda w: request_for(
            "AddModelResponse", w.a, w, message="", partial=True, parent_response_id=w.a_human
        ),
        INVALID,
        r"The message is empty\.",
    ),
)

# Titles.
row(
    "UpdateConversation-title-nul",
    Case(
        "UpdateConversation",
        lambda w: request_for("UpdateConversation", w.a, w, title="a\x00b"),
        INVALID,
        r"The title contains a NUL character\.",
    ),
)
row(
    "UpdateConversation-title-over-long",
    Case(
        "UpdateConversation",
        lambda w: request_for("UpdateConversation", w.a, w, title="t" * (MAX_TITLE_CHARS + 1)),
        INVALID,
        rf"The title is {MAX_TITLE_CHARS + 1} characters long; the limit is {MAX_TITLE_CHARS}\.",
    ),
)
row(
    "UpdateConversation-title-huge",
    Case(
        "UpdateConversation",
        lambda w: request_for("UpdateConversation", w.a, w, title="t" * 20_000),
        INVALID,
        rf"The title is 20000 characters long; the limit is {MAX_TITLE_CHARS}\.",
    ),
)

# Sharing needs a response to share up to.
row(
    "ShareConversation-without-response-id",
    Case(
        "ShareConversation",
        lambda w: request_for("ShareConversation", w.a, w, response_id=""),
        INVALID,
        r"response_id is required: name the response up to which to share\.",
    ),
)

# Unknown model and system prompt.
UNKNOWN_MODEL = r"Unknown model {}; this server has: grove-offline-ngram\."
UNKNOWN_PROMPT = r"Unknown system prompt {}; known: '', 'fun'\."
for kind, name, shown in (
    ("typo", "gpt-9", r"'gpt-9'"),
    ("case", "GROVE-OFFLINE-NGRAM", r"'GROVE-OFFLINE-NGRAM'"),
    ("nul", "grove\x00", r"'grove\\x00'"),
    ("huge", "m" * 20_000, r"'m{40}…'"),
):
    row(
        f"AddResponse-unknown-model-{kind}",
        Case(
            "AddResponse",
            lambda w, name=name: request_for("AddResponse", w.a, w, model_name=name),
            INVALID,
            UNKNOWN_MODEL.format(shown),
        ),
    )
for kind, name, shown in (
    ("typo", "evil", r"'evil'"),
    ("space", " ", r"' '"),
    ("huge", "p" * 20_000, r"'p{40}…'"),
):
    for use_grok in (True, False):
        row(
            f"AddResponse-unknown-system-prompt-{kind}-use_grok-{use_grok}",
            Case(
                "AddResponse",
                lambda w, name=name, use_grok=use_grok: request_for(
                    "AddResponse", w.a, w, system_prompt_name=name, use_grok=use_grok
                ),
                INVALID,
                UNKNOWN_PROMPT.format(shown),
            ),
        )

# Absurd sampling parameters (and top_logprobs).
NAN, INF = float("nan"), float("inf")
SAMPLING_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("temperature", {"temperature": -1.0}, r"temperature must be between 0 and 2, got -1\.0\."),
    ("temperature", {"temperature": NAN}, r"temperature must be between 0 and 2, got nan\."),
    ("temperature", {"temperature": INF}, r"temperature must be between 0 and 2, got inf\."),
    ("temperature", {"temperature": -INF}, r"temperature must be between 0 and 2, got -inf\."),
    (
        "temperature",
        {"temperature": 1e9},
        r"temperature must be between 0 and 2, got 1000000000\.0\.",
    ),
    ("top_p", {"top_p": 0.0}, r"top_p must be greater than 0 and at most 1, got 0\.0\."),
    ("top_p", {"top_p": 1.5}, r"top_p must be greater than 0 and at most 1, got 1\.5\."),
    ("top_p", {"top_p": -0.5}, r"top_p must be greater than 0 and at most 1, got -0\.5\."),
    ("top_p", {"top_p": NAN}, r"top_p must be greater than 0 and at most 1, got nan\."),
    ("max_tokens", {"max_tokens": 0}, r"max_tokens must be between 1 and 4096, got 0\."),
    ("max_tokens", {"max_tokens": -5}, r"max_tokens must be between 1 and 4096, got -5\."),
    (
        "max_tokens",
        {"max_tokens": 10**9},
        r"max_tokens must be between 1 and 4096, got 1000000000\.",
    ),
    (
        "max_tokens",
        {"max_tokens": -(2**31)},
        r"max_tokens must be between 1 and 4096, got -2147483648\.",
    ),
    (
        "seed",
        {"seed": 2**64 - 1},
        r"seed must be between 0 and 9223372036854775807, got 18446744073709551615\.",
    ),
]


def sampling_request(w: World, params: dict[str, Any], message: str) -> Message:
    request = request_for("AddResponse", w.a, w, message=message, parent_response_id=w.a_model)
    for name, value in params.items():
        setattr(request.sampling_params, name, value)
    return request


for index, (name, params, pattern) in enumerate(SAMPLING_CASES):
    value = next(iter(params.values()))
    for message in ("hi", ""):
        row(
            f"AddResponse-{name}-{value}-{'with-message' if message else 'sample-only'}-{index}",
            Case(
                "AddResponse",
                lambda w, params=params, message=message: sampling_request(w, params, message),
                INVALID,
                pattern,
            ),
        )
for message in ("hi", ""):
    row(
        f"AddResponse-top_logprobs-negative-{'with-message' if message else 'sample-only'}",
        Case(
            "AddResponse",
            lambda w, message=message: request_for(
                "AddResponse", w.a, w, message=message, top_logprobs=-1
            ),
            INVALID,
            r"top_logprobs cannot be negative\.",
        ),
    )


# Research RPCs: annotations, tokens, search, import, and a prefix to continue.
row(
    "SelectResponse-deleted-conversation-with-its-old-response",
    Case(
        "SelectResponse",
        lambda w: request_for("SelectResponse", w.deleted, w, response_id=w.deleted_response),
        NOT_FOUND,
        gone,
    ),
)
for rpc in ("AnnotateResponse", "GetResponseTokens"):
    row(
        f"{rpc}-without-response-id",
        Case(
            rpc,
            lambda w, rpc=rpc: request_for(rpc, w.a, w, response_id=""),
            INVALID,
            r"response_id is required\.",
        ),
    )
    row(
        f"{rpc}-deleted-conversation-with-its-old-response",
        Case(
            rpc,
            lambda w, rpc=rpc: request_for(rpc, w.deleted, w, response_id=w.deleted_response),
            NOT_FOUND,
            gone,
        ),
    )

ANNOTATION_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "rating-2": ({"rating": 2}, r"rating must be -1, 0 or \+1, not 2\."),
    "rating-min-int": ({"rating": -(2**31)}, r"rating must be -1, 0 or \+1, not -2147483648\."),
    "empty-tag": ({"tags": ["ok", ""]}, r"A tag is empty\."),
    "blank-tag": ({"tags": [" \t"]}, r"A tag is empty\."),
    "tag-with-space": (
        {"tags": ["two words"]},
        r"Tag 'two words' is not usable: tags are single words of at most 64 characters\.",
    ),
    "tag-with-nul": ({"tags": ["a\x00b"]}, r"Tag 'a\\x00b' is not usable: .*\."),
    "tag-huge": ({"tags": ["t" * 20_000]}, r"Tag 't{40}…' is not usable: .*\."),
    "33-tags": (
        {"tags": [f"t{i}" for i in range(33)]},
        r"A response may have at most 32 tags, not 33\.",
    ),
    "huge-note": (
        {"note": "n" * 20_001},
        r"The note is 20001 characters long; the limit is 20000\.",
    ),
    "note-with-nul": ({"note": "a\x00"}, r"The note contains a NUL character\."),
}
for kind, (fields, pattern) in ANNOTATION_CASES.items():
    row(
        f"AnnotateResponse-{kind}",
        Case(
            "AnnotateResponse",
            lambda w, fields=fields: request_for(
                "AnnotateResponse", w.a, w, annotation=chat_pb2.Annotation(**fields)
            ),
            INVALID,
            pattern,
        ),
    )

QUERY = r"The search query is not valid: "
SEARCH_CASES: dict[str, tuple[str, int, str]] = {
    "empty": ("", 0, QUERY + r"The search is empty: type words to find, or a filter\."),
    "only-operators": ("OR AND", 0, QUERY + r"OR AND: an operator needs.*\."),
    "unbalanced-quote": ('"pruning shears', 0, QUERY + r"The query has an unmatched .*\."),
    "double-operator": ("a OR OR b", 0, QUERY + r"OR OR: an operator needs a word .*\."),
    "leading-not": ("NOT apple", 0, QUERY + r"NOT needs a word before it .*\."),
    "unknown-sender": ("sender:robot", 0, QUERY + r"sender: takes human or model, not 'robot'\."),
    "huge-sender": ("sender:" + "r" * 990, 0, QUERY + r"sender: .*, not 'r{40}…'\."),
    "bad-rating": ("rated:0", 0, QUERY + r"rated: takes \+ or -, not '0'\."),
    "empty-tag": ("apple tag:", 0, QUERY + r"tag: needs a tag, e\.g\. tag:idea\."),
    "empty-model": ("model:", 0, QUERY + r"model: needs a model name, .*\."),
    "too-long": ("x" * 1001, 0, r"The query is 1001 characters long; the limit is 1000\."),
    "negative-limit": ("apple", -1, r"limit must be between 0 .* and 10000, not -1; .*\."),
    "huge-limit": ("apple", 10_001, r"limit must be between 0 .* and 10000, not 10001; .*\."),
    "nul": ("apple\x00", 0, QUERY + r"The query contains a NUL character\."),
}
for kind, (query, limit, pattern) in SEARCH_CASES.items():
    row(
        f"Search-{kind}",
        Case(
            "Search",
            lambda w, query=query, limit=limit: chat_pb2.SearchRequest(query=query, limit=limit),
            INVALID,
            pattern,
        ),
    )


# EmbedTexts on a model without embeddings (this server's only one), or an unknown model.
EMBED_CASES: dict[str, tuple[str, grpc.StatusCode, str]] = {
    "offline-model": (
        "",
        grpc.StatusCode.FAILED_PRECONDITION,
        r"Model 'grove-offline-ngram' offers no embeddings: set embeddings_model .*\.",
    ),
    "unknown-model": ("nope", INVALID, r"Unknown model 'nope'; this server has: .*\."),
}
for kind, (model, code, pattern) in EMBED_CASES.items():
    row(
        f"EmbedTexts-{kind}",
        Case(
            "EmbedTexts",
            lambda w, model=model: chat_pb2.EmbedTextsRequest(model_name=model, texts=["x"]),
            code,
            pattern,
        ),
    )


def import_request(
    *responses: chat_pb2.Response, **fields: Any
) -> chat_pb2.ImportConversationRequest:
    """An import of `responses` (a valid human root and reply unless given)."""
    if not responses:
        responses = (
            chat_pb2.Response(response_id="h", sender="human", message="hi"),
            chat_pb2.Response(
                response_id="m", sender="model", message="hello", parent_response_id="h"
            ),
        )
    return chat_pb2.ImportConversationRequest(responses=responses, **fields)


def human_import(**fields: Any) -> chat_pb2.ImportConversationRequest:
    values = {"response_id": "h", "sender": "human", "message": "hi", **fields}
    return import_request(chat_pb2.Response(**values))


IMPORT_CASES: dict[str, tuple[Callable[[World], Message], str]] = {
    "duplicate-ids": (
        lambda w: import_request(
            chat_pb2.Response(response_id="h", sender="human", message="hi"),
            chat_pb2.Response(response_id="h", sender="human", message="again"),
        ),
        r"Response 2 \('h'\) needs a response_id unique within the import\.",
    ),
    "empty-id": (
        lambda w: human_import(response_id=""),
        r"Response 1 \(''\) needs a response_id unique within the import\.",
    ),
    "huge-id": (
        lambda w: human_import(response_id="i" * 20_000, parent_response_id="p" * 20_000),
        r"Response 1 \('i{40}…'\) names parent 'p{40}…', which does not come before it in "
        r"the import\.",
    ),
    "parent-after-child": (
        lambda w: import_request(
            chat_pb2.Response(
                response_id="m", sender="model", message="hello", parent_response_id="h"
            ),
            chat_pb2.Response(response_id="h", sender="human", message="hi"),
        ),
        r"Response 1 \('m'\) names parent 'h', which does not come before it in the import\.",
    ),
    "own-parent": (
        lambda w: human_import(parent_response_id="h"),
        r"Response 1 \('h'\) names parent 'h', which does not come before it in the import\.",
    ),
    # A stored response is not a parent an import can graft onto.
    "parent-is-a-stored-response": (
        lambda w: human_import(parent_response_id=w.a_model),
        r"Response 1 \('h'\) names parent '[0-9a-f]{32}', which does not come before it in "
        r"the import\.",
    ),
    "sender-robot": (
        lambda w: human_import(sender="robot"),
        r"Response 1 \('h'\): sender must be human or model, not 'robot'\.",
    ),
    "sender-empty": (
        lambda w: human_import(sender=""),
        r"Response 1 \('h'\): sender must be human or model, not ''\.",
    ),
    "nul-message": (
        lambda w: human_import(message="a\x00b"),
        r"Response 1 \('h'\): the message contains a NUL character\.",
    ),
    "message-over-limit": (
        lambda w: human_import(message="x" * (MAX_MESSAGE_BYTES + 1)),
        rf"Response 1 \('h'\): the message is {MAX_MESSAGE_BYTES + 1} bytes; the limit is "
        rf"{MAX_MESSAGE_BYTES} bytes\.",
    ),
    "blank-human": (
        lambda w: human_import(message=" "),
        r"Response 1 \('h'\): a human message cannot be blank; only a sampled reply may be "
        r"empty\.",
    ),
    "human-partial": (
        lambda w: human_import(partial=True),
        r"Response 1 \('h'\): a human message cannot be manual or partial\.",
    ),
    "human-with-sampling": (
        lambda w: human_import(sampling_params={"temperature": 1.0}),
        r"Response 1 \('h'\): a human message has no model_name, sampling_params, "
        r"prefix_length, finish_reason or tokens\.",
    ),
    "human-with-a-finish-reason": (
        lambda w: human_import(finish_reason=chat_pb2.FINISH_REASON_LENGTH),
        r"Response 1 \('h'\): a human message has no model_name, sampling_params, "
        r"prefix_length, finish_reason or tokens\.",
    ),
    "unknown-finish-reason": (
        lambda w: import_request(
            chat_pb2.Response(response_id="h", sender="human", message="hi"),
            chat_pb2.Response(
                response_id="m",
                sender="model",
                message="hello",
                parent_response_id="h",
                finish_reason=99,  # type: ignore[arg-type]
            ),
        ),
        r"Response 2 \('m'\): finish_reason 99 is not a reason this server knows\.",
    ),
    "prefix-beyond-message": (
        lambda w: import_request(
            chat_pb2.Response(response_id="m", sender="model", message="ab", prefix_length=3)
        ),
        r"Response 1 \('m'\): prefix_length is outside the message\.",
    ),
    "infinite-temperature": (
        lambda w: import_request(
            chat_pb2.Response(
                response_id="m",
                sender="model",
                message="ab",
                sampling_params={"temperature": float("inf")},
            )
        ),
        r"Response 1 \('m'\): sampling parameters must be finite and non-negative\.",
    ),
    "bad-annotation": (
        lambda w: human_import(annotation={"rating": 7}),
        r"rating must be -1, 0 or \+1, not 7\.",
    ),
    "tokens-of-no-response": (
        lambda w: import_request(
            tokens={"zz": {"tokens": [{"final_logit": {"string_token": "x"}}]}}
        ),
        r"The tokens map names response 'zz', which is not in the import\.",
    ),
    "tokens-not-spelling-the-message": (
        lambda w: import_request(
            tokens={"m": {"tokens": [{"final_logit": {"string_token": "x"}}]}}
        ),
        r"Response 2 \('m'\): its tokens do not spell its message\.",
    ),
    "shared-without-its-parent": (
        lambda w: import_request(
            chat_pb2.Response(response_id="h", sender="human", message="hi"),
            chat_pb2.Response(
                response_id="m",
                sender="model",
                message="hello",
                parent_response_id="h",
                shared=True,
            ),
        ),
        r"Response 2 \('m'\) is shared but its parent is not: sharing covers a path from the "
        r"root\.",
    ),
    "title-over-long": (
        lambda w: import_request(title="t" * (MAX_TITLE_CHARS + 1)),
        rf"The title must be at most {MAX_TITLE_CHARS} characters, without NUL\.",
    ),
    "title-nul": (
        lambda w: import_request(title="a\x00"),
        rf"The title must be at most {MAX_TITLE_CHARS} characters, without NUL\.",
    ),
}
for kind, (build, pattern) in IMPORT_CASES.items():
    row(f"ImportConversation-{kind}", Case("ImportConversation", build, INVALID, pattern))
    # The same import in chunks of one response each: the same refusal, the same sentence.
    row(
        f"ImportConversationStream-{kind}",
        Case(
            "ImportConversationStream",
            lambda w, build=build: list(request_chunks(build(w), 1)),
            INVALID,
            pattern,
        ),
    )

PREFIX_CASES = {
    "nul": ("a\x00", r"prefix contains a NUL character\."),
    "over-limit": (
        "x" * (MAX_MESSAGE_BYTES + 1),
        rf"prefix is {MAX_MESSAGE_BYTES + 1} bytes; the limit is {MAX_MESSAGE_BYTES} bytes\.",
    ),
}
for kind, (prefix, pattern) in PREFIX_CASES.items():
    for message in ("hi", ""):
        row(
            f"AddResponse-prefix-{kind}-{'with-message' if message else 'sample-only'}",
            Case(
                "AddResponse",
                lambda w, prefix=prefix, message=message: request_for(
                    "AddResponse",
                    w.a,
                    w,
                    message=message,
                    parent_response_id=w.a_model,
                    prefix=prefix,
                ),
                INVALID,
                pattern,
            ),
        )


# Bytes that are not a valid request: invalid UTF-8 in a string field, or no protobuf.
def raw_with(request: Message, marker: str, invalid: bytes = b"\xff\xfe") -> bytes:
    """`request` serialized, with the first bytes of the string `marker` made invalid UTF-8.

    The length stays the same, so the framing around the string stays valid.
    """
    data = request.SerializeToString()
    encoded = marker.encode()
    assert data.count(encoded) == 1
    return data.replace(encoded, invalid + encoded[len(invalid) :])


RAW_CASES: dict[str, tuple[str, Build]] = {
    "AddModelResponse-message": (
        "AddModelResponse",
        lambda w: raw_with(request_for("AddModelResponse", w.a, w, message="@@"), "@@"),
    ),
    "AddModelResponse-message-inside-text": (
        "AddModelResponse",
        lambda w: raw_with(
            request_for("AddModelResponse", w.a, w, message="good @@ text"), "@@", b"\xc3\x28"
        ),
    ),
    "AddResponse-message": (
        "AddResponse",
        lambda w: raw_with(request_for("AddResponse", w.a, w, message="@@"), "@@"),
    ),
    "AddResponse-model-name": (
        "AddResponse",
        lambda w: raw_with(request_for("AddResponse", w.a, w, model_name="@@"), "@@"),
    ),
    "UpdateConversation-title": (
        "UpdateConversation",
        lambda w: raw_with(request_for("UpdateConversation", w.a, w, title="@@"), "@@"),
    ),
    "GetConversation-conversation-id": (
        "GetConversation",
        lambda w: raw_with(request_for("GetConversation", w.a, w), w.a),
    ),
    "DeleteConversation-conversation-id": (
        "DeleteConversation",
        lambda w: raw_with(request_for("DeleteConversation", w.a, w), w.a),
    ),
    "ShareConversation-response-id": (
        "ShareConversation",
        lambda w: raw_with(request_for("ShareConversation", w.b, w, response_id="@@"), "@@"),
    ),
    "AddResponse-prefix": (
        "AddResponse",
        lambda w: raw_with(request_for("AddResponse", w.a, w, prefix="@@"), "@@"),
    ),
    "Search-query": (
        "Search",
        lambda w: raw_with(chat_pb2.SearchRequest(query="apple @@"), "@@"),
    ),
    "AnnotateResponse-note": (
        "AnnotateResponse",
        lambda w: raw_with(
            request_for("AnnotateResponse", w.a, w, annotation=chat_pb2.Annotation(note="@@")),
            "@@",
        ),
    ),
    "ImportConversation-message": (
        "ImportConversation",
        lambda w: raw_with(human_import(message="@@"), "@@"),
    ),
    "EmbedTexts-text": (
        "EmbedTexts",
        lambda w: raw_with(chat_pb2.EmbedTextsRequest(texts=["@@"]), "@@"),
    ),
    "AddModelResponse-not-protobuf": ("AddModelResponse", lambda w: b"\xff\xff\xff\xff"),
    "AddResponse-truncated": (
        "AddResponse",
        lambda w: request_for("AddResponse", w.a, w, message="cut short").SerializeToString()[:-3],
    ),
}
for case_id, (rpc, build) in RAW_CASES.items():
    row(f"raw-{case_id}", Case(rpc, build, INVALID, DECODE))
# A stream whose second chunk is not valid protobuf: refused at that chunk, nothing stored.
row(
    "raw-ImportConversationStream-second-chunk",
    Case(
        "ImportConversationStream",
        lambda w: [
            chat_pb2.ImportChunk(
                response_count=2,
                part=chat_pb2.ImportConversationRequest(
                    responses=[chat_pb2.Response(response_id="h", sender="human", message="hi")]
                ),
            ).SerializeToString(),
            raw_with(
                chat_pb2.ImportChunk(
                    part=chat_pb2.ImportConversationRequest(
                        responses=[chat_pb2.Response(response_id="g", sender="human", message="@@")]
                    )
                ),
                "@@",
            ),
        ],
        INVALID,
        DECODE,
    ),
)

# A request_id is unique among the caller's running streams.
for where in ("same-conversation", "other-conversation"):
    row(
        f"AddResponse-duplicate-running-request-id-{where}",
        Case(
            "AddResponse",
            lambda w, where=where: request_for(
                "AddResponse",
                w.a if where == "same-conversation" else w.b,
                w,
                message="again",
                request_id="dup-request",
            ),
            grpc.StatusCode.ALREADY_EXISTS,
            r"A stream with request_id 'dup-request' is already running\.",
            running_request_id="dup-request",
        ),
    )
# StopResponse must name a stream: an empty request_id names none (not the unnamed ones).
row(
    "StopResponse-without-request-id-while-an-unnamed-stream-runs",
    Case(
        "StopResponse",
        lambda w: chat_pb2.StopResponseRequest(request_id=""),
        INVALID,
        r"request_id is required: name the stream to stop \(the request_id its AddResponse "
        r"sent\)\.",
        running_request_id="",
    ),
)
# Resumable streams (issue 17): ResumeResponse and CancelResponse name a reply too.
for rpc, build in (
    ("ResumeResponse", lambda w: chat_pb2.ResumeResponseRequest(request_id="")),
    ("CancelResponse", lambda w: chat_pb2.CancelResponseRequest(request_id="")),
):
    row(
        f"{rpc}-without-request-id",
        Case(
            rpc,
            build,
            INVALID,
            r"request_id is required: name the reply \(the request_id its AddResponse sent\)\.",
        ),
    )
row(
    "ResumeResponse-of-a-reply-this-server-does-not-run",
    Case(
        "ResumeResponse",
        lambda w: chat_pb2.ResumeResponseRequest(request_id="no-such-reply", after_tokens=3),
        NOT_FOUND,
        r"No reply with request_id 'no-such-reply' runs on this server or is stored \(.+\)\.",
    ),
)


# -- running the table -------------------------------------------------------------------------


async def call(world: World, case: Case) -> grpc.aio.AioRpcError:
    """Sends the row's request; returns the error status it must end with."""
    method = SERVICE.methods_by_name[case.rpc]
    request = case.build(world)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        if method.client_streaming:  # the request: its messages (or their bytes)
            messages = list(request)
            if messages and isinstance(messages[0], bytes):
                path = f"/{SERVICE.full_name}/{case.rpc}"
                rpc = world.channel.stream_unary(
                    path, request_serializer=lambda b: b, response_deserializer=bytes
                )
                outcome = rpc(iter(messages))
            else:
                outcome = getattr(world.stub, case.rpc)(iter(messages))
        elif isinstance(request, bytes):
            path = f"/{SERVICE.full_name}/{case.rpc}"
            make = (
                world.channel.unary_stream if method.server_streaming else world.channel.unary_unary
            )
            rpc = make(path, request_serializer=lambda b: b, response_deserializer=bytes)
            outcome = rpc(request)
        else:
            outcome = getattr(world.stub, case.rpc)(request)
        if method.server_streaming:
            async for _ in outcome:
                pass
        else:
            await outcome
    return info.value


async def start_running_stream(world: World, request_id: str) -> grpc.aio.UnaryStreamCall:
    """Starts a stream in conversation A and returns once its first token has arrived."""
    request = chat_pb2.AddResponseRequest(
        conversation_id=world.a,
        message="keep talking",
        parent_response_id=world.a_model,
        request_id=request_id,
    )
    stream = world.stub.AddResponse(request)
    for _ in range(100):
        message = await stream.read()
        assert message is not grpc.aio.EOF, "the stream ended before its first token"
        if message.WhichOneof("response") == "token" and message.token.HasField("token"):
            return stream
    pytest.fail("no token arrived")


async def stop_running_stream(world: World, stream: grpc.aio.UnaryStreamCall) -> None:
    """Stops the row's stream (by cancelling it: it may have no request_id) and waits."""
    stream.cancel()
    for _ in range(500):
        if world.server.servicer.active_stream_count == 0:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the stream did not end")


@module_loop
@pytest.mark.parametrize("case", ROWS)
async def test_bad_request_is_refused_with_a_sentence_and_stores_nothing(
    world: World, case: Case
) -> None:
    running = None
    if case.running_request_id is not None:
        running = await start_running_stream(world, case.running_request_id)
    try:
        before = await read_snapshot(world)
        error = await call(world, case)
        after = await read_snapshot(world)
        if running is not None:
            active = world.server.servicer.streams.active
            assert len(active) == 1 and not any(s.stop.is_set() for s in active), (
                "the running stream goes on undisturbed"
            )
    finally:
        if running is not None:
            await stop_running_stream(world, running)
    details = error.details() or ""
    assert error.code() == case.code, details
    pattern = case.pattern(world) if callable(case.pattern) else case.pattern
    assert re.fullmatch(pattern, details), f"{details!r} does not match {pattern!r}"
    assert SENTENCE.fullmatch(details), f"not a sentence: {details!r}"
    assert len(details) <= MAX_DETAILS_CHARS, "the sentence is flooded by the input"
    assert after == before, "the refused request stored something"


def test_every_row_kind_reaches_its_rpc() -> None:
    """The table covers every RPC that takes input; the ones that take none are listed."""
    covered = {param.values[0].rpc for param in ROWS}
    without_input = {"CreateConversation", "ListConversations", "ListModels"}
    assert covered | without_input == {m.name for m in SERVICE.methods}


@module_loop
async def test_request_beyond_the_transport_limit(world: World) -> None:
    """Far beyond the message limit, gRPC refuses the bytes before the servicer runs.

    The server sets gRPC's receive limit to 4 x max_message_bytes (plus framing), so any
    message up to there gets the servicer's sentence (rows above); beyond it gRPC answers
    RESOURCE_EXHAUSTED with its own words, which the SDK turns into a sentence.
    """
    huge = "x" * (5 * MAX_MESSAGE_BYTES + 70_000)
    before = await read_snapshot(world)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await world.stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(conversation_id=world.a, message=huge)
        )
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert re.search(r"larger than max \(\d+ vs\. \d+\)", info.value.details() or "")
    async with Client(api_host=world.server.address) as sdk:
        conversation = await sdk.grok.get_conversation(world.a)
        stream, future = conversation.add_response(huge)
        with pytest.raises(ResourceExhaustedError) as sdk_info:
            await collect(stream)
        with pytest.raises(ResourceExhaustedError):
            await future
    assert re.fullmatch(
        r"The request is larger than the server accepts \(.*larger than max.*\)\.",
        sdk_info.value.message,
    )
    assert await read_snapshot(world) == before


def test_no_request_can_name_or_reparent_a_response() -> None:
    """Why no cycle can form: only creating requests name a parent, never their own id.

    AddResponse and AddModelResponse are the only requests with a parent field; both create
    a response whose id the server draws, and the rows above show that the parent must
    already be a response of the same conversation. No RPC changes an existing response's
    parent, so every parent is older than its child. ImportConversation's responses name
    parents too, but only earlier responses of the same import (local ids the server
    replaces; the ImportConversation rows refuse anything else, a stored response included).
    A replayed turn's replay_of_human / replay_of_reply name existing responses too, never
    as a parent.
    """
    with_parent = set()
    naming_originals = set()
    for method in SERVICE.methods:
        fields = {f.name for f in method.input_type.fields}
        if any("parent" in name for name in fields):
            with_parent.add(method.name)
            assert "response_id" not in fields, f"{method.name} could name its own id"
        if any(name.startswith("replay_of") for name in fields):
            naming_originals.add(method.name)
    # RecordVote names the node two compared replies answer; it creates no response.
    assert with_parent == {"AddResponse", "AddModelResponse", "RecordVote"}
    # A replayed turn names the original it replays, never a parent: the replay rows above
    # show each must already be a response of the same conversation.
    assert naming_originals == {"AddResponse"}
    assert not any(m.name.startswith(("Move", "Reparent", "Edit")) for m in SERVICE.methods)


SURROGATE = "bad \ud800 text"


@module_loop
@pytest.mark.parametrize(
    "action", ["add_response", "sample", "set_title", "replace-model", "replace-human"]
)
async def test_lone_surrogate_is_refused_by_the_sdk_before_sending(
    world: World, action: str
) -> None:
    before = await read_snapshot(world)
    async with Client(api_host=world.server.address) as sdk:
        conversation = await sdk.grok.get_conversation(world.a)
        model_reply = conversation.get_response(world.a_model)
        with pytest.raises(InvalidArgumentError) as info:
            if action == "add_response":
                stream, future = conversation.add_response(SURROGATE)
                try:
                    await collect(stream)
                finally:
                    with pytest.raises(InvalidArgumentError):
                        await future
            elif action == "sample":
                sampled = conversation.sample(SURROGATE, parent_response_id=world.a_model)
                async for _ in sampled:
                    pass
            elif action == "set_title":
                await conversation.set_title(SURROGATE)
            elif action == "replace-model":
                stream, _ = model_reply.replace(SURROGATE)
                await collect(stream)
            else:
                human = conversation.get_response(world.a_human)
                stream, _ = human.replace(SURROGATE)
                await collect(stream)
    assert re.fullmatch(
        r"The text cannot be sent: it holds U\+D800 at position 4, which is not valid Unicode "
        r"text \(a lone surrogate\); nothing was stored\.",
        info.value.message,
    )
    assert await read_snapshot(world) == before


def test_row_ids_are_unique() -> None:
    ids = [param.id for param in ROWS]
    assert len(ids) == len(set(ids))
