#!/usr/bin/env bash
# The background queue of issue #18's studies: one `ferlab compare` at a time, 2 threads,
# checkpointed every epoch. Run it again after a restart: finished runs are reused and an
# unfinished one resumes from its last.pt. Finished runs live in results/<study>/trained/
# (best.pt, config.yaml, metrics.json, metrics.csv, learning_curves.png are committed;
# last.pt and tb/ are ignored).
#   nohup tools/study_queue.sh > /work/runs/study_queue.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
data_root="${FERLAB_FER2013:-../shared/data/fer2013}"

ferlab compare --name fer2013_matched --entries configs/studies/fer2013_matched_entries.yaml \
    --config configs/studies/fer2013_matched.yaml --data-root "$data_root" \
    --runs-dir results/compare_fer2013_matched/trained --out results --timing-seconds 2
