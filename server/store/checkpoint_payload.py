"""A checkpoint's payload: the NewResponse of a running stream as JSON, and back.

Shared by the SQLite and PostgreSQL stores, so a checkpoint means the same in both (and
`grove db migrate-to` may copy them as they are). The payload is always a partial reply
"interrupted": it is read back only after its writer is gone.
"""

from __future__ import annotations

import dataclasses
import json

from grove_explorer.server.store.records import NewResponse, SamplingRecord
from grove_explorer.server.store.rows import format_time, parse_time

# The records' field names, read once (dataclasses.fields builds its tuple every call).
_FIELDS = tuple(f.name for f in dataclasses.fields(NewResponse))
_SAMPLING_FIELDS = tuple(f.name for f in dataclasses.fields(SamplingRecord))


def encode_new_response(new: NewResponse) -> str:
    """A NewResponse as JSON (a checkpoint's payload), always partial and "interrupted".

    Tokens are left out: a checkpoint keeps the text; logprobs of an interrupted reply
    are not worth rewriting the whole list twice a second.
    """
    # Field by field rather than dataclasses.asdict, which deep-copies every value: with
    # hundreds of streams checkpointed several times a second it was ~10 % of the server's
    # CPU (bench.load --profile-server). The text goes as it is (no \u escapes to scan
    # for): 30 -> 21 µs a payload of 100 words.
    data = {name: getattr(new, name) for name in _FIELDS}
    sampling = new.sampling
    if sampling is not None:
        data["sampling"] = {name: getattr(sampling, name) for name in _SAMPLING_FIELDS}
    data["partial"] = True
    data["finish_reason"] = "interrupted"  # a checkpoint is read back only after a crash
    data["tokens"] = None
    if new.start_time is not None:
        data["start_time"] = format_time(new.start_time)
    return json.dumps(data, ensure_ascii=False)


def decode_new_response(text: str) -> NewResponse:
    """The NewResponse a checkpoint holds."""
    data = json.loads(text)
    data["finish_reason"] = "interrupted"  # also for checkpoints written before it existed
    sampling = data.pop("sampling")
    start = data.pop("start_time", None)  # absent in checkpoints of older versions
    data["merged_from"] = tuple(data.get("merged_from", ()))  # a JSON list; older: none
    return NewResponse(
        **data,
        sampling=None if sampling is None else SamplingRecord(**sampling),
        start_time=None if start is None else parse_time(start),
    )
