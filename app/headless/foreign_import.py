"""`grove import FILE --from chatgpt|openwebui|loom|auto`: trees from other tools.

The file is read and every conversation in it checked before any server starts
(`plan_foreign`): each becomes the Grove import document `client.foreign` writes, checked
by `import_request` as a `grove export --format json` file is. Each then is one import
(one transaction: a refused conversation stores nothing) and its leaf is set to the
tool's current node (SelectResponse).

One bad conversation does not stop the others: it is named on stderr with its JSON path
and why (`grove: FILE: $[3].mapping.x.message.author.role: …`), nothing is created for
it, and the exit status is 1. What each imported conversation could not hold (images,
tool calls, hidden system messages…) is reported on stderr with counts. The tools' times
are kept (unless `--no-keep-times`): what the server could not keep as given (no time,
before the parent) is reported the same way, and a time after its clock refuses that
conversation.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from grove_explorer.app.headless.common import CommandError, Outcome, one_line
from grove_explorer.client import AsyncGrok, GroveError, InvalidArgumentError
from grove_explorer.client.export.import_reply import times_counts, times_sentences
from grove_explorer.client.export.importing import import_request
from grove_explorer.client.export.json_format import dumps
from grove_explorer.client.foreign import (
    ForeignConversation,
    ForeignProblem,
    read_foreign,
    skipped_sentence,
)
from grove_explorer.protos import chat_pb2


@dataclass
class PlannedImport:
    """One foreign conversation, checked: its request and the index of its leaf."""

    conversation: ForeignConversation
    request: chat_pb2.ImportConversationRequest
    leaf_index: int | None


@dataclass
class ForeignPlan:
    """Every conversation of the file: those to import and those that cannot be."""

    label: str
    imports: list[PlannedImport]
    problems: list[ForeignProblem]
    keep_times: bool = True


def plan_foreign(data: Any, name: str, label: str, *, keep_times: bool = True) -> ForeignPlan:
    """Reads the file in format `name` and checks each conversation (no server needed).

    `keep_times`: the imports ask the server to keep the tool's times.
    """
    plan = ForeignPlan(label, [], [], keep_times)
    for read in read_foreign(data, name):
        if isinstance(read, ForeignProblem):
            plan.problems.append(read)
            continue
        try:
            document, leaf_index = read.document()
            if not document["responses"]:
                raise ValueError(f"{read.where}: no message Grove can hold ({_skipped(read)}).")
            request = import_request(document, keep_times=keep_times)
        except ValueError as error:
            plan.problems.append(ForeignProblem(read.where, read.title, str(error)))
            continue
        plan.imports.append(PlannedImport(read, request, leaf_index))
    if not plan.imports and not plan.problems:
        raise CommandError(f"{label}: holds no conversation to import.")
    return plan


def _skipped(conversation: ForeignConversation) -> str:
    return skipped_sentence(conversation.skipped) or "nothing"


async def import_foreign(grok: AsyncGrok, plan: ForeignPlan, *, as_json: bool) -> Outcome:
    """Imports each planned conversation and sets its leaf; the ids and the report."""
    outcome = Outcome()
    for problem in plan.problems:
        outcome.errors.append(f"{plan.label}: {_problem_line(problem)}")
    printed: list[dict[str, Any]] = []
    for index, planned in enumerate(plan.imports):
        foreign = planned.conversation
        try:
            conversation = await grok.import_conversation(planned.request)
            if planned.leaf_index is not None:
                conversation.imported(planned.leaf_index).select()
                await conversation.leaf_saved()
        except InvalidArgumentError as error:  # this conversation refused: the others go on
            outcome.errors.append(f"{plan.label}: {foreign.where}: {one_line(error.message)}")
            outcome.code = 1
            continue
        except GroveError as error:  # the server is gone or failing: stop, say how far
            left = len(plan.imports) - index
            outcome.errors.append(
                f"{plan.label}: stopped with {left} conversation(s) not imported: "
                f"{one_line(error.message)}"
            )
            outcome.code = 1
            break
        named = f"{plan.label}: {foreign.where} {_quoted(foreign.title)}"
        if foreign.skipped:
            outcome.errors.append(f"{named}: not imported: {skipped_sentence(foreign.skipped)}.")
        times = conversation.import_times
        told = times_sentences(times, asked=plan.keep_times)
        outcome.errors.extend(f"{named}: {line}" for line in told)
        item: dict[str, Any] = {
            "id": conversation.conversation_id,
            "title": conversation.title,
            "responses": len(planned.request.responses),
            "skipped": dict(sorted(foreign.skipped.items())),
        }
        counts = times_counts(times)
        if counts is not None:
            item["times"] = counts
        printed.append(item)
    if plan.problems:
        outcome.code = 1
    if as_json:
        outcome.stdout = dumps(printed) + "\n"
    else:
        outcome.stdout = "".join(f"{item['id']}\n" for item in printed)
    return outcome


def _problem_line(problem: ForeignProblem) -> str:
    """The path and why, then which conversation was not imported (by its title)."""
    reason = one_line(problem.reason, 400)
    return f"{reason.rstrip('.')} (conversation {_quoted(problem.title)} not imported)."


def _quoted(title: str) -> str:
    return f'"{one_line(title, 80)}"' if title else "(untitled)"


def foreign_requested(args: argparse.Namespace) -> bool:
    """True when `grove import` was given a foreign file (set by `prepare_import`)."""
    return getattr(args, "foreign_plan", None) is not None
