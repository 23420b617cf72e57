"""Persistence for the Chat server: the `Store` protocol, its records, and SQLite."""

from grove_explorer.server.store.protocol import (
    DuplicateApiKeyError,
    KeyStore,
    StorageFailure,
    Store,
    StoreError,
    UnknownConversationError,
    UnknownParentError,
)
from grove_explorer.server.store.records import (
    AnnotationRecord,
    ApiKeyCheck,
    ApiKeyRecord,
    Checkpoint,
    ConversationRecord,
    ImportItem,
    LeafRecord,
    NewResponse,
    ResponseContent,
    ResponseRecord,
    SamplingRecord,
    SearchFilters,
    SearchHitRecord,
    TokenRow,
)
from grove_explorer.server.store.sqlite import SqliteStore

__all__ = [
    "AnnotationRecord",
    "ApiKeyCheck",
    "ApiKeyRecord",
    "Checkpoint",
    "ConversationRecord",
    "DuplicateApiKeyError",
    "ImportItem",
    "KeyStore",
    "LeafRecord",
    "NewResponse",
    "ResponseContent",
    "ResponseRecord",
    "SamplingRecord",
    "SearchFilters",
    "SearchHitRecord",
    "SqliteStore",
    "StorageFailure",
    "Store",
    "StoreError",
    "TokenRow",
    "UnknownConversationError",
    "UnknownParentError",
]
