"""A footer that shows only the keys that fit whole, so it never cuts a word in two.

Textual's `Footer` lays its keys out in one row and lets the last ones run under the
command-palette key docked on the right ("Last mes", "^pp alette" at 80 columns). This
one hides, after every layout of its keys, each key that does not end left of the
palette key. The keys dropped are the last ones: bindings are declared with the most
used first, and every key stays listed in the help (F1).
"""

from __future__ import annotations

from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class FittingFooter(Footer):
    """`Footer` that drops the keys that would be cut at its right edge."""

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self._fit)

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit)

    def on_resize(self, event: events.Resize) -> None:
        # Recomposing shows every key again; `recompose` then fits them to the new width.
        self.refresh(recompose=True)

    def _fit(self) -> None:
        keys = list(self.query(FooterKey))
        palette = [key for key in keys if key.has_class("-command-palette")]
        limit = self.content_region.right
        if palette and palette[0].display:
            limit = min(limit, palette[0].region.x)
        for key in keys:
            if key in palette or not key.display:
                continue
            region = key.region
            if region.width and region.right > limit:
                key.display = False
