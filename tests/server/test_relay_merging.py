"""A resumable reply's relay sends a caller's backlog of tokens as one message.

What must hold: a caller that keeps up gets every message as the stream wrote it; one that
fell behind gets the token messages waiting when its write can go out as one batch (at
most `MERGED_TOKENS` tokens), with every token's text, logprob and alternatives kept and
the batch's joined text and summed (or unknown) logprob; budgets and the stored reply are
never merged into tokens and keep their places; a resume after N tokens with a backlog
still gets exactly the rest.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

import grpc

from grove_explorer.protos import chat_pb2
from grove_explorer.server.convert import budget_message, token_batch_message
from grove_explorer.server.sampler.base import SampledToken
from grove_explorer.server.servicer.reply_log import MERGED_TOKENS, ReplyLog, relay


class Caller:
    """A call's context that records what is written (and can signal each write)."""

    def __init__(self) -> None:
        self.written: list[chat_pb2.AddResponseResponse] = []
        self.wrote = asyncio.Event()

    async def write(self, message: chat_pb2.AddResponseResponse) -> None:
        self.written.append(message)
        self.wrote.set()

    async def abort(self, code: grpc.StatusCode, details: str = "", **_: object) -> NoReturn:
        raise AssertionError(f"aborted: {code} {details}")


def texts_of(message: chat_pb2.AddResponseResponse) -> list[str]:
    sample = message.token
    if sample.tokens:
        return [t.final_logit.string_token for t in sample.tokens]
    return [sample.token.final_logit.string_token] if sample.HasField("token") else []


def kinds(messages: list[chat_pb2.AddResponseResponse]) -> list[str]:
    """Each message's kind, a token message as its token count."""
    out = []
    for message in messages:
        kind = message.WhichOneof("response")
        if kind == "token" and message.token.WhichOneof("response") == "budget":
            out.append("budget")
        elif kind == "token":
            out.append(str(len(texts_of(message))))
        else:
            out.append(str(kind))
    return out


def human() -> chat_pb2.AddResponseResponse:
    return chat_pb2.AddResponseResponse(user_response=chat_pb2.Response(message="hi"))


def stored() -> chat_pb2.AddResponseResponse:
    return chat_pb2.AddResponseResponse(model_response=chat_pb2.Response(message="done"))


def token(text: str, logprob: float | None = -0.5) -> chat_pb2.AddResponseResponse:
    return token_batch_message([SampledToken(text, logprob, ((text, -0.5), ("alt", -2.0)))])


async def test_a_caller_that_keeps_up_gets_each_message_as_written() -> None:
    log = ReplyLog("u", "r")
    caller = Caller()
    relaying = asyncio.create_task(relay(log, caller, 0))  # type: ignore[arg-type]
    sent = [human(), budget_message(3, 0, 100), *(token(t) for t in "abcde"), stored()]
    for message in sent:
        caller.wrote.clear()
        await log.write(message)
        await asyncio.wait_for(caller.wrote.wait(), timeout=5)  # written before the next
    log.finish()
    await asyncio.wait_for(relaying, timeout=5)
    assert caller.written == sent


async def test_a_caller_behind_gets_the_waiting_tokens_in_one_message() -> None:
    log = ReplyLog("u", "r")
    for message in (
        human(),
        budget_message(3, 0, 100),
        *(token(t) for t in "abcde"),
        token_batch_message([SampledToken(t, -0.25) for t in "fgh"]),
        budget_message(3, 8, 100),
        token("i", None),
        token("j"),
        stored(),
    ):
        await log.write(message)
    log.finish()
    caller = Caller()
    await relay(log, caller, 0)  # type: ignore[arg-type]

    assert kinds(caller.written) == [
        "user_response",
        "budget",
        "8",
        "budget",
        "2",
        "model_response",
    ]
    first, second = caller.written[2], caller.written[4]
    assert texts_of(first) == list("abcdefgh") and texts_of(second) == ["i", "j"]
    combined = first.token.token
    assert combined.final_logit.string_token == "abcdefgh"
    assert abs(combined.final_logit.logprob - (5 * -0.5 + 3 * -0.25)) < 1e-9
    assert not combined.logprob_unknown
    assert second.token.token.logprob_unknown, "one token's logprob unknown: the batch's too"
    kept = first.token.tokens[0]  # a token keeps its own logprob and alternatives
    assert kept.final_logit.logprob == -0.5
    assert [a.string_token for a in kept.top_logits] == ["a", "alt"]


async def test_a_merged_message_holds_at_most_the_cap() -> None:
    log = ReplyLog("u", "r")
    count = MERGED_TOKENS + 36
    for i in range(count):
        await log.write(token(f"t{i} "))
    log.finish()
    caller = Caller()
    await relay(log, caller, 0)  # type: ignore[arg-type]
    assert kinds(caller.written) == [str(MERGED_TOKENS), "36"]
    assert [t for m in caller.written for t in texts_of(m)] == [f"t{i} " for i in range(count)]


async def test_batches_are_merged_whole_and_never_past_the_cap() -> None:
    log = ReplyLog("u", "r")
    sizes = [30, 30, 30, 5, 64, 1]
    texts = iter(f"t{i} " for i in range(sum(sizes)))
    for size in sizes:
        await log.write(token_batch_message([SampledToken(next(texts), -0.5) for _ in range(size)]))
    log.finish()
    caller = Caller()
    await relay(log, caller, 0)  # type: ignore[arg-type]
    assert kinds(caller.written) == ["60", "35", "64", "1"], "a batch is never split"
    assert [t for m in caller.written for t in texts_of(m)] == [f"t{i} " for i in range(sum(sizes))]


async def test_a_resume_with_a_backlog_gets_exactly_the_rest() -> None:
    log = ReplyLog("u", "r")
    await log.write(human())
    await log.write(token_batch_message([SampledToken(t, -0.5) for t in "abc"]))
    for t in "defg":
        await log.write(token(t))
    await log.write(stored())
    log.finish()
    for after in range(8):
        caller = Caller()
        await relay(log, caller, after)  # type: ignore[arg-type]
        got = [t for m in caller.written for t in texts_of(m)]
        assert got == list("abcdefg")[after:], after
        assert kinds(caller.written)[0] == "user_response"
        assert kinds(caller.written)[-1] == "model_response"
        assert len(caller.written) == (2 if after == 7 else 3), "the rest in one message"
