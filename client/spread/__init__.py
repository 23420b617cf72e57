"""Statistics over a batch of sibling samples: how far apart they are, and where.

Pure Python, no network, no Textual, no gRPC: the headless `grove stats` command and the
Compare screen's spread view both compute one `SpreadReport` with `spread_report` and draw
it with `render_report`. The modules each hold one job:

- `samples.py`: one sample as the statistics see it (text, tokens, logprobs, latencies).
- `words.py`: splitting text into words, and the normalised word ids similarity uses.
- `lcs.py`: bit-parallel longest common subsequence over word ids (lengths and alignment).
- `similarity.py`: the pairwise matrices (token-overlap Jaccard, ROUGE-L F1, cosine).
- `grouping.py`: the medoid, clusters of near-duplicates, and the seriation order.
- `answers.py`: the short final answer of each sample and the majority among them.
- `disagreement.py`: per-position disagreement on the word alignment to the medoid.
- `distributions.py`: summaries and histograms of length, mean logprob and latency.
- `report.py`: the whole report, and its JSON form.
- `render.py`: the report as plain text lines (sparklines and histogram bars).
"""

from grove_explorer.client.spread.render import histogram_lines, render_report, sparkline
from grove_explorer.client.spread.report import SpreadReport, spread_report
from grove_explorer.client.spread.samples import SpreadSample

__all__ = [
    "SpreadReport",
    "SpreadSample",
    "histogram_lines",
    "render_report",
    "sparkline",
    "spread_report",
]
