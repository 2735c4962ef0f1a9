"""spark-submit entry point: ``spark-submit jobs/forget.py --request-file F``."""

import sys

from userscore.cli import main

sys.exit(main(["forget", *sys.argv[1:]]))
