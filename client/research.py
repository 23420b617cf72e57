"""Research extensions of the SDK: annotations, search hits and imports' building blocks.

Plain frozen models, so the app and scripts use them without touching protobuf.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from grove_explorer.client.finish import finish_reason_from_proto

if TYPE_CHECKING:
    from grove_explorer.protos import chat_pb2


class Annotation(BaseModel):
    """A user's marks on a response: bookmark, tags, rating (-1, 0, +1) and a note."""

    model_config = ConfigDict(frozen=True)

    bookmarked: bool = False
    tags: tuple[str, ...] = ()
    rating: int = 0
    note: str = ""
    set_by: str = ""
    """Who set the marks (a user id) as read from the server; "" when not told (an older
    server, or marks not read back yet). Ignored when annotating: the caller sets them.
    Not part of equality: two annotations are equal when their marks are (as the server's
    AnnotationRecord), so marks set here equal the same marks read back."""

    @property
    def empty(self) -> bool:
        """True when nothing is marked."""
        return not (self.bookmarked or self.tags or self.rating or self.note)

    def _marks(self) -> tuple[bool, tuple[str, ...], int, str]:
        return (self.bookmarked, self.tags, self.rating, self.note)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Annotation):
            return NotImplemented
        return self._marks() == other._marks()

    def __hash__(self) -> int:
        return hash(self._marks())

    def same_marks(self, other: Annotation | None) -> bool:
        """Whether `other` holds the same marks, whoever set them."""
        return other is not None and self == other

    @classmethod
    def from_proto(cls, wire: chat_pb2.Annotation) -> Annotation:
        """Reads the wire form."""
        return cls(
            bookmarked=wire.bookmarked,
            tags=tuple(wire.tags),
            rating=wire.rating,
            note=wire.note,
            set_by=wire.set_by_user_id,
        )

    def to_proto(self) -> chat_pb2.Annotation:
        """The wire form."""
        from grove_explorer.protos import chat_pb2

        return chat_pb2.Annotation(
            bookmarked=self.bookmarked, tags=list(self.tags), rating=self.rating, note=self.note
        )


class SearchHit(BaseModel):
    """One search result: where it matched, an excerpt, and the matched ranges in it.

    `response_id` is "" for a title hit. `highlights` are (start, end) character offsets in
    `snippet`, so a UI styles them without parsing markup.
    """

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    conversation_title: str
    field: str
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()
    response_id: str = ""
    sender: str = ""
    model_name: str = ""
    message: str = ""
    partial: bool = False
    finish_reason: str = ""
    annotation: Annotation = Annotation()
    # The response is the k-th of n siblings (creation order); (0, 0) for a title hit.
    branch: tuple[int, int] = (0, 0)

    @property
    def short_id(self) -> str:
        """The first 8 characters of the response id ("" for a title hit), as headers show."""
        return self.response_id[:8]

    @classmethod
    def from_proto(cls, wire: chat_pb2.SearchHit) -> SearchHit:
        """Reads the wire form."""
        has_response = wire.HasField("response")
        response = wire.response
        return cls(
            conversation_id=wire.conversation_id,
            conversation_title=wire.conversation_title,
            field=wire.field,
            snippet=wire.snippet,
            highlights=tuple((span.start, span.end) for span in wire.highlights),
            response_id=response.response_id if has_response else "",
            sender=response.sender if has_response else "",
            model_name=response.model_name if has_response else "",
            message=response.message if has_response else "",
            partial=response.partial if has_response else False,
            finish_reason=finish_reason_from_proto(response.finish_reason) if has_response else "",
            annotation=Annotation.from_proto(response.annotation)
            if has_response and response.HasField("annotation")
            else Annotation(),
            branch=(wire.branch_index, wire.branch_count),
        )


class SearchResults(list[SearchHit]):
    """One page of search hits (a plain list of them, best first) and how many there are.

    `total` counts every hit of the query, so a caller can say "50 of 313" and ask for the
    rest with `offset=results.next_offset`.
    """

    def __init__(self, hits: Iterable[SearchHit] = (), *, total: int = 0, offset: int = 0) -> None:
        super().__init__(hits)
        self.offset = offset
        self.total = max(total, offset + len(self)) if self else total

    @property
    def next_offset(self) -> int:
        """Where the next page starts."""
        return self.offset + len(self)

    @property
    def remaining(self) -> int:
        """Hits after this page."""
        return self.total - self.next_offset
