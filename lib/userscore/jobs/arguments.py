"""Parsing of the date arguments the jobs share, so a bad date reads the same in every job."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from userscore.errors import InputError

DATE_FORMAT = "a date YYYY-MM-DD"


def iso_date(text: str) -> dt.date:
    """An argparse ``type``: argparse reports a bad date with the option's name and exits 2."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{DATE_FORMAT}, got {text!r}") from None


def parse_date(option: str, text: str, expected: str = DATE_FORMAT) -> dt.date:
    """A date option read after argparse (it may also take a word such as 'latest'); InputError if bad."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: {expected}, got {text!r}") from None


# Run dates per job run at most (a backfill of more is split into several runs).
MAX_RUN_DATES = 400


def add_date_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--as-of D`` or a backfill ``--from D1 --to D2 [--every Nd]``: the dates a job runs for
    (the features snapshots, and the stages whose runs they read, e.g. social)."""
    parser.add_argument("--as-of", type=iso_date, metavar="D", help=f"{what} date (YYYY-MM-DD)")
    parser.add_argument("--from", dest="start", type=iso_date, metavar="D1", help=f"first {what} date of a backfill")
    parser.add_argument("--to", dest="end", type=iso_date, metavar="D2", help=f"last {what} date of a backfill")
    parser.add_argument("--every", default="7d", metavar="Nd", help="backfill step in days (default 7d)")


def run_dates(args: argparse.Namespace) -> list[dt.date]:
    """The dates :func:`add_date_arguments` asked for: D, or D1, D1 + N days, ... up to D2 inclusive."""
    return date_range(args.as_of, args.start, args.end, args.every)


def date_range(as_of: dt.date | None, start: dt.date | None, end: dt.date | None, every: str = "7d") -> list[dt.date]:
    """The dates of ``--as-of`` or ``--from/--to/--every``; InputError on a bad combination."""
    if as_of is not None:
        if start is not None or end is not None:
            raise InputError("give either --as-of D or --from D1 --to D2, not both")
        return [as_of]
    if start is None or end is None:
        raise InputError("give --as-of D, or both --from D1 and --to D2")
    match = re.fullmatch(r"(\d+)d", every.strip())
    if not match or int(match.group(1)) < 1:
        raise InputError(f"--every: a positive number of days like 7d, got {every!r}")
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    step = int(match.group(1))
    dates = [start + dt.timedelta(days=d) for d in range(0, (end - start).days + 1, step)]
    if len(dates) > MAX_RUN_DATES:
        raise InputError(f"{len(dates)} dates requested; at most {MAX_RUN_DATES} per run")
    return dates
