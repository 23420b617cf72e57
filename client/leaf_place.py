"""The user's place in a conversation (extension): the leaf kept on the server.

Part of the SDK's `Conversation` (a base class of it): sending the leaf in the background,
waiting for it, and following the leaf of a `select_reply` stream.
"""

from __future__ import annotations

from grove_explorer.client.leaf_sync import LeafSaver
from grove_explorer.client.rpc import rpc
from grove_explorer.protos import chat_pb2, chat_pb2_grpc


class LeafPlace:
    """The leaf-keeping half of `Conversation` (whose state it reads)."""

    _stub: chat_pb2_grpc.ChatStub
    _conversation_id: str | None
    _conversation: chat_pb2.Conversation | None
    _deleted: bool
    _leaf_saver: LeafSaver

    def _check_not_deleted(self) -> None:
        raise NotImplementedError  # Conversation's

    async def _send_leaf(self, leaf: str | None) -> None:
        if self._conversation_id is None or self._deleted:
            return
        await rpc(
            self._stub.SelectResponse(
                chat_pb2.SelectResponseRequest(
                    conversation_id=self._conversation_id, response_id=leaf or ""
                )
            )
        )

    def save_leaf(self) -> None:
        """Extension: sends the current leaf to the server in the background.

        `Response.select()` and `set_leaf_response_id` call it; a UI that moves the forest's
        leaf itself calls it after. Await `leaf_saved()` to know it arrived.
        """
        if self._conversation is not None and not self._deleted:
            self._leaf_saver.save()

    async def leaf_saved(self) -> None:
        """Extension: waits until the server holds this conversation's current leaf.

        `Response.select()` returns at once and sends the choice in the background, so a
        script that must know it is stored (before it exits, or before another client
        reads it) awaits this. Raises the typed error of the last failed attempt (e.g.
        `NotFoundError` if the conversation was deleted meanwhile); failures are logged
        when they happen too.
        """
        self._check_not_deleted()
        if self._conversation is not None:
            await self._leaf_saver.wait()

    @property
    def leaf_saves(self) -> int:
        """Extension: how many leaf choices this object stored on the server so far."""
        return self._leaf_saver.sent

    def follow_reply(self, parent_id: str | None) -> int:
        """A `select_reply` stream starts (see `LeafSaver.follow`)."""
        return self._leaf_saver.follow(parent_id)

    async def flush_leaf(self) -> None:
        """Waits for a leaf choice being sent, leaving its failure to `leaf_saved()`."""
        if self._conversation is not None and not self._deleted:
            await self._leaf_saver.wait(raise_error=False)

    def reply_followed(
        self, reply_id: str | None, saves_before: int, *, started: bool = True
    ) -> None:
        """A `select_reply` stream ended (see `LeafSaver.followed`)."""
        if self._leaf_saver.followed(reply_id, saves_before, started=started):
            self.save_leaf()
