"""Exports of a shared conversation say whose each part is (client/export/document.py).

Alice owns a conversation and shares it with bob as a writer; bob adds a turn and marks
one of alice's replies, alice marks another. The export (and `grove show --json`, built
from the same document) names bob as the author of his turn and the setter of his marks,
and alice as the owner; alice's own parts say nothing more, as in every single-user
document. An import of it is its importer's: it takes none of that over.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from grove_explorer.app.cli import main
from grove_explorer.client import Client, Conversation, Response, SamplingParams
from grove_explorer.client.export import (
    conversation_markdown,
    export_json,
    import_request,
    to_markdown,
)
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import alice_shares
from tests.helpers import TEAM_KEYS, collect


@pytest.fixture
async def team(make_server: Callable[..., GroveServer]) -> AsyncIterator[tuple[Client, Client]]:
    running = make_server(api_keys=TEAM_KEYS)
    await running.start()
    alice = Client(api_host=running.address, api_key="key-alice")
    bob = Client(api_host=running.address, api_key="key-bob")
    try:
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()
        await running.stop()


async def bob_adds_a_turn(
    team: tuple[Client, Client],
) -> tuple[Conversation, Conversation, Response, Response]:
    """Alice's shared conversation (bob a writer), bob's turn under alice's reply.

    Returns alice's and bob's loaded views, alice's reply (from bob's view) and bob's.
    """
    alice, bob = team
    mine = await alice_shares(alice, "writer")
    theirs = await bob.grok.get_conversation(mine.conversation_id)
    alices_reply = theirs.responses[-1]
    stream, future = theirs.add_response("And medlar jelly?", sampling=SamplingParams(max_tokens=4))
    await collect(stream)
    bobs_reply = await future
    assert (
        theirs.get_response(bobs_reply.parent_response_id or "").parent_response_id
        == alices_reply.response_id
    )
    return mine, theirs, alices_reply, bobs_reply


async def test_a_shared_trees_export_names_the_writer_and_the_owner(
    team: tuple[Client, Client],
) -> None:
    alice, _ = team
    mine, theirs, alices_reply, bobs_reply = await bob_adds_a_turn(team)
    await alices_reply.annotate(tags=["bletting"], note="bob: ask about frost")
    await mine.load()
    await mine.get_response(bobs_reply.response_id).annotate(rating=1)

    await mine.load()
    document = export_json(mine, {})
    by_id = {entry["response_id"]: entry for entry in document["responses"]}
    assert document["owner_user_id"] == "alice"
    assert [key for key in document if key != "responses"][-1] == "owner_user_id"
    bobs_human = by_id[bobs_reply.parent_response_id or ""]
    assert (bobs_human["author_user_id"], by_id[bobs_reply.response_id]["author_user_id"]) == (
        "bob",
        "bob",
    )
    assert "author_user_id" not in by_id[alices_reply.response_id]
    assert by_id[alices_reply.response_id]["annotation"]["set_by_user_id"] == "bob"
    # Alice's own marks (on bob's reply) are the owner's: nothing more is said.
    assert by_id[bobs_reply.response_id]["annotation"] == {
        "bookmarked": False,
        "tags": [],
        "rating": 1,
        "note": "",
    }

    # Bob's view of the same tree says the same (owner-relative, not caller-relative).
    await theirs.load()
    seen_by_bob = export_json(theirs, {})
    assert seen_by_bob["owner_user_id"] == "alice"
    assert {e["response_id"]: e.get("author_user_id") for e in seen_by_bob["responses"]} == {
        e["response_id"]: e.get("author_user_id") for e in document["responses"]
    }

    # An import makes the copy the importer's: no author or setter is taken over.
    copy = await alice.grok.import_conversation(import_request(document))
    copied = export_json(copy, {})
    assert "owner_user_id" not in copied
    assert all("author_user_id" not in e for e in copied["responses"])
    assert all("set_by_user_id" not in (e["annotation"] or {}) for e in copied["responses"])


async def test_a_single_users_document_names_nobody(team: tuple[Client, Client]) -> None:
    alice, _ = team
    mine = alice.grok.create_conversation()
    stream, future = mine.add_response("Quince?", sampling=SamplingParams(max_tokens=4))
    await collect(stream)
    reply = await future
    await reply.annotate(bookmarked=True)
    await mine.load()
    document = export_json(mine, {})
    assert "owner_user_id" not in document
    assert all("author_user_id" not in e for e in document["responses"])
    marks = document["responses"][-1]["annotation"]
    assert marks == {"bookmarked": True, "tags": [], "rating": 0, "note": ""}


async def test_grove_show_json_says_whose_each_part_is(
    team: tuple[Client, Client],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, _ = team
    mine, _, _, bobs_reply = await bob_adds_a_turn(team)
    await bobs_reply.annotate(note="set")
    monkeypatch.setenv("GROVE_CONFIG", "/nonexistent/grove-config.toml")
    monkeypatch.setenv("XAI_API_HOST", alice.api_host)
    monkeypatch.setenv("XAI_API_KEY", "key-alice")
    capsys.readouterr()
    argv = ["show", mine.conversation_id, "--leaf", bobs_reply.response_id, "--json"]
    code = await asyncio.to_thread(main, argv)
    shown = json.loads(capsys.readouterr().out)
    assert code == 0
    assert shown["owner_user_id"] == "alice"
    last = shown["path"][-1]
    assert (last["response_id"], last["author_user_id"]) == (bobs_reply.response_id, "bob")
    assert last["annotation"]["set_by_user_id"] == "bob"
    assert "author_user_id" not in shown["path"][0]


async def test_markdown_of_a_shared_tree_says_who_wrote_and_who_marked(
    team: tuple[Client, Client],
) -> None:
    mine, _, alices_reply, _ = await bob_adds_a_turn(team)
    await alices_reply.annotate(tags=["frost"])
    await mine.load()
    text = conversation_markdown(mine, all_branches=True)
    # From the document (a file) and from the loaded forest: the same words.
    assert text == to_markdown(export_json(mine, {}), all_branches=True)
    assert "] Human, by bob" in text and "] Model, by bob" in text
    assert "tags: frost · marks by bob" in text
    assert text.count("by bob") == 3  # bob's turn (2) and his marks; nothing of alice's
