#!/usr/bin/env bash
# The main job behind `make run`: a local rpp cluster on loopback, every role its own OS process.
#
#   Deploy/run-local.sh [CONFIG] [section.key=value ...]
#
# 1. makes the SFT starting checkpoint (model.init, runs/sft by default) when there is none;
# 2. starts the reference server, the reward server and two rollout workers in the background;
# 3. runs the learner in the foreground (one progress line per iteration);
# 4. stops every process it started when the learner ends, fails, or on Ctrl-C.
# Logs of the background roles go to runs/logs/<role>.log. OPENBLAS_NUM_THREADS=1 for every process:
# five processes share two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
RPP=${RPP:-.build/release/rpp}
CONFIG=${1:-Deploy/rpp.yaml}
[ $# -gt 0 ] && shift
SETS=()
for assignment in "$@"; do SETS+=(--set "$assignment"); done
# A fresh run directory per run (runs/arith-reinforce-YYYYmmdd-HHMMSS) unless run.name is given.
case " $* " in *" run.name="*) ;; *)
  NAME=$(sed -n 's/^  name: *\([^ #]*\).*/\1/p' "$CONFIG" | head -1)
  SETS+=(--set "run.name=${NAME:-run}-$(date +%Y%m%d-%H%M%S)") ;;
esac
export OPENBLAS_NUM_THREADS=1

INIT=$(sed -n 's/^  init: *\([^ #]*\).*/\1/p' "$CONFIG" | head -1)
for assignment in "$@"; do case "$assignment" in model.init=*) INIT=${assignment#model.init=} ;; esac; done
INIT=${INIT:-runs/sft}
if [ ! -f "$INIT/model.safetensors" ]; then
  echo "run: no starting checkpoint at $INIT; making one with rpp sft (about a minute)"
  "$RPP" sft --out "$INIT"
fi

LOGS=runs/logs
mkdir -p "$LOGS"
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start() {  # start NAME COMMAND...: a background role whose output goes to its log
  local name=$1; shift
  "$@" > "$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
  echo "run: started $name (pid $!), log $LOGS/$name.log"
}

start reference "$RPP" reference --config "$CONFIG" "${SETS[@]}"
start reward "$RPP" reward --config "$CONFIG" "${SETS[@]}"
start rollout-1 "$RPP" rollout --config "$CONFIG" "${SETS[@]}" --id rollout-1
start rollout-2 "$RPP" rollout --config "$CONFIG" "${SETS[@]}" --id rollout-2
sleep 1
for i in "${!PIDS[@]}"; do
  if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
    echo "run: a role failed to start; its log:" >&2
    tail -n 5 "$LOGS"/*.log >&2
    exit 1
  fi
done
"$RPP" learner --config "$CONFIG" "${SETS[@]}"
