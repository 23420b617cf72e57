"""`grove` commands on a team server's database: `--db postgresql://…` and `$GROVE_DB`.

The embedded server of a headless command opens the PostgreSQL store the URL names (a
real server, tests/postgres_server.py); what one command stores the next one reads, and a
database that cannot be reached is one sentence without the password.
"""

from __future__ import annotations

import pytest

from grove_explorer.app.config import ConfigError, load_config
from grove_explorer.server.store.location import PostgresUrl
from tests.app.test_headless import (
    grove,
    isolated,  # noqa: F401 (an autouse fixture)
)
from tests.client.test_foreign_readers import FIXTURES


async def test_commands_share_a_postgres_database(
    postgres_url: PostgresUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    at = ("--db", postgres_url.url)
    code, out, _ = await grove(capsys, "import", str(FIXTURES / "loom_tree.json"), *at)
    assert code == 0
    cid = out.strip()
    code, out, err = await grove(capsys, "sample", cid, "-n", "2", "--max-tokens", "6", *at)
    assert (code, err) == (0, "")
    assert len(out.strip().splitlines()) == 3, "a header and two samples"
    code, out, _ = await grove(capsys, "ls", "--json", *at)
    assert code == 0 and cid in out
    code, out, _ = await grove(capsys, "search", "lighthouse", *at)
    assert code == 0 and cid[:12] in out


async def test_grove_db_in_the_environment_and_an_unreachable_database(
    postgres_url: PostgresUrl,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GROVE_DB", postgres_url.url)
    assert load_config().db == postgres_url
    code, out, _ = await grove(capsys, "ls")
    assert (code, out.strip()) == (0, "")
    missing = postgres_url.url.replace("grove_test_", "missing_").replace("grove@", "grove:pw@")
    code, _, err = await grove(capsys, "ls", "--db", missing)
    assert code == 1
    assert "cannot be reached" in err and "pw" not in err and "grove:***@" in err
    monkeypatch.setenv("GROVE_DB", "postgresql://grove@db.lab:5432")
    with pytest.raises(ConfigError, match="names no database"):
        load_config()
