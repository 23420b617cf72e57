"""What a reply keeps a token is values, not objects the garbage collector must scan.

Every object a stream keeps per token fills the collector's young generation, and each of
its passes stops every stream of the server at once (bench.scale: 12-35 ms, two or three
times a phase a replica). A resumable reply's log and the offline sampler's bans are kept
as plain values: writing many tokens adds (next to) no tracked object.
"""

from __future__ import annotations

import gc

from grove_explorer.server.sampler.base import PathMessage, ResolvedParams, SampledToken
from grove_explorer.server.sampler.offline.decoding import Run
from grove_explorer.server.sampler.offline.ngram import shared_model
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
