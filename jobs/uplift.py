"""spark-submit entry point: ``spark-submit jobs/uplift.py --all`` (see userscore.jobs.uplift)."""

import sys

from userscore.cli import main

sys.exit(main(["uplift", *sys.argv[1:]]))
