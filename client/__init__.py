"""The Grove SDK: the Grok SDK's async API over gRPC, plus a UI-facing service.

import client as xai_sdk
grok = xai_sdk.Client().grok
conversation = grok.create_conversation()
token_stream, future = conversation.add_response("Hello")
"""

from client.client import Client
from client.errors import (
    AlreadyExistsError,
    ConcurrentSamplingError,
    ConversationDeletedError,
    ConversationNotLoadedError,
    FailedPreconditionError,
    GroveError,
    InvalidArgumentError,
    MissingModelResponseError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ServerInternalError,
    ServerUnavailableError,
    UnauthenticatedError,
)
from client.grok import AsyncGrok, Conversation, Response
from client.sampler import SamplingParams
from client.streams import SampleStream, TokenInfo, TokenStream

__all__ = [
    "AlreadyExistsError",
    "AsyncGrok",
    "Client",
    "ConcurrentSamplingError",
    "Conversation",
    "ConversationDeletedError",
    "ConversationNotLoadedError",
    "FailedPreconditionError",
    "GroveError",
    "InvalidArgumentError",
    "MissingModelResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Response",
    "SampleStream",
    "SamplingParams",
    "ServerInternalError",
    "ServerUnavailableError",
    "TokenInfo",
    "TokenStream",
    "UnauthenticatedError",
]
