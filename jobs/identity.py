"""spark-submit entry point: ``spark-submit jobs/identity.py --as-of D`` (userscore.jobs.identity)."""

import sys

from userscore.cli import main

sys.exit(main(["identity", *sys.argv[1:]]))
