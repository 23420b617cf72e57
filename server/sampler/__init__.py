"""Text models the server samples replies from."""

OFFLINE_MODEL_NAME = "grove-offline-ngram"
"""The built-in offline model's name; here, not in `base` (the sampler interface), so that
naming it loads none of the samplers' code: every `grove` checks its model flags and
config against it (`server.backends`) before it runs any command (issue 13: start-up).
`base` re-exports it."""
