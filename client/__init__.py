"""The Grove SDK: the Grok SDK's async API over gRPC, plus a UI-facing service.

import grove_explorer.client as xai_sdk
grok = xai_sdk.Client().grok
conversation = grok.create_conversation()
token_stream, future = conversation.add_response("Hello")

The names below are exported lazily (module `__getattr__`): importing this package, or one
of its light submodules (e.g. `client.research` from the app), does not import gRPC, the
generated protos or pydantic until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grove_explorer.client.catalog import ModelCatalog, ModelInfo, SystemPromptInfo
    from grove_explorer.client.client import Client
    from grove_explorer.client.errors import (
        AccessDeniedError,
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
        NotOwnerError,
        PermissionDeniedError,
        ReadOnlyShareError,
        ResourceExhaustedError,
        ServerInternalError,
        ServerUnavailableError,
        StorageCorruptError,
        StorageError,
        StorageFullError,
        StorageReadOnlyError,
        StorageUnavailableError,
        StreamNotResumableError,
        UnauthenticatedError,
        UnusableJudgementError,
        WatchGapError,
        WatchTooSlowError,
    )
    from grove_explorer.client.grok import AsyncGrok, Conversation, Response
    from grove_explorer.client.ids import AmbiguousIdError
    from grove_explorer.client.judgements import ExtractedPoints, Judgement, Point
    from grove_explorer.client.models import ReportedUsage
    from grove_explorer.client.replaying import ReplayedTurn, ReplayResult, ReplayStoppedError
    from grove_explorer.client.research import Annotation, SearchHit, SearchResults
    from grove_explorer.client.sampler import SamplingParams
    from grove_explorer.client.streams import SampleStream, TokenInfo, TokenStream

_EXPORTS: dict[str, str] = {
    "ModelCatalog": "grove_explorer.client.catalog",
    "ModelInfo": "grove_explorer.client.catalog",
    "SystemPromptInfo": "grove_explorer.client.catalog",
    "Client": "grove_explorer.client.client",
    "AccessDeniedError": "grove_explorer.client.errors",
    "AlreadyExistsError": "grove_explorer.client.errors",
    "NotOwnerError": "grove_explorer.client.errors",
    "ReadOnlyShareError": "grove_explorer.client.errors",
    "BackendError": "grove_explorer.client.errors",
    "ConcurrentSamplingError": "grove_explorer.client.errors",
    "ConversationDeletedError": "grove_explorer.client.errors",
    "ConversationNotLoadedError": "grove_explorer.client.errors",
    "DataLossError": "grove_explorer.client.errors",
    "FailedPreconditionError": "grove_explorer.client.errors",
    "UnusableJudgementError": "grove_explorer.client.errors",
    "WatchGapError": "grove_explorer.client.errors",
    "WatchTooSlowError": "grove_explorer.client.errors",
    "GroveError": "grove_explorer.client.errors",
    "InvalidArgumentError": "grove_explorer.client.errors",
    "MissingModelResponseError": "grove_explorer.client.errors",
    "NotFoundError": "grove_explorer.client.errors",
    "PermissionDeniedError": "grove_explorer.client.errors",
    "ResourceExhaustedError": "grove_explorer.client.errors",
    "ServerInternalError": "grove_explorer.client.errors",
    "ServerUnavailableError": "grove_explorer.client.errors",
    "StorageCorruptError": "grove_explorer.client.errors",
    "StorageError": "grove_explorer.client.errors",
    "StorageFullError": "grove_explorer.client.errors",
    "StorageReadOnlyError": "grove_explorer.client.errors",
    "StreamNotResumableError": "grove_explorer.client.errors",
    "StorageUnavailableError": "grove_explorer.client.errors",
    "UnauthenticatedError": "grove_explorer.client.errors",
    "AsyncGrok": "grove_explorer.client.grok",
    "Conversation": "grove_explorer.client.grok",
    "Response": "grove_explorer.client.grok",
    "AmbiguousIdError": "grove_explorer.client.ids",
    "ExtractedPoints": "grove_explorer.client.judgements",
    "Judgement": "grove_explorer.client.judgements",
    "Point": "grove_explorer.client.judgements",
    "ReportedUsage": "grove_explorer.client.models",
    "Annotation": "grove_explorer.client.research",
    "SearchHit": "grove_explorer.client.research",
    "SearchResults": "grove_explorer.client.research",
    "SamplingParams": "grove_explorer.client.sampler",
    "ReplayResult": "grove_explorer.client.replaying",
    "ReplayStoppedError": "grove_explorer.client.replaying",
    "ReplayedTurn": "grove_explorer.client.replaying",
    "SampleStream": "grove_explorer.client.streams",
    "TokenInfo": "grove_explorer.client.streams",
    "TokenStream": "grove_explorer.client.streams",
}
"""Each exported name and the submodule that defines it."""


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:  # a submodule not imported yet (`client.grok`), as before
        if name.startswith("_"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AccessDeniedError",
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
    "ExtractedPoints",
    "FailedPreconditionError",
    "GroveError",
    "InvalidArgumentError",
    "Judgement",
    "MissingModelResponseError",
    "ModelCatalog",
    "ModelInfo",
    "NotFoundError",
    "NotOwnerError",
    "PermissionDeniedError",
    "Point",
    "ReadOnlyShareError",
    "ReplayResult",
    "ReplayStoppedError",
    "ReplayedTurn",
    "ReportedUsage",
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
    "StreamNotResumableError",
    "SystemPromptInfo",
    "TokenInfo",
    "TokenStream",
    "UnauthenticatedError",
    "UnusableJudgementError",
    "WatchGapError",
    "WatchTooSlowError",
]
