"""SQLite failures as `StorageFailure`s with a sentence, and the check before opening.

Two jobs, both about a database that cannot be used as it is:

* `storage_failure` turns the SQLite errors that are about the file rather than about our
  SQL (no space left, read-only, damaged, I/O failure) into a `StorageFailure` whose
  message says what to do. Every statement of the store runs through the two places of
  `connection.py` that call it, so a client never sees "Unexpected sqlite3.OperationalError".
* `preflight` runs before the store opens its connections and refuses, without writing a
  byte, a file that is not an SQLite database, is damaged (`PRAGMA quick_check`), or lies
  where nothing can be written. Only reading is tried: the file stays byte-identical.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import urllib.parse
from pathlib import Path

from grove_explorer.server.store.protocol import StorageFailure

SQLITE_HEADER = b"SQLite format 3\x00"

# Primary result codes (the low byte of an extended code).
_READONLY = 8
_IOERR = 10
_CORRUPT = 11
_FULL = 13
_CANTOPEN = 14
_NOTADB = 26

_PROBLEMS_SHOWN = 3
"""How many quick_check findings a refusal quotes (the rest are counted)."""


def recover_hint(path: Path) -> str:
    """What to do with a damaged file: keep a copy, then restore or recover it."""
    return (
        f"Stop Grove, keep a copy of {path}, then restore it from a backup or save what is "
        f"readable with `sqlite3 {path} .recover | sqlite3 recovered.sqlite3`"
    )


def storage_failure(error: sqlite3.Error, path: Path, *, read_only: bool) -> StorageFailure | None:
    """The `StorageFailure` an SQLite error stands for; None when it is about our SQL."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    detail = str(error)
    if primary == _FULL:
        return StorageFailure(
            "full",
            f"The server's database {path} cannot grow: the disk has no space left (or the "
            "database reached its size limit), so nothing was saved. Free some space on that "
            "disk and try again.",
        )
    if primary == _READONLY:
        if read_only:
            return StorageFailure(
                "read_only",
                f"The server's database {path} was opened read-only (--read-only or "
                "--allow-damaged-db), so nothing can be saved; reading still works. Restart "
                "the server without those flags to make changes.",
            )
        return StorageFailure(
            "read_only",
            f"The server's database {path} has become read-only (the file, its folder or "
            "its disk), so nothing can be saved; reading still works. Make them writable "
            "again and restart the server.",
        )
    if primary in (_CORRUPT, _NOTADB):
        return StorageFailure(
            "corrupt",
            f"The server's database {path} is damaged ({detail}). {recover_hint(path)}.",
        )
    if primary in (_IOERR, _CANTOPEN):
        return StorageFailure(
            "io",
            f"The server cannot read or write its database {path} ({detail}). Check the "
            "disk it lives on, then restart the server.",
        )
    return None


def read_only_uri(path: Path, *, immutable: bool = False) -> str:
    """The URI that opens `path` for reading only (`immutable=1` needs no -shm file)."""
    quoted = urllib.parse.quote(str(path.absolute()))
    return f"file:{quoted}?mode=ro" + ("&immutable=1" if immutable else "")


def preflight(path: Path, *, read_only: bool, allow_damaged: bool) -> None:
    """Refuses a database file Grove must not open, before anything writes to it.

    Checks, in order: the folder and the file are what they should be; the file starts
    like an SQLite database; `PRAGMA quick_check` finds nothing wrong (skipped when
    `allow_damaged`); and, unless `read_only`, the file and its folder can be written.
    Raises StorageFailure with a sentence that says what to do; nothing is written.
    """
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise StorageFailure("io", f"Cannot use {path}: {folder} is not a folder.")
    if not path.exists():
        if read_only:
            raise StorageFailure(
                "io",
                f"There is no database at {path} to open read-only. Check the --db path.",
            )
        _check_writable_folder(path)
        return
    if not path.is_file():
        raise StorageFailure("not_database", f"Cannot use {path}: it is not a regular file.")
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StorageFailure(
            "io", f"Cannot read the database {path}: {error.strerror or error}."
        ) from None
    if header and header != SQLITE_HEADER:
        raise StorageFailure(
            "not_database",
            f"{path} is not a Grove database (it is not an SQLite file); nothing was "
            "changed. Give --db the path of a Grove database, or move this file away to "
            "start a new one there.",
        )
    if header and not allow_damaged:
        problems = _quick_check_once(path)
        if problems:
            shown = "; ".join(problems[:_PROBLEMS_SHOWN])
            more = (
                f" and {len(problems) - _PROBLEMS_SHOWN} more"
                if len(problems) > _PROBLEMS_SHOWN
                else ""
            )
            raise StorageFailure(
                "damaged",
                f"The database {path} is damaged (PRAGMA quick_check: {shown}{more}); "
                f"nothing was changed. {recover_hint(path)}; or start with "
                "--allow-damaged-db to open it read-only and export what can be read.",
            )
    if not read_only:
        _check_writable_file(path)
        _check_writable_folder(path)


_PASSED: set[tuple[object, ...]] = set()
"""Files `quick_check` found sound in this process, as they were then (see `_file_state`)."""


def _file_state(path: Path) -> tuple[object, ...]:
    """What tells an unchanged database file.

    The identity, size and modification time of the file and of its -wal file: a writer
    changes at least one of them.
    """
    state: list[object] = [str(path.resolve())]
    for part in (path, path.with_name(path.name + "-wal")):
        try:
            info = part.stat()
        except FileNotFoundError:
            state.append(None)
        else:
            state.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(state)


def _quick_check_once(path: Path) -> list[str]:
    """`quick_check`, skipped for a file that passed it in this process and has not changed.

    The app checks its database before the UI takes the terminal and the store checks it
    again when it opens; on a large file each check reads every page, so the second one
    would double the start-up time for nothing. A changed file is checked again.
    """
    state = _file_state(path)
    if state in _PASSED:
        return []
    problems = quick_check(path)
    if not problems:
        _PASSED.add(state)
    return problems


def quick_check(path: Path) -> list[str]:
    """The problems `PRAGMA quick_check` finds in `path`, read-only; [] when none.

    Without a -wal file no other connection has the database open (SQLite removes it at
    the last close) and every committed page is in the file itself, so it is read as
    `immutable`, which creates no -wal or -shm file beside a file we may then refuse.
    """
    try:
        wal = path.with_name(path.name + "-wal")
        return _quick_check(read_only_uri(path, immutable=not wal.exists()))
    except sqlite3.OperationalError as error:
        # A WAL database whose -shm cannot be created (a read-only folder): read the file
        # as it is, without the WAL index.
        if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF not in (_CANTOPEN, _READONLY):
            return [str(error)]
        try:
            return _quick_check(read_only_uri(path, immutable=True))
        except sqlite3.Error as again:
            return [str(again)]
    except sqlite3.Error as error:
        return [str(error)]


def _quick_check(uri: str) -> list[str]:
    connection = sqlite3.connect(uri, uri=True)
    try:
        rows = connection.execute("PRAGMA quick_check").fetchall()
    finally:
        connection.close()
    return [str(row[0]) for row in rows if row[0] != "ok"]


def _check_writable_file(path: Path) -> None:
    """Opening for writing is what SQLite will try; its refusal (EROFS, EPERM, EACCES) is ours.

    Asking the kernel rather than comparing permission bits is right for root too (who may
    write a mode-444 file but not an immutable one or one on a read-only mount).
    """
    try:
        descriptor = os.open(path, os.O_RDWR)
    except OSError as error:
        raise _read_only_refusal(path, error.strerror or str(error)) from None
    os.close(descriptor)


def _check_writable_folder(path: Path) -> None:
    """SQLite creates its -wal and -shm files (and a new database) beside the database."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        reason = os.strerror(errno.EROFS if _on_read_only_mount(folder) else errno.EACCES)
        raise _read_only_refusal(path, f"its folder {folder} cannot be written: {reason}")


def _on_read_only_mount(folder: Path) -> bool:
    with contextlib.suppress(OSError):
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    return False


def _read_only_refusal(path: Path, reason: str) -> StorageFailure:
    return StorageFailure(
        "read_only",
        f"Cannot write the database {path} ({reason}); nothing was changed. Make the file "
        "and its folder writable, or start with --read-only to browse it without saving.",
    )
