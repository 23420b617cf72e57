"""Persistence for the Chat server: the `Store` protocol and its SQLite implementation."""

from server.store.protocol import (
    ApiKeyCheck,
    ApiKeyRecord,
    Checkpoint,
    ConversationRecord,
    DuplicateApiKeyError,
    KeyStore,
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
    "ApiKeyCheck",
    "ApiKeyRecord",
    "Checkpoint",
    "ConversationRecord",
    "DuplicateApiKeyError",
    "KeyStore",
    "NewResponse",
    "ResponseRecord",
    "SamplingRecord",
    "SqliteStore",
    "Store",
    "StoreError",
    "UnknownConversationError",
    "UnknownParentError",
]
