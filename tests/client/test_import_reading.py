"""`import_request` reads a plainly valid response fast and anything else field by field.

Both readings must accept the same documents and build the same request, byte for byte;
on a bad document the field-by-field reading raises the sentence. These tests build each
document both ways (the plain reading switched off for the second) and compare.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from grove_explorer.client.export import importing
from grove_explorer.client.import_call import joined


def _response(i: int) -> dict[str, Any]:
    human = i % 2 == 0
    words = ["The", " paths", " fork", f" {i}."]
    return {
        "response_id": f"r{i}",
        "parent_response_id": f"r{i - 1}" if i else None,
        "sender": "human" if human else "model",
        "message": f"Question {i}?" if human else "".join(words),
        "create_time": "2026-01-01T00:00:00.000000Z",
        "manual": False,
        "partial": False,
        "shared": False,
        "query": "",
        "query_type": "",
        "model_name": "" if human else "grove-offline",
        "sampling_params": None
        if human
        else {"temperature": 0.7, "top_p": 0.95, "max_tokens": 256, "seed": i},
        "token_count": 0 if human else 4,
        "time_to_first_token_seconds": 0.0 if human else 0.01,
        "total_time_seconds": 0.0 if human else 0.2,
        "prefix_length": 0,
        "start_time": "2026-01-01T00:00:00.000000Z",
        "finish_reason": "" if human else "stop",
        "annotation": {"bookmarked": True, "tags": ["kept"], "rating": 1, "note": ""}
        if i == 4
        else None,
        "tokens": None
        if human
        else [{"text": t, "logprob": -0.25, "top": [[t, -0.25], [" other", -2.5]]} for t in words],
    }


def _document() -> dict[str, Any]:
    """Humans and sampled replies with tokens, an annotation, odd but valid values."""
    document = {"format": "grove.conversation", "version": 1, "title": "t", "starred": False}
    document["responses"] = [_response(i) for i in range(24)]
    document["responses"][3]["tokens"][0]["logprob"] = -0.0
    document["responses"][3]["tokens"][1]["logprob"] = None
    document["responses"][3]["tokens"][2]["top"] = []
    document["responses"][5]["tokens"] = []
    document["responses"][7]["manual"] = True
    document["responses"][7]["sampling_params"] = None
    document["responses"][9]["time_to_first_token_seconds"] = 1
    document["responses"][11]["finish_reason"] = None
    document["responses"][13]["sampling_params"] = {"temperature": 1, "top_p": None}
    del document["responses"][15]["query"]
    return document


def _built(document: Any, *, plain: bool, monkeypatch: pytest.MonkeyPatch) -> bytes | str:
    """The request's bytes, or the ValueError's sentence."""
    if not plain:
        monkeypatch.setattr(importing, "_plain_response", lambda value, seen: None)
    try:
        return importing.import_request(document).SerializeToString(deterministic=True)
    except ValueError as error:
        return str(error)
    finally:
        monkeypatch.undo()


_ODD_VALUES: list[Any] = [None, "", "x", 0, -1, 1.5, -0.0, True, [], ["a"], {}, {"a": 1}]
_FIELDS = [
    "response_id",
    "parent_response_id",
    "sender",
    "message",
    "manual",
    "partial",
    "shared",
    "query",
    "query_type",
    "model_name",
    "token_count",
    "time_to_first_token_seconds",
    "total_time_seconds",
    "prefix_length",
    "finish_reason",
    "sampling_params",
    "annotation",
    "tokens",
]


def _variants() -> list[tuple[str, dict[str, Any]]]:
    variants = [("valid", _document())]
    for field in _FIELDS:
        for value in _ODD_VALUES:
            document = _document()
            document["responses"][3][field] = copy.deepcopy(value)
            variants.append((f"{field}={value!r}", document))
        document = _document()
        del document["responses"][3][field]
        variants.append((f"{field} missing", document))
    for key, value in [("text", 5), ("logprob", "x"), ("top", [["a"]]), ("top", [[1, 2]])]:
        document = _document()
        document["responses"][3]["tokens"][0][key] = value
        variants.append((f"token {key}={value!r}", document))
    for key, value in [("seed", -1), ("seed", 2**64), ("max_tokens", 1.5), ("top_p", "x")]:
        document = _document()
        document["responses"][1]["sampling_params"][key] = value
        variants.append((f"sampling {key}={value!r}", document))
    document = _document()
    document["responses"][2] = "not an object"  # type: ignore[call-overload]
    variants.append(("not an object", document))
    return variants


@pytest.mark.parametrize(("name", "document"), _variants(), ids=[n for n, _ in _variants()])
def test_the_plain_reading_builds_what_the_checked_one_does(
    name: str, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _built(copy.deepcopy(document), plain=True, monkeypatch=monkeypatch)
    checked = _built(copy.deepcopy(document), plain=False, monkeypatch=monkeypatch)
    assert plain == checked


def test_the_valid_document_is_read_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above means something: the plain reading takes the valid responses."""
    calls: list[bool] = []
    real = importing._plain_response

    def counted(value: Any, seen: set[str]) -> Any:
        read = real(value, seen)
        calls.append(read is not None)
        return read

    monkeypatch.setattr(importing, "_plain_response", counted)
    importing.import_request(_document())
    assert calls.count(True) == len(_document()["responses"]) - 1  # one has an annotation


def _chunked(document: Any, size: int) -> bytes | str:
    """`import_chunks`' chunks joined into one request's bytes, or the ValueError's sentence."""
    try:
        chunks = list(importing.import_chunks(document, size))
    except ValueError as error:
        return str(error)
    assert [c.response_count for c in chunks[1:]] == [0] * (len(chunks) - 1)
    assert chunks[0].response_count == len(document["responses"])
    for chunk in chunks:  # each chunk carries the tokens of its own responses
        assert set(chunk.part.tokens) <= {r.response_id for r in chunk.part.responses}
    return joined(chunks).SerializeToString(deterministic=True)


@pytest.mark.parametrize(("name", "document"), _variants(), ids=[n for n, _ in _variants()])
def test_the_chunks_join_into_the_request_or_raise_its_error(
    name: str, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read a chunk at a time (`grove import`), a document builds the same, or fails alike."""
    whole = _built(copy.deepcopy(document), plain=True, monkeypatch=monkeypatch)
    for size in (1, 4, 100):
        assert _chunked(copy.deepcopy(document), size) == whole


def test_the_documents_own_fields_are_checked_before_any_chunk_is_read() -> None:
    """`grove import` checks them before a server starts; the responses while it runs."""
    document = _document()
    document["responses"][20]["sender"] = "robot"
    chunks = importing.import_chunks(document, 10)  # no error yet: response 20 is not read
    first = next(chunks)
    assert len(first.part.responses) == 10 and first.part.title == "t"
    next(chunks)
    with pytest.raises(ValueError, match=r"^\$\.responses\[20\]\.sender: "):
        next(chunks)
    document["version"] = 2
    with pytest.raises(ValueError, match=r"^\$\.version: "):
        importing.import_chunks(document, 10)
