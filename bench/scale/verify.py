"""What the team stored, against what each client received."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bench.load.records import StreamRecord
from bench.load.settings import PROMPT, SETUP_CONCURRENCY, VERIFY_TIMEOUT_S
from bench.scale.settings import EXPECTED_ERRORS
from grove_explorer.client import Client
from grove_explorer.client.errors import StreamNotResumableError


class Stored(Protocol):
    """What `judge` reads of a stored response (the SDK's `Response` has it)."""

    @property
    def sender(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def partial(self) -> bool: ...


@dataclass
class Checked:
    """Every stream's outcome, read back from the database through a live replica."""

    # A complete reply stored, equal to the text its client received.
    completed: int = 0
    # Of those, replies the SDK resumed after a lost connection.
    resumed: int = 0
    # Failed streams whose reply was stored as partial, its text a prefix of what the
    # client received (or the reverse: a checkpoint may hold a token not yet sent).
    partial: int = 0
    # Failed streams whose reply was finished and stored whole before the replica died,
    # the client not having read all of it (it was behind): nothing of it is lost.
    finished_unread: int = 0
    # Failed before the human message was acknowledged: nothing was promised.
    unacknowledged: int = 0
    # Failed after the human message was acknowledged, before any text (and no
    # checkpoint): the stored human message is all there was to keep.
    human_only: int = 0
    # Streams of the killed replica that had received text but had no checkpoint yet when
    # it died (replies saved every --checkpoint-ms: their text was never stored); the
    # characters each had received.
    before_checkpoint: list[int] = field(default_factory=list)
    # Streams of the killed replica that ended without an error after a resume: the
    # survivor resent their reply from the store (whole, or the partial reply recovered
    # from A's checkpoint); and streams that raised StreamNotResumableError (no reachable
    # replica ran or stored the reply while the SDK tried).
    from_store: int = 0
    not_resumable: int = 0
    # Errors of streams that ran on the killed replica (the expected ones) and of others.
    expected_errors: int = 0
    unexpected_errors: int = 0
    # Characters the client received beyond the partial reply recovered from a checkpoint
    # (the text sampled after the dead replica's last checkpoint); negative when the
    # checkpoint held more than the client had read.
    beyond: list[int] = field(default_factory=list)
    # What was found of the streams killed before their first checkpoint.
    notes: list[str] = field(default_factory=list)
    # One line per stream whose acknowledged data is missing.
    lost: list[str] = field(default_factory=list)


def _related(stored: str, received: str) -> bool:
    return received.startswith(stored) or stored.startswith(received)


def judge(
    record: StreamRecord,
    responses: Sequence[Stored],
    killed: bool,
    checkpointed: bool,
    into: Checked,
) -> None:
    """Files one stream under its outcome.

    `killed`: the stream may have run on the killed replica (it was not seen on the
    survivor); `checkpointed`: it was running there, with a checkpoint, at the kill.
    """
    if killed and record.resumes and not record.error_type and record.response_id:
        into.from_store += 1  # B never ran it: its resume was answered from the store
    if record.error_type == StreamNotResumableError.__name__:
        into.not_resumable += 1
    if record.error_type:
        if killed and record.error_type in EXPECTED_ERRORS:
            into.expected_errors += 1
        else:
            into.unexpected_errors += 1
    acknowledged = record.user_response is not None
    if not acknowledged and not record.completed:
        into.unacknowledged += 1
        return
    if not any(r.sender == "human" and r.message == PROMPT for r in responses):
        into.lost.append(f"stream {record.index}: its acknowledged human message is not stored")
        return
    models = [r for r in responses if r.sender == "model"]
    if record.completed:
        if any(not r.partial and r.message == record.text for r in models):
            into.completed += 1
            into.resumed += record.resumes > 0
            return
        stored = ", ".join(f"{len(r.message)} chars partial={r.partial}" for r in models)
        into.lost.append(
            f"stream {record.index}: received {len(record.text)} chars, stored {stored or 'none'}"
        )
        return
    partial = [r for r in models if r.partial and _related(r.message, record.text)]
    if partial:
        into.partial += 1
        into.beyond.append(len(record.text) - len(partial[0].message))
    elif any(not r.partial and r.message.startswith(record.text) for r in models):
        into.finished_unread += 1
    elif not record.text:
        into.human_only += 1
    elif killed and not checkpointed:
        into.before_checkpoint.append(len(record.text))
        stored = ", ".join(f"{len(r.message)} chars partial={r.partial}" for r in models)
        into.notes.append(
            f"stream {record.index}: no checkpoint on A at the kill; received "
            f"{len(record.text)} chars; stored model replies: {stored or 'none'}"
        )
    else:
        into.lost.append(
            f"stream {record.index} ({record.error_type}): no stored partial reply matches the "
            f"{len(record.text)} chars received ({len(models)} model replies stored)"
        )


async def verify(
    addresses: str,
    records: Sequence[StreamRecord],
    killed: Collection[str] = (),
    checkpointed: Collection[str] = (),
) -> Checked:
    """Reads every stream's conversation through `addresses` and judges each stream.

    `killed`: the conversations of the streams that may have run on a killed replica;
    `checkpointed`: those it was running, with a checkpoint, when it died.
    """
    checked = Checked()
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(client: Client, record: StreamRecord) -> None:
        async with gate:
            conversation = await client.grok.get_conversation(record.conversation_id)
        cid = record.conversation_id
        judge(record, conversation.responses, cid in killed, cid in checkpointed, checked)

    async with Client(api_host=addresses) as client:
        async with asyncio.timeout(VERIFY_TIMEOUT_S):
            await asyncio.gather(*(one(client, r) for r in records))
    return checked
