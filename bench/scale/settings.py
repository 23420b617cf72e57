"""Settings of the scale benchmark (sizes, goals, time limits)."""

DEFAULT_STREAMS = 400
DEFAULT_TOKENS = 150
DEFAULT_TOKENS_PER_SECOND = 50.0
DEFAULT_CLIENT_PROCS = 2
QUICK_STREAMS = 40
# Long enough (2 s at 50 tok/s) that the kill lands while every stream still runs.
QUICK_TOKENS = 100
DEFAULT_DURATION_LIMIT_S = 90.0
# Replica A is killed once every stream has a checkpoint and at least this long after the
# streams started (then a stream of A has both an acknowledged human message and text
# the survivor can recover).
KILL_AFTER_S = 1.0
# ... or at the latest one reply's ideal duration later than that (on a busy machine the
# last of many simultaneous streams starts seconds late; those not seen running by then
# are counted apart).
GAP_GOAL_MS = 50.0
RECOVERY_GOAL_S = 10.0
# How long to wait for the survivor to turn the killed replica's checkpoints into partial
# replies before counting the rest as lost (a bound for failure, not the figure).
RECOVERY_LIMIT_S = 60.0
# How often the database is read for the checkpoints (which replica runs each stream)
# and, after the kill, for the recovered partial replies.
POLL_S = 0.1
# --max-streams of each replica: above --streams, so no run ever meets the cap.
CAP_HEADROOM = 10
# The errors a stream of the killed replica may end with (then its reply is recovered).
EXPECTED_ERRORS = ("StreamNotResumableError", "ServerUnavailableError")
# How often the machine's busy CPU is read during a phase (the cores busy in each of its
# stages: starting, all running, ending).
BUSY_SAMPLE_S = 0.1
