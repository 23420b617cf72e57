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

__all__ = [
    "ConversationRecord",
    "NewResponse",
    "ResponseRecord",
    "SamplingRecord",
    "Store",
    "StoreError",
    "UnknownConversationError",
    "UnknownParentError",
]
