"""The jobs' shared date arguments: one format, one message, the exit path each kind takes."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from userscore.errors import InputError
from userscore.jobs.arguments import iso_date, parse_date


def test_iso_date_is_an_argparse_type_that_names_the_option_and_exits_2(capsys):
    parser = argparse.ArgumentParser(prog="userscore x")
    parser.add_argument("--as-of", type=iso_date)
    assert parser.parse_args(["--as-of", "2026-03-01"]).as_of == dt.date(2026, 3, 1)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--as-of", "2026-13-01"])
    assert exit_.value.code == 2
    assert "argument --as-of: a date YYYY-MM-DD, got '2026-13-01'" in capsys.readouterr().err


def test_parse_date_raises_input_error_naming_option_and_what_it_takes():
    assert parse_date("--cutoff", "2025-12-31") == dt.date(2025, 12, 31)
    with pytest.raises(InputError, match=r"^--cutoff: a date YYYY-MM-DD, got '31/12/2025'$"):
        parse_date("--cutoff", "31/12/2025")
    with pytest.raises(InputError, match=r"^--as-of: a date YYYY-MM-DD or 'latest', got 'newest'$"):
        parse_date("--as-of", "newest", "a date YYYY-MM-DD or 'latest'")
