"""The research loop's words: judge and fuse modes (names, wire numbers), a sweep's prompt word.

Apart from `client.judgements` (pydantic models) so that `grove`'s argument parser, built
for every command and every --help, can offer them as choices without loading pydantic
(issue 13: start-up), and so that `grove import` checks a file's modes without it.
`client.judgements` re-exports the modes, `client.sweeps` the prompt word.
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

# Wire enum numbers (protos/chat.proto JudgeMode / MergeMode), written out so that reading
# a record does not import protobuf; tests pin them against the generated enums.
JUDGE_MODE_NUMBERS: dict[str, int] = {"each": 1, "table": 2}
MERGE_MODE_NUMBERS: dict[str, int] = {"fuse": 1, "checklist": 2, "custom": 3}

DEFAULT_PROMPT_WORD = "default"
"""What a typed prompt axis of a sweep calls the server's default prompt (its name is "")."""
