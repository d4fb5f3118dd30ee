#!/usr/bin/env bash
# asft's LoRA training step against the same step in PyTorch CPU eager, in interleaved rounds
# (docs/PERFORMANCE.md, "Training throughput"). Each round runs `./asft bench train --steps N`
# and `benchmarks/torch_train_step.py N`, alternating which goes first, so that both see the
# same neighbours on a shared machine; PyTorch gets the launcher's thread settings
# (OPENBLAS_THREAD_TIMEOUT=4, GOMP_SPINCOUNT=10000: the same OpenBLAS and libgomp behaviour).
# Prints each round, then the medians of the per-round median step times and their ratio, and
# a JSON summary as the last line. Not part of any test (it needs PyTorch and minutes).
#
# With COMPARE_STOCK=1 each round also runs PyTorch as installed (neither thread setting: what a
# user gets from `python3 train.py`), and the summary gives that ratio too.
#
# Usage: [COMPARE_STOCK=1] benchmarks/compare_train.sh [ROUNDS (default 8)] [STEPS (default 6)]
# Needs: a built asft (mvn -B -q package -DskipTests) and /usr/bin/python3 with torch.
set -euo pipefail
rounds="${1:-8}"
steps="${2:-6}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${ASFT_PYTHON:-/usr/bin/python3}"
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "compare_train: $python cannot import torch (Debian: apt-get install python3-torch)" >&2
  exit 2
fi
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "compare_train: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "compare_train: STEPS must be a positive integer, got '$steps'" >&2; exit 2; }

export OPENBLAS_THREAD_TIMEOUT=4 GOMP_SPINCOUNT=10000
log="$(mktemp)"
trap 'rm -f "$log" "$log.err"' EXIT

run_asft() { # its progress lines go to a file, shown only if it fails
  local json
  if ! json="$("$root/asft" bench train --steps "$steps" --json 2>"$log.err" | tail -1)" || [[ "$json" != "{"* ]]; then
    cat "$log.err" >&2
    echo "compare_train: asft bench train failed (built? mvn -B -q package -DskipTests)" >&2
    exit 1
  fi
  "$python" -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["s_per_step"], d["s_per_step_median"], d["mfu"])' "$json"
}
torch_step() { # [COMMAND PREFIX...]: "torch ..., 2 threads: MEAN s/step (median MEDIAN) over N steps, ..."
  "$@" "$python" "$root/benchmarks/torch_train_step.py" "$steps" | tail -1 |
    sed -E 's/.*: ([0-9.]+) s\/step \(median ([0-9.]+)\).*/\1 \2 -/'
}
run_torch() { torch_step; }
run_stock() { torch_step env -u OPENBLAS_THREAD_TIMEOUT -u GOMP_SPINCOUNT; } # without the launcher's thread settings

for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order="asft torch"; else order="torch asft"; fi
  if [[ "${COMPARE_STOCK:-0}" == 1 ]]; then order="$order stock"; fi
  for side in $order; do
    read -r mean median mfu < <("run_$side")
    echo "$i $side $mean $median $mfu" | tee -a "$log"
  done
done

"$python" - "$log" <<'EOF'
import json, statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {s: {r[0]: float(r[3]) for r in rows if r[1] == s} for s in ("asft", "torch")}
a, t = statistics.median(med["asft"].values()), statistics.median(med["torch"].values())
per_round = sorted(med["torch"][k] / med["asft"][k] for k in med["asft"])
mfu = statistics.median(float(r[4]) for r in rows if r[1] == "asft")
print(f"asft {a:.3f} s/step, PyTorch {t:.3f} s/step (medians of {len(per_round)} rounds' median steps): "
      f"{t / a:.2f}x; per round {per_round[0]:.2f}-{per_round[-1]:.2f}x "
      f"(median {statistics.median(per_round):.2f}, {sum(x >= 1.5 for x in per_round)} of {len(per_round)} >= 1.5); "
      f"asft MFU median {100 * mfu:.0f}%")
summary = {"rounds": len(per_round), "asft_s_per_step": a, "torch_s_per_step": t, "ratio": t / a,
           "ratio_per_round_median": statistics.median(per_round), "asft_mfu_median": mfu}
stock = {r[0]: float(r[3]) for r in rows if r[1] == "stock"}
if stock:
    st = statistics.median(stock.values())
    print(f"PyTorch as installed (no thread settings) {st:.3f} s/step: {st / a:.2f}x")
    summary.update({"torch_stock_s_per_step": st, "ratio_stock": st / a})
print(json.dumps(summary))
EOF
