#!/usr/bin/env bash
# The background queue of issue #18's studies, one job at a time, 2 threads, checkpointed
# every epoch. Run it again after a restart: finished runs are reused (compare), skipped
# (train --resume) or counted (sweeps: the SQLite study keeps its finished trials), and an
# unfinished run resumes from its last.pt. Finished runs live under results/ (best.pt,
# config.yaml, metrics.json, metrics.csv, learning_curves.png are committed; last.pt and tb/
# are not committed); sweep trials under $RUNS/sweeps, their studies and reports in results/sensitivity/.
# An unfinished run's last.pt is deliberately not ignored by git: a new session's checkout
# recovers untracked files only, and $RUNS has been lost once (session 13); `tidy` deletes a
# run's last.pt once its metrics.json says it finished.
#   nohup tools/study_queue.sh > /work/runs/study_queue.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
data_root="${FERLAB_FER2013:-../shared/data/fer2013}"
runs="${RUNS:-/work/runs}"

tidy() { for done in results/*/trained/*/metrics.json; do rm -f "$(dirname "$done")/last.pt"; done; }
tidy; trap tidy EXIT

# A study's findings (configs/studies/<name>_notes.md), once written, go into its table file.
notes() { [ -f "configs/studies/$1_notes.md" ] && echo "--notes configs/studies/$1_notes.md" || true; }

# Study 1 (FER2013 at matched compute) is finished: its table file's "Made by" line is the
# command that rewrites it (all rows reused) after a change to its findings.

# Deep-Emotion at its published size and recipe, scored on PrivateTest (skipped once scored).
published=results/deep_emotion_published
if [ ! -f "$published/test/metrics.json" ]; then
    resume=""; [ -f "$published/run/last.pt" ] && resume="--resume"
    ferlab train --config configs/studies/deep_emotion_published.yaml --data-root "$data_root" --out "$published/run" $resume
    ferlab eval "$published/run" --data fer2013 --data-root "$data_root" --split test --out "$published/test"
fi

# Study 2: FERPlus, RAN with and without its region-biased loss, and study 1's best plain CNN
# (skipped once its table exists; its "Made by" line is the command that rewrites it).
if [ ! -f results/compare_ferplus_ran.md ]; then
python - <<'PY'
import pandas as pd
rows = pd.read_csv("results/compare_fer2013_matched.csv")
plain = rows[rows["arch"].isin(["resnet_like", "vgg_like", "resnet18", "inception_resnet_v1"])]
best = plain.loc[plain["best_val_acc"].idxmax(), "model"]
assert best == "vgg_like", f"study 1's best plain CNN by val is {best}: update configs/studies/ferplus_ran_entries.yaml"
PY
ferlab compare --name ferplus_ran --entries configs/studies/ferplus_ran_entries.yaml \
    --config configs/studies/ferplus_ran.yaml --data-root "$data_root" \
    --runs-dir results/compare_ferplus_ran/trained --out results --timing-seconds 2 --occlude eyes,mouth,random \
    --pairs ran:ran_no_rb_loss,ran:vgg_like $(notes ferplus_ran)
fi

# Sensitivity at 12,000 faces x 6 epochs: two workers (one thread each) on one SQLite study.
for model in resnet_like attention_net; do
    # The SQLite study (every finished trial) lives in the checkout, untracked until the sweep is
    # done, so a new session recovers it; trial folders are scratch (a lost trial is retried anew).
    study="${model}_12k" out="$runs/sweeps/${model}_12k" record="$PWD/results/sensitivity/${model}_12k"
    [ -f "$record/trials.csv" ] && continue  # finished: its report is written last
    mkdir -p "$out" "$record"
    sweep=(ferlab sweep --config "configs/sweeps/$study.yaml" --space "configs/sweeps/$model.yaml" --trials 20
           --data-root "$data_root" --study-name "$study" --storage "sqlite:///$record/study.db")
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "${sweep[@]}" --out "$out" > "$out.worker1.log" 2>&1 &
    sleep 60  # the first worker creates the study
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "${sweep[@]}" --out "${out}_worker2" > "$out.worker2.log" 2>&1
    wait
    "${sweep[@]}" --out "$record" --report-only
done
