"""The explorer shows the server's sentence when its database cannot save, and never crashes.

Real conditions only: a server whose store was opened read-only (SQLite refuses every
write), the embedded server on a read-only database, and a database file that is not one.
"""

from __future__ import annotations

from pathlib import Path

from grove_explorer.app.config import AppConfig
from grove_explorer.app.grove_app import GroveApp
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.runtime import GroveServer
from tests.app_helpers import explorer, main_screen, send, settle
from tests.database_files import make_database

SIZE = (120, 36)


def notices(app: GroveApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_reply_on_a_read_only_database_shows_the_sentence(tmp_path: Path) -> None:
    db = tmp_path / "grove.sqlite3"
    await make_database(db)
    original = db.read_bytes()
    server = GroveServer(ServerConfig(host="127.0.0.1", port=0, db=db, read_only=True))
    await server.start()
    try:
        async with explorer(server.address, size=SIZE) as (app, pilot, screen):
            await send(pilot, "Will this be saved?")
            await settle(pilot)
            shown = notices(app)
            assert any(
                "was opened read-only" in n and "nothing can be saved" in n for n in shown
            ), shown
            assert not any("Unexpected" in n or "OperationalError" in n for n in shown), shown
            assert screen.composer.text == "Will this be saved?", "the typed text is kept"
            assert isinstance(app.screen, type(screen)), "no crash, no traceback screen"
    finally:
        await server.stop()
    assert db.read_bytes() == original


async def test_the_embedded_server_on_a_read_only_database_says_so(tmp_path: Path) -> None:
    db = tmp_path / "grove.sqlite3"
    await make_database(db)
    app = GroveApp(AppConfig(db=db, read_only=True, token_delay_ms=0))
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
        assert any("is open read-only" in n for n in notices(app)), notices(app)


async def test_a_database_that_fails_as_the_app_starts_leaves_the_ui_with_a_sentence(
    tmp_path: Path,
) -> None:
    """`grove` checks the file before the UI starts; if it fails after that check (the
    file replaced in between), the app leaves and `grove` prints the sentence."""
    db = tmp_path / "grove.sqlite3"
    db.write_text("not a database\n")
    app = GroveApp(AppConfig(db=db, token_delay_ms=0))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.return_code == 1
    assert app.startup_error is not None
    assert app.startup_error.startswith(f"{db} is not a Grove database")
    assert db.read_text() == "not a database\n"
