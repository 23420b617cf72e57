"""What a reply keeps a token is values, not objects the garbage collector must scan.

Every object a stream keeps per token fills the collector's young generation, and each of
its passes stops every stream of the server at once (bench.scale: 12-35 ms, two or three
times a phase a replica). A resumable reply's log and the offline sampler's bans are kept
as plain values: writing many tokens adds (next to) no tracked object.
"""

from __future__ import annotations

import gc

import pytest

from grove_explorer.server.convert import token_batch_message
from grove_explorer.server.sampler.base import PathMessage, ResolvedParams, SampledToken
from grove_explorer.server.sampler.offline import decoding
from grove_explorer.server.sampler.offline.corpus import load_corpus_paragraphs
from grove_explorer.server.sampler.offline.decoding import Run
from grove_explorer.server.sampler.offline.ngram import NgramModel, shared_model
from grove_explorer.server.servicer.reply_log import ReplyLog

TOKENS = 2_000


def tracked_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def test_a_reply_log_keeps_no_object_a_token() -> None:
    top = (("a", -0.5), ("b", -1.5))  # a sampler's alternatives are shared between tokens
    log = ReplyLog("u", "r")
    before = tracked_objects()
    for i in range(TOKENS):
        log.write_tokens([SampledToken(f"w{i} ", -0.5, top)])
    grown = tracked_objects() - before
    assert log.tokens == TOKENS
    assert grown < TOKENS // 20, f"{grown} objects kept for {TOKENS} tokens"
    sent = log.shaped(len(log.entries) - 1, 0)
    assert sent is not None and sent.token.token.final_logit.string_token == f"w{TOKENS - 1} "


def test_the_offline_sampler_keeps_no_object_a_token_once_its_tables_exist() -> None:
    model = shared_model()
    path = (PathMessage("human", "Tell me about trees, gardens and the weather."),)

    def run() -> Run:
        return Run(model, path, ResolvedParams(0.8, 0.95, TOKENS, 7), 5, False, TOKENS)

    warm = run()  # the same seed twice: the second run meets only tables the first built
    assert all(warm.next_token() is not None for _ in range(TOKENS))
    again = run()
    before = tracked_objects()
    drawn = [again.next_token() for _ in range(TOKENS)]
    texts = [t.text for t in drawn if t is not None]
    del drawn
    grown = tracked_objects() - before
    assert len(texts) == TOKENS
    # A history followed twice keeps a set of its bans: a few in a long reply.
    assert grown < TOKENS // 4, f"{grown} objects kept for {TOKENS} tokens"


def test_a_new_sampling_table_adds_few_objects_to_the_young_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A path no run met before builds a table at most steps; each table's objects fill the
    collector's young generation until its next pass (which stops every stream at once).

    A fresh model and table store make every context new, as for a fresh replica. The
    growth is read with the collector off: the count of tracked objects made and kept.
    Before, a table and its context's candidates kept ~15 (key tuples, a set of the ids,
    a list of running sums, a (top, bytes) pair in the wire cache, two tuples a top list
    of one sure token); now ~11, most of them the five alternatives' pairs.
    """
    monkeypatch.setattr(decoding, "TABLES", decoding.TableStore(100_000))
    model = NgramModel(load_corpus_paragraphs())
    path = (PathMessage("human", "A path of its own: lighthouses, kettles and the tides."),)
    run = Run(model, path, ResolvedParams(0.8, 0.95, TOKENS, 11), 5, False, TOKENS)
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        tokens = 0
        while (token := run.next_token()) is not None:
            token_batch_message([token])  # as the server sends it (its alternatives cache)
            tokens += 1
        grown = gc.get_count()[0] - before
    finally:
        gc.enable()
    tables = len(run.tables)
    assert tokens >= TOKENS and tables > TOKENS // 2  # most steps met a new context
    assert grown / tables < 12.5, f"{grown} objects for {tables} tables"
    assert all(isinstance(key, int) for key in run.tables)
    sure = [t.top for t in run.tables.values() if len(t.ids) == 1 and len(t.top) == 1]
    by_text: dict[str, tuple[tuple[str, float], ...]] = {}
    for top in sure:  # a top list of one sure token is one tuple per text for the process
        assert by_text.setdefault(top[0][0], top) is top
    assert len(sure) > len(by_text)
