"""spark-submit entry point: ``spark-submit jobs/stream.py [--available-now] [--timeout S]`` (userscore.jobs.stream)."""

import sys

from userscore.cli import main

sys.exit(main(["stream", *sys.argv[1:]]))
