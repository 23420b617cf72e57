"""Which server process wrote a checkpoint, and whether it is still alive.

Several servers may share one database file: the app's embedded server and a headless
`grove ls` started beside it, or two copies of the app. A checkpoint is the text of a reply
still streaming; only a checkpoint whose writer is gone (the process crashed or was killed)
may become a partial reply. Owners are "host:pid:instance": on this host a process that no
longer exists (or a server of this process that has stopped) is gone; on another host
(a shared network folder, which SQLite discourages) only a checkpoint untouched for
`STALE_AFTER` is taken for an orphan.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOST = socket.gethostname()
STALE_AFTER = timedelta(minutes=2)

_LIVE: set[str] = set()
"""Owners of the servers running in this process."""


def new_owner() -> str:
    """A fresh owner name for a server starting in this process (registered as live)."""
    owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex}"
    _LIVE.add(owner)
    return owner


def retire(owner: str) -> None:
    """Marks a server of this process as stopped: its checkpoints are orphans from now."""
    _LIVE.discard(owner)


def is_remote(owner: str) -> bool:
    """Whether `owner` is a server of another host ("host:pid:instance", host not ours).

    The OS can only answer for this host's processes; for another host's, a store that
    knows which replicas are connected (the PostgreSQL store's presence) answers.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, instance = rest.partition(":")
    return bool(host) and pid_text.isdigit() and bool(instance) and host != HOST


def is_orphan(owner: str, updated: datetime) -> bool:
    """True when the server that wrote a checkpoint is gone."""
    host, _, rest = owner.partition(":")
    pid_text, _, _instance = rest.partition(":")
    if not owner or not pid_text.isdigit():
        return True
    if host != HOST:
        return datetime.now(UTC) - updated > STALE_AFTER
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in _LIVE
    return not _process_alive(pid)


def _process_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): existing is alive enough
    return stat.rpartition(")")[2].split()[0] != "Z"
