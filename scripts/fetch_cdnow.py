#!/usr/bin/env python3
"""Fetch the CDNOW transaction data sets and convert them into userscore raw orders and users.

The CDNOW master (23,570 customers) and sample (2,357 customers) files ship inside the PyPI wheel of
`lifetimes==0.11.3`. This script downloads that wheel with pip (no dependencies, binary only), extracts the
two text files with zipfile and never imports lifetimes, so lifetimes never becomes a dependency.

Usage:
    python scripts/fetch_cdnow.py [--out data/cdnow]

Writes (under --out, git-ignored by default):
    raw/CDNOW_master.txt, raw/CDNOW_sample.txt    the files as shipped (download skipped if both exist)
    master/orders.jsonl, master/users.jsonl        raw order / user records, one JSON object per line
    sample/orders.jsonl, sample/users.jsonl
    landing/<master|sample>/{orders,users}/cdnow-<master|sample>/part-00000.jsonl
                                                   the same records in the raw landing layout
                                                   (<raw_dir>/<source>/<batch_id>/part-*), so the project's
                                                   ingest reads them with ingest.raw_dir = landing/<name>
                                                   and ingest.sources.users.format = json

Order ids are `cdnow-<customer>-<yyyymmdd>-<line>`, where <customer> is the customer's 5-digit master id (the
sample file carries it too, so one customer has one user_id in both data sets) and <line> is the 1-based line
number in the source text file. Users get registered_at = first purchase day at 00:00:00Z; other profile
fields are null. Re-running produces byte-identical output.

Exit codes: 0 ok, 1 pip missing, 2 bad arguments, 3 the wheel could not be downloaded, 4 unexpected data.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WHEEL_REQUIREMENT = "lifetimes==0.11.3"
WHEEL_MEMBERS = {
    "master": "lifetimes/datasets/CDNOW_master.txt",
    "sample": "lifetimes/datasets/CDNOW_sample.txt",
}
# The published customer counts; a mismatch means the wheel's files are not the ones the tests rely on.
EXPECTED_CUSTOMERS = {"master": 23570, "sample": 2357}
PROFILE_FIELDS = ("registration_channel", "gender", "age_band", "region", "member_level")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "cdnow"

EXIT_SETUP = 1
EXIT_DOWNLOAD = 3
EXIT_BAD_DATA = 4


class FetchError(Exception):
    """The data could not be fetched or converted; carries the exit code to use."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class CdnowRow:
    """One line of a CDNOW text file."""

    line: int
    customer: str
    yyyymmdd: str
    n_cds: int
    dollars: float


def raw_paths(out: Path) -> dict[str, Path]:
    return {name: out / "raw" / Path(member).name for name, member in WHEEL_MEMBERS.items()}


def download_and_extract(out: Path) -> None:
    """Download the lifetimes wheel into a temporary folder and extract the two CDNOW files into out/raw."""
    targets = raw_paths(out)
    # A missing pip is a broken environment, not an unreachable index: report it as such (callers such as
    # the tests skip only when the download itself is impossible).
    if importlib.util.find_spec("pip") is None:
        raise FetchError(
            f"pip is not installed for {sys.executable}; install it to fetch {WHEEL_REQUIREMENT}", EXIT_SETUP
        )
    with tempfile.TemporaryDirectory(prefix="cdnow-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            WHEEL_REQUIREMENT,
            "-d",
            tmp,
            "--quiet",
            "--disable-pip-version-check",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise FetchError(
                f"could not download {WHEEL_REQUIREMENT} with pip (exit {proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}",
                EXIT_DOWNLOAD,
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name, member in WHEEL_MEMBERS.items():
                _write_atomic(targets[name], wheel.read(member))


def _write_atomic(path: Path, data: bytes) -> None:
    # Write next to the target and rename, so an interrupted run never leaves a truncated file behind
    # that the "already extracted" check would then trust.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def parse_cdnow(path: Path) -> Iterator[CdnowRow]:
    """Yield the rows of a CDNOW text file.

    master: `customer_id date number_of_cds dollar_value` with a header line;
    sample: `master_customer_id sample_customer_id date number_of_cds dollar_value`, no header.
    """
    with path.open(encoding="ascii") as fh:
        for line_no, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or not fields[0].isdigit():
                continue  # header or blank line
            if len(fields) == 4:
                customer, yyyymmdd, n_cds, dollars = fields
            elif len(fields) == 5:
                customer, _sample_id, yyyymmdd, n_cds, dollars = fields
            else:
                raise FetchError(
                    f"{path}:{line_no}: expected 4 or 5 columns, got {len(fields)}: {line!r}", EXIT_BAD_DATA
                )
            if len(yyyymmdd) != 8 or not yyyymmdd.isdigit():
                raise FetchError(f"{path}:{line_no}: bad date {yyyymmdd!r}", EXIT_BAD_DATA)
            yield CdnowRow(line_no, customer, yyyymmdd, int(n_cds), float(dollars))


def _iso_day(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}T00:00:00Z"


def order_record(row: CdnowRow) -> dict[str, object]:
    """The raw order record for one CDNOW line (CDNOW has no channel, coupons or refunds: fixed values)."""
    return {
        "order_id": f"cdnow-{row.customer}-{row.yyyymmdd}-{row.line}",
        "user_id": f"cdnow-{row.customer}",
        "order_ts": _iso_day(row.yyyymmdd),
        "amount": row.dollars,
        "category": "music",
        "channel": "web",
        "coupon_used": False,
        "discount_amount": 0.0,
        "is_refunded": False,
        "item_count": row.n_cds,
    }


def convert(raw_file: Path, dest: Path) -> tuple[int, int]:
    """Write dest/orders.jsonl and dest/users.jsonl from one CDNOW file; return (orders, users)."""
    first_day: dict[str, str] = {}
    lines: list[str] = []
    for row in parse_cdnow(raw_file):
        lines.append(json.dumps(order_record(row)))
        if row.customer not in first_day or row.yyyymmdd < first_day[row.customer]:
            first_day[row.customer] = row.yyyymmdd
    users = [
        json.dumps({"user_id": f"cdnow-{c}", "registered_at": _iso_day(day), **dict.fromkeys(PROFILE_FIELDS)})
        for c, day in sorted(first_day.items())
    ]
    _write_atomic(dest / "orders.jsonl", ("\n".join(lines) + "\n").encode())
    _write_atomic(dest / "users.jsonl", ("\n".join(users) + "\n").encode())
    return len(lines), len(users)


def land(converted: Path, raw_dir: Path, batch_id: str) -> None:
    """Copy converted orders/users JSON lines into the landing layout <raw_dir>/<source>/<batch_id>/."""
    for source in ("orders", "users"):
        _write_atomic(raw_dir / source / batch_id / "part-00000.jsonl", (converted / f"{source}.jsonl").read_bytes())


def fetch(out: Path) -> dict[str, tuple[int, int]]:
    """Make sure the raw files exist under out/raw (downloading once) and (re)write the JSON lines."""
    paths = raw_paths(out)
    if not all(p.is_file() for p in paths.values()):
        download_and_extract(out)
    counts = {}
    for name, raw_file in paths.items():
        counts[name] = convert(raw_file, out / name)
        land(out / name, out / "landing" / name, f"cdnow-{name}")
        if counts[name][1] != EXPECTED_CUSTOMERS[name]:
            raise FetchError(
                f"{raw_file}: expected {EXPECTED_CUSTOMERS[name]} customers, got {counts[name][1]}", EXIT_BAD_DATA
            )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        counts = fetch(args.out)
    except FetchError as exc:
        print(f"fetch_cdnow: {exc}", file=sys.stderr)
        return exc.exit_code
    for name, (n_orders, n_users) in counts.items():
        print(f"fetch_cdnow: {name}: {n_orders} orders, {n_users} users -> {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
