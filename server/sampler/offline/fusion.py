"""The offline model's fusion: a transparent DEMO, not a model's synthesis.

An n-gram model cannot read answers and write a better one, so the offline model fuses
by a rule anyone can check (documented in the README as a demo):

1. Each source is cut into sentences; two sentences are the same point when their word
   sets overlap by at least `SAME_SENTENCE_OVERLAP` (Jaccard), so near-duplicates match.
2. A sentence's support is how many sources make it (itself or a near-duplicate).
3. The fused text is the sentences supported by a majority of the sources, in the order
   of the source that has most of them (ties: the source given first). When no sentence
   has a majority, it is the whole source whose sentences are best supported (the most
   typical answer).
4. `checklist` adds the given points after them, one per line; `custom` adds a note that
   the instruction was received (the demo cannot follow one).

Streamed as tokens (a word with the space before it) at the offline model's pace. Each
token's logprob is log(support / sources) of its sentence — the share of sources that
agree — so the token view shows where the sources agreed; given points and the note are
chosen, not sampled, and have no probability (None). The same sources give the same text
whatever the seed.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from grove_explorer.server.sampler.base import (
    Finish,
    FinishReason,
    ResolvedParams,
    SampledToken,
    SampleEvent,
)
from grove_explorer.server.sampler.offline.steps import UNPACED_YIELD_EVERY, decode_steps

SAME_SENTENCE_OVERLAP = 0.5
"""Word-set Jaccard overlap from which two sentences count as the same point."""
_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_WORD_RE = re.compile(r"\w+")
_TOKEN_RE = re.compile(r"\s*\S+")
NOTE_PREFIX = "(Offline demo fusion: it cannot follow instructions. Instruction noted: "


@dataclass(frozen=True, slots=True)
class FusedPiece:
    """A piece of the fused text and the logprob its tokens carry (None: given, not drawn)."""

    text: str
    logprob: float | None


def sentences(text: str) -> list[str]:
    """The sentences of a text, stripped (a line without end punctuation is one too)."""
    return [s.strip() for s in _SENTENCE_RE.findall(text) if _WORD_RE.search(s)]


def _words(sentence: str) -> frozenset[str]:
    return frozenset(word.lower() for word in _WORD_RE.findall(sentence))


def same_point(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences' word sets overlap enough to be one point."""
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= SAME_SENTENCE_OVERLAP


def demo_fusion(sources: Sequence[str], mode: str, instruction: str) -> list[FusedPiece]:
    """The demo's fused text as pieces (see the module's rule)."""
    split = [sentences(text) for text in sources]
    words = [[_words(s) for s in source] for source in split]
    count = len(sources)
    majority = count // 2 + 1

    def support(sentence: frozenset[str]) -> int:
        return sum(any(same_point(sentence, other) for other in source) for source in words)

    supports = [[support(w) for w in source] for source in words]
    kept = [sum(s >= majority for s in source) for source in supports]
    best = max(range(count), key=lambda i: (kept[i], -i)) if count else 0
    pieces: list[FusedPiece] = []
    if count and kept[best]:
        chosen = [
            (sentence, s)
            for sentence, s in zip(split[best], supports[best], strict=True)
            if s >= majority
        ]
    elif count:  # nothing shared by a majority: the most typical source, whole
        typical = max(
            range(count),
            key=lambda i: (sum(supports[i]) / max(1, len(supports[i])), -i),
        )
        chosen = list(zip(split[typical], supports[typical], strict=True))
    else:
        chosen = []
    for index, (sentence, s) in enumerate(chosen):
        lead = " " if index else ""
        pieces.append(FusedPiece(lead + sentence, math.log(s / count)))
    if mode == "checklist":
        points = [line.strip() for line in instruction.splitlines() if line.strip()]
        for index, point in enumerate(points):
            lead = "\n\n- " if index == 0 and pieces else ("- " if index == 0 else "\n- ")
            pieces.append(FusedPiece(lead + point, None))
    elif mode == "custom" and instruction.strip():
        lead = "\n\n" if pieces else ""
        pieces.append(FusedPiece(f"{lead}{NOTE_PREFIX}{instruction.strip()})", None))
    return pieces


def fused_tokens(pieces: Sequence[FusedPiece], top_logprobs: int) -> list[SampledToken]:
    """The pieces as tokens: each word with the whitespace before it."""
    tokens: list[SampledToken] = []
    for piece in pieces:
        for match in _TOKEN_RE.finditer(piece.text):
            text = match.group()
            top = ((text, piece.logprob),) if top_logprobs and piece.logprob is not None else ()
            tokens.append(SampledToken(text, piece.logprob, top))
    return tokens


async def stream_demo_fusion(
    sources: Sequence[str],
    mode: str,
    instruction: str,
    params: ResolvedParams,
    *,
    top_logprobs: int,
    token_delay_seconds: float,
) -> AsyncGenerator[SampleEvent, None]:
    """Streams the demo fusion like the offline sampler streams a reply (pace, cap, Finish).

    At most `params.max_tokens` tokens; `Finish(LENGTH)` when the text was cut there.
    """
    tokens = fused_tokens(demo_fusion(sources, mode, instruction), top_logprobs)
    steps = decode_steps(token_delay_seconds) if token_delay_seconds > 0 else None
    for index, token in enumerate(tokens[: params.max_tokens]):
        if index:
            if steps is not None:
                await steps.next_step()
            elif index % UNPACED_YIELD_EVERY == 0:
                await asyncio.sleep(0)
        yield token
    yield Finish(FinishReason.LENGTH if len(tokens) > params.max_tokens else FinishReason.STOP)
