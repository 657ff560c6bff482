#!/usr/bin/env bash
# The reduced-budget CIFAR-10 study of CMT-KD (issue 13): a 2-bit resnet8 student trained alone, with CMT-KD
# and with CMT-KD without mutual learning, beside the full-precision network, over 3 seeds.
# Run from the repo root. Every finished run is reused, so re-running the script only trains what is missing.
#   1. the weight quantizer chosen on a held-out validation split (1,000 training images never trained on):
#      the 2-bit student alone, seed 0, uniform (the kit's default) against lsq (learned step); the better
#      last-epoch validation accuracy is used by every quantized run below;
#   2. every arm over the seeds, two runs at a time (one thread each): <out>/<arm>/seed<k>;
#   3. the table: <out>/summary.md (mean ± std of the student's last-epoch test accuracy).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=${OUT:-runs/cifar10_cmtkd}
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-0 1 2}
MODEL=${MODEL:-resnet8}
BITS=${BITS:-2}
TEACHERS=${TEACHERS:-8,4}
# 500 training images per class (5,000), 100 more held out for validation, 10 epochs, the kit's CIFAR recipe
DATA=${DATA:-"--dataset cifar10-jpg --per-class 500 --val-per-class 100 --epochs 10 --eval-every 10
      --schedule cosine --lr 0.1 --batch-size 128 --weight-decay 5e-4 --quiet"}

train_into() {  # folder, then the flags of one run; skipped when finished, resumed when interrupted
  local folder=$1; shift
  grep -qs '"finished": true' "$folder/metrics.json" && return 0
  local resume=""
  [ -f "$folder/checkpoint.pt" ] && resume="--resume"
  ctkd-lab train "$@" $DATA --out "$folder" $resume
}

GRID="$OUT/val_grid"
for Q in uniform lsq; do
  train_into "$GRID/alone-$Q" --method vanilla --model "$MODEL" --w-bits "$BITS" --a-bits "$BITS" \
    --weight-quantizer "$Q" --seed 0 &
done
wait
Q=$(python - "$GRID" <<'PY'
import json, pathlib, sys
runs = {p.name: json.loads((p / "metrics.json").read_text())["student"] for p in pathlib.Path(sys.argv[1]).iterdir()
        if p.name.startswith("alone-")}
best = max(sorted(runs), key=lambda name: (runs[name]["val_acc"], name == "alone-uniform"))  # a tie: the default
for name in sorted(runs):
    print(f"{name}: val {runs[name]['val_acc']:.4f}{'  <- chosen' if name == best else ''}", file=sys.stderr)
print(best.removeprefix("alone-"))
PY
)
echo "chosen on validation: --weight-quantizer $Q"
QUANT="--weight-quantizer $Q"

# one line per run: folder, then flags
plan() {
  for s in $SEEDS; do
    echo "$OUT/full-precision/seed$s --method vanilla --model $MODEL --seed $s"
    echo "$OUT/alone-${BITS}bit/seed$s --method vanilla --model $MODEL --w-bits $BITS --a-bits $BITS $QUANT --seed $s"
    echo "$OUT/cmtkd/seed$s --method cmtkd --model $MODEL --teacher-bits $TEACHERS --student-bits $BITS $QUANT --seed $s"
    echo "$OUT/cmtkd-no-mutual/seed$s --method cmtkd --model $MODEL --teacher-bits $TEACHERS --student-bits $BITS $QUANT --no-mutual --seed $s"
  done
}
export -f train_into
export DATA
plan | xargs -P "$JOBS" -L 1 bash -c 'train_into "$@"' _

python - "$OUT" <<'PY'
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
rows = ["| arm | seeds | student test % (mean ± std) | per seed | val % | wall s (mean) |", "|---|---|---|---|---|---|"]
for arm in ("full-precision", sorted(p.name for p in out.glob("alone-*bit"))[0], "cmtkd", "cmtkd-no-mutual"):
    ms = [json.loads(p.read_text()) for p in sorted((out / arm).glob("seed*/metrics.json"))]
    ms = [m for m in ms if m["finished"]]
    if not ms:
        continue
    acc = [100 * m["student"]["test_acc"] for m in ms]
    val = [100 * m["student"]["val_acc"] for m in ms]
    sd = statistics.stdev(acc) if len(acc) > 1 else float("nan")
    rows.append(f"| {arm} | {len(ms)} | {statistics.mean(acc):.2f} ± {sd:.2f} | {', '.join(f'{a:.2f}' for a in acc)} "
                f"| {statistics.mean(val):.2f} | {statistics.mean(m['wall_time_s'] for m in ms):.0f} |")
(out / "summary.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
