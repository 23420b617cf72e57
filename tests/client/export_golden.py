"""A fixed export document of mixed shapes, and the golden outputs of every export format.

The golden files in `tests/client/export_golden/` were written by the export code as it
was before export was made linear (issue 13); `test_export_golden.py` checks that every
format still writes them byte for byte. `python -m tests.client.export_golden` rewrites
them (only after an intended change of a format: look at the diff).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grove_explorer.client.export import (
    dumps,
    preference_pairs,
    to_dot,
    to_jsonl,
    to_markdown,
    why_no_pairs,
)

GOLDEN = Path(__file__).parent / "export_golden"


def _id(n: int) -> str:
    return f"{n:032x}"


def _response(
    n: int, parent: int | None, sender: str, message: str, **fields: Any
) -> dict[str, Any]:
    """One response as `response_to_dict` writes it; `fields` override the defaults."""
    model = sender == "model"
    item: dict[str, Any] = {
        "response_id": _id(n),
        "parent_response_id": None if parent is None else _id(parent),
        "sender": sender,
        "message": message,
        "create_time": f"2025-01-02T03:{n // 60:02d}:{n % 60:02d}.000123Z",
        "manual": False,
        "partial": False,
        "shared": False,
        "query": "",
        "query_type": "",
        "model_name": "offline" if model else "",
        "sampling_params": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 64, "seed": n}
        if model
        else None,
        "token_count": 2 if model else 0,
        "time_to_first_token_seconds": 0.25 if model else 0.0,
        "total_time_seconds": 1.5 if model else 0.0,
        "prefix_length": 0,
        "start_time": f"2025-01-02T03:{n // 60:02d}:{n % 60:02d}.000100Z",
        "finish_reason": "stop" if model else "",
        "annotation": None,
        "tokens": [
            {"text": message[:3], "logprob": -0.5, "top": [[message[:3], -0.5], ["x", -2.25]]},
            {"text": message[3:], "logprob": None, "top": []},
        ]
        if model
        else None,
    }
    item.update(fields)
    return item


def mixed_document() -> dict[str, Any]:
    """Three roots; a wide branch point; a deep chain with branches in it; every mark.

    Shapes: root 1 has 7 model replies (one manual, one partial, one with a given prefix,
    rated, bookmarked, tagged, noted); one of them continues as a 40-deep chain that
    branches twice on the way (a human edit beside a human message, two replies beside
    one); root 2 is a lone human message; root 3 a model reply with no prompt. Texts carry
    quotes, backslashes, tabs, line breaks, control and bidi characters, and long words.
    """
    rs: list[dict[str, Any]] = []
    rs.append(
        _response(
            1,
            None,
            "human",
            'Tell me about "oak" trees.\nMy notes live in C:\\temp\\oaks and end with \\',
            shared=True,
        )
    )
    rs.append(_response(2, 1, "model", "Oaks are trees.\n\nThey grow slowly.", shared=True))
    rs.append(
        _response(
            3,
            1,
            "model",
            "Quercus is a genus of about 500 species of trees and shrubs in the beech family "
            "Fagaceae, with a long line that has to be wrapped at words for the drawing.",
            annotation={
                "bookmarked": True,
                "tags": ["keep", "oak"],
                "rating": 1,
                "note": 'Good "start"\nsecond line',
            },
        )
    )
    rs.append(
        _response(
            4,
            1,
            "model",
            'A manual "answer" with a \\ backslash.',
            manual=True,
            model_name="",
            sampling_params=None,
            token_count=0,
            time_to_first_token_seconds=0.0,
            total_time_seconds=0.0,
            finish_reason="",
            tokens=[],
        )
    )
    rs.append(
        _response(
            5,
            1,
            "model",
            "Oaks are\tmighty \x1b[31mred\x1b[0m \u202etxet\u202c and \u2028 odd.",
            prefix_length=8,
            annotation={"bookmarked": False, "tags": ["dull"], "rating": -1, "note": ""},
            tokens=[
                {"text": "Oaks are", "logprob": None, "top": []},
                {
                    "text": "\tmighty \x1b[31mred\x1b[0m \u202etxet\u202c and \u2028 odd.",
                    "logprob": -1.125,
                    "top": [],
                },
            ],
        )
    )
    rs.append(
        _response(
            6,
            1,
            "model",
            "Cut short",
            partial=True,
            finish_reason="stopped",
            model_name="other-model",
            sampling_params={"temperature": 1.0, "top_p": 0.5, "max_tokens": 16, "seed": 0},
        )
    )
    rs.append(_response(7, 1, "model", "Length ran out", finish_reason="length"))
    rs.append(
        _response(
            8,
            1,
            "model",
            "A searched reply",
            query="oak species",
            query_type="web",
            annotation={"bookmarked": False, "tags": [], "rating": 0, "note": "just a note"},
        )
    )
    # The deep chain under reply 3, alternating human and model.
    parent = 3
    n = 10
    human_parent = model_parent = 0
    for depth in range(40):
        sender = "human" if depth % 2 == 0 else "model"
        rs.append(_response(n, parent, sender, f"Step {depth} of the chain ({sender})."))
        if depth == 10:
            human_parent = parent  # a human edit will stand beside this human message
        if depth == 21:
            model_parent = parent  # two resamples beside this reply
        parent = n
        n += 1
    edit = n
    rs.append(_response(edit, human_parent, "human", "An edit."))
    rs.append(_response(edit + 1, edit, "model", "The edit's reply."))
    resample = edit + 2
    rs.append(
        _response(
            resample,
            model_parent,
            "model",
            "A resample.",
            annotation={"bookmarked": False, "tags": [], "rating": 1, "note": ""},
        )
    )
    rs.append(
        _response(
            resample + 1,
            model_parent,
            "model",
            "Another resample.",
            annotation={"bookmarked": False, "tags": [], "rating": -1, "note": ""},
        )
    )
    rs.append(_response(resample + 2, None, "human", "A second root, alone."))
    rs.append(_response(resample + 3, None, "model", "A third root: a reply with no prompt."))
    rs.append(_response(resample + 4, 1, "model", "The newest reply to the first question."))
    return {
        "format": "grove.conversation",
        "version": 1,
        "conversation_id": _id(999),
        "title": 'Oaks, "birches" &\nmore',
        "starred": True,
        "create_time": "2025-01-02T03:00:00.000001Z",
        "update_time": "2025-01-02T04:00:00.000001Z",
        "response_count": len(rs),
        "responses": rs,
    }


LEAF = _id(25)
"""A chosen leaf in the middle of the deep chain (for the `leaf_id` forms)."""


def hand_made_document() -> dict[str, Any]:
    """A file written by hand: a dangling parent, a cycle, minimal fields, a root pair."""

    def item(rid: str, parent: str | None, sender: str = "human") -> dict[str, Any]:
        return {"response_id": rid, "parent_response_id": parent, "sender": sender, "message": rid}

    return {
        "conversation_id": "c",
        "title": "hand made",
        "responses": [
            item("a", None),
            item("b", "a", "model"),
            item("c", "a", "model"),
            item("x", "missing"),
            item("p", "q"),
            item("q", "p", "model"),
            item("z", None),
        ],
    }


def outputs(document: dict[str, Any]) -> dict[str, str]:
    """Every export format of `document` (and of the hand-made one), by golden file name."""
    hand_made = hand_made_document()
    return {
        "hand-made-path.md": to_markdown(hand_made, leaf_id="q"),
        "hand-made-all.md": to_markdown(hand_made, all_branches=True),
        "hand-made.dot": to_dot(hand_made, leaf_id="x"),
        "hand-made-pairs.jsonl": to_jsonl(preference_pairs(hand_made, leaf_id="c")),
        "path.md": to_markdown(document),
        "path-leaf.md": to_markdown(document, leaf_id=LEAF),
        "all.md": to_markdown(document, all_branches=True),
        "all-leaf.md": to_markdown(document, leaf_id=LEAF, all_branches=True),
        "forest.dot": to_dot(document),
        "forest-leaf.dot": to_dot(document, leaf_id=LEAF),
        "pairs.jsonl": to_jsonl(preference_pairs(document)),
        "pairs-leaf.jsonl": to_jsonl(preference_pairs(document, leaf_id=LEAF)),
        "why-no-pairs.txt": why_no_pairs(document)
        + "\n"
        + why_no_pairs(unmarked(document))
        + "\n"
        + why_no_pairs(unmarked(document), leaf_id=LEAF)
        + "\n",
        "document.json": dumps(document) + "\n",
        "document-compact.json": dumps(document, indent=None) + "\n",
    }


def unmarked(document: dict[str, Any]) -> dict[str, Any]:
    """The document without annotations (no preference pairs: why_no_pairs says why)."""
    responses = [dict(item, annotation=None) for item in document["responses"]]
    return dict(document, responses=responses)


def write() -> None:
    """Rewrites the golden files from the current code."""
    GOLDEN.mkdir(exist_ok=True)
    for name, text in outputs(mixed_document()).items():
        (GOLDEN / name).write_text(text, encoding="utf-8", newline="")


if __name__ == "__main__":
    write()
