#!/usr/bin/env bash
# Stages 2, 3 and 4 at full resolution: the runs behind their tables in docs/RESULTS.md.
#   bash scripts/gpu/stages_results.sh PHASE_A_SECONDS PHASE_B_SECONDS        (from the repo root; see common.sh)
# Two phases of fixed-time training runs, eight and six at a time, spread round-robin over the GPUs there are (made
# for 2 or 4); every run is followed by `vton test` on its last checkpoint (the whole held-out split). Phase B needs
# phase A's checkpoints (stage 3 fed by stages 1-2, stage 4's intrinsic-flow generator on the stage-2 regressor).
set -uo pipefail
phase_a=${1:-190}
phase_b=${2:-160}
source "$(dirname "$0")/common.sh"
synth_mpv & synth_deepfashion & wait
echo "data: $(( $(date +%s) - start )) s"
rm -rf outputs/s[1-4]_* && mkdir -p outputs

s2=configs/stage2_warp.yaml s3=configs/stage3_synthesis.yaml s4=configs/stage4_refine.yaml
# Phase A: stage 2 (three variants), stage 1 SPG (feeds stage 3), stage 3 teacher-forced, stage 4 ablations.
job s2_cascade 0 "$phase_a" $s2 &
job s2_tps 0 "$phase_a" configs/stage2_warp_tps.yaml &
job s2_flow 1 "$phase_a" configs/stage2_warp_flow.yaml &
job s1_spg 1 "$phase_a" configs/stage1_layout.yaml --model.init_args.variant spg &
job s4_single 2 "$phase_a" $s4 &
job s4_single_cl1 2 "$phase_a" $s4 --model.init_args.warping.init_args.head_widths '[2]' &
job s4_single_noaff 3 "$phase_a" $s4 --model.init_args.loss_weights '{aff: 0}' &
job s3_spg 3 "$phase_a" $s3 &
wait
echo "phase A: $(( $(date +%s) - start )) s"
# Phase B: stage 3 ablations and fed by stages 1-2; stage 4 seed 004 on the stage-2 flow regressor; stage 4 with
# fusion on MPV (the chain's stage 4).
fed=(--model.init_args.layout_checkpoint outputs/s1_spg/checkpoints/last.ckpt)
job s3_spg_no_adv_l 0 "$phase_b" $s3 --model.init_args.loss_weights '{adv_l: 0}' &
job s3_spg_style 0 "$phase_b" $s3 --model.init_args.loss_weights '{style: 10}' &
job s3_fed_tps 1 "$phase_b" $s3 "${fed[@]}" --model.init_args.warp_checkpoint outputs/s2_tps/checkpoints/last.ckpt &
job s3_fed_cascade 1 "$phase_b" $s3 "${fed[@]}" \
  --model.init_args.warp_checkpoint outputs/s2_cascade/checkpoints/last.ckpt &
job s4_intrinsic 2 "$phase_b" configs/stage4_refine_intrinsic.yaml \
  --model.init_args.flow_checkpoint outputs/s2_flow/checkpoints/last.ckpt \
  --model.init_args.adversarial_start_epoch 1 --model.init_args.pixel_warping_start_epoch "${PIXEL_EPOCH:-6}" &
job s4_fusion 3 "$phase_b" $s4+configs/stage4_refine_fusion.yaml &
wait
echo "total: $(( $(date +%s) - start )) s"
summary
collect stages
