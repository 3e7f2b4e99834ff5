#!/usr/bin/env bash
# Run one command on a quiet machine: pause the background training queue (SIGSTOP to its
# process group, recorded in $RUNS/queue.pgid by tools/balanced_queue.sh) for the command's
# duration, then resume it. One quiet command at a time (flock). For timing benchmarks, and for
# any CPU-heavy job beside the queue (tools/balanced_report.py, the test suite): on 2 cores, a
# second busy process slows the training's OpenMP threads 5-9x (epochs of 700-1,600 s against
# 80-150 s in results/balanced/runs/*/metrics.csv), so one job after the other is faster.
#   tools/quiet.sh python bench/pipeline_speed.py ...
set -euo pipefail
runs="${RUNS:-/work/runs}"
exec 9>"$runs/quiet.lock"
flock 9
pgid="$(cat "$runs/queue.pgid" 2>/dev/null || true)"
if [ -n "$pgid" ] && kill -0 -- "-$pgid" 2>/dev/null; then
    kill -STOP -- "-$pgid"
    trap 'kill -CONT -- "-$pgid" 2>/dev/null || true' EXIT
fi
"$@"
