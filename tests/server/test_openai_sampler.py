"""The OpenAI-compatible sampler against a real (fake) chat-completions server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from grove_explorer.server.sampler.base import (
    Finish,
    FinishReason,
    InvalidParamsError,
    PathMessage,
    RequestedParams,
    ResolvedParams,
    SampledToken,
    SampleEvent,
    SamplerError,
    SamplerErrorKind,
    Usage,
)
from grove_explorer.server.sampler.openai_compat import (
    MAX_SEED,
    OpenAIBackendSettings,
    OpenAICompatibleSampler,
    clean_title,
)
from tests.fake_openai import DEFAULT_MODEL, DEFAULT_REPLY, FakeOpenAI, token_logprob

SECRET = "sk-test-very-secret-key-1234"
PATH = [
    PathMessage("human", "Why do trees grow slowly?"),
    PathMessage("model", "Wood is expensive to build."),
    PathMessage("human", "And then?"),
]
PARAMS = ResolvedParams(temperature=0.5, top_p=0.9, max_tokens=64, seed=1234)

MakeSampler = Callable[..., OpenAICompatibleSampler]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def make_sampler(fake: FakeOpenAI) -> AsyncIterator[MakeSampler]:
    """Builds samplers pointed at `fake` (no retries unless asked); closes them afterwards."""
    made: list[OpenAICompatibleSampler] = []

    def build(**overrides: Any) -> OpenAICompatibleSampler:
        settings = OpenAIBackendSettings(
            name="fake", base_url=fake.base_url, model=DEFAULT_MODEL, max_retries=0
        )
        sampler = OpenAICompatibleSampler(replace(settings, **overrides))
        made.append(sampler)
        return sampler

    yield build
    for sampler in made:
        await sampler.aclose()


async def collect(
    sampler: OpenAICompatibleSampler,
    path: Sequence[PathMessage] = PATH,
    params: ResolvedParams = PARAMS,
    **kwargs: Any,
) -> list[SampleEvent]:
    return [event async for event in sampler.sample(path, params, **kwargs)]


async def collect_until_error(
    sampler: OpenAICompatibleSampler, **kwargs: Any
) -> tuple[list[SampleEvent], SamplerError]:
    """The events yielded before the sampler raised, and the error (which must come)."""
    events: list[SampleEvent] = []
    with pytest.raises(SamplerError) as raised:
        async for event in sampler.sample(PATH, PARAMS, **kwargs):
            events.append(event)
    return events, raised.value


def tokens(events: Sequence[SampleEvent]) -> list[SampledToken]:
    return [e for e in events if isinstance(e, SampledToken)]


def text(events: Sequence[SampleEvent]) -> str:
    return "".join(t.text for t in tokens(events))


# Requests: messages and parameters.


async def test_messages_start_with_the_system_prompt_and_map_roles(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    await collect(make_sampler(), system_prompt="Be brief.", system_prompt_name="terse")
    assert fake.requests[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why do trees grow slowly?"},
        {"role": "assistant", "content": "Wood is expensive to build."},
        {"role": "user", "content": "And then?"},
    ]


@pytest.mark.parametrize("system_prompt", [None, ""])
async def test_no_system_message_without_a_system_prompt(
    fake: FakeOpenAI, make_sampler: MakeSampler, system_prompt: str | None
) -> None:
    await collect(make_sampler(), system_prompt=system_prompt)
    assert [m["role"] for m in fake.requests[-1]["messages"]] == ["user", "assistant", "user"]


async def test_sampling_parameters_are_sent(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    await collect(make_sampler(model="fake-model"), top_logprobs=3)
    sent = fake.requests[-1]
    assert sent["model"] == "fake-model"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"]) == (
        0.5,
        0.9,
        64,
        1234,
    )
    assert sent["logprobs"] is True
    assert sent["top_logprobs"] == 3


# Prefill: continuing a given prefix (a branch from a token).


@pytest.mark.parametrize(
    ("prefill", "supports"),
    [("none", False), ("continue_final_message", True), ("trailing_assistant", True)],
)
def test_supports_prefix_follows_the_prefill_setting(
    make_sampler: MakeSampler, prefill: str, supports: bool
) -> None:
    assert make_sampler(prefill=prefill).supports_prefix is supports


async def test_a_prefix_without_prefill_is_refused_before_any_request(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    events, error = await collect_until_error(make_sampler(), prefix="Once upon")
    assert events == [] and fake.requests == []
    assert error.kind is SamplerErrorKind.BAD_REQUEST
    assert "prefill" in error.message


async def test_continue_final_message_sends_the_prefix_and_the_vllm_flags(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    events = await collect(make_sampler(prefill="continue_final_message"), prefix="Roots go")
    sent = fake.requests[-1]
    assert sent["messages"][-1] == {"role": "assistant", "content": "Roots go"}
    assert sent["messages"][:-1] == [
        {"role": "user", "content": "Why do trees grow slowly?"},
        {"role": "assistant", "content": "Wood is expensive to build."},
        {"role": "user", "content": "And then?"},
    ]
    assert sent["continue_final_message"] is True
    assert sent["add_generation_prompt"] is False
    # Only what the backend continues with is yielded; the server stores the prefix.
    assert text(events) == "".join(DEFAULT_REPLY)


async def test_trailing_assistant_sends_the_prefix_alone(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    await collect(make_sampler(prefill="trailing_assistant"), prefix="Roots go")
    sent = fake.requests[-1]
    assert sent["messages"][-1] == {"role": "assistant", "content": "Roots go"}
    assert "continue_final_message" not in sent and "add_generation_prompt" not in sent


@pytest.mark.parametrize("prefill", ["none", "continue_final_message", "trailing_assistant"])
async def test_a_path_ending_with_a_reply_is_not_continued_without_a_prefix(
    fake: FakeOpenAI, make_sampler: MakeSampler, prefill: str
) -> None:
    """Sampling under a model reply answers anew; only a given prefix is continued."""
    path = [*PATH, PathMessage("model", "An earlier reply.")]
    await collect(make_sampler(prefill=prefill), path=path)
    sent = fake.requests[-1]
    assert sent["messages"][-1] == {"role": "assistant", "content": "An earlier reply."}
    assert "continue_final_message" not in sent and "add_generation_prompt" not in sent


async def test_the_prefill_flags_survive_the_retry_without_logprobs(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.reject_logprobs = True
    await collect(make_sampler(prefill="continue_final_message"), prefix="Roots go")
    first, retry = fake.requests
    assert first["logprobs"] is True and "logprobs" not in retry
    assert retry["continue_final_message"] is True
    assert retry["messages"][-1] == {"role": "assistant", "content": "Roots go"}


@pytest.mark.parametrize(("asked", "sent"), [(0, None), (5, 5), (20, 20), (50, 20)])
async def test_top_logprobs_capped_at_20_and_omitted_at_0(
    fake: FakeOpenAI, make_sampler: MakeSampler, asked: int, sent: int | None
) -> None:
    await collect(make_sampler(), top_logprobs=asked)
    assert fake.requests[-1]["logprobs"] is True
    assert fake.requests[-1].get("top_logprobs") == sent


async def test_seed_and_logprobs_can_be_left_out(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    sampler = make_sampler(send_seed=False, logprobs="off")
    events = await collect(sampler)
    sent = fake.requests[-1]
    assert "seed" not in sent
    assert "logprobs" not in sent
    assert "top_logprobs" not in sent
    assert all(t.logprob is None and t.top == () for t in tokens(events))
    assert sampler.describe().supports_logprobs is False


async def test_api_key_and_extra_headers_are_sent(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    await collect(make_sampler(api_key=SECRET, extra_headers={"X-Team": "grove"}))
    assert fake.authorizations[-1] == f"Bearer {SECRET}"
    assert fake.headers[-1]["x-team"] == "grove"


async def test_a_placeholder_key_is_sent_when_none_is_configured(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    await collect(make_sampler(api_key=None))
    assert fake.authorizations[-1] == "Bearer not-needed"


# Replies: tokens, logprobs, usage.


async def test_tokens_carry_logprobs_and_alternatives(make_sampler: MakeSampler) -> None:
    events = await collect(make_sampler(), top_logprobs=3)
    got = tokens(events)
    assert [t.text for t in got] == DEFAULT_REPLY
    for i, token in enumerate(got):
        assert token.logprob == pytest.approx(token_logprob(i))
        assert token.top[0] == (token.text, pytest.approx(token_logprob(i)))
        assert [alt for alt, _ in token.top[1:]] == ["alt1", "alt2"]
        assert [lp for _, lp in token.top] == sorted((lp for _, lp in token.top), reverse=True)


async def test_usage_comes_once_after_the_last_token(make_sampler: MakeSampler) -> None:
    events = await collect(make_sampler())
    assert events[-1] == Finish(FinishReason.STOP)
    usage = events[-2]
    assert isinstance(usage, Usage)
    assert usage.completion_tokens == len(DEFAULT_REPLY)
    assert usage.prompt_tokens > 0
    assert sum(isinstance(e, Usage) for e in events) == 1


async def test_a_packed_delta_is_split_along_its_logprob_entries(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.tokens_per_chunk = 3
    got = tokens(await collect(make_sampler()))
    assert [t.text for t in got] == DEFAULT_REPLY
    assert [t.logprob for t in got] == pytest.approx(
        [token_logprob(i) for i in range(len(DEFAULT_REPLY))]
    )


async def test_a_delta_whose_entries_do_not_spell_it_stays_one_token(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.tokens_per_chunk = 3
    fake.logprob_tokens_differ = True
    got = tokens(await collect(make_sampler(), top_logprobs=2))
    assert [t.text for t in got] == ["Trees grow slowly", ", then all", " at once."]
    assert got[0].logprob == pytest.approx(sum(token_logprob(i) for i in range(3)))
    assert got[0].top == (("TREES~", pytest.approx(-0.1)), ("alt1", pytest.approx(-1.1)))


async def test_deltas_without_logprobs_have_unknown_probability(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.ignore_logprobs = True
    events = await collect(make_sampler(logprobs="on"))
    assert text(events) == "".join(DEFAULT_REPLY)
    assert all(t.logprob is None and t.top == () for t in tokens(events))


async def test_at_most_max_tokens_are_yielded(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    events = await collect(make_sampler(), params=replace(PARAMS, max_tokens=3))
    assert fake.requests[-1]["max_tokens"] == 3
    assert text(events) == "".join(DEFAULT_REPLY[:3])


async def test_a_backend_ignoring_max_tokens_is_cut_off(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.ignore_max_tokens = True
    fake.tokens_per_chunk = 4  # the first chunk already overshoots the limit
    got = tokens(await collect(make_sampler(), params=replace(PARAMS, max_tokens=2)))
    assert [t.text for t in got] == DEFAULT_REPLY[:2]


# Logprobs support in "auto" mode.


async def test_auto_mode_learns_that_logprobs_are_supported(make_sampler: MakeSampler) -> None:
    sampler = make_sampler(logprobs="auto")
    assert sampler.describe().supports_logprobs is None
    await collect(sampler)
    assert sampler.describe().supports_logprobs is True


async def test_auto_mode_retries_once_without_refused_logprobs(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.reject_logprobs = True
    sampler = make_sampler(logprobs="auto")
    events = await collect(sampler)
    assert text(events) == "".join(DEFAULT_REPLY)
    assert all(t.logprob is None for t in tokens(events))
    assert [r.get("logprobs") for r in fake.requests] == [True, None]
    assert "top_logprobs" not in fake.requests[1]
    assert sampler.describe().supports_logprobs is False
    await collect(sampler)  # remembered: asks without logprobs straight away
    assert len(fake.requests) == 3
    assert "logprobs" not in fake.requests[2]


async def test_auto_mode_learns_from_a_server_that_ignores_logprobs(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.ignore_logprobs = True
    sampler = make_sampler(logprobs="auto")
    await collect(sampler)
    assert sampler.describe().supports_logprobs is False


async def test_logprobs_on_does_not_fall_back(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    fake.reject_logprobs = True
    sampler = make_sampler(logprobs="on")
    _, error = await collect_until_error(sampler)
    assert error.kind is SamplerErrorKind.BAD_REQUEST
    assert "logprobs is not supported" in error.message
    assert len(fake.requests) == 1
    assert sampler.describe().supports_logprobs is True


# Errors.


async def test_401_names_the_key_variable_and_never_the_key(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.require_key = "the-right-key"
    _, error = await collect_until_error(make_sampler(api_key=SECRET, api_key_env="XAI_API_KEY"))
    assert error.kind is SamplerErrorKind.AUTH
    assert error.message == (
        "Backend 'fake' rejected the server's API key (HTTP 401). "
        "Check XAI_API_KEY where the Grove server runs."
    )
    assert SECRET not in error.message


async def test_401_without_a_key_variable_says_to_configure_one(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.require_key = "the-right-key"
    _, error = await collect_until_error(make_sampler(api_key=None, api_key_env=""))
    assert error.kind is SamplerErrorKind.AUTH
    assert "'fake'" in error.message
    assert "api_key_env" in error.message


async def test_401_with_an_unset_key_variable_says_so(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.require_key = "the-right-key"
    _, error = await collect_until_error(make_sampler(api_key=None, api_key_env="XAI_API_KEY"))
    assert error.kind is SamplerErrorKind.AUTH
    assert "XAI_API_KEY is not set" in error.message


async def test_403_is_an_auth_error(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    fake.fail_status = 403
    fake.fail_message = "This key may not use this model."
    _, error = await collect_until_error(make_sampler(api_key=SECRET, api_key_env="XAI_API_KEY"))
    assert error.kind is SamplerErrorKind.AUTH
    assert "XAI_API_KEY" in error.message
    assert "may not use this model" in error.message


async def test_unknown_model_is_model_not_found(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    _, error = await collect_until_error(make_sampler(model="llama9"))
    assert error.kind is SamplerErrorKind.MODEL_NOT_FOUND
    assert error.message.startswith(
        f"Backend 'fake' has no model 'llama9' (HTTP 404) at {fake.base_url}: "
        "The model `llama9` does not exist"
    )


async def test_litellm_400_invalid_model_name_is_model_not_found(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    """LiteLLM's proxy answers an unknown model with HTTP 400, not 404."""
    fake.fail_status = 400
    fake.fail_message = (
        "/chat/completions: Invalid model name passed in model=llama9. Call `/v1/models` to "
        "view available models for your key."
    )
    _, error = await collect_until_error(make_sampler(model="llama9"))
    assert error.kind is SamplerErrorKind.MODEL_NOT_FOUND
    assert error.message.startswith(
        f"Backend 'fake' has no model 'llama9' (HTTP 400) at {fake.base_url}"
    )


async def test_other_400s_stay_bad_requests(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    fake.fail_status = 400
    fake.fail_message = "temperature is out of range for this model"
    _, error = await collect_until_error(make_sampler())
    assert error.kind is SamplerErrorKind.BAD_REQUEST


async def test_429_reports_when_to_retry(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    fake.fail_status = 429
    fake.fail_message = "Slow down."
    fake.retry_after = "3"
    _, error = await collect_until_error(make_sampler())
    assert error.kind is SamplerErrorKind.RATE_LIMITED
    assert error.retry_after_seconds == 3.0
    assert "retry in 3 s" in error.message
    assert "Slow down" in error.message


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_unavailable(
    fake: FakeOpenAI, make_sampler: MakeSampler, status: int
) -> None:
    fake.fail_status = status
    fake.fail_message = "The engine is overloaded."
    _, error = await collect_until_error(make_sampler())
    assert error.kind is SamplerErrorKind.UNAVAILABLE
    assert error.message == (f"Backend 'fake' failed with HTTP {status}: The engine is overloaded.")


@pytest.mark.parametrize("status", [400, 422])
async def test_refused_parameters_are_a_bad_request_with_a_trimmed_message(
    fake: FakeOpenAI, make_sampler: MakeSampler, status: int
) -> None:
    fake.fail_status = status
    fake.fail_message = "top_p is out of range. " + "Details follow. " * 100
    _, error = await collect_until_error(make_sampler())
    assert error.kind is SamplerErrorKind.BAD_REQUEST
    assert error.message.startswith(
        f"Backend 'fake' refused the request (HTTP {status}): top_p is out of range."
    )
    assert len(error.message) < 400


async def test_a_failing_request_is_retried_by_the_library(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.fail_status = 503
    fake.fail_times = 1
    fake.retry_after = "0.01"  # the library honours it instead of backing off for 0.5 s
    events = await collect(make_sampler(max_retries=1))
    assert text(events) == "".join(DEFAULT_REPLY)
    assert len(fake.requests) == 2


async def test_no_first_token_in_time_is_a_timeout(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.stall_after = 0
    events, error = await collect_until_error(make_sampler(timeout_seconds=0.3))
    assert events == []
    assert error.kind is SamplerErrorKind.TIMEOUT
    assert error.message == "Backend 'fake' did not answer within 0.3 s."


async def test_a_stalled_stream_is_a_timeout_after_its_tokens(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.stall_after = 2
    events, error = await collect_until_error(make_sampler(timeout_seconds=0.3))
    assert text(events) == "".join(DEFAULT_REPLY[:2])
    assert error.kind is SamplerErrorKind.TIMEOUT
    assert "after 2 tokens" in error.message


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    sampler = OpenAICompatibleSampler(
        OpenAIBackendSettings(name="local", base_url=url, model="m", max_retries=0)
    )
    try:
        _, error = await collect_until_error(sampler)
    finally:
        await sampler.aclose()
    assert error.kind is SamplerErrorKind.UNAVAILABLE
    assert error.message == f"Cannot reach backend 'local' at {url}: connection refused."


async def test_a_stopped_server_is_unavailable(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    sampler = make_sampler()
    await fake.stop()
    _, error = await collect_until_error(sampler)
    assert error.kind is SamplerErrorKind.UNAVAILABLE
    assert fake.base_url in error.message


async def test_a_dropped_connection_mid_stream_is_a_broken_stream(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.break_after = 3
    events, error = await collect_until_error(make_sampler())
    assert text(events) == "".join(DEFAULT_REPLY[:3])
    assert error.kind is SamplerErrorKind.STREAM_BROKEN
    assert error.message.startswith("Backend 'fake' stream broke off after 3 tokens: ")


@pytest.mark.parametrize("status", [400, 404, 429, 500])
async def test_the_api_key_is_scrubbed_from_upstream_messages(
    fake: FakeOpenAI, make_sampler: MakeSampler, status: int
) -> None:
    fake.fail_status = status
    fake.fail_message = f"Request with key {SECRET} failed."
    _, error = await collect_until_error(make_sampler(api_key=SECRET, api_key_env="KEY"))
    assert SECRET not in error.message
    assert SECRET not in str(error)


# Closing early.


async def test_closing_the_iterator_closes_the_upstream_stream(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.reply_tokens = [f" w{i}" for i in range(200)]
    fake.token_delay = 0.01
    stream = make_sampler().sample(PATH, PARAMS)
    assert isinstance(stream, AsyncGenerator)
    first = [await anext(stream) for _ in range(3)]
    assert [t.text for t in tokens(first)] == [" w0", " w1", " w2"]
    assert fake.disconnects == 0
    await stream.aclose()
    await asyncio.wait_for(fake.disconnected.wait(), timeout=2)
    assert fake.disconnects == 1


async def test_cancelling_the_consumer_closes_the_upstream_stream(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.reply_tokens = [f" w{i}" for i in range(200)]
    fake.token_delay = 0.01
    sampler = make_sampler()
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in sampler.sample(PATH, PARAMS):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(fake.disconnected.wait(), timeout=2)
    assert fake.disconnects == 1


# Titles.


async def test_generate_title_asks_briefly_and_cleans_the_answer(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    long_path = [PathMessage("human", "x" * 5000)] + [
        PathMessage("model" if i % 2 else "human", f"message {i}") for i in range(20)
    ]
    title = await make_sampler().generate_title(long_path)
    assert title == "Gardens in Winter"
    sent = fake.requests[-1]
    assert not sent.get("stream")
    assert (sent["temperature"], sent["max_tokens"]) == (0.3, 24)
    assert sent["messages"][0]["role"] == "system"
    assert "six words" in sent["messages"][0]["content"]
    prompt = sent["messages"][1]["content"]
    assert "message 19" in prompt
    assert "message 7" not in prompt  # only the last twelve messages
    assert "message 8" in prompt


async def test_generate_title_truncates_long_messages(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    await make_sampler().generate_title([PathMessage("human", "y" * 5000)])
    assert "y" * 2000 in fake.requests[-1]["messages"][1]["content"]
    assert "y" * 2001 not in fake.requests[-1]["messages"][1]["content"]


async def test_generate_title_gives_none_for_an_empty_answer(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.title_reply = '  "" '
    assert await make_sampler().generate_title(PATH) is None
    assert await make_sampler().generate_title([]) is None


async def test_generate_title_errors_are_sampler_errors(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.fail_status = 500
    with pytest.raises(SamplerError) as raised:
        await make_sampler().generate_title(PATH)
    assert raised.value.kind is SamplerErrorKind.UNAVAILABLE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Gardens in Winter."', "Gardens in Winter"),
        ("**Title:** *Pruning Old Apple Trees*", "Pruning Old Apple Trees"),
        ("# Soil   and\tRoots!", "Soil and Roots"),
        ("Title: “Why Maps Lie?”", "Why Maps Lie?"),
        ("<think>They ask about ferns.</think>\n\nFerns in the Shade", "Ferns in the Shade"),
        ("`Seeds`\nsecond line", "Seeds"),
        ("", None),
        (None, None),
        ('"..."', None),
    ],
)
def test_clean_title(raw: str | None, expected: str | None) -> None:
    assert clean_title(raw) == expected


def test_clean_title_cuts_at_a_word_boundary() -> None:
    title = clean_title("word " * 40)
    assert title is not None
    assert len(title) <= 80
    assert title.endswith("word")


# Parameters, description, estimates.


def test_resolve_params_fills_the_backend_defaults(make_sampler: MakeSampler) -> None:
    sampler = make_sampler(temperature=0.2, top_p=0.8, max_tokens=77)
    resolved = sampler.resolve_params(RequestedParams())
    assert (resolved.temperature, resolved.top_p, resolved.max_tokens) == (0.2, 0.8, 77)
    assert 0 <= resolved.seed <= MAX_SEED
    assert sampler.resolve_params(RequestedParams(seed=42)).seed == 42
    given = RequestedParams(temperature=2.0, top_p=1.0, max_tokens=100, seed=MAX_SEED)
    assert sampler.resolve_params(given) == ResolvedParams(2.0, 1.0, 100, MAX_SEED)


@pytest.mark.parametrize(
    ("requested", "fragment"),
    [
        (RequestedParams(temperature=-0.1), "temperature must be between 0 and 2"),
        (RequestedParams(temperature=2.5), "temperature must be between 0 and 2"),
        (RequestedParams(temperature=float("nan")), "temperature"),
        (RequestedParams(top_p=0.0), "top_p must be greater than 0 and at most 1"),
        (RequestedParams(top_p=1.5), "top_p must be greater than 0 and at most 1"),
        (RequestedParams(max_tokens=0), "max_tokens must be between 1 and 500"),
        (RequestedParams(max_tokens=501), "max_tokens must be between 1 and 500"),
        (RequestedParams(seed=-1), "seed must be between 0 and"),
        (RequestedParams(seed=2**63), "seed must be between 0 and"),
    ],
)
def test_resolve_params_rejects_out_of_range_values(
    make_sampler: MakeSampler, requested: RequestedParams, fragment: str
) -> None:
    with pytest.raises(InvalidParamsError, match=fragment):
        make_sampler(max_tokens_limit=500).resolve_params(requested)


@pytest.mark.parametrize(("mode", "supports"), [("on", True), ("off", False), ("auto", None)])
def test_describe(make_sampler: MakeSampler, mode: str, supports: bool | None) -> None:
    sampler = make_sampler(
        name="ollama", model="llama3.2", description="Local Llama", logprobs=mode
    )
    description = sampler.describe()
    assert sampler.model_name == "ollama"
    assert (description.name, description.backend, description.upstream_model) == (
        "ollama",
        "openai",
        "llama3.2",
    )
    assert description.description == "Local Llama"
    assert (
        description.default_temperature,
        description.default_top_p,
        description.default_max_tokens,
    ) == (0.7, 1.0, 1024)
    assert description.supports_logprobs is supports


def test_count_tokens_is_a_rough_estimate(make_sampler: MakeSampler) -> None:
    sampler = make_sampler()
    assert sampler.count_tokens([]) == 0
    assert sampler.count_tokens([PathMessage("human", "abcd"), PathMessage("model", "abcde")]) == 3


# What logprobs cost: measured once when the endpoint first answers with them.


async def test_logprobs_that_slow_tokens_down_are_measured_and_dropped_in_auto_mode(
    fake: FakeOpenAI, make_sampler: MakeSampler, caplog: pytest.LogCaptureFixture
) -> None:
    fake.logprob_token_delay = 0.03  # llama-cpp-python's server: logits of every position
    sampler = make_sampler()
    events = await collect(sampler)
    assert any(isinstance(e, SampledToken) and e.logprob is not None for e in events)
    with caplog.at_level("INFO"):
        cost = await sampler.logprobs_cost()
    assert cost is not None and cost.too_slow and cost.ratio >= 3
    assert "logprobs make tokens" in caplog.text and 'logprobs = "on"' in caplog.text
    assert len(fake.requests) == 1, "the probes are not the replies' requests"
    assert [bool(b.get("logprobs")) for b in fake.probe_requests] == [True, False]
    await collect(sampler)
    assert "logprobs" not in fake.requests[-1], "auto mode stopped asking"
    assert sampler.describe().supports_logprobs is False


async def test_a_fast_endpoint_is_not_probed_and_keeps_logprobs(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    sampler = make_sampler()
    await collect(sampler)
    assert await sampler.logprobs_cost() is None, "fast tokens: logprobs cannot cost much"
    assert len(fake.requests) == 1 and not fake.probe_requests
    await collect(sampler)
    assert fake.requests[-1].get("logprobs") is True
    assert sampler.describe().supports_logprobs is True


async def test_logprobs_on_is_never_probed(fake: FakeOpenAI, make_sampler: MakeSampler) -> None:
    fake.logprob_token_delay = 0.03
    sampler = make_sampler(logprobs="on")
    await collect(sampler)
    assert await sampler.logprobs_cost() is None
    assert len(fake.requests) == 1 and not fake.probe_requests


async def test_a_slow_endpoint_whose_logprobs_are_cheap_keeps_them(
    fake: FakeOpenAI, make_sampler: MakeSampler
) -> None:
    fake.token_delay = 0.02  # slow tokens, with or without logprobs
    sampler = make_sampler()
    await collect(sampler)
    cost = await sampler.logprobs_cost()
    assert cost is not None and not cost.too_slow
    await collect(sampler)
    assert fake.requests[-1].get("logprobs") is True
