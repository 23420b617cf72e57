"""Parameters bound without the sqlite3 module's failed adaptation attempts.

Before binding a parameter, Python's sqlite3 module binds int, float, str and bytearray
directly; any other value — None and bytes too — goes through "adaptation": a lookup in
its adapters, then two attribute lookups (`__adapt__`, `__conform__`) that fail, raising
and clearing an AttributeError each (about 3,300 instructions, with the interpreter lock
held). An imported response binds half a dozen NULLs (the sampling fields of a human
message, usage figures, …): for a 60,000-response import that was a tenth of a second of
the database thread's time, and every live insert pays it too.

Registering adapters for None and bytes that return the value unchanged makes the first
lookup succeed: the same NULL or BLOB is bound, a quarter of the cost. Adapters are per
process (sqlite3's module state), so this is done once, by `connection.py` at import;
it changes no value any connection binds.
"""

from __future__ import annotations

import sqlite3

_NOTHING: dict[None, None] = {}


def bind_plainly() -> None:
    """Registers the identity adapters of None and bytes (idempotent)."""
    # `{}.get(None)` is None: an identity for None in C, cheaper than a Python function.
    sqlite3.register_adapter(type(None), _NOTHING.get)
    # `bytes(b)` is `b` itself for an exact bytes object (adapters match exact types).
    sqlite3.register_adapter(bytes, bytes)
