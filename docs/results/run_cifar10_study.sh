#!/usr/bin/env bash
# The reduced-budget CIFAR-10 study (docs/results/cifar10_reduced_budget.md). Run from the repo root.
# Trio: expert resnet20 (pre-trained, frozen), scratch teacher resnet20, student resnet8.
# Seeds run one after another over all methods, so a cut-short study is still balanced, and
# `ctkd-lab compare` reuses every finished run, so re-running the script only adds what is missing.
set -euo pipefail
# one CPU thread per run, as the published table was made: results are deterministic for a given
# thread count but differ in the last digits across thread counts
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
STUDY=${STUDY:-runs/cifar10_study}
DATA="--dataset cifar10-jpg --per-class 500 --schedule cosine --lr 0.1 --batch-size 128 --weight-decay 5e-4"
METHODS=vanilla,kd,at,ctkd-scratch,ctkd-expert,ctkd
grep -qs '"finished": true' "$STUDY/expert_resnet20/metrics.json" || \
  ctkd-lab train --method vanilla --model resnet20 $DATA --epochs 15 --seed 0 --out "$STUDY/expert_resnet20" --quiet
for SEEDS in 0 1 2 0,1,2; do
  ctkd-lab compare --methods $METHODS --seeds $SEEDS --out "$STUDY" --model resnet8 --scratch-model resnet20 \
    $DATA --epochs 10 --teacher "$STUDY/expert_resnet20" --expert "$STUDY/expert_resnet20" --quiet
done
