"""Checking that a chat endpoint really continued a given prefix (a branch from a token).

Chat endpoints differ: vLLM continues a trailing assistant message when asked
(`continue_final_message`); others (llama-cpp-python's server, many proxies) close the
assistant turn and start a new one, so "continuing" `Oak trees are` yields the template's
next turn — an echo of the question, `[/INST]`, role markers. Stored as the branch, that
is garbage that looks like a model's reply. The first characters of a prefixed reply are
therefore held back until they show a continuation; a reply that starts a new turn fails
with a sentence before anything is streamed or stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from grove_explorer.server.sampler.base import PathMessage, SampledToken

# How much of the continuation is looked at before it is let through.
CHECK_CHARS = 120
# Chat-template markers of the common model families: none belongs inside a reply.
TURN_MARKERS = (
    "[INST]",
    "[/INST]",
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
    "<|endoftext|>",
    "</s>",
)
# A continuation that repeats this much of the question is an echo of the prompt.
_ECHO_CHARS = 24


class PrefixCheck:
    """Holds a prefixed reply's first tokens until they show the prefix was continued."""

    def __init__(self, path: Sequence[PathMessage]) -> None:
        asked = next((m.text for m in reversed(path) if m.sender == "human"), "")
        self._echo = " ".join(asked.split())[:_ECHO_CHARS] if len(asked) >= _ECHO_CHARS else ""
        self._held: list[SampledToken] = []
        self._chars = 0
        self._passed = False

    def feed(self, tokens: list[SampledToken]) -> list[SampledToken]:
        """The tokens that may go out now (none while still holding back).

        Raises ValueError (its message says what was seen) when the held text starts a
        new turn instead of continuing.
        """
        if self._passed:
            return tokens
        self._held.extend(tokens)
        self._chars += sum(len(t.text) for t in tokens)
        if self._chars < CHECK_CHARS:
            return []
        return self.release()

    def release(self) -> list[SampledToken]:
        """Checks what is held (at the end of the reply, or once enough has come)."""
        if self._passed:
            return []
        text = "".join(t.text for t in self._held)
        marker = next((m for m in TURN_MARKERS if m in text), None)
        if marker is not None:
            raise ValueError(f"its reply holds the chat-template marker {marker!r}")
        if self._echo and self._echo in " ".join(text.split()):
            raise ValueError("its reply repeats the question instead of continuing the prefix")
        self._passed = True
        held, self._held = self._held, []
        return held
