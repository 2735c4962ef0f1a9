"""spark-submit entry point: ``spark-submit jobs/train.py --target T ... | --all [--cutoff DATE]``.

See userscore.jobs.train.
"""

import sys

from userscore.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
