"""Research features end to end: annotations, search, stored tokens, branches, imports.

Everything runs against a real server on a loopback port with a real SQLite file (the
OpenAI-compatible cases against tests/fake_openai.py, a real HTTP server). Rows of the
database are read with an independent `sqlite3` connection where "nothing was stored" or
"the row is gone" must be checked rather than trusted.
"""

from __future__ import annotations

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
from hypothesis import given, settings
from hypothesis import strategies as st

from grove_explorer.client import (
    BackendError,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    SamplingParams,
)
from grove_explorer.client.grok import Conversation, Response
from grove_explorer.client.research import Annotation, SearchHit
from grove_explorer.client.service import ConversationService
from grove_explorer.client.streams import TokenInfo, TokensEvent
from grove_explorer.protos import chat_pb2, sampler_public_pb2
from grove_explorer.server.auth import hash_key
from grove_explorer.server.backends import ModelsConfig
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.search import QueryError, parse_query
from tests.conftest import openai_backend
from tests.fake_openai import DEFAULT_REPLY, FakeOpenAI, token_logprob
from tests.server.test_store import search_index_problems

OFFLINE = "grove-offline-ngram"
MARKERS = ("\ue000", "\ue001")
SENTENCE = re.compile(r"[A-Za-z][^\n]{10,}\.")


# -- helpers -------------------------------------------------------------------------------


async def new_conversation(client: Client) -> Conversation:
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    return conversation


async def sample(
    conversation: Conversation,
    message: str = "",
    *,
    parent: str | None = None,
    max_tokens: int = 12,
    seed: int | None = None,
    top_logprobs: int = 0,
    prefix: str = "",
    model_name: str | None = None,
) -> tuple[Response, list[TokenInfo]]:
    """Samples one reply; returns it with the tokens the stream delivered."""
    stream = conversation.sample(
        message,
        parent_response_id=parent,
        sampling=SamplingParams(max_tokens=max_tokens, seed=seed),
        top_logprobs=top_logprobs,
        prefix=prefix,
        model_name=model_name,
    )
    streamed: list[TokenInfo] = []
    async for event in stream:
        if isinstance(event, TokensEvent):
            streamed.extend(event.tokens)
    return await stream.future, streamed


async def manual(
    client: Client, conversation: Conversation, message: str, parent: str | None = None, **kw: Any
) -> Response:
    """Stores a hand-written model reply and returns it as an SDK response."""
    stored = await client.stub.AddModelResponse(
        chat_pb2.AddModelResponseRequest(
            conversation_id=conversation.conversation_id,
            message=message,
            parent_response_id=parent or "",
            **kw,
        )
    )
    response = Response(stored, conversation, client.stub)
    conversation.register_response(response)
    return response


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def index_problems(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return search_index_problems(conn)


def ids_of(hits: list[SearchHit]) -> set[str]:
    return {hit.response_id for hit in hits if hit.response_id}


def assert_highlights(hit: SearchHit, *words: str) -> None:
    """Every highlight marks one of `words` in the snippet (`word*` marks a prefix)."""
    assert hit.highlights, f"no highlight in {hit.snippet!r}"
    for start, end in hit.highlights:
        assert 0 <= start < end <= len(hit.snippet)
        found = hit.snippet[start:end].lower()
        assert any(
            found.startswith(w[:-1].lower()) if w.endswith("*") else found == w.lower()
            for w in words
        ), f"{found!r} highlighted in {hit.snippet!r}, expected one of {words}"
    assert not any(marker in hit.snippet for marker in MARKERS), "FTS markers leaked"


def two_user_server(make_server: Callable[..., GroveServer], **overrides: Any) -> GroveServer:
    return make_server(
        api_keys={hash_key("key-alice"): "alice", hash_key("key-bob"): "bob"}, **overrides
    )


@contextlib.asynccontextmanager
async def running(server: GroveServer) -> AsyncIterator[GroveServer]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


Pair = tuple[GroveServer, Client, Client]


@pytest.fixture
async def pair(make_server: Callable[..., GroveServer]) -> AsyncIterator[Pair]:
    """A running server with two users, Alice and Bob, each with a client."""
    server = two_user_server(make_server)
    async with (
        running(server),
        Client(api_host=server.address, api_key="key-alice") as alice,
        Client(api_host=server.address, api_key="key-bob") as bob,
    ):
        yield server, alice, bob


# -- annotations ---------------------------------------------------------------------------


async def test_annotation_set_merge_and_clear_round_trip(client: Client, server: GroveServer):
    conversation = await new_conversation(client)
    reply, _ = await sample(conversation, "Tell me about apple trees.", seed=1)
    assert reply.annotation == Annotation() and reply.annotation.empty

    assert await reply.annotate(bookmarked=True) == Annotation(bookmarked=True)
    # None keeps a field: each call changes only what it names.
    assert await reply.annotate(tags=["idea", "check-later"]) == Annotation(
        bookmarked=True, tags=("idea", "check-later")
    )
    note = "Compare with **pears**; see [link](x) \x1b[31m"
    merged = await reply.annotate(rating=1, note=note)
    assert merged == Annotation(bookmarked=True, tags=("idea", "check-later"), rating=1, note=note)
    assert reply.annotation == merged

    # After a reload (a new client session), GetConversation carries the annotation.
    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    assert reloaded.get_response(reply.response_id).annotation == merged
    human = reloaded.get_response(reply.parent_response_id)
    assert not human.proto.HasField("annotation"), "only the annotated response has one"

    assert (await reply.annotate(rating=-1, bookmarked=False)).rating == -1
    # Clearing every field deletes the row, and the response then carries none.
    cleared = await reply.annotate(bookmarked=False, tags=[], rating=0, note="")
    assert cleared.empty
    assert rows(server.config.db, "SELECT COUNT(*) FROM annotations") == [(0,)]
    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    assert not reloaded.get_response(reply.response_id).proto.HasField("annotation")
    assert index_problems(server.config.db) == []


async def test_duplicate_tags_collapse_in_order_and_limits_are_inclusive(client: Client):
    conversation = await new_conversation(client)
    reply = await manual(client, conversation, "A hand-written reply.")
    collapsed = await reply.annotate(tags=["idea", "next", "idea", " idea ", "next"])
    assert collapsed.tags == ("idea", "next")
    at_limit = [f"t{i}-" + "x" * 60 for i in range(32)]
    assert all(len(tag) <= 64 for tag in at_limit)
    assert (await reply.annotate(tags=at_limit, note="n" * 20_000)).tags == tuple(at_limit)
    # 33 names that collapse to 32 distinct tags are fine too.
    assert len((await reply.annotate(tags=[*at_limit, at_limit[0]])).tags) == 32


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"rating": 2}, r"rating must be -1, 0 or \+1, not 2\."),
        ({"rating": -5}, r"rating must be -1, 0 or \+1, not -5\."),
        ({"tags": [""]}, r"A tag is empty\."),
        ({"tags": ["ok", "   "]}, r"A tag is empty\."),
        (
            {"tags": ["two words"]},
            r"Tag 'two words' is not usable: tags are single words of at most 64 characters\.",
        ),
        ({"tags": ["tab\there"]}, r"Tag 'tab\\there' is not usable: .*\."),
        ({"tags": ["nul\x00"]}, r"Tag 'nul\\x00' is not usable: .*\."),
        ({"tags": ["x" * 65]}, r"Tag 'x{40}…' is not usable: .*\."),
        ({"tags": [f"t{i}" for i in range(33)]}, r"A response may have at most 32 tags, not 33\."),
        ({"note": "n" * 20_001}, r"The note is 20001 characters long; the limit is 20000\."),
        ({"note": "a\x00b"}, r"The note contains a NUL character\."),
    ],
)
async def test_bad_annotations_are_refused_with_a_sentence(
    client: Client, server: GroveServer, change: dict[str, Any], pattern: str
) -> None:
    conversation = await new_conversation(client)
    reply = await manual(client, conversation, "Something to mark.")
    before = await reply.annotate(bookmarked=True, tags=["keep"], note="kept")
    with pytest.raises(InvalidArgumentError) as info:
        await reply.annotate(**change)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert re.fullmatch(pattern, info.value.message), info.value.message
    assert SENTENCE.fullmatch(info.value.message)
    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    assert reloaded.get_response(reply.response_id).annotation == before
    assert reply.annotation == before, "a refused change leaves the cached annotation"


@pytest.mark.parametrize("change", [{"tags": ["ok", "bad \ud800"]}, {"note": "bad \ud800"}])
async def test_sdk_refuses_unencodable_annotations_before_sending(
    client: Client, change: dict[str, Any]
) -> None:
    conversation = await new_conversation(client)
    reply = await manual(client, conversation, "Something to mark.")
    with pytest.raises(InvalidArgumentError, match=r"^The text cannot be sent: it holds U\+D800"):
        await reply.annotate(**change)
    with pytest.raises(InvalidArgumentError, match=r"^The text cannot be sent: it holds U\+D800"):
        await client.grok.search("bad \ud800")
    reloaded = await client.grok.get_conversation(conversation.conversation_id)
    assert reloaded.get_response(reply.response_id).annotation.empty


async def test_annotating_a_response_of_another_conversation_is_refused(client: Client):
    first = await new_conversation(client)
    second = await new_conversation(client)
    theirs = await manual(client, first, "In the first conversation.")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await client.stub.AnnotateResponse(
            chat_pb2.AnnotateResponseRequest(
                conversation_id=second.conversation_id,
                response_id=theirs.response_id,
                annotation=chat_pb2.Annotation(bookmarked=True),
            )
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == (
        f"Response '{theirs.response_id}' is not in conversation '{second.conversation_id}'."
    )
    await first.load()
    assert first.get_response(theirs.response_id).annotation.empty


async def test_service_annotate_updates_the_forest_node(client: Client) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(cid, "Bookmark me.", None, sampling=SamplingParams(max_tokens=4))
    assert reply is not None
    node = await service.annotate(cid, reply.response_id, bookmarked=True, tags=["a"])
    assert node.bookmarked and node.annotation.tags == ("a",)
    assert service.forest(cid).responses[reply.response_id].annotation == node.annotation
    node = await service.annotate(cid, reply.response_id, rating=-1)
    assert node.annotation == Annotation(bookmarked=True, tags=("a",), rating=-1)


async def test_users_cannot_annotate_or_find_each_others_marks(pair: Pair) -> None:
    _, alice, bob = pair
    mine = await new_conversation(alice)
    reply, _ = await sample(mine, "Alice's secret xylophone plan", seed=3)
    await mine.set_title("Alice's zeppelin notebook")
    marked = await reply.annotate(
        bookmarked=True, tags=["alicetag"], rating=1, note="private quokka note"
    )
    theirs = await new_conversation(bob)
    bob_reply = await manual(bob, theirs, "Bob's xylophone is small")

    async def refusal(cid: str, rid: str) -> tuple[grpc.StatusCode, str]:
        """Bob's attempt to annotate, its status and sentence with the ids blanked."""
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await bob.stub.AnnotateResponse(
                chat_pb2.AnnotateResponseRequest(
                    conversation_id=cid,
                    response_id=rid,
                    annotation=chat_pb2.Annotation(note="Bob was here"),
                )
            )
        details = (info.value.details() or "").replace(cid, "<cid>")
        return info.value.code(), details.replace(rid, "<rid>")

    # Bob's refusal with Alice's ids is the refusal for random ids.
    random_cid, random_rid = uuid.uuid4().hex, uuid.uuid4().hex
    on_alice = await refusal(mine.conversation_id, reply.response_id)
    assert on_alice == await refusal(random_cid, random_rid)
    assert on_alice[0] == grpc.StatusCode.NOT_FOUND
    own = theirs.conversation_id
    on_alice = await refusal(own, reply.response_id)
    assert on_alice == await refusal(own, random_rid)
    assert on_alice[0] == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(NotFoundError):
        await bob.grok.get_conversation(mine.conversation_id)

    # Nothing of Alice's shows in Bob's searches: words, tags, notes, titles, filters.
    for query in (
        "secret",
        "quokka",
        "alicetag",
        "zeppelin",
        "tag:alicetag",
        "bookmarked",
        "rated:+",
        f"model:{OFFLINE}",
    ):
        assert await bob.grok.search(query) == [], query
    bobs = await bob.grok.search("xylophone")
    assert ids_of(bobs) == {bob_reply.response_id}
    assert {h.conversation_id for h in await bob.grok.search("sender:model")} == {
        theirs.conversation_id
    }
    # ... while Alice finds them all (so the checks above are not vacuous).
    fields = {h.field for h in await alice.grok.search("quokka OR alicetag OR zeppelin")}
    assert fields == {"note", "tag", "title"}
    assert ids_of(await alice.grok.search("xylophone")) == {reply.parent_response_id}
    hits = await alice.grok.search("bookmarked")
    assert [(h.response_id, h.annotation) for h in hits] == [(reply.response_id, marked)]

    reloaded = await alice.grok.get_conversation(mine.conversation_id)
    assert reloaded.get_response(reply.response_id).annotation == marked


# -- search --------------------------------------------------------------------------------


@dataclass
class Orchard:
    """Two conversations with known words, annotations and one partial reply."""

    server: GroveServer
    client: Client
    a: Conversation
    a_human: Response  # "How do I prune apple trees in winter?" bookmarked, tag orchard
    a_reply: Response  # sampled, rated -1
    a_manual: Response  # hand-written, rated +1, tags orchard winter, a note on frost
    a_partial: Response  # hand-written, partial
    b: Conversation
    b_human: Response  # "Pear grafting notes for the spring"
    b_reply: Response  # sampled

    @property
    def sampled(self) -> set[str]:
        return {self.a_reply.response_id, self.b_reply.response_id}

    def by_hand(self, hits: list[SearchHit]) -> set[str]:
        """The ids hit apart from the sampled replies (whose words the model chose)."""
        return ids_of(hits) - self.sampled


@pytest.fixture
async def orchard(server: GroveServer, client: Client) -> Orchard:
    a = await new_conversation(client)
    a_reply, _ = await sample(a, "How do I prune apple trees in winter?", seed=11)
    a_human = a.get_response(a_reply.parent_response_id)
    a_manual = await manual(
        client,
        a,
        "Prune apple branches after the frost; keep the shears sharp.",
        a_human.response_id,
    )
    a_partial = await manual(
        client, a, "Pruning shears rust in wet", a_human.response_id, partial=True
    )
    b = await new_conversation(client)
    b_reply, _ = await sample(b, "Pear grafting notes for the spring", seed=12)
    b_human = b.get_response(b_reply.parent_response_id)
    await a_human.annotate(bookmarked=True, tags=["orchard"])
    await a_manual.annotate(rating=1, tags=["orchard", "winter"], note="Ask about frost dates.")
    await a_reply.annotate(rating=-1)
    return Orchard(server, client, a, a_human, a_reply, a_manual, a_partial, b, b_human, b_reply)


async def test_each_filter_alone_and_with_words(orchard: Orchard) -> None:
    o = orchard
    search = o.client.grok.search
    humans = {o.a_human.response_id, o.b_human.response_id}
    sampled = {o.a_reply.response_id, o.b_reply.response_id}

    hits = await search("sender:human")
    assert ids_of(hits) == humans and all(h.sender == "human" for h in hits)
    assert all(h.field == "message" and not h.highlights for h in hits)
    assert o.by_hand(await search("sender:human prune")) == {o.a_human.response_id}
    by_model = await search("sender:model prune")
    assert o.a_manual.response_id in ids_of(by_model)
    assert all(h.sender == "model" for h in by_model)

    hits = await search(f"model:{OFFLINE}")
    assert ids_of(hits) == sampled and all(h.model_name == OFFLINE for h in hits)
    word = max(re.findall(r"[A-Za-z]{4,}", o.a_reply.message), key=len)
    assert o.a_reply.response_id in ids_of(await search(f"{word} model:{OFFLINE}"))
    assert o.a_reply.response_id not in ids_of(await search(f"{word} sender:human"))
    assert await search("model:gpt-9") == []

    assert ids_of(await search("tag:orchard")) == {o.a_human.response_id, o.a_manual.response_id}
    assert ids_of(await search("tag:winter")) == {o.a_manual.response_id}
    assert ids_of(await search("tag:orchard tag:winter")) == {o.a_manual.response_id}
    assert ids_of(await search("tag:orchard apple")) == {
        o.a_human.response_id,
        o.a_manual.response_id,
    }
    assert await search("tag:orch") == [], "tag: is an exact tag, not a prefix"

    assert ids_of(await search("rated:+")) == {o.a_manual.response_id}
    assert ids_of(await search("rated:-")) == {o.a_reply.response_id}
    assert o.by_hand(await search("rated:+1 frost")) == {o.a_manual.response_id}
    assert await search("rated:- sender:human") == []

    hits = await search("bookmarked")
    assert ids_of(hits) == {o.a_human.response_id}
    assert hits[0].annotation == Annotation(bookmarked=True, tags=("orchard",))
    assert ids_of(await search("bookmarked apple")) == {o.a_human.response_id}
    assert await search("bookmarked pear") == []

    hits = await search("partial")
    assert ids_of(hits) == {o.a_partial.response_id} and hits[0].partial
    assert ids_of(await search("partial shears")) == {o.a_partial.response_id}
    assert ids_of(await search("shears")) == {o.a_manual.response_id, o.a_partial.response_id}

    combined = await search("prune sender:model rated:+ tag:winter")
    assert ids_of(combined) == {o.a_manual.response_id}
    for hit in combined:
        assert_highlights(hit, "prune")


async def test_words_phrases_prefixes_and_operators(orchard: Orchard) -> None:
    o = orchard
    search = o.client.grok.search

    hits = await search("frost")
    assert {(h.field, h.response_id) for h in hits if h.response_id not in o.sampled} == {
        ("message", o.a_manual.response_id),
        ("note", o.a_manual.response_id),
    }
    for hit in hits:
        assert hit.conversation_id == o.a.conversation_id
        assert_highlights(hit, "frost")
    assert o.by_hand(await search("FROST")) == {o.a_manual.response_id}, "case-insensitive"

    hits = await search('"apple trees"')
    assert o.by_hand(hits) == {o.a_human.response_id}
    for hit in hits:
        assert_highlights(hit, "apple trees")  # a phrase is marked as one range
    assert o.by_hand(await search('"trees apple"')) == set()

    hits = await search("shear*")
    assert ids_of(hits) == {o.a_manual.response_id, o.a_partial.response_id}
    for hit in hits:
        assert_highlights(hit, "shear*")

    hits = await search("pear OR frost")
    assert {o.b_human.response_id, o.a_manual.response_id} <= ids_of(hits)
    for hit in hits:
        assert_highlights(hit, "pear", "frost")
    both = await search("apple AND winter")
    assert o.a_human.response_id in ids_of(both)
    assert o.a_manual.response_id not in ids_of(both)
    without = ids_of(await search("apple NOT shears"))
    assert o.a_human.response_id in without
    assert not {o.a_manual.response_id, o.a_partial.response_id} & without
    # Punctuation inside a word is text, not FTS5 syntax.
    assert o.by_hand(await search("frost;")) == {o.a_manual.response_id}
    assert ids_of(await search("(apple")) >= {o.a_human.response_id}


async def test_title_hits_follow_set_title_and_rename(orchard: Orchard) -> None:
    o = orchard
    search = o.client.grok.search
    assert await search("journal") == []
    await o.b.set_title("Orchard journal")
    hits = [h for h in await search("journal") if h.field == "title"]
    assert len(hits) == 1
    (hit,) = hits
    assert (hit.conversation_id, hit.conversation_title, hit.response_id) == (
        o.b.conversation_id,
        "Orchard journal",
        "",
    )
    assert hit.snippet == "Orchard journal"
    assert_highlights(hit, "journal")
    # Message hits name their conversation's title too.
    (pear,) = await search("pear")
    assert pear.conversation_title == "Orchard journal"

    await o.b.set_title("Garden almanac")
    assert await search("journal") == []
    (hit,) = await search("almanac")
    assert hit.field == "title" and hit.conversation_title == "Garden almanac"
    assert_highlights(hit, "almanac")
    assert index_problems(o.server.config.db) == []


async def test_tag_and_note_hits_follow_reannotation_and_vanish_when_cleared(
    orchard: Orchard,
) -> None:
    o = orchard
    search = o.client.grok.search
    rid = o.a_manual.response_id
    assert ("note", rid) in {(h.field, h.response_id) for h in await search("dates")}
    tag_hits = [h for h in await search("winter") if h.field == "tag"]
    assert [h.response_id for h in tag_hits] == [rid]
    assert_highlights(tag_hits[0], "winter")

    await o.a_manual.annotate(note="Ask about the thaw.", tags=["greenhouse"])
    assert await search("dates") == []
    assert {h.field for h in await search("winter")} == {"message"}, "no tag row says it"
    (note,) = await search("thaw")
    assert (note.field, note.response_id, note.snippet) == ("note", rid, "Ask about the thaw.")
    assert_highlights(note, "thaw")
    (tag,) = await search("greenhouse")
    assert (tag.field, tag.snippet) == ("tag", "greenhouse")
    assert ids_of(await search("tag:greenhouse")) == {rid}
    assert await search("tag:winter") == []

    await o.a_manual.annotate(bookmarked=False, tags=[], rating=0, note="")
    assert await search("thaw") == []
    assert await search("greenhouse") == []
    assert await search("rated:+") == []
    assert index_problems(o.server.config.db) == []


async def test_deleted_conversations_vanish_from_search(orchard: Orchard) -> None:
    o = orchard
    search = o.client.grok.search
    await o.b.set_title("Pear journal")
    await o.b_human.annotate(tags=["grafting"], note="pear scions")
    assert len(await search("scions")) == 1
    assert len(await search("pear")) == 3  # title, message, note
    b_id = o.b.conversation_id
    await o.b.delete()
    assert await search("pear") == []
    assert await search("scions") == []
    assert await search("tag:grafting") == []
    assert ids_of(await search("sender:human")) == {o.a_human.response_id}
    db = o.server.config.db
    assert rows(db, "SELECT COUNT(*) FROM search_rows WHERE conversation_id = ?", b_id) == [(0,)]
    assert index_problems(db) == []


@pytest.mark.parametrize(
    ("query", "pattern"),
    [
        ('"apple trees', r'.*unmatched double quote: close the phrase with "\.'),
        ('apple "pruning shears', r".*unmatched double quote.*\."),
        ("a OR OR b", r".*OR OR: an operator needs a word or phrase on each side.*\."),
        ("a OR NOT b", r".*OR NOT: an operator needs a word or phrase on each side.*\."),
        ("NOT apple", r".*NOT needs a word before it \(apple NOT pear\).*\."),
        ("OR NOT apple", r".*OR NOT: an operator needs.*\."),
        ("sender:robot", r".*sender: takes human or model, not 'robot'\."),
        ("sender:" + "r" * 900, r".*sender: takes human or model, not 'r{40}…'\."),
        ("rated:5", r".*rated: takes \+ or -, not '5'\."),
        ("model:", r".*model: needs a model name.*\."),
        ("tag:", r".*tag: needs a tag, e\.g\. tag:idea\."),
        ("", r".*The search is empty: type words to find, or a filter\."),
        ("   \t", r".*The search is empty.*\."),
        ("OR", r".*The search is empty.*\."),
        ('""', r".*The search is empty.*\."),
        ("x" * 1001, r"The query is 1001 characters long; the limit is 1000\."),
        ("apple\x00", r".*The query contains a NUL character\."),
    ],
)
async def test_invalid_queries_are_refused_with_a_sentence(
    client: Client, query: str, pattern: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        await client.grok.search(query)
    message = info.value.message
    assert re.fullmatch(pattern, message), message
    assert SENTENCE.fullmatch(message) and len(message) < 400, message


# Pieces of FTS5 syntax (and of ours) to combine into hostile queries.
WORDS = st.sampled_from(
    [
        *("OR", "AND", "NOT", "NEAR", "NEAR(a", '"', '""', '"a b"', '"*"', "*", "**", "b*"),
        *("(", ")", "^x", "x:y", "col:x", "-", "+", "'", "\\", "{a}", "\ue000", "é", "a"),
        *("tag:z", "sender:human", "bookmarked"),
    ]
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(query=st.one_of(st.lists(WORDS, max_size=7).map(" ".join), st.text(max_size=30)))
def test_every_query_the_parser_accepts_is_valid_fts5(query: str) -> None:
    """Refused with a sentence (QueryError) or a MATCH expression FTS5 runs: never its error."""
    try:
        parsed = parse_query(query)
    except QueryError as error:
        assert SENTENCE.fullmatch(str(error)), str(error)
        return
    if parsed.match is None:
        assert parsed.filters.on_responses
        return
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(text)")
        conn.execute("INSERT INTO t VALUES ('a b x y z')")
        conn.execute("SELECT * FROM t WHERE t MATCH ?", (parsed.match,)).fetchall()


async def test_limit_out_of_range_is_refused_with_a_sentence(client: Client) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^limit must be between 0 .* not -1; .*\.$"):
        await client.grok.search("apple", limit=-1)
    with pytest.raises(InvalidArgumentError, match=r"^limit must be between .* not 10001; "):
        await client.grok.search("apple", limit=10_001)
    with pytest.raises(InvalidArgumentError, match=r"^offset cannot be negative \(-1\)\.$"):
        await client.grok.search("apple", offset=-1)


async def test_limit_is_respected(client: Client) -> None:
    conversation = await new_conversation(client)
    for i in range(8):
        await manual(client, conversation, f"lantern number {i}")
    assert len(await client.grok.search("lantern", limit=3)) == 3
    assert len(await client.grok.search("lantern")) == 8
    assert len(await client.grok.search("lantern", limit=10_000)) == 8
    assert len(await client.grok.search("sender:model", limit=5)) == 5
    service = ConversationService(client)
    assert len(await service.search("lantern", limit=2)) == 2


async def test_jump_to_a_hit_opens_its_conversation_on_that_path(orchard: Orchard) -> None:
    o = orchard
    service = ConversationService(o.client)
    (hit,) = await service.search("pear")
    forest = await service.jump_to(hit.conversation_id, hit.response_id)
    assert forest is service.forest(o.b.conversation_id)
    assert hit.response_id in [node.response_id for node in forest.current_path]
    # A hit in another branch of an open conversation moves the path there.
    await service.open(o.a.conversation_id)
    (partial,) = await service.search("partial")
    forest = await service.jump_to(partial.conversation_id, partial.response_id)
    assert partial.response_id in [node.response_id for node in forest.current_path]
    # A title hit (no response) opens the conversation as it is.
    assert (await service.jump_to(o.b.conversation_id, None)) is service.forest(o.b.conversation_id)


async def test_markup_in_stored_text_comes_back_as_plain_text(client: Client) -> None:
    conversation = await new_conversation(client)
    text = "[bold red]lantern[/] \x1b[31mred\x1b[0m <b>lantern</b> **lantern** `lantern` \\n"
    stored = await manual(client, conversation, text)
    await stored.annotate(note="[link]lantern[/link] \x1b]8;;x\x1b\\")
    hits = await client.grok.search("lantern")
    assert {h.field for h in hits} == {"message", "note"}
    for hit in hits:
        assert_highlights(hit, "lantern")
    (message,) = [h for h in hits if h.field == "message"]
    assert message.snippet == text, "short texts come back whole and exactly"
    assert message.message == text
    (note,) = [h for h in hits if h.field == "note"]
    assert "\x1b]8;;x\x1b\\" in note.snippet


async def test_long_messages_get_an_excerpt_around_the_match(client: Client) -> None:
    conversation = await new_conversation(client)
    words = [f"filler{i}" for i in range(200)]
    words[150] = "needle"
    await manual(client, conversation, " ".join(words))
    (hit,) = await client.grok.search("needle")
    assert len(hit.snippet) < 400 and "…" in hit.snippet
    assert_highlights(hit, "needle")


# -- tokens --------------------------------------------------------------------------------


async def test_stored_tokens_are_what_the_stream_delivered(client: Client) -> None:
    conversation = await new_conversation(client)
    reply, streamed = await sample(
        conversation, "Tell me about orchards.", max_tokens=24, seed=5, top_logprobs=3
    )
    stored = await reply.tokens()
    assert stored == streamed, "texts, logprobs and alternatives are kept exactly"
    assert "".join(t.text for t in stored) == reply.message
    assert len(stored) == reply.token_count
    assert all(t.logprob is not None and t.logprob <= 0 for t in stored)
    assert all(1 <= len(t.top) <= 3 for t in stored)
    assert any(len(t.top) > 1 for t in stored), "alternatives are present"

    service = ConversationService(client)
    await service.open(conversation.conversation_id)
    first = await service.tokens(conversation.conversation_id, reply.response_id)
    assert first == stored
    assert await service.tokens(conversation.conversation_id, reply.response_id) is first


async def test_human_and_manual_responses_have_no_tokens(client: Client) -> None:
    conversation = await new_conversation(client)
    reply, _ = await sample(conversation, "Hello there.", max_tokens=3)
    human = conversation.get_response(reply.parent_response_id)
    by_hand = await manual(client, conversation, "by hand", human.response_id)
    assert await human.tokens() == []
    assert await by_hand.tokens() == []


async def test_a_stopped_reply_keeps_the_tokens_it_stored(make_server) -> None:
    server = make_server(token_delay_ms=2.0, offline_min_reply_tokens=4096)
    async with running(server), Client(api_host=server.address) as client:
        conversation = await new_conversation(client)
        stream = conversation.sample(
            "Talk for a long while.",
            parent_response_id=None,
            sampling=SamplingParams(max_tokens=4000, seed=9),
            top_logprobs=2,
        )
        streamed: list[TokenInfo] = []
        async for event in stream:
            if isinstance(event, TokensEvent):
                if not streamed:
                    assert await stream.stop()
                streamed.extend(event.tokens)
        reply = await stream.future
        assert reply.partial and 0 < len(streamed) < 4000
        stored = await reply.tokens()
        assert stored == streamed
        assert "".join(t.text for t in stored) == reply.message


async def test_another_user_cannot_read_tokens(pair: Pair) -> None:
    _, alice, bob = pair
    mine = await new_conversation(alice)
    reply, _ = await sample(mine, "Alice's words", max_tokens=4)
    theirs = await new_conversation(bob)
    for cid, code in (
        (mine.conversation_id, grpc.StatusCode.NOT_FOUND),
        (theirs.conversation_id, grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await bob.stub.GetResponseTokens(
                chat_pb2.GetResponseTokensRequest(
                    conversation_id=cid, response_id=reply.response_id
                )
            )
        assert info.value.code() == code
    assert len(await reply.tokens()) == 4


# -- branching from a token ----------------------------------------------------------------


def pick_alternative(tokens: list[TokenInfo]) -> tuple[int, str]:
    """The first token (after the first) with an alternative other than itself."""
    for index, token in enumerate(tokens):
        others = [text for text, _ in token.top if text != token.text]
        if index and others:
            return index, others[0]
    raise AssertionError("no token has an alternative")


async def test_branch_from_token_on_the_offline_model(client: Client) -> None:
    service = ConversationService(client)
    forest = await service.new_conversation()
    cid = forest.conversation.conversation_id
    reply = await service.send(
        cid, "Tell me about pruning apple trees.", None, sampling=SamplingParams(max_tokens=16)
    )
    assert reply is not None
    tokens = await service.tokens(cid, reply.response_id)
    index, alternative = pick_alternative(tokens)
    prefix = "".join(t.text for t in tokens[:index]) + alternative

    branch = await service.branch_from_token(cid, reply.response_id, index, alternative)
    assert branch is not None
    assert branch.parent_id == reply.parent_id, "a sibling of the reply"
    assert branch.message.startswith(prefix) and len(branch.message) > len(prefix)
    assert branch.prefix_length == len(prefix)
    forest = service.forest(cid)
    assert forest.leaf_id == branch.response_id
    assert forest.children[reply.parent_id] == [reply.response_id, branch.response_id]

    stored = await service.tokens(cid, branch.response_id)
    assert stored[0] == TokenInfo(prefix, None, ())
    assert "".join(t.text for t in stored) == branch.message
    assert all(t.logprob is not None for t in stored[1:])
    assert branch.token_count == len(stored) - 1, "the prefix is given, not sampled"
    # The continuation joins the prefix like any next word.
    assert branch.message[len(prefix)] in " ,.;:!?\n"

    with pytest.raises(ValueError, match="outside the reply"):
        await service.branch_from_token(cid, reply.response_id, len(tokens), "x")
    with pytest.raises(ValueError, match="Only model replies"):
        await service.branch_from_token(cid, reply.parent_id, 0, "x")


async def test_a_branch_is_reproducible_with_its_seed(client: Client) -> None:
    conversation = await new_conversation(client)
    reply, tokens = await sample(conversation, "Grafting apple trees?", seed=21, top_logprobs=4)
    index, alternative = pick_alternative(tokens)
    prefix = "".join(t.text for t in tokens[:index]) + alternative
    parent = reply.parent_response_id
    first, first_tokens = await sample(
        conversation, parent=parent, prefix=prefix, seed=77, max_tokens=10
    )
    again, again_tokens = await sample(
        conversation, parent=parent, prefix=prefix, seed=77, max_tokens=10
    )
    assert first.message == again.message and first.response_id != again.response_id
    assert first_tokens == again_tokens
    assert first.prefix_length == again.prefix_length == len(prefix)
    assert first_tokens[0] == TokenInfo(prefix, None, ()), "the prefix streams first"
    assert await first.tokens() == first_tokens
    assert first.sampling_params == SamplingParams(
        temperature=first.sampling_params.temperature,
        top_p=first.sampling_params.top_p,
        max_tokens=10,
        seed=77,
    )


@pytest.mark.parametrize(
    ("prefix", "joins"),
    [
        ("Apple trees", " ,.;:!?\n"),  # known words: the n-gram context goes on
        ("Zyzzyva quixotic", " ,.;:!?\n"),  # unknown words: a fresh sentence, still spaced
        ("Apple trees ", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz,.;:!?\n"),
        ("First paragraph.\n\n", "ABCDEFGHIJKLMNOPQRSTUVWXYZ-\n*`"),
    ],
)
async def test_the_continuation_joins_the_prefix(client: Client, prefix: str, joins: str) -> None:
    conversation = await new_conversation(client)
    reply, _ = await sample(conversation, "Orchards?", prefix=prefix, seed=4, max_tokens=6)
    assert reply.message.startswith(prefix) and len(reply.message) > len(prefix)
    assert reply.message[len(prefix)] in joins, repr(reply.message)
    assert "  " not in reply.message


async def test_prefix_validation(make_server) -> None:
    server = make_server(max_message_bytes=1000)
    async with running(server), Client(api_host=server.address) as client:
        conversation = await new_conversation(client)
        for prefix, pattern in (
            ("a\x00b", r"prefix contains a NUL character\."),
            ("x" * 1001, r"prefix is 1001 bytes; the limit is 1000 bytes\."),
            ("é" * 501, r"prefix is 1002 bytes; the limit is 1000 bytes\."),
        ):
            for message in ("A question", ""):
                with pytest.raises(InvalidArgumentError) as info:
                    await sample(conversation, message, prefix=prefix)
                assert re.fullmatch(pattern, info.value.message), info.value.message
        assert rows(server.config.db, "SELECT COUNT(*) FROM responses") == [(0,)]
        reply, _ = await sample(conversation, "A question", prefix="x" * 1000, max_tokens=2)
        assert reply.prefix_length == 1000


async def test_a_backend_without_prefill_refuses_a_prefix(
    openai_server: GroveServer, fake_openai: FakeOpenAI
) -> None:
    async with Client(api_host=openai_server.address) as client:
        conversation = await new_conversation(client)
        with pytest.raises(FailedPreconditionError) as info:
            await sample(conversation, "Tell me a story", prefix="Once upon")
        assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "prefill" in info.value.message and "'fake'" in info.value.message
        assert SENTENCE.fullmatch(info.value.message)
        assert fake_openai.requests == [], "nothing was sent upstream"
        await conversation.load()
        assert conversation.responses == [], "not even the human message was stored"
        # The same server's offline model continues prefixes.
        reply, _ = await sample(
            conversation, "Tell me a story", prefix="Once upon", model_name=OFFLINE
        )
        assert reply.message.startswith("Once upon") and reply.model_name == OFFLINE


@pytest.mark.parametrize("prefill", ["continue_final_message", "trailing_assistant"])
async def test_prefill_sends_the_prefix_as_a_trailing_assistant_message(
    make_server, fake_openai: FakeOpenAI, prefill: str
) -> None:
    models = ModelsConfig(
        backends=(openai_backend(fake_openai, prefill=prefill),), default_model="fake"
    )
    server = make_server(models=models)
    async with running(server), Client(api_host=server.address) as client:
        conversation = await new_conversation(client)
        reply, streamed = await sample(conversation, "How do trees grow?", prefix="Trees grow")
        body = fake_openai.requests[-1]
        assert body["messages"][-2:] == [
            {"role": "user", "content": "How do trees grow?"},
            {"role": "assistant", "content": "Trees grow"},
        ]
        if prefill == "continue_final_message":
            assert body["continue_final_message"] is True
            assert body["add_generation_prompt"] is False
        else:
            assert "continue_final_message" not in body
            assert "add_generation_prompt" not in body
        assert reply.message == "Trees grow" + "".join(DEFAULT_REPLY)
        assert reply.prefix_length == len("Trees grow")
        assert reply.token_count == len(DEFAULT_REPLY)
        stored = await reply.tokens()
        assert stored == streamed
        assert stored[0] == TokenInfo("Trees grow", None, ())
        assert [t.text for t in stored[1:]] == DEFAULT_REPLY
        for i, token in enumerate(stored[1:]):
            assert token.logprob == pytest.approx(token_logprob(i), rel=1e-6)

        # Sampling under that reply without a prefix is an ordinary request: the path's
        # last (model) message must not be continued.
        await sample(conversation, parent=reply.response_id)
        body = fake_openai.requests[-1]
        assert body["messages"][-1] == {"role": "assistant", "content": reply.message}
        assert "continue_final_message" not in body


async def test_an_endpoint_that_closes_the_turn_fails_the_branch_and_stores_nothing(
    make_server, fake_openai: FakeOpenAI
) -> None:
    """llama-cpp-python's server with trailing_assistant starts a new turn after the prefix:
    its 'continuation' echoes the prompt and the template. That is refused, not stored."""
    models = ModelsConfig(
        backends=(openai_backend(fake_openai, prefill="trailing_assistant"),),
        default_model="fake",
    )
    server = make_server(models=models)
    question = "Write one sentence about oak trees in winter."
    async with running(server), Client(api_host=server.address) as client:
        conversation = await new_conversation(client)
        first, _ = await sample(conversation, question)
        human = first.parent_response_id
        fake_openai.reply_tokens = ["\n", question, " [/INST]", "\n\n"]
        with pytest.raises(BackendError) as info:
            await sample(conversation, parent=human, prefix="Oak trees are")
        error = info.value
        assert error.kind == "prefix_not_continued"
        assert error.code is grpc.StatusCode.FAILED_PRECONDITION
        assert "did not continue the prefix 'Oak trees are'" in error.message
        assert "[/INST]" in error.message and "nothing was stored" in error.message
        # An echo of the question without markers is caught too.
        fake_openai.reply_tokens = ["\n\n", question, " Oak trees"]
        with pytest.raises(BackendError, match="repeats the question"):
            await sample(conversation, parent=human, prefix="Oak trees are")
        await conversation.load()
        assert len(conversation.responses) == 2, "only the first exchange is stored"
        # A real continuation, long or short, streams and is stored.
        fake_openai.reply_tokens = [" bare", " and", " dormant", "."]
        reply, streamed = await sample(conversation, parent=human, prefix="Oak trees are")
        assert reply.message == "Oak trees are bare and dormant."
        assert [t.text for t in streamed] == ["Oak trees are", " bare", " and", " dormant", "."]
        fake_openai.reply_tokens = [f" word{i}" for i in range(60)]
        reply, streamed = await sample(
            conversation, parent=human, prefix="Oak trees are", max_tokens=60
        )
        assert reply.message == "Oak trees are" + "".join(f" word{i}" for i in range(60))
        assert len(streamed) == 61


# -- import --------------------------------------------------------------------------------


async def build_source(client: Client) -> Conversation:
    """A forest with every kind of response, annotations, shared paths and tokens."""
    source = await new_conversation(client)
    reply, tokens = await sample(source, "Plan the orchard", seed=1, max_tokens=6, top_logprobs=3)
    human_id = reply.parent_response_id
    await manual(client, source, "half written by hand", human_id, partial=True)
    index, alternative = pick_alternative(tokens)
    prefix = "".join(t.text for t in tokens[:index]) + alternative
    await sample(source, parent=human_id, prefix=prefix, seed=2, max_tokens=5)
    second_root = await manual(client, source, "Another root, by hand")
    await sample(source, "And then?", parent=reply.response_id, seed=3, max_tokens=4)
    await client.stub.ShareConversation(
        chat_pb2.ShareConversationRequest(
            conversation_id=source.conversation_id, response_id=reply.response_id
        )
    )
    await reply.annotate(tags=["plan", "orchard"], rating=1, note="Good start")
    await second_root.annotate(bookmarked=True)
    await source.set_title("Orchard plan")
    await source.star()
    return source


async def export_request(client: Client, cid: str) -> chat_pb2.ImportConversationRequest:
    """What an exporter sends: the conversation as stored, with every reply's tokens."""
    stored = await client.stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    request = chat_pb2.ImportConversationRequest(
        title=stored.title, starred=stored.starred, responses=stored.responses
    )
    for response in stored.responses:
        tokens = await client.stub.GetResponseTokens(
            chat_pb2.GetResponseTokensRequest(conversation_id=cid, response_id=response.response_id)
        )
        if tokens.tokens:
            request.tokens[response.response_id].tokens.extend(tokens.tokens)
    return request


COPIED_FIELDS = [
    "message",
    "sender",
    "manual",
    "partial",
    "shared",
    "query",
    "query_type",
    "model_name",
    "sampling_params",
    "token_count",
    "time_to_first_token_seconds",
    "total_time_seconds",
    "annotation",
    "prefix_length",
]


async def test_import_copies_a_forest_apart_from_ids_and_times(
    client: Client, server: GroveServer
) -> None:
    source = await build_source(client)
    cid = source.conversation_id
    request = await export_request(client, cid)
    assert len(request.tokens) == 3 and any(r.prefix_length for r in request.responses)
    assert any(r.HasField("annotation") for r in request.responses)

    imported = await client.grok.import_conversation(request)
    assert imported.conversation_id != cid
    before = await client.stub.GetConversation(chat_pb2.GetConversationRequest(conversation_id=cid))
    after = await client.stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=imported.conversation_id)
    )
    assert (after.title, after.starred, after.response_count) == (
        "Orchard plan (imported)",
        True,
        7,
    )
    assert len(after.responses) == len(before.responses)
    new_id = {
        old.response_id: new.response_id
        for old, new in zip(before.responses, after.responses, strict=True)
    }
    assert not set(new_id) & set(new_id.values()), "every response got a new id"
    for old, new in zip(before.responses, after.responses, strict=True):
        for name in COPIED_FIELDS:
            assert getattr(new, name) == getattr(old, name), name
        for name in ("sampling_params", "annotation"):
            assert new.HasField(name) == old.HasField(name), name
        assert new.parent_response_id == (
            new_id[old.parent_response_id] if old.parent_response_id else ""
        )
        assert new.create_time.ToDatetime() >= old.create_time.ToDatetime()
        old_tokens = await client.stub.GetResponseTokens(
            chat_pb2.GetResponseTokensRequest(conversation_id=cid, response_id=old.response_id)
        )
        new_tokens = await client.stub.GetResponseTokens(
            chat_pb2.GetResponseTokensRequest(
                conversation_id=after.conversation_id, response_id=new.response_id
            )
        )
        assert new_tokens == old_tokens
    times = [r.create_time.ToDatetime() for r in after.responses]
    assert times == sorted(times) and len(set(times)) == len(times)

    # The SDK's loaded conversation and the search index see the import like any other.
    reply = next(r for r in imported.responses if r.annotation.tags)
    assert reply.annotation == Annotation(tags=("plan", "orchard"), rating=1, note="Good start")
    found = {h.conversation_id for h in await client.grok.search("tag:orchard")}
    assert found == {cid, imported.conversation_id}
    assert index_problems(server.config.db) == []


async def test_an_empty_import_is_an_empty_conversation(client: Client) -> None:
    imported = await client.grok.import_conversation(
        chat_pb2.ImportConversationRequest(title="Nothing yet")
    )
    assert imported.title == "Nothing yet (imported)" and imported.responses == []


def token(text: str, logprob: float | None = -0.5) -> sampler_public_pb2.Token:
    return sampler_public_pb2.Token(
        final_logit=sampler_public_pb2.Logit(string_token=text, logprob=logprob or 0.0),
        logprob_unknown=logprob is None,
    )


def valid_import() -> chat_pb2.ImportConversationRequest:
    request = chat_pb2.ImportConversationRequest(
        title="Imported",
        responses=[
            chat_pb2.Response(response_id="h", sender="human", message="Hi there", shared=True),
            chat_pb2.Response(
                response_id="m",
                sender="model",
                message="Hello, you",
                parent_response_id="h",
                model_name="elsewhere-model",
                prefix_length=5,
                shared=True,
            ),
            chat_pb2.Response(
                response_id="x",
                sender="model",
                message="by hand",
                parent_response_id="h",
                manual=True,
                partial=True,
            ),
        ],
    )
    request.tokens["m"].tokens.extend([token("Hello", None), token(","), token(" you")])
    return request


def edited(change: Callable[[chat_pb2.ImportConversationRequest], None]):
    def build() -> chat_pb2.ImportConversationRequest:
        request = valid_import()
        change(request)
        return request

    return build


def _set(index: int, **values: Any) -> Callable[[chat_pb2.ImportConversationRequest], None]:
    def change(request: chat_pb2.ImportConversationRequest) -> None:
        for name, value in values.items():
            if name == "sampling_params":
                request.responses[index].sampling_params.CopyFrom(value)
            elif name == "annotation":
                request.responses[index].annotation.CopyFrom(value)
            else:
                setattr(request.responses[index], name, value)

    return change


def _reverse(request: chat_pb2.ImportConversationRequest) -> None:
    items = list(request.responses)
    del request.responses[:]
    request.responses.extend(reversed(items))


def _tokens(key: str, *texts: str) -> Callable[[chat_pb2.ImportConversationRequest], None]:
    def change(request: chat_pb2.ImportConversationRequest) -> None:
        del request.tokens[key].tokens[:]
        request.tokens[key].tokens.extend(token(t) for t in texts)

    return change


INVALID_IMPORTS = {
    "parent-after-child": (
        _reverse,
        r"Response 1 \('x'\) names parent 'h', which does not come before it in the import\.",
    ),
    "own-parent": (
        _set(0, parent_response_id="h"),
        r"Response 1 \('h'\) names parent 'h', which does not come before it in the import\.",
    ),
    "parent-outside-the-import": (
        _set(1, parent_response_id="0" * 32),
        r"Response 2 \('m'\) names parent '0{32}', which does not come before it.*\.",
    ),
    "duplicate-id": (
        _set(2, response_id="m"),
        r"Response 3 \('m'\) needs a response_id unique within the import\.",
    ),
    "empty-id": (_set(0, response_id=""), r"Response 1 \(''\) needs a response_id unique.*\."),
    "sender-robot": (
        _set(0, sender="robot"),
        r"Response 1 \('h'\): sender must be human or model, not 'robot'\.",
    ),
    "sender-empty": (_set(0, sender=""), r"Response 1 \('h'\): sender must be .*, not ''\."),
    "nul-message": (
        _set(0, message="Hi\x00"),
        r"Response 1 \('h'\): the message contains a NUL character\.",
    ),
    "blank-human": (
        _set(0, message=" \n"),
        r"Response 1 \('h'\): a human message cannot be blank; only a sampled reply may be "
        r"empty\.",
    ),
    "blank-manual": (_set(2, message=""), r"Response 3 \('x'\): a manual reply cannot be blank.*"),
    "human-partial": (
        _set(0, partial=True),
        r"Response 1 \('h'\): a human message cannot be manual or partial\.",
    ),
    "human-with-a-model": (
        _set(0, model_name="m"),
        r"Response 1 \('h'\): a human message has no model_name, sampling_params, "
        r"prefix_length, finish_reason or tokens\.",
    ),
    "manual-with-sampling": (
        _set(2, sampling_params=sampler_public_pb2.SamplingParams(temperature=1.0)),
        r"Response 3 \('x'\): a manual reply has no model_name.*\.",
    ),
    "nul-model-name": (
        _set(1, model_name="a\x00"),
        r"Response 2 \('m'\): model_name contains a NUL character\.",
    ),
    "prefix-beyond-message": (
        _set(1, prefix_length=len("Hello, you") + 1),
        r"Response 2 \('m'\): prefix_length is outside the message\.",
    ),
    "negative-prefix": (
        _set(1, prefix_length=-1),
        r"Response 2 \('m'\): prefix_length is outside the message\.",
    ),
    "nan-temperature": (
        _set(1, sampling_params=sampler_public_pb2.SamplingParams(temperature=float("nan"))),
        r"Response 2 \('m'\): sampling parameters must be finite and non-negative\.",
    ),
    "negative-top-p": (
        _set(1, sampling_params=sampler_public_pb2.SamplingParams(top_p=-0.5)),
        r"Response 2 \('m'\): sampling parameters must be finite and non-negative\.",
    ),
    "bad-rating": (
        _set(1, annotation=chat_pb2.Annotation(rating=3)),
        r"rating must be -1, 0 or \+1, not 3\.",
    ),
    "bad-tag": (
        _set(0, annotation=chat_pb2.Annotation(tags=["two words"])),
        r"Tag 'two words' is not usable.*\.",
    ),
    "tokens-of-an-unknown-response": (
        _tokens("ghost", "boo"),
        r"The tokens map names response 'ghost', which is not in the import\.",
    ),
    "tokens-of-a-human": (
        _tokens("h", "Hi", " there"),
        r"Response 1 \('h'\): a human message has no .*tokens\.",
    ),
    "tokens-that-do-not-spell-the-message": (
        _tokens("m", "Hello", " there"),
        r"Response 2 \('m'\): its tokens do not spell its message\.",
    ),
    "shared-below-an-unshared-parent": (
        _set(0, shared=False),
        r"Response 2 \('m'\) is shared but its parent is not: sharing covers a path from "
        r"the root\.",
    ),
    "title-with-nul": (
        lambda request: setattr(request, "title", "a\x00"),
        r"The title must be at most 500 characters, without NUL\.",
    ),
    "title-too-long": (
        lambda request: setattr(request, "title", "t" * 501),
        r"The title must be at most 500 characters, without NUL\.",
    ),
}


async def test_the_valid_import_of_the_table_is_accepted(client: Client) -> None:
    imported = await client.grok.import_conversation(valid_import())
    human, reply, by_hand = imported.responses
    assert (reply.parent_response_id, by_hand.parent_response_id) == (human.response_id,) * 2
    assert reply.prefix_length == 5 and reply.model_name == "elsewhere-model"
    assert by_hand.manual and by_hand.partial and human.shared and reply.shared
    assert await reply.tokens() == [
        TokenInfo("Hello", None, ()),
        TokenInfo(",", -0.5, ()),
        TokenInfo(" you", -0.5, ()),
    ]


@pytest.mark.parametrize("case", list(INVALID_IMPORTS))
async def test_invalid_imports_are_refused_and_store_nothing(
    client: Client, server: GroveServer, case: str
) -> None:
    change, pattern = INVALID_IMPORTS[case]
    await client.grok.import_conversation(valid_import())  # something there already
    db = server.config.db
    tables = ("conversations", "responses", "annotations", "response_tokens", "search_rows")
    before = {t: rows(db, f"SELECT * FROM {t} ORDER BY rowid") for t in tables}
    with pytest.raises(InvalidArgumentError) as info:
        await client.grok.import_conversation(edited(change)())
    assert re.fullmatch(pattern, info.value.message), info.value.message
    assert SENTENCE.fullmatch(info.value.message)
    assert {t: rows(db, f"SELECT * FROM {t} ORDER BY rowid") for t in tables} == before


async def test_imports_belong_to_the_importer(pair: Pair) -> None:
    _, alice, bob = pair
    mine = await new_conversation(alice)
    reply, _ = await sample(mine, "Alice's", max_tokens=2)
    # Bob reuses Alice's ids as the import's own: they only link his responses.
    request = valid_import()
    local = {"h": reply.parent_response_id, "m": reply.response_id}
    for response in request.responses:
        response.response_id = local.get(response.response_id, response.response_id)
        if response.parent_response_id:
            response.parent_response_id = local[response.parent_response_id]
    request.tokens[reply.response_id].CopyFrom(request.tokens["m"])
    del request.tokens["m"]
    imported = await bob.grok.import_conversation(request)
    assert not {r.response_id for r in imported.responses} & set(local.values())
    listing = await alice.grok.list_conversations()
    assert [c.conversation_id for c in listing] == [mine.conversation_id]
    await mine.load()
    assert [r.response_id for r in mine.responses] == list(local.values())
    with pytest.raises(NotFoundError):
        await alice.grok.get_conversation(imported.conversation_id)
    assert await alice.grok.search("Hello") == []
    assert len(await bob.grok.search("Hello")) == 1
