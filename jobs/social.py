"""spark-submit entry point: ``spark-submit jobs/social.py --as-of D`` (userscore.jobs.social)."""

import sys

from userscore.cli import main

sys.exit(main(["social", *sys.argv[1:]]))
