"""Random requests to every RPC of one running server, then the store's invariants.

Hypothesis draws sequences of requests from two users: real ids from earlier steps mixed
with random, malformed and hostile ones, text with control characters and oversized
strings, absurd sampling parameters, unknown model and prompt names, prefixes to continue,
annotations, search queries, and whole forests to import. Some AddResponse streams run in
the background while later steps delete, stop or cancel them. Grants to the other user
succeed too, so later steps act on shared conversations as a reader or a writer
(tests/server/fuzz_access.py). Every refusal must be a status a client can act on, with a
sentence; afterwards the SQLite file must hold a consistent forest (with annotations,
stored tokens and a search index that match it) that the RPCs report exactly, the access
rules must hold for every share the database holds, and no search or listing may show a
conversation the caller may not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sqlite3
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from grove_explorer.client import Client
from grove_explorer.client.import_call import request_chunks
from grove_explorer.protos import chat_pb2
from grove_explorer.server.auth import hash_key
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store.sqlite import decode_tokens
from tests.server.fuzz_access import (
    WIRE_ROLES,
    Grants,
    check_access_rows,
    probe_listing,
    probe_roles,
    role_of,
    writer_writes,
)
from tests.server.test_store import search_index_problems

SERVICE = chat_pb2.DESCRIPTOR.services_by_name["Chat"]
USERS = {"alice": "key-alice", "bob": "key-bob"}
MAX_MESSAGE_BYTES = 300
MAX_TITLE_CHARS = 40
MAX_STEPS = 12
ALLOWED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.PERMISSION_DENIED,  # a reader writes, a writer tries the owner's part
}
EMPTY = empty_pb2.Empty()

# -- strategies ----------------------------------------------------------------------------

HOSTILE_IDS = [
    "",
    "0" * 32,
    "A" * 32,
    "g" * 32,
    "a" * 33,
    "' OR 1=1 --",
    "0'; DROP TABLE responses; --",
    "\x00" * 32,
    "%",
    "*",
]
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(codec="utf-8", max_codepoint=0x1F), max_size=8),
    st.builds(
        lambda piece, count: piece * count,
        st.sampled_from(["x", "é", " ", "\x00", "\n", "😀", "ab\x00"]),
        st.integers(0, 2 * MAX_MESSAGE_BYTES),
    ),
    st.sampled_from(
        [
            "",
            " ",
            "\t\n",
            "hello",
            "What is a forest?",
            # Long content words: a derived title longer than MAX_TITLE_CHARS.
            "Explain photosynthesis, chlorophyll, mitochondria, ribosomes and chloroplasts",
        ]
    ),
)
FLOATS = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 1e9]),
)
SAMPLING = st.fixed_dictionaries(
    # Always set, so that no reply runs to the default length (200 tokens) and slows the
    # test; the valid values are small.
    {
        "max_tokens": st.one_of(
            st.integers(-3, 6), st.sampled_from([0, 4097, 10**9, -(2**31), 2**31 - 1])
        )
    },
    optional={
        "temperature": FLOATS,
        "top_p": FLOATS,
        "seed": st.one_of(st.integers(0, 5), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1])),
    },
)
MODEL_NAMES = st.one_of(
    st.sampled_from(["", "grove-offline-ngram", "gpt-9", "\x00", "m" * 5000]), TEXT
)
PROMPT_NAMES = st.one_of(st.sampled_from(["", "fun", "evil", "p" * 5000]), TEXT)
REQUEST_IDS = st.one_of(st.sampled_from(["", "r1", "r2"]), TEXT)

# Values the server accepts, so that sequences get far enough to build forests.
VALID_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40),
    st.sampled_from(["hello", "What is a forest?", "Explain photosynthesis and ribosomes"]),
).map(lambda text: text if text.strip() else f"x{text}")
VALID_TITLES = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=MAX_TITLE_CHARS
)
VALID_SAMPLING = st.fixed_dictionaries(
    # Short replies keep the test fast; 8 tokens (hypothesis favours the first entry) at
    # 3 ms each outlive a few later steps, so stops, cancels and deletes meet live streams.
    {"max_tokens": st.sampled_from([8, 1, 3, 16])},
    optional={
        "temperature": st.floats(0.0, 2.0, width=32),
        "top_p": st.floats(0.0, 1.0, exclude_min=True, width=32),
        "seed": st.integers(0, 2**63 - 1),
    },
)
VALID_REQUEST_IDS = st.one_of(st.sampled_from(["r1", "r2"]), st.uuids().map(lambda u: u.hex))
VALID_PREFIXES = st.one_of(
    st.just(""), st.just(""), st.sampled_from(["Apple trees", " the", "Zyzzyva ", "Roots.\n\n"])
)
VALID_TAGS = st.lists(st.sampled_from(["idea", "check", "later", "x"]), max_size=4)
VALID_ANNOTATIONS = st.builds(
    chat_pb2.Annotation,
    bookmarked=st.booleans(),
    tags=VALID_TAGS,
    rating=st.integers(-1, 1),
    note=st.one_of(st.just(""), VALID_TEXT),
)
CHAOS_ANNOTATIONS = st.builds(
    chat_pb2.Annotation,
    bookmarked=st.booleans(),
    tags=st.one_of(st.lists(TEXT, max_size=4), st.lists(st.sampled_from(["a", "b"]), max_size=40)),
    rating=st.one_of(st.integers(-3, 3), st.just(2**31 - 1)),
    note=TEXT,
)
VALID_QUERIES = st.one_of(
    st.sampled_from(
        [
            "forest",
            "hello OR forest",
            "fore*",
            '"what is"',
            "forest NOT tree",
            "sender:human",
            "sender:model",
            "model:grove-offline-ngram",
            "tag:idea",
            "rated:+",
            "rated:-",
            "bookmarked",
            "partial",
            "photosynthesis sender:human",
            "idea",  # a tag's text
        ]
    ),
    VALID_TEXT.map(lambda text: " ".join(f'"{w}"' for w in text.replace('"', " ").split()) or "x"),
)
CHAOS_QUERIES = st.one_of(
    st.sampled_from(
        [
            '"',
            "a OR OR b",
            "NOT x",
            "OR",
            "sender:robot",
            "rated:0",
            "tag:",
            "*",
            "**",
            "(",
            "NEAR(a b)",
            "a:b",
            "^x",
            "x" * 1001,
            "AND AND",
            '"a" "b',
        ]
    ),
    TEXT,
)


@dataclass
class Pools:
    """Ids seen in this sequence: conversations with their owner, responses with theirs."""

    owners: dict[str, str] = field(default_factory=dict)  # conversation id -> user
    # user -> this sequence's conversations shared with them now (fuzz_access.Grants)
    shared: dict[str, list[str]] = field(default_factory=dict)
    request_ids: list[str] = field(default_factory=list)  # of AddResponse calls, oldest first
    responses: dict[str, str] = field(default_factory=dict)  # response id -> conversation id


def _pick(source: list[str], index: int, fallback: str) -> str:
    return source[index % len(source)] if source else fallback


def ids(pools: Pools) -> st.SearchStrategy[str]:
    """Any id: a real one of any kind and any user, or random, malformed or hostile.

    What is drawn never depends on the pools' contents (only which value an index picks),
    so hypothesis sees the same shape of data whatever the server answered.
    """
    return st.one_of(
        st.integers(0, 255).map(lambda i: _pick(list(pools.owners), i, "f" * 32)),
        st.integers(0, 255).map(lambda i: _pick(list(pools.responses), i, "e" * 32)),
        st.uuids().map(lambda u: u.hex),
        st.sampled_from(HOSTILE_IDS),
        TEXT,
    )


class Fields:
    """Draws each field from its valid or its chaotic strategy, as the request's mode says.

    "valid" requests should succeed, "one-bad" ones spoil a single field, "chaos" ones
    every field. The mode and the spoiled field are drawn first, so the shape of the data
    depends only on earlier draws.
    """

    def __init__(self, draw: Callable[[Any], Any], count: int) -> None:
        self.draw = draw
        self.mode = draw(st.sampled_from(["valid", "one-bad", "valid", "chaos"]))
        self.bad = draw(st.integers(0, count - 1))
        self.count = count
        self.index = 0

    def __call__(self, valid: st.SearchStrategy[Any], chaos: st.SearchStrategy[Any]) -> Any:
        index, self.index = self.index, self.index + 1
        assert index < self.count, "FIELD_COUNTS is out of date"
        spoil = self.mode == "chaos" or (self.mode == "one-bad" and index == self.bad)
        return self.draw(chaos if spoil else valid)


# How many fields of each request `build_request` draws through `Fields`.
FIELD_COUNTS = {
    "GetConversation": 1,
    "UpdateConversation": 2,
    "DeleteConversation": 1,
    "GenerateTitle": 2,
    "AddResponse": 9,
    "AddModelResponse": 3,
    "ShareConversation": 2,
    "AnnotateResponse": 3,
    "GetResponseTokens": 2,
    "GetResponsesTokens": 3,
    "SelectResponse": 2,
    "JudgeResponses": 3,
    "ExtractPoints": 3,
    "RecordVote": 6,
    "ListVotes": 1,
    "WatchConversation": 1,
    "GrantAccess": 3,
    "RevokeAccess": 2,
    "ListAccess": 1,
    "ResolveShareLink": 1,
}

# Refused grantees: a name no key holds, or anything at all. A valid grant names the
# sequence's other user (now and then the caller themselves, also refused).
NOT_GRANTEES = st.one_of(st.sampled_from(["", "carol", "Alice", "alice ", "ALICE"]), TEXT)


def _token(text: str, logprob: float | None) -> dict[str, Any]:
    return {
        "final_logit": {"string_token": text, "logprob": logprob or 0.0},
        "logprob_unknown": logprob is None,
    }


@st.composite
def valid_forest(draw: Callable[[Any], Any]) -> tuple[list[chat_pb2.Response], dict[str, Any]]:
    """A forest an import accepts: responses (parents first) and the tokens of replies."""
    responses: list[chat_pb2.Response] = []
    tokens: dict[str, Any] = {}
    shared: set[str] = set()
    for index in range(draw(st.integers(0, 4))):
        rid = f"r{index}"
        parent = draw(st.sampled_from(["", *(r.response_id for r in responses)]))
        message = draw(VALID_TEXT)
        response = chat_pb2.Response(response_id=rid, parent_response_id=parent, message=message)
        kind = draw(st.sampled_from(["human", "sampled", "manual"]))
        if kind == "human":
            response.sender = "human"
        else:
            response.sender = "model"
            response.partial = draw(st.booleans())
            response.manual = kind == "manual"
        if kind == "sampled":
            response.model_name = draw(st.sampled_from(["grove-offline-ngram", "elsewhere"]))
            response.prefix_length = draw(st.integers(0, len(message)))
            if draw(st.booleans()):
                params = draw(VALID_SAMPLING)
                response.sampling_params.temperature = params.get("temperature", 0.5)
                response.sampling_params.top_p = params.get("top_p", 1.0)
                response.sampling_params.max_tokens = params["max_tokens"]
                response.sampling_params.seed = params.get("seed", 0)
            if draw(st.booleans()):
                cut = draw(st.integers(0, len(message)))
                pieces = [message[:cut], message[cut:]]
                tokens[rid] = {"tokens": [_token(p, -0.5) for p in pieces if p]}
        response.shared = draw(st.booleans()) and (not parent or parent in shared)
        if response.shared:
            shared.add(rid)
        if draw(st.booleans()):
            response.annotation.CopyFrom(draw(VALID_ANNOTATIONS))
        responses.append(response)
    return responses, tokens


@st.composite
def chaos_forest(draw: Callable[[Any], Any]) -> tuple[list[chat_pb2.Response], dict[str, Any]]:
    """Anything shaped like an import: ids, senders, parents, texts and tokens at random."""
    local_ids = st.one_of(st.sampled_from(["", "r0", "r1", "r2"]), TEXT)
    responses = [
        chat_pb2.Response(
            response_id=draw(local_ids),
            parent_response_id=draw(local_ids),
            sender=draw(st.one_of(st.sampled_from(["human", "model", "", "robot"]), TEXT)),
            message=draw(TEXT),
            manual=draw(st.booleans()),
            partial=draw(st.booleans()),
            shared=draw(st.booleans()),
            model_name=draw(MODEL_NAMES),
            query=draw(TEXT),
            prefix_length=draw(st.integers(-2, 50)),
            token_count=draw(st.integers(-(2**31), 2**31 - 1)),
            time_to_first_token_seconds=draw(FLOATS),
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    for response in responses:
        if draw(st.booleans()):
            for name, value in draw(SAMPLING).items():
                setattr(response.sampling_params, name, value)
        if draw(st.booleans()):
            response.annotation.CopyFrom(draw(CHAOS_ANNOTATIONS))
    tokens = {
        draw(local_ids): {"tokens": [_token(draw(TEXT), draw(st.one_of(st.none(), FLOATS)))]}
        for _ in range(draw(st.integers(0, 2)))
    }
    return responses, tokens


def build_request(rpc: str, draw: Callable[[Any], Any], pools: Pools, user: str) -> Any:
    """A random request of `rpc` from `user`."""
    if rpc == "CreateConversation":
        return chat_pb2.CreateConversationRequest()
    if rpc in ("ListConversations", "ListModels"):
        return EMPTY
    if rpc == "StopResponse":
        newest_first = list(reversed(pools.request_ids))
        started = st.integers(0, 255).map(lambda i: _pick(newest_first, i, "r1"))
        return chat_pb2.StopResponseRequest(request_id=Fields(draw, 1)(started, REQUEST_IDS))
    if rpc in ("ResumeResponse", "CancelResponse"):  # resumable streams (issue 17)
        newest_first = list(reversed(pools.request_ids))
        started = st.integers(0, 255).map(lambda i: _pick(newest_first, i, "r1"))
        request_id = Fields(draw, 1)(started, REQUEST_IDS)
        if rpc == "CancelResponse":
            return chat_pb2.CancelResponseRequest(request_id=request_id)
        after = Fields(draw, 1)(st.integers(0, 30), st.integers(-(2**63), 2**63 - 1))
        return chat_pb2.ResumeResponseRequest(request_id=request_id, after_tokens=after)
    if rpc == "Search":
        fields = Fields(draw, 2)
        return chat_pb2.SearchRequest(
            query=fields(VALID_QUERIES, CHAOS_QUERIES),
            limit=fields(
                st.integers(0, 50),
                st.one_of(
                    st.integers(-5, -1), st.integers(0, 600), st.sampled_from([2**31 - 1, -(2**31)])
                ),
            ),
        )
    if rpc == "EmbedTexts":  # the fuzz server's models offer no embeddings: refused whole
        fields = Fields(draw, 2)
        return chat_pb2.EmbedTextsRequest(
            model_name=fields(st.sampled_from(["", "grove-offline-ngram"]), MODEL_NAMES),
            texts=fields(st.lists(VALID_TEXT, min_size=1, max_size=3), st.lists(TEXT, max_size=5)),
        )
    if rpc == "ImportConversation":
        fields = Fields(draw, 3)
        responses, tokens = fields(valid_forest(), chaos_forest())
        return chat_pb2.ImportConversationRequest(
            title=fields(VALID_TITLES, TEXT),
            starred=draw(st.booleans()),
            responses=responses,
            tokens=tokens if draw(st.booleans()) or fields.mode == "valid" else {},
        )
    if rpc == "ImportConversationStream":  # the first chunk (`import_chunks` sends them all)
        return import_chunks(build_request("ImportConversation", draw, pools, user), draw)[0]
    if rpc not in FIELD_COUNTS:
        raise AssertionError(f"the fuzz test cannot build a {rpc} request yet: add it")
    fields = Fields(draw, FIELD_COUNTS[rpc])
    mine = [c for c, owner in pools.owners.items() if owner == user]
    mine += pools.shared.get(user, [])  # shared with the user: theirs to read (or write)
    cid = fields(st.integers(0, 255).map(lambda i: _pick(mine, i, "d" * 32)), ids(pools))

    def responses_of(conversation: str) -> list[str]:
        return [r for r, c in pools.responses.items() if c == conversation]

    def response_id(*, optional: bool) -> str:
        own = st.integers(0, 255).map(lambda i: _pick(responses_of(cid), i, ""))
        valid = st.one_of(st.just(""), own, own) if optional else own
        return fields(valid, st.one_of(st.just(""), ids(pools)))

    if rpc == "GetConversation":
        return chat_pb2.GetConversationRequest(conversation_id=cid)
    if rpc == "UpdateConversation":
        return chat_pb2.UpdateConversationRequest(
            conversation_id=cid, title=fields(VALID_TITLES, TEXT), starred=draw(st.booleans())
        )
    if rpc == "DeleteConversation":
        return chat_pb2.DeleteConversationRequest(conversation_id=cid)
    if rpc == "GenerateTitle":
        return chat_pb2.GenerateTitleRequest(
            conversation_id=cid, leaf_response_id=response_id(optional=True)
        )
    if rpc == "AddResponse":
        request = chat_pb2.AddResponseRequest(
            conversation_id=cid,
            message=fields(st.one_of(st.just(""), VALID_TEXT, VALID_TEXT), TEXT),
            model_name=fields(st.sampled_from(["", "grove-offline-ngram"]), MODEL_NAMES),
            parent_response_id=response_id(optional=True),
            use_grok=draw(st.booleans()),
            system_prompt_name=fields(st.sampled_from(["", "fun"]), PROMPT_NAMES),
            request_id=fields(VALID_REQUEST_IDS, REQUEST_IDS),
            top_logprobs=fields(
                st.integers(0, 25), st.one_of(st.integers(-2, 25), st.just(2**31 - 1))
            ),
            prefix=fields(VALID_PREFIXES, TEXT),
            select_reply=draw(st.booleans()),
        )
        # Resumable streams (issue 17) half the time, without a draw of their own: a new
        # draw here reshuffled every sequence and left some kinds of step unfuzzed.
        request.resumable = request.use_grok
        for name, value in fields(VALID_SAMPLING, SAMPLING).items():
            setattr(request.sampling_params, name, value)
        return request
    if rpc == "AddModelResponse":
        return chat_pb2.AddModelResponseRequest(
            conversation_id=cid,
            message=fields(VALID_TEXT, TEXT),
            partial=draw(st.booleans()),
            parent_response_id=response_id(optional=True),
        )
    if rpc == "ShareConversation":
        return chat_pb2.ShareConversationRequest(
            conversation_id=cid, response_id=response_id(optional=False)
        )
    if rpc == "AnnotateResponse":
        return chat_pb2.AnnotateResponseRequest(
            conversation_id=cid,
            response_id=response_id(optional=False),
            annotation=fields(VALID_ANNOTATIONS, CHAOS_ANNOTATIONS),
        )
    if rpc == "GetResponseTokens":
        return chat_pb2.GetResponseTokensRequest(
            conversation_id=cid, response_id=response_id(optional=False)
        )
    if rpc == "GetResponsesTokens":
        return chat_pb2.GetResponsesTokensRequest(
            conversation_id=cid,
            response_ids=[response_id(optional=False), response_id(optional=False)],
        )
    if rpc == "SelectResponse":
        return chat_pb2.SelectResponseRequest(
            conversation_id=cid, response_id=response_id(optional=True)
        )
    if rpc in ("JudgeResponses", "ExtractPoints"):  # the offline heuristic: no model call
        request_class = (
            chat_pb2.JudgeResponsesRequest
            if rpc == "JudgeResponses"
            else chat_pb2.ExtractPointsRequest
        )
        return request_class(
            conversation_id=cid,
            response_ids=[response_id(optional=False), response_id(optional=False)],
        )
    if rpc == "RecordVote":  # refused unless both replies are model siblings under parent
        return chat_pb2.RecordVoteRequest(
            conversation_id=cid,
            parent_response_id=response_id(optional=False),
            response_a=response_id(optional=False),
            response_b=response_id(optional=False),
            setup_a=chat_pb2.ArenaSetup(model_name="grove-offline-ngram"),
            setup_b=fields(
                st.just(chat_pb2.ArenaSetup(label="hot")),
                st.builds(chat_pb2.ArenaSetup, model_name=MODEL_NAMES, label=TEXT),
            ),
            outcome=fields(st.integers(1, 4), st.integers(0, 7)),
        )
    if rpc == "ListVotes":
        return chat_pb2.ListVotesRequest(conversation_id=cid)
    if rpc == "WatchConversation":
        return chat_pb2.WatchConversationRequest(conversation_id=cid)
    if rpc == "GrantAccess":
        return chat_pb2.GrantAccessRequest(
            conversation_id=cid,
            user_id=fields(
                st.sampled_from([*(u for u in sorted(USERS) if u != user), user]), NOT_GRANTEES
            ),
            role=fields(st.sampled_from([3, 2]), st.integers(-3, 9)),  # reader, writer
        )
    if rpc == "RevokeAccess":
        return chat_pb2.RevokeAccessRequest(
            conversation_id=cid, user_id=fields(st.sampled_from(sorted(USERS)), NOT_GRANTEES)
        )
    if rpc == "ListAccess":
        return chat_pb2.ListAccessRequest(conversation_id=cid)
    if rpc == "ResolveShareLink":  # a link to one of the user's ids (or anyone's, or junk)
        return chat_pb2.ResolveShareLinkRequest(link="grove://share/conversations/" + cid)
    raise AssertionError(f"the fuzz test cannot build a {rpc} request yet: add it")


# -- running a sequence -----------------------------------------------------------------------

# Every RPC, and cancelling a background stream. Hypothesis favours the first entries of a
# list, so the ones that change the forest come first.
STEP_KINDS = [
    "AddResponseBurst",
    "AddResponse",
    "GrantAccess",  # early: later steps of the other user then act on a shared conversation
    "StopResponse",
    "ResumeResponse",
    "CancelResponse",
    "CancelStream",
    "DeleteConversation",
    "AddModelResponse",
    "GenerateTitle",
    "ShareConversation",
    "AnnotateResponse",
    "ImportConversation",
    "ImportConversationStream",
    "UpdateConversation",
    "GetConversation",
    "GetResponseTokens",
    "GetResponsesTokens",
    "SelectResponse",
    "JudgeResponses",
    "ExtractPoints",
    "RecordVote",
    "ListVotes",
    "WatchConversation",
    "RevokeAccess",
    "ListAccess",
    "ResolveShareLink",
    "Search",
    "ListConversations",
    "CreateConversation",
    "ListModels",
    "EmbedTexts",
]


@dataclass
class Harness:
    server: GroveServer
    clients: dict[str, Client]
    pools: Pools = field(default_factory=Pools)
    calls: Counter[str] = field(default_factory=Counter)
    # Conversations created by ImportConversation (in any sequence): their replies carry
    # the provenance the import gave, not this server's sampling.
    imported: set[str] = field(default_factory=set)
    # What every grant and revocation did (the database's shares outlive a sequence).
    grants: Grants = field(default_factory=Grants)


@dataclass
class Background:
    """An AddResponse stream being read by a task while later steps run."""

    call: Any
    task: asyncio.Task[None] | None = None
    cancelled: bool = False


def check_refusal(rpc: str, error: grpc.aio.AioRpcError, *, cancelled: bool = False) -> None:
    event(f"{rpc}: {error.code().name}")
    if cancelled and error.code() == grpc.StatusCode.CANCELLED:
        return
    assert error.code() in ALLOWED, f"{rpc}: {error.code()} {error.details()!r}"
    assert (error.details() or "").strip(), f"{rpc}: {error.code()} without a sentence"


def import_chunks(
    request: chat_pb2.ImportConversationRequest, draw: Callable[..., Any]
) -> list[chat_pb2.ImportChunk]:
    """`request` in chunks of a drawn size, as the SDK sends an import."""
    return list(request_chunks(request, draw(st.integers(1, 4), label="chunk size")))


def harvest(pools: Pools, user: str, request: Any, message: Any) -> None:
    """Adds the ids a successful reply reveals to the pools.

    Not those of ListConversations: they include every earlier sequence's conversations,
    which this sequence leaves alone (so each is checked once, after its own sequence).
    """
    if isinstance(message, chat_pb2.Conversation):  # a grantee reads the owner's
        pools.owners[message.conversation_id] = message.owner_user_id or user
        for response in message.responses:
            pools.responses[response.response_id] = message.conversation_id
    elif isinstance(message, chat_pb2.Response):
        pools.responses[message.response_id] = request.conversation_id
    elif isinstance(message, chat_pb2.AddResponseResponse):
        kind = message.WhichOneof("response")
        if kind in ("user_response", "model_response"):
            pools.responses[getattr(message, kind).response_id] = request.conversation_id


async def drain(harness: Harness, user: str, request: Any, stream: Background) -> None:
    """Reads an AddResponse stream to its end; checks how it ended."""
    try:
        async for message in stream.call:
            harvest(harness.pools, user, request, message)
            if message.WhichOneof("response") == "model_response":
                event("AddResponse: OK" + (" (partial)" if message.model_response.partial else ""))
    except grpc.aio.AioRpcError as error:
        check_refusal("AddResponse", error, cancelled=stream.cancelled)
    except asyncio.CancelledError:
        if not stream.cancelled:
            raise


def start_stream(harness: Harness, user: str, request: Any) -> Background:
    """Starts an AddResponse call and a task that reads it."""
    if request.request_id:
        harness.pools.request_ids.append(request.request_id)
    stream = Background(harness.clients[user].stub.AddResponse(request))
    stream.task = asyncio.create_task(drain(harness, user, request, stream))
    return stream


async def prelude(harness: Harness) -> None:
    """Each user starts with a conversation holding a root, so real ids exist at once."""
    harness.pools = Pools()
    for user in sorted(USERS):
        stub = harness.clients[user].stub
        created = await stub.CreateConversation(chat_pb2.CreateConversationRequest())
        harvest(harness.pools, user, None, created)
        request = chat_pb2.AddModelResponseRequest(
            conversation_id=created.conversation_id, message=f"{user}'s root, by hand"
        )
        harvest(harness.pools, user, request, await stub.AddModelResponse(request))


async def run_sequence(data: st.DataObject, harness: Harness, first: str | None = None) -> None:
    """One sequence of random steps; `first` (when given) is its first step's kind."""
    await prelude(harness)
    background: list[Background] = []
    steps = data.draw(st.integers(1, MAX_STEPS), label="steps")
    for number in range(steps):
        if number == 0 and first is not None:
            kind = first
        else:
            kind = data.draw(st.sampled_from(STEP_KINDS), label="step")
        harness.calls[kind] += 1
        event(f"step {kind}")
        if kind == "CancelStream":
            index = data.draw(st.integers(0, MAX_STEPS), label="victim")
            if background:
                victim = background[-1 - index % len(background)]  # the newest first
                victim.cancelled = victim.cancelled or not victim.call.done()
                victim.call.cancel()
                event(f"CancelStream: {'cancelled' if victim.cancelled else 'already done'}")
            continue
        user = data.draw(st.sampled_from(sorted(USERS)), label="user")
        stub = harness.clients[user].stub
        if kind == "AddResponseBurst":
            # Several streams at once: the stream limit, request_id clashes, and the
            # forest under concurrent writers.
            for _ in range(data.draw(st.integers(2, 4), label="burst")):
                request = build_request("AddResponse", data.draw, harness.pools, user)
                background.append(start_stream(harness, user, request))
            continue
        if kind == "ImportConversationStream":  # an import's request, sent in chunks
            request = build_request("ImportConversation", data.draw, harness.pools, user)
            try:
                reply = await stub.ImportConversationStream(iter(import_chunks(request, data.draw)))
            except grpc.aio.AioRpcError as error:
                check_refusal(kind, error)
            else:
                event(f"{kind}: OK")
                harvest(harness.pools, user, request, reply)
                harness.imported.add(reply.conversation_id)
            continue
        request = build_request(kind, data.draw, harness.pools, user)
        if kind == "ResumeResponse":  # a stream: read to its end
            try:
                async for _ in stub.ResumeResponse(request):
                    pass
            except grpc.aio.AioRpcError as error:
                # CANCELLED: the reply was cancelled (by a step, or its grace) before text.
                check_refusal(kind, error, cancelled=True)
            else:
                event(f"{kind}: OK")
            continue
        if kind == "WatchConversation":  # its first event (or refusal), then it is left
            call = stub.WatchConversation(request)
            try:
                first = await call.read()
            except grpc.aio.AioRpcError as error:
                check_refusal(kind, error)
            else:
                assert first.started.watcher == user, f"{kind}: {first}"
                event(f"{kind}: OK")
            call.cancel()
            continue
        if kind == "AddResponse":
            stream = start_stream(harness, user, request)
            if data.draw(st.integers(0, 3), label="in background"):
                event("AddResponse: in background")
                background.append(stream)
            else:
                await stream.task
            continue
        try:
            reply = await getattr(stub, kind)(request)
        except grpc.aio.AioRpcError as error:
            check_refusal(kind, error)
        else:
            event(f"{kind}: OK" + (" (stopped)" if getattr(reply, "stopped", False) else ""))
            harvest(harness.pools, user, request, reply)
            harness.grants.note(kind, request, reply)
            share_pools(harness)
            if kind == "ImportConversation":
                harness.imported.add(reply.conversation_id)
            if kind == "Search":
                others = {c for c, owner in harness.pools.owners.items() if owner != user}
                others -= set(harness.grants.shared_with(user))
                assert not {hit.conversation_id for hit in reply.hits} & others, (
                    f"{user} found another user's conversation"
                )
    async with asyncio.timeout(30):
        await asyncio.gather(*(b.task for b in background if b.task is not None))
        # A cancelled call returns at once; its handler stores the partial reply after.
        for _ in range(6000):
            if not harness.server.servicer.active_stream_count:
                break
            await asyncio.sleep(0.005)
    assert not harness.server.servicer.active_stream_count, "every stream ended"
    await writers_write_and_check(harness)


def share_pools(harness: Harness) -> None:
    """This sequence's conversations shared with each user now (what their steps draw)."""
    harness.pools.shared = {
        u: [c for c in harness.grants.shared_with(u) if c in harness.pools.owners] for u in USERS
    }


async def writers_write_and_check(harness: Harness) -> None:
    """Each writer of this sequence's conversations writes as themselves; then the checks."""
    for user, shared in harness.pools.shared.items():
        for cid in shared:
            if harness.grants.current[cid][user] == "writer":
                owner = harness.clients[harness.pools.owners[cid]].stub
                await writer_writes(harness.clients[user].stub, owner, cid, user)
    await check_store(harness)


async def granted_sequence(harness: Harness, role: str) -> None:
    """A sequence of one grant of `role` (Alice's conversation to Bob), then the checks.

    Run for a role the random sequences happened not to grant (the draws depend on
    timing), so every run checks a reader's and a writer's rights.
    """
    await prelude(harness)
    (cid,) = [c for c, owner in harness.pools.owners.items() if owner == "alice"]
    request = chat_pb2.GrantAccessRequest(conversation_id=cid, user_id="bob", role=WIRE_ROLES[role])
    reply = await harness.clients["alice"].stub.GrantAccess(request)
    harness.grants.note("GrantAccess", request, reply)
    share_pools(harness)
    await writers_write_and_check(harness)


# -- the invariants ----------------------------------------------------------------------------


def read_tables(db: Path) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return {
            "integrity": [tuple(r) for r in conn.execute("PRAGMA integrity_check")],
            "foreign_keys": [tuple(r) for r in conn.execute("PRAGMA foreign_key_check")],
            "conversations": [
                dict(r) for r in conn.execute("SELECT * FROM conversations ORDER BY rowid")
            ],
            # Creation order: when each response was started (GetConversation's order).
            "responses": [
                dict(r) for r in conn.execute("SELECT * FROM responses ORDER BY start_time, seq")
            ],
            "checkpoints": [dict(r) for r in conn.execute("SELECT * FROM checkpoints")],
            "annotations": [dict(r) for r in conn.execute("SELECT * FROM annotations")],
            "leaves": [dict(r) for r in conn.execute("SELECT * FROM leaves")],
            "votes": [dict(r) for r in conn.execute("SELECT * FROM arena_votes")],
            "judgements": [dict(r) for r in conn.execute("SELECT * FROM judgements")],
            "shares": [dict(r) for r in conn.execute("SELECT * FROM shares")],
            "tokens": {
                r["response_id"]: decode_tokens(r["data"])
                for r in conn.execute("SELECT response_id, data FROM response_tokens")
            },
            "index": search_index_problems(conn),
        }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _check_text(text: str, what: str) -> None:
    assert text.strip(), f"{what} is blank"
    assert "\x00" not in text, f"{what} holds NUL"
    assert len(text.encode("utf-8")) <= MAX_MESSAGE_BYTES, f"{what} is over the limit"


def check_annotation(row: dict[str, Any]) -> None:
    """An annotation's fields (whose it may be: fuzz_access.check_access_rows)."""
    tags = json.loads(row["tags"])
    assert row["rating"] in (-1, 0, 1)
    assert len(tags) == len(set(tags)) <= 32
    for tag in tags:
        assert tag and len(tag) <= 64 and not any(c.isspace() or c == "\x00" for c in tag), tag
    assert len(row["note"]) <= 20_000 and "\x00" not in row["note"]
    assert row["bookmarked"] or tags or row["rating"] or row["note"], "an empty one is deleted"


def check_rows(tables: dict[str, Any], imported: set[str], grants: Grants) -> None:
    assert tables["integrity"] == [("ok",)]
    assert tables["foreign_keys"] == []
    assert tables["checkpoints"] == [], "no checkpoint outlives its stream"
    assert tables["index"] == [], "the search index is what the tables say"
    owners = {c["conversation_id"]: c["user_id"] for c in tables["conversations"]}
    for conversation in tables["conversations"]:
        assert conversation["user_id"] in USERS
        assert conversation["starred"] in (0, 1)
        assert _time(conversation["update_time"]) >= _time(conversation["create_time"])
        assert len(conversation["title"]) <= MAX_TITLE_CHARS, conversation["title"]
        assert "\x00" not in conversation["title"]
    by_id = {r["response_id"]: r for r in tables["responses"]}
    assert len(by_id) == len(tables["responses"]), "response ids are unique"
    check_access_rows(tables, grants)  # whose leaves, votes, marks and judgements
    for leaf in tables["leaves"]:
        if leaf["response_id"] is not None:
            held = by_id[leaf["response_id"]]["conversation_id"]
            assert held == leaf["conversation_id"], "a leaf is a response of its conversation"
    for vote in tables["votes"]:
        replies = [by_id[vote["response_a"]], by_id[vote["response_b"]]]
        assert replies[0]["response_id"] != replies[1]["response_id"]
        for reply in replies:
            assert reply["conversation_id"] == vote["conversation_id"]
            assert reply["sender"] == "model"
            assert reply["parent_response_id"] == vote["parent_response_id"]
    latest: dict[str, datetime] = {}
    for response in tables["responses"]:
        cid = response["conversation_id"]
        assert owners[cid] == response["user_id"], "a response belongs to its owner's forest"
        created = _time(response["create_time"])
        latest[cid] = max(latest.get(cid, created), created)
        assert _time(response["start_time"]) <= created, "started before it was stored"
        for flag in ("manual", "partial", "shared"):
            assert response[flag] in (0, 1), flag
        sampling = [response[c] for c in ("temperature", "top_p", "max_tokens", "seed")]
        assert all(v is None for v in sampling) or all(v is not None for v in sampling)
        assert response["sender"] in ("human", "model")
        if response["sender"] == "human":
            assert not response["manual"] and not response["partial"]
            assert sampling[0] is None and response["model_name"] == ""
            _check_text(response["message"], "a human message")
        elif response["manual"]:
            assert sampling[0] is None and response["model_name"] == ""
            _check_text(response["message"], "a manual reply")
        elif cid in imported:
            # Provenance as the import gave it; only its shape is the server's.
            assert 0 <= response["prefix_length"] <= len(response["message"])
            assert "\x00" not in response["message"]
        else:
            temperature, top_p, max_tokens, _ = sampling
            assert temperature is not None, "a sampled reply records its parameters"
            assert response["model_name"] == "grove-offline-ngram"
            assert 0 <= temperature <= 2 and 0 < top_p <= 1 and 1 <= max_tokens <= 4096
            assert response["token_count"] <= max_tokens
            stored = tables["tokens"].get(response["response_id"], [])
            assert "".join(text for text, _, _ in stored) == response["message"]
            assert bool(stored) == bool(response["message"]), "a streamed reply keeps tokens"
            prefix = response["prefix_length"]
            if prefix:
                assert stored[0][:2] == (response["message"][:prefix], None), "given, not sampled"
            assert response["token_count"] == len(stored) - bool(prefix)
        if response["sender"] == "human" or response["manual"]:
            assert response["prefix_length"] == 0
            assert response["response_id"] not in tables["tokens"]
        if response["response_id"] in tables["tokens"]:
            stored = tables["tokens"][response["response_id"]]
            assert "".join(text for text, _, _ in stored) == response["message"]
        parent = response["parent_response_id"]
        if parent is not None:
            assert parent in by_id, "the parent exists"
            assert by_id[parent]["conversation_id"] == cid, "the parent is in the same forest"
            assert by_id[parent]["seq"] < response["seq"], "the parent was created earlier"
            assert by_id[parent]["create_time"] < response["start_time"], "stored, then replied to"
            if response["shared"]:
                assert by_id[parent]["shared"], "sharing marks the whole path from the root"
        seen = {response["response_id"]}
        node = parent
        while node is not None:
            assert node not in seen, "a response is its own ancestor"
            seen.add(node)
            node = by_id[node]["parent_response_id"]
    for conversation in tables["conversations"]:
        cid = conversation["conversation_id"]
        if cid in latest:
            assert _time(conversation["update_time"]) >= latest[cid]
    for annotation in tables["annotations"]:
        check_annotation(annotation)


def check_view(
    view: chat_pb2.Conversation,
    row: dict[str, Any],
    rows: list[dict],
    annotations: dict[str, dict[str, Any]],
) -> None:
    """What GetConversation reports equals the table rows."""
    assert view.conversation_id == row["conversation_id"]
    assert view.title == row["title"] and view.starred == bool(row["starred"])
    assert view.create_time.ToDatetime(tzinfo=UTC) == _time(row["create_time"])
    assert view.update_time.ToDatetime(tzinfo=UTC) == _time(row["update_time"])
    assert view.response_count == len(rows) == len(view.responses)
    if view.HasField("leaf_response_id") and view.leaf_response_id:
        assert view.leaf_response_id in {r["response_id"] for r in rows}, "the leaf is stored"
    for response, stored in zip(view.responses, rows, strict=True):
        assert response.response_id == stored["response_id"]
        assert response.parent_response_id == (stored["parent_response_id"] or "")
        assert response.create_time.ToDatetime(tzinfo=UTC) == _time(stored["create_time"])
        for name in (
            "message",
            "sender",
            "query",
            "query_type",
            "model_name",
            "token_count",
            "prefix_length",
        ):
            assert getattr(response, name) == stored[name], name
        mark = annotations.get(stored["response_id"])
        assert response.HasField("annotation") == (mark is not None)
        if mark is not None:
            assert response.annotation == chat_pb2.Annotation(
                bookmarked=bool(mark["bookmarked"]),
                tags=json.loads(mark["tags"]),
                rating=mark["rating"],
                note=mark["note"],
                set_by_user_id=mark["user_id"],  # who set it (a writer's are theirs)
            )
        for name in ("manual", "partial", "shared"):
            assert getattr(response, name) == bool(stored[name]), name
        for name in ("time_to_first_token_seconds", "total_time_seconds"):
            assert getattr(response, name) == stored[name], name
        params = response.sampling_params
        if stored["temperature"] is None:
            assert not response.HasField("sampling_params")
        else:
            assert _same_float(params.temperature, _float32(stored["temperature"]))
            assert _same_float(params.top_p, _float32(stored["top_p"]))
            assert params.max_tokens == stored["max_tokens"]
            assert params.seed == stored["seed"] % 2**64


async def check_store(harness: Harness) -> None:
    """Checks every row of the database, and the RPCs' view of this sequence's forests.

    (Earlier sequences' conversations were checked after their own sequence; no later
    sequence can name them, since the id pools start afresh.)
    """
    tables = await asyncio.to_thread(read_tables, harness.server.config.db)
    check_rows(tables, harness.imported, harness.grants)
    annotations = {a["response_id"]: a for a in tables["annotations"]}
    responses: dict[str, list[dict]] = {}
    for response in tables["responses"]:
        responses.setdefault(response["conversation_id"], []).append(response)
    touched = [c for c in tables["conversations"] if c["conversation_id"] in harness.pools.owners]
    for user, sdk in harness.clients.items():
        await probe_listing(sdk.stub, user, tables)  # listing and search: what they may read
        for row in touched:
            cid = row["conversation_id"]
            role = role_of(tables, cid, user)
            if role is not None:
                view = await sdk.stub.GetConversation(
                    chat_pb2.GetConversationRequest(conversation_id=cid)
                )
                rows = responses.get(cid, [])
                check_view(view, row, rows, annotations)
                assert view.caller_user_id == user
                if role != "owner":
                    some = rows[0]["response_id"] if rows else None
                    await probe_roles(sdk.stub, cid, role, some)
            else:
                try:
                    await sdk.stub.GetConversation(
                        chat_pb2.GetConversationRequest(conversation_id=row["conversation_id"])
                    )
                except grpc.aio.AioRpcError as error:
                    assert error.code() == grpc.StatusCode.NOT_FOUND
                else:
                    raise AssertionError(f"{user} reads another user's conversation")
    after = await asyncio.to_thread(read_tables, harness.server.config.db)
    for table in ("conversations", "responses", "annotations", "votes", "shares"):
        assert after[table] == tables[table], f"a refused probe changed {table}"


# -- the test ------------------------------------------------------------------------------------


@settings(max_examples=5, derandomize=True, database=None)
@given(data=st.data())
def test_every_rpc_can_be_fuzzed(data: st.DataObject) -> None:
    """A new RPC must get a request builder and a step here before it ships."""
    rpcs = {m.name for m in SERVICE.methods}
    assert set(STEP_KINDS) == rpcs | {"CancelStream", "AddResponseBurst"}
    pools = Pools(owners={"0" * 32: "alice"}, responses={"1" * 32: "0" * 32})
    for method in SERVICE.methods:
        request = build_request(method.name, data.draw, pools, "alice")
        assert request.DESCRIPTOR.full_name == method.input_type.full_name, method.name


def test_random_requests_keep_the_store_consistent(tmp_path: Path) -> None:
    """60 sequences of up to 12 steps against one server; its database lives throughout.

    Hypothesis drives synchronous tests, so the server and every sequence run on one event
    loop of this test's own (as tests/client/test_forest_properties.py runs its scenarios).
    Derandomized: the same sequences every run. A refusal other than INVALID_ARGUMENT,
    NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION or RESOURCE_EXHAUSTED (CANCELLED only for
    a call the test cancelled itself) fails, as does any broken invariant of the store.
    """
    loop = asyncio.new_event_loop()
    config = ServerConfig(
        port=0,
        db=tmp_path / "grove.sqlite3",
        api_keys={hash_key(key): user for user, key in USERS.items()},
        max_message_bytes=MAX_MESSAGE_BYTES,
        max_title_chars=MAX_TITLE_CHARS,
        offline_min_reply_tokens=0,
        # Slow enough that background streams overlap later steps (stop, delete, cancel).
        token_delay_ms=3.0,
        max_streams=3,
        checkpoint_interval_ms=2.0,
        # A resumable stream the test cancels ends (partial) soon after, as others do.
        resume_grace_seconds=0.05,
    )
    server = GroveServer(config)

    async def start() -> Harness:
        await server.start()
        clients = {
            user: Client(api_host=server.address, api_key=key) for user, key in USERS.items()
        }
        return Harness(server, clients)

    async def stop(harness: Harness) -> None:
        for sdk in harness.clients.values():
            await sdk.close()
        await server.stop()

    harness = loop.run_until_complete(start())
    try:

        @settings(
            max_examples=60,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=st.data())
        def sequences(data: st.DataObject) -> None:
            loop.run_until_complete(run_sequence(data, harness))

        def starting_with(first: str) -> Callable[[], None]:
            """One sequence (one example) whose first step is `first`."""

            @settings(
                max_examples=1,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(data=st.data())
            def sequence(data: st.DataObject) -> None:
                loop.run_until_complete(run_sequence(data, harness, first=first))

            return sequence

        sequences()
        # The draws depend on what earlier steps left (pools, streams still running), so
        # timing may keep a kind from being drawn: each one missed starts a sequence.
        for missed in [kind for kind in STEP_KINDS if kind not in harness.calls]:
            starting_with(missed)()
        assert set(harness.calls) == set(STEP_KINDS), "every RPC was fuzzed"
        for role in sorted({"reader", "writer"} - harness.grants.roles):
            loop.run_until_complete(granted_sequence(harness, role))
        assert harness.grants.roles == {"reader", "writer"}, "grants of both roles succeeded"
    finally:
        loop.run_until_complete(stop(harness))
        loop.close()


async def eventually(condition: Callable[[], Any], attempts: int = 400) -> None:
    """Polls `condition` (maybe async) every 5 ms until it holds or attempts run out."""
    for _ in range(attempts):
        outcome = condition()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.005)


async def test_cancel_while_a_checkpoint_batch_is_written_keeps_the_reply(make_server) -> None:
    """What the fuzz test found: a stream cancelled right after its last token.

    Its reply was done but not stored; it waited for the checkpoint batch in flight (which
    held this stream's text) and the cancellation ended it there: the reply was lost and
    the batch's checkpoint stayed behind. Here the batch is held open on purpose, the client
    cancels while the stream waits for it, and the batch is then let go.
    """
    running = make_server(token_delay_ms=1.0, checkpoint_interval_ms=600_000.0)
    saving, release, handler_cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()
    save_checkpoints = running.store.save_checkpoints
    add_response = running.servicer.AddResponse

    async def held_save(checkpoints: Any, **kwargs: Any) -> None:
        saving.set()
        await release.wait()
        await save_checkpoints(checkpoints, **kwargs)

    async def watched_add_response(request: Any, context: Any) -> None:
        try:
            await add_response(request, context)
        except asyncio.CancelledError:
            handler_cancelled.set()
            raise

    running.store.save_checkpoints = held_save
    running.servicer.AddResponse = watched_add_response  # registered by start()
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            created = await sdk.stub.CreateConversation(chat_pb2.CreateConversationRequest())
            request = chat_pb2.AddResponseRequest(
                conversation_id=created.conversation_id, message="hello"
            )
            request.sampling_params.max_tokens = 3
            call = sdk.stub.AddResponse(request)
            async for message in call:
                if message.WhichOneof("response") == "token" and message.token.HasField("token"):
                    break
            (stream,) = running.servicer.streams.active
            batch = asyncio.create_task(running.servicer.checkpoint_now())
            async with asyncio.timeout(10):
                await saving.wait()
                # Sampling ends; the stream then waits for the batch (or stores at once).
                await eventually(lambda: stream.closed)
                call.cancel()
                await handler_cancelled.wait()
                release.set()
                await batch

        async def settled() -> bool:
            tables = await asyncio.to_thread(read_tables, running.config.db)
            return not tables["checkpoints"] and len(tables["responses"]) == 2

        await eventually(settled)
        tables = await asyncio.to_thread(read_tables, running.config.db)
        assert tables["checkpoints"] == [], "no checkpoint outlives its stream"
        human, reply = tables["responses"]
        assert reply["sender"] == "model" and reply["parent_response_id"] == human["response_id"]
        assert reply["token_count"] == 3, "the sampled reply was kept"
    finally:
        release.set()
        await running.stop()
