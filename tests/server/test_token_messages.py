"""Token wire messages (server/convert.py `token_batch_message`), field by field.

The message is built in place for speed; what it says must stay what the seed and our
SDK read: one token as `token`; several as `token` (their text joined, logprobs summed)
plus `tokens` (each its own); an unknown logprob (a given prefix) flagged, never 0 as a
real value.
"""

from __future__ import annotations

from grove_explorer.protos import sampler_public_pb2
from grove_explorer.server.convert import token_batch_message
from grove_explorer.server.sampler.base import SampledToken

OAK = SampledToken(" oak", -1.25, ((" oak", -1.25), (" elm", -2.5), (" ash", -3.0)))
PREFIX = SampledToken("Once", None, ())
TREE = SampledToken(" tree", -0.5, ((" tree", -0.5),))


def logits(token: sampler_public_pb2.Token) -> list[tuple[str, float]]:
    return [(logit.string_token, logit.logprob) for logit in token.top_logits]


def test_one_token_travels_as_token() -> None:
    sample = token_batch_message([OAK]).token
    assert sample.token.final_logit.string_token == " oak"
    assert sample.token.final_logit.logprob == -1.25
    assert not sample.token.logprob_unknown
    assert logits(sample.token) == [(" oak", -1.25), (" elm", -2.5), (" ash", -3.0)]
    assert len(sample.tokens) == 0


def test_an_unknown_logprob_is_flagged() -> None:
    sample = token_batch_message([PREFIX]).token
    assert sample.token.final_logit.string_token == "Once"
    assert sample.token.logprob_unknown and sample.token.final_logit.logprob == 0.0
    assert logits(sample.token) == []


def test_several_tokens_travel_joined_and_one_by_one() -> None:
    sample = token_batch_message([OAK, TREE]).token
    assert sample.token.final_logit.string_token == " oak tree"
    assert sample.token.final_logit.logprob == -1.75
    assert not sample.token.logprob_unknown and logits(sample.token) == []
    assert [t.final_logit.string_token for t in sample.tokens] == [" oak", " tree"]
    assert [logits(t) for t in sample.tokens] == [
        logits(token_batch_message([OAK]).token.token),
        [(" tree", -0.5)],
    ]


def test_a_batch_with_an_unknown_logprob_is_unknown_as_a_whole() -> None:
    sample = token_batch_message([PREFIX, OAK]).token
    assert sample.token.final_logit.string_token == "Once oak"
    assert sample.token.logprob_unknown and sample.token.final_logit.logprob == 0.0
    assert [t.logprob_unknown for t in sample.tokens] == [True, False]


def test_alternatives_kept_as_bytes_give_the_same_message_as_built_ones() -> None:
    # The offline sampler hands out one `top` tuple token after token: from its second
    # sight it is parsed from kept bytes. Every message must equal one built field by
    # field from an equal tuple never seen before.
    shared = ((" birch", -0.75), (" oak", -1.5), (" yew", -2.25))
    built = [
        token_batch_message([SampledToken(f" w{i}", -0.75, tuple(list(shared)))]) for i in range(4)
    ]
    kept = [token_batch_message([SampledToken(f" w{i}", -0.75, shared)]) for i in range(4)]
    assert [m.SerializeToString() for m in kept] == [m.SerializeToString() for m in built]
    assert logits(kept[3].token.token) == list(shared)
    # In a batch, each token's own alternatives, kept or not.
    batch = token_batch_message([SampledToken(" a", -0.5, shared), OAK, TREE]).token
    assert [logits(t) for t in batch.tokens] == [list(shared), list(OAK.top), list(TREE.top)]
    # An equal but distinct tuple is its own entry: identity, never a stale id, decides.
    other = ((" birch", -0.5),)
    assert logits(token_batch_message([SampledToken(" b", -0.5, other)]).token.token) == [
        (" birch", -0.5)
    ]
