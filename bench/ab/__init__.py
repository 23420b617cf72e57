"""A/B of two servers under the same bursts, in alternating rounds (a noisy machine's A/B).

Usage: `python -m bench.ab [--rounds 8] [--streams 200] [--tokens 150]
[--args-a FLAGS] [--args-b FLAGS] [--env-a K=V ...] [--env-b K=V ...]
[--python-a PY] [--python-b PY] [--quick]`.

On a shared 2-core machine one run of `bench.load` against another moves by more than most
changes do (time to first token p99 from ~200 to ~300 ms between two runs of the same
code), so wall-clock A/B runs one after the other could not show 10-20 ms. Here both
servers run side by side on their own temporary SQLite files and take turns: each round
starts `--streams` AddResponse streams at once on one of them (through bare stubs, as
`resumable` as the SDK's), then the same on the other, the order swapped every round, so
whatever else the machine does falls on both alike. Per round and server it records the
p99 time to first token and the p99 gap between token messages; it prints every round and
the medians, and in how many rounds A was faster.

The two servers differ by their flags (`--args-a/-b`, e.g. `--batch-interval-ms 35`), their
environment (`--env-a/-b`), or their code: `--python-a/-b` names another interpreter,
e.g. the virtual environment of a checkout of another commit
(`git worktree add ../base REV && python -m venv ../base/.venv && ../base/.venv/bin/pip
install -e ../base`).
"""
