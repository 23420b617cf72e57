"""Two `grove serve` replicas on one PostgreSQL database, the SDK reaching the first
through a TCP proxy the test can hold, cut and turn towards the second; an onlooker on
the second watching the conversation (what crosses replicas is seen there, not timed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from grove_explorer.client import Client, Conversation
from grove_explorer.client.watching import WatchEvent, WatchStarted
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.store.location import PostgresUrl
from tests.tcp_proxy import TcpProxy


def port_of(process: ServerProcess) -> int:
    """The port a server process listens on."""
    return int(process.address.rsplit(":", 1)[1])


@dataclass
class ReplicaPair:
    """The processes, the proxy, both clients, the conversation and the onlooker's watch."""

    first: ServerProcess
    second: ServerProcess
    proxy: TcpProxy
    sdk: Client
    onlooker: Client
    conversation: Conversation
    watch: AsyncIterator[WatchEvent]

    def turn_to_second(self) -> None:
        """Sends new connections to the second replica and cuts those running (≥ 1)."""
        self.proxy.target_port = port_of(self.second)
        assert self.proxy.cut() >= 1, "the stream ran through the proxy"


@asynccontextmanager
async def replica_pair(url: PostgresUrl, args: Sequence[str]) -> AsyncIterator[ReplicaPair]:
    """Both replicas started with `args`, a created conversation, its watch begun on B."""
    first = await ServerProcess(url, tuple(args)).start()
    second = await ServerProcess(url, tuple(args)).start()
    try:
        async with (
            TcpProxy(port_of(first)) as proxy,
            Client(api_host=proxy.address) as sdk,
            Client(api_host=second.address) as onlooker,
        ):
            conversation = sdk.grok.create_conversation()
            await conversation.ensure_created()
            found = await onlooker.grok.get_conversation(conversation.conversation_id)
            watch = aiter(found.watch())
            assert isinstance(await anext(watch), WatchStarted)
            yield ReplicaPair(first, second, proxy, sdk, onlooker, conversation, watch)
    finally:
        for process in (first, second):
            if process.returncode is None:
                await process.stop()
