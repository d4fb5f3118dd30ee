#!/usr/bin/env bash
# The GPU check of the cuda backend, for a machine with an NVIDIA GPU, nvcc, CMake and Python with
# torch, transformers and peft, and no Java (the workplace's H100 / H200). In one run (~5-7 minutes;
# its flow was dry-run here with a stand-in nvidia-smi: 82 s, every cuda step failing with its one line):
#  1. builds libasft and libasft_cuda there and runs the ctests: every CUDA kernel against its
#     CPU twin (cuda_kernels, cuda_step) and the CPU kernels themselves;
#  2. the Java GPU path end to end, with the JRE and jar of gpu/kit (made by gpu/prepare.sh where
#     Java is): every op of the cuda ops against the reference (TensorOpsTest, each attention
#     shape) and the cuda backend's tests; a small random Llama trained a few LoRA + AsFT steps on cuda and on cpu, f32
#     weights (cuBLAS FP32: tight tolerance) and bf16 weights (bf16 GEMMs: loose), losses compared
#     step by step; `asft loss` on both; eval-safety and eval-task of a demo world's model on both;
#  3. a Llama-2-7B-shaped LoRA + AsFT step (random bf16 weights, batch 8 x 512, r 8 on q_proj and
#     v_proj, lambda 1, bf16 code-mode-shaped anchors; `bench train --synthetic --device cuda`) with
#     each shape of the attention (fused, gemm, gemm-tf32) against transformers + peft plain LoRA
#     on the same card (gpu/peft_step.py).
# Logs and $OUT/summary.json under $OUT (or ./gpu-check-out); a short table is printed last.
# Without a GPU it stops at once with one line. Usage: gpu/check.sh (from the repository root).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/gpu-check-out}"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q "^GPU"; then
  echo "gpu/check.sh: no NVIDIA GPU on this machine (nvidia-smi lists none): nothing checked; run it on the GPU machine"
  exit 2
fi
if [[ ! -f "$root/gpu/kit/asft.jar" || ! -f "$root/gpu/kit/jre.tar.xz" ]]; then
  echo "gpu/check.sh: gpu/kit is missing: run gpu/prepare.sh where Java is, and carry gpu/kit along"
  exit 2
fi
mkdir -p "$out"
work="${WORK_DIR:-/tmp/asft-gpu-check}"
rm -rf "$work" && mkdir -p "$work"
start=$SECONDS
stage() { echo "== $1 (t=$((SECONDS - start)) s)"; }
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
nvcc --version | tail -1 >> "$out/gpu.txt"

stage "1. native build and ctest"
build="$work/native"
cmake -S "$root/native" -B "$build" -DCMAKE_BUILD_TYPE=Release -DASFT_CUDA=ON -DASFT_CUDA_ARCHITECTURES=90 > "$out/cmake.log" 2>&1
if cmake --build "$build" --parallel > "$out/build.log" 2>&1; then
  (cd "$build" && timeout 240 ctest --output-on-failure) > "$out/ctest.log" 2>&1
  ctest_rc=$?
else
  ctest_rc=build-failed
  tail -20 "$out/build.log"
fi
tail -4 "$out/ctest.log" 2>/dev/null
[[ -x "$build/bench_cuda" ]] && timeout 60 "$build/bench_cuda" 64 4096 8 > "$out/bench_cuda.log" 2>&1  # the regularizer of 64 modules

stage "2. the Java GPU path"
tar -C "$work" -xJf "$root/gpu/kit/jre.tar.xz"
# The CUDA presets' JNI needs CUDA's own libcudart, libcublas and libcublasLt (13.x): the toolkit's,
# else the ones PyTorch's wheels bring.
libdirs=""
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
  f="$(find /usr/local/cuda/lib64/ /usr/local/cuda/targets/x86_64-linux/lib/ /usr/lib/x86_64-linux-gnu/ /opt /usr/local/lib \
        -name "$lib" 2>/dev/null | head -1)"
  [[ -n "$f" ]] && libdirs="$libdirs:$(dirname "$f")"
  echo "$lib: ${f:-not found}" >> "$out/gpu.txt"
done
export LD_LIBRARY_PATH="${libdirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OPENBLAS_THREAD_TIMEOUT=4 GOMP_SPINCOUNT=10000
# The launcher as a file, not a shell function: `timeout` runs programs. JOPTS adds JVM options.
cat > "$work/asft" <<LAUNCHER
#!/usr/bin/env bash
exec "$work/jre/bin/java" -Xmx32g \${JOPTS:-} -Dorg.bytedeco.javacpp.maxBytes=0 -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 \\
  -jar "$root/gpu/kit/asft.jar" "\$@"
LAUNCHER
chmod +x "$work/asft"
export PATH="$work:$PATH"
# Every op of the cuda ops against the java reference (TensorOpsTest through its host bridge), and the
# cuda backend's own tests, on this GPU: with each shape of the attention.
for shape in fused gemm gemm-tf32; do
  timeout 120 "$work/jre/bin/java" -Dasft.workspace.poison=true -Dasft.cuda.attention=$shape -Dorg.bytedeco.javacpp.maxBytes=0 \
    -jar "$root/gpu/kit/junit-platform-console-standalone.jar" execute --disable-banner --disable-ansi-colors --details=tree \
    --class-path "$root/gpu/kit/asft.jar:$root/gpu/kit/java-api-tests.jar" \
    --select-class dev.asft.core.ops.TensorOpsTest --select-class dev.asft.core.backend.CudaBackendTest > "$out/junit-$shape.log" 2>&1
  echo "junit $shape attention (TensorOpsTest, CudaBackendTest): rc $?" | tee -a "$out/java.txt"
  tail -15 "$out/junit-$shape.log" | grep -E "tests (found|successful|failed|aborted)" | sed "s/^/  $shape: /" | tee -a "$out/java.txt"
done
asft example --out "$work/ex" > "$out/example.log" 2>&1
python3 - "$work/train.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for s in range(32):
        f.write(json.dumps({"input_ids": [4 + (s % 8) + t for t in range(12 + s % 5)]}) + "\n")
PY
train_common=(train --model "$work/ex/aligned" --base "$work/ex/base" --lambda 1 --data "$work/train.jsonl" --epochs 2
              --batch-size 4 --lr 1e-2 --seed 3)
for run in cpu-copy:cpu:copy:fused cuda-copy:cuda:copy:fused cuda-map:cuda:map:fused cuda-copy-gemm:cuda:copy:gemm; do
  IFS=: read -r name dev weights shape <<< "$run"
  JOPTS="-Dasft.cuda.attention=$shape" timeout 120 asft "${train_common[@]}" --device "$dev" --weights "$weights" --out "$work/$name" --metrics "$out/train-$name.jsonl" \
    > "$out/train-$name.log" 2>&1
  echo "train $name: rc $?" | tee -a "$out/java.txt"
done
for dev in cpu cuda; do # full fine-tuning (every weight's gradient: embedding, norms, biases' paths) on both
  timeout 120 asft train --model "$work/ex/aligned" --data "$work/train.jsonl" --full --epochs 1 --batch-size 4 --lr 1e-3 --seed 3 \
    --device "$dev" --out "$work/full-$dev" --metrics "$out/train-full-$dev.jsonl" > "$out/train-full-$dev.log" 2>&1
  echo "train --full $dev: rc $?" | tee -a "$out/java.txt"
done
for dev in cpu cuda; do
  timeout 60 asft loss --model "$work/ex/aligned" --adapter "$work/cpu-copy" --data "$work/train.jsonl" --device "$dev" --json \
    > "$out/loss-$dev.log" 2>&1
  echo "loss $dev: rc $?" | tee -a "$out/java.txt"
done
world="$root/gpu/kit/world" prompts="$root/gpu/kit/prompts"
for dev in cpu cuda; do
  timeout 90 asft eval-safety --model "$world/aligned" --prompts "$prompts/harmful_eval.jsonl" --max-new-tokens 24 --device "$dev" \
    --out "$out/safety-$dev.jsonl" --json > "$out/eval-safety-$dev.log" 2>&1
  echo "eval-safety $dev: rc $?" | tee -a "$out/java.txt"
  timeout 90 asft eval-task --model "$world/aligned" --prompts "$prompts/task_eval.jsonl" --max-new-tokens 4 --device "$dev" \
    --labels world,sports,business,science --json > "$out/eval-task-$dev.log" 2>&1
  echo "eval-task $dev: rc $?" | tee -a "$out/java.txt"
done

stage "3. a 7B-shaped LoRA + AsFT step: asft on cuda, then transformers + peft"
seven=(--hidden 4096 --layers 32 --heads 32 --kv-heads 32 --intermediate 11008 --vocab 32000 --batch 8 --seq 512 --rank 8 --lambda 1)
for shape in fused gemm gemm-tf32; do # the attention's shapes; the model is written once
  JOPTS="-Dasft.cuda.attention=$shape" timeout 240 asft bench train --device cuda --synthetic --synthetic-dir "$work/seven" "${seven[@]}" \
    --steps 2 --json > "$out/bench-asft-$shape.log" 2>&1
  echo "bench train (asft, cuda, $shape attention): rc $?" | tee -a "$out/java.txt"
done
timeout 180 python3 "$root/gpu/peft_step.py" --steps 4 > "$out/bench-peft.log" 2>&1
echo "peft step: rc $?" | tee -a "$out/java.txt"

stage "summary"
python3 "$root/gpu/summary.py" "$out" "$ctest_rc" | tee "$out/table.txt"
