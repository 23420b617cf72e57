"""The explorer's keys, declared on the screen that owns them and shown in the footer.

Every binding has an id, so users can rebind it (`keymap` in the config file).
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

EXPLORER_BINDINGS: list[BindingType] = [
    Binding("escape", "stop", "Stop", id="stop"),
    Binding("left,h", "sibling(-1)", "Prev branch", id="prev_sibling"),
    Binding("right,l", "sibling(1)", "Next branch", id="next_sibling"),
    Binding("r", "resample", "Resample", id="resample"),
    Binding("c", "compare", "Compare", id="compare", show=False),
    Binding("R", "sample_many", "Sample N", id="sample_many", show=False),
    Binding(
        "v",
        "token_view",
        "Tokens",
        id="token_view",
        tooltip="Token view: probabilities, alternatives, branch from a token",
    ),
    Binding(
        "V",
        "token_shading",
        "Shade",
        id="token_shading",
        show=False,
        tooltip="Shade the message by token probability (again: off)",
    ),
    # A count typed before R (e.g. 8R) sets how many samples to draw.
    *(Binding(str(d), f"count({d})", "", show=False) for d in range(10)),
    Binding("e", "edit", "Edit", id="edit"),
    Binding("y", "copy", "Copy", id="copy"),
    Binding("n", "new_conversation", "New", id="new_conversation"),
    Binding("t", "generate_title", "Title", id="generate_title"),
    Binding("s", "toggle_star", "Star", id="star"),
    # Annotations, bookmarks, hoisting, totals and search (see "Annotating and
    # searching" in the README).
    Binding(
        "b",
        "bookmark",
        "Bookmark",
        id="bookmark",
        tooltip="Bookmark / unbookmark the message",
    ),
    Binding(
        "plus,equals_sign",
        "rate(1)",
        "Rate +1",
        id="rate_up",
        show=False,
        tooltip="Rate the message +1 (again: clear)",
    ),
    Binding(
        "minus",
        "rate(-1)",
        "Rate -1",
        id="rate_down",
        show=False,
        tooltip="Rate the message -1 (again: clear)",
    ),
    Binding(
        "N",
        "note",
        "Note",
        id="note",
        show=False,
        tooltip="Note on the message (empty removes it)",
    ),
    Binding(
        "T",
        "tags",
        "Tags",
        id="tags",
        show=False,
        tooltip="Tag the message (space or comma separated)",
    ),
    Binding(
        "right_square_bracket",
        "bookmark_jump(1)",
        "Next bookmark",
        id="next_bookmark",
        show=False,
        tooltip="Next bookmark (tree order)",
    ),
    Binding(
        "left_square_bracket",
        "bookmark_jump(-1)",
        "Prev bookmark",
        id="prev_bookmark",
        show=False,
        tooltip="Previous bookmark (tree order)",
    ),
    Binding(
        "H",
        "hoist",
        "Hoist",
        id="hoist",
        show=False,
        tooltip="Hoist the forest at this node",
    ),
    Binding(
        "U",
        "unhoist",
        "Unhoist",
        id="unhoist",
        show=False,
        tooltip="Unhoist: show the whole forest",
    ),
    Binding(
        "S",
        "subtree_totals",
        "Totals",
        id="subtree_totals",
        show=False,
        tooltip="Subtree totals in the forest on / off",
    ),
    Binding(
        "slash",
        "search",
        "Search",
        id="search",
        tooltip="Search every conversation",
    ),
    Binding("f2", "rename", "Rename", id="rename"),
    Binding("m", "pick_model", "Model", id="pick_model", tooltip="Choose model / system prompt"),
    Binding("i", "focus_composer", "Write", id="focus_composer", show=False),
    Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="toggle_sidebar", show=False),
    Binding("ctrl+f", "toggle_forest", "Forest", id="toggle_forest", show=False),
    Binding("question_mark", "help", "Help", id="help"),
    Binding(
        "f5",
        "reload",
        "Reload",
        id="reload",
        show=False,
        tooltip="Reload from the server (after it restarted)",
    ),
]
