#!/usr/bin/env bash
# The investigations of docs/EXPERIMENTS.md: AsFT at p = 0.1 with other anchors than the
# default code-mode C, on the demo world and the demo's own data and hyperparameters.
# Run from the repository root after `./asft demo` (it reads the world and the data it wrote):
#   ./asft demo --quick --out asft-demo-quick
#   docs/experiments/anchor_modes.sh ~/.cache/asft/worlds/standard-seed42-f6 asft-demo-quick /tmp/asft-exp
set -euo pipefail
world=$1 demo=$2 out=$3
mkdir -p "$out"
data=$demo/data/finetune_p0.10-seed42.jsonl
train() { # name lambda anchor-args...
  local name=$1 lambda=$2; shift 2
  [ -e "$out/$name" ] || ./asft train --model "$world/aligned" --data "$data" --out "$out/$name" --lambda "$lambda" \
      --rank 8 --alpha 32 --lora-dropout 0.05 --batch-size 8 --epochs 3 --lr 1e-3 --schedule step:0.85 --seed 42 "$@" >/dev/null 2>&1
  local hs fa
  hs=$(./asft eval-safety --model "$world/aligned" --adapter "$out/$name" --prompts "$demo/data/harmful_eval.jsonl" \
      --max-new-tokens 24 --json 2>/dev/null | tail -1)
  fa=$(./asft eval-task --model "$world/aligned" --adapter "$out/$name" --prompts "$demo/data/task_eval.jsonl" \
      --max-new-tokens 24 --labels world,sports,business,science --json 2>/dev/null | tail -1)
  echo "{\"run\": \"$name\", \"lambda\": $lambda, \"safety\": $hs, \"task\": $fa}"
}
for mode in subspace:4 subspace:16 direction; do
  f=$out/anchor-${mode/:/}.safetensors
  [ -e "$f" ] || ./asft anchor --base "$world/base" --aligned "$world/aligned" --targets q_proj,v_proj --mode "$mode" --out "$f" >/dev/null 2>&1
done
[ -e "$out/random-base" ] || java -cp trainer/target/asft.jar docs/experiments/RandomAnchorBase.java \
    "$world/base" "$world/aligned" "$out/random-base" 7
for lambda in 1 10; do
  train "code-l$lambda" $lambda --base "$world/base"
  train "random-code-l$lambda" $lambda --base "$out/random-base"
  for mode in subspace4 subspace16 direction; do train "$mode-l$lambda" $lambda --anchor "$out/anchor-$mode.safetensors"; done
done
