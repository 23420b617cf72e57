"""The research loop's modes as plain names: how a judge scores, how replies are fused.

Apart from `client.judgements` (pydantic models) so that `grove`'s argument parser, built
for every command and every --help, can offer them as choices without loading pydantic
(issue 13: start-up). `client.judgements` re-exports them.
"""

from __future__ import annotations

from typing import Literal

JudgeMode = Literal["each", "table"]
"""`each`: one judge call per reply (run in parallel); `table`: one call scores them all."""

MergeMode = Literal["fuse", "checklist", "custom"]
"""`fuse`: synthesise the best answer; `checklist`: write from checked points; `custom`:
follow the user's instruction."""

JUDGE_MODES: tuple[JudgeMode, ...] = ("each", "table")
MERGE_MODES: tuple[MergeMode, ...] = ("fuse", "checklist", "custom")
