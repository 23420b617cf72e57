"""A thread message with the user's annotation: markers in the header, the note below it.

`MessageView` draws a message as one `Group` whose first renderable is its header line
(`MessageView.header`); this subclass adds, for annotated responses only, the bookmark /
rating / tags after that header and the note as a dim block under it. It does so in
`update`, the one place every drawing of the view passes through (a new message shown in
place, a message drawn another way, such as shaded by token probability), so whatever
`MessageView` draws keeps the annotation. Unannotated messages are drawn exactly as
`MessageView` draws them (same cached drawing, same rendered lines), so the thread costs
nothing extra until something is marked.

Annotations change by replacing the frozen `ResponseNode`, so, as in `MessageView`, a
node's identity is its content: drawings are cached by node and base drawing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text
from textual.strip import Strip
from textual.style import Style
from textual.visual import VisualType

from grove_explorer.app.annotation_marks import header_marks, note_text, setter_of
from grove_explorer.app.widgets.message_view import MessageView

if TYPE_CHECKING:
    from grove_explorer.client.models import ResponseNode


@dataclass
class _Annotated:
    """An annotated drawing: the base drawing's header with markers, the note, the rest."""

    node: ResponseNode
    base: Group
    header: Text
    content: Group
    lines: dict[tuple[int, Style], list[Strip]] = field(default_factory=dict)


_ANNOTATED: OrderedDict[tuple[int, int], _Annotated] = OrderedDict()
"""Recent annotated drawings by (id of node, id of base drawing); they hold both."""

ANNOTATED_LIMIT = 128


def _annotated(node: ResponseNode, base: Group) -> _Annotated:
    """`base` (header first) with `node`'s annotation added, cached."""
    key = (id(node), id(base))
    drawn = _ANNOTATED.get(key)
    if drawn is not None and drawn.node is node and drawn.base is base:
        _ANNOTATED.move_to_end(key)
        return drawn
    header, *rest = base.renderables
    assert isinstance(header, Text)
    full = header.copy()
    full.append_text(header_marks(node.annotation, setter_of(node.annotation)))
    note = note_text(node.annotation.note)
    parts: list[RenderableType] = [full] if note is None else [full, note]
    drawn = _Annotated(node, base, full, Group(*parts, *rest))
    _ANNOTATED[key] = drawn
    if len(_ANNOTATED) > ANNOTATED_LIMIT:
        _ANNOTATED.popitem(last=False)
    return drawn


class AnnotatedMessageView(MessageView):
    """A finished message, with its annotation when it has one."""

    def __init__(
        self,
        node: ResponseNode,
        sibling: tuple[int, int],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(node, sibling, id=id, classes=classes)
        if not node.annotation.empty:
            # The base drawing was given to the constructor, not through `update`.
            self.update(self.content)

    def update(
        self,
        content: VisualType = "",
        *,
        layout: bool = True,
        lines: dict[tuple[int, Style], list[Strip]] | None = None,
    ) -> None:
        """Shows `content`, with the annotation added when the message has one.

        Only a drawing headed by this view's header is annotated (what `MessageView`
        draws); anything else is shown as given.
        """
        node = self.node
        annotated = (
            not node.annotation.empty
            and isinstance(content, Group)
            and bool(content.renderables)
            and content.renderables[0] is self.header
        )
        self.set_class(annotated, "-annotated")
        if annotated:
            assert isinstance(content, Group)
            drawn = _annotated(node, content)
            self.header = drawn.header
            content, lines = drawn.content, drawn.lines
        super().update(content, layout=layout, lines=lines)
