"""The server's reply to an import, read for `grove import`: metadata and what it did with times.

`imported_metadata` is what `grove import --json` prints; `times_sentences` says, never
silently, what an import that asked to keep its file's times got: responses stored at the
import's time for want of one, responses moved to their parent's time, or a server that
does not keep times at all.
"""

from __future__ import annotations

from typing import Any

from grove_explorer.client.export.json_format import utc_iso as iso_time
from grove_explorer.client.timestamps import utc_datetime
from grove_explorer.protos import chat_pb2


def imported_metadata(created: chat_pb2.Conversation) -> dict[str, Any]:
    """`conversation_metadata` of an imported conversation, read from the server's reply.

    `grove import --json` prints it: the same dict as from the loaded conversation, without
    building the forest of every imported response first.
    """
    return {
        "conversation_id": created.conversation_id,
        "title": created.title,
        "starred": created.starred,
        "create_time": iso_time(utc_datetime(created.create_time)),
        "update_time": iso_time(
            utc_datetime(created.update_time) if created.HasField("update_time") else None
        ),
        # The server's count: a summary reply (`summary_only`) carries no responses.
        "response_count": created.response_count,
    }


def reply_times(created: chat_pb2.Conversation) -> chat_pb2.ImportTimes | None:
    """The reply's `import_times`; None when the server reported none."""
    return created.import_times if created.HasField("import_times") else None


def times_counts(times: chat_pb2.ImportTimes | None) -> dict[str, int] | None:
    """How many responses kept their time, had none, or were raised; None: not reported."""
    if times is None:
        return None
    return {"kept": times.kept, "missing": times.missing, "raised": times.raised}


def times_sentences(times: chat_pb2.ImportTimes | None, *, asked: bool) -> list[str]:
    """What the import did with the file's times, for stderr (nothing when all were kept).

    `times`: the reply's report (None: none came). `asked`: the import asked to keep them
    (keep_times); a server from before the flag ignores it and stores the import's time:
    said, since the user expected their times.
    """
    if not asked:
        return []
    counts = times_counts(times)
    if counts is None:
        return [
            "this server does not keep imported times (it is older than this grove): every "
            "response was stored at the time of the import."
        ]
    lines = []
    if counts["missing"]:
        lines.append(
            f"{_responses(counts['missing'])} had no time in the file: stored at the time of "
            "the import."
        )
    if counts["raised"]:
        lines.append(
            f"{_responses(counts['raised'])} started before {_their(counts['raised'])} parent "
            "in the file: stored at the parent's time, so each stays after its parent."
        )
    return lines


def _responses(count: int) -> str:
    return f"{count:,} response" + ("" if count == 1 else "s")


def _their(count: int) -> str:
    return "its" if count == 1 else "their"
