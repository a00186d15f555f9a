#!/usr/bin/env bash
# The chain and the sequences at full resolution: the runs behind the e2e and temporal tables in docs/RESULTS.md.
#   bash scripts/gpu/e2e_results.sh STAGE_SECONDS JOINT_SECONDS JOINT_STEPS          (from the repo root; common.sh)
# Made for 2 GPUs. Phase A trains the chain's four stages alone (SPG-VTON steps 1-2; stage 4 with fusion). Phase B
# fine-tunes the chain jointly (step 3) twice with the same global batch of 8 and the same steps (capped by time):
# on one GPU (batch 8) and with DDP on two (batch 4 each), and fine-tunes stage 3 temporally on the sequences.
# Then `vton test` of the stage-wise chain ("w/o E2E"), the jointly fine-tuned one and the per-frame baseline, and a
# comparison of the two joint runs' loss curves.
set -uo pipefail
stage_seconds=${1:-160}
joint_seconds=${2:-150}
joint_steps=${3:-600}
source "$(dirname "$0")/common.sh"
chain=(--model.init_args.layout_checkpoint outputs/c1_layout/checkpoints/last.ckpt
       --model.init_args.warp_checkpoint outputs/c2_warp/checkpoints/last.ckpt
       --model.init_args.synthesis_checkpoint outputs/c3_synthesis/checkpoints/last.ckpt
       --model.init_args.refine_checkpoint outputs/c4_refine/checkpoints/last.ckpt)
joint=(--trainer.max_steps "$joint_steps" --trainer.log_every_n_steps 10 --trainer.val_check_interval 50)
synthesis=(--model.init_args.synthesis_checkpoint outputs/c3_synthesis/checkpoints/last.ckpt)
if [[ -z ${TESTS_ONLY:-} ]]; then  # TESTS_ONLY=1: only the tests, on a machine that still has the runs' outputs
synth_mpv
echo "data: $(( $(date +%s) - start )) s"
rm -rf outputs/c[1-4]_* outputs/e2e_* outputs/temporal* && mkdir -p outputs

NO_TEST=1 job c1_layout 0 "$stage_seconds" configs/stage1_layout.yaml --model.init_args.variant spg &
NO_TEST=1 job c2_warp 1 "$stage_seconds" configs/stage2_warp_tps.yaml &
NO_TEST=1 job c3_synthesis 0 "$stage_seconds" configs/stage3_synthesis.yaml &
NO_TEST=1 job c4_refine 1 "$stage_seconds" configs/stage4_refine.yaml+configs/stage4_refine_fusion.yaml &
wait
echo "phase A: $(( $(date +%s) - start )) s"

NO_TEST=1 job e2e_1gpu 0 "$joint_seconds" configs/e2e.yaml "${chain[@]}" "${joint[@]}" &
NO_TEST=1 job e2e_ddp2 0,1 "$joint_seconds" configs/e2e.yaml "${chain[@]}" "${joint[@]}" \
  --trainer configs/trainer/ddp.yaml --trainer.devices 2 --data.batch_size 4 &
job temporal 1 "$joint_seconds" configs/temporal.yaml "${synthesis[@]}" &
wait
echo "phase B: $(( $(date +%s) - start )) s"
fi

job e2e_stagewise 0 0 configs/e2e.yaml "${chain[@]}" &
job e2e_joint 1 0 configs/e2e.yaml "${chain[@]}" --ckpt_path outputs/e2e_1gpu/checkpoints/last.ckpt &
job temporal_per_frame 1 0 configs/temporal.yaml "${synthesis[@]}" &
[[ -n ${TESTS_ONLY:-} ]] && job temporal_trained 0 0 configs/temporal.yaml "${synthesis[@]}" \
  --ckpt_path outputs/temporal/checkpoints/last.ckpt &
wait
echo "total: $(( $(date +%s) - start )) s"
grep -h -A20 "| metric" outputs/e2e_stagewise.test.log outputs/e2e_joint.test.log
python3 - <<'PY' | tee outputs/ddp_vs_1gpu.txt
import csv
def curve(name):
    rows = csv.DictReader(open(f"outputs/{name}/version_0/metrics.csv"))
    return {int(r["step"]): float(r["train/g/total"]) for r in rows if r.get("train/g/total")}
one, two = curve("e2e_1gpu"), curve("e2e_ddp2")
common = sorted(set(one) & set(two))
print(f"logged steps: 1 GPU {len(one)} (last {max(one)}), 2 GPUs {len(two)} (last {max(two)}), common {len(common)}")
for step in common[:: max(1, len(common) // 10)]:
    print(f"step {step}: train/g/total 1 GPU {one[step]:.4f}, 2 GPUs {two[step]:.4f}")
diff = [abs(one[s] - two[s]) / abs(one[s]) for s in common]
print(f"mean relative difference {sum(diff) / len(diff):.4f}, max {max(diff):.4f}")
PY
summary
collect e2e
