#!/usr/bin/env bash
# The main job behind `make run`: a local rpp cluster on loopback, every role its own OS process.
#
#   Deploy/run-local.sh [CONFIG] [section.key=value ...]      (HOSTS=FILE to use another hosts file)
#
# 1. makes the SFT starting checkpoint (model.init, runs/sft by default) when there is none;
# 2. `rpp cluster up --hosts Deploy/hosts.local`: reference server, reward server, two rollout workers and
#    the learner, each detached with OPENBLAS_NUM_THREADS=1 (five processes share two cores), logs in
#    RUN/logs, state in RUN/cluster.json, runs/current pointing at RUN;
# 3. follows the learner's log in the foreground (one progress line per iteration);
# 4. when the learner ends, or on Ctrl-C, `rpp cluster down` (the learner checkpoints first) and prints the
#    run directory.
# While it runs, another terminal can use `rpp cluster status` and `rpp cluster scale --rollout N`.
set -euo pipefail
cd "$(dirname "$0")/.."
RPP=${RPP:-.build/release/rpp}
HOSTS=${HOSTS:-Deploy/hosts.local}
CONFIG=${1:-Deploy/rpp.yaml}
[ $# -gt 0 ] && shift
SETS=()
for assignment in "$@"; do SETS+=(--set "$assignment"); done
# A fresh run directory per run (runs/arith-reinforce-YYYYmmdd-HHMMSS) unless run.name is given.
case " $* " in *" run.name="*) ;; *)
  NAME=$(sed -n 's/^  name: *\([^ #]*\).*/\1/p' "$CONFIG" | head -1)
  SETS+=(--set "run.name=${NAME:-run}-$(date +%Y%m%d-%H%M%S)") ;;
esac
RUN_DIR=$(sed -n 's/^  dir: *\([^ #]*\).*/\1/p' "$CONFIG" | head -1)
for assignment in "$@"; do case "$assignment" in run.dir=*) RUN_DIR=${assignment#run.dir=} ;; esac; done
CURRENT=${RUN_DIR:-runs}/current
export OPENBLAS_NUM_THREADS=1

INIT=$(sed -n 's/^  init: *\([^ #]*\).*/\1/p' "$CONFIG" | head -1)
for assignment in "$@"; do case "$assignment" in model.init=*) INIT=${assignment#model.init=} ;; esac; done
INIT=${INIT:-runs/sft}
if [ ! -f "$INIT/model.safetensors" ]; then
  echo "run: no starting checkpoint at $INIT; making one with rpp sft (about a minute)"
  "$RPP" sft --out "$INIT"
fi

"$RPP" cluster up --hosts "$HOSTS" --config "$CONFIG" "${SETS[@]}"
RUN=$(readlink -f "$CURRENT")
LOG="$RUN/logs/learner.log"
DOWN=0
down() {
  [ "$DOWN" = 1 ] && return
  DOWN=1
  "$RPP" cluster down --dir "$RUN" || true
  # Interrupted: the learner's last lines (its checkpoint) were written after we stopped following it.
  [ "${INTERRUPTED:-0}" = 1 ] && grep -E "^learner(:| done)" "$LOG" | tail -n 2
  echo "run: $SECONDS s in all"
  return 0
}
trap down EXIT
trap 'INTERRUPTED=1; exit 130' INT TERM

# The learner's pid from the state file (pretty JSON, sorted keys: a record's "pid" precedes its "id").
LEARNER_PID=$(awk -F'[:,]' '/"pid"/ { pid = $2 + 0 } /"id" : "learner"/ { print pid; exit }' "$RUN/cluster.json")
echo "run: following the learner (pid $LEARNER_PID), $LOG; rpp cluster status / scale --rollout N from another terminal"
tail -n +1 -F --pid="$LEARNER_PID" "$LOG" 2>/dev/null
grep -q "^learner done" "$LOG"
