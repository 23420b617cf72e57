"""The pieces that made export linear (issue 13) answer exactly what the slow ones did.

- `Forest.sibling_index` from its position index = `list.index` on the children, through
  adds (in and out of time order), removals, placeholders and lists changed in place.
- `Forest.build` = `add` of every node, one after the other.
- `ResponseNode.trusted` and `node_from_proto` = pydantic's `model_construct`.
- DOT excerpts = `textwrap.wrap` of the whole message, cut to three lines.
"""

from __future__ import annotations

import datetime
import gc
import random
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from grove_explorer.client.convert import (
    node_from_proto,
    nodes_from_proto,
    sampling_from_proto,
    utc_datetime,
)
from grove_explorer.client.export.drawing import _excerpt
from grove_explorer.client.finish import finish_reason_from_proto
from grove_explorer.client.forest import Forest
from grove_explorer.client.models import (
    NODE_DEFAULTS,
    ConversationSummary,
    ReportedUsage,
    ResponseNode,
    SamplingInfo,
)
from grove_explorer.client.research import Annotation
from grove_explorer.protos import chat_pb2, sampler_public_pb2

SUMMARY = ConversationSummary(conversation_id="c", title="", starred=False)
T0 = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def _node(
    rid: str, parent: str | None, second: int | None, streaming: bool = False
) -> ResponseNode:
    time = None if second is None else T0 + datetime.timedelta(seconds=second)
    return ResponseNode(
        response_id=rid,
        parent_id=parent,
        sender="model",
        message=rid,
        create_time=time,
        streaming=streaming,
    )


def _check_positions(forest: Forest) -> None:
    for parent, ids in forest.children.items():
        for rid in ids:
            if rid in forest.responses and forest.responses[rid].parent_id == parent:
                assert forest.sibling_index(rid) == (ids.index(rid) + 1, len(ids))


def test_positions_follow_every_change_of_the_forest() -> None:
    rng = random.Random(13)
    for _ in range(30):
        forest = Forest(conversation=SUMMARY)
        ids: list[str] = []
        for step in range(120):
            action = rng.random()
            if action < 0.6 or not ids:
                parent = rng.choice([None, *ids[:5]]) if ids else None
                rid = f"r{step}"
                second = rng.choice([None, rng.randrange(50)])
                forest.add(_node(rid, parent, second, streaming=second is None))
                ids.append(rid)
            elif action < 0.75:
                leafs = [r for r in ids if not forest.children.get(r)]
                victim = rng.choice(leafs)
                forest.remove(victim)
                ids.remove(victim)
            elif action < 0.85:
                live = [r for r in ids if forest.responses[r].streaming]
                if live:
                    old = rng.choice(live)
                    new = f"s{step}"
                    parent = forest.responses[old].parent_id
                    forest.replace_placeholder(old, _node(new, parent, rng.randrange(50)))
                    ids[ids.index(old)] = new
            else:
                # A list changed in place behind the forest's back still answers right.
                kids = rng.choice(list(forest.children.values()))
                rng.shuffle(kids)
            _check_positions(forest)


def test_a_node_missing_from_its_parents_list_is_refused() -> None:
    forest = Forest.build(SUMMARY, [_node("a", None, 1), _node("b", "a", 2)], None)
    forest.children["a"].remove("b")
    try:
        forest.sibling_index("b")
    except ValueError:
        pass
    else:  # pragma: no cover
        raise AssertionError("sibling_index of a node its parent does not list")


def test_build_is_add_after_add() -> None:
    rng = random.Random(7)
    for _ in range(50):
        nodes = []
        for _ in range(60):
            parent = rng.choice([None, *(n.response_id for n in nodes[-8:])]) if nodes else None
            second = rng.choice([None, rng.randrange(30)])
            rid = f"r{rng.randrange(70)}"  # some ids come twice: the later node replaces
            nodes.append(_node(rid, parent, second))
        nodes = [n for n in nodes if n.parent_id is None or n.parent_id != n.response_id]
        built = Forest.build(SUMMARY, nodes, None)
        added = Forest(conversation=SUMMARY)
        for node in nodes:
            added.add(node)
        assert built.children == added.children
        assert built.responses == added.responses
        assert list(built.responses) == list(added.responses)


def test_trusted_nodes_are_model_construct_nodes() -> None:
    fields = NODE_DEFAULTS.copy()
    fields.update(response_id="a", parent_id=None, sender="human", message="hi")
    given_names = {"response_id", "parent_id", "sender", "message"}
    fast = ResponseNode.trusted(fields, set(given_names))
    slow = ResponseNode.model_construct(
        response_id="a", parent_id=None, sender="human", message="hi"
    )
    assert fast == slow and repr(fast) == repr(slow)
    assert list(fast.__dict__) == list(slow.__dict__) == list(ResponseNode.model_fields)
    assert fast.model_fields_set == slow.model_fields_set == given_names
    assert fast.__pydantic_private__ == slow.__pydantic_private__
    assert fast.model_dump() == slow.model_dump()


def test_node_from_proto_is_the_model_construct_of_every_field() -> None:
    wire = chat_pb2.Response(
        response_id="r",
        parent_response_id="p",
        sender="model",
        message="text",
        manual=True,
        partial=True,
        shared=True,
        query="q",
        query_type="web",
        model_name="m",
        token_count=3,
        time_to_first_token_seconds=0.5,
        total_time_seconds=1.5,
        prefix_length=2,
        author_user_id="bob",
    )
    wire.create_time.FromDatetime(T0)
    wire.start_time.FromDatetime(T0 - datetime.timedelta(seconds=1))
    wire.sampling_params.temperature = 0.5
    wire.sampling_params.seed = 9
    wire.annotation.bookmarked = True
    wire.annotation.tags.append("t")
    wire.reported_usage.prompt_tokens = 11
    wire.reported_usage.completion_tokens = 2
    node = node_from_proto(wire)
    expected = ResponseNode.model_construct(
        response_id="r",
        parent_id="p",
        sender="model",
        message="text",
        create_time=utc_datetime(wire.create_time),
        manual=True,
        partial=True,
        shared=True,
        query="q",
        query_type="web",
        model_name="m",
        sampling=sampling_from_proto(wire.sampling_params),
        token_count=3,
        time_to_first_token=0.5,
        total_time=1.5,
        streaming=False,
        mean_logprob=None,
        prefix_length=2,
        start_time=utc_datetime(wire.start_time),
        finish_reason=finish_reason_from_proto(wire.finish_reason),
        annotation=Annotation.from_proto(wire.annotation),
        reported_usage=ReportedUsage(prompt_tokens=11, completion_tokens=2),
        judgements=(),
        merged_from=(),
        merge_mode="",
        merge_instruction="",
        replay_of="",
        system_prompt_name=None,
        made_by=None,
        author="bob",
    )
    expected._proto = wire
    assert node == expected and repr(node) == repr(expected)
    assert list(node.__dict__) == list(expected.__dict__)
    assert node.model_fields_set == expected.model_fields_set
    assert node._proto is wire


def _reference_excerpt(text: str, width: int = 40, lines: int = 3) -> str:
    """The excerpt as it was written before: wrap everything, then cut."""
    wrapped = [part for line in text.split("\n") for part in textwrap.wrap(line, width, tabsize=4)]
    if len(wrapped) <= lines:
        return "\n".join(wrapped)
    kept = wrapped[:lines]
    kept[-1] = kept[-1][: width - 1].rstrip() + "…"
    return "\n".join(kept)


PIECES = st.sampled_from(
    [
        "a",
        "word",
        "hyphen-ated",
        "--",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\xa0",
        "\u2028",
        "\u3000",
        "é",
        "x" * 39,
        "y" * 40,
        "z" * 41,
        " " * 45,
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=60), st.sampled_from([(40, 3), (10, 1), (3, 2)]))
def test_dot_excerpts_wrap_as_textwrap_does(pieces: list[str], shape: tuple[int, int]) -> None:
    text = "".join(pieces)
    width, lines = shape
    assert _excerpt(text, width, lines) == _reference_excerpt(text, width, lines)


def test_timestamps_convert_as_protobuf_does() -> None:
    from google.protobuf import timestamp_pb2

    cases = [(0, 0), (1_700_000_000, 123_456_789), (-5, 999_999_999), (-62_135_596_800, 0)]
    cases.append((253_402_300_799, 999_999_999))
    for seconds, nanos in cases:
        stamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
        ours, theirs = utc_datetime(stamp), stamp.ToDatetime(tzinfo=datetime.UTC)
        assert (ours, repr(ours), ours.tzinfo) == (theirs, repr(theirs), theirs.tzinfo)
    for seconds, nanos in [(253_402_300_800, 0), (0, -1), (0, 1_000_000_000)]:
        stamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
        try:
            utc_datetime(stamp)
        except ValueError:
            continue
        raise AssertionError(f"{seconds}, {nanos} converted")  # pragma: no cover


def test_remembered_shortest_floats_keep_their_sign() -> None:
    from grove_explorer.client.export import dumps, shortest_float32

    assert dumps([shortest_float32(0.0), shortest_float32(-0.0), shortest_float32(-0.0)]) == (
        "[\n  0.0,\n  -0.0,\n  -0.0\n]"
    )
    assert shortest_float32(1) == 1.0 and shortest_float32(0.699999988079071) == 0.7


FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, -2.5, 1e16]),
)
TOKEN_TEXT = st.text(max_size=8) | st.sampled_from(['"', "\\", "\n", "\u2028", "\x7f"])


@settings(max_examples=300, deadline=None)
@given(
    TOKEN_TEXT,
    st.one_of(st.none(), FLOATS, st.integers(-3, 3)),
    st.lists(st.tuples(TOKEN_TEXT, st.one_of(FLOATS, st.integers(-3, 3))), max_size=4),
)
def test_token_lines_are_what_json_dumps_writes(
    text: str, logprob: float | int | None, top: list[tuple[str, float | int]]
) -> None:
    import json

    from grove_explorer.client.export import dumps
    from grove_explorer.client.export.json_format import _UNSAFE_IN_JSON

    token = {"text": text, "logprob": logprob, "top": [list(pair) for pair in top]}
    written = dumps({"tokens": [token]})
    expected = '{\n  "tokens": [\n    ' + json.dumps(token, ensure_ascii=False) + "\n  ]\n}"
    assert written == _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", expected)


def test_sampling_from_proto_is_the_validated_model() -> None:
    """Built without validation, it is what `SamplingInfo(...)` builds from the same values."""
    full = sampler_public_pb2.SamplingParams(temperature=0.7, top_p=0.95, max_tokens=64, seed=3)
    for wire in (
        full,
        sampler_public_pb2.SamplingParams(seed=0),
        sampler_public_pb2.SamplingParams(),
    ):
        fast = sampling_from_proto(wire)
        slow = SamplingInfo(
            temperature=wire.temperature if wire.HasField("temperature") else None,
            top_p=wire.top_p if wire.HasField("top_p") else None,
            max_tokens=wire.max_tokens if wire.HasField("max_tokens") else None,
            seed=wire.seed if wire.HasField("seed") else None,
        )
        assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
        assert fast.model_fields_set == slow.model_fields_set
        assert fast.model_dump() == slow.model_dump()
        assert fast.__pydantic_private__ == slow.__pydantic_private__
        assert fast.__pydantic_extra__ == slow.__pydantic_extra__


def test_nodes_from_proto_converts_each_and_resumes_the_collector() -> None:
    """Equal times share one datetime; the collector is on again after (off stays off)."""
    wires = [chat_pb2.Response(response_id=f"r{i}", sender="human") for i in range(3)]
    wires[0].create_time.FromDatetime(T0)
    wires[0].start_time.FromDatetime(T0)
    wires[1].create_time.FromDatetime(T0)
    wires[1].start_time.FromDatetime(T0 + datetime.timedelta(microseconds=1))
    nodes = nodes_from_proto(wires)
    assert [n.response_id for n in nodes] == ["r0", "r1", "r2"]
    assert nodes == [node_from_proto(w) for w in wires]
    assert nodes[0].start_time is nodes[0].create_time
    assert nodes[1].start_time == nodes[1].create_time + datetime.timedelta(microseconds=1)
    assert nodes[2].start_time is None
    assert gc.isenabled()
    gc.disable()
    try:
        nodes_from_proto(wires)
        assert not gc.isenabled()
    finally:
        gc.enable()
