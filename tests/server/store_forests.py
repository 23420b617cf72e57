"""Forests the Store contract tests build on both stores, through imports only.

Built with `import_forest` (every store has it) so that the same data lands in a SQLite
file and a PostgreSQL database, annotations and judgements included, without the write
paths each test is not about.
"""

from __future__ import annotations

from dataclasses import dataclass

from grove_explorer.server.store import (
    AnnotationRecord,
    ConversationRecord,
    ImportItem,
    NewResponse,
    ResponseRecord,
    Store,
)
from grove_explorer.server.store.records import SamplingRecord

ALICE = "alice"
BOB = "bob"
OFFLINE = "grove-offline-ngram"


def item(
    local: str,
    parent: str | None,
    message: str,
    *,
    sender: str = "human",
    model: str = "",
    partial: bool = False,
    annotation: AnnotationRecord | None = None,
) -> ImportItem:
    """One imported response (a model's reply carries sampling, as sampled ones do)."""
    sampling = SamplingRecord(0.7, 0.9, 64, 2**63 + 5) if sender == "model" else None
    return ImportItem(
        local,
        parent,
        NewResponse(
            conversation_id="",
            message=message,
            sender=sender,
            parent_response_id=None,
            model_name=model,
            partial=partial,
            sampling=sampling,
        ),
        annotation=annotation,
    )


@dataclass(frozen=True, slots=True)
class Orchard:
    """Alice's two conversations and Bob's one; responses by their local id."""

    journal: ConversationRecord
    kitchen: ConversationRecord
    bobs: ConversationRecord
    responses: dict[str, ResponseRecord]

    def ids(self, *locals_: str) -> set[str]:
        return {self.responses[local].response_id for local in locals_}


JOURNAL = [
    item(
        "plan",
        None,
        "The apple trees need pruning before the frost.",
        annotation=AnnotationRecord(bookmarked=True, tags=("orchard",)),
    ),
    item(
        "advice",
        "plan",
        "Prune apple trees in late winter; use sharp shears.",
        sender="model",
        model=OFFLINE,
        annotation=AnnotationRecord(rating=-1),
    ),
    item(
        "cut",
        "plan",
        "Shears should be cleaned between trees",
        sender="model",
        model="gpt-test",
        partial=True,
    ),
    item(
        "cafe",
        "advice",
        "Café owners in Zürich sell naïve cider; foo-bar me@x.org costs 3.14 francs",
        annotation=AnnotationRecord(
            tags=("orchard", "winter"), rating=1, note="dates for grafting"
        ),
    ),
    item("pears", "advice", "Pear grafting notes: pear, pear and more pear"),
]
KITCHEN = [
    item("pie", None, "Apple pie recipe with cinnamon and frost-free butter"),
    item("bake", "pie", "Bake the pie at 180 degrees", sender="model", model=OFFLINE),
]
BOBS = [item("bob", None, "apple xylophone quokka", annotation=AnnotationRecord(note="mine"))]


async def plant_orchard(store: Store) -> Orchard:
    """Imports the orchard into `store` (Alice: "Orchard journal", "Kitchen"; Bob's)."""
    responses: dict[str, ResponseRecord] = {}
    conversations = []
    for user, title, items in (
        (ALICE, "Orchard journal", JOURNAL),
        (ALICE, "Kitchen", KITCHEN),
        (BOB, "Bob's apples", BOBS),
    ):
        record, stored = await store.import_forest(user, title, False, items)
        conversations.append(record)
        responses.update({i.local_id: r for i, r in zip(items, stored, strict=True)})
    journal, kitchen, bobs = conversations
    return Orchard(journal, kitchen, bobs, responses)
