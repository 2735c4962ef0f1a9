"""The driver-side BTYD tests pass under each of numpy's CPU dispatch variants (AVX-512, AVX2, neither).

Runs the numpy-only BTYD test modules in a child pytest per variant; scripts/check_cpu_variants.sh runs the
whole of tests/btyd (Spark included) the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.btyd.cpu_variants import VARIANTS

HERE = Path(__file__).resolve().parent
MODULES = ["test_bgnbd.py", "test_gamma_gamma.py", "test_clv.py", "test_identification.py"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_fits_agree_under_every_cpu_variant(variant: str) -> None:
    env = os.environ | {"NPY_DISABLE_CPU_FEATURES": VARIANTS[variant]}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(HERE / m) for m in MODULES)],
        cwd=HERE.parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{variant}: {proc.stdout[-3000:]}{proc.stderr[-2000:]}"
