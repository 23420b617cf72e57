"""A fusion as the service streams it: which SDK call starts it, what its placeholder says.

`StreamingService.fuse` runs a fusion through the same `_run` as every reply (a
placeholder, token events, completion, stop and cancel); this names the one difference:
the stream comes from `Conversation.fuse`, and the placeholder already carries its
sources and mode, so a UI marks the new column ⊕ while it streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grove_explorer.client.judgements import MERGE_MODES, MergeMode
from grove_explorer.client.sampler import SamplingParams

if TYPE_CHECKING:
    from grove_explorer.client.conversation import Conversation
    from grove_explorer.client.streams import SampleStream


@dataclass(frozen=True, slots=True)
class Fusion:
    """What to fuse: sibling replies (in order), the mode, its instruction or points."""

    source_ids: tuple[str, ...]
    mode: MergeMode = "fuse"
    instruction: str = ""
    points: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MERGE_MODES:
            raise ValueError(f"mode must be one of {', '.join(MERGE_MODES)}, not {self.mode!r}.")
        if len(self.source_ids) < 2:
            raise ValueError(f"A fusion needs at least 2 replies, got {len(self.source_ids)}.")

    def start(
        self,
        conversation: Conversation,
        sampling: SamplingParams | None,
        model_name: str | None,
        placeholder_id: str,
        *,
        select: bool,
    ) -> SampleStream:
        """The SDK's stream of this fusion, replacing `placeholder_id` when stored."""
        return conversation.fuse(
            self.source_ids,
            mode=self.mode,
            instruction=self.instruction,
            points=self.points,
            model_name=model_name,
            sampling=sampling,
            select=select,
            placeholder_id=placeholder_id,
        )

    def node_fields(self) -> dict[str, Any]:
        """The placeholder's merge fields (what the stored reply will say)."""
        instruction = "\n".join(self.points) if self.mode == "checklist" else self.instruction
        return {
            "merged_from": self.source_ids,
            "merge_mode": self.mode,
            "merge_instruction": instruction,
        }


def fusion_of(
    source_ids: Sequence[str],
    mode: MergeMode = "fuse",
    instruction: str = "",
    points: Sequence[str] = (),
) -> Fusion:
    """A checked `Fusion` (ValueError for an unknown mode or fewer than two sources)."""
    return Fusion(tuple(source_ids), mode, instruction, tuple(points))
