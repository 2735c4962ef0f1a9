#!/usr/bin/env bash
# Run one job on a Spark cluster through spark-submit (client deploy mode: the driver runs here).
#
#   bash scripts/submit.sh <job> [job arguments]      e.g. bash scripts/submit.sh features --as-of 2026-11-01
#
# runs
#   spark-submit --master <M> --jars <.jars/*.jar> --conf <Delta SQL extension and catalog>
#                --py-files dist/userscore-<version>.zip [resources] $USERSCORE_SUBMIT_OPTS
#                jobs/<job>.py --env <E> [job arguments]
# with the library from the --py-files archive (build it with `bash scripts/package.sh`) and this
# checkout's conf/ (only the driver reads config). Prints the spark-submit line before running it.
# The stages and their order are declared in lib/userscore/pipeline.py (run without arguments to see them);
# README.md lists the demo's run of them, one submit.sh line per stage.
#
# Environment (defaults in brackets):
#   USERSCORE_MASTER           master URL [spark://127.0.0.1:$USERSCORE_MASTER_PORT: scripts/local_cluster.sh]
#   USERSCORE_MASTER_PORT      port of the local cluster's master [7077]
#   USERSCORE_ENV              config overlay under conf/ [cluster]
#   USERSCORE_DRIVER_MEMORY    [2g]
#   USERSCORE_EXECUTOR_MEMORY  [1g]
#   USERSCORE_SUBMIT_OPTS      more spark-submit options, split on spaces (e.g. "--conf spark.default.parallelism=8")
#   USERSCORE_PY_FILES         the --py-files archive to ship [dist/userscore-<version>.zip, which must match lib/]
#   PYSPARK_PYTHON             Python of the driver and the executors [this checkout's .venv/bin/python]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ $# -lt 1 ]; then
  echo "usage: $0 <job> [job arguments]; jobs: $(cd jobs && ls ./*.py | sed 's|./||; s|\.py$||' | tr '\n' ' ')" >&2
  echo "pipeline order: $(PYTHONPATH="$root/lib" "${PYSPARK_PYTHON:-$root/.venv/bin/python}" -m userscore.pipeline)" >&2
  exit 2
fi
job="$1"
shift
script="jobs/$job.py"
[ -f "$script" ] || { echo "no job $job: $script does not exist" >&2; exit 2; }

export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$root/.venv/bin/python}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$PYSPARK_PYTHON}"
master="${USERSCORE_MASTER:-spark://127.0.0.1:${USERSCORE_MASTER_PORT:-7077}}"

version="$("$PYSPARK_PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
if [ -n "${USERSCORE_PY_FILES:-}" ]; then
  archive="$USERSCORE_PY_FILES"  # a build named explicitly (a release, a test's snapshot) is used as it is
  [ -f "$archive" ] || { echo "USERSCORE_PY_FILES: $archive not found" >&2; exit 2; }
else
  archive="$root/dist/userscore-$version.zip"
  [ -f "$archive" ] || { echo "$archive not found: run bash scripts/package.sh (make package) first" >&2; exit 2; }
  # The driver and the executors would otherwise run other code than this checkout's: the archive must
  # hold exactly the library's current sources.
  "$PYSPARK_PYTHON" - "$archive" lib <<'EOF' || exit 2
import sys
import zipfile
from pathlib import Path

archive, lib = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(archive) as zf:
    packed = {name: zf.read(name) for name in zf.namelist() if name.endswith(".py")}
current = {p.relative_to(lib).as_posix(): p.read_bytes() for p in (lib / "userscore").rglob("*.py")}
stale = sorted(n for n in packed.keys() | current.keys() if packed.get(n) != current.get(n))
if stale:
    print(f"{archive} differs from lib/ in {', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}: "
          "rebuild it with bash scripts/package.sh (make package)", file=sys.stderr)
    sys.exit(1)
EOF
fi

jars="$(ls "$root"/.jars/*.jar 2>/dev/null | paste -sd, -)"
case "$jars" in
  *delta-spark_*) ;;
  *) echo "Delta JARs not found in $root/.jars: run bash scripts/fetch_jars.sh (make setup)" >&2; exit 2 ;;
esac

# On the local cluster the driver must listen where the workers (on 127.0.0.1) can reach it.
case "$master" in
  spark://127.0.0.1:* | spark://localhost:*) export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}" ;;
esac

spark_home="$("$PYSPARK_PYTHON" -c 'from pyspark.find_spark_home import _find_spark_home; print(_find_spark_home())')"
# Delta: its JARs on driver and executor class paths (--jars), its SQL extension and catalog set at
# launch (a running session cannot change them; userscore.session adds only runtime SQL settings).
# shellcheck disable=SC2086 # USERSCORE_SUBMIT_OPTS is a list of options, split on purpose.
command=(
  "$spark_home/bin/spark-submit"
  --master "$master"
  --jars "$jars"
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog
  --conf "spark.pyspark.python=$PYSPARK_PYTHON"
  --py-files "$archive"
  --driver-memory "${USERSCORE_DRIVER_MEMORY:-2g}"
  --executor-memory "${USERSCORE_EXECUTOR_MEMORY:-1g}"
  ${USERSCORE_SUBMIT_OPTS:-}
  "$script" --env "${USERSCORE_ENV:-cluster}" "$@"
)
echo "${command[*]}" >&2
exec "${command[@]}"
