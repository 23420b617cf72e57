"""The token view: a model reply token by token, shaded by probability, to branch from.

`v` on a finished model message opens it. Every token of the reply is drawn in place,
its background shaded by its probability p = exp(logprob) (warm for unlikely tokens, none
for likely ones; a given prefix, whose probability is unknown, in its own style). A cursor
moves over the tokens (←/→ by token, w/b by word, PgUp/PgDn by page, Home/End, n/N to the
next unlikely token, or a click), and the panel beside lists the token's alternatives
with their probabilities. ↑/↓ choose one and Enter branches: the screen closes with a
`TokenBranch` and the explorer asks the service for a sibling reply that starts with the
text before the token plus the alternative and samples on from there (`e` edits the
alternative first).

The screen loads the tokens through `ConversationService.tokens` in a worker and never
touches gRPC. Token text is untrusted: it is cleaned and drawn as Rich `Text` built from
spans, never parsed as markup.

Long replies stay responsive: the shaded text is built once (`shaded_tokens`), and lines
are wrapped once per width. `TokenText` is a Line API widget that draws only the lines on
screen and keeps each drawn line, so moving the cursor redraws the line or two it leaves
and enters, whatever the length of the reply (its counters let tests check that).
"""

from grove_explorer.app.screens.tokens.analysis import (
    NOT_SAMPLED,
    UNLIKELY,
    Alternative,
    TokenBranch,
    TokenStats,
    alternatives,
    percent,
    probability_bar,
    refusal,
    token_stats,
    visible_token,
    wrap_lines,
)
from grove_explorer.app.screens.tokens.screen import SidePanel, TokenViewScreen
from grove_explorer.app.screens.tokens.token_text import TokenText

__all__ = [
    "NOT_SAMPLED",
    "UNLIKELY",
    "Alternative",
    "SidePanel",
    "TokenBranch",
    "TokenStats",
    "TokenText",
    "TokenViewScreen",
    "alternatives",
    "percent",
    "probability_bar",
    "refusal",
    "token_stats",
    "visible_token",
    "wrap_lines",
]
