#!/usr/bin/env bash
# A Spark standalone cluster on this machine: one master and N workers on 127.0.0.1, started from the
# pip-installed PySpark (which ships bin/spark-class but not sbin/start-master.sh / start-worker.sh).
#
#   bash scripts/local_cluster.sh start    start the master and the workers (those not running), wait until
#                                          every worker is registered with the master
#   bash scripts/local_cluster.sh status   each daemon's pid and state, and the workers the master sees
#   bash scripts/local_cluster.sh stop     stop the daemons by the pids recorded at start (never by name)
#
# Environment (defaults in brackets):
#   USERSCORE_CLUSTER_DIR        pid files, logs, worker and scratch folders [<repo>/.cluster, git-ignored]
#   USERSCORE_MASTER_PORT        master RPC port [7077]; jobs submit to spark://127.0.0.1:<port>
#   USERSCORE_MASTER_WEBUI_PORT  master web UI and its /json status [8080]
#   USERSCORE_WORKER_WEBUI_PORT  web UI of worker 1; worker i uses this + i - 1 [8081]
#   USERSCORE_WORKERS            number of workers [2]
#   USERSCORE_WORKER_CORES       cores each worker offers [1]
#   USERSCORE_WORKER_MEMORY      memory each worker offers to executors [2g]
#   USERSCORE_DAEMON_MEMORY      heap of the master and worker JVMs themselves [512m]
#   USERSCORE_CLUSTER_TIMEOUT    seconds to wait for the workers to register [120]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
dir="${USERSCORE_CLUSTER_DIR:-$root/.cluster}"
master_port="${USERSCORE_MASTER_PORT:-7077}"
master_webui="${USERSCORE_MASTER_WEBUI_PORT:-8080}"
worker_webui="${USERSCORE_WORKER_WEBUI_PORT:-8081}"
workers="${USERSCORE_WORKERS:-2}"
worker_cores="${USERSCORE_WORKER_CORES:-1}"
worker_memory="${USERSCORE_WORKER_MEMORY:-2g}"
timeout="${USERSCORE_CLUSTER_TIMEOUT:-120}"
master_url="spark://127.0.0.1:$master_port"
status_url="http://127.0.0.1:$master_webui/json"

# Everything binds to the loopback interface: the cluster is for this machine only.
export SPARK_LOCAL_IP=127.0.0.1
export SPARK_DAEMON_MEMORY="${USERSCORE_DAEMON_MEMORY:-512m}"

# A pid file names a live daemon only when that process is still the Spark class we started (a pid
# can be reused by an unrelated process after the daemon died).
alive() {
  local pid_file="$1" class="$2" command
  [ -f "$pid_file" ] || return 1
  command="$(tr '\0' ' ' <"/proc/$(cat "$pid_file")/cmdline" 2>/dev/null)" || return 1
  [[ "$command" == *"$class"* ]]
}

# Start one daemon in its own session (so a Ctrl-C in the starting terminal does not reach it) and
# record its pid. spark-class exec's the JVM, so the recorded pid is the JVM's.
launch() {
  local name="$1"
  shift
  setsid "$SPARK_HOME/bin/spark-class" "$@" >>"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

# How many of this cluster's workers the master lists as ALIVE: each worker's id comes from its own web
# UI, so a worker that was killed (and may still be listed until the master notices) is not counted.
registered_workers() {
  "$python" - "$status_url" "$workers" "$worker_webui" <<'EOF'
import json
import sys
import urllib.request

master_url, workers, first_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except OSError:
        return None


master = status(master_url) or {}
alive = {w["id"] for w in master.get("workers", []) if w.get("state") == "ALIVE"}
ours = [status(f"http://127.0.0.1:{first_port + i}/json") for i in range(workers)]
print(sum(1 for w in ours if w and w.get("id") in alive))
EOF
}

# Start whatever is not running (all of it, or a worker that died), then wait for the registrations.
start() {
  mkdir -p "$dir"
  SPARK_HOME="$("$python" -c 'from pyspark.find_spark_home import _find_spark_home; print(_find_spark_home())')"
  export SPARK_HOME
  if alive "$dir/master.pid" deploy.master.Master; then
    echo "master already running (pid $(cat "$dir/master.pid"))"
  else
    launch master org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$master_port" --webui-port "$master_webui"
  fi
  for i in $(seq 1 "$workers"); do
    if alive "$dir/worker-$i.pid" deploy.worker.Worker; then
      echo "worker-$i already running (pid $(cat "$dir/worker-$i.pid"))"
      continue
    fi
    mkdir -p "$dir/worker-$i/work" "$dir/worker-$i/local"
    # Shuffle and spill files of this worker's executors stay in its folder (not /tmp).
    SPARK_LOCAL_DIRS="$dir/worker-$i/local" launch "worker-$i" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --cores "$worker_cores" --memory "$worker_memory" \
      --webui-port "$((worker_webui + i - 1))" --work-dir "$dir/worker-$i/work" "$master_url"
  done
  local deadline=$((SECONDS + timeout)) seen=0
  while [ "$SECONDS" -lt "$deadline" ]; do
    seen="$(registered_workers)"
    if [ "$seen" -ge "$workers" ]; then
      echo "cluster up: master $master_url, $seen workers x $worker_cores core(s) x $worker_memory," \
        "UI http://127.0.0.1:$master_webui, logs and pids in $dir"
      return 0
    fi
    for name in master $(seq -f "worker-%g" 1 "$workers"); do
      if ! alive "$dir/$name.pid" deploy; then
        echo "$name exited during start-up; its log $dir/$name.log ends with:" >&2
        tail -n 20 "$dir/$name.log" >&2
        stop >&2
        exit 1
      fi
    done
    sleep 1
  done
  echo "only $seen of $workers workers registered with $master_url after ${timeout}s; logs in $dir" >&2
  stop >&2
  exit 1
}

# Stop one daemon: SIGTERM (the worker then kills its executors), SIGKILL if still there after 20 s.
stop_one() {
  local name="$1" class="$2" pid
  local pid_file="$dir/$name.pid"
  [ -f "$pid_file" ] || return 0
  pid="$(cat "$pid_file")"
  if alive "$pid_file" "$class"; then
    kill "$pid"
    for _ in $(seq 1 20); do
      alive "$pid_file" "$class" || break
      sleep 1
    done
    if alive "$pid_file" "$class"; then
      kill -9 "$pid"
    fi
    echo "stopped $name (pid $pid)"
  else
    echo "$name (pid $pid) was not running"
  fi
  rm -f "$pid_file"
}

stop() {
  # Workers first, so none of them logs a lost master on its way out.
  local pid_file
  for pid_file in "$dir"/worker-*.pid; do
    [ -e "$pid_file" ] || continue
    stop_one "$(basename "$pid_file" .pid)" deploy.worker.Worker
  done
  stop_one master deploy.master.Master
}

status() {
  local pid_file name state
  for pid_file in "$dir"/master.pid "$dir"/worker-*.pid; do
    [ -e "$pid_file" ] || continue
    name="$(basename "$pid_file" .pid)"
    if alive "$pid_file" deploy; then state=running; else state="not running"; fi
    echo "$name: pid $(cat "$pid_file"), $state, log $dir/$name.log"
  done
  if alive "$dir/master.pid" deploy.master.Master; then
    echo "master $master_url: $(registered_workers) alive worker(s) registered"
  else
    echo "no master running (pid files in $dir)"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
