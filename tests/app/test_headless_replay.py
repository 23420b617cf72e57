"""`grove replay`: a path replayed under another model, end to end through `app.cli.main`.

The server's default model is the loopback OpenAI-compatible endpoint ("fake"), its second
the offline model, which samples the original path; the replay runs under "fake".
"""

from __future__ import annotations

import json

import pytest

from grove_explorer.client import Client
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.sampler.base import OFFLINE_MODEL_NAME
from tests.app.test_headless import grove, isolated  # noqa: F401 (an autouse fixture)
from tests.fake_openai import DEFAULT_REPLY, FakeOpenAI


async def _path(server: GroveServer) -> tuple[str, list[str]]:
    """A conversation Q1 → A1 → Q2 → A2 sampled offline; its id and the path's ids."""
    async with Client(api_host=server.address) as sdk:
        conversation = sdk.grok.create_conversation(model_name=OFFLINE_MODEL_NAME)
        ids: list[str] = []
        for question in ("Why do leaves fall?", "And in spring?"):
            stream, future = conversation.add_response(question)
            async for _ in stream:
                pass
            reply = await future
            ids += [reply.parent_response_id or "", reply.response_id]
        await conversation.leaf_saved()
        return conversation.conversation_id, ids


async def test_replay_prints_the_new_leaf_and_json_pairs(
    openai_server: GroveServer, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, (_q1, a1, q2, a2) = await _path(openai_server)
    at = ("--server", openai_server.address)
    code, out, err = await grove(capsys, "replay", cid, "--model", "fake", *at)
    assert code == 0, err
    assert err == "replaying step 1 of 2…\nreplaying step 2 of 2…\n"
    leaf = out.strip()
    async with Client(api_host=openai_server.address) as sdk:
        conversation = await sdk.grok.get_conversation(cid)
        replayed = conversation.get_response(leaf)
        assert replayed.replay_of == a2 and replayed.model_name == "fake"
        assert replayed.message == "".join(DEFAULT_REPLY)
        assert conversation.leaf_response_id == a2, "your place did not move"
    # `grove show` heads each replayed turn with its original, as `--leaf` takes it.
    code, out, err = await grove(capsys, "show", cid, "--leaf", leaf[:8], *at)
    assert (code, err) == (0, "")
    assert f"↻ replay of {a2[:12]} ──" in out

    code, out, err = await grove(
        capsys,
        "replay",
        cid,
        "--leaf",
        a2[:8],
        "--from",
        q2[:8],
        "--model",
        "fake",
        "--system-prompt",
        "fun",
        "--temperature",
        "0.5",
        "--json",
        *at,
    )
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert [(p["original_id"], p["kind"]) for p in document["pairs"]] == [
        (q2, "human"),
        (a2, "reply"),
    ]
    assert document["model_name"] == "fake" and document["system_prompt_name"] == "fun"
    assert document["leaf_id"] == document["pairs"][-1]["replayed_id"]
    assert document["original_leaf_id"] == a2 and document["extra_ids"] == []
    async with Client(api_host=openai_server.address) as sdk:
        conversation = await sdk.grok.get_conversation(cid)
        copy = conversation.get_response(document["pairs"][0]["replayed_id"])
        assert copy.parent_response_id == a1 and copy.replay_of == q2


async def test_replay_refuses_an_unknown_model_and_reports_a_stop(
    openai_server: GroveServer, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, (q1, _a1, _q2, _a2) = await _path(openai_server)
    at = ("--server", openai_server.address)
    code, out, err = await grove(capsys, "replay", cid, "--model", "nope", *at)
    assert (code, out) == (1, "")
    assert "unknown model 'nope': this server offers" in err and "Nothing was sampled." in err

    fake_openai.fail_status = 400
    fake_openai.fail_message = "quota spent"
    code, out, err = await grove(capsys, "replay", cid, "--model", "fake", "--json", *at)
    assert code == 1
    assert "The replay stopped at step 1 of 2" in err and "quota spent" in err
    document = json.loads(out)  # what was made is still printed
    assert [p["original_id"] for p in document["pairs"]] == [q1]
