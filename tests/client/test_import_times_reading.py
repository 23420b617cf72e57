"""Reading a file's times into an import that keeps them (no server).

`import_request(…, keep_times=True)` and `import_chunks` send each response's create and
start time (start only when it differs) and the conversation's create time, and refuse a
time that is not ISO 8601 with its JSON path; without the flag nothing of the times is
read, as before. The readers of other tools turn their times into the document's: ChatGPT's
and Open WebUI's seconds (Open WebUI's milliseconds too), loom's local stamps; a time of
the wrong kind makes that conversation a problem that names it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from grove_explorer.client.export.importing import import_chunks, import_request
from grove_explorer.client.foreign import ForeignConversation, ForeignProblem, read_foreign
from grove_explorer.client.import_call import joined, request_chunks
from tests.app.test_headless import document


def _doc(**extra: Any) -> dict[str, Any]:
    data = document(
        {
            "response_id": "q",
            "parent_response_id": None,
            "sender": "human",
            "message": "Why?",
            "create_time": "2025-03-01T10:00:00.250000Z",
            "start_time": "2025-03-01T10:00:00.250000Z",
        },
        {
            "response_id": "a",
            "parent_response_id": "q",
            "sender": "model",
            "message": "Because.",
            "create_time": "2025-03-01T10:00:04Z",
            "start_time": "2025-03-01T10:00:01+00:00",
        },
    )
    data["create_time"] = "2025-03-01T09:59:00Z"
    data.update(extra)
    return data


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_kept_times_are_sent_and_a_start_only_when_it_differs() -> None:
    request = import_request(_doc(), keep_times=True)
    assert request.keep_times
    assert request.create_time.ToDatetime(UTC) == _utc("2025-03-01T09:59:00")
    q, a = request.responses
    assert q.create_time.ToDatetime(UTC) == _utc("2025-03-01T10:00:00.250000")
    assert not q.HasField("start_time"), "the same as create_time: not sent twice"
    assert a.create_time.ToDatetime(UTC) == _utc("2025-03-01T10:00:04")
    assert a.start_time.ToDatetime(UTC) == _utc("2025-03-01T10:00:01")
    chunks = list(import_chunks(_doc(), 1, keep_times=True))
    assert joined(chunks) == request
    assert chunks[0].part.keep_times and not chunks[1].part.keep_times


def test_without_the_flag_no_time_is_read_even_a_bad_one() -> None:
    data = _doc(create_time="not a time")
    data["responses"][0]["create_time"] = 12
    request = import_request(data)
    assert not request.keep_times and not request.HasField("create_time")
    assert not any(r.HasField("create_time") or r.HasField("start_time") for r in request.responses)


@pytest.mark.parametrize(
    ("where", "value", "sentence"),
    [
        (1, "yesterday", "$.responses[1].create_time: must be an ISO 8601 time, not 'yesterday'."),
        (0, 1714000000, "$.responses[0].create_time: must be an ISO 8601 time or null."),
        (None, "soon", "$.create_time: must be an ISO 8601 time, not 'soon'."),
    ],
)
def test_a_time_that_is_not_iso_is_named_by_its_path(
    where: int | None, value: Any, sentence: str
) -> None:
    data = _doc()
    if where is None:
        data["create_time"] = value
    else:
        data["responses"][where]["create_time"] = value
    with pytest.raises(ValueError) as caught:
        import_request(data, keep_times=True)
    assert str(caught.value) == sentence
    with pytest.raises(ValueError) as chunked:
        list(import_chunks(data, 1, keep_times=True))
    assert str(chunked.value) == sentence


def test_null_times_are_not_sent_and_a_zoneless_time_is_utc() -> None:
    data = _doc(create_time=None)
    data["responses"][0]["create_time"] = None
    data["responses"][0]["start_time"] = None
    data["responses"][1]["create_time"] = "2025-03-01T10:00:04"
    request = import_request(data, keep_times=True)
    assert not request.HasField("create_time")
    q, a = request.responses
    assert not q.HasField("create_time") and not q.HasField("start_time")
    assert a.create_time.ToDatetime(UTC) == _utc("2025-03-01T10:00:04")


def test_sdk_chunks_of_a_request_carry_its_flag_and_time() -> None:
    request = import_request(_doc(), keep_times=True)
    chunks = list(request_chunks(request, 1))
    assert chunks[0].part.keep_times and chunks[0].part.HasField("create_time")
    assert joined(chunks) == request


def _one(data: Any, name: str) -> ForeignConversation | ForeignProblem:
    (read,) = read_foreign(data, name)
    return read


def _chatgpt(created: Any, message_time: Any) -> list[dict[str, Any]]:
    return [
        {
            "title": "t",
            "create_time": created,
            "mapping": {
                "r": {"id": "r", "message": None, "parent": None},
                "u": {
                    "id": "u",
                    "parent": "r",
                    "message": {
                        "author": {"role": "user"},
                        "content": {"content_type": "text", "parts": ["hi"]},
                        "create_time": message_time,
                    },
                },
            },
        }
    ]


def test_chatgpt_times_become_the_documents() -> None:
    read = _one(_chatgpt(1714000000.5, 1714000001.25), "chatgpt")
    assert isinstance(read, ForeignConversation)
    data, _ = read.document()
    assert data["create_time"] == "2024-04-24T23:06:40.500000Z"
    assert data["responses"][0]["create_time"] == "2024-04-24T23:06:41.250000Z"
    read = _one(_chatgpt(None, None), "chatgpt")
    assert isinstance(read, ForeignConversation)
    data, _ = read.document()
    assert data["create_time"] is None and data["responses"][0]["create_time"] is None


@pytest.mark.parametrize(
    ("created", "message_time", "reason"),
    [
        ("monday", 1.0, "$[0].create_time: must be a time in seconds since 1970, not a string."),
        (
            1.0,
            1e300,
            "$[0].mapping.u.message.create_time: 1e+300 is not a time within the years 1-9999.",
        ),
    ],
)
def test_chatgpt_times_of_the_wrong_kind_name_their_path(
    created: Any, message_time: Any, reason: str
) -> None:
    read = _one(_chatgpt(created, message_time), "chatgpt")
    assert isinstance(read, ForeignProblem) and read.reason == reason


def _openwebui(created_at: Any, timestamp: Any) -> list[dict[str, Any]]:
    return [
        {
            "title": "t",
            "created_at": created_at,
            "chat": {
                "history": {
                    "currentId": "m",
                    "messages": {
                        "m": {
                            "id": "m",
                            "parentId": None,
                            "role": "user",
                            "content": "hi",
                            "timestamp": timestamp,
                        }
                    },
                }
            },
        }
    ]


def test_openwebui_seconds_and_milliseconds() -> None:
    read = _one(_openwebui(1720000000, 1720000005000), "openwebui")
    assert isinstance(read, ForeignConversation)
    data, _ = read.document()
    assert data["create_time"] == "2024-07-03T09:46:40.000000Z"
    assert data["responses"][0]["create_time"] == "2024-07-03T09:46:45.000000Z"
    read = _one(_openwebui(None, True), "openwebui")
    assert isinstance(read, ForeignProblem)
    assert read.reason == (
        "$[0].chat.history.messages.m.timestamp: must be a time in seconds since 1970, not "
        "true or false."
    )


def test_loom_stamps_are_local_times_and_a_bad_one_is_named() -> None:
    meta = {"creation_timestamp": "2021-09-18-13.02.11"}
    tree = {"root": {"id": "p", "text": "Once", "meta": meta}}
    read = _one(tree, "loom")
    assert isinstance(read, ForeignConversation)
    data, _ = read.document()
    local = datetime(2021, 9, 18, 13, 2, 11).astimezone()
    assert data["responses"][0]["create_time"] == local.astimezone(UTC).isoformat(
        timespec="microseconds"
    ).replace("+00:00", "Z")
    meta["creation_timestamp"] = "18/09/2021"
    read = _one(tree, "loom")
    assert isinstance(read, ForeignProblem)
    assert read.reason == (
        "$.root.meta.creation_timestamp: must be a time as loom writes it "
        "(2021-09-18-13.02.11), not '18/09/2021'."
    )
