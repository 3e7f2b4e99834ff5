#!/usr/bin/env bash
# Run one command on a quiet machine: pause the background training queue (SIGSTOP to its
# process group, recorded in $RUNS/queue.pgid by tools/balanced_queue.sh) for the command's
# duration, then resume it. One quiet command at a time (flock). For timing benchmarks only.
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
