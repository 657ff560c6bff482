#!/usr/bin/env bash
# The reduced-budget CIFAR-10 study again, with the zoo's strong expert (zoo:resnet20-cifar10, 85.15%,
# trained on all 50,000 training images) instead of the study's own 55.46% expert. Everything else is
# the study of docs/results/cifar10_reduced_budget.md: the same 5,000 images, students, budget and seeds.
# Run from the repo root; finished runs are reused, so re-running only trains what is missing.
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
STUDY=${STUDY:-runs/cifar10_zoo_study}
JOBS=${JOBS:-2}
EXPERT=zoo:resnet20-cifar10
DATA="--dataset cifar10-jpg --per-class 500 --schedule cosine --lr 0.1 --batch-size 128 --weight-decay 5e-4"
METHODS=${METHODS:-vanilla,kd,at,ctkd-expert,ctkd}  # ctkd-scratch has no expert: the old table holds it
for SEEDS in 0 1 2 0,1,2; do
  ctkd-lab compare --methods $METHODS --seeds $SEEDS --out "$STUDY" --model resnet8 --scratch-model resnet20 \
    $DATA --epochs 10 --teacher "$EXPERT" --expert "$EXPERT" --jobs "$JOBS" --quiet
done
