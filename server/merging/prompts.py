"""The instruction message a fusion's model reads after the conversation's path.

A fused reply is sampled like a resample of the sources' parent (the path root → parent,
in chat mode) with one more human message at the end: the sources, each labelled, and
the mode's instruction. It is a message of the prompt only, never stored: the fused reply
is stored as a sibling of its sources, so the tree reads as "another answer to the same
question", with `merged_from` saying where it came from.

The caps are documented limits, said with the count when hit (servicer/merging.py):
more sources or more text than a model's context sensibly holds is refused rather than
cut silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

MergeModeName = Literal["fuse", "checklist", "custom"]

MAX_SOURCES = 16
"""Most replies one fusion reads (big-AGI's Beam fans out to 24 models; 16 columns is
Compare's working width)."""
MAX_SOURCE_CHARS = 200_000
"""Most characters of source text one fusion reads, all sources together (about 50,000
tokens: the sources must fit a model's context beside the path)."""

FUSE_TASK = (
    "Synthesise the best single answer to the last message above from these candidate "
    "answers. Keep what is correct and complete, combine their strengths, drop errors, "
    "contradictions and repetition. Write the answer itself, as if it were your own "
    "reply; do not mention the candidates."
)
CHECKLIST_TASK = (
    "Write an answer to the last message above that covers exactly the following points, "
    "each of them, and nothing of substance beyond them. Use the candidate answers as "
    "material. Write the answer itself; do not mention the candidates or the list."
)
CUSTOM_TASK = (
    "Using these candidate answers to the last message above, follow this instruction. "
    "Write the result itself; do not mention the candidates unless the instruction asks."
)


def source_label(index: int) -> str:
    """The label of the `index`-th source (0-based) as the model reads it."""
    return f"Candidate answer {index + 1}"


def checklist_points(instruction: str) -> list[str]:
    """The checked points of a checklist fusion: one per non-blank line, stripped."""
    return [line.strip() for line in instruction.splitlines() if line.strip()]


def fusion_message(sources: Sequence[str], mode: MergeModeName, instruction: str) -> str:
    """The final human message of a fusion's prompt: the labelled sources, then the task.

    Sources are fenced by labelled open/close lines so that a source's own headings or
    quotes cannot be read as the next source or as the task.
    """
    count = len(sources)
    parts = [
        f"Here are {count} candidate answers to the last message above, written independently."
    ]
    for index, text in enumerate(sources):
        label = source_label(index)
        parts.append(f"<<< {label} >>>\n{text.strip()}\n<<< end of {label} >>>")
    if mode == "checklist":
        points = "\n".join(f"- {point}" for point in checklist_points(instruction))
        parts.append(f"{CHECKLIST_TASK}\n\nPoints:\n{points}")
    elif mode == "custom":
        parts.append(f"{CUSTOM_TASK}\n\nInstruction: {instruction.strip()}")
    else:
        parts.append(FUSE_TASK)
    return "\n\n".join(parts)
