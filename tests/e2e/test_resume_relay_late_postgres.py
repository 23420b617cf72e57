"""A reply is resumed through a replica that started after the reply did (issue 17).

Replica B never heard the reply start, so its index of replies elsewhere does not have it
(the same as an evicted entry). B finds the conversation from the human message the
request stored (`Store.request_message`, migration 18 / 6), follows it on the change feed,
and A's catch-up names the reply and brings its text from offset 0
(server/servicer/feed_replies.py). Two `grove serve` processes on one PostgreSQL database,
the SDK reaching A through a real TCP proxy that is turned towards B mid-reply.

Proof that B relayed from the feed while A sampled: relayed tokens carry no logprob (A's
own and the stored ones have logprobs).
"""

from __future__ import annotations

from grove_explorer.client import Client, SamplingParams
from grove_explorer.client.streams import ModelResponseEvent, TokensEvent
from grove_explorer.server.launcher import ServerProcess
from grove_explorer.server.store.location import PostgresUrl
from tests.e2e.replica_pair import port_of
from tests.tcp_proxy import TcpProxy

TOKENS = 1000
# Long enough (1000 tokens at 20 ms) that B starts and the SDK resumes there mid-reply.
SLOW = ("--token-delay-ms", "20", "--offline-min-tokens", str(TOKENS), "--checkpoint-ms", "100")


async def test_a_replica_started_after_the_reply_relays_it_whole(
    postgres_url: PostgresUrl,
) -> None:
    first = await ServerProcess(postgres_url, SLOW).start()
    second: ServerProcess | None = None
    try:
        async with TcpProxy(port_of(first)) as proxy, Client(api_host=proxy.address) as sdk:
            conversation = sdk.grok.create_conversation()
            await conversation.ensure_created()
            stream = conversation.sample(
                "Tell me about oak trees.",
                parent_response_id=None,
                sampling=SamplingParams(max_tokens=TOKENS),
            )
            events = aiter(stream)
            before: list[TokensEvent] = []
            while len(before) < 5:
                event = await anext(events)
                if isinstance(event, TokensEvent):
                    before.append(event)
            second = await ServerProcess(postgres_url, SLOW).start()  # after the start
            proxy.target_port = port_of(second)
            assert proxy.cut() >= 1, "the stream ran through the proxy"

            after: list[TokensEvent] = []
            final = None
            async for event in events:
                if isinstance(event, TokensEvent):
                    after.append(event)
                elif isinstance(event, ModelResponseEvent):
                    final = event
            reply = await stream.future
            async with Client(api_host=second.address) as onlooker:
                cid = conversation.conversation_id
                stored = (await onlooker.grok.get_conversation(cid)).responses[-1]
                stored_tokens = await stored.tokens()
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                await process.stop()
    assert final is not None
    texts = [t.text for e in before + after for t in e.tokens]
    assert "".join(texts) == reply.message == stored.message, "no token twice, none lost"
    assert reply.response_id == stored.response_id and not reply.partial
    assert sum(e.count for e in before + after) == len(stored_tokens)
    received = [t for e in before + after for t in e.tokens]
    relayed = [i for i, t in enumerate(received) if t.logprob is None]
    assert relayed, "B relayed tokens from the feed (no logprob): A was still sampling"
    # Relayed tokens are A's tokens, cut where A cut them, in one run after A's own.
    start = relayed[0]
    assert relayed == list(range(start, start + len(relayed)))
    assert all(t.logprob is not None for t in received[:start])
    assert [received[i].text for i in relayed] == [
        t.text for t in stored_tokens[start : start + len(relayed)]
    ]
