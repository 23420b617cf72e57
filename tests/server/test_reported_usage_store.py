"""Migration 11: the endpoint's reported usage beside the tokens received (nullable)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from grove_explorer.server.store import NewResponse, SqliteStore
from grove_explorer.server.store.migrations import LATEST_VERSION
from grove_explorer.server.store.sqlite.checkpoints import (
    _decode_new_response,
    _encode_new_response,
)
from tests.server.old_databases import OLD_CONVERSATION, database_at_version
from tests.server.test_store import (  # the fixtures too
    ALICE,
    db_path,  # noqa: F401
    human,
    recorded_versions,
    store,  # noqa: F401
)


def _model_reply(cid: str, parent: str, **usage: int | None) -> NewResponse:
    return NewResponse(
        conversation_id=cid,
        message="twenty tokens",
        sender="model",
        parent_response_id=parent,
        token_count=20,
        **usage,  # type: ignore[arg-type]
    )


async def test_upgrade_from_version_10_reads_old_replies_as_reporting_nothing(
    db_path: Path,  # noqa: F811
) -> None:
    await database_at_version(db_path, 10, message="an old reply", token_count=7)
    async with SqliteStore(db_path) as opened:
        assert [v for v, _ in recorded_versions(db_path)] == list(range(1, LATEST_VERSION + 1))
        assert LATEST_VERSION >= 11
        (old,) = await opened.list_responses(ALICE, OLD_CONVERSATION)
        assert old.token_count == 7
        assert (old.reported_prompt_tokens, old.reported_completion_tokens) == (None, None)
        added = await opened.add_response(
            ALICE,
            _model_reply(
                "c" * 32, "1" * 32, reported_prompt_tokens=5, reported_completion_tokens=18
            ),
        )
        assert (added.reported_prompt_tokens, added.reported_completion_tokens) == (5, 18)
        again = await opened.list_responses(ALICE, OLD_CONVERSATION)
        assert (again[-1].token_count, again[-1].reported_completion_tokens) == (20, 18)
        assert await opened.check_integrity() == []


async def test_a_checkpoint_keeps_the_reported_usage(store: SqliteStore) -> None:  # noqa: F811
    conversation = await store.create_conversation(ALICE)
    question = await store.add_response(ALICE, human(conversation.conversation_id, None))
    reply = _model_reply(
        conversation.conversation_id,
        question.response_id,
        reported_prompt_tokens=5,
        reported_completion_tokens=18,
    )
    back = _decode_new_response(_encode_new_response(reply))
    assert (back.reported_prompt_tokens, back.reported_completion_tokens) == (5, 18)
    none = _decode_new_response(
        _encode_new_response(
            replace(reply, reported_prompt_tokens=None, reported_completion_tokens=None)
        )
    )
    assert none.reported_completion_tokens is None
