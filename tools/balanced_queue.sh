#!/usr/bin/env bash
# The background queue of issue #31's levers (balanced recognition), one job at a time, 2
# threads, checkpointed every epoch. Each configs/balanced/NN_name.yaml, in file-name order,
# trains into results/balanced/runs/NN_name (resumed from its last.pt after a restart; skipped
# once its metrics.json exists), then is scored on the validation splits that choose levers:
# FERPlus val (majority labels) or FER2013 PublicTest, by the run's data, and the SFEW
# validation part (the reader's crops, --holdout 0.3 --split val, with the run's --holdout-group
# where its SFEW entry names one). Configs added while it runs
# are picked up on the next pass; it stops when a pass finds nothing left to do.
# An unfinished run's last.pt is deliberately not ignored by git (a new checkout recovers it);
# `tidy` deletes it once the run's metrics.json says it finished. Start it with:
#   mkdir -p /work/runs; nohup setsid tools/balanced_queue.sh > /work/runs/balanced_queue.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
fer2013="${FERLAB_FER2013:-../shared/data/fer2013}"
sfew="${FERLAB_SFEW:-../shared/data/sfew/Train}"
runs="${RUNS:-/work/runs}"
mkdir -p "$runs" results/balanced/runs
ps -o pgid= -p $$ | tr -d ' ' > "$runs/queue.pgid"  # tools/quiet.sh pauses this group

tidy() { for done in results/balanced/runs/*/metrics.json; do rm -f "$(dirname "$done")/last.pt"; done; }
trap tidy EXIT

# The holdout_group of a run's SFEW training entry ("" for the split by file), so that it is
# scored on the validation part of its own split.
sfew_group() {
    python -c "import sys; from pathlib import Path; sys.path.insert(0, 'tools')
from balanced_report import sfew_group; print(sfew_group(Path(sys.argv[1])) or '')" "$1"
}

# Score a finished run on its validation splits (each skipped once its metrics.json exists).
score() {
    local run="$1" data group
    data="$(python -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['data'])" "$run/config.yaml")"
    group="$(sfew_group "$run/config.yaml")"
    if [ "$data" = ferplus ]; then
        [ -f "$run/eval/ferplus_val/metrics.json" ] || ferlab eval "$run" --data ferplus --mode majority \
            --data-root "$fer2013" --split val --out "$run/eval/ferplus_val"
    else
        [ -f "$run/eval/fer2013_val/metrics.json" ] || ferlab eval "$run" --data fer2013 \
            --data-root "$fer2013" --split val --out "$run/eval/fer2013_val"
    fi
    [ -f "$run/eval/sfew_val/metrics.json" ] || ferlab eval "$run" --data folder --data-root "$sfew" \
        --holdout 0.3 ${group:+--holdout-group "$group"} --split val --out "$run/eval/sfew_val"
}

while true; do
    worked=0
    for config in configs/balanced/[0-9]*.yaml; do
        name="$(basename "$config" .yaml)" run="results/balanced/runs/$(basename "$config" .yaml)"
        if [ ! -f "$run/metrics.json" ]; then
            worked=1
            resume=""; [ -f "$run/last.pt" ] && resume="--resume"
            echo "== $(date -u +%FT%TZ) train $name $resume"
            ferlab train --config "$config" --data-root "$fer2013" --out "$run" $resume || { echo "!! $name failed"; continue; }
            tidy
        fi
        if [ ! -f "$run/eval/sfew_val/metrics.json" ]; then
            worked=1
            echo "== $(date -u +%FT%TZ) score $name"
            score "$run" || echo "!! scoring $name failed"
        fi
    done
    [ "$worked" = 1 ] || break
done
echo "== $(date -u +%FT%TZ) queue empty"
