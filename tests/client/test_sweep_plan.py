"""The sweep planner: grid size and order, explicit seeds, clear refusals, the cap."""

from __future__ import annotations

import pytest

from grove_explorer.client.catalog import ModelInfo
from grove_explorer.client.models import ResponseNode, SamplingInfo
from grove_explorer.client.sweeps import MAX_SAMPLES, SweepError, SweepSpec, plan
from grove_explorer.client.sweeps.done import find_done
from grove_explorer.client.sweeps.results import cell_rows
from grove_explorer.client.sweeps.runner import SampleOutcome


def test_grid_is_the_product_of_the_axes_with_seeds_innermost() -> None:
    spec = SweepSpec(
        models=("a", "b"),
        temperatures=(0.2, 0.8),
        top_ps=(0.9,),
        system_prompts=(None, "fun"),
        seeds=3,
        base_seed=10,
    )
    samples = plan(spec)
    assert len(samples) == 2 * 2 * 1 * 2 * 3
    assert [(s.model, s.temperature, s.system_prompt, s.seed) for s in samples[:4]] == [
        ("a", 0.2, None, 10),
        ("a", 0.2, None, 11),
        ("a", 0.2, None, 12),
        ("a", 0.2, "fun", 10),
    ]
    assert len(set(samples)) == len(samples)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SweepSpec(models=()), "the model axis is empty"),
        (SweepSpec(models=("a",), temperatures=()), "the temperature axis is empty"),
        (SweepSpec(models=("a", "a")), "the model axis repeats a value"),
        (SweepSpec(models=("a",), temperatures=(2.5,)), "temperature 2.5 is out of range"),
        (SweepSpec(models=("a",), top_ps=(0.0,)), "top-p 0.0 is out of range"),
        (SweepSpec(models=("a",), top_ps=(1.5,)), "top-p 1.5 is out of range"),
        (SweepSpec(models=("a",), seeds=0), "seeds must be at least 1, not 0"),
        (SweepSpec(models=("a",), concurrency=0), "concurrency must be 1 to 32, not 0"),
        (SweepSpec(models=("a",), max_tokens=0), "max tokens must be at least 1, not 0"),
    ],
)
def test_bad_axes_are_refused_with_a_sentence(spec: SweepSpec, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        plan(spec)


def test_the_cap_is_said_with_the_count() -> None:
    at_cap = SweepSpec(models=("a", "b"), seeds=MAX_SAMPLES // 2)
    assert len(plan(at_cap)) == MAX_SAMPLES
    over = SweepSpec(models=("a", "b"), temperatures=(0.1, 0.2), seeds=65)
    with pytest.raises(SweepError) as caught:
        plan(over)
    assert str(caught.value) == (
        f"4 cells x 65 seeds is 260 samples; at most {MAX_SAMPLES} in one sweep. "
        "Nothing was sampled."
    )


def test_rows_fold_seeds_and_average_only_known_figures() -> None:
    samples = plan(SweepSpec(models=("a",), temperatures=(0.2, 0.8), seeds=2))
    outcomes = [
        SampleOutcome(samples[0], "r1", tokens=4, words=3, mean_logprob=-1.0, total_time=2.0),
        SampleOutcome(samples[1], "r2", tokens=6, words=5, mean_logprob=None, total_time=4.0),
        SampleOutcome(samples[2], error="backend down"),
        SampleOutcome(samples[3], "r4", skipped=True, tokens=1, words=1),
    ]
    first, second = cell_rows(outcomes)
    assert (first.key.temperature, first.n, first.failed) == (0.2, 2, 0)
    assert (first.mean_tokens, first.mean_words, first.mean_logprob) == (5.0, 4.0, -1.0)
    assert first.mean_latency == 3.0 and first.mean_score is None
    assert first.response_ids == ("r1", "r2")
    assert (second.n, second.failed, second.skipped, second.errors) == (1, 1, 1, ("backend down",))


def _reply(rid: str, **fields: object) -> ResponseNode:
    sampling = SamplingInfo(
        temperature=fields.pop("temperature", 0.20000000298023224),
        top_p=fields.pop("top_p", 0.949999988079071),
        seed=fields.pop("seed", 0),
    )
    base: dict[str, object] = {"parent_id": "h", "sender": "model", "message": "x"}
    base["model_name"] = "a"
    return ResponseNode(response_id=rid, sampling=sampling, **{**base, **fields})  # type: ignore[arg-type]


def test_done_samples_match_model_seed_resolved_parameters_and_recorded_prompt() -> None:
    catalog = {"a": ModelInfo(name="a", backend="offline", default_top_p=0.95)}
    spec = SweepSpec(models=("a",), temperatures=(0.2,), system_prompts=("", "fun"))
    samples = plan(spec)  # top-p unset: the model's default, 0.95
    # A float32 temperature and the default top-p match; a prompt recorded as "" answers
    # only the "" cell; a reply that records no prompt answers any prompt, once.
    assert find_done(samples, [_reply("r1", system_prompt_name="")], catalog) == {0: "r1"}
    assert find_done(samples, [_reply("r1", system_prompt_name="fun")], catalog) == {1: "r1"}
    assert find_done(samples, [_reply("r1")], catalog) == {0: "r1"}
    assert find_done(samples, [_reply("r1"), _reply("r2")], catalog) == {0: "r1", 1: "r2"}
    # Another seed, model, temperature, or a partial reply is not done.
    assert find_done(samples, [_reply("r1", seed=1)], catalog) == {}
    assert find_done(samples, [_reply("r1", model_name="b")], catalog) == {}
    assert find_done(samples, [_reply("r1", temperature=0.3)], catalog) == {}
    assert find_done(samples, [_reply("r1", partial=True)], catalog) == {}
    assert find_done(samples, [_reply("r1", top_p=0.5)], catalog) == {}
    # Without the catalog, an unset parameter matches whatever the reply recorded.
    assert find_done(samples, [_reply("r1", top_p=0.5)], {}) == {0: "r1"}
