"""`python -m bench.live_replicas`: watchers on one replica, replies sampled on another.

Two Grove servers in this process share one conversation database (a SQLite file) and
live-tree feed (`PostgresFeed` on a real PostgreSQL database, as `grove serve --db
postgresql://…` builds): every stream samples through replica A, and one watcher per
conversation watches it through replica B from before the streams start. Printed: what
the watchers saw (text events, the gap between them beside the streams' own token gap,
watched text differing from the reply — must be 0 — ends not seen, errors) and what the
feed cost (NOTIFY statements and notifications, notifications per statement).

Servers, streams and watchers share one event loop and the machine's cores: the gaps are
"busy" figures, to compare between runs on one machine, not absolute latencies.

The PostgreSQL server: `--pg URL` (a database the feed may use), else
$GROVE_TEST_POSTGRES_URL, else a throwaway cluster started like the tests'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.load.watchers import Watchers
from grove_explorer.client import Client
from grove_explorer.server.config import ServerConfig
from grove_explorer.server.live.postgres_feed import PostgresFeed
from grove_explorer.server.runtime import GroveServer
from grove_explorer.server.store.location import PostgresUrl


@asynccontextmanager
async def postgres_database(given: str | None) -> AsyncIterator[str]:
    """A URL of a database the feed may use (a throwaway one unless given)."""
    if given:
        yield given
        return
    from tests.postgres_server import PostgresCluster, create_database, drop_database

    admin = os.environ.get("GROVE_TEST_POSTGRES_URL")
    cluster = None
    if not admin:
        cluster = PostgresCluster()
        await asyncio.to_thread(cluster.start)
        admin = cluster.url()
    database = await asyncio.to_thread(create_database, admin)
    try:
        yield database
    finally:
        await asyncio.to_thread(drop_database, admin, database)
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def stream_one(client: Client, conversation_id: str, gaps: list[float]) -> tuple[str, str]:
    """Samples one reply through replica A; its text and the gaps between its tokens."""
    conversation = await client.grok.get_conversation(conversation_id)
    stream, future = conversation.add_response("Write at length about beech trees.")
    last: float | None = None
    async for _token in stream:
        now = time.perf_counter()
        if last is not None:
            gaps.append(now - last)
        last = now
    return conversation_id, (await future).message


async def run(args: argparse.Namespace) -> int:
    """Runs the bench; 0 when every watcher saw every reply whole."""
    async with postgres_database(args.pg) as url:
        folder = Path(tempfile.mkdtemp(prefix="grove-live-replicas-"))
        config = ServerConfig(
            host="127.0.0.1",
            port=0,
            db=folder / "grove.sqlite3",
            token_delay_ms=1000.0 / args.tokens_per_second,
            offline_min_reply_tokens=args.tokens,
            max_streams=max(256, args.streams),  # every stream samples on replica A
        )
        feeds = [PostgresFeed(PostgresUrl(url)) for _ in range(2)]
        replicas = [GroveServer(config, feed=feed) for feed in feeds]
        for replica in replicas:
            await replica.start()
        sampler = Client(api_host=replicas[0].address)
        try:
            conversations = [sampler.grok.create_conversation() for _ in range(args.streams)]
            for conversation in conversations:
                await conversation.ensure_created()
            ids = [c.conversation_id for c in conversations]
            watchers = Watchers(replicas[1].address)
            await watchers.start(ids)
            await feeds[0].until(lambda feed: set(ids) <= feed.remote_watched)
            before = (feeds[0].statements_sent, feeds[0].notifications_sent)
            token_gaps: list[float] = []
            started = time.perf_counter()
            replies = dict(
                await asyncio.gather(*(stream_one(sampler, cid, token_gaps) for cid in ids))
            )
            elapsed = time.perf_counter() - started
            statements = feeds[0].statements_sent - before[0]
            notifications = feeds[0].notifications_sent - before[1]
            seen = await watchers.finish(replies)
        finally:
            await sampler.close()
            for replica in replicas:
                await replica.stop()
    wrong = seen.mismatches + seen.unfinished + seen.errors
    print(
        f"live trees across replicas: {args.streams} streams sampled on replica A at "
        f"{args.tokens_per_second:g} tok/s, {args.tokens} tokens each, watched on replica B "
        "(one process, busy figures)"
    )
    print(
        f"  watchers             {seen.watchers}: {seen.events:,} events; text-event gap "
        f"p50 {percentile(seen.gaps, 0.5) * 1000:.1f} ms, p99 "
        f"{percentile(seen.gaps, 0.99) * 1000:.1f} ms, max {max(seen.gaps, default=0) * 1000:.1f}"
        f" ms (the streams' own token gap p50 {percentile(token_gaps, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(token_gaps, 0.99) * 1000:.1f} ms)"
    )
    print(
        f"  watched text differing from the reply {seen.mismatches}, reply end not seen "
        f"{seen.unfinished}, watch errors {seen.errors}"
    )
    per_statement = notifications / statements if statements else 0.0
    print(
        f"  feed of replica A    {statements:,} NOTIFY statements carrying {notifications:,} "
        f"notifications in {elapsed:.1f} s ({statements / elapsed:.0f} statements/s, "
        f"{per_statement:.1f} notifications per statement)"
    )
    print(f"  wrong or cut         {wrong} (goal 0): {'ok' if wrong == 0 else 'FAILED'}")
    return 0 if wrong == 0 else 1


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.live_replicas", description=__doc__)
    parser.add_argument("--pg", help="postgresql:// URL of a database the feed may use")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per reply (at least)")
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
