#!/usr/bin/env bash
# Package the library for a cluster, in dist/ (git-ignored):
#   dist/userscore-<version>-py3-none-any.whl   pip / Databricks library (dependencies declared, not bundled)
#   dist/userscore-<version>.zip                spark-submit --py-files: the `userscore` package at the zip
#                                               root, so drivers and executors import it from the archive
# Both are built from the same sources: the zip is the wheel's `userscore/` tree, nothing else.
# Prints the two paths. Usage: bash scripts/package.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-$root/.venv/bin/python}"
version="$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
wheel="dist/userscore-$version-py3-none-any.whl"
archive="dist/userscore-$version.zip"

mkdir -p dist
# Every earlier build goes: pip wheel skips a wheel that already exists, and the bundle installs dist/*.whl.
rm -f dist/userscore-*.whl dist/userscore-*.zip
# setuptools stages sources in build/ and never removes a module deleted since the last build.
rm -rf build/lib build/bdist.*
"$python" -m pip wheel --no-deps --quiet --wheel-dir dist .
"$python" - "$wheel" "$archive" <<'EOF'
import sys
import zipfile

wheel, archive = sys.argv[1:]
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        # The wheel's .dist-info is pip metadata; Python's zip importer needs only the package tree.
        if info.filename.startswith("userscore/"):
            dst.writestr(info, src.read(info))
EOF
echo "$root/$wheel"
echo "$root/$archive"
