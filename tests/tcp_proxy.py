"""A TCP proxy on loopback whose connections a test can cut, as a network failure would.

Each accepted connection is piped both ways to the target; `cut()` closes every open one
at once (client and server side) while new connections are still accepted, so a client
that reconnects gets through again. `target` may change between cuts (a "restarted"
server on another port). `hold()` keeps what the server sends from the client until the
next cut, which drops it: a connection that dies with the tail of a reply on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target_port`; `cut()` drops the open connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for pipe in list(self._pipes):
            pipe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pipe
        await self._server.wait_closed()

    def hold(self) -> None:
        """Stops passing the server's bytes to the client (the client's still go up).

        What the server sends meanwhile waits in the proxy and the sockets; the next `cut`
        drops it with the connections, and new connections flow again.
        """
        self._flowing.clear()

    def cut(self) -> int:
        """Closes every open connection (both ends); returns how many were open."""
        self._flowing.set()
        writers = list(self._open)
        for writer in writers:
            transport = writer.transport
            transport.abort()  # RST, not a polite close: the peer sees the connection die
        self._open.clear()
        return len(writers)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        pipes = (
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer, downstream=True)),
        )
        self._pipes.update(pipes)
        for pipe in pipes:
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, downstream: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if downstream and not self._flowing.is_set():
                    await self._flowing.wait()
                    if writer not in self._open:
                        break  # cut while held: what was held is lost with it
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.transport.abort()
