"""`python -m bench.load`: see the package docstring (bench/load/__init__.py)."""

import sys

from bench.load.cli import main

sys.exit(main())
