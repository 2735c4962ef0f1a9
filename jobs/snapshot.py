"""spark-submit entry point: ``spark-submit jobs/snapshot.py [--as-of D|latest]`` (userscore.jobs.snapshot)."""

import sys

from userscore.cli import main

sys.exit(main(["snapshot", *sys.argv[1:]]))
