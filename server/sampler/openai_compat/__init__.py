"""A sampler for any OpenAI-compatible chat-completions endpoint.

xAI, OpenAI, Ollama, vLLM, llama.cpp's server and LM Studio all speak the same
`/v1/chat/completions` protocol, so one sampler built on the `openai` package's `AsyncOpenAI`
covers them all: the library does the HTTP, SSE parsing, retries and timeouts, and this
module maps Grove's path and parameters onto a request, the streamed chunks onto
`SampledToken`s, and the library's exceptions onto `SamplerError`s whose sentences tell the
person at the terminal what to check.

Points of care, and why:

- Log-probabilities are optional in the wild. In "auto" mode the first request asks for
  them; a server that refuses the parameter (HTTP 400/422 mentioning logprobs) is asked
  again once without, and the sampler remembers not to ask again. A token whose probability
  is unknown gets `logprob=None`, never a fake certainty.
- A delta may hold several tokens. When the logprob entries spell the delta exactly, each
  entry becomes its own token; otherwise the whole delta is one token, so the text the user
  sees is always exactly what the backend sent.
- Closing matters: a reply the user abandons must stop costing upstream tokens, so the HTTP
  stream is closed whenever the consumer stops early (`aclose()` or cancellation).
- Error sentences name the backend, its URL or its key's environment variable, and never the
  key itself: upstream messages are scrubbed of it before they are quoted.

The package: settings.py (a backend's configuration), chunks.py (requests and streamed
chunks), errors.py (failures as sentences), titles.py (title requests and answers),
sampler.py (`OpenAICompatibleSampler`).
"""

from grove_explorer.server.sampler.openai_compat.sampler import OpenAICompatibleSampler
from grove_explorer.server.sampler.openai_compat.settings import (
    MAX_SEED,
    MAX_TEMPERATURE,
    MAX_TOP_LOGPROBS,
    PLACEHOLDER_API_KEY,
    OpenAIBackendSettings,
)
from grove_explorer.server.sampler.openai_compat.titles import clean_title

__all__ = [
    "MAX_SEED",
    "MAX_TEMPERATURE",
    "MAX_TOP_LOGPROBS",
    "PLACEHOLDER_API_KEY",
    "OpenAIBackendSettings",
    "OpenAICompatibleSampler",
    "clean_title",
]
