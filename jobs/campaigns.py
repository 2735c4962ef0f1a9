"""spark-submit entry point: ``spark-submit jobs/campaigns.py --as-of D`` (see userscore.jobs.campaigns)."""

import sys

from userscore.cli import main

sys.exit(main(["campaigns", *sys.argv[1:]]))
