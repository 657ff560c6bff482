#!/usr/bin/env bash
# "When does each method help?" (issue 21; docs/results/when_it_helps.md): the controls of part 2.
# Run from the repo root, after `make setup`:
#
#     PATH=.venv/bin:$PATH bash docs/results/run_when_it_helps.sh            # every part, in order
#     PATH=.venv/bin:$PATH PARTS="lr ctkd" bash docs/results/run_when_it_helps.sh
#
# Every run trains into its own folder under $OUT: a finished run is reused (its record, committed under
# docs/results/when_it_helps_records/, carries it across sessions), an interrupted one resumed (its checkpoint,
# within a session), so re-running the script only trains what is missing. Runs go two at a time ($JOBS), one thread each (--threads 1), on the full 10,000-image test set.
# Every choice (a learning rate, beta) is made on the held-out validation split (1,000 training images never
# trained on), seed 0, by the best last-epoch validation accuracy; a tie keeps the grid's first value.
# The per-seed CSV beside the page is written by `python docs/results/when_it_helps.py`.
#
# Parts:
#   lr     vanilla resnet8, lr in {0.02, 0.05, 0.1, 0.2, 0.4} x {10, 30} epochs x seeds 0-2 (also the
#          validation grid that tunes the vanilla baseline of the ctkd part);
#   ctkd   the zoo expert (zoo:resnet20-cifar10): beta of ctkd-expert chosen from {10, 30, 100, 300}; then
#          ctkd-expert and ctkd (scratch resnet20, gamma 0.03) at that beta over seeds 0-2;
#   teskd  resnet20 with Nesterov (the TESKD study's optimiser): vanilla and teskd each with lr chosen from
#          {0.05, 0.1, 0.2, 0.4}; vanilla at the TESKD teacher's equivalent step (lr 0.02, wd 2.5e-3);
#          teskd with the KL weight 0 (deep supervision only) at teskd's chosen lr; seeds 0-2.
#   dgkd   the chains study's setting (docs/results/cifar10_chains.md: 2,500 images, T 2 and lam 0.5 as chosen
#          there on validation, ce_scale paper): per seed the chain plain10 -> plain8 -> plain6 -> plain4 ->
#          plain2 alone, by KD, TAKD and DGKD (`ctkd-lab chain`); then the plain2 student of KD and of TAKD at
#          DGKD's loss scale (lr x 4, wd / 4: G = 4 guides) and of DGKD at loss / 4 (lr / 4, wd x 4).
set -euo pipefail
export OMP_NUM_THREADS=1
OUT=${OUT:-runs/when_it_helps}
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-0 1 2}
PARTS=${PARTS:-lr ctkd teskd dgkd}
GRID_LR="0.05 0.1 0.2 0.4"
# 500 training images per class (5,000, subset_seed 0), 100 more per class held out for validation; SGD
# momentum 0.9, batch 128, cosine schedule, pad-4 crop + flip; test and validation at the last epoch only
COMMON="--dataset cifar10-jpg --per-class 500 --val-per-class 100 --schedule cosine --batch-size 128
        --threads 1 --quiet"

# A finished run's record (config.json, metrics.json, history.jsonl; no weights) is committed under $RECORDS,
# so a later session (a fresh clone, no runs/) skips it; a run interrupted within a session resumes.
RECORDS=${RECORDS:-docs/results/when_it_helps_records}

record() {  # folder: copy its record under $RECORDS once it has finished
  local folder=$1 rec="$RECORDS/${1#"$OUT"/}"
  grep -qs '"finished": true' "$folder/metrics.json" || return 0
  mkdir -p "$rec" && cp "$folder/config.json" "$folder/metrics.json" "$folder/history.jsonl" "$rec/"
}

train_into() {  # folder, then the flags of one run; skipped when recorded or finished, resumed when interrupted
  local folder=$1; shift
  grep -qs '"finished": true' "$RECORDS/${folder#"$OUT"/}/metrics.json" && return 0
  if ! grep -qs '"finished": true' "$folder/metrics.json"; then
    local resume=""
    [ -f "$folder/checkpoint.pt" ] && resume="--resume"
    echo "$(date +%H:%M:%S) start $folder"
    ctkd-lab train "$@" $COMMON --out "$folder" $resume
  fi
  record "$folder"
}
export -f train_into record
export COMMON OUT RECORDS

run_plan() {  # stdin: one run per line (folder, then flags), trained $JOBS at a time
  xargs -P "$JOBS" -L 1 bash -c 'train_into "$@"' _
}

choose() {  # prefix under $OUT, then the grid's values: the value whose <prefix><value>/seed0 validates best
  python - "$RECORDS/${1#"$OUT"/}" "${@:2}" <<'PY'
import json, sys
prefix, values = sys.argv[1], sys.argv[2:]
def val(v):
    m = json.load(open(f"{prefix}{v}/seed0/metrics.json"))
    return m[m["primary"]]["val_acc"]
scores = {v: val(v) for v in values}
best = max(values, key=lambda v: scores[v])  # max keeps the first of equals
for v in values:
    print(f"{prefix}{v}: val {100 * scores[v]:.2f}%{'  <- chosen' if v == best else ''}", file=sys.stderr)
print(best)
PY
}

part_lr() {
  local D="$OUT/lr_budget"
  for s in $SEEDS; do for E in 10 30; do for LR in 0.02 0.05 0.1 0.2 0.4; do
    echo "$D/e$E/vanilla-lr$LR/seed$s --method vanilla --model resnet8 --epochs $E --eval-every $E --lr $LR --weight-decay 5e-4 --seed $s"
  done; done; done | run_plan
}

part_ctkd() {
  local D="$OUT/ctkd" EXPERT=zoo:resnet20-cifar10
  local FLAGS="--model resnet8 --epochs 10 --eval-every 10 --lr 0.1 --weight-decay 5e-4 --expert $EXPERT"
  for B in 10 30 100 300; do
    echo "$D/ctkd-expert-beta$B/seed0 --method ctkd-expert --beta $B $FLAGS --seed 0"
  done | run_plan
  local B; B=$(choose "$D/ctkd-expert-beta" 10 30 100 300)
  echo "ctkd: chosen on validation: beta=$B"
  for s in $SEEDS; do
    echo "$D/ctkd-expert-beta$B/seed$s --method ctkd-expert --beta $B $FLAGS --seed $s"
    echo "$D/ctkd-beta$B/seed$s --method ctkd --scratch-model resnet20 --beta $B $FLAGS --seed $s"
  done | run_plan
}

part_teskd() {
  local D="$OUT/teskd" FLAGS="--model resnet20 --nesterov --epochs 10 --eval-every 10"
  for LR in $GRID_LR; do
    echo "$D/vanilla-lr$LR/seed0 --method vanilla $FLAGS --lr $LR --weight-decay 5e-4 --seed 0"
    echo "$D/teskd-lr$LR/seed0 --method teskd $FLAGS --lr $LR --weight-decay 5e-4 --seed 0"
  done | run_plan
  local V S; V=$(choose "$D/vanilla-lr" $GRID_LR); S=$(choose "$D/teskd-lr" $GRID_LR)
  echo "teskd: chosen on validation: vanilla lr=$V, teskd lr=$S"
  for s in $SEEDS; do
    echo "$D/vanilla-lr$V/seed$s --method vanilla $FLAGS --lr $V --weight-decay 5e-4 --seed $s"
    echo "$D/vanilla-equiv/seed$s --method vanilla $FLAGS --lr 0.02 --weight-decay 2.5e-3 --seed $s"
    echo "$D/teskd-lr$S/seed$s --method teskd $FLAGS --lr $S --weight-decay 5e-4 --seed $s"
    echo "$D/teskd-kl0-lr$S/seed$s --method teskd --kd-weight 0 $FLAGS --lr $S --weight-decay 5e-4 --seed $s"
  done | run_plan
}

part_dgkd() {
  local D="$OUT/dgkd" CHAIN=plain10,plain8,plain6,plain4,plain2
  local CDATA="--dataset cifar10-jpg --per-class 250 --val-per-class 100 --epochs 10 --eval-every 10
               --schedule cosine --lr 0.1 --batch-size 128 --weight-decay 5e-4 --threads 1 --quiet"
  local LOSS="--temperature 2 --lam 0.5"
  chains() {
    ctkd-lab chain --models "$CHAIN" --mode vanilla --seeds "$1" --out "$D" $CDATA
    ctkd-lab chain --models plain10,plain2 --mode kd --seeds "$1" --out "$D" $CDATA $LOSS
    ctkd-lab chain --models "$CHAIN" --mode takd --seeds "$1" --out "$D" $CDATA $LOSS
    ctkd-lab chain --models "$CHAIN" --mode dgkd --seeds "$1" --out "$D" $CDATA $LOSS
  }
  local pids=() s
  for s in $SEEDS; do
    chains "$s" > "$D-seed$s.log" 2>&1 &
    pids+=($!)
    if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  wait
  for f in "$D"/seed*/*/; do record "${f%/}"; done
  # the students at the other loss scale (they need the guides' checkpoints: a session that finds only the
  # chains' records retrains the chains, which gives the same runs, one thread each): same data and loss, only (lr, wd) moved by the identity
  local common="$COMMON"
  COMMON="--dataset cifar10-jpg --per-class 250 --val-per-class 100 --epochs 10 --eval-every 10 --schedule cosine
          --batch-size 128 --threads 1 --quiet $LOSS"
  for s in $SEEDS; do
    local S="$D/seed$s"
    echo "$D/scaled/kd-x4/seed$s --method takd --model plain2 --teacher $S/plain10-teacher --lr 0.4 --weight-decay 1.25e-4 --seed $s"
    echo "$D/scaled/takd-x4/seed$s --method takd --model plain2 --teacher $S/plain4-takd --lr 0.4 --weight-decay 1.25e-4 --seed $s"
    echo "$D/scaled/dgkd-div4/seed$s --method dgkd --model plain2 --teachers $S/plain10-teacher,$S/plain8-dgkd,$S/plain6-dgkd,$S/plain4-dgkd --lr 0.025 --weight-decay 2e-3 --seed $s"
  done | run_plan
  COMMON="$common"
}

for part in $PARTS; do
  echo "$(date +%H:%M:%S) part $part"
  "part_$part"
done
echo "$(date +%H:%M:%S) done: $PARTS"
