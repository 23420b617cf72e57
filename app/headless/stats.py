"""`grove stats CONV`: the spread of one batch of sibling replies, without network.

The batch is the siblings of the path's last model reply (the path to `--leaf`, else to
your place, as `grove show` and `grove sample` take it): every model reply to that
reply's parent, sampled or hand-written. Their token logprobs come in one call
(`Response.tokens_of`). Similarity is by embeddings when a model offers them (the flag
`--embeddings-model NAME`, else automatically the conversation's model when its
`supports_embeddings` is true; `--no-embeddings` turns that off), else by ROUGE-L of
words; the report says which, and why embeddings were not used when they were expected.
The statistics themselves are `client.spread`; this module fetches, decides and prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from grove_explorer.app.headless.common import (
    CommandError,
    Outcome,
    find_leaf,
    open_conversation,
    sentence,
)
from grove_explorer.app.safe_text import clean
from grove_explorer.client import AsyncGrok, Conversation, GroveError, Response
from grove_explorer.client.export import dumps
from grove_explorer.client.spread import SpreadSample, render_report, spread_report
from grove_explorer.client.spread.samples import sample_of
from grove_explorer.client.spread.similarity import embeddable, place_vectors


def batch_of(conversation: Conversation, leaf: Response) -> tuple[Response, list[Response]]:
    """The path's last model reply and the model replies beside it (itself included)."""
    path = conversation.forest.path_to(leaf.response_id)
    last = next((node for node in reversed(path) if node.sender == "model"), None)
    if last is None:
        raise CommandError(
            f"the path to {leaf.response_id[:12]} has no model reply: there is no batch to "
            "read (sample one with `grove sample`)."
        )
    ids = conversation.forest.siblings_of(last.response_id)
    replies = [conversation.get_response(rid) for rid in ids]
    return conversation.get_response(last.response_id), [r for r in replies if r.sender == "model"]


async def _embedding_model(
    grok: AsyncGrok, conversation: Conversation, last: Response, args: argparse.Namespace
) -> tuple[str, str]:
    """(the Grove model to embed with or "", a note on the choice for the report)."""
    if args.no_embeddings:
        return "", ""
    if args.embeddings_model:
        return args.embeddings_model, ""
    try:
        catalog = await grok.list_models()
    except GroveError:
        return "", ""
    name = conversation.path_model(last.response_id) or catalog.default_model
    model = catalog.model(name)
    if model is not None and model.supports_embeddings:
        return model.name, ""
    return "", ""


async def _embeddings(
    grok: AsyncGrok, samples: Sequence[SpreadSample], model: str, explicit: bool
) -> tuple[list[list[float]] | None, str, str]:
    """(vectors or None, the backend's embeddings model, a note when falling back).

    Empty replies cannot be embedded (endpoints refuse empty input): they get a zero
    vector, which is unrelated to every other sample. An explicit `--embeddings-model`
    that fails is an error; an automatic one falls back to word overlap and says why.
    """
    texts = [s.text for s in samples]
    wanted = embeddable(texts)
    if not wanted:
        return None, "", "Every reply is empty: nothing to embed."
    try:
        result = await grok.embed(wanted, model_name=model)
    except GroveError as error:
        if explicit:
            raise CommandError(sentence(error.message)) from None
        return None, "", f"Embeddings failed ({sentence(error.message)}); word overlap used."
    return place_vectors(texts, result.vectors), result.embeddings_model, ""


async def cmd_stats(grok: AsyncGrok, args: argparse.Namespace) -> Outcome:
    """`grove stats CONV`: similarity, clusters, order, votes, disagreement, distributions."""
    conversation = await open_conversation(grok, args.conv)
    leaf = find_leaf(conversation, args.leaf)
    if leaf is None:
        raise CommandError(
            f"conversation {conversation.conversation_id} is empty: there is no batch to read."
        )
    last, replies = batch_of(conversation, leaf)
    tokens = await Response.tokens_of(replies)
    samples = [sample_of(r, [t.logprob for t in tokens.get(r.response_id, [])]) for r in replies]
    model, note = await _embedding_model(grok, conversation, last, args)
    vectors, embeddings_model = None, ""
    if model and len(samples) > 1:
        vectors, embeddings_model, note = await _embeddings(
            grok, samples, model, explicit=bool(args.embeddings_model)
        )
    report = spread_report(
        samples, vectors, embeddings_model=embeddings_model, threshold=args.threshold, note=note
    )
    if args.json:
        payload = {
            "conversation_id": conversation.conversation_id,
            "parent_response_id": last.parent_response_id,
            "response_ids": [r.response_id for r in replies],
            "embeddings_from": model if vectors is not None else None,
            **report.to_json(),
        }
        return Outcome(dumps(payload) + "\n")
    lines = render_report(report)
    models = sorted({r.model_name or "(hand-written)" for r in replies})
    parent = (last.parent_response_id or "the root")[:12]
    head = f"{conversation.conversation_id[:12]}: replies to {parent}"
    lines.insert(0, f"{head} · models: {', '.join(models)}")
    return Outcome("".join(clean(line) + "\n" for line in lines))
