#!/usr/bin/env bash
# GPU checks without Java or Maven, for a machine with an NVIDIA GPU, nvcc and CMake:
# builds libasft + libasft_cuda, runs every CUDA kernel against the CPU kernels (ctest), the
# whole-model benchmark, and (when PyTorch with CUDA is there) the released code's dense
# formulation for comparison. Prints a short table last; logs go to $OUT (or ./gpu-check-out).
# Usage: native/tests/gpu-check.sh   (from the repository root; ~2-4 minutes on an H200)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${OUT:-$root/gpu-check-out}"
build="${BUILD_DIR:-/tmp/asft-gpu-build}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt" || true

cmake -S "$root/native" -B "$build" -DCMAKE_BUILD_TYPE=Release -DASFT_CUDA=ON > "$out/cmake.log" 2>&1
cmake --build "$build" --parallel > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }

set +e
(cd "$build" && ctest --output-on-failure) > "$out/ctest.log" 2>&1
ctest_rc=$?
"$build/bench_cuda" 64 4096 8 > "$out/bench.log" 2>&1
bench_rc=$?
"$build/bench_cpu_kernels" 4096 8 > "$out/bench_cpu.log" 2>&1
torch_rc=skipped
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  PYTHONUNBUFFERED=1 python3 "$root/benchmarks/torch_cuda_regularizer.py" > "$out/torch.log" 2>&1
  torch_rc=$?
fi
set -e

echo "== ctest (rc $ctest_rc)"; tail -5 "$out/ctest.log"
echo "== CPU kernels on this host"; tail -3 "$out/bench_cpu.log"
echo "== PyTorch reference (rc $torch_rc)"; [ -f "$out/torch.log" ] && tail -6 "$out/torch.log"
echo "== whole-model regularizer (rc $bench_rc)"; cat "$out/bench.log"
[ "$ctest_rc" = 0 ] && [ "$bench_rc" = 0 ]
