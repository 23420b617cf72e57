"""The Compare screen: sibling samples side by side, sampled in parallel, diffed by word.

`core` holds the columns and follows the service, `drawing` draws streamed text
coalesced, `fanout` plans batches across models and colours columns by model,
`view_order` the order and word diff of the columns, `screen` the keys, `sampling_form`
the params form of the next batch.
"""

from grove_explorer.app.screens.compare.drawing import FLUSH_HZ
from grove_explorer.app.screens.compare.fanout import DEFAULT_SAMPLES, MAX_SAMPLES, FanOut
from grove_explorer.app.screens.compare.sampling_form import (
    BatchSettings,
    SamplingScreen,
    describe_sampling,
    parse_sampling,
)
from grove_explorer.app.screens.compare.screen import CompareScreen
from grove_explorer.app.screens.compare.view_order import SORT_LABELS, SORTS

__all__ = [
    "DEFAULT_SAMPLES",
    "FLUSH_HZ",
    "MAX_SAMPLES",
    "SORTS",
    "SORT_LABELS",
    "BatchSettings",
    "CompareScreen",
    "FanOut",
    "SamplingScreen",
    "describe_sampling",
    "parse_sampling",
]
