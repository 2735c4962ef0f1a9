#!/usr/bin/env bash
# Run the BTYD tests (Spark ones included) under each of numpy's CPU dispatch variants: native, AVX-512 off,
# AVX-512 and AVX2 off. A fit's verdict must not depend on the exp/log kernels numpy picks (docs/operations.md).
# Usage: bash scripts/check_cpu_variants.sh [pytest args, default tests/btyd]
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(tests/btyd)
status=0
while IFS=$'\t' read -r name features; do
  echo "== $name: NPY_DISABLE_CPU_FEATURES='$features'"
  NPY_DISABLE_CPU_FEATURES="$features" .venv/bin/python -m pytest -q -p no:cacheprovider "${args[@]}" | tail -n 1 || status=1
done < <(.venv/bin/python -c 'from tests.btyd.cpu_variants import VARIANTS; [print(k, v, sep="\t") for k, v in VARIANTS.items()]')
exit $status
