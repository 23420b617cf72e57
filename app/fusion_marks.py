"""How a fused reply is marked wherever the app lists or heads replies.

A reply made by fusing siblings (`merged_from`, AddResponseRequest.merge) carries `⊕`:
in the forest pane's markers, in its thread header ("⊕ fused (checklist) from a1b2c3d4,
…") and in its Compare column ("⊕ fused from 3"). Proto- and pydantic-free, so the forest
pane (imported before the first frame) can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grove_explorer.app.safe_text import clean

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode

FUSED_MARK = "⊕"
"""`client.judgements.MERGE_MARK`, repeated so this module needs no pydantic (a test pins it)."""
SHOWN_SOURCES = 4
"""Source ids a thread header names; more are counted ("+2 more")."""
_SHORT = 8


def fused_label(node: ResponseNode) -> str:
    """`⊕ fused (checklist) from a1b2c3d4, 5e6f7a8b`: the mode and the sources' short ids."""
    sources = [clean(source[:_SHORT]) for source in node.merged_from[:SHOWN_SOURCES]]
    more = len(node.merged_from) - len(sources)
    if more > 0:
        sources.append(f"+{more} more")
    mode = f" ({clean(node.merge_mode)})" if node.merge_mode else ""
    return f"{FUSED_MARK} fused{mode} from {', '.join(sources)}"


def fused_count(node: ResponseNode) -> str:
    """`⊕ fused from 3` (a Compare column's header, where width is short)."""
    return f"{FUSED_MARK} fused from {len(node.merged_from)}"
