"""spark-submit entry point: ``spark-submit jobs/btyd.py --as-of D`` (see userscore.jobs.btyd)."""

import sys

from userscore.cli import main

sys.exit(main(["btyd", *sys.argv[1:]]))
