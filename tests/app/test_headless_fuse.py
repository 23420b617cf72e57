"""`grove fuse`: the fused reply streamed to stdout, stored beside its sources; errors.

Runs `app.cli.main` in a worker thread against the `server` fixture (offline model), as
tests/app/test_headless.py does. The sources are manual replies of known text, so the
demo fusion's text is known exactly.
"""

from __future__ import annotations

import json

import grpc
import pytest

from grove_explorer.client import Client
from grove_explorer.protos import chat_pb2_grpc
from grove_explorer.server.runtime import GroveServer
from tests.app.test_headless import grove, isolated  # noqa: F401 (an autouse fixture)
from tests.server.test_fusion import FUSED, Forest


async def _forest(server: GroveServer) -> Forest:
    async with grpc.aio.insecure_channel(server.address) as channel:
        return await Forest(chat_pb2_grpc.ChatStub(channel)).build()


async def test_fuse_defaults_to_every_sibling_of_the_last_model_reply(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    forest = await _forest(server)
    at = ("--server", server.address)
    # Your place: the last source (AddModelResponse does not move it; select it).
    code, _, err = await grove(capsys, "select", forest.cid, forest.sources[-1][:8], *at)
    assert (code, err) == (0, "")
    code, out, err = await grove(capsys, "fuse", forest.cid, "--json", *at)
    assert (code, err) == (0, "")
    result = json.loads(out)
    # Every model sibling: the sampled reply and the three manual ones.
    assert result["merged_from"] == [forest.sampled, *forest.sources]
    assert result["mode"] == "fuse" and result["parent_response_id"] == forest.question
    conversation = await client.grok.get_conversation(forest.cid)
    stored = conversation.get_response(result["response_id"])
    assert stored.merged_from == tuple(result["merged_from"]) and stored.message == result["text"]


async def test_fuse_streams_named_replies_and_prints_the_id(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    forest = await _forest(server)
    at = ("--server", server.address)
    ids = ",".join(source[:6] for source in forest.sources)  # unique prefixes
    code, out, err = await grove(capsys, "fuse", forest.cid, "--ids", ids, *at)
    assert (code, err) == (0, "")
    text, _, last = out.rstrip("\n").rpartition("\n\n")
    assert text == FUSED
    new_id, _, words = last.partition("  ")
    short = ", ".join(source[:12] for source in forest.sources)
    assert words == f"⊕ fused (fuse) from {short}"
    conversation = await client.grok.get_conversation(forest.cid)
    assert conversation.get_response(new_id).merged_from == tuple(forest.sources)
    # `grove show` heads the fused reply with its sources, as `--ids` takes them.
    code, out, err = await grove(capsys, "show", forest.cid, "--leaf", new_id, *at)
    assert (code, err) == (0, "")
    assert f"branch 5/5 · ⊕ fused (fuse) from {short} ──" in out

    code, out, err = await grove(
        capsys,
        "fuse",
        forest.cid,
        "--ids",
        ids,
        "--mode",
        "custom",
        "--instruction",
        "Say it in one line.",
        "--json",
        *at,
    )
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["mode"] == "custom" and result["instruction"] == "Say it in one line."
    assert "Instruction noted: Say it in one line." in result["text"]

    code, out, err = await grove(
        capsys, "fuse", forest.cid, "--ids", ids, "--mode", "checklist",
        "--instruction", "Mulch\nWater early", "--json", *at,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert json.loads(out)["text"].endswith("- Mulch\n- Water early")


async def test_a_checklist_without_points_fuses_from_every_point_the_server_finds(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    forest = await _forest(server)
    at = ("--server", server.address)
    ids = ",".join(source[:6] for source in forest.sources)
    code, out, err = await grove(
        capsys, "fuse", forest.cid, "--ids", ids, "--mode", "checklist", "--json", *at
    )
    assert code == 0
    result = json.loads(out)
    points = result["instruction"].split("\n")
    assert points and all(points)
    # stderr says how many points the checklist was written from.
    assert f"{len(points)} point" in err
    conversation = await client.grok.get_conversation(forest.cid)
    stored = conversation.get_response(result["response_id"])
    assert stored.merge_mode == "checklist" and stored.merged_from == tuple(forest.sources)
    assert result["text"].endswith("\n".join(f"- {point}" for point in points))


async def test_fuse_errors_are_one_sentence(
    client: Client, server: GroveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    forest = await _forest(server)
    at = ("--server", server.address)
    code, out, err = await grove(capsys, "fuse", forest.cid, "--ids", forest.sources[0], *at)
    assert code == 1 and out == ""
    assert err.startswith("grove: a fusion needs at least 2 sibling replies; found 1")
    code, _, err = await grove(
        capsys, "fuse", forest.cid, "--ids", f"{forest.sources[0]},{forest.question}", *at
    )
    assert code == 1 and "must be siblings" in err

    assert "Traceback" not in err
    code, _, err = await grove(capsys, "fuse", forest.cid, "--ids", "zzzz,yyyy", *at)
    assert code == 1 and "has no response 'zzzz'" in err
    code, _, err = await grove(capsys, "fuse", forest.cid, "--mode", "custom", *at)
    assert code == 2 and "--mode custom needs --instruction" in err
    code, _, err = await grove(capsys, "fuse", forest.cid, "--instruction", "x", *at)
    assert code == 2 and "not fuse" in err
