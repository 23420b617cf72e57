"""What every export to another tool's format shares: times, children, and what is lost.

A Grove export document (`client/export`) holds more than ChatGPT, Open WebUI or loom can:
sampling parameters, judgements, bookmarks, fused-reply provenance, annotations. Each
exporter keeps what its format has a place for and counts the rest with `lost_fields`, so
`grove export` says what was left out (never silently).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any


def unix_seconds(iso: Any) -> float:
    """Unix seconds (with microseconds) of an export time ("…Z"), 0.0 when unknown."""
    if not isinstance(iso, str) or not iso:
        return 0.0
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def children_of(responses: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each response's children ids in the document's (creation) order."""
    children: dict[str, list[str]] = {}
    for response in responses:
        parent = response["parent_response_id"]
        if parent:
            children.setdefault(parent, []).append(response["response_id"])
    return children


def lost_fields(response: dict[str, Any], not_kept: Counter[str], *, annotations: bool) -> None:
    """Counts what of `response` a format without those fields drops.

    `annotations`: whether the format has no place for ratings, notes and tags either.
    """
    if response.get("sampling_params") is not None:
        not_kept["sampling parameter set"] += 1
    if response.get("judgements"):
        not_kept["judgement"] += len(response["judgements"])
    if response.get("merged_from"):
        not_kept["fused-reply provenance"] += 1
    annotation = response.get("annotation") or {}
    if annotation.get("bookmarked"):
        not_kept["bookmark"] += 1
    if annotations:
        if annotation.get("rating"):
            not_kept["rating"] += 1
        if annotation.get("note"):
            not_kept["note"] += 1
        if annotation.get("tags"):
            not_kept["tag set"] += 1
