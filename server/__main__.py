"""`python -m server`: run the Grove Chat server."""

import sys

from server.cli import main

sys.exit(main())
