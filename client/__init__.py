"""The Grove SDK: the Grok SDK's async API over gRPC, plus a UI-facing service.

import grove_explorer.client as xai_sdk
grok = xai_sdk.Client().grok
conversation = grok.create_conversation()
token_stream, future = conversation.add_response("Hello")
"""

from grove_explorer.client.catalog import ModelCatalog, ModelInfo, SystemPromptInfo
from grove_explorer.client.client import Client
from grove_explorer.client.errors import (
    AlreadyExistsError,
    BackendError,
    ConcurrentSamplingError,
    ConversationDeletedError,
    ConversationNotLoadedError,
    DataLossError,
    FailedPreconditionError,
    GroveError,
    InvalidArgumentError,
    MissingModelResponseError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ServerInternalError,
    ServerUnavailableError,
    StorageCorruptError,
    StorageError,
    StorageFullError,
    StorageReadOnlyError,
    StorageUnavailableError,
    UnauthenticatedError,
)
from grove_explorer.client.grok import AsyncGrok, Conversation, Response
from grove_explorer.client.ids import AmbiguousIdError
from grove_explorer.client.research import Annotation, SearchHit, SearchResults
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.client.streams import SampleStream, TokenInfo, TokenStream

__all__ = [
    "AlreadyExistsError",
    "AmbiguousIdError",
    "Annotation",
    "AsyncGrok",
    "BackendError",
    "Client",
    "ConcurrentSamplingError",
    "Conversation",
    "ConversationDeletedError",
    "ConversationNotLoadedError",
    "DataLossError",
    "FailedPreconditionError",
    "GroveError",
    "InvalidArgumentError",
    "MissingModelResponseError",
    "ModelCatalog",
    "ModelInfo",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Response",
    "SampleStream",
    "SamplingParams",
    "SearchHit",
    "SearchResults",
    "ServerInternalError",
    "ServerUnavailableError",
    "StorageCorruptError",
    "StorageError",
    "StorageFullError",
    "StorageReadOnlyError",
    "StorageUnavailableError",
    "SystemPromptInfo",
    "TokenInfo",
    "TokenStream",
    "UnauthenticatedError",
]
