"""Tests of the offline n-gram sampler (server/sampler/offline/) and its corpus."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from grove_explorer.server.sampler import offline
from grove_explorer.server.sampler.base import (
    InvalidParamsError,
    PathMessage,
    RequestedParams,
    ResolvedParams,
    SampledToken,
)
from grove_explorer.server.sampler.offline import OfflineSampler, corpus, ngram
from grove_explorer.server.sampler.offline import sampler as offline_sampler

GARDEN_PROMPT = (
    "My vegetable garden has heavy clay soil. Should I add compost and mulch to the beds "
    "before planting tomatoes and sowing seeds?"
)
TERMINAL_PROMPT = (
    "How do I combine commands with pipes in the terminal shell, and how should a program "
    "print its output and errors?"
)
GARDEN_WORDS = frozenset(
    "garden gardens gardener gardeners soil compost mulch seed seeds plant plants planted "
    "planting root roots bed beds weeds tomato tomatoes leaves tree trees water watering "
    "grow flowers forest bees".split()
)
TERMINAL_WORDS = frozenset(
    "terminal shell command commands program programs pipe pipes file files text server "
    "code user tests output screen token tokens line model sampler software error prompt "
    "keyboard".split()
)


def params(
    seed: int = 7, temperature: float = 0.8, top_p: float = 0.95, max_tokens: int = 200
) -> ResolvedParams:
    return ResolvedParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)


async def collect(
    sampler: OfflineSampler,
    prompt: str,
    resolved: ResolvedParams,
    **options: object,
) -> list[SampledToken]:
    path = [PathMessage("human", prompt)]
    events = [event async for event in sampler.sample(path, resolved, **options)]
    return [event for event in events if isinstance(event, SampledToken)]


async def collect_path(
    sampler: OfflineSampler, path: list[PathMessage], resolved: ResolvedParams
) -> list[SampledToken]:
    return [t async for t in sampler.sample(path, resolved) if isinstance(t, SampledToken)]


def text_of(tokens: list[SampledToken]) -> str:
    return "".join(t.text for t in tokens)


@pytest.fixture(scope="module")
def sampler() -> OfflineSampler:
    return OfflineSampler()


# --- reproducibility and variety -------------------------------------------------------


async def test_same_seed_and_params_give_identical_tokens(sampler: OfflineSampler) -> None:
    first = await collect(sampler, GARDEN_PROMPT, params(seed=42))
    second = await collect(OfflineSampler(), GARDEN_PROMPT, params(seed=42))
    assert len(first) > 10
    assert first == second  # texts, logprobs and top lists


def _generate_in_subprocess(hash_seed: str) -> list[list[object]]:
    code = (
        "import asyncio, json\n"
        "from grove_explorer.server.sampler.offline import OfflineSampler\n"
        "from grove_explorer.server.sampler.base import PathMessage, ResolvedParams\n"
        "async def main():\n"
        "    s = OfflineSampler()\n"
        f"    p = ResolvedParams(temperature=0.8, top_p=0.95, max_tokens=120, seed=99)\n"
        f"    path = [PathMessage('human', {GARDEN_PROMPT!r})]\n"
        "    return [[t.text, t.logprob] async for t in s.sample(path, p) if hasattr(t, 'text')]\n"
        "print(json.dumps(asyncio.run(main())))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


async def test_seeded_reply_survives_a_restart_with_another_hash_seed(
    sampler: OfflineSampler,
) -> None:
    # A stored seed must reproduce the reply after the server restarts, and string hashing
    # is randomised per process: run two fresh interpreters with different hash seeds.
    here = [
        [t.text, t.logprob]
        for t in await collect(sampler, GARDEN_PROMPT, params(99, 0.8, 0.95, 120))
    ]
    assert _generate_in_subprocess("1") == here
    assert _generate_in_subprocess("2") == here


async def test_different_seeds_give_different_replies(sampler: OfflineSampler) -> None:
    replies = {text_of(await collect(sampler, GARDEN_PROMPT, params(seed=s))) for s in range(6)}
    assert len(replies) == 6


async def test_temperature_zero_is_deterministic_across_seeds(sampler: OfflineSampler) -> None:
    replies = [
        await collect(sampler, TERMINAL_PROMPT, params(seed=s, temperature=0.0)) for s in (1, 2, 3)
    ]
    assert replies[0] == replies[1] == replies[2]
    for token in replies[0]:
        # Greedy picks the argmax, reported with the untempered distribution.
        assert token.top[0] == (token.text, token.logprob)
        assert token.logprob <= 0.0


async def test_tiny_top_p_is_argmax(sampler: OfflineSampler) -> None:
    greedy = text_of(await collect(sampler, TERMINAL_PROMPT, params(temperature=0.0)))
    for seed in (1, 2, 3):
        tokens = await collect(sampler, TERMINAL_PROMPT, params(seed, temperature=1.0, top_p=1e-9))
        assert text_of(tokens) == greedy
        # Only one candidate survives the nucleus, so it had probability 1.
        assert all(t.logprob == 0.0 for t in tokens)


# --- parameters shape the distribution -------------------------------------------------


@pytest.mark.parametrize("max_tokens", [1, 5, 30])
async def test_max_tokens_is_respected(sampler: OfflineSampler, max_tokens: int) -> None:
    for seed in range(3):
        tokens = await collect(sampler, GARDEN_PROMPT, params(seed, max_tokens=max_tokens))
        # Replies never end before a minimum length, so these are cut exactly at the limit.
        assert len(tokens) == max_tokens


async def test_replies_end_on_their_own_at_a_paragraph_end(sampler: OfflineSampler) -> None:
    for seed in range(5):
        tokens = await collect(sampler, GARDEN_PROMPT, params(seed, max_tokens=4096))
        assert len(tokens) < 4096
        assert tokens[-1].text in {".", "!", "?"}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_min_reply_tokens_makes_replies_exactly_max_tokens_long(seed: int) -> None:
    long_sampler = OfflineSampler(min_reply_tokens=500)
    tokens = await collect(long_sampler, GARDEN_PROMPT, params(seed, max_tokens=500))
    assert len(tokens) == 500
    # The end-of-paragraph events before 500 tokens became paragraph breaks instead.
    assert any(t.text == "\n\n" for t in tokens)
    # max_tokens still caps a reply that has not reached the minimum length.
    capped = await collect(long_sampler, GARDEN_PROMPT, params(seed, max_tokens=120))
    assert len(capped) == 120


async def test_default_min_reply_tokens_is_48_and_reproducible(sampler: OfflineSampler) -> None:
    explicit = OfflineSampler(min_reply_tokens=48)
    for seed in range(4):
        resolved = params(seed, max_tokens=4096)
        default = await collect(sampler, GARDEN_PROMPT, resolved)
        assert await collect(explicit, GARDEN_PROMPT, resolved) == default
        assert 48 < len(default) < 4096


def test_min_reply_tokens_is_validated() -> None:
    with pytest.raises(ValueError, match="min_reply_tokens"):
        OfflineSampler(min_reply_tokens=-1)
    with pytest.raises(ValueError, match="min_reply_tokens"):
        OfflineSampler(min_reply_tokens=1.5)  # type: ignore[arg-type]


async def test_server_config_sets_the_offline_min_reply_tokens() -> None:
    from grove_explorer.server.config import ServerConfig
    from grove_explorer.server.runtime import default_sampler

    assert ServerConfig().offline_min_reply_tokens == 48
    long_sampler = default_sampler(ServerConfig(offline_min_reply_tokens=300))
    assert isinstance(long_sampler, OfflineSampler)
    tokens = [
        t
        async for t in long_sampler.sample(
            [PathMessage("human", GARDEN_PROMPT)], params(5, max_tokens=300)
        )
        if isinstance(t, SampledToken)
    ]
    assert len(tokens) == 300


async def test_higher_temperature_flattens_the_distribution(sampler: OfflineSampler) -> None:
    # The first step's distribution is the same for every seed; compare its top candidate.
    best = {
        t: (await collect(sampler, GARDEN_PROMPT, params(temperature=t, top_p=1.0, max_tokens=1)))[
            0
        ].top[0][1]
        for t in (0.3, 1.0, 1.8)
    }
    assert best[0.3] > best[1.0] > best[1.8]


async def test_logprobs_and_top_candidates(sampler: OfflineSampler) -> None:
    for temperature, top_p in ((0.8, 0.95), (1.5, 1.0), (0.3, 0.5)):
        tokens = await collect(
            sampler, GARDEN_PROMPT, params(3, temperature, top_p), top_logprobs=10_000
        )
        for token in tokens:
            assert token.logprob <= 0.0
            assert (token.text, token.logprob) in token.top
            values = [lp for _, lp in token.top]
            assert values == sorted(values, reverse=True)
            # With room for every candidate, `top` is the whole sampled distribution.
            assert math.fsum(math.exp(v) for v in values) == pytest.approx(1.0, abs=1e-9)
            assert len({text for text, _ in token.top}) == len(token.top)


async def test_top_logprobs_count(sampler: OfflineSampler) -> None:
    none = await collect(sampler, GARDEN_PROMPT, params(), top_logprobs=0)
    assert all(t.top == () for t in none)
    three = await collect(sampler, GARDEN_PROMPT, params(), top_logprobs=3)
    assert all(1 <= len(t.top) <= 3 for t in three)
    assert any(len(t.top) == 3 for t in three)
    assert [t.text for t in none] == [t.text for t in three]  # reporting never changes sampling


# --- conditioning on the path ----------------------------------------------------------


def _count_words(text: str, vocabulary: frozenset[str]) -> int:
    return sum(1 for w in re.findall(r"[a-z]+", text.lower()) if w in vocabulary)


async def test_prompt_steers_the_reply(sampler: OfflineSampler) -> None:
    garden = terminal = ""
    for seed in range(6):
        garden += text_of(await collect(sampler, GARDEN_PROMPT, params(seed)))
        terminal += text_of(await collect(sampler, TERMINAL_PROMPT, params(seed)))
    assert _count_words(garden, GARDEN_WORDS) > 3 * _count_words(terminal, GARDEN_WORDS)
    assert _count_words(terminal, TERMINAL_WORDS) > 3 * _count_words(garden, TERMINAL_WORDS)


async def test_last_human_message_matters_most(sampler: OfflineSampler) -> None:
    path = [
        PathMessage("human", GARDEN_PROMPT),
        PathMessage("model", "Compost and mulch help the soil."),
        PathMessage("human", TERMINAL_PROMPT),
    ]
    text = ""
    for seed in range(6):
        text += text_of(await collect_path(sampler, path, params(seed)))
    assert _count_words(text, TERMINAL_WORDS) > _count_words(text, GARDEN_WORDS)


@pytest.mark.parametrize(
    "path",
    [[], [PathMessage("human", "xyzzy plugh")], [PathMessage("model", "hello")]],
    ids=["empty", "unknown-words", "no-human"],
)
async def test_paths_without_known_words_still_get_a_reply(
    sampler: OfflineSampler, path: list[PathMessage]
) -> None:
    tokens = await collect_path(sampler, path, params())
    assert len(tokens) > 10


async def test_fun_system_prompt_is_exclamation_prone(sampler: OfflineSampler) -> None:
    plain = fun = ""
    for seed in range(6):
        plain += text_of(await collect(sampler, GARDEN_PROMPT, params(seed)))
        fun += text_of(
            await collect(sampler, GARDEN_PROMPT, params(seed), system_prompt_name="fun")
        )
    assert fun.count("!") > plain.count("!") + 2


# --- text shape ------------------------------------------------------------------------


async def test_token_texts_concatenate_to_well_spaced_text(sampler: OfflineSampler) -> None:
    for prompt in (GARDEN_PROMPT, TERMINAL_PROMPT, "plan a first vegetable garden list"):
        for seed in range(8):
            for fun in ("", "fun"):
                tokens = await collect(
                    sampler, prompt, params(seed, temperature=1.2), system_prompt_name=fun
                )
                text = text_of(tokens)
                assert tokens[0].text == tokens[0].text.lstrip()
                assert all(t.text for t in tokens)
                assert not re.search(r"\s[,.;:!?]", text), text
                assert "  " not in text and "\n " not in text and " \n" not in text, text
                assert text.count("**") % 2 == 0 and text.count("`") % 2 == 0
                for previous, token in itertools.pairwise(tokens):
                    if previous.text.endswith("\n"):  # a new paragraph starts bare
                        assert token.text[0].isupper() or token.text[0] in "*`", text
                    else:
                        assert token.text[0] in " \n,.;:!?", (previous.text, token.text)


# --- pacing and cooperation ------------------------------------------------------------


async def test_concurrent_streams_interleave_at_zero_delay(sampler: OfflineSampler) -> None:
    order: list[str] = []

    async def consume(name: str, seed: int) -> None:
        async for _ in sampler.sample([PathMessage("human", GARDEN_PROMPT)], params(seed)):
            order.append(name)

    await asyncio.gather(consume("a", 1), consume("b", 2))
    assert order.count("a") > 32 and order.count("b") > 32
    # Neither stream ran to completion before the other started.
    assert order.index("b") < len(order) - 1 - order[::-1].index("a")
    assert order.index("a") < len(order) - 1 - order[::-1].index("b")


def _record_sleeps(
    monkeypatch: pytest.MonkeyPatch,
) -> list[float]:
    real_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    delays: list[float] = []

    async def recording_sleep(delay: float) -> None:
        delays.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(offline_sampler.asyncio, "sleep", recording_sleep)
    return delays


async def test_zero_delay_yields_every_16_tokens(
    sampler: OfflineSampler, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays = _record_sleeps(monkeypatch)
    # 47 tokens: below the minimum reply length, so the stream is cut exactly there.
    tokens = await collect(sampler, GARDEN_PROMPT, params(max_tokens=47))
    assert len(tokens) == 47
    assert delays == [0, 0]  # before tokens 17 and 33


class ManualSteps:
    """Decode steps the test takes by hand: a stream's next token waits for `step()`."""

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[int]] = []
        self.taken = 0
        self._arrived = asyncio.Event()

    def next_step(self) -> asyncio.Future[int]:
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        self._arrived.set()
        return waiter

    async def until_waiting(self, count: int) -> None:
        while len(self.waiting) < count:
            self._arrived.clear()
            await self._arrived.wait()

    def step(self) -> None:
        waiters, self.waiting = self.waiting, []
        self.taken += 1
        for waiter in waiters:
            waiter.set_result(self.taken)


async def test_paced_streams_take_each_decode_step_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps = ManualSteps()
    periods: list[float] = []

    def steps_of(period: float) -> ManualSteps:
        periods.append(period)
        return steps

    monkeypatch.setattr(offline_sampler, "decode_steps", steps_of)
    sampler = OfflineSampler(token_delay_ms=25)
    got: list[list[SampledToken]] = [[], []]

    async def stream(index: int, prompt: str) -> None:
        path = [PathMessage("human", prompt)]
        async for event in sampler.sample(path, params(seed=index + 1, max_tokens=6)):
            if isinstance(event, SampledToken):
                got[index].append(event)

    tasks = [asyncio.create_task(stream(0, GARDEN_PROMPT)), asyncio.create_task(stream(1, "Hi"))]
    for taken in range(5):
        await steps.until_waiting(2)
        # Between steps each stream has exactly one token more: none runs ahead.
        assert [len(tokens) for tokens in got] == [taken + 1, taken + 1]
        steps.step()
    await asyncio.gather(*tasks)
    assert [len(tokens) for tokens in got] == [6, 6]
    assert periods == [0.025, 0.025], "each stream waits on the steps of its pace"
    assert steps.taken == 5, "one step a token after the first, shared by both streams"


def test_negative_delay_is_rejected() -> None:
    with pytest.raises(ValueError, match="token_delay_ms"):
        OfflineSampler(token_delay_ms=-1)


# --- parameters ------------------------------------------------------------------------


def test_resolve_params_defaults(sampler: OfflineSampler) -> None:
    first = sampler.resolve_params(RequestedParams())
    second = sampler.resolve_params(RequestedParams())
    assert (first.temperature, first.top_p, first.max_tokens) == (0.8, 0.95, 200)
    assert 0 <= first.seed <= 2**63 - 1
    assert first.seed != second.seed  # a fresh seed each time


def test_resolve_params_keeps_given_values(sampler: OfflineSampler) -> None:
    resolved = sampler.resolve_params(
        RequestedParams(temperature=0, top_p=1, max_tokens=4096, seed=2**63 - 1)
    )
    assert resolved == ResolvedParams(temperature=0.0, top_p=1.0, max_tokens=4096, seed=2**63 - 1)
    assert isinstance(resolved.temperature, float)
    edge = sampler.resolve_params(
        RequestedParams(temperature=2.0, top_p=1e-9, max_tokens=1, seed=0)
    )
    assert edge == ResolvedParams(temperature=2.0, top_p=1e-9, max_tokens=1, seed=0)


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        (RequestedParams(temperature=5.0), "temperature must be between 0 and 2, got 5.0."),
        (RequestedParams(temperature=-0.1), "temperature must be between 0 and 2, got -0.1."),
        (RequestedParams(temperature=math.nan), "temperature must be between 0 and 2, got nan."),
        (RequestedParams(temperature=math.inf), "temperature must be between 0 and 2, got inf."),
        (RequestedParams(top_p=0.0), "top_p must be greater than 0 and at most 1, got 0.0."),
        (RequestedParams(top_p=1.5), "top_p must be greater than 0 and at most 1, got 1.5."),
        (RequestedParams(top_p=-math.inf), "top_p must be greater than 0 and at most 1, got -inf."),
        (RequestedParams(top_p=math.nan), "top_p must be greater than 0 and at most 1, got nan."),
        (RequestedParams(max_tokens=0), "max_tokens must be between 1 and 4096, got 0."),
        (RequestedParams(max_tokens=4097), "max_tokens must be between 1 and 4096, got 4097."),
        (RequestedParams(seed=-1), "seed must be between 0 and 9223372036854775807, got -1."),
        (
            RequestedParams(seed=2**63),
            "seed must be between 0 and 9223372036854775807, got 9223372036854775808.",
        ),
    ],
)
def test_resolve_params_rejects_out_of_range(
    sampler: OfflineSampler, requested: RequestedParams, message: str
) -> None:
    with pytest.raises(InvalidParamsError) as caught:
        sampler.resolve_params(requested)
    assert str(caught.value) == message


# --- misc ------------------------------------------------------------------------------


def test_count_tokens_counts_words_and_punctuation(sampler: OfflineSampler) -> None:
    assert sampler.count_tokens([]) == 0
    assert sampler.count_tokens([PathMessage("human", "Hello, world! Don't panic?")]) == 7
    path = [PathMessage("human", "one two three"), PathMessage("model", "four.")]
    assert sampler.count_tokens(path) == 5


def test_model_name() -> None:
    assert OfflineSampler().model_name == "grove-offline-ngram"
    assert OfflineSampler(model_name="demo").model_name == "demo"


def test_model_is_trained_once() -> None:
    assert ngram.shared_model() is ngram.shared_model()
    model = ngram.NgramModel(offline.load_corpus_paragraphs())
    assert len(model.vocab) > 1000


def test_corpus_is_plain_ascii_prose_of_the_intended_size() -> None:
    files = sorted(offline.CORPUS_DIR.glob("*.txt"))
    assert len(files) >= 3
    raw = b"".join(f.read_bytes() for f in files)
    assert 40_000 <= len(raw) <= 80_000
    raw.decode("ascii")  # raises on anything else
    paragraphs = offline.load_corpus_paragraphs()
    assert len(paragraphs) > 100
    for paragraph in paragraphs:
        # Every character is part of a token, a list bullet or whitespace: nothing the
        # model would silently drop.
        rest = corpus.CORPUS_TOKEN_RE.sub("", paragraph)
        rest = re.sub(r"(?m)^- ", "", rest)
        assert rest.strip() == "" and not re.search(r"\S", rest), paragraph[:60]
