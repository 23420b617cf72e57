"""Reading an export document: its tree (`DocumentTree`) and preference pairs.

These read an export document (a freshly built one or a file read back), never the
network, which keeps them testable and lets them work on files. The tree structure comes
from the client's one tree model, `client.forest.Forest`, built over the document's
responses (`DocumentTree`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from grove_explorer.client.export.json_format import dumps
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import NODE_DEFAULTS, ConversationSummary, ResponseNode

_STRUCTURE_FIELDS = ("response_id", "parent_id", "sender", "message")

# -- reading a document ----------------------------------------------------------------------


@dataclass
class DocumentTree:
    """An export document's responses seen through the client's one tree model.

    The structure (children in order, paths, sibling positions) is a `client.forest.Forest`
    over the document's ids; the fields are read from the document's entries themselves,
    so a file read back needs no conversion.
    """

    document: Mapping[str, Any]
    forest: Forest
    by_id: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    _positions: dict[str, tuple[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> DocumentTree:
        """Indexes a document (its responses in creation order), in one pass over them."""
        summary = ConversationSummary.model_construct(
            conversation_id=str(document.get("conversation_id") or ""),
            title=str(document.get("title") or ""),
            starred=bool(document.get("starred")),
        )
        by_id: dict[str, Mapping[str, Any]] = {}

        def nodes() -> Iterator[ResponseNode]:
            # Only the structure is read from the nodes: the fields stay in the document.
            for response in document.get("responses", []):
                response_id = response["response_id"]
                by_id[response_id] = response
                fields = NODE_DEFAULTS.copy()
                fields["response_id"] = response_id
                fields["parent_id"] = response.get("parent_response_id") or None
                fields["sender"] = response.get("sender", "")
                fields["message"] = ""
                yield ResponseNode.trusted(fields, set(_STRUCTURE_FIELDS))

        forest = Forest.build(summary, nodes(), None)
        return cls(document, forest, by_id)

    @property
    def responses(self) -> list[Mapping[str, Any]]:
        """All responses in creation order."""
        return list(self.by_id.values())

    def default_leaf(self) -> str | None:
        """The newest response, which is where the seed's `load()` puts the leaf."""
        responses = self.document.get("responses", [])
        return responses[-1]["response_id"] if responses else None

    def path(self, leaf_id: str | None = None) -> list[Mapping[str, Any]]:
        """Root → leaf (default: the newest response). ValueError for an unknown leaf."""
        leaf_id = leaf_id if leaf_id is not None else self.default_leaf()
        if leaf_id is None:
            return []
        if leaf_id not in self.by_id:
            raise ValueError(f"There is no response {leaf_id!r} in this conversation.")
        return [self.by_id[node.response_id] for node in self.forest.path_to(leaf_id)]

    def children(self, parent_id: str | None) -> list[Mapping[str, Any]]:
        """The responses under `parent_id` (None: the roots), oldest first."""
        return [self.by_id[rid] for rid in self.forest.children_of(parent_id)]

    def branch_points(self) -> Iterator[tuple[str | None, list[Mapping[str, Any]]]]:
        """Every parent (None for the roots) with its children, oldest first."""
        for parent_id, ids in self.forest.children.items():
            yield parent_id, [self.by_id[rid] for rid in ids]

    def position(self, response: Mapping[str, Any]) -> tuple[int, int]:
        """(k, n): this response is the k-th of n siblings (1-based).

        The forest's `sibling_index`, read from one table of every response's position
        made on the first call: the formats ask for each response's.
        """
        if self._positions is None:
            self._positions = {
                response_id: (index, len(ids))
                for ids in self.forest.children.values()
                for index, response_id in enumerate(ids, 1)
            }
        found = self._positions.get(response["response_id"])
        if found is None:  # not in its parent's list: let the forest say so
            return self.forest.sibling_index(response["response_id"])
        return found


# -- preference pairs ------------------------------------------------------------------------


def _as_message(response: Mapping[str, Any]) -> dict[str, str]:
    role = "user" if response["sender"] == "human" else "assistant"
    return {"role": role, "content": response["message"]}


def preference_pairs(
    document: Mapping[str, Any], *, leaf_id: str | None = None
) -> list[dict[str, Any]]:
    """Preference pairs (`prompt`, `chosen`, `rejected`) from sibling model replies.

    Two sources, both among model replies that share a parent (the prompt):

    - `rating`: every reply rated +1 against every sibling rated -1.
    - `picked`: the reply on the current path (default: to the newest response) when it is
      rated +1 or bookmarked, against each sibling that is neither rated +1 nor
      bookmarked — the reply the user went on with is preferred over the ones left aside.
      A pair the ratings already give is not repeated.

    The prompt is the conversation from its root to the parent, as chat messages
    (`{"role": "user"|"assistant", "content": …}`); `chosen` and `rejected` are one
    assistant message each — the "conversational" preference format of TRL's DPO trainer.
    `metadata` names the conversation, the parent, both replies and their models.
    """
    forest = DocumentTree.of(document)
    current = {r["response_id"] for r in forest.path(leaf_id)}
    pairs: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(chosen: Mapping[str, Any], rejected: Mapping[str, Any], source: str) -> None:
        key = (chosen["response_id"], rejected["response_id"])
        if key in seen:
            return
        seen.add(key)
        parent = chosen["parent_response_id"]
        pairs.append(
            {
                "prompt": [_as_message(r) for r in forest.path(parent)],
                "chosen": [_as_message(chosen)],
                "rejected": [_as_message(rejected)],
                "metadata": {
                    "source": source,
                    "conversation_id": document.get("conversation_id", ""),
                    "parent_response_id": parent,
                    "chosen_response_id": chosen["response_id"],
                    "rejected_response_id": rejected["response_id"],
                    "chosen_model": chosen.get("model_name", ""),
                    "rejected_model": rejected.get("model_name", ""),
                },
            }
        )

    def rating(response: Mapping[str, Any]) -> int:
        return int((response.get("annotation") or {}).get("rating") or 0)

    def bookmarked(response: Mapping[str, Any]) -> bool:
        return bool((response.get("annotation") or {}).get("bookmarked"))

    for parent, children in forest.branch_points():
        if parent is None:
            continue  # a root reply has no prompt to prefer it for
        replies = [c for c in children if c["sender"] == "model"]
        for good in (r for r in replies if rating(r) > 0):
            for bad in (r for r in replies if rating(r) < 0):
                add(good, bad, "rating")
        picked = [
            r
            for r in replies
            if r["response_id"] in current and (rating(r) > 0 or bookmarked(r)) and rating(r) >= 0
        ]
        for good in picked:
            for other in replies:
                if other is good or rating(other) > 0 or bookmarked(other):
                    continue
                add(good, other, "picked")
    return pairs


def why_no_pairs(document: Mapping[str, Any], *, leaf_id: str | None = None) -> str:
    """Why `preference_pairs` finds nothing in `document`, as a sentence ("" if it finds some).

    An empty file with no word would leave a user wondering whether the export failed; this
    names the missing ingredient: sibling replies, marks on them, or a pair of marks.
    """
    if preference_pairs(document, leaf_id=leaf_id):
        return ""
    forest = DocumentTree.of(document)
    groups = [
        replies
        for parent, children in forest.branch_points()
        if parent is not None
        and len(replies := [c for c in children if c["sender"] == "model"]) > 1
    ]
    if not groups:
        return (
            "no preference pairs: no prompt has two or more model replies to compare "
            "(resample a reply to make siblings)."
        )

    def marked(response: Mapping[str, Any]) -> bool:
        annotation = response.get("annotation") or {}
        return bool(annotation.get("rating") or annotation.get("bookmarked"))

    if not any(marked(r) for replies in groups for r in replies):
        count = len(groups)
        prompts = "1 prompt has" if count == 1 else f"{count} prompts have"
        return (
            f"no preference pairs: {prompts} sibling replies, but none of them is rated or "
            "bookmarked (rate the better reply +1 and a worse one -1)."
        )
    return (
        "no preference pairs: a pair needs a reply rated +1 and a sibling rated -1, or a "
        "reply rated +1 or bookmarked on the current path beside an unmarked sibling; the "
        "marked replies here have no such sibling."
    )


def to_jsonl(records: Iterable[Any]) -> str:
    """One compact JSON document per line (safe to print, see `dumps`)."""
    return "".join(dumps(record, indent=None) + "\n" for record in records)
