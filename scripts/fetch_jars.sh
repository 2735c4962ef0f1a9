#!/usr/bin/env bash
# Fetch the Delta Lake JARs from Maven Central into .jars/ (git-ignored).
# Scala and ANTLR are excluded: the pyspark distribution ships the versions Spark was built with.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.jars}"
if ls "$out"/delta-spark_*.jar >/dev/null 2>&1 && ls "$out"/delta-storage-*.jar >/dev/null 2>&1; then
  echo "Delta JARs already in $out"
  exit 0
fi
mkdir -p "$out"
mvn -q -B -f "$root/scripts/jars/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$out" -DincludeScope=runtime -DexcludeGroupIds=org.scala-lang,org.antlr
ls "$out"/delta-spark_*.jar "$out"/delta-storage-*.jar >/dev/null
echo "Delta JARs in $out: $(cd "$out" && ls | tr '\n' ' ')"
