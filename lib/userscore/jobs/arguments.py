"""Parsing of the date arguments the jobs share, so a bad date reads the same in every job."""

from __future__ import annotations

import argparse
import datetime as dt

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
