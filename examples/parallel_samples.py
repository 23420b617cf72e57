"""Samples several replies to one message at once and compares them.

`Conversation.sample` runs streams side by side with explicit parents (the server keeps
the forest consistent); `add_response` and `Response.resample` are the seed's one-at-a-time
flow, and starting a second one while the first still streams raises
`ConcurrentSamplingError`.

Usage: XAI_API_HOST=127.0.0.1:50051 python examples/parallel_samples.py "your question"
"""

import asyncio
import sys

import grove_explorer.client as xai_sdk
from grove_explorer.client.streams import TokensEvent


async def main(question: str) -> None:
    """Asks `question`, then samples three more replies in parallel and prints all four."""
    async with xai_sdk.Client() as sdk:
        conversation = sdk.grok.create_conversation()
        stream, future = conversation.add_response(question)
        async for _ in stream:
            pass
        first = await future

        # The seed's flow allows one stream per conversation at a time.
        stream, _ = await first.resample()
        await anext(stream)  # the first resample is now streaming
        try:
            second, _ = await first.resample()
            await anext(second)
        except xai_sdk.ConcurrentSamplingError as error:
            print(f"as documented: {error}")
        await stream.aclose()  # cancel it (the server keeps its partial text)

        # Parallel samples: siblings of the first reply, each with its own seed.
        async def one(seed: int) -> str:
            sample = conversation.sample(
                parent_response_id=first.parent_response_id,
                sampling=xai_sdk.SamplingParams(seed=seed, max_tokens=60),
            )
            tokens = 0
            async for event in sample:
                if isinstance(event, TokensEvent):
                    tokens += len(event.texts)
            reply = await sample.future
            return f"seed {seed}: {tokens} tokens: {reply.message[:60]!r}"

        for line in await asyncio.gather(*(one(seed) for seed in (1, 2, 3))):
            print(line)
        siblings = [r.response_id for r in conversation.get_children(first.parent_response_id)]
        print(f"{len(siblings)} replies to the question")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "Tell me about oak trees."))
