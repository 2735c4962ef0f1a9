"""spark-submit entry point: ``spark-submit jobs/score.py --as-of D|latest [--scored-at TS]`` (userscore.jobs.score)."""

import sys

from userscore.cli import main

sys.exit(main(["score", *sys.argv[1:]]))
