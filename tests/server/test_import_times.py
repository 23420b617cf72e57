"""An import that keeps its times (ImportConversationRequest.keep_times), on a real server.

Each response is stored at the times the request gives, the conversation at its given
create time and updated at its latest; a response without a time gets the import's time
and one that starts before its parent its parent's start, both counted in the reply's
`import_times`; a time after the server's clock refuses the import (nothing stored);
siblings follow their times but never come before their parent; and a request without
the flag (an older client) is stored at the import's time as before, with no report.
The unary ImportConversation and the streamed ImportConversationStream agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from grove_explorer.client.import_call import request_chunks
from grove_explorer.protos import chat_pb2, chat_pb2_grpc
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.servicer import importing
from tests import both_stores

# Every test on both stores: SQLite, then PostgreSQL (tests/both_stores.py).
server_config = both_stores.server_config
make_server = both_stores.make_server


@pytest.fixture
async def stub(server: GroveServer) -> AsyncIterator[Any]:
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield chat_pb2_grpc.ChatStub(channel)
    finally:
        await channel.close()


def _response(
    rid: str,
    parent: str = "",
    *,
    created: datetime | None = None,
    start: datetime | None = None,
    sender: str = "human",
) -> chat_pb2.Response:
    wire = chat_pb2.Response(
        response_id=rid,
        parent_response_id=parent,
        sender=sender,
        message=f"message {rid}",
        manual=sender == "model",
    )
    if created is not None:
        wire.create_time.FromDatetime(created)
    if start is not None:
        wire.start_time.FromDatetime(start)
    return wire


T0 = datetime(2024, 4, 24, 23, 6, 40, 123456, tzinfo=UTC)


def _seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def _times(wire: chat_pb2.Response) -> tuple[datetime, datetime]:
    return wire.create_time.ToDatetime(UTC), wire.start_time.ToDatetime(UTC)


Send = Callable[[chat_pb2.ImportConversationRequest], Any]


@pytest.fixture(params=["unary", "stream"])
def send(request: pytest.FixtureRequest, stub: Any) -> Send:
    """ImportConversation, or ImportConversationStream in chunks of 2 responses."""
    if request.param == "unary":
        return stub.ImportConversation  # type: ignore[no-any-return]

    def streamed(whole: chat_pb2.ImportConversationRequest) -> Any:
        return stub.ImportConversationStream(iter(list(request_chunks(whole, 2))))

    return streamed


async def _loaded(stub: Any, cid: str) -> chat_pb2.Conversation:
    request = chat_pb2.GetConversationRequest(conversation_id=cid)
    return await stub.GetConversation(request)  # type: ignore[no-any-return]


async def test_given_times_are_kept_and_the_conversation_spans_them(stub: Any, send: Send) -> None:
    request = chat_pb2.ImportConversationRequest(title="kept", keep_times=True)
    request.create_time.FromDatetime(_seconds(-5))
    request.responses.extend(
        [
            _response("q", created=_seconds(0)),
            # A sampled reply: started at 1 s, stored at 3.5 s.
            _response("a", "q", created=_seconds(3.5), start=_seconds(1), sender="model"),
            _response("q2", "a", created=_seconds(60)),
        ]
    )
    reply = await send(request)
    assert [_times(r) for r in reply.responses] == [
        (_seconds(0), _seconds(0)),
        (_seconds(3.5), _seconds(1)),
        (_seconds(60), _seconds(60)),
    ]
    assert reply.create_time.ToDatetime(UTC) == _seconds(-5)
    assert reply.update_time.ToDatetime(UTC) == _seconds(60), "updated at its latest time"
    assert reply.import_times == chat_pb2.ImportTimes(kept=3)
    loaded = await _loaded(stub, reply.conversation_id)
    assert list(loaded.responses) == list(reply.responses), "the reply is what is stored"
    assert (loaded.create_time, loaded.update_time) == (reply.create_time, reply.update_time)
    listed = await stub.ListConversations(empty_pb2.Empty())
    (summary,) = [c for c in listed.conversations if c.conversation_id == reply.conversation_id]
    assert summary.update_time == reply.update_time


async def test_a_summary_reply_counts_too(stub: Any) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True, summary_only=True)
    request.responses.extend([_response("q", created=_seconds(0)), _response("q2", "q")])
    reply = await stub.ImportConversation(request)
    assert reply.import_times == chat_pb2.ImportTimes(kept=1, missing=1)
    assert not reply.responses and reply.response_count == 2
    assert not reply.imported_ids, "a summary names no responses"


async def test_without_a_conversation_time_it_starts_at_its_first_response(
    stub: Any, send: Send
) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend(
        [_response("q", created=_seconds(30)), _response("r", created=_seconds(10))]
    )
    reply = await send(request)
    assert reply.create_time.ToDatetime(UTC) == _seconds(10)
    assert reply.update_time.ToDatetime(UTC) == _seconds(30)


async def test_times_order_siblings_but_a_child_never_comes_before_its_parent(
    stub: Any, send: Send
) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend(
        [
            _response("q", created=_seconds(100)),
            _response("late", "q", created=_seconds(300), sender="model"),
            _response("early", "q", created=_seconds(200), sender="model"),
            # Written before its parent by the file's clock: raised to its parent's start.
            _response("child", "late", created=_seconds(50), start=_seconds(40)),
            # Under it, a time between: raised too (to the raised parent's start).
            _response("grandchild", "child", created=_seconds(250), sender="model"),
        ]
    )
    reply = await send(request)
    messages = [r.message.removeprefix("message ") for r in reply.responses]
    # Siblings by their times (the file listed "late" first); each child after its parent.
    assert messages == ["q", "early", "late", "child", "grandchild"]
    by_name = dict(zip(messages, reply.responses, strict=True))
    assert _times(by_name["child"]) == (_seconds(300), _seconds(300))
    assert _times(by_name["grandchild"]) == (_seconds(300), _seconds(300))
    assert reply.import_times == chat_pb2.ImportTimes(kept=3, raised=2)
    # The new ids in the request's order: the way back from a request's response to its copy.
    by_id = {r.response_id: r.message for r in reply.responses}
    assert [by_id[rid] for rid in reply.imported_ids] == [
        f"message {name}" for name in ("q", "late", "early", "child", "grandchild")
    ]
    loaded = await _loaded(stub, reply.conversation_id)
    assert list(loaded.responses) == list(reply.responses)
    positions = {r.response_id: i for i, r in enumerate(loaded.responses)}
    for response in loaded.responses:
        if response.parent_response_id:
            assert positions[response.parent_response_id] < positions[response.response_id]


async def test_equal_times_keep_the_files_order(stub: Any, send: Send) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend(
        [_response("q", created=_seconds(0))]
        + [_response(f"a{i}", "q", created=_seconds(1), sender="model") for i in range(4)]
    )
    reply = await send(request)
    assert [r.message for r in reply.responses][1:] == [f"message a{i}" for i in range(4)]


async def test_missing_times_get_the_imports_time_and_are_counted(stub: Any, send: Send) -> None:
    before = datetime.now(UTC)
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    zero = _response("zero", created=None)
    zero.create_time.SetInParent()  # present but 0: the epoch, which no tool means
    request.responses.extend(
        [
            _response("q", created=_seconds(0)),
            # Given at 5 s, under a parent stored at the import's time: raised to it.
            _response("a", "q", sender="model"),
            _response("b", "a", created=_seconds(5)),
            zero,
        ]
    )
    reply = await send(request)
    after = datetime.now(UTC)
    q, a, b, z = (_times(r) for r in reply.responses)
    assert q == (_seconds(0), _seconds(0))
    assert before <= a[0] == a[1] <= after
    assert b == a, "a child of a response at the import's time comes after it"
    assert before <= z[0] == z[1] <= after
    assert reply.import_times == chat_pb2.ImportTimes(kept=1, missing=2, raised=1)
    assert reply.update_time.ToDatetime(UTC) == a[0]


async def test_a_time_after_the_servers_clock_is_refused_and_nothing_is_stored(
    stub: Any, send: Send
) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend(
        [_response("q", created=_seconds(0)), _response("a", "q", created=future, sender="model")]
    )
    before = await stub.ListConversations(empty_pb2.Empty())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await send(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details() or ""
    assert details.startswith("Response 2 ('a'): its time ")
    assert "is after the server's clock" in details and "import it without them" in details
    assert future.isoformat(timespec="microseconds").replace("+00:00", "Z") in details
    after = await stub.ListConversations(empty_pb2.Empty())
    assert len(after.conversations) == len(before.conversations)


async def test_a_future_conversation_time_and_invalid_times_are_refused(
    stub: Any, send: Send
) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.create_time.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    request.responses.append(_response("q", created=_seconds(0)))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await send(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith("The conversation: its create_time ")

    bad = chat_pb2.ImportConversationRequest(keep_times=True)
    wire = bad.responses.add(response_id="q", sender="human", message="hi")
    wire.start_time.seconds = 10
    wire.start_time.nanos = 1_000_000_000
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await send(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == (
        "Response 1 ('q'): its start_time is not a valid time (seconds 10, nanos "
        "1000000000): a time lies within the years 1-9999 and nanos within 0-999,999,999."
    )


async def test_other_problems_of_a_response_are_named_before_its_time(stub: Any) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.append(
        _response("q", "nowhere", created=datetime.now(UTC) + timedelta(days=1))
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ImportConversation(request)
    assert "names parent 'nowhere'" in (caught.value.details() or "")


async def test_without_the_flag_times_are_the_imports_as_before(stub: Any, send: Send) -> None:
    """An older client never sets keep_times: given times are ignored, nothing reported."""
    before = datetime.now(UTC)
    request = chat_pb2.ImportConversationRequest(title="old client")
    request.create_time.FromDatetime(_seconds(0))
    request.responses.extend(
        [
            _response("q", created=_seconds(0)),
            _response("a", "q", created=_seconds(-100), sender="model"),
        ]
    )
    reply = await send(request)
    after = datetime.now(UTC)
    assert not reply.HasField("import_times")
    times = [_times(r) for r in reply.responses]
    assert all(before <= created == start <= after for created, start in times)
    assert times[0][0] < times[1][0], "one tick each, in the request's order"
    assert before <= reply.create_time.ToDatetime(UTC) < times[0][0]
    assert reply.update_time.ToDatetime(UTC) == times[-1][0]
    assert [r.message for r in reply.responses] == ["message q", "message a"]


async def test_a_reply_added_to_an_old_response_comes_after_it(stub: Any) -> None:
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend([_response("q", created=_seconds(0))])
    reply = await stub.ImportConversation(request)
    cid = reply.conversation_id
    parent = reply.responses[0].response_id
    added = chat_pb2.AddModelResponseRequest(
        conversation_id=cid, parent_response_id=parent, message="written now"
    )
    await stub.AddModelResponse(added)
    loaded = await _loaded(stub, cid)
    assert [r.message for r in loaded.responses] == ["message q", "written now"]
    assert loaded.update_time.ToDatetime(UTC) > _seconds(0)


def _chain(size: int) -> Iterator[chat_pb2.Response]:
    for i in range(size):
        created = _seconds(i) if i % 3 else None  # every third without a time
        yield _response(f"r{i}", f"r{i - 1}" if i else "", created=created)


async def test_a_long_import_keeps_times_across_batches(stub: Any) -> None:
    size = importing.BATCH * 2 + 5
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend(_chain(size))
    reply = await stub.ImportConversationStream(iter(list(request_chunks(request, 700))))
    missing = len(range(0, size, 3))
    assert reply.import_times.missing == missing
    # After the first response at the import's time, every later one is raised to it.
    assert reply.import_times.kept == 0
    assert reply.import_times.raised == size - missing
    assert [r.message for r in reply.responses] == [f"message r{i}" for i in range(size)]
    loaded = await _loaded(stub, reply.conversation_id)
    assert list(loaded.responses) == list(reply.responses)


async def test_a_response_read_the_checked_way_keeps_its_time_too(stub: Any, send: Send) -> None:
    """An annotated response goes through the field-by-field checks, not the plain reading."""
    request = chat_pb2.ImportConversationRequest(keep_times=True)
    request.responses.extend(
        [_response("q", created=_seconds(0)), _response("n", "q", created=_seconds(9))]
    )
    request.responses[1].annotation.tags.append("kept")
    reply = await send(request)
    assert _times(reply.responses[1]) == (_seconds(9), _seconds(9))
    assert list(reply.responses[1].annotation.tags) == ["kept"]
    assert reply.import_times == chat_pb2.ImportTimes(kept=2)
