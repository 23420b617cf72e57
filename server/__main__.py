"""`python -m grove_explorer.server`: run the Grove Chat server."""

import sys

from grove_explorer.server.cli import main

sys.exit(main())
