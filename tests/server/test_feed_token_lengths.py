"""Token lengths on the feed: what lets a replica relay another's reply token by token.

A resuming caller counts tokens; the feed carries text. Each `reply_text` (live batches
and catch-ups) carries the lengths of the tokens it is made of, pieces stay within an
event's bytes, a merge that trims a piece keeps its lengths right, and the index of
replies running elsewhere follows their start and end.
"""

from __future__ import annotations

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live import MAX_EVENT_BYTES, InProcessFeed, LivePublisher
from grove_explorer.server.live.elsewhere import RepliesElsewhere
from grove_explorer.server.live.publishing import token_pieces
from grove_explorer.server.live.remote_merge import (
    RemoteMerge,
    catch_up_events,
    trimmed_lengths,
)
from grove_explorer.server.sampler.base import SampledToken


def test_a_usual_batch_is_one_piece_with_its_token_lengths() -> None:
    assert list(token_pieces(["Oak", " trees", " é"])) == [(0, "Oak trees é", [3, 6, 2])]


def test_big_batches_are_cut_at_token_boundaries_and_fit_an_event() -> None:
    tokens = ["\U0001f333" * 7] * 400 + ["b"]  # 4-byte code points: the bytes decide, not chars
    pieces = list(token_pieces(tokens))
    assert len(pieces) > 1
    assert "".join(text for _, text, _ in pieces) == "".join(tokens)
    for start, text, lengths in pieces:
        assert sum(lengths) == len(text)
        event = chat_pb2.ConversationEvent(conversation_id="c" * 36, request_id="r" * 64)
        event.reply_text.stream_id = "s" * 36
        event.reply_text.offset = start
        event.reply_text.text = text
        event.reply_text.token_lengths.extend(lengths)
        assert event.ByteSize() <= MAX_EVENT_BYTES
    assert [s for s, _, _ in pieces] == [
        sum(len(t) for _, t, _ in pieces[:i]) for i in range(len(pieces))
    ]


def test_a_token_too_big_for_an_event_is_cut_and_its_pieces_say_no_lengths() -> None:
    big = "é" * 5_000
    pieces = list(token_pieces(["a", big, "b"]))
    assert pieces[0] == (0, "a", [1])
    assert all(lengths == [] for _, _, lengths in pieces[1:-1])
    assert pieces[-1] == (1 + len(big), "b", [1])
    assert "".join(text for _, text, _ in pieces) == "a" + big + "b"


async def test_live_text_and_catch_ups_carry_the_token_lengths() -> None:
    feed = InProcessFeed()
    watcher = feed.subscribe("c")
    pieces: list[str] = []
    reply = LivePublisher(feed).reply("c", "alice", "r1", "s1", None, "offline", pieces)
    pieces.extend(["Oak", " trees"])
    reply.sent([SampledToken("Oak", None), SampledToken(" trees", None)], 9)
    pieces.append(" grow")  # sampled, not sent yet: not in the catch-up
    live = await anext(watcher)
    assert list(live.reply_text.token_lengths) == [3, 6]
    progress = reply.in_progress()
    assert progress.text == "Oak trees" and list(progress.token_lengths) == [3, 6]
    start, text = catch_up_events("c", progress)
    assert start.HasField("reply_started")
    assert text.reply_text.text == "Oak trees" and list(text.reply_text.token_lengths) == [3, 6]


def test_a_merge_trimming_a_piece_keeps_whole_tokens_or_says_unknown() -> None:
    assert trimmed_lengths([3, 6, 5], 3) == [6, 5]
    assert trimmed_lengths([3, 6, 5], 0) == [3, 6, 5]
    assert trimmed_lengths([3, 6, 5], 4) == []  # mid-token: not known
    merge = RemoteMerge()
    started = chat_pb2.ConversationEvent(conversation_id="c")
    started.reply_started.stream_id = "s"
    merge.accept(started)

    def text(offset: int, body: str, lengths: list[int]) -> chat_pb2.ConversationEvent:
        event = chat_pb2.ConversationEvent(conversation_id="c")
        event.reply_text.stream_id = "s"
        event.reply_text.offset = offset
        event.reply_text.text = body
        event.reply_text.token_lengths.extend(lengths)
        return event

    assert merge.accept(text(0, "Oak", [3])) is not None
    overlapping = merge.accept(text(0, "Oak trees", [3, 6]))
    assert overlapping is not None
    assert overlapping.reply_text.text == " trees"
    assert list(overlapping.reply_text.token_lengths) == [6]


def test_the_index_follows_replies_started_and_finished_elsewhere() -> None:
    index = RepliesElsewhere(limit=2)

    def started(request_id: str, stream_id: str) -> chat_pb2.ConversationEvent:
        event = chat_pb2.ConversationEvent(
            conversation_id="c", actor="alice", request_id=request_id
        )
        event.reply_started.stream_id = stream_id
        event.reply_started.parent_response_id = "h"
        return event

    index.observe(started("r1", "s1"), "A")
    found = index.find("alice", "r1")
    assert found is not None and found.stream_id == "s1" and found.origin == "A"
    assert index.find("bob", "r1") is None, "another user's request is not theirs"
    finished = chat_pb2.ConversationEvent(conversation_id="c", actor="alice")
    finished.reply_finished.stream_id = "s1"
    index.observe(finished, "A")
    assert index.find("alice", "r1") is None
    for n in range(3):
        index.observe(started(f"q{n}", f"t{n}"), "A")
    assert len(index) == 2 and index.evicted == 1 and index.find("alice", "q0") is None
