"""A local GGUF backend as the server's configuration describes it, and the checks at start."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

GGUF_MAGIC = b"GGUF"
INSTALL_HINT = "pip install 'grove-explorer[local]'"
# The context a model gets when the configuration names none: its training context, capped
# so a laptop does not reserve the KV cache of a 128k-token model.
DEFAULT_CONTEXT_CAP = 4096


def default_threads() -> int:
    """Half the cores.

    llama.cpp's threads spin while they wait, so a thread per core slows everything else
    (and itself, several times over, once another process takes a core).
    """
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True, slots=True)
class LlamaCppSettings:
    """One local GGUF model, as configured (see README "Local models")."""

    name: str  # Grove's name for the backend, recorded on responses
    model_path: Path
    description: str = ""
    temperature: float = 0.7  # defaults for unset request parameters
    top_p: float = 0.95
    max_tokens: int = 512
    context_tokens: int | None = None  # None: the model's own, capped at DEFAULT_CONTEXT_CAP
    threads: int | None = None  # None: default_threads()
    max_waiting: int = 16  # requests queued behind the one being generated


class ModelFileError(ValueError):
    """The configured model cannot be used; the message says why and what to do."""


def check_model_file(path: Path, backend: str) -> None:
    """Checks, before the server starts, that the backend can load `path` at all.

    Raises ModelFileError naming the file when llama-cpp-python is missing, or the file is
    missing, unreadable or not a GGUF file, so a typo fails at start, not at the first reply.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelFileError(
            f"backend {backend!r} runs a local model, which needs llama-cpp-python: {INSTALL_HINT}"
        )
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except FileNotFoundError:
        raise ModelFileError(f"backend {backend!r}: model file {path} does not exist.") from None
    except IsADirectoryError:
        raise ModelFileError(
            f"backend {backend!r}: model file {path} is a directory; give the .gguf file."
        ) from None
    except OSError as error:
        raise ModelFileError(
            f"backend {backend!r}: cannot read model file {path}: {error.strerror}."
        ) from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"backend {backend!r}: {path} is not a GGUF model file (llama.cpp reads .gguf "
            "files; convert other formats with llama.cpp's convert_hf_to_gguf.py)."
        )
