"""Asking every other replica which replies of a conversation it samples, and hearing back.

A replica that must learn whether any replica samples a given reply (a resume of a reply
whose start it never heard: server/servicer/feed_replies.py) watches the conversation —
each replica answers a new watch with a catch-up of the replies it samples there — and
then asks (`a` on the feed). Each replica answers (`k`) behind the catch-up it owes that
watch, in the order of its events, so an answer means "all I sample there is before
this". Once every live replica has answered (a replica that left or went silent is no
longer waited for), the asking watch gets an `answered_marker`: a local event, never sent
to a client (the watch is the asking server's own), after which no catch-up will come.
Which replicas live, the asker knows once it has listened for a heartbeat period (a
replica started a moment ago has heard from nobody yet).

Without it the asker could only wait a fixed time for a catch-up that never comes when no
replica samples the reply (it ended with nothing stored): 10 s before NOT_FOUND.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from grove_explorer.protos import chat_pb2
from grove_explorer.server.live.in_process import _Subscriber


def answered_marker(conversation_id: str, nonce: str) -> chat_pb2.ConversationEvent:
    """The local event that tells an asking watch every replica has answered."""
    return chat_pb2.ConversationEvent(conversation_id=conversation_id, request_id=nonce)


def is_answered_marker(event: chat_pb2.ConversationEvent, nonce: str) -> bool:
    """Whether `event` is the marker of the ask `nonce` (an event of no kind, its nonce)."""
    return event.WhichOneof("event") is None and event.request_id == nonce


@dataclass(eq=False)
class _Ask:
    subscriber: _Subscriber
    conversation_id: str
    answered: set[str] = field(default_factory=set)  # replicas that answered


class Asks:
    """The asks of this replica waiting for answers (see the module).

    An ask is settled once the replica knows every live replica (it has listened for a
    heartbeat period: each replica says it lives every period) and each of those has
    answered; a replica heard only after the ask got it too (it was listening), so it is
    waited for like the others, and one that left or went silent no longer is.
    """

    def __init__(self) -> None:
        self._pending: dict[str, _Ask] = {}

    def start(self, subscriber: _Subscriber, conversation_id: str) -> str:
        """A new ask; its nonce (`settle` tells when it is answered)."""
        nonce = secrets.token_hex(8)
        self._pending[nonce] = _Ask(subscriber, conversation_id)
        return nonce

    def answered(self, nonce: str, origin: str) -> None:
        """Replica `origin` answered ask `nonce` (behind its catch-up)."""
        ask = self._pending.get(nonce)
        if ask is not None:
            ask.answered.add(origin)

    def settle(self, live: set[str], knows_every_replica: bool) -> None:
        """Gives each ask every live replica has answered its marker (if all are known)."""
        if not knows_every_replica:
            return
        for nonce, ask in list(self._pending.items()):
            if live <= ask.answered:
                del self._pending[nonce]
                ask.subscriber.offer(answered_marker(ask.conversation_id, nonce))

    def forget_subscriber(self, subscriber: _Subscriber) -> None:
        """The asking watch ended: its asks are dropped."""
        for nonce, ask in list(self._pending.items()):
            if ask.subscriber is subscriber:
                del self._pending[nonce]

    def __len__(self) -> int:
        return len(self._pending)
