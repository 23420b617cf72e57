"""The Chat service, by responsibility.

rpcs.py holds `ChatServicer` (one method per RPC); reply_streaming.py runs an AddResponse
stream (tokens, budget, the stored reply); stream_registry.py registers running streams and
checkpoints their text; resuming.py runs a resumable stream apart from its call (its
messages kept in reply_log.py) so ResumeResponse can continue it; validation.py,
lookups.py and importing.py check requests (import_stream.py: an import in chunks);
status.py words the gRPC statuses.
"""

from grove_explorer.server.servicer.reply_streaming import (
    BACKEND_ERROR_KEY,
    RETRY_AFTER_KEY,
    UPSTREAM_STATUS,
)
from grove_explorer.server.servicer.rpcs import ChatServicer
from grove_explorer.server.servicer.stream_registry import ActiveStream, StreamRegistry

__all__ = [
    "BACKEND_ERROR_KEY",
    "RETRY_AFTER_KEY",
    "UPSTREAM_STATUS",
    "ActiveStream",
    "ChatServicer",
    "StreamRegistry",
]
