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
#   p3expert, p3ctkd, p3teskd, p3dgkd, p3cmtkd
#          part 3, the budget curves at 16 px (10, 30, 90 epochs; the page's "Part 3 as fixed before its
#          first run"): every arm's lr chosen on validation (seed 0) at 10 and 30 epochs from $GRID_LR, the
#          90-epoch runs at the 30-epoch choice. p3expert trains the 16 px zoo expert and adds it to the zoo
#          (ctkd_lab/zoo/resnet20-cifar10-16px, to be committed); p3ctkd and p3cmtkd need it.
set -euo pipefail
export OMP_NUM_THREADS=1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
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
  # a run whose weights a later run needs (a guide, a scratch teacher to export) is retrained when only its
  # record is here (same settings, same seed: the same run)
  if [ -z "${NEED_WEIGHTS:-}" ] || [ -f "$folder/checkpoint.pt" ]; then
    grep -qs '"finished": true' "$RECORDS/${folder#"$OUT"/}/metrics.json" && return 0
  fi
  if ! grep -qs '"finished": true' "$folder/metrics.json"; then
    local resume=""
    [ -f "$folder/checkpoint.pt" ] && resume="--resume"
    echo "$(date +%H:%M:%S) start $folder"
    ctkd-lab train "$@" $COMMON --out "$folder" $resume
  fi
  record "$folder"
}
export -f train_into record
export COMMON OUT RECORDS NEED_WEIGHTS

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

# ---- part 3: budget curves at 16 px -------------------------------------------------------------------
# An arm is a folder and its flags; "@E@" and "@S@" in the flags stand for the run's epochs and seed (a guide
# that depends on them). Folders: <arm>/e<epochs>/lr<lr>/seed<seed>.
P3_EXPERT=zoo:resnet20-cifar10-16px

tune_plan() {  # arm folder, flags: the seed-0 validation runs at 10 and 30 epochs, every lr of the grid
  local dir=$1 flags=$2 E LR f
  for E in 10 30; do for LR in $GRID_LR; do
    f=${flags//@E@/$E}; f=${f//@S@/0}
    echo "$dir/e$E/lr$LR/seed0 $f --epochs $E --eval-every $E --lr $LR --seed 0"
  done; done
}

chosen_lr() {  # arm folder, epochs: the lr validation chose at that budget (90 epochs: the 30-epoch choice)
  local E=$2; [ "$E" = 90 ] && E=30
  choose "$1/e$E/lr" $GRID_LR
}

seed_plan() {  # arm folder, flags: the chosen lr's other seeds at 10 and 30 epochs, every seed at 90
  local dir=$1 flags=$2 E s LR f
  for E in 10 30 90; do
    LR=$(chosen_lr "$dir" $E)
    for s in $SEEDS; do
      if [ "$E" != 90 ] && [ "$s" = 0 ]; then continue; fi
      f=${flags//@E@/$E}; f=${f//@S@/$s}
      echo "$dir/e$E/lr$LR/seed$s $f --epochs $E --eval-every $E --lr $LR --seed $s"
    done
  done
}

tuned_arms() {  # "folder|flags" lines on stdin: tune them all, then their seeds; runs $JOBS at a time
  local arms=() a
  mapfile -t arms
  for a in "${arms[@]}"; do tune_plan "${a%%|*}" "${a#*|}"; done | run_plan
  for a in "${arms[@]}"; do seed_plan "${a%%|*}" "${a#*|}"; done | run_plan
}

part_p3expert() {  # the 16 px expert: the zoo recipe of resnet20-cifar10 with --image-size 16
  local folder="$OUT/p3/expert/resnet20-cifar10-16px"
  [ -f "$REPO/ctkd_lab/zoo/resnet20-cifar10-16px/manifest.json" ] && return 0
  local cmd="--method vanilla --model resnet20 --dataset cifar10-jpg --image-size 16 --epochs 15 --schedule cosine
             --lr 0.1 --nesterov --batch-size 128 --weight-decay 5e-4 --seed 0 --threads 1"
  NEED_WEIGHTS=1 COMMON="--quiet" train_into "$folder" $cmd  # all 50,000 images: not $COMMON's subset
  python "$REPO/scripts/add_to_zoo.py" "$folder" resnet20-cifar10-16px --zoo "$REPO/ctkd_lab/zoo" \
    --command "OMP_NUM_THREADS=1 ctkd-lab train $(echo $cmd) --out runs/zoo/resnet20-cifar10-16px --quiet"
}

part_p3ctkd() {
  local D="$OUT/p3/ctkd" F="--model resnet8 --image-size 16 --weight-decay 5e-4"
  NEED_WEIGHTS=1 tuned_arms <<<"$D/ctkd-scratch|--method ctkd-scratch --scratch-model resnet20 $F"
  tuned_arms <<ARMS
$D/vanilla|--method vanilla $F
$D/kd|--method kd --teacher $P3_EXPERT $F
$D/ctkd-expert|--method ctkd-expert --expert $P3_EXPERT --beta 100 $F
$D/ctkd|--method ctkd --scratch-model resnet20 --expert $P3_EXPERT --beta 100 $F
ARMS
  # KD from the final scratch teacher of the ctkd-scratch run with the same seed and budget
  local E s LR run pt
  for E in 10 30 90; do
    LR=$(chosen_lr "$D/ctkd-scratch" $E)
    for s in $SEEDS; do
      run="$D/ctkd-scratch/e$E/lr$LR/seed$s" pt="$D/scratch-final/e$E/seed$s.pt"
      [ -f "$pt" ] || { mkdir -p "${pt%/*}"; ctkd-lab export --checkpoint "$run" --role scratch_teacher --out "$pt"; }
    done
  done
  tuned_arms <<<"$D/kd-final-scratch|--method kd --teacher $D/scratch-final/e@E@/seed@S@.pt $F"
}

part_p3teskd() {
  local D="$OUT/p3/teskd" F="--model resnet20 --nesterov --image-size 16 --weight-decay 5e-4"
  tuned_arms <<ARMS
$D/vanilla|--method vanilla $F
$D/teskd|--method teskd $F
ARMS
}

part_p3dgkd() {  # plain10 -> plain6 -> plain2 under the released code's recipe (no augmentation, wd 1e-4, T 5, lam 1)
  local D="$OUT/p3/dgkd" F="--image-size 16 --no-augment --weight-decay 1e-4" L="--temperature 5 --lam 1" s
  local G="$D/guides"
  for s in $SEEDS; do
    echo "$G/plain10/seed$s --method vanilla --model plain10 $F --epochs 90 --eval-every 90 --lr 0.1 --seed $s"
  done | NEED_WEIGHTS=1 run_plan
  for s in $SEEDS; do
    echo "$G/plain6/seed$s --method takd --model plain6 --teacher $G/plain10/seed$s $L $F --epochs 90 --eval-every 90 --lr 0.1 --seed $s"
  done | NEED_WEIGHTS=1 run_plan
  tuned_arms <<ARMS
$D/alone|--method vanilla --model plain2 $F
$D/kd|--method takd --model plain2 --teacher $G/plain10/seed@S@ $L $F
$D/takd|--method takd --model plain2 --teacher $G/plain6/seed@S@ $L $F
$D/dgkd|--method dgkd --model plain2 --teachers $G/plain10/seed@S@,$G/plain6/seed@S@ --ce-scale paper $L $F
ARMS
  # DGKD at loss / 2 (G = 2 guides): lr / 2 and wd x 2 of dgkd's chosen lr, by the loss-scale identity; not tuned
  local E LR HALF
  for E in 10 30 90; do
    LR=$(chosen_lr "$D/dgkd" $E); HALF=$(python -c "print($LR / 2)")
    for s in $SEEDS; do
      echo "$D/dgkd-half/e$E/lr$HALF/seed$s --method dgkd --model plain2 --teachers $G/plain10/seed$s,$G/plain6/seed$s --ce-scale paper $L --image-size 16 --no-augment --weight-decay 2e-4 --epochs $E --eval-every $E --lr $HALF --seed $s"
    done
  done | run_plan
}

part_p3cmtkd() {  # resnet8 at 2 bits: LSQ weights, HWGQ activations, first and last layer in full precision
  local D="$OUT/p3/cmtkd" F="--model resnet8 --image-size 16 --weight-decay 5e-4 --weight-quantizer lsq --act-quantizer hwgq"
  tuned_arms <<ARMS
$D/alone|--method vanilla --w-bits 2 --a-bits 2 $F
$D/cmtkd|--method cmtkd --student-bits 2 --teacher-bits 8,6,4 --pi-lr-scale 10 $F
$D/kd|--method kd --teacher $P3_EXPERT --w-bits 2 --a-bits 2 $F
ARMS
}

for part in $PARTS; do
  echo "$(date +%H:%M:%S) part $part"
  "part_$part"
done
echo "$(date +%H:%M:%S) done: $PARTS"
