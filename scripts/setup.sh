#!/usr/bin/env bash
# Create .venv with the pinned dependencies and fetch the Delta JARs. Safe to re-run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 required, found {sys.version}"'
command -v java >/dev/null || { echo "Java 17 is required (java not found on PATH)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "Maven is required to fetch the Delta JARs (mvn not found on PATH)" >&2; exit 1; }
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # constraints.txt pins every transitive dependency to a tested version (see its header).
  .venv/bin/python -m pip install -q -e ".[spark,dev]" -c constraints.txt
  touch "$stamp"
fi
bash scripts/fetch_jars.sh
