"""Load benchmark: many concurrent reply streams against one real server, on loopback.

Usage: `python -m bench.load [--streams 200] [--tokens-per-second 50] [--tokens 150]
[--duration-limit 120] [--client-procs K] [--probe-server-loop] [--server-args FLAGS]
[--busy-core | --alone] [--profile-server FILE] [--callgrind DIR] [--skip-cap-check] [--floor]
[--quick]`.

Issue 13's goals, printed at the end as a now-vs-goal table (`bench.goals`) with PASS/FAIL:
p99 time to first token < 150 ms alone (every stream starts at once, so this is the last
of 200 human messages stored and acknowledged, then its first token), and p99 gap between
token messages < 50 ms with another process using one core; plus 0 errors, 0 lost
replies, and RESOURCE_EXHAUSTED over the cap.

What it measures (the issue's wording: "a load run (outside the unit tests, bounded in
time, loopback only) of 200 concurrent streams at 50 tokens/s each, printing streams/s,
p50/p99 time to first token, p99 gap between token messages, server CPU, and errors; then
count stored responses: nothing lost. Targets: 0 errors, 0 lost, p99 gap < 50 ms. Set a
server-side cap on concurrent streams (`--max-streams`) that answers RESOURCE_EXHAUSTED
beyond it."):

- The Chat server runs as a subprocess on 127.0.0.1
  (`python -m grove_explorer.server --port 0`), with a
  temporary SQLite file, `--token-delay-ms` = 1000 / tokens-per-second (20 ms for 50
  tokens/s), `--offline-min-tokens` = `--tokens` (so every reply is exactly that long) and
  `--max-streams` a little above `--streams` (the run itself must never hit the cap). A
  separate process is the only way to see the server's CPU apart from the client's: its
  utime+stime are read from `/proc/<pid>/stat` before and after the streaming phase.
- The client side uses the SDK as an application would: one conversation per stream
  (`create_conversation` + `ensure_created`, before the clock starts), then every stream
  starts at once with `Conversation.sample(prompt, parent_response_id=None, sampling=...)`
  and its typed events are iterated. Per stream: time to first token (request start to the
  first `TokensEvent`), the gap between consecutive `TokensEvent`s (each is one wire
  message; the server batches tokens every `--batch-interval-ms`, 15 ms by default, which at
  one token per 20 ms means one token per message, so the ideal gap is ~20 ms), tokens and
  text received, and any exception (counted by type, first message kept).
- All streams share one gRPC channel per client process. The Grove server sets no
  `grpc.max_concurrent_streams`, and extra `Client` objects in one process would not
  help anyway: channels with the same target and arguments share one subchannel (one TCP
  connection) through gRPC's global subchannel pool. Checked rather than assumed: with a
  per-connection limit, the streams beyond it would wait a whole reply for their first
  token; with 200 and with 300 streams on one channel the TTFT max stayed below one
  reply's duration, nearly all of it spent before the stored human message came back.
- `--client-procs K` splits the streams over K worker processes (`python -m bench.load
  --worker ...`), each with its own event loop and connection: it answers whether one
  Python client process, not the server, is what delays token messages. Workers open their
  conversations, say READY, start streaming when the parent writes GO, and print their
  records as one JSON line; the parent merges them (perf_counter is CLOCK_MONOTONIC on
  Linux, so times from different processes compare).
- Where the time goes. Each client process runs a 5 ms ticker and records how late it
  wakes (event-loop lag) and its garbage-collector pauses: a saturated client loop delays
  every token message it has not yet read. Server pacing comes from the stored replies
  themselves (`total_time_seconds` against the ideal (tokens - 1) x delay). CPU is split
  into the server process and its event-loop thread (one Python thread cannot use more
  than one core), the client, and everything else on the machine (`/proc/stat`: other
  processes and interrupt work; on a shared 2-core machine other processes move every
  figure). `--probe-server-loop` runs the same server entry point with a lag ticker and a
  GC recorder on its loop; `--server-args` passes extra flags to the measured server
  (e.g. `--batch-interval-ms`, `--checkpoint-ms`) to compare settings.
- Where the starts' time goes. Each client process notes when every one of its streams
  has had its first token (the starts' window) and how much CPU its loop thread and, with
  the client in the parent process, the server's loop thread took meanwhile: a loop
  thread busy nearly all of the window is what the starts waited for, and when it is the
  client's, that part of the time to first token is the benchmark's own cost (then try
  `--client-procs`). With `--probe-server-loop` the server also notes, per stream, when
  AddResponse reached the servicer, when its conversation was read (with the caller's
  key, one statement) and when its human message was stored, and times every trip to the store's
  threads (wall and thread CPU); the report splits each start into accepted (client send
  and gRPC accepting the call), read, stored (the group commit) and back (the
  acknowledgement's way to the client), with the server loop's turns in each (idle ones
  too: a turn that only wakes a timer counts), and shows how long the store's threads
  waited for the GIL or a core until the last human message was stored (and the longest
  trip: a trip of little CPU and much wall time waited).
- After the run every conversation is fetched with `get_conversation`; a stream is lost
  when no stored model reply matches what its client received: a complete, non-partial
  reply with the same text for a stream that finished; a reply (partial allowed) whose
  text starts with the received text for one that failed.
- Two conditions, each on a fresh server and database: "alone" (nothing of ours besides
  the server and the client) and "one core busy" (`bench/load/burner.py`: a plain Python
  spin loop in a subprocess at the default niceness 0, started before the conversations
  are opened so that it spins at full speed when the streams start, killed when they end;
  its CPU during the streams is printed). A standard run does both and prints the detailed
  figures of each; `--busy-core` or `--alone` runs one. On a shared machine "alone" only
  means that the benchmark adds no load of its own: the "other processes CPU" line says
  what the rest of the machine took.
- `--profile-server FILE` runs the server under the probed entry point with cProfile on its
  event-loop thread, counting that thread's CPU time (not wall time, which on a shared
  machine charges other processes to whatever ran), from the start of the streams to
  their end; the stats go to FILE (FILE.busy for the busy-core condition), to read with
  `python -m pstats FILE`. Profiling slows the server down: read its proportions, not the
  figures of a profiled run.
- `--callgrind DIR` runs the server under valgrind's callgrind (instrumentation switched
  on when the streams start, counts dumped when they end: `bench/load/callgrind.py`) and
  prints its instructions per thread and per stream. On a busy machine these move far
  less than times: compare runs made the same way (e.g. `--alone --tokens 2
  --skip-cap-check`, which is about the starts) before and after a change.
- Cap check: a fresh server with `--max-streams 10`; 10 streams run, and once all of them
  have produced a token an 11th is started, which must fail with RESOURCE_EXHAUSTED
  (`client.ResourceExhaustedError`) while the 10 complete; after they finish, one more
  stream must succeed (the cap is released).

Everything is bounded: server start-up, conversation set-up, the streaming phase
(`--duration-limit`, each stream records a TimeoutError when it passes), verification and
the cap check. The server gets SIGTERM at the end (SIGKILL if it does not stop). It prints
figures and the now-vs-goal table; it exits 0 either way (it is a benchmark, not a
test).
"""
