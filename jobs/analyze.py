"""spark-submit entry point: ``spark-submit jobs/analyze.py --as-of D [--report PATH]``."""

import sys

from userscore.cli import main

sys.exit(main(["analyze", *sys.argv[1:]]))
