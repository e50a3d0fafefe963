"""``python -m sweeprunner``."""

import sys

from sweeprunner.cli import main

sys.exit(main())
