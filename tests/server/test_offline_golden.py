"""The offline sampler's replies are exactly the recorded ones (tests/server/offline_golden.py).

Same seed, path and parameters give the same tokens, logprobs, top alternatives and finish
reason as the implementation that wrote the data file, whatever the state of the shared
caches: cold or warm, requests interleaved like a busy server's, or caches so small that
they are dropped all the time.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from grove_explorer.server.sampler.offline import decoding, ngram
from tests.server.offline_golden import CASES, DATA_FILE, Case, record

EXPECTED: dict[str, dict[str, object]] = json.loads(DATA_FILE.read_text(encoding="utf-8"))


def test_data_file_covers_every_case() -> None:
    assert sorted(EXPECTED) == sorted(case.name for case in CASES)
    finishes = {str(found["finish"]) for found in EXPECTED.values()}
    assert finishes == {"stop", "length"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_reply_is_the_recorded_one(case: Case) -> None:
    first = await record(case)
    assert first == EXPECTED[case.name]
    # Again, now that this request's tables and contexts are cached.
    assert await record(case) == EXPECTED[case.name]


async def test_interleaved_replies_are_the_recorded_ones() -> None:
    # As on a server: every reply in flight at once, each yielding every few tokens.
    found = await asyncio.gather(*(record(case) for case in CASES))
    assert dict(zip((case.name for case in CASES), found, strict=True)) == EXPECTED


async def test_replies_survive_caches_dropped_all_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decoding, "TABLES", decoding.TableStore(3))
    monkeypatch.setattr(ngram, "_MEMO_LIMIT", 3)
    for case in CASES[:12]:
        assert await record(case) == EXPECTED[case.name], case.name
