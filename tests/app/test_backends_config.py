"""Named backends from the config file and the command line, for the app and `grove serve`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grove_explorer.app.cli import main
from grove_explorer.app.config import ConfigError, load_config
from grove_explorer.server.backends import (
    DEFAULT_SYSTEM_PROMPTS,
    BackendConfigError,
    build_samplers,
    parse_models_config,
)
from grove_explorer.server.cli import build_serve_parser, models_from_args
from grove_explorer.server.sampler.offline import OFFLINE_MODEL_NAME

THREE_BACKENDS = """
default_model = "grok"

[models.grok]
sampler = "openai"
base_url = "https://api.x.ai/v1"
api_key_env = "XAI_API_KEY"
model = "grok-4"
description = "xAI's Grok"
temperature = 0.7

[models.llama]
sampler = "openai"
base_url = "http://localhost:11434/v1"
model = "llama3.2"
logprobs = false

[models.qwen]
sampler = "openai"
base_url = "http://localhost:8000/v1"
model = "Qwen/Qwen2.5-7B-Instruct"
max_tokens = 2048

[system_prompts]
default = "Be brief."
socratic = "Answer with questions."
"""


def test_the_readme_style_config_builds_every_backend(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(THREE_BACKENDS)
    config = load_config(path)
    models = config.models
    assert [b.name for b in models.backends] == ["grok", "llama", "qwen"]
    assert models.default_model == "grok"
    assert models.system_prompts == {"": "Be brief.", "fun": DEFAULT_SYSTEM_PROMPTS["fun"]} | {
        "socratic": "Answer with questions."
    }
    grok, llama, qwen = models.backends
    assert (grok.model, grok.api_key_env, grok.temperature) == ("grok-4", "XAI_API_KEY", 0.7)
    assert llama.logprobs == "off" and qwen.max_tokens == 2048
    samplers, default = build_samplers(models, token_delay_ms=0, offline_min_reply_tokens=48)
    assert default == "grok"
    assert list(samplers) == ["grok", "llama", "qwen", OFFLINE_MODEL_NAME]
    described = {name: s.describe() for name, s in samplers.items()}
    assert described["grok"].upstream_model == "grok-4"
    assert described["grok"].default_temperature == 0.7
    assert described["llama"].supports_logprobs is False
    assert described["qwen"].default_max_tokens == 2048
    assert described[OFFLINE_MODEL_NAME].backend == "offline"


@pytest.mark.parametrize(
    "text, words",
    [
        ('[models.a]\nsampler = "openai"\nmodel = "m"\n', "base_url must be an http(s) URL"),
        ('[models.a]\nsampler = "openai"\nbase_url = "http://h/v1"\n', "model (the endpoint"),
        ('[models.a]\nbase_url = "http://h/v1"\nmodel = "m"\ncolour = 1\n', "unknown setting"),
        ('[models.a]\nbase_url = "http://h/v1"\nmodel = "m"\ntemperature = "hot"\n', "wrong type"),
        ('[models.a]\nbase_url = "http://h/v1"\nmodel = "m"\ntop_p = 0\n', "top_p must be"),
        ('[models.a]\nbase_url = "http://h/v1"\nmodel = "m"\nlogprobs = "maybe"\n', "logprobs"),
        ('[models.a]\nsampler = "llamafile"\n', "sampler must be offline, openai or llamacpp"),
        ('default_model = "ghost"\n', "default_model 'ghost' is not a configured backend"),
        ("[system_prompts]\nx = 1\n", "[system_prompts] must map names to texts"),
        ("models = 3\n", "[models] must be a table"),
    ],
)
def test_bad_backend_settings_are_named(tmp_path: Path, text: str, words: str, capsys) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_config(path)
    assert main(["--config", str(path)]) == 2
    assert words in capsys.readouterr().err


def test_serve_flags_add_an_openai_backend_as_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GROVE_CONFIG", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(THREE_BACKENDS)
    parser = build_serve_parser()
    args = parser.parse_args(
        [
            "--config",
            str(path),
            "--sampler",
            "openai",
            "--base-url",
            "http://127.0.0.1:8080/v1",
            "--model",
            "local-model",
            "--api-key-env",
            "LOCAL_KEY",
        ]
    )
    models = models_from_args(args)
    assert models.default_model == "local-model"
    assert [b.name for b in models.backends] == ["local-model", "grok", "llama", "qwen"]
    assert models.backends[0].api_key_env == "LOCAL_KEY"

    args = parser.parse_args(["--config", str(path), "--sampler", "offline"])
    assert models_from_args(args).default_model == OFFLINE_MODEL_NAME


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--sampler", "openai", "--model", "m"], "--sampler openai needs --base-url and --model"),
        (["--model", "m"], "--base-url and --model need --sampler openai"),
        (["--default-model", "ghost"], "default_model 'ghost' is not a configured backend"),
    ],
)
def test_contradicting_model_flags_exit_with_a_sentence(
    tmp_path: Path, argv: list[str], words: str, monkeypatch
) -> None:
    monkeypatch.setenv("GROVE_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(SystemExit, match=re.escape(words)):
        models_from_args(build_serve_parser().parse_args(argv))


def test_duplicate_backend_names_are_refused() -> None:
    data = {"models": {"a": {"sampler": "offline"}}, "default_model": "a"}
    assert parse_models_config(data).default_model == "a"
    with pytest.raises(BackendConfigError, match="must be a table"):
        parse_models_config({"models": {"a": "offline"}})
