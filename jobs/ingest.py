"""spark-submit entry point: ``spark-submit jobs/ingest.py [--batch ID] [--source S ...] [--force]``."""

import sys

from userscore.cli import main

sys.exit(main(["ingest", *sys.argv[1:]]))
