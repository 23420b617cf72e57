"""Starting on a database Grove cannot use: one `grove: …` sentence, exit 1, file untouched.

Each case runs the real `grove` entry point in a subprocess — the explorer (it must refuse
before its UI takes the terminal), `grove serve` and a headless command — on a real
database truncated, overwritten with random bytes, replaced by text, damaged in one page,
or made read-only. Afterwards the folder holds exactly the bytes it held before: no -wal
or -shm file appears beside a refused file.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.database_files import (
    damage_table,
    make_database,
    read_only,
    snapshot,
    truncate_copy,
)

ENTRY = "from grove_explorer.app.cli import main; raise SystemExit(main())"

COMMANDS = {
    "app": lambda db: ["--db", str(db)],
    "serve": lambda db: ["serve", "--port", "0", "--db", str(db)],
    "ls": lambda db: ["ls", "--db", str(db)],
}


def run_grove(
    tmp_path: Path, *argv: str, stdin: str = "", **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """`grove ARGV` in a subprocess with no user config or environment server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("XAI_API_HOST", "XAI_API_KEY", "GROVE_DB", "GROVE_TOKEN_DELAY_MS")
    }
    env["GROVE_CONFIG"] = str(tmp_path / "no-config.toml")
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def assert_one_sentence(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 1, nothing on stdout, one `grove: …` line on stderr that names the way out."""
    err = done.stderr
    assert done.returncode == 1, err
    assert done.stdout == ""
    assert err.startswith("grove: ") and err.endswith(".\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "sqlite3." not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real database written by a real server (shared, never modified: copy it)."""
    import asyncio

    path = tmp_path_factory.mktemp("real") / "grove.sqlite3"
    conversation_id = asyncio.run(make_database(path))
    return path, conversation_id


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", ["truncated", "random bytes", "text"])
def test_a_file_that_is_not_a_whole_database_is_refused_untouched(
    tmp_path: Path, real_db: tuple[Path, str], command: str, damage: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "grove.sqlite3"
    if damage == "truncated":
        truncate_copy(real_db[0], db)
        needles = ("is damaged (PRAGMA quick_check:", "--allow-damaged-db", ".recover")
    elif damage == "random bytes":
        db.write_bytes(random.Random(12).randbytes(70_000))
        needles = ("is not a Grove database", "nothing was changed")
    else:
        db.write_text("name,score\noak,3\nbirch,5\n")
        needles = ("is not a Grove database", "Give --db")
    before = snapshot(folder)
    done = run_grove(tmp_path, *COMMANDS[command](db))
    assert_one_sentence(done, str(db), *needles)
    assert snapshot(folder) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_read_only_database_is_refused_untouched(
    tmp_path: Path, real_db: tuple[Path, str], command: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "grove.sqlite3"
    db.write_bytes(real_db[0].read_bytes())
    before = snapshot(folder)
    with read_only(db):
        done = run_grove(tmp_path, *COMMANDS[command](db))
    assert_one_sentence(done, f"Cannot write the database {db}", "--read-only")
    assert snapshot(folder) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_new_database_in_a_read_only_folder_is_refused(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    db = folder / "grove.sqlite3"
    with read_only(folder):
        done = run_grove(tmp_path, *COMMANDS[command](db))
    assert_one_sentence(done, f"its folder {folder} cannot be written")
    assert list(folder.iterdir()) == []


def test_read_only_flag_browses_a_read_only_file_and_refuses_changes(
    tmp_path: Path, real_db: tuple[Path, str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "grove.sqlite3"
    db.write_bytes(real_db[0].read_bytes())
    original = db.read_bytes()
    export = tmp_path / "export.json"
    with read_only(db):
        listed = run_grove(tmp_path, "ls", "--json", "--db", str(db), "--read-only")
        shown = run_grove(
            tmp_path, "export", real_db[1], "--format", "json", "--db", str(db), "--read-only"
        )
        export.write_text(shown.stdout)
        imported = run_grove(tmp_path, "import", str(export), "--db", str(db), "--read-only")
    assert listed.returncode == 0, listed.stderr
    assert [c["title"] for c in json.loads(listed.stdout)] == ["Oak trees"]
    assert shown.returncode == 0 and json.loads(shown.stdout)["title"] == "Oak trees"
    # A change reaches the server, which answers FAILED_PRECONDITION with its sentence.
    assert_one_sentence(imported, f"The server's database {db} was opened read-only", "Restart")
    assert db.read_bytes() == original


def test_allow_damaged_db_opens_a_damaged_file_read_only(
    tmp_path: Path, real_db: tuple[Path, str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "grove.sqlite3"
    db.write_bytes(real_db[0].read_bytes())
    damage_table(db, "response_tokens")
    damaged = db.read_bytes()

    refused = run_grove(tmp_path, "ls", "--db", str(db))
    assert_one_sentence(refused, "is damaged (PRAGMA quick_check:", "--allow-damaged-db")

    listed = run_grove(tmp_path, "ls", "--json", "--db", str(db), "--allow-damaged-db")
    assert listed.returncode == 0, listed.stderr
    assert [c["conversation_id"] for c in json.loads(listed.stdout)] == [real_db[1]]
    shown = run_grove(tmp_path, "show", real_db[1], "--db", str(db), "--allow-damaged-db")
    assert shown.returncode == 0 and "Question 2 about oak trees?" in shown.stdout
    # The damaged table is read by a lossless export: DATA_LOSS, with what to do.
    exported = run_grove(
        tmp_path, "export", real_db[1], "--format", "json", "--db", str(db), "--allow-damaged-db"
    )
    assert_one_sentence(exported, f"The server's database {db} is damaged", ".recover")
    assert db.read_bytes() == damaged


def test_import_of_deeply_nested_json_is_one_sentence(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    db = tmp_path / "grove.sqlite3"
    for source, stdin in ((str(nested), ""), ("-", nested.read_text())):
        done = run_grove(tmp_path, "import", source, "--db", str(db), stdin=stdin)
        assert_one_sentence(done, "nests arrays or objects deeper than Grove reads JSON")
    assert not db.exists()  # refused before any server started


def test_grove_keys_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "grove.sqlite3"
    db.write_text("name,score\noak,3\n")
    done = run_grove(tmp_path, "keys", "--db", str(db), "list")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"grove keys: {db} is not a Grove database (it is not an SQLite file); nothing was "
        "changed. Give --db the path of a Grove database, or move this file away to start a "
        "new one there.\n"
    )
    assert db.read_text() == "name,score\noak,3\n"


def test_grove_help_says_where_the_database_is(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_grove(tmp_path, "--help", XDG_DATA_HOME=str(home), COLUMNS="200")
    assert done.returncode == 0
    expected = home / "grove" / "grove.sqlite3"
    assert f"Database: {expected} (--db, $GROVE_DB or db in the config file" in done.stdout
    assert f"(default: {expected})" in done.stdout  # on --db itself
    chosen = tmp_path / "elsewhere.sqlite3"
    done = run_grove(tmp_path, "--help", GROVE_DB=str(chosen), COLUMNS="200")
    assert f"Database: {chosen} (from $GROVE_DB; the default is " in done.stdout
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{tmp_path / "configured.sqlite3"}"\n')
    done = run_grove(tmp_path, "--help", GROVE_CONFIG=str(config), COLUMNS="200")
    assert f"Database: {tmp_path / 'configured.sqlite3'} (db in the config file" in done.stdout
