"""Typed exceptions of the SDK.

The server answers bad input with a gRPC status and a sentence; the SDK turns each status
into an exception class a caller can catch, carrying that sentence unchanged, so the app
can show the server's own words.

Importing this module does not import gRPC: a class's `code` names its status and reads
as the `grpc.StatusCode` member (gRPC is imported on the first read). The app imports
these classes before its first frame, and gRPC is only needed once a call is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import grpc


class _Status:
    """A class's gRPC status, by name: reads as `grpc.StatusCode.<name>`.

    A non-data descriptor, so an instance's own `code` (the status a call failed with)
    still takes precedence over its class's.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> grpc.StatusCode:
        import grpc

        return grpc.StatusCode[self.name]


class GroveError(Exception):
    """Base of every error the SDK raises for a failed call."""

    code: grpc.StatusCode | None = None

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFoundError(GroveError, LookupError):
    """The conversation or response does not exist (or is not yours)."""

    code = _Status("NOT_FOUND")


class InvalidArgumentError(GroveError, ValueError):
    """The request was malformed: bad parent, blank or oversized message, bad params."""

    code = _Status("INVALID_ARGUMENT")


class AlreadyExistsError(GroveError):
    """Something with that identity exists already (e.g. a running request_id)."""

    code = _Status("ALREADY_EXISTS")


class FailedPreconditionError(GroveError):
    """The request is valid but the target is not in a state that allows it."""

    code = _Status("FAILED_PRECONDITION")


class UnusableJudgementError(FailedPreconditionError):
    """A judge model gave no usable score (not JSON, out of 0-10, cut short); nothing stored.

    The message names the judge and the reply; another judge, mode or max_tokens may do.
    """


class ResourceExhaustedError(GroveError):
    """A server limit was reached (message size, concurrent streams)."""

    code = _Status("RESOURCE_EXHAUSTED")


class WatchTooSlowError(ResourceExhaustedError):
    """A watch fell too far behind the conversation and the server ended it.

    Watch again (`Conversation.watch()`) to start from the conversation as it is now.
    """


class WatchGapError(GroveError):
    """A watch's reply text arrived with a gap (text was missed); watch again."""


class UnauthenticatedError(GroveError):
    """The server needs a valid API key (`XAI_API_KEY`)."""

    code = _Status("UNAUTHENTICATED")


class PermissionDeniedError(GroveError):
    """The key is valid but may not do this."""

    code = _Status("PERMISSION_DENIED")


class AccessDeniedError(PermissionDeniedError):
    """A conversation shared with you does not allow this (sharing between users).

    `owner_user_id` names its owner. Raised as one of the two subclasses below.
    """

    kind = ""

    def __init__(
        self, message: str, code: grpc.StatusCode | None = None, owner_user_id: str = ""
    ) -> None:
        super().__init__(message, code)
        self.owner_user_id = owner_user_id


class ReadOnlyShareError(AccessDeniedError):
    """The conversation is shared with you as a reader: you may read it, not write to it."""

    kind = "read_only"


class NotOwnerError(AccessDeniedError):
    """Only the conversation's owner may do this (rename, star, delete, title, share)."""

    kind = "not_owner"


class ServerUnavailableError(GroveError, ConnectionError):
    """The server could not be reached, went away mid-call, or is shutting down."""

    code = _Status("UNAVAILABLE")


class StreamNotResumableError(ServerUnavailableError):
    """A reply's stream lost its connection and no server could continue it.

    No reachable server runs the reply or has it stored: its server stopped before storing
    it (a reply stored whole or partial is resent from the store instead, by any replica).
    Its last checkpoint becomes a partial reply in the conversation once a server recovers
    it (reload it then).
    """


class ServerInternalError(GroveError):
    """The server failed while handling the call."""

    code = _Status("INTERNAL")


class DataLossError(GroveError):
    """The server's data is damaged (a corrupt database file)."""

    code = _Status("DATA_LOSS")


class StorageError(GroveError):
    """The server's database failed: `kind` is full, read_only, corrupt or io.

    Raised as one of the subclasses below, each also an instance of the status's class
    (a `StorageFullError` is a `ResourceExhaustedError`), so code that catches by status
    keeps working. The message is the server's sentence of what to do.
    """

    kind = ""


class StorageFullError(StorageError, ResourceExhaustedError):
    """The disk holding the server's database is full (or it reached its size limit)."""

    kind = "full"


class StorageReadOnlyError(StorageError, FailedPreconditionError):
    """The server's database cannot be written (opened read-only, or the file became so)."""

    kind = "read_only"


class StorageCorruptError(StorageError, DataLossError):
    """The server's database file is damaged."""

    kind = "corrupt"


class StorageUnavailableError(StorageError, ServerUnavailableError):
    """The server could not read or write its database (a disk I/O failure)."""

    kind = "io"


class BackendError(GroveError):
    """The server's model backend failed: its key, model, rate limit, availability or time.

    `kind` says which (auth, model_not_found, rate_limited, bad_request, unavailable,
    timeout, stream_broken); `code` is the gRPC status the server chose for it.
    """

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | None,
        kind: str,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message, code)
        self.kind = kind
        self.retry_after_seconds = retry_after_seconds


class ConversationNotLoadedError(ValueError):
    """A conversation property was used before the conversation was created or loaded."""


class ConversationDeletedError(RuntimeError):
    """The conversation object was deleted and can no longer be used."""


class ConcurrentSamplingError(RuntimeError):
    """A second response was sampled on a `Conversation` while one is still streaming."""


class MissingModelResponseError(RuntimeError):
    """The stream ended without the final model response the protocol promises."""


_BY_STATUS: dict[str, type[GroveError]] = {
    vars(cls)["code"].name: cls
    for cls in (
        NotFoundError,
        InvalidArgumentError,
        AlreadyExistsError,
        FailedPreconditionError,
        ResourceExhaustedError,
        UnauthenticatedError,
        PermissionDeniedError,
        ServerUnavailableError,
        ServerInternalError,
        DataLossError,
    )
}
"""The class of each status (by its name, `grpc.StatusCode.<name>`)."""

_STORAGE_BY_KIND: dict[str, type[StorageError]] = {
    cls.kind: cls
    for cls in (
        StorageFullError,
        StorageReadOnlyError,
        StorageCorruptError,
        StorageUnavailableError,
    )
}


_ACCESS_BY_KIND: dict[str, type[AccessDeniedError]] = {
    cls.kind: cls for cls in (ReadOnlyShareError, NotOwnerError)
}


def unencodable_text(error: UnicodeEncodeError) -> InvalidArgumentError:
    """The SDK's error for text that cannot travel as UTF-8 (a lone surrogate, say).

    Raised before anything is sent, so the server stores nothing.
    """
    bad = error.object[error.start : error.end]
    codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
    return InvalidArgumentError(
        f"The text cannot be sent: it holds {codes} at position {error.start}, which is not "
        "valid Unicode text (a lone surrogate); nothing was stored."
    )


BACKEND_ERROR_KEY = "grove-backend-error"
STORAGE_ERROR_KEY = "grove-storage-error"
JUDGE_ERROR_KEY = "grove-judge-error"
"""Trailing metadata of a FAILED_PRECONDITION whose judge gave unusable output."""
ACCESS_ERROR_KEY = "grove-access-denied"
"""Trailing metadata of a PERMISSION_DENIED on a shared conversation (read_only, not_owner)."""
OWNER_KEY = "grove-owner"
RETRY_AFTER_KEY = "grove-retry-after"


def _backend_error(
    error: grpc.RpcError, code: grpc.StatusCode | None, details: str | None
) -> BackendError | None:
    """A BackendError when the server marked the status as its backend's failure."""
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    kind = _metadata_value(trailing, BACKEND_ERROR_KEY)
    if not kind:
        return None
    retry_after: float | None = None
    text = _metadata_value(trailing, RETRY_AFTER_KEY)
    try:
        retry_after = float(text) if text is not None else None
    except ValueError:
        retry_after = None
    return BackendError(details or "The model backend failed.", code, kind, retry_after)


def _metadata_value(trailing: Iterable[Any] | None, key: str) -> str | None:
    """The first value of `key` in trailing metadata, as text (None when absent).

    Metadata is a sequence of (key, value) pairs whose values may be bytes (a proxy may
    re-encode them) and whose keys may repeat: the first one counts, and bytes are decoded
    rather than shown as "b'…'".
    """
    for name, value in trailing or ():
        if name == key and isinstance(value, str | bytes):
            if isinstance(value, bytes):
                return value.decode("utf-8", "replace")
            return value
    return None


def translate(error: grpc.RpcError) -> GroveError:
    """Turns a gRPC error into the matching typed exception, keeping the server's words."""
    import grpc

    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else None
    backend = _backend_error(error, code, details)
    if backend is not None:
        return backend
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    storage = _STORAGE_BY_KIND.get(_metadata_value(trailing, STORAGE_ERROR_KEY) or "")
    if storage is not None:
        return storage(details or "The server's database failed.", code)
    denied = _ACCESS_BY_KIND.get(_metadata_value(trailing, ACCESS_ERROR_KEY) or "")
    if denied is not None:
        owner = _metadata_value(trailing, OWNER_KEY) or ""
        return denied(details or "You may not do this here.", code, owner)
    if _metadata_value(trailing, JUDGE_ERROR_KEY):
        return UnusableJudgementError(details or "The judge gave no usable score.", code)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ServerUnavailableError(details or "The call timed out.", code)
    if code == grpc.StatusCode.CANCELLED:
        # The SDK never sees its own cancellations as errors, so this came from the server.
        return ServerUnavailableError(
            f"The server cancelled the call ({details or 'it may be shutting down'}).", code
        )
    cls = _BY_STATUS.get(getattr(code, "name", ""), GroveError) if code is not None else GroveError
    if details and "larger than max" in details:
        details = f"The request is larger than the server accepts ({details})."
    if not details:
        name = code.name if code is not None else "UNKNOWN"
        details = f"The call failed with status {name}."
    if cls is ServerUnavailableError and "connect" in details.lower():
        details = f"Cannot reach the Grove server: {details}"
    return cls(details, code)
