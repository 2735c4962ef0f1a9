"""spark-submit entry point: ``spark-submit jobs/monitor.py [--as-of D] [--fail-on-alert] [--report PATH]``."""

import sys

from userscore.cli import main

sys.exit(main(["monitor", *sys.argv[1:]]))
