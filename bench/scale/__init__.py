"""Scale benchmark: PostgreSQL and two `grove serve` replicas on loopback (issue 17).

Usage: `python -m bench.scale [--streams 400] [--tokens 150] [--tokens-per-second 50]
[--client-procs 2] [--pg ADMIN_URL] [--server-args FLAGS] [--floor] [--quick]`.

`--floor` first runs the same streams on two bare grpc.aio servers with bare clients
(`bench/scale/floor.py`): the part of the figure gRPC's Python stack alone accounts for.

Issue 17's scale figure: "PostgreSQL and two replicas on loopback, 400 streams spread over
both at 50 tok/s, 0 errors, 0 lost, token gap p99 < 50 ms on a quiet machine; then kill -9
one replica mid-run: its clients reconnect to the other and resume or get a partial
reply, nothing acknowledged is lost. Print the figures in one run."

- One PostgreSQL server (a throwaway cluster, `server/store/postgres/cluster.py`, unless
  `--pg` or $GROVE_TEST_POSTGRES_URL names a server where the user may CREATE DATABASE);
  each phase gets a fresh database and two fresh replicas (`grove serve` processes through
  `server/launcher.py`, `--token-delay-ms` = 1000 / tokens-per-second,
  `--offline-min-tokens` = `--tokens`).
- The clients are bench.load's worker processes (`--client-procs`), each given both
  addresses: the SDK's client-side round robin (client/addresses.py) spreads the calls
  over the replicas. Per stream: time to first token, gaps between token messages, text,
  error, and how often the SDK resumed it (its "resuming" log lines).
- Which replica runs each stream: read from the database, not guessed. Every running
  reply is checkpointed under its replica's owner id ("host:pid:instance",
  server/owners.py); the benchmark reads the checkpoints table while the streams run.
- Phase 1 (both replicas up): TTFT and token gap percentiles, errors, and lost replies —
  every conversation is read back through the replicas and its stored reply must equal
  what the client received (and its acknowledged human message must be stored).
- Phase 2 (the same load): replica A gets SIGKILL once every stream has been seen running
  (at least 1 s after the start, at most one reply's duration later). A's streams lose
  their connection; the SDK tries to resume them, and the survivor's orphan sweep turns
  A's last checkpoints into partial replies. No replica runs them any more: B answers a
  resume from the store once the reply is there (a partial reply it recovered, or a reply
  A stored whole before it died), else the SDK raises StreamNotResumableError after its
  attempts; both are counted ("resumed from store"). Checked per stream: B's complete
  and equal; for A's, the human message stored (it was acknowledged) and the reply
  kept: a partial reply whose text is a prefix of what the client received (or the
  reverse: a client behind its stream has not read all the checkpoint holds), or the
  whole reply when it finished before the kill. Counted apart: streams of A that had
  received text but had no checkpoint yet (the text of the last --checkpoint-ms before a
  crash is never stored), and streams whose human message was never acknowledged.
  Figures: completed, resumed, partial replies, lost, unexpected errors, and the time
  from the kill until every stream A was running had its reply stored (polled in the
  database every 0.1 s).

Everything runs on one machine: the replicas, PostgreSQL and the clients share its cores.
Timings are "busy" figures unless the machine is otherwise idle. The machine's busy CPU
during the streams (/proc/stat) is printed per phase, split into the replicas, the
clients and the rest (PostgreSQL, anything else), and the cores busy on average beside the
gap goal: 400 streams at 50 tokens/s are 20,000 token messages a second, each sent by a
replica and read by a client, and when the processes together need the machine's every
core, the gaps measure that saturation rather than a replica's own latency. It prints
figures and the now-vs-goal table, and exits 0 either way (a benchmark, not a test).
"""
