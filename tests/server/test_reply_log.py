"""A resumable reply's log: a caller resuming after N tokens gets exactly the rest."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from grove_explorer.protos import chat_pb2
from grove_explorer.server.cli import build_serve_parser, config_from_args
from grove_explorer.server.convert import budget_message, token_batch_message
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.reply_log import ReplyAborted, ReplyLog


def texts_of(message: chat_pb2.AddResponseResponse) -> list[str]:
    sample = message.token
    if sample.tokens:
        return [t.final_logit.string_token for t in sample.tokens]
    return [sample.token.final_logit.string_token] if sample.HasField("token") else []


async def filled() -> ReplyLog:
    log = ReplyLog("u", "r")
    await log.write(chat_pb2.AddResponseResponse(user_response=chat_pb2.Response(message="hi")))
    await log.write(budget_message(3, 0, 100))
    await log.write(token_batch_message([SampledToken("a", -0.1)]))
    await log.write(token_batch_message([SampledToken(t, -0.5) for t in "bcd"]))
    await log.write(budget_message(3, 4, 100))
    await log.write(token_batch_message([SampledToken(t, None) for t in "ef"]))
    await log.write(chat_pb2.AddResponseResponse(model_response=chat_pb2.Response(message="x")))
    return log


@pytest.mark.parametrize("after", range(7))
async def test_every_resume_point_gets_exactly_the_rest(after: int) -> None:
    log = await filled()
    shaped = [m for i in range(len(log.entries)) if (m := log.shaped(i, after)) is not None]
    tokens = [text for message in shaped for text in texts_of(message)]
    assert tokens == list("abcdef")[after:]
    kinds = [m.WhichOneof("response") for m in shaped]
    assert kinds[0] == "user_response" and kinds[-1] == "model_response"
    for message in shaped:  # a cut batch keeps its joined text and known logprob
        if len(message.token.tokens) > 1:
            combined = message.token.token
            assert combined.final_logit.string_token == "".join(texts_of(message))
            assert combined.logprob_unknown == ("e" in texts_of(message))


async def test_waiters_wake_on_a_write_and_an_abort_ends_the_log() -> None:
    log = ReplyLog("u", "r")
    waiting = asyncio.ensure_future(log.wait_beyond(0))
    await asyncio.sleep(0)
    assert not waiting.done()
    await log.write(budget_message(1, 0, 10))
    await waiting
    with pytest.raises(ReplyAborted):
        await log.abort(grpc.StatusCode.NOT_FOUND, "gone")
    assert log.done and log.status == (grpc.StatusCode.NOT_FOUND, "gone", ())
    await log.wait_beyond(5)  # over: returns at once


def test_the_resume_grace_is_a_serve_flag() -> None:
    parser = build_serve_parser()
    assert config_from_args(parser.parse_args([])).resume_grace_seconds == 30.0
    config = config_from_args(parser.parse_args(["--resume-grace-seconds", "5"]))
    assert config.resume_grace_seconds == 5.0
    with pytest.raises(SystemExit, match="between 0 and 3600"):
        config_from_args(parser.parse_args(["--resume-grace-seconds", "-1"]))


def test_the_watchers_pending_events_are_a_serve_flag() -> None:
    parser = build_serve_parser()
    assert config_from_args(parser.parse_args([])).watch_max_pending_events == 1024
    config = config_from_args(parser.parse_args(["--watch-max-pending-events", "16"]))
    assert config.watch_max_pending_events == 16
    for bad in ("0", "1000001"):
        with pytest.raises(SystemExit, match="between 1 and 1,000,000"):
            config_from_args(parser.parse_args(["--watch-max-pending-events", bad]))
    assert "--watch-max-pending-events" in parser.format_help()
