"""A loaded GGUF model: its chat template, its tokenizer, and evaluation on its own thread.

Every method that touches llama.cpp's context runs on the model's single worker thread
(`LocalModel.run`), so the event loop never waits for a forward pass and two replies never
share the context at once. The KV cache keeps the tokens last evaluated: a reply whose
prompt starts the same way (a sibling, the next turn of the path) evaluates only what is new.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from grove_explorer.server.sampler.base import PathMessage
from grove_explorer.server.sampler.llamacpp.settings import (
    DEFAULT_CONTEXT_CAP,
    LlamaCppSettings,
    default_threads,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_ROLES = {"human": "user", "model": "assistant"}


class TemplateRefusedError(ValueError):
    """The model's chat template refuses this conversation (its own sentence attached)."""


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the log and ListModels say about a loaded model."""

    description: str  # llama.cpp's, e.g. "llama 135M Q4_1"
    context_tokens: int
    trained_context_tokens: int
    has_chat_template: bool


class LocalModel:
    """One GGUF model loaded by llama-cpp-python, confined to one worker thread."""

    def __init__(self, settings: LlamaCppSettings) -> None:
        self._settings = settings
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"grove-llama-{settings.name}")
        self._llama: Any = None  # llama_cpp.Llama once loaded
        self._formatter: Any = None  # llama_cpp's Jinja2ChatFormatter, when the GGUF has one
        self.facts: ModelFacts | None = None

    async def run(self, work: Callable[[], T]) -> T:
        """Runs `work` on the model's thread (one at a time, in the order asked)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def close(self) -> None:
        """Frees the model once the thread's queued work is done."""

        def free() -> None:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

        self._thread.submit(free)
        self._thread.shutdown(wait=True)

    # On the model's thread.

    def load(self) -> ModelFacts:
        """Loads the file (the slow part of a start: seconds for a large model)."""
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        s = self._settings
        size = s.model_path.stat().st_size
        log.info(
            "backend %r: loading %s (%.0f MB) on %d threads…",
            s.name,
            s.model_path,
            size / 1e6,
            s.threads or default_threads(),
        )
        started = time.monotonic()
        probe_context = s.context_tokens or DEFAULT_CONTEXT_CAP
        threads = s.threads or default_threads()

        def open_model(context: int) -> Any:
            return Llama(
                model_path=str(s.model_path),
                n_ctx=context,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )

        llama = open_model(probe_context)
        trained = int(llama._model.n_ctx_train())
        if s.context_tokens is None and trained < probe_context:
            llama.close()  # a smaller model context than the cap: reserve only that
            llama = open_model(trained)
        template = llama.metadata.get("tokenizer.chat_template")
        if template:
            model = llama._model
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(llama.token_eos()),
                bos_token=model.token_get_text(llama.token_bos()),
            )
        self._llama = llama
        self.facts = ModelFacts(
            description=str(llama._model.desc()),
            context_tokens=int(llama.n_ctx()),
            trained_context_tokens=trained,
            has_chat_template=bool(template),
        )
        log.info(
            "backend %r: loaded %s in %.1f s; context %d tokens; %s",
            s.name,
            self.facts.description,
            time.monotonic() - started,
            self.facts.context_tokens,
            "chat template from the GGUF" if template else "no chat template in the GGUF",
        )
        return self.facts

    def chat_prompt(
        self, path: Sequence[PathMessage], system_prompt: str | None, prefix: str
    ) -> list[int]:
        """The path in the chat template, assistant turn open, then `prefix`, as tokens.

        What the model continues.
        Raises TemplateRefusedError when the template refuses the conversation even with
        consecutive messages of one sender joined (some templates insist on alternation).
        """
        messages = [{"role": _ROLES[m.sender], "content": m.text} for m in path]
        if system_prompt is not None:
            messages.insert(0, {"role": "system", "content": system_prompt})
        return self.messages_prompt(messages, prefix)

    def messages_prompt(self, messages: list[dict[str, str]], prefix: str = "") -> list[int]:
        """Chat messages (role, content) in the template, the assistant turn open, + prefix."""
        if self._formatter is None:
            raise TemplateRefusedError(
                "the model file has no chat template (a base model?); it can only continue "
                "text, not answer a conversation"
            )
        try:
            text = self._render(messages)
        except Exception:
            try:
                text = self._render(_alternating(messages))
            except Exception as error:
                raise TemplateRefusedError(str(error) or type(error).__name__) from error
        return self.tokenize(text + prefix)

    def document_prompt(self, document: str) -> list[int]:
        """A plain document as tokens (completion mode), with the model's BOS if it wants one.

        Special-token text in the document stays text: a document is data, not markup.
        """
        if not document:
            raise TemplateRefusedError("there is no text to continue")
        add_bos = bool(self._llama._model.add_bos_token())
        tokens: list[int] = self._llama.tokenize(
            document.encode("utf-8"), add_bos=add_bos, special=False
        )
        return tokens

    def tokenize(self, text: str) -> list[int]:
        """Tokens of `text`, the template's special tokens read as such.

        No extra BOS: templates that want one write it.
        """
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def evaluate(self, prompt: Sequence[int]) -> npt.NDArray[np.float32]:
        """Puts `prompt` in the context; returns the logits for the next token.

        The start it shares with the tokens evaluated last is reused from the KV cache.
        The last token is always evaluated on its own: a batch of tokens and a single one
        go through different kernels (matrix-matrix, matrix-vector) whose sums differ in
        the last bits, and a resample finds all but the last prompt token cached. With
        the last token alone either way, the first reply and its resample start from the
        same logits, so a seed reproduces a reply (on an AVX-512 machine the batched
        logits differed enough to change a draw at temperature 1).
        """
        llama = self._llama
        cached = int(llama.n_tokens)
        shared = 0
        limit = min(cached, len(prompt))
        ids = llama.input_ids
        while shared < limit and ids[shared] == prompt[shared]:
            shared += 1
        shared = min(shared, len(prompt) - 1)  # the last token is evaluated for its logits
        if getattr(llama, "_is_recurrent", False) or getattr(llama, "_is_hybrid", False):
            shared = 0  # a recurrent state cannot be cut back to a prefix
            llama.reset()
        llama.n_tokens = shared
        head = list(prompt[shared:-1])
        if head:
            llama.eval(head)
        llama.eval([prompt[-1]])
        return self._logits()

    def advance(self, token: int) -> npt.NDArray[np.float32]:
        """Appends one chosen token; returns the logits for the next."""
        self._llama.eval([token])
        return self._logits()

    def _logits(self) -> npt.NDArray[np.float32]:
        llama = self._llama
        row = llama._ctx.get_logits_ith(-1)
        logits: npt.NDArray[np.float32] = np.ctypeslib.as_array(row, shape=(llama.n_vocab(),))
        return logits.copy()

    # Anywhere (read-only facts of the vocabulary).

    def is_end(self, token: int) -> bool:
        """Whether `token` ends a turn (EOS, or the template's end-of-turn token)."""
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._llama._model.vocab, token))

    def piece(self, token: int) -> bytes:
        """The bytes of one token (a character may span several tokens)."""
        piece: bytes = self._llama.detokenize([token])
        return piece

    def piece_text(self, token: int) -> str:
        """One token as text, for the alternatives list (a split character shows as �)."""
        return self.piece(token).decode("utf-8", errors="replace")

    @property
    def context_tokens(self) -> int:
        """How many tokens the context holds (prompt and reply together)."""
        return int(self._llama.n_ctx())

    def _render(self, messages: list[dict[str, str]]) -> str:
        prompt: str = self._formatter(messages=messages).prompt
        return prompt


def _alternating(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Consecutive messages of one role joined by a blank line (model → model replies)."""
    joined: list[dict[str, str]] = []
    for message in messages:
        if joined and joined[-1]["role"] == message["role"]:
            last = joined[-1]
            content = f"{last['content']}\n\n{message['content']}"
            joined[-1] = {"role": last["role"], "content": content}
        else:
            joined.append(dict(message))
    return joined


class TextAssembler:
    """Turns token bytes into text as they come.

    A character split across tokens is held back until it is whole, so every streamed
    piece is valid text.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, piece: bytes) -> str:
        """The text `piece` completes ("" while a character is still incomplete)."""
        return self._decoder.decode(piece)

    def flush(self) -> str:
        """Whatever is still held (a broken character shows as �)."""
        return self._decoder.decode(b"", final=True)
