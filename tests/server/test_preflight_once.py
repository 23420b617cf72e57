"""The start-up check reads a large database once per process, not once per caller.

The app checks its database before the UI takes the terminal and the store checks it again
when it opens; `PRAGMA quick_check` reads every page, so the second check of an unchanged
file is skipped — and a file that changed since is checked again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grove_explorer.server.store.protocol import StorageFailure
from grove_explorer.server.store.sqlite import failures
from tests.database_files import damage_table, make_database


async def test_an_unchanged_file_is_checked_once_and_a_changed_one_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "grove.sqlite3"
    await make_database(path)
    checked: list[Path] = []
    real = failures.quick_check

    def counting(target: Path) -> list[str]:
        checked.append(target)
        return real(target)

    monkeypatch.setattr(failures, "quick_check", counting)
    failures.preflight(path, read_only=False, allow_damaged=False)
    failures.preflight(path, read_only=False, allow_damaged=False)
    assert checked == [path]

    # Damage a b-tree page in place (same size): the next start checks and refuses it.
    size = path.stat().st_size
    damage_table(path, "responses")
    assert path.stat().st_size == size
    with pytest.raises(StorageFailure, match="is damaged"):
        failures.preflight(path, read_only=False, allow_damaged=False)
    assert checked == [path, path]
    # A damaged file is never remembered as sound.
    with pytest.raises(StorageFailure, match="is damaged"):
        failures.preflight(path, read_only=False, allow_damaged=False)
    assert len(checked) == 3
