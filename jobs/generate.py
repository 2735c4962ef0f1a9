"""spark-submit entry point: ``spark-submit jobs/generate.py --users N --seed S`` (see userscore.jobs.generate)."""

import sys

from userscore.cli import main

sys.exit(main(["generate", *sys.argv[1:]]))
