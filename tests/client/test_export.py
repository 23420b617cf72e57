"""Export formats (JSON, Markdown, DOT, preference pairs) and import, on a real server."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from grove_explorer.client import Client, Conversation, SamplingParams
from grove_explorer.client.export import (
    FORMAT_NAME,
    FORMAT_VERSION,
    collect_tokens,
    conversation_dot,
    conversation_markdown,
    dot_string,
    dumps,
    export_json,
    import_request,
    preference_pairs,
    shortest_float32,
    to_dot,
    to_jsonl,
    to_markdown,
)
from grove_explorer.client.models import LiveResponseNode
from grove_explorer.client.streams import TokensEvent
from grove_explorer.server.runtime import GroveServer
from tests import both_stores
from tests.helpers import collect

# Each test runs on both stores (SQLite, then PostgreSQL): conftest's fixtures overridden.
server_config = both_stores.server_config
make_server = both_stores.make_server

QUESTION = 'Tell me about "oak" trees.\nMy notes live in C:\\temp\\oaks and end with \\'
SHORT = SamplingParams(max_tokens=12)


@dataclass
class Seeded:
    """A forest with every kind of response, and the ids of each."""

    sdk: Client
    conversation_id: str
    ids: dict[str, str]

    async def load(self) -> Conversation:
        return await self.sdk.grok.get_conversation(self.conversation_id)


async def seed_forest(sdk: Client) -> Seeded:
    """h1 → m1 (+1, shared) | m2 (-1) | m3 (bookmarked) | m4 manual | m5 prefix branch;
    m1 → h2 → m6 (partial, the newest response)."""
    conversation = sdk.grok.create_conversation()
    stream, future = conversation.add_response(
        QUESTION, sampling=SamplingParams(max_tokens=12, seed=1)
    )
    await collect(stream)
    m1 = await future
    h1 = m1.parent_response
    assert h1 is not None
    siblings = []
    for seed in (2, 3):
        stream, future = await m1.resample(sampling=SamplingParams(max_tokens=12, seed=seed))
        await collect(stream)
        siblings.append(await future)
    m2, m3 = siblings
    await m1.annotate(rating=1)
    await m2.annotate(rating=-1, tags=["dull"])
    await m3.annotate(bookmarked=True, tags=["keep", "oak"], note='Good "start"\nsecond line')
    stream, future = m1.replace('A manual "answer" with a \\ backslash.')
    await collect(stream)
    m4 = await future
    prefixed = conversation.sample(
        parent_response_id=h1.response_id,
        prefix="Oaks are",
        sampling=SamplingParams(max_tokens=6, seed=5),
    )
    async for _ in prefixed:
        pass
    m5 = await prefixed.future
    assert m5.prefix_length == len("Oaks are")
    await m1.share()
    # A partial reply: stop the stream at its first tokens (the server paces tokens).
    partial = conversation.sample(
        "And birches?",
        parent_response_id=m1.response_id,
        sampling=SamplingParams(max_tokens=400, seed=6),
    )
    stopped = False
    async for event in partial:
        if isinstance(event, TokensEvent) and not stopped:
            stopped = await partial.stop()
    m6 = await partial.future
    assert m6.partial
    h2 = m6.parent_response
    assert h2 is not None
    ids = {
        "h1": h1.response_id,
        "m1": m1.response_id,
        "m2": m2.response_id,
        "m3": m3.response_id,
        "m4": m4.response_id,
        "m5": m5.response_id,
        "h2": h2.response_id,
        "m6": m6.response_id,
    }
    await conversation.set_title('Oaks, "birches" & more')
    await conversation.star()
    return Seeded(sdk, conversation.conversation_id, ids)


@pytest.fixture
async def seeded(make_server) -> AsyncIterator[Seeded]:
    running: GroveServer = make_server(token_delay_ms=3.0)
    await running.start()
    try:
        async with Client(api_host=running.address) as sdk:
            yield await seed_forest(sdk)
    finally:
        await running.stop()


async def exported(seeded: Seeded) -> dict[str, Any]:
    conversation = await seeded.load()
    return export_json(conversation, await collect_tokens(conversation))


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["response_id"]: r for r in document["responses"]}


# -- JSON ------------------------------------------------------------------------------------


async def test_json_export_is_lossless(seeded: Seeded) -> None:
    conversation = await seeded.load()
    document = export_json(conversation, await collect_tokens(conversation))
    assert json.loads(dumps(document)) == document, "JSON-serializable as is"
    assert (document["format"], document["version"]) == (FORMAT_NAME, FORMAT_VERSION)
    assert document["title"] == 'Oaks, "birches" & more' and document["starred"] is True
    assert document["create_time"].endswith("Z") and document["update_time"].endswith("Z")
    assert [r["response_id"] for r in document["responses"]] == [
        r.response_id for r in conversation.responses
    ], "creation order"
    expected_keys = {
        "response_id",
        "parent_response_id",
        "sender",
        "message",
        "create_time",
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
        "prefix_length",
        "start_time",
        "finish_reason",
        "annotation",
        "tokens",
    }
    for item in document["responses"]:
        sampled = item["sender"] == "model" and not item["manual"]
        # A sampled chat reply names its system prompt ("" the default); nothing else does.
        assert set(item) == expected_keys | ({"system_prompt_name"} if sampled else set())
        sdk = conversation.get_response(item["response_id"])
        assert item["message"] == sdk.message
        assert item["parent_response_id"] == sdk.parent_response_id
        assert (item["manual"], item["partial"], item["shared"]) == (
            sdk.manual,
            sdk.partial,
            sdk.shared,
        )
        assert item["token_count"] == sdk.token_count
        assert item["total_time_seconds"] == sdk.total_time

    ids = seeded.ids
    responses = by_id(document)
    h1, m1, m2, m3 = (responses[ids[k]] for k in ("h1", "m1", "m2", "m3"))
    m4, m5, m6 = (responses[ids[k]] for k in ("m4", "m5", "m6"))
    assert h1["message"] == QUESTION and h1["tokens"] is None and h1["sampling_params"] is None
    assert m1["sampling_params"]["seed"] == 1 and m1["sampling_params"]["max_tokens"] == 12
    assert m1["shared"] and h1["shared"], "sharing marks the path"
    assert m1["annotation"] == {"bookmarked": False, "tags": [], "rating": 1, "note": ""}
    assert m3["annotation"] == {
        "bookmarked": True,
        "tags": ["keep", "oak"],
        "rating": 0,
        "note": 'Good "start"\nsecond line',
    }
    assert m2["annotation"]["rating"] == -1
    # Tokens of sampled replies: text, logprob and alternatives, concatenating to the text.
    assert "".join(t["text"] for t in m1["tokens"]) == m1["message"]
    assert all(isinstance(t["logprob"], float) for t in m1["tokens"])
    assert any(t["top"] for t in m1["tokens"])
    assert m1["time_to_first_token_seconds"] > 0 and m1["total_time_seconds"] > 0
    assert m4["manual"] and m4["tokens"] == [] and m4["model_name"] == ""
    assert m5["prefix_length"] == len("Oaks are") and m5["message"].startswith("Oaks are")
    assert m5["tokens"][0] == {"text": "Oaks are", "logprob": None, "top": []}
    assert m6["partial"] and m6["parent_response_id"] == ids["h2"]
    assert m6["message"] and "".join(t["text"] for t in m6["tokens"]) == m6["message"]
    # Why each reply ended: the user's stop, the manual reply and human messages say nothing.
    assert (m6["finish_reason"], m4["finish_reason"], h1["finish_reason"]) == ("stopped", "", "")
    assert m1["finish_reason"] in ("stop", "length") and m5["finish_reason"] in ("stop", "length")


def normalized(document: dict[str, Any]) -> dict[str, Any]:
    """The document without ids and times; parent ids become positions in the list."""
    document = copy.deepcopy(document)
    position = {r["response_id"]: i for i, r in enumerate(document["responses"])}
    for key in ("conversation_id", "create_time", "update_time"):
        document.pop(key)
    for item in document["responses"]:
        item.pop("response_id")
        item.pop("create_time")
        item.pop("start_time")
        parent = item["parent_response_id"]
        item["parent_response_id"] = None if parent is None else position[parent]
    return document


async def test_export_import_export_is_identical_apart_from_ids_and_times(
    seeded: Seeded,
) -> None:
    first = await exported(seeded)
    text = dumps(first)
    restored = await seeded.sdk.grok.import_conversation(import_request(json.loads(text)))
    assert restored.conversation_id != seeded.conversation_id
    second = export_json(restored, await collect_tokens(restored))
    assert {r["response_id"] for r in second["responses"]}.isdisjoint(by_id(first))
    # The copy is told apart from its original by its title; nothing else differs.
    assert second["title"] == first["title"] + " (imported)"
    second["title"] = first["title"]
    assert normalized(second) == normalized(first)
    # Byte for byte too, once ids and times are renamed the same way.
    assert dumps(normalized(second)) == dumps(normalized(first))


def test_float32_fields_are_written_shortest() -> None:
    import struct

    noisy = struct.unpack("<f", struct.pack("<f", 0.7))[0]
    assert noisy != 0.7 and shortest_float32(noisy) == 0.7
    assert shortest_float32(-1.2345678) == pytest.approx(-1.2345678, rel=1e-6)
    assert shortest_float32(float("-inf")) == float("-inf")


def test_json_output_escapes_terminal_controls_but_keeps_text() -> None:
    value = {"message": "bell\x07 esc\x1b[2J c1\x9b bidi\u202e end\u2028"}
    text = dumps(value)
    assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert "\u2028" not in text and "\x07" not in text
    assert json.loads(text) == value
    assert json.loads(to_jsonl([value]).strip()) == value
    # All-ASCII text skips the escaping scan, except for DEL (ASCII, yet a control).
    assert dumps({"m": "del\x7f"}) == '{\n  "m": "del\\u007f"\n}'
    assert dumps("plain ascii", indent=None) == '"plain ascii"'


# -- Markdown --------------------------------------------------------------------------------


async def test_markdown_path_and_whole_forest(seeded: Seeded) -> None:
    document = await exported(seeded)
    responses = by_id(document)
    ids = seeded.ids
    path = to_markdown(document)
    assert path.startswith('# Oaks, "birches" & more\n')
    assert "the path to the newest response (4 of 8 responses)" in path
    headings = [line for line in path.splitlines() if line.startswith("## ")]
    assert len(headings) == 4
    assert headings[0] == "## Human · shared"
    assert headings[1].startswith("## Model · grove-offline-ngram · ")
    assert "seed 1" in headings[1] and "branch 1/5" in headings[1] and "rated +1" in headings[1]
    assert headings[3].endswith(" · partial: stopped by you")
    assert QUESTION in path and responses[ids["m6"]]["message"] in path
    assert responses[ids["m2"]]["message"] not in path, "siblings stay out of the path form"

    chosen = to_markdown(document, leaf_id=ids["m3"])
    assert "the chosen leaf (2 of 8 responses)" in chosen
    assert "branch 3/5" in chosen and "bookmarked" in chosen and "tags: keep, oak" in chosen
    assert '> Note: Good "start"\n> second line' in chosen

    forest = to_markdown(document, all_branches=True)
    headings = [line for line in forest.splitlines() if line.startswith("## ")]
    assert len(headings) == 8
    assert headings[0].startswith("## ► [1] Human · root 1/1")
    assert headings[1].startswith("## ► [2] Model · reply to [1] · branch 1/5")
    assert headings[2].startswith("## ► [3] Human · reply to [2]"), "depth first"
    assert headings[3].startswith("## ► [4] Model · reply to [3]") and "partial" in headings[3]
    assert headings[4].startswith("## [5] Model · reply to [1] · branch 2/5")
    assert "rated -1" in headings[4] and "tags: dull" in headings[4]
    assert headings[6].startswith("## [7] Model (manual) · reply to [1] · branch 4/5")
    assert "first 8 characters given" in headings[7]
    for item in document["responses"]:
        assert item["message"] in forest


# -- DOT -------------------------------------------------------------------------------------

_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def test_dot_strings_escape_quotes_backslashes_and_newlines() -> None:
    assert dot_string('a "b"') == '"a \\"b\\""'
    assert dot_string("C:\\temp\\n") == '"C:\\\\temp\\\\n"', "a literal \\n is not a line break"
    assert dot_string("one\r\ntwo\nthree") == '"one\\ntwo\\nthree"'
    assert dot_string("ends with \\") == '"ends with \\\\"'
    assert dot_string("esc\x1b[31m tab\t") == '"esc[31m tab    "'


async def test_dot_graph_of_the_forest(seeded: Seeded) -> None:
    document = await exported(seeded)
    ids = seeded.ids
    dot = to_dot(document)
    lines = dot.splitlines()
    assert lines[0] == "digraph grove {" and lines[-1] == "}"
    for line in lines:
        # Every quoted string is well formed and nothing is left outside them.
        rest = _QUOTED.sub("", line)
        assert '"' not in rest and "\\" not in rest, line
    node = {
        rid: next(line for line in lines if line.startswith(f'  "{rid}" [')) for rid in ids.values()
    }
    assert '\\"oak\\" trees.\\nMy notes live in C:\\\\temp\\\\oaks' in node[ids["h1"]]
    assert 'shape="box", style="rounded,filled,bold"' in node[ids["h1"]], "human, on the path"
    assert 'fillcolor="#dbeafe"' in node[ids["h1"]]
    assert 'style="filled,bold"' in node[ids["m1"]] and 'fillcolor="#dcfce7"' in node[ids["m1"]]
    assert "+1" in node[ids["m1"]]
    assert 'style="filled"' in node[ids["m2"]], "off the path: not bold"
    assert 'peripheries="2"' in node[ids["m3"]] and "★" in node[ids["m3"]]
    assert 'fillcolor="#fef9c3"' in node[ids["m4"]] and "Model (manual)" in node[ids["m4"]]
    assert "dashed" in node[ids["m6"]] and "partial: stopped by you" in node[ids["m6"]]
    edges = [line for line in lines if "->" in line]
    assert len(edges) == 7
    bold = [line for line in edges if "style=bold" in line]
    assert len(bold) == 3, "h1→m1→h2→m6"
    assert f'"{ids["h1"]}" -> "{ids["m2"]}";' in dot
    if shutil.which("dot"):
        rendered = await asyncio.to_thread(
            subprocess.run,
            ["dot", "-Tsvg"],
            input=dot,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "<svg" in rendered.stdout


# -- preference pairs ------------------------------------------------------------------------


async def test_preference_pairs_from_ratings_and_the_picked_reply(seeded: Seeded) -> None:
    document = await exported(seeded)
    ids = seeded.ids
    responses = by_id(document)
    pairs = preference_pairs(document)
    found = {
        (p["metadata"]["chosen_response_id"], p["metadata"]["rejected_response_id"]): p
        for p in pairs
    }
    assert set(found) == {
        (ids["m1"], ids["m2"]),  # +1 vs -1
        (ids["m1"], ids["m4"]),  # picked (on the path, rated +1) vs unrated siblings
        (ids["m1"], ids["m5"]),
    }
    rating = found[(ids["m1"], ids["m2"])]
    assert rating["metadata"]["source"] == "rating"
    assert rating["prompt"] == [{"role": "user", "content": QUESTION}]
    assert rating["chosen"] == [{"role": "assistant", "content": responses[ids["m1"]]["message"]}]
    assert rating["rejected"][0]["content"] == responses[ids["m2"]]["message"]
    assert rating["metadata"]["chosen_model"] == "grove-offline-ngram"
    assert rating["metadata"]["conversation_id"] == seeded.conversation_id
    assert found[(ids["m1"], ids["m4"])]["metadata"]["source"] == "picked"
    assert found[(ids["m1"], ids["m4"])]["metadata"]["rejected_model"] == ""

    # With the bookmarked reply as the current path, it is the picked one.
    picked = preference_pairs(document, leaf_id=ids["m3"])
    got = {
        (p["metadata"]["chosen_response_id"], p["metadata"]["rejected_response_id"]) for p in picked
    }
    assert got == {
        (ids["m1"], ids["m2"]),
        (ids["m3"], ids["m2"]),
        (ids["m3"], ids["m4"]),
        (ids["m3"], ids["m5"]),
    }
    lines = to_jsonl(pairs).splitlines()
    assert [json.loads(line) for line in lines] == pairs


# -- invalid imports -------------------------------------------------------------------------


def minimal() -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "title": "t",
        "responses": [
            {"response_id": "a", "parent_response_id": None, "sender": "human", "message": "hi"},
            {"response_id": "b", "parent_response_id": "a", "sender": "model", "message": "yo"},
        ],
    }


def broken(change) -> dict[str, Any]:
    data = minimal()
    change(data)
    return data


@pytest.mark.parametrize(
    "data, words",
    [
        ([1, 2], "$: must be a JSON object"),
        (broken(lambda d: d.update(version=2)), "$.version: this Grove reads version 1"),
        (broken(lambda d: d.pop("format")), "$.format: must be 'grove.conversation'"),
        (broken(lambda d: d.pop("responses")), "$.responses: is missing."),
        (broken(lambda d: d["responses"].reverse()), "$.responses[0].parent_response_id: "),
        (broken(lambda d: d["responses"][1].pop("message")), "$.responses[1].message: is missing"),
        (broken(lambda d: d["responses"][0].pop("sender")), "$.responses[0].sender: is missing"),
        (
            broken(lambda d: d["responses"][1].update(sender="bot")),
            '$.responses[1].sender: must be "human" or "model", not \'bot\'.',
        ),
        (
            broken(lambda d: d["responses"][1].update(response_id="a")),
            "$.responses[1].response_id: 'a' appears twice.",
        ),
        (
            broken(lambda d: d["responses"][1].update(prefix_length=9)),
            "$.responses[1].prefix_length: must be between 0 and 2, not 9.",
        ),
        (
            broken(lambda d: d["responses"][0].update(tokens=[{"text": "hi", "logprob": None}])),
            "$.responses[0].tokens: only model replies carry tokens.",
        ),
        (
            broken(lambda d: d["responses"][1].update(tokens=[{"text": "yo", "logprob": "x"}])),
            "$.responses[1].tokens[0].logprob: must be a number.",
        ),
        (
            broken(lambda d: d["responses"][1].update(annotation={"rating": 5})),
            "$.responses[1].annotation.rating: must be between -1 and 1, not 5.",
        ),
        (
            broken(lambda d: d["responses"][1].update(sampling_params={"seed": -1})),
            "$.responses[1].sampling_params.seed: must be between 0 and",
        ),
        (broken(lambda d: d.update(starred="yes")), "$.starred: must be true or false."),
        (
            broken(lambda d: d["responses"][1].update(finish_reason="tired")),
            "$.responses[1].finish_reason: must be \"\" or one of 'stop', 'length', ",
        ),
        (
            broken(lambda d: d["responses"][1].update(finish_reason=2)),
            "$.responses[1].finish_reason: must be a string.",
        ),
    ],
)
def test_invalid_import_documents_name_the_json_path(data: Any, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        import_request(data)
    assert str(raised.value).startswith(words), str(raised.value)


async def test_a_minimal_hand_written_document_imports(client: Client) -> None:
    request = import_request(minimal())
    conversation = await client.grok.import_conversation(request)
    assert [(r.sender, r.message) for r in conversation.responses] == [
        ("human", "hi"),
        ("model", "yo"),
    ]
    assert conversation.title == "t (imported)" and not conversation.starred
    document = export_json(conversation, await collect_tokens(conversation))
    assert by_id(document)[conversation.responses[1].response_id]["tokens"] == []


async def test_finish_reasons_survive_import_and_mark_cut_replies(client: Client) -> None:
    data = minimal()
    data["responses"][1]["finish_reason"] = "length"
    conversation = await client.grok.import_conversation(import_request(data))
    reply = conversation.responses[1]
    assert reply.finish_reason == "length"
    document = export_json(conversation, {})
    assert by_id(document)[reply.response_id]["finish_reason"] == "length"
    heading = [line for line in to_markdown(document).splitlines() if line.startswith("## ")][-1]
    assert heading == "## Model · cut at max tokens"
    assert "cut at max tokens" in to_dot(document)
    # Files written before finish reasons existed (no key, or null) read as unknown.
    del data["responses"][1]["finish_reason"]
    assert import_request(data).responses[1].finish_reason == 0
    data["responses"][1]["finish_reason"] = None
    assert import_request(data).responses[1].finish_reason == 0


async def test_markdown_and_dot_of_a_conversation_are_those_of_its_document(
    seeded: Seeded,
) -> None:
    """`grove export` writes Markdown and DOT from the conversation's own forest; they are
    the text of its export document, whether the forest was loaded or grew in this session
    (replies stored in finish order) and while a reply is still streaming (not exported)."""
    conversation = await seeded.load()
    reply = conversation.get_response(seeded.ids["m1"])
    for seed in (7, 8):  # siblings stored in this session, after the load
        stream, future = await reply.resample(sampling=SamplingParams(max_tokens=8, seed=seed))
        await collect(stream)
        await future
    live = LiveResponseNode(
        response_id="pending:1",
        parent_id=seeded.ids["h1"],
        sender="model",
        message="",
        streaming=True,
    )
    for streaming in (False, True):
        if streaming:
            conversation.forest.add(live)
        document = export_json(conversation, {})
        for leaf in (None, seeded.ids["m3"], seeded.ids["h2"]):
            for every in (False, True):
                expected = to_markdown(document, leaf_id=leaf, all_branches=every)
                written = conversation_markdown(conversation, leaf_id=leaf, all_branches=every)
                assert written == expected, (streaming, leaf, every)
            assert conversation_dot(conversation, leaf_id=leaf) == to_dot(document, leaf_id=leaf)
    with pytest.raises(ValueError, match="no response"):
        conversation_markdown(conversation, leaf_id="f" * 32)
