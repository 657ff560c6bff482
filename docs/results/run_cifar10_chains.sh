#!/usr/bin/env bash
# The reduced-budget CIFAR-10 study of teacher-assistant chains (docs/results/cifar10_chains.md).
# Run from the repo root. Plain CNN chain plain10 -> plain8 -> plain6 -> plain4 -> plain2.
# Every finished run is reused, so re-running the script only trains what is missing.
#   1. seed 0's teacher (plain10 alone) and student alone (plain2);
#   2. the KD loss settings chosen on a held-out validation split (1,000 training images never trained
#      on): the KD student (plain10 -> plain2, seed 0) for T in {2, 5} x lam in {0.5, 1}; the setting with
#      the best last-epoch validation accuracy is used by every method below (kd, takd, dgkd);
#   3. every seed's chains, one process per seed (3 processes share the 2 cores).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=${OUT:-runs/cifar10_chains}
SEEDS=${SEEDS:-0 1 2}
CHAIN=plain10,plain8,plain6,plain4,plain2
# 250 training images per class (2,500), 100 more per class held out for validation, 10 epochs, the
# kit's CIFAR recipe; the test set is evaluated at the last epoch only (--eval-every 10)
DATA=${DATA:-"--dataset cifar10-jpg --per-class 250 --val-per-class 100 --epochs 10 --eval-every 10
      --schedule cosine --lr 0.1 --batch-size 128 --weight-decay 5e-4 --quiet"}

ctkd-lab chain --models plain10,plain2 --mode vanilla --seeds 0 --out "$OUT" $DATA

GRID="$OUT/val_grid"
for T in 2 5; do
  for LAM in 0.5 1; do
    folder="$GRID/kd-T$T-lam$LAM"
    grep -qs '"finished": true' "$folder/metrics.json" || \
      ctkd-lab train --method takd --model plain2 --teacher "$OUT/seed0/plain10-teacher" --temperature $T \
        --lam $LAM --seed 0 $DATA --out "$folder" &
  done
  wait
done
read -r T LAM < <(python - "$GRID" <<'PY'
import json, pathlib, sys
runs = {p.name: json.loads((p / "metrics.json").read_text())["student"] for p in pathlib.Path(sys.argv[1]).iterdir()
        if p.is_dir()}
best = max(runs, key=lambda name: runs[name]["val_acc"])
for name in sorted(runs):
    print(f"{name}: val {runs[name]['val_acc']:.4f}{'  <- chosen' if name == best else ''}", file=sys.stderr)
_, t, lam = best.split("-")
print(t[1:], lam[3:])
PY
)
echo "chosen on validation: T=$T lam=$LAM"
LOSS="--temperature $T --lam $LAM"

one_seed() {
  local s=$1
  ctkd-lab chain --models plain10,plain2 --mode vanilla --seeds "$s" --out "$OUT" $DATA
  ctkd-lab chain --models plain10,plain2 --mode kd --seeds "$s" --out "$OUT" $DATA $LOSS
  ctkd-lab chain --models $CHAIN --mode takd --seeds "$s" --out "$OUT" $DATA $LOSS
  ctkd-lab chain --models $CHAIN --mode dgkd --seeds "$s" --out "$OUT" $DATA $LOSS
  ctkd-lab chain --models $CHAIN --mode dgkd --drop fixed --drop-k 1 --seeds "$s" --out "$OUT" $DATA $LOSS
}
for s in $SEEDS; do one_seed "$s" > "$OUT/seed$s.log" 2>&1 & done
wait
# the table over every seed (every run is reused)
ctkd-lab chain --models $CHAIN --mode dgkd --drop fixed --drop-k 1 --seeds "${SEEDS// /,}" --out "$OUT" $DATA $LOSS
