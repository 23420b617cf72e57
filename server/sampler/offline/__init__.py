"""The offline sampler: a tiny word-level n-gram model, the server's default text model.

The training text in ``corpus/*.txt`` is original prose written for Grove (trees and gardens,
weather and cooking, the scientific method and branching ideas, terminals and language
models, the history of maps). This is a DEMO model, not a language model of any quality: it
exists so that the server, the SDK and the app can be run and tested end to end with no
network, no API keys and no model weights, while still behaving like a real sampler (a
probability distribution per token, temperature, nucleus sampling, seeds, log-probabilities).

How it works, and why it is shaped this way:

- Training is counting. Each corpus paragraph is one document; its end is the end-of-reply
  event. Trigram, bigram and unigram counts are collected once per process and cached at
  module level, so constructing a sampler is free after the first time (training takes a few
  tens of milliseconds).
- Each step draws from an interpolated trigram/bigram/unigram distribution (Witten-Bell
  weights) restricted to the continuations actually seen after the current context, capped
  at the most likely few dozen. Never touching the whole vocabulary keeps a step at a few
  microseconds, which matters because the server benchmark streams 100,000 tokens. The
  per-context sampling tables are also shared between requests with the same path and
  parameters, so resampling a path (Grove's core use) mostly costs a lookup and a bisect.
- The end-of-paragraph event ends the reply once it has a minimum length; before that it
  becomes a paragraph-break token and the reply goes on, so replies are never one-liners.
- The conversation path steers the reply: its content words select the most related corpus
  paragraphs, and the words of those paragraphs are boosted wherever they are grammatical
  continuations (a cache/topic model). The opening word of each paragraph of the reply is
  drawn from sentence starts of the related paragraphs.
- Repeating a 4-gram within a reply is forbidden, which stops the loops that n-gram models
  (and greedy decoding in particular) otherwise fall into.

The package, by step: corpus.py (the text and its tokens), ngram.py (the counts),
topic.py (what a path makes likelier), decoding.py (tables and one reply's state),
sampler.py (`OfflineSampler`, the `Sampler` protocol).
"""

from grove_explorer.server.sampler.offline.corpus import CORPUS_DIR, load_corpus_paragraphs
from grove_explorer.server.sampler.offline.decoding import (
    DEFAULT_MIN_REPLY_TOKENS,
    MAX_TEMPERATURE,
)
from grove_explorer.server.sampler.offline.sampler import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    MAX_SEED,
    MAX_TOKENS_LIMIT,
    OFFLINE_MODEL_NAME,
    OfflineSampler,
)
from grove_explorer.server.sampler.offline.steps import DecodeSteps, decode_steps

__all__ = [
    "CORPUS_DIR",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MIN_REPLY_TOKENS",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_TOP_P",
    "MAX_SEED",
    "MAX_TEMPERATURE",
    "MAX_TOKENS_LIMIT",
    "OFFLINE_MODEL_NAME",
    "DecodeSteps",
    "OfflineSampler",
    "decode_steps",
    "load_corpus_paragraphs",
]
