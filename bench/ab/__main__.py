"""`python -m bench.ab`."""

import sys

from bench.ab.run import main

sys.exit(main())
