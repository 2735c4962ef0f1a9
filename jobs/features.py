"""spark-submit entry point: ``spark-submit jobs/features.py --as-of D`` (see userscore.jobs.features)."""

import sys

from userscore.cli import main

sys.exit(main(["features", *sys.argv[1:]]))
