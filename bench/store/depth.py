"""Part `depth` of bench.store: what a deep path costs to extend, on the server and the SDK.

Usage: `python -m bench.store --part depth [--quick]`.

What it measures (issue 13: "`AddModelResponse` at depth 5,000 vs depth 1 … flat: ≤ 1.5x
depth 1" and "building a 5,000-deep path through the SDK … < 15 s"):

- The server runs as a subprocess on 127.0.0.1 (`python -m grove_explorer.server`,
  `grove_explorer.server.launcher.ServerProcess`) with a temporary SQLite file and its
  defaults (offline model, no token delay, durability "normal"), so the client's and the
  server's CPU are separate processes, as for a user of `grove` or a script.
- (1) AddModelResponse at depth. A conversation holding a D-response chain (alternating
  human and manual model messages; D = 5,000, or 200 with `--quick`) is created with one
  ImportConversation. Then AddModelResponse is called with the raw stub, alternately under
  the chain's last response (depth D) and under its root (depth 1), `ROUNDS` times each
  after a few warm-up calls; each call is timed from request to answer. Each call stores a
  new reply beside the earlier ones, so the chain itself never grows. Figure: the median
  latency at each depth and their ratio; goal: ratio ≤ 1.5 (flat).
- (2) A deep path through the SDK. A script's loop: `Conversation.add_response(message)`
  from the leaf, its token stream iterated to the end and its future awaited, D / 2 times
  (each turn stores a human message and a sampled reply: a D-deep path). The offline model
  samples each reply (`max_tokens` 16, so sampling stays a small, constant share). Figure:
  the whole loop's wall time, and the time of the last 10% of turns against the first 10%
  (how the cost per turn grows with depth); goal: < 15 s for D = 5,000. `--quick` builds
  200: its goal is the same budget per turn (15 s / 2,500 turns) times its 100 turns.
  The loop also checks that the forest's current path is D deep at the end.

Timings on a loaded machine are pessimistic; the ratio in (1) and the growth in (2) say
whether the cost depends on depth.

Where a turn of (2) goes (issue 13, callgrind of the server over 100 turns): ~9.8M
instructions at depth 200 and ~10.3M at depth 5,000 (before: 11.3M and 20.7M). About half
is the offline model (topic conditioning of the new path, then a sampling table per token:
every turn's path is new, so no table is shared), the rest gRPC, asyncio and SQLite. What
used to grow with depth: memo keys that hashed the whole path, copies of the path per turn
(now `SharedPath`s that a turn appends to), and the conversation's response count read by
AddResponse's conversation check. The client takes ~1.5 ms of CPU per turn, most in gRPC.
A select_reply turn with a human message starts following the stream in the message's
insert (one store write and trip where it was two): 9.16M → 8.92M server instructions
per turn at depth ~100 (callgrind, 100 turns after 20 warm-up). Left per turn: six
`context.write`s (human message, budget, first token, the other tokens, budget, reply; the
wire format fixes them), two reads (conversation, parent), and the offline model.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.goals import Goal
from grove_explorer.client import Client
from grove_explorer.client.sampler import SamplingParams
from grove_explorer.protos import chat_pb2
from grove_explorer.server.launcher import ServerProcess

ROUNDS = 40
"""AddModelResponse calls timed at each depth."""
WARM_UP = 5
REPLY_TOKENS = 16
"""Tokens of each sampled reply in (2): small, so the path, not sampling, dominates."""
FULL_DEPTH = 5_000
QUICK_DEPTH = 200
SDK_GOAL_SECONDS = 15.0
FLAT_GOAL = 1.5


def chain_request(depth: int) -> chat_pb2.ImportConversationRequest:
    """An import of a `depth`-long chain: human and manual model messages alternating."""
    request = chat_pb2.ImportConversationRequest(title="deep chain")
    parent = ""
    for index in range(depth):
        human = index % 2 == 0
        response_id = f"r{index}"
        request.responses.append(
            chat_pb2.Response(
                response_id=response_id,
                parent_response_id=parent,
                sender="human" if human else "model",
                manual=not human,
                message=f"message {index}: what grows in a garden of forking paths?",
            )
        )
        parent = response_id
    return request


async def _add_model_response(client: Client, depth: int) -> list[Goal]:
    """Figure (1): AddModelResponse latency under the chain's last response and its root."""
    stub = client.stub
    created: chat_pb2.Conversation = await stub.ImportConversation(chain_request(depth))
    conversation_id = created.conversation_id
    loaded: chat_pb2.Conversation = await stub.GetConversation(
        chat_pb2.GetConversationRequest(conversation_id=conversation_id)
    )
    root_id = loaded.responses[0].response_id
    deep_id = loaded.responses[-1].response_id

    async def timed(parent_id: str) -> float:
        started = time.perf_counter()
        await stub.AddModelResponse(
            chat_pb2.AddModelResponseRequest(
                conversation_id=conversation_id,
                message="a reply written by hand",
                parent_response_id=parent_id,
            )
        )
        return time.perf_counter() - started

    for _ in range(WARM_UP):
        await timed(deep_id)
        await timed(root_id)
    deep: list[float] = []
    shallow: list[float] = []
    for _ in range(ROUNDS):
        deep.append(await timed(deep_id))
        shallow.append(await timed(root_id))
    deep_ms = statistics.median(deep) * 1000
    shallow_ms = statistics.median(shallow) * 1000
    ratio = deep_ms / shallow_ms
    return [
        Goal(
            f"AddModelResponse at depth {depth:,} vs 1 (median of {ROUNDS})",
            f"{deep_ms:.1f} ms vs {shallow_ms:.1f} ms = {ratio:.2f}x",
            f"<= {FLAT_GOAL}x",
            ratio <= FLAT_GOAL,
        )
    ]


async def _sdk_path(client: Client, depth: int) -> list[Goal]:
    """Figure (2): a `depth`-deep path built with `add_response` in a loop."""
    conversation = client.grok.create_conversation()
    await conversation.ensure_created()
    turns = depth // 2
    sampling = SamplingParams(max_tokens=REPLY_TOKENS, seed=7)
    per_turn: list[float] = []
    started = time.perf_counter()
    for turn in range(turns):
        began = time.perf_counter()
        tokens, future = conversation.add_response(
            f"turn {turn}: tell me about the garden's paths", sampling=sampling
        )
        async for _ in tokens:
            pass
        await future
        per_turn.append(time.perf_counter() - began)
    total = time.perf_counter() - started
    await conversation.leaf_saved()
    tenth = max(1, turns // 10)
    first = statistics.mean(per_turn[:tenth]) * 1000
    last = statistics.mean(per_turn[-tenth:]) * 1000
    stored = len(conversation.forest.current_path)
    if stored != depth:
        raise RuntimeError(f"the SDK path is {stored} deep, expected {depth}")
    goal = SDK_GOAL_SECONDS * depth / FULL_DEPTH
    return [
        Goal(
            f"{depth:,}-deep path through the SDK ({turns:,} add_response)",
            f"{total:.2f} s",
            f"< {goal:g} s",
            total < goal,
        ),
        Goal(
            "  per turn: first 10% vs last 10%",
            f"{first:.1f} ms vs {last:.1f} ms",
            "(growth with depth)",
            None,
        ),
    ]


async def run(quick: bool) -> list[Goal]:
    """Measures both figures against one fresh server; `quick` uses depth 200."""
    depth = QUICK_DEPTH if quick else FULL_DEPTH
    with tempfile.TemporaryDirectory(prefix="grove-bench-depth-") as tmp:
        async with ServerProcess(Path(tmp) / "bench.sqlite3") as server:
            client = Client(api_host=server.address)
            try:
                goals = await _add_model_response(client, depth)
                goals += await _sdk_path(client, depth)
            finally:
                await client.close()
    return goals
