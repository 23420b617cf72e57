"""Recorded replies of the offline sampler, to prove that optimisations change nothing.

`CASES` covers the sampler's paths: temperatures (greedy, tempered, flat), top-p (tiny,
partial, whole), top_logprobs (0 to 20), "fun" mode, prefixes (ending in a word, a space,
a paragraph break, unknown words), multi-turn and unrecognised paths, short and long
minimum lengths and both finish reasons. `record` runs one case through the public
`OfflineSampler.sample` and returns its reply text, finish reason, token count and a
SHA-256 of every token's text, logprob and top alternatives (floats by `repr`, so the
digest changes with the last bit of any logprob); a few cases keep their full tokens.

The data file was written by the implementation before the sampler's speed-up (commit
7b5024d): `python -m tests.server.offline_golden` rewrites it, which is only right when
the model itself is meant to change (its corpus, its counts, its decoding).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from grove_explorer.server.sampler.base import Finish, PathMessage, ResolvedParams, SampledToken
from grove_explorer.server.sampler.offline import OfflineSampler

DATA_FILE = Path(__file__).parent / "data" / "offline_sampler_golden.json"

GARDEN = (
    "My vegetable garden has heavy clay soil. Should I add compost and mulch to the beds "
    "before planting tomatoes and sowing seeds?"
)
TERMINAL = (
    "How do I combine commands with pipes in the terminal shell, and how should a program "
    "print its output and errors?"
)
LOAD = "Tell me about trees, gardens and the weather."
MAPS = "Who drew the first maps, and how did explorers measure the coast?"
UNKNOWN = "qwzx vbnm plokij?"
TURNS = (
    ("human", "How do I bake bread with a sourdough starter?"),
    ("model", "Feed the starter, mix the dough and let it rise slowly overnight."),
    ("human", "And what about the weather: does a warm kitchen change the rise?"),
)


@dataclass(frozen=True)
class Case:
    """One sample() call: path, resolved parameters and options."""

    name: str
    path: tuple[tuple[str, str], ...]
    seed: int
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 200
    top_logprobs: int = 5
    fun: bool = False
    prefix: str = ""
    min_reply_tokens: int = 48
    full: bool = False
    tags: tuple[str, ...] = field(default=())


def _human(text: str) -> tuple[tuple[str, str], ...]:
    return (("human", text),)


def _cases() -> list[Case]:
    cases = [
        Case("load-seed1", _human(LOAD), 1, max_tokens=150, min_reply_tokens=150, full=True),
        Case("garden-default", _human(GARDEN), 42, full=True),
        Case("terminal-default", _human(TERMINAL), 7),
        Case("maps-default", _human(MAPS), 3),
        Case("unknown-words", _human(UNKNOWN), 11),
        Case("empty-path", (), 12),
        Case("turns", TURNS, 5),
        Case("greedy", _human(GARDEN), 1, temperature=0.0, top_p=1.0),
        Case("greedy-other-seed", _human(GARDEN), 999, temperature=0.0, top_p=1.0),
        Case("greedy-k0", _human(TERMINAL), 2, temperature=0.0, top_logprobs=0),
        Case("greedy-fun", _human(LOAD), 4, temperature=0.0, fun=True),
        Case("tiny-top-p", _human(MAPS), 8, top_p=0.01),
        Case("half-top-p", _human(GARDEN), 9, temperature=1.3, top_p=0.5),
        Case("flat", _human(TERMINAL), 10, temperature=2.0, top_p=1.0, top_logprobs=20),
        Case("cool", _human(LOAD), 13, temperature=0.3, top_p=0.99, top_logprobs=1),
        Case("t1", _human(MAPS), 14, temperature=1.0, top_p=0.9, top_logprobs=3),
        Case("fun", _human(LOAD), 15, fun=True, full=True),
        Case("fun-hot", _human(GARDEN), 16, temperature=1.9, top_p=1.0, fun=True),
        Case("fun-unknown", _human(UNKNOWN), 17, fun=True, top_logprobs=20),
        Case("k0", _human(GARDEN), 18, top_logprobs=0),
        Case("k20", _human(TERMINAL), 19, top_logprobs=20),
        Case("length", _human(GARDEN), 20, max_tokens=30),
        Case("length-1", _human(TERMINAL), 21, max_tokens=1),
        Case("long", _human(MAPS), 22, max_tokens=400, min_reply_tokens=400),
        Case("long-fun", TURNS, 23, max_tokens=300, min_reply_tokens=300, fun=True),
        Case("no-min", _human(LOAD), 24, min_reply_tokens=0),
        Case("prefix-word", _human(GARDEN), 25, prefix="The garden"),
        Case("prefix-space", _human(GARDEN), 26, prefix="The garden "),
        Case("prefix-paragraph", _human(LOAD), 27, prefix="Trees grow slowly.\n\n"),
        Case("prefix-unknown", _human(TERMINAL), 28, prefix="The qwzx"),
        Case("prefix-punct", _human(MAPS), 29, prefix="Maps, charts and", fun=True),
        Case("prefix-long", _human(LOAD), 30, prefix="Rain falls on the garden. " * 3),
        Case("prefix-greedy", _human(GARDEN), 31, temperature=0.0, prefix="Compost"),
    ]
    for seed in (100, 101, 102, 2**63 - 1, 0):
        cases.append(
            Case(f"load-seed{seed}", _human(LOAD), seed, max_tokens=150, min_reply_tokens=150)
        )
    return cases


CASES = _cases()


def params_of(case: Case) -> ResolvedParams:
    return ResolvedParams(
        temperature=case.temperature,
        top_p=case.top_p,
        max_tokens=case.max_tokens,
        seed=case.seed,
    )


async def record(case: Case) -> dict[str, object]:
    """Runs a case and returns what the data file keeps of it."""
    sampler = OfflineSampler(min_reply_tokens=case.min_reply_tokens)
    path = [PathMessage(sender, text) for sender, text in case.path]
    tokens: list[list[object]] = []
    finish = ""
    async for event in sampler.sample(
        path,
        params_of(case),
        top_logprobs=case.top_logprobs,
        system_prompt_name="fun" if case.fun else "",
        prefix=case.prefix,
    ):
        if isinstance(event, SampledToken):
            tokens.append([event.text, event.logprob, [list(pair) for pair in event.top]])
        else:
            assert isinstance(event, Finish)
            finish = event.reason.value
    canonical = json.dumps([tokens, finish])
    found: dict[str, object] = {
        "text": "".join(str(t[0]) for t in tokens),
        "finish": finish,
        "tokens": len(tokens),
        "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }
    if case.full:
        found["all"] = tokens
    return found


async def record_all() -> dict[str, dict[str, object]]:
    return {case.name: await record(case) for case in CASES}


def main() -> None:
    data = asyncio.run(record_all())
    DATA_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(data)} cases to {DATA_FILE}")


if __name__ == "__main__":
    main()
