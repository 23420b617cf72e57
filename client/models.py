"""Pydantic models of conversation forests, as a UI needs them.

`Forest` mirrors one conversation: responses by id, children in creation order, the
current path root → leaf, each response's sibling index, and the child last visited under
every node (so switching to a sibling returns to where the user was under it, falling back
to the newest child). It holds no gRPC types, so a UI can use it without importing grpc.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from grove_explorer.client.grok import Response
from grove_explorer.client.research import Annotation


class SamplingInfo(BaseModel):
    """Sampling parameters actually used for a model response."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None


class ResponseNode(BaseModel):
    """One response of a forest (human or model), or a reply still streaming."""

    model_config = ConfigDict(frozen=True)

    response_id: str
    parent_id: str | None
    sender: str
    message: str
    create_time: datetime | None = None
    manual: bool = False
    partial: bool = False
    shared: bool = False
    query: str = ""
    query_type: str = ""
    model_name: str = ""
    sampling: SamplingInfo | None = None
    token_count: int = 0
    time_to_first_token: float = 0.0
    total_time: float = 0.0
    streaming: bool = False
    # Mean token logprob, known for replies streamed in this session (the tokens themselves
    # are fetched on demand, see ConversationService.tokens).
    mean_logprob: float | None = None
    # Characters at the start of `message` that were given (a branch from a token).
    prefix_length: int = 0
    # This user's annotation.
    annotation: Annotation = Annotation()

    @property
    def bookmarked(self) -> bool:
        """True when bookmarked."""
        return self.annotation.bookmarked

    @property
    def is_human(self) -> bool:
        """True for messages a person wrote (sender "human")."""
        return self.sender == "human"

    @classmethod
    def from_response(cls, response: Response) -> ResponseNode:
        """Builds a node from an SDK response."""
        params = response.sampling_params
        return cls.model_construct(
            response_id=response.response_id,
            parent_id=response.parent_response_id,
            sender=response.sender,
            message=response.message,
            create_time=response.create_time,
            manual=response.manual,
            partial=response.partial,
            shared=response.shared,
            query=response.query,
            query_type=response.query_type,
            model_name=response.model_name,
            sampling=None
            if params is None
            else SamplingInfo(
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                seed=params.seed,
            ),
            token_count=response.token_count,
            time_to_first_token=response.time_to_first_token,
            total_time=response.total_time,
            streaming=False,
            mean_logprob=None,
            prefix_length=response.prefix_length,
            annotation=response.annotation,
        )

    @property
    def word_count(self) -> int:
        """Words in the message (whitespace-separated)."""
        return len(self.message.split())

    @property
    def tokens_per_second(self) -> float | None:
        """Sampling speed after the first token, when timings are known."""
        streaming_time = self.total_time - self.time_to_first_token
        if self.token_count < 2 or streaming_time <= 0:
            return None
        return (self.token_count - 1) / streaming_time


class ConversationSummary(BaseModel):
    """A conversation's metadata, as listed in a sidebar."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    title: str
    starred: bool
    create_time: datetime | None = None
    update_time: datetime | None = None
    response_count: int = 0


class _PathMemo:
    """Root paths already walked in one `responses` dict, until its structure changes.

    Shared (not copied) by shallow `model_copy`s of a forest, which share the dicts too,
    so a change made through either forest clears it for both.
    """

    __slots__ = ("paths", "responses", "revision")

    LIMIT = 8
    """Paths kept: the current one and a few others (a sibling switch walks a handful)."""

    # Revisions are unique across memos, so a forest whose `responses` dict was replaced
    # never shows a revision it showed before.
    _revisions = count()

    def __init__(self, responses: dict[str, ResponseNode]) -> None:
        self.responses = responses
        self.paths: dict[str | None, tuple[ResponseNode, ...]] = {}
        self.revision = next(self._revisions)

    def __eq__(self, other: object) -> bool:
        """Always equal: a cache never makes two forests compare unequal."""
        return other is None or isinstance(other, _PathMemo)

    __hash__ = None  # type: ignore[assignment]


class Forest(BaseModel):
    """The response forest of one conversation plus the user's place in it.

    Change its structure through `add`, `remove` and `replace_placeholder`: they clear the
    memo of root paths (`path_to` walks a 5,000-deep path in milliseconds and a sibling
    switch needs it several times) and advance `revision`. Replacing a node directly in
    `responses` is noticed for that node's own path only (what the service does with a
    streaming placeholder, always a leaf).
    """

    conversation: ConversationSummary
    responses: dict[str, ResponseNode] = Field(default_factory=dict)
    # Children of each response id in creation order; the key None holds the roots.
    children: dict[str | None, list[str]] = Field(default_factory=dict)
    leaf_id: str | None = None
    # The child last visited under each node (None: among the roots).
    last_visited: dict[str | None, str] = Field(default_factory=dict)
    _memo: _PathMemo | None = PrivateAttr(default=None)

    @property
    def revision(self) -> int:
        """A number that changes whenever `add`, `remove` or `replace_placeholder` runs.

        Lets views cache what they derive from the structure (runs, paths) per revision.
        """
        return self._memo_for_responses().revision

    def _memo_for_responses(self) -> _PathMemo:
        """The memo of this forest's `responses` dict (a new one if it was replaced)."""
        memo = self._memo
        if memo is None or memo.responses is not self.responses:
            memo = self._memo = _PathMemo(self.responses)
        return memo

    def _changed(self) -> None:
        """Forgets memoised paths after a structural change."""
        memo = self._memo_for_responses()
        memo.paths.clear()
        memo.revision = next(memo._revisions)

    @classmethod
    def build(
        cls, conversation: ConversationSummary, nodes: list[ResponseNode], leaf_id: str | None
    ) -> Forest:
        """Builds a forest from nodes in creation order and selects `leaf_id`."""
        forest = cls(conversation=conversation)
        for node in nodes:
            forest.add(node)
        forest.select(leaf_id)
        return forest

    # -- structure -------------------------------------------------------------------------

    def add(self, node: ResponseNode) -> None:
        """Adds a node (or replaces one with the same id, keeping its position)."""
        if node.response_id not in self.responses:
            self.children.setdefault(node.parent_id, []).append(node.response_id)
        self.responses[node.response_id] = node
        self._changed()

    def remove(self, response_id: str) -> None:
        """Removes a leaf node (e.g. a streaming placeholder) from the forest."""
        node = self.responses.pop(response_id, None)
        if node is None:
            return
        self._changed()
        siblings = self.children.get(node.parent_id, [])
        if response_id in siblings:
            siblings.remove(response_id)
        if self.last_visited.get(node.parent_id) == response_id:
            del self.last_visited[node.parent_id]
        if self.leaf_id == response_id:
            self.leaf_id = node.parent_id

    def replace_placeholder(self, placeholder_id: str, node: ResponseNode) -> None:
        """Swaps a streaming placeholder for the stored response, keeping the leaf on it."""
        was_leaf = self.leaf_id == placeholder_id
        parent_visit = self.last_visited.get(node.parent_id) == placeholder_id
        siblings = self.children.get(node.parent_id, [])
        if placeholder_id in siblings:
            siblings[siblings.index(placeholder_id)] = node.response_id
            self.responses.pop(placeholder_id, None)
            self.responses[node.response_id] = node
            self._changed()
        else:
            self.add(node)
        if parent_visit:
            self.last_visited[node.parent_id] = node.response_id
        if was_leaf:
            self.leaf_id = node.response_id

    def children_of(self, response_id: str | None) -> list[str]:
        """Ids of the children of `response_id` (roots for None), oldest first."""
        return self.children.get(response_id, [])

    def siblings_of(self, response_id: str) -> list[str]:
        """Ids of the node and its siblings, oldest first."""
        return self.children_of(self.responses[response_id].parent_id)

    def sibling_index(self, response_id: str) -> tuple[int, int]:
        """(k, n): the node is the k-th (1-based) of n siblings."""
        siblings = self.siblings_of(response_id)
        return siblings.index(response_id) + 1, len(siblings)

    def path_to(self, response_id: str | None) -> list[ResponseNode]:
        """The nodes from the root down to `response_id` (iterative: paths can be deep).

        Memoised until the structure changes (a fresh list each call: callers may keep or
        change it). A hit is checked against the node now stored under `response_id`.
        """
        memo = self._memo_for_responses()
        cached = memo.paths.get(response_id)
        if cached is not None and (
            response_id is None or self.responses.get(response_id) is cached[-1]
        ):
            return list(cached)
        path: list[ResponseNode] = []
        current = response_id
        while current is not None:
            node = self.responses[current]
            path.append(node)
            current = node.parent_id
        path.reverse()
        if len(memo.paths) >= memo.LIMIT:
            memo.paths.clear()
        memo.paths[response_id] = tuple(path)
        return path

    @property
    def committed_leaf(self) -> str | None:
        """The leaf, skipping streaming placeholders (which the server does not know)."""
        leaf = self.leaf_id
        while leaf is not None and self.responses[leaf].streaming:
            leaf = self.responses[leaf].parent_id
        return leaf

    @property
    def current_path(self) -> list[ResponseNode]:
        """The path root → leaf the user is looking at."""
        return self.path_to(self.leaf_id)

    # -- navigation ------------------------------------------------------------------------

    def select(self, leaf_id: str | None) -> None:
        """Makes `leaf_id` the leaf and remembers each step of its path as visited."""
        if leaf_id is not None and leaf_id not in self.responses:
            raise KeyError(f"Response {leaf_id!r} is not in this conversation.")
        self.leaf_id = leaf_id
        for node in self.path_to(leaf_id):
            self.last_visited[node.parent_id] = node.response_id

    def descend(self, response_id: str) -> str:
        """The leaf reached from `response_id` following last-visited (else newest) children."""
        current = response_id
        while True:
            kids = self.children.get(current)
            if not kids:
                return current
            remembered = self.last_visited.get(current)
            current = remembered if remembered in kids else kids[-1]

    def switch_sibling(self, response_id: str, delta: int) -> str | None:
        """Moves to the sibling `delta` steps away and on to the leaf last visited under it.

        Returns the new leaf, or None when there is no sibling in that direction.
        """
        siblings = self.siblings_of(response_id)
        index = siblings.index(response_id) + delta
        if not 0 <= index < len(siblings):
            return None
        leaf = self.descend(siblings[index])
        self.select(leaf)
        return leaf
