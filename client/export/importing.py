"""Import: an export document checked field by field and turned into the request.

`import_request(document)` validates what a server cannot know about a file and builds the
`ImportConversationRequest` that recreates the forest (with new ids and times).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

from grove_explorer.client.export.import_times import (
    set_conversation_time,
    set_response_times,
)
from grove_explorer.client.export.json_format import FORMAT_NAME, FORMAT_VERSION
from grove_explorer.client.finish import FINISH_REASONS, finish_reason_to_proto
from grove_explorer.client.import_call import CHUNK_RESPONSES
from grove_explorer.client.research_modes import JUDGE_MODE_NUMBERS, MERGE_MODE_NUMBERS
from grove_explorer.protos import chat_pb2, sampler_public_pb2

# -- import ----------------------------------------------------------------------------------


class _Checker:
    """Reads a document field by field, raising ValueError sentences that name the path."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def fail(self, problem: str) -> ValueError:
        return ValueError(f"{self.path}: {problem}")

    def child(self, key: str | int, required: bool = True, default: Any = None) -> _Checker:
        path = f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}"
        if isinstance(key, str):
            if not isinstance(self.value, dict):
                raise self.fail("must be an object.")
            if key not in self.value:
                if required:
                    raise ValueError(f"{path}: is missing.")
                return _Checker(default, path)
        return _Checker(self.value[key], path)

    def string(self, *, allow_none: bool = False) -> str | None:
        if self.value is None and allow_none:
            return None
        if not isinstance(self.value, str):
            raise self.fail("must be a string.")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail("must be true or false.")
        return self.value

    def integer(self, low: int | None = None, high: int | None = None) -> int:
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise self.fail("must be an integer.")
        if (low is not None and self.value < low) or (high is not None and self.value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(f"must be {bounds}, not {self.value}.")
        return self.value

    def number(self, *, allow_none: bool = False) -> float | None:
        if self.value is None and allow_none:
            return None
        if not isinstance(self.value, int | float) or isinstance(self.value, bool):
            raise self.fail("must be a number.")
        return float(self.value)

    def items(self, *, allow_none: bool = False) -> list[_Checker]:
        if self.value is None and allow_none:
            return []
        if not isinstance(self.value, list):
            raise self.fail("must be a list.")
        return [self.child(i) for i in range(len(self.value))]


_MAX_UINT64 = 2**64 - 1
_MAX_INT32 = 2**31 - 1
_FINISH_WORDS = frozenset(("", *FINISH_REASONS))


def _sampling(check: _Checker) -> sampler_public_pb2.SamplingParams | None:
    if check.value is None:
        return None
    params = sampler_public_pb2.SamplingParams()
    temperature = check.child("temperature", False).number(allow_none=True)
    if temperature is not None:
        params.temperature = temperature
    top_p = check.child("top_p", False).number(allow_none=True)
    if top_p is not None:
        params.top_p = top_p
    max_tokens = check.child("max_tokens", False)
    if max_tokens.value is not None:
        params.max_tokens = max_tokens.integer(0, _MAX_INT32)
    seed = check.child("seed", False)
    if seed.value is not None:
        params.seed = seed.integer(0, _MAX_UINT64)
    return params


def _annotation(check: _Checker) -> chat_pb2.Annotation | None:
    if check.value is None:
        return None
    return chat_pb2.Annotation(
        bookmarked=check.child("bookmarked", False, False).boolean(),
        tags=[t.string() or "" for t in check.child("tags", False, []).items()],
        rating=check.child("rating", False, 0).integer(-1, 1),
        note=check.child("note", False, "").string() or "",
    )


def _judgement(check: _Checker) -> chat_pb2.Judgement:
    """A judgement of the file (`judgement_to_dict`); its score must lie within 0-10."""
    score = check.child("score").number() or 0.0
    if not 0.0 <= score <= 10.0:
        raise check.child("score").fail("must lie within 0-10.")
    mode = check.child("mode", False, "each").string() or "each"
    if mode not in JUDGE_MODE_NUMBERS:
        raise check.child("mode").fail(f"must be one of {', '.join(JUDGE_MODE_NUMBERS)}.")
    wire = chat_pb2.Judgement(
        judgement_id=check.child("judgement_id", False, "").string() or "",
        score=score,
        rationale=check.child("rationale", False, "").string() or "",
        judge_model=check.child("judge_model", False, "").string() or "",
        rubric_name=check.child("rubric_name", False, "").string() or "",
        rubric=check.child("rubric", False, "").string() or "",
        mode=cast("chat_pb2.JudgeMode", JUDGE_MODE_NUMBERS[mode]),
        batch_id=check.child("batch_id", False, "").string() or "",
        heuristic=check.child("heuristic", False, False).boolean(),
    )
    sampling = _sampling(check.child("sampling_params", False))
    if sampling is not None:
        wire.sampling_params.CopyFrom(sampling)
    created = check.child("create_time", False)
    text = created.string(allow_none=True)
    if text:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise created.fail("must be an ISO 8601 time.") from None
        wire.create_time.FromDatetime(moment.astimezone(UTC))
    return wire


def _finish_reason(check: _Checker) -> chat_pb2.FinishReason:
    """A finish reason word ("" or null: unknown, as in files written before it existed)."""
    word = check.string(allow_none=True) or ""
    try:
        return finish_reason_to_proto(word)
    except ValueError as error:
        raise check.fail(str(error)) from None


def _token(check: _Checker) -> sampler_public_pb2.Token:
    logprob = check.child("logprob").number(allow_none=True)
    top = []
    for pair in check.child("top", False, []).items():
        if not isinstance(pair.value, list) or len(pair.value) != 2:
            raise pair.fail("must be a [text, logprob] pair.")
        top.append(
            sampler_public_pb2.Logit(
                string_token=pair.child(0).string() or "", logprob=pair.child(1).number() or 0.0
            )
        )
    return sampler_public_pb2.Token(
        final_logit=sampler_public_pb2.Logit(
            string_token=check.child("text").string() or "",
            logprob=0.0 if logprob is None else logprob,
        ),
        top_logits=top,
        logprob_unknown=logprob is None,
    )


def import_request(data: Any, *, keep_times: bool = False) -> chat_pb2.ImportConversationRequest:
    """Validates an export document and builds the request that recreates its forest.

    Checks what a server cannot know about a file — the format and version, field types,
    ids unique and parents before children, tokens only on model replies — and raises a
    ValueError whose sentence starts with the JSON path of the first problem
    (`$.responses[3].sender: must be "human" or "model".`). Ids and `conversation_id` are
    not sent: the server assigns new ones; times only with `keep_times`, which asks the
    server to keep them (`client.export.import_times`). Limits the server enforces
    (message size, title length, sampling ranges) are left to it, so they stay in one place.

    Each response is read by `_plain_response`, which only accepts what is plainly valid
    (and is built in place in the request from what it read); anything else is read again
    field by field (`_checked_response`), which says what is wrong. Both accept the same
    documents: the plain reading builds no path strings, no checker per field and no
    message to be copied, so a 60,000-response file is read in a fraction of a second.
    """
    request, responses = _head(data, keep_times)
    _fill(request, responses, 0, len(responses.value), set(), keep_times)
    return request


def import_chunks(
    data: Any, size: int = CHUNK_RESPONSES, *, summary_only: bool = False, keep_times: bool = False
) -> Iterator[chat_pb2.ImportChunk]:
    """`import_request`'s request in chunks of `size` responses, each read when asked for.

    For ImportConversationStream (`AsyncGrok.import_conversation_chunks`): the server
    stores a chunk while the next is read. The document's own fields (format, version,
    title, starred, the list of responses) are checked here, at once; each chunk's
    responses when it is asked for, raising the ValueError `import_request` raises for
    the same document. Each chunk carries the tokens of its own responses.
    `summary_only` sets the first chunk's flag (a reply without the responses);
    `keep_times` as for `import_request`.
    """
    head, responses = _head(data, keep_times)
    head.summary_only = summary_only
    return _chunks(head, responses, size, keep_times)


def _chunks(
    head: chat_pb2.ImportConversationRequest, responses: _Checker, size: int, keep_times: bool
) -> Iterator[chat_pb2.ImportChunk]:
    count = len(responses.value)
    seen: set[str] = set()
    for start in range(0, max(count, 1), size):
        chunk = chat_pb2.ImportChunk()
        if start == 0:
            chunk.response_count = count
            chunk.part.CopyFrom(head)
        _fill(chunk.part, responses, start, min(count, start + size), seen, keep_times)
        yield chunk


def _head(data: Any, keep_times: bool) -> tuple[chat_pb2.ImportConversationRequest, _Checker]:
    """The document's own fields checked: the request without responses, and their list."""
    root = _Checker(data, "$")
    if not isinstance(data, dict):
        raise root.fail("must be a JSON object (an export of `grove export --format json`).")
    name = root.child("format", False).value
    if name != FORMAT_NAME:
        raise ValueError(
            f"$.format: must be {FORMAT_NAME!r} (a `grove export --format json` file), "
            f"not {name!r}."
        )
    version = root.child("version").value
    if version != FORMAT_VERSION:
        raise ValueError(
            f"$.version: this Grove reads version {FORMAT_VERSION} files, not {version!r}."
        )
    request = chat_pb2.ImportConversationRequest(
        title=root.child("title", False, "").string() or "",
        starred=root.child("starred", False, False).boolean(),
    )
    if keep_times:
        request.keep_times = True
        set_conversation_time(request, data)
    responses = root.child("responses")
    if not isinstance(responses.value, list):
        raise responses.fail("must be a list.")
    return request, responses


def _fill(
    request: chat_pb2.ImportConversationRequest,
    responses: _Checker,
    start: int,
    stop: int,
    seen: set[str],
    keep_times: bool,
) -> None:
    """Reads responses[start:stop] into `request` (`seen`: the ids read before).

    With `keep_times`, each response's create_time and start_time too.
    """
    wires = request.responses
    add = wires.add
    token_map = request.tokens
    for index in range(start, stop):
        value = responses.value[index]
        plain = _plain_response(value, seen)
        if plain is not None:  # built in place: no message built to be copied in
            fields, sampling, plain_tokens = plain
            wire = add(**fields)
            if sampling is not None:  # set in place: no message built to be copied in
                target = wire.sampling_params
                target.SetInParent()  # present even when empty, as the file has it
                temperature, top_p, max_tokens, seed = sampling
                if temperature is not None:
                    target.temperature = temperature
                if top_p is not None:
                    target.top_p = top_p
                if max_tokens is not None:
                    target.max_tokens = max_tokens
                if seed is not None:
                    target.seed = seed
            if plain_tokens:
                add_token = token_map[wire.response_id].tokens.add
                for text, logprob, top in plain_tokens:
                    add_token(
                        final_logit=_Logit(
                            string_token=text, logprob=0.0 if logprob is None else logprob
                        ),
                        top_logits=[_Logit(string_token=t, logprob=p) for t, p in top],
                        logprob_unknown=logprob is None,
                    )
        else:
            wire, tokens = _checked_response(responses.child(index), seen)
            if tokens:
                token_map[wire.response_id].tokens.extend(tokens)
            wires.append(wire)
            wire = wires[-1]  # the request's copy: its times are set below
        if keep_times:
            set_response_times(wire, value, index)
        seen.add(wire.response_id)


_Read = tuple[chat_pb2.Response, list[sampler_public_pb2.Token]]
_MISSING = object()


def _is_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int


_Sampling = tuple[float | None, float | None, int | None, int | None]
"""Checked sampling parameters: temperature, top_p, max_tokens, seed (None: not given)."""
_Plain = tuple[
    dict[str, Any],
    _Sampling | None,
    list[tuple[str, float | None, list[Any]]] | None,
]
_Logit = sampler_public_pb2.Logit


def _plain_response(value: Any, seen: set[str]) -> _Plain | None:
    """A plainly valid response's fields, sampling and tokens; None if in any doubt.

    Accepts exactly what `_checked_response` accepts without complaint (None then sends
    the response there, which raises the sentence that names the problem). Tokens come
    back as (text, logprob or None, [[text, logprob], …]), checked.
    """
    if type(value) is not dict:
        return None
    get = value.get
    rid = get("response_id")
    parent = get("parent_response_id", 0)
    sender = get("sender")
    message = get("message")
    prefix_length = get("prefix_length", 0)
    token_count = get("token_count", 0)
    finish = get("finish_reason", "")
    manual = get("manual", False)
    partial = get("partial", False)
    shared = get("shared", False)
    query = get("query", "")
    query_type = get("query_type", "")
    model_name = get("model_name", "")
    first = get("time_to_first_token_seconds", 0.0)
    total = get("total_time_seconds", 0.0)
    if (
        type(rid) is not str
        or not rid
        or rid in seen
        or not (parent is None or (type(parent) is str and (not parent or parent in seen)))
        or (sender != "human" and sender != "model")  # (a list is no error here)
        or type(message) is not str
        or type(prefix_length) is not int
        or not 0 <= prefix_length <= len(message)
        or type(token_count) is not int
        or not 0 <= token_count <= _MAX_INT32
        or (finish is not None and (type(finish) is not str or finish not in _FINISH_WORDS))
        or type(manual) is not bool
        or type(partial) is not bool
        or type(shared) is not bool
        or type(query) is not str
        or type(query_type) is not str
        or type(model_name) is not str
        or type(first) not in _NUMBERS
        or type(total) not in _NUMBERS
        or get("annotation") is not None  # rare: read with its checks
        or get("reported_usage") is not None
        or get("judgements") is not None
        or get("merged_from") is not None  # rare: a fused reply is read with its checks
        or get("replay_of") is not None  # a replayed turn and a reply's prompt too
        or get("system_prompt_name") is not None
    ):
        return None
    sampling = None
    params = get("sampling_params")
    if params is not None:
        sampling = _fast_sampling(params)
        if sampling is None:
            return None
    listed = get("tokens")
    tokens = None
    if listed is not None:
        if type(listed) is not list or (listed and sender != "model"):
            return None
        tokens = []
        for item in listed:
            token = _plain_token(item)
            if token is None:
                return None
            tokens.append(token)
    # Only the fields that differ from their defaults: each keyword costs the message's
    # constructor a lookup, and a human message sets four of fifteen (-0.0 is left out
    # like 0.0, which the checked reading sends; no field here tracks presence).
    fields: dict[str, Any] = {"response_id": rid, "sender": sender, "message": message}
    if parent:
        fields["parent_response_id"] = parent
    if model_name:  # a sampled reply: the fields of its provenance
        fields["model_name"] = model_name
    if token_count:
        fields["token_count"] = token_count
    if finish:
        fields["finish_reason"] = _FINISH_WIRE[finish]
    if first:
        fields["time_to_first_token_seconds"] = first
    if total:
        fields["total_time_seconds"] = total
    if prefix_length:
        fields["prefix_length"] = prefix_length
    if manual or partial or shared:
        fields["manual"] = manual
        fields["partial"] = partial
        fields["shared"] = shared
    if query or query_type:
        fields["query"] = query
        fields["query_type"] = query_type
    return fields, sampling, tokens


_NUMBERS = frozenset((int, float))
_FINISH_WIRE = {word: finish_reason_to_proto(word) for word in _FINISH_WORDS}


def _fast_sampling(params: Any) -> _Sampling | None:
    """`_sampling`'s values of plainly valid parameters; None if in any doubt."""
    if type(params) is not dict:
        return None
    temperature = params.get("temperature")
    top_p = params.get("top_p")
    max_tokens = params.get("max_tokens")
    seed = params.get("seed")
    if (
        (temperature is not None and not _is_number(temperature))
        or (top_p is not None and not _is_number(top_p))
        or (max_tokens is not None and not _is_int(max_tokens, 0, _MAX_INT32))
        or (seed is not None and not _is_int(seed, 0, _MAX_UINT64))
    ):
        return None
    return (
        None if temperature is None else float(temperature),
        None if top_p is None else float(top_p),
        max_tokens,
        seed,
    )


def _plain_token(item: Any) -> tuple[str, float | None, list[Any]] | None:
    """`_token`'s reading of a plainly valid token, as (text, logprob, top); None if in doubt."""
    if type(item) is not dict:
        return None
    text = item.get("text")
    logprob = item.get("logprob", _MISSING)
    top = item.get("top", [])
    if (
        type(text) is not str
        or not (logprob is None or type(logprob) in _NUMBERS)
        or type(top) is not list
    ):
        return None
    for pair in top:
        if (
            type(pair) is not list
            or len(pair) != 2
            or type(pair[0]) is not str
            or type(pair[1]) not in _NUMBERS
        ):
            return None
    return text, logprob, top


def _checked_response(check: _Checker, seen: set[str]) -> _Read:
    """One response read field by field: raises ValueError at the first problem."""
    rid = check.child("response_id").string() or ""
    if not rid:
        raise check.child("response_id").fail("must not be empty.")
    if rid in seen:
        raise check.child("response_id").fail(f"{rid!r} appears twice.")
    parent_check = check.child("parent_response_id")
    parent = parent_check.string(allow_none=True) or ""
    if parent and parent not in seen:
        raise parent_check.fail(
            f"names {parent!r}, which does not come before it (parents must come first)."
        )
    sender = check.child("sender").string()
    if sender not in ("human", "model"):
        raise check.child("sender").fail(f'must be "human" or "model", not {sender!r}.')
    message = check.child("message").string() or ""
    prefix_length = check.child("prefix_length", False, 0).integer(0, len(message))
    wire = chat_pb2.Response(
        response_id=rid,
        parent_response_id=parent,
        sender=sender,
        message=message,
        manual=check.child("manual", False, False).boolean(),
        partial=check.child("partial", False, False).boolean(),
        shared=check.child("shared", False, False).boolean(),
        query=check.child("query", False, "").string() or "",
        query_type=check.child("query_type", False, "").string() or "",
        model_name=check.child("model_name", False, "").string() or "",
        token_count=check.child("token_count", False, 0).integer(0, _MAX_INT32),
        time_to_first_token_seconds=check.child("time_to_first_token_seconds", False, 0.0).number()
        or 0.0,
        total_time_seconds=check.child("total_time_seconds", False, 0.0).number() or 0.0,
        prefix_length=prefix_length,
        finish_reason=_finish_reason(check.child("finish_reason", False, "")),
    )
    sampling = _sampling(check.child("sampling_params", False))
    if sampling is not None:
        wire.sampling_params.CopyFrom(sampling)
    annotation = _annotation(check.child("annotation", False))
    if annotation is not None:
        wire.annotation.CopyFrom(annotation)
    for judgement in check.child("judgements", False, []).items():
        wire.judgements.append(_judgement(judgement))
    usage = check.child("reported_usage", False)
    if usage.value is not None:
        wire.reported_usage.prompt_tokens = usage.child("prompt_tokens", False, 0).integer(
            0, _MAX_INT32
        )
        wire.reported_usage.completion_tokens = usage.child("completion_tokens", False, 0).integer(
            0, _MAX_INT32
        )
    _merge(check, wire, seen)
    _replay(check, wire, seen)
    tokens_check = check.child("tokens", False)
    tokens = [_token(t) for t in tokens_check.items(allow_none=True)]
    if tokens and sender != "model":
        raise tokens_check.fail("only model replies carry tokens.")
    return wire, tokens


def _merge(check: _Checker, wire: chat_pb2.Response, seen: set[str]) -> None:
    """A fused reply's sources, mode and instruction (absent for every other response).

    Sources are ids of this file, like parents, and must come before the reply; the
    server gives them new ids with the rest.
    """
    sources_check = check.child("merged_from", False)
    sources = [item.string() or "" for item in sources_check.items(allow_none=True)]
    if not sources:
        return
    for source in sources:
        if source not in seen:
            raise sources_check.fail(
                f"names {source!r}, which does not come before it (sources must come first)."
            )
    mode_check = check.child("merge_mode")
    mode = mode_check.string() or ""
    if mode not in MERGE_MODE_NUMBERS:
        raise mode_check.fail(f"must be one of {', '.join(MERGE_MODE_NUMBERS)}, not {mode!r}.")
    wire.merged_from.extend(sources)
    wire.merge_mode = cast("chat_pb2.MergeMode", MERGE_MODE_NUMBERS[mode])
    wire.merge_instruction = check.child("merge_instruction", False, "").string() or ""


def _replay(check: _Checker, wire: chat_pb2.Response, seen: set[str]) -> None:
    """A replayed turn's original and a sampled reply's system prompt name (both optional).

    The original is an id of this file, like a parent, and comes before its replay; the
    server gives it the new id with the rest.
    """
    original_check = check.child("replay_of", False, "")
    original = original_check.string(allow_none=True) or ""
    if original and original not in seen:
        raise original_check.fail(
            f"names {original!r}, which does not come before it (originals must come first)."
        )
    wire.replay_of = original
    prompt = check.child("system_prompt_name", False).string(allow_none=True)
    if prompt is not None:
        wire.system_prompt_name = prompt
