#!/usr/bin/env bash
# Stage 1 on one GPU at 256x192: the run behind the stage-1 figures in docs/RESULTS.md.
# On the lent GPU machine (no package index): carry .whl/ (shared/tools/device-wheels.sh) and run from the repo root:
#   bash scripts/gpu/stage1_results.sh SPG_SECONDS CLOTHFLOW_SECONDS   (training time of each variant; 0 skips it)
# Writes the synthetic set to data/, logs to outputs/, and copies metrics and grids to $OUT when set.
set -euo pipefail
spg_seconds=${1:-300}
clothflow_seconds=${2:-120}
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD:${PYTHONPATH:-}
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
vton() { python3 -m lightning_modules.cli "$@"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, lightning, kornia; print('torch', torch.__version__, 'lightning', lightning.__version__, 'kornia', kornia.__version__)"

start=$(date +%s)
python3 -m datamodules.cli synth --out data/synthetic_mpv --layout mpv --size 256x192 --n-train 2400 --n-test 240 \
  --seed 0 --workers 16 --overwrite
echo "data: $(( $(date +%s) - start )) s"

common=(--trainer configs/trainer/gpu.yaml --trainer.logger configs/logger/csv.yaml --data.num_workers 12
        --trainer.val_check_interval 250 --trainer.max_steps 1000000)
for run in "spg:$spg_seconds" "clothflow:$clothflow_seconds"; do
  variant=${run%%:*}; seconds=${run##*:}
  [[ $seconds == 0 ]] && continue
  name=stage1_$variant
  rm -rf "outputs/$name"  # a warm machine keeps the last run's files: never test an older checkpoint
  start=$(date +%s)
  vton fit -c configs/stage1_layout.yaml "${common[@]}" --model.init_args.variant "$variant" \
    --trainer.max_time "00:00:$(printf %02d $((seconds / 60))):$(printf %02d $((seconds % 60)))" --trainer.logger.init_args.name "$name" \
    --trainer.callbacks.init_args.dirpath "outputs/$name/checkpoints" 2>&1 | grep -v -i warning | tail -n 5
  echo "$name fit: $(( $(date +%s) - start )) s"
  vton test -c configs/stage1_layout.yaml "${common[@]}" --model.init_args.variant "$variant" \
    --trainer.logger.init_args.name "$name" --ckpt_path "outputs/$name/checkpoints/last.ckpt" 2>&1 | grep -E "test/|──|Test metric" 
  if [[ -n ${OUT:-} ]]; then
    cp "outputs/$name/version_0/metrics.csv" "$OUT/${name}_fit_metrics.csv"
    cp "outputs/$name/version_1/metrics.csv" "$OUT/${name}_test_metrics.csv"
    cp "$(ls outputs/$name/version_0/images/*.png | tail -n 1)" "$OUT/${name}_val_grid.png"
  fi
done
