"""The `grove` commands for scripts: ls, show, search, sample, select, export and import.

They talk to a server exactly as the explorer does: `--server HOST:PORT` (or
`XAI_API_HOST`, or `server` in the config file), else an embedded server on the default
database (or `--db`) started in this process for the command and stopped after it, so
`grove ls` works right after a session in the app. Formats live in `client.export`; this
module is only plumbing: arguments, connection, output and exit codes.

Exit codes follow Unix tools: 0 success, 1 a runtime failure (server error, no such
conversation, unreadable file — one `grove: <sentence>` line on stderr, never a
traceback), 2 a usage error (argparse, or flags that contradict each other). Text output
is for people and has control characters removed; `--json` output keeps every text exact
(escaped the JSON way) for scripts.
"""

from grove_explorer.app.headless.arguments import add_headless_commands
from grove_explorer.app.headless.common import HEADLESS_COMMANDS, CommandError, Outcome, UsageError
from grove_explorer.app.headless.running import emit, run_headless

__all__ = [
    "HEADLESS_COMMANDS",
    "CommandError",
    "Outcome",
    "UsageError",
    "add_headless_commands",
    "emit",
    "run_headless",
]
