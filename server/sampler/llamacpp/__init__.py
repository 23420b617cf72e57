"""An in-process local model: a GGUF file run by llama.cpp (the optional `local` extra).

Grove talks to the model directly rather than through a chat endpoint, which buys three
things no HTTP server gives it:

- Exact branch-from-token: Grove renders the model's own chat template (from the GGUF
  metadata) with the assistant turn left open and appends the given prefix, so a prefix is
  continued exactly, as the model's own text.
- Log-probabilities at no extra cost: the logits are at hand for every token, so each token
  carries its logprob and top alternatives of the distribution actually sampled from
  (temperature, then top-p), and a seed reproduces a reply.
- One copy of the model in memory, shared by every conversation, with the shared start of
  the prompt (the path so far) kept in the KV cache between replies.

Generation never runs on the server's event loop: each step runs on the model's own thread.
One reply is generated at a time per loaded model; further requests wait in a bounded queue
(`max_waiting`), and a request beyond it gets RESOURCE_EXHAUSTED with a sentence.

The package: settings.py (a backend's configuration), distribution.py (logits → the
distribution sampled from, a seeded choice, alternatives), model.py (the loaded model:
templates, tokens, evaluation on its thread), sampler.py (`LlamaCppSampler`).
"""

from grove_explorer.server.sampler.llamacpp.settings import LlamaCppSettings, check_model_file

__all__ = ["LlamaCppSettings", "check_model_file"]
