#!/usr/bin/env bash
# The classic FER2013 reproduction (results/classic_fer2013.md): every model at the same
# 10-epoch budget and recipe, one CPU thread each, sequentially; rerun to resume (each run
# continues from its last checkpoint, finished runs are skipped by ferlab train --resume).
# vgg_like and resnet_like run at the widths of configs/classic_fer2013_deep.yaml.
# A finished run is then scored on PrivateTest (plain and flip TTA) into
# results/classic_fer2013/<run>/, with its config, per-epoch metrics and learning curves.
#   RUNS=/work/runs/classic DATA=../shared/data/fer2013 bash tools/classic_fer2013.sh [MODEL_AUG ...]
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs/classic}
DATA=${DATA:-../shared/data/fer2013}
specs=("$@")
[ ${#specs[@]} -eq 0 ] && specs=(lenet_like_none lenet_like_basic vgg_like_basic resnet_like_basic deep_emotion_basic)
mkdir -p "$RUNS"
for spec in "${specs[@]}"; do
  model=${spec%_*}; aug=${spec##*_}; out=$RUNS/$spec; results=results/classic_fer2013/$spec
  resume=""; [ -f "$out/last.pt" ] && resume="--resume"
  config=""; case $model in vgg_like|resnet_like) config="--config configs/classic_fer2013_deep.yaml";; esac
  OMP_NUM_THREADS=1 ferlab train $config --model "$model" --aug "$aug" --data fer2013 --data-root "$DATA" \
    --epochs 10 --batch-size 128 --lr 0.05 --seed 0 --device cpu --out "$out" $resume > "$out.log" 2>&1 \
    || { echo "failed: $spec (see $out.log)" >&2; continue; }
  mkdir -p "$results"
  for tta in none flip; do
    OMP_NUM_THREADS=1 ferlab eval "$out" --data fer2013 --data-root "$DATA" --split test --tta $tta \
      --out "$results/test_tta-$tta" >> "$out.log" 2>&1 || echo "scoring failed: $spec (see $out.log)" >&2
  done
  cp "$out/config.yaml" "$out/learning_curves.png" "$results/" && cp "$out/metrics.csv" "$results/training_metrics.csv"
done
