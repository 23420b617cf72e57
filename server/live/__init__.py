"""Live shared trees: the change feed every conversation change is published on.

feed.py is the `ChangeFeed` protocol (what a PostgreSQL LISTEN/NOTIFY feed implements too)
and how a watch ends; in_process.py is the feed of one server process (SQLite);
postgres_feed.py the feed across replicas of one PostgreSQL database (LISTEN/NOTIFY; what
it hears is handled in postgres_receiving.py; its payloads and each watcher's merge of
other replicas' replies are remote_merge.py);
publishing.py builds the events the servicer publishes (small: big content is referred to
by row, the watcher's server reads it; a reply's text with its token lengths);
elsewhere.py indexes the replies other replicas sample, by request id, for resumes relayed
from the feed (server/servicer/feed_replies.py); the WatchConversation RPC is
server/servicer/watching.py.
"""

from grove_explorer.server.live.feed import (
    MAX_EVENT_BYTES,
    ChangeFeed,
    FeedClosed,
    Subscription,
    WatchEnded,
    WatcherTooSlow,
)
from grove_explorer.server.live.in_process import InProcessFeed
from grove_explorer.server.live.publishing import LivePublisher, LiveReply

__all__ = [
    "MAX_EVENT_BYTES",
    "ChangeFeed",
    "FeedClosed",
    "InProcessFeed",
    "LivePublisher",
    "LiveReply",
    "Subscription",
    "WatchEnded",
    "WatcherTooSlow",
]
