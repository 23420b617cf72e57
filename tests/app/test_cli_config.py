"""The `grove` command line, the app's config file, and the SDK's connection defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from grove_explorer.app.cli import build_parser, main
from grove_explorer.app.config import ConfigError, load_config
from grove_explorer.client import Client
from grove_explorer.client.client import is_loopback


def test_grove_help_and_serve_help() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from grove_explorer.app.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--server HOST:PORT" in out and "serve" in out and "config.toml" in out
    args = build_parser().parse_args(["serve", "--port", "0", "--token-delay-ms", "5"])
    assert args.command == "serve" and args.port == 0 and args.token_delay_ms == 5


def test_config_file_and_environment(tmp_path: Path, monkeypatch) -> None:
    for var in ("XAI_API_HOST", "XAI_API_KEY", "GROVE_DB", "GROVE_TOKEN_DELAY_MS"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "config.toml"
    path.write_text('server = "10.0.0.1:1"\ntoken_delay_ms = 3\n[keymap]\nresample = "x"\n')
    config = load_config(path)
    assert (config.server, config.token_delay_ms, config.keymap) == (
        "10.0.0.1:1",
        3.0,
        {"resample": "x"},
    )
    path.write_text('server = ["10.0.0.1:1", "10.0.0.2:1"]\n')
    assert load_config(path).server == "10.0.0.1:1,10.0.0.2:1", "replicas as a list"
    monkeypatch.setenv("XAI_API_HOST", "127.0.0.1:9")
    assert load_config(path).server == "127.0.0.1:9", "environment beats the file"
    assert load_config(tmp_path / "missing.toml").server == "127.0.0.1:9"


@pytest.mark.parametrize(
    "text, words",
    [
        ("server = 5\n", "server must be a string"),
        ("server = [5]\n", "server must be an address or a list of addresses"),
        ("[keymap]\nx = 1\n", "[keymap]"),
        ("token_delay_ms = -1\n", "non-negative"),
        ("not toml [", "Cannot read"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, words: str, capsys) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_config(path)
    assert main(["--config", str(path)]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1:50051", True),
        ("localhost:1", True),
        ("[::1]:5", True),
        ("api.x.ai:443", False),
        ("10.1.2.3:50051", False),
    ],
)
def test_plaintext_only_to_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_client_defaults(monkeypatch) -> None:
    monkeypatch.delenv("XAI_API_HOST", raising=False)
    async with Client() as local:
        assert local.api_host == "127.0.0.1:50051" and not local.secure
    monkeypatch.setenv("XAI_API_HOST", "grove.example:443")
    async with Client() as remote:
        assert remote.api_host == "grove.example:443" and remote.secure
    async with Client(secure=False) as told:
        assert not told.secure


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["keys", "list", "--help"], "usage: grove keys list"),
        (["db", "migrate-to", "--help"], "usage: grove db migrate-to"),
        (["export", "-h"], "usage: grove export"),
    ],
)
def test_a_subcommands_help_is_its_own(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(usage)
