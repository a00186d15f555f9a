# Sourced by the scripts/gpu/*_results.sh runs: packages, environment, data and the fit-then-test job.
# On the lent GPU machine (no package index), carry .whl/ (shared/tools/device-wheels.sh); EXTRA (environment) is
# appended to every vton command (CPU dry runs), NUM_WORKERS sets the loader workers, WORKERS the generator's.
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD:${PYTHONPATH:-}
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
read -r -a extra <<< "${EXTRA:-}"
n_gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
python3 -c "import torch, lightning, kornia; print('torch', torch.__version__, 'lightning', lightning.__version__, 'kornia', kornia.__version__)"
start=$(date +%s)

# The synthetic sets of `make data` (MPV layout with pose sequences; DeepFashion layout) at full resolution.
synth() { python3 -m datamodules.cli synth --workers "${WORKERS:-16}" --overwrite "$@" > /dev/null; }
synth_mpv() {
  synth --out data/synthetic_mpv --layout mpv --size "${MPV_SIZE:-256x192}" --n-train "${N_MPV:-2400}" \
    --n-test "${N_MPV_TEST:-240}" --n-seq 16 --n-seq-test 4 --seed 0
}
synth_deepfashion() {
  synth --out data/synthetic_deepfashion --layout deepfashion --size "${DF_SIZE:-256x176}" --n-train "${N_DF:-1200}" \
    --n-test "${N_DF_TEST:-120}" --seed 1
}

hms() { printf '00:%02d:%02d:%02d' $(($1 / 3600)) $(($1 % 3600 / 60)) $(($1 % 60)); }
on_gpus() { CUDA_VISIBLE_DEVICES=$1 "${@:2}"; }  # on_gpus "0,1" CMD...; GPU numbers wrap round on fewer GPUs
gpu() { echo $(($1 % (n_gpus > 0 ? n_gpus : 1))); }
vton() { python3 -m lightning_modules.cli "$@"; }

# job NAME GPUS SECONDS CONFIG[+CONFIG...] [ARGS...]: fit for SECONDS (0: no fit), then `vton test` (of the last
# checkpoint after a fit) unless NO_TEST is set. GPUS: "0" or "0,1" (wrapped round on fewer GPUs). ARGS come after
# the defaults here (so they can override them); logs in outputs/NAME.{fit,test}.log, metrics in outputs/NAME/.
job() {
  local name=$1 seconds=$3 configs=() file files gpus first
  gpus=$(for g in ${2//,/ }; do gpu "$g"; done | paste -sd,)
  first=${gpus%%,*}
  IFS=+ read -r -a files <<< "$4"
  for file in "${files[@]}"; do configs+=(-c "$file"); done
  shift 4
  local base=("${configs[@]}" --trainer configs/trainer/gpu.yaml --trainer.logger configs/logger/csv.yaml
              --trainer.logger.init_args.name "$name" --data.num_workers "${NUM_WORKERS:-6}")
  local t0 tested=()
  t0=$(date +%s)
  if ((seconds > 0)); then
    on_gpus "$gpus" vton fit "${base[@]}" --trainer.max_time "$(hms "$seconds")" --trainer.max_steps 10000000 \
      --trainer.val_check_interval 250 --trainer.callbacks.init_args.dirpath "outputs/$name/checkpoints" \
      "$@" "${extra[@]}" > "outputs/$name.fit.log" 2>&1
    echo "$name: fit exit $? after $(( $(date +%s) - t0 )) s"
    tested=(--ckpt_path "outputs/$name/checkpoints/last.ckpt")
  fi
  [[ -n ${NO_TEST:-} ]] && return
  on_gpus "$first" vton test "${base[@]}" "$@" "${extra[@]}" "${tested[@]}" > "outputs/$name.test.log" 2>&1
  echo "$name: test exit $?"
}

# Every run's test metrics (the last test metrics.csv) and its last logged training step, to outputs/summary.txt.
summary() {
  python3 - "$@" <<'PY' | tee outputs/summary.txt
import csv, glob, os
names = sorted({os.path.basename(p).split(".")[0] for p in glob.glob("outputs/*.log")})
for name in names:
    versions = sorted(glob.glob(f"outputs/{name}/version_*/metrics.csv"), key=lambda p: int(p.split("_")[-1][:-12]))
    rows = [list(csv.DictReader(open(v))) for v in versions]
    trained = (r for table in rows for r in table if any(k.startswith("train/") and v for k, v in r.items()))
    steps = max((int(r["step"]) for r in trained if r.get("step")), default=0)
    test = {k: v for table in rows[-1:] for r in table for k, v in r.items() if k.startswith("test/") and v}
    print(f"{name}: last logged step {steps}; " + ", ".join(f"{k}={float(v):.4f}" for k, v in sorted(test.items())))
PY
}

# outputs/*.log, every metrics.csv and each run's last validation grid, as $OUT/<name>.tar.gz (with the summary).
collect() {
  [[ -z ${OUT:-} ]] && return
  cp outputs/summary.txt "$OUT/"
  tar czf "$OUT/$1.tar.gz" outputs/*.log outputs/*/version_*/metrics.csv \
    $(for d in outputs/*/version_0/images; do ls "$d"/*.png 2>/dev/null | tail -n 1; done)
}
