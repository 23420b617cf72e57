"""Behaviour the type checker's findings in the SDK pointed at (issue 11, item 7)."""

from __future__ import annotations

import grpc
from grpc import aio

from grove_explorer.client.errors import (
    BACKEND_ERROR_KEY,
    RETRY_AFTER_KEY,
    BackendError,
    translate,
)


def _error(*pairs: tuple[str, str | bytes]) -> aio.AioRpcError:
    return aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        aio.Metadata(),
        aio.Metadata(*pairs),
        details="The model backend failed: rate limited.",
    )


def test_backend_error_metadata_in_bytes_is_decoded() -> None:
    """A value that arrives as bytes names the failure, not "b'rate_limit'"."""
    error = translate(_error((BACKEND_ERROR_KEY, b"rate_limit"), (RETRY_AFTER_KEY, b"2.5")))
    assert isinstance(error, BackendError)
    assert error.kind == "rate_limit"
    assert error.retry_after_seconds == 2.5


def test_backend_error_metadata_first_value_counts() -> None:
    """Repeated keys: the first value is the server's (a dict kept the last one)."""
    error = translate(
        _error(
            (BACKEND_ERROR_KEY, "timeout"),
            (RETRY_AFTER_KEY, "1"),
            (RETRY_AFTER_KEY, "not a number"),
        )
    )
    assert isinstance(error, BackendError)
    assert error.kind == "timeout"
    assert error.retry_after_seconds == 1.0


def test_plain_metadata_still_reads() -> None:
    error = translate(_error((BACKEND_ERROR_KEY, "overloaded")))
    assert isinstance(error, BackendError)
    assert error.kind == "overloaded" and error.retry_after_seconds is None
