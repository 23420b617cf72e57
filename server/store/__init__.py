"""Persistence for the Chat server: the `Store` protocol and its SQLite implementation."""

from server.store.protocol import (
    ConversationRecord,
    NewResponse,
    ResponseRecord,
    SamplingRecord,
    Store,
    StoreError,
    UnknownConversationError,
    UnknownParentError,
)
from server.store.sqlite import SqliteStore

__all__ = [
    "ConversationRecord",
    "NewResponse",
    "ResponseRecord",
    "SamplingRecord",
    "SqliteStore",
    "Store",
    "StoreError",
    "UnknownConversationError",
    "UnknownParentError",
]
