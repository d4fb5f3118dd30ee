"""Reads gpu/check.sh's logs under OUT, writes OUT/summary.json and prints the table (last).

Tolerances (stated, per step's training loss, |cuda - cpu| / |cpu|): f32 weights 1e-3 (cuBLAS FP32
and the CPU's GEMMs differ only in summation order, compounded over the steps); bf16 weights 3e-2
(the cuda GEMMs round the activations to bf16, 8 significant bits, as PyTorch's bf16 does; the
cpu widens the weights and keeps activations in f32).
Usage: python3 gpu/summary.py OUT CTEST_RC
"""
import json
import os
import re
import sys

out, ctest_rc = sys.argv[1], sys.argv[2]
TOL = {"cuda-copy": 1e-3, "cuda-map": 3e-2, "cuda-copy-gemm": 1e-3, "full-cuda": 1e-3}
BASE = {"full-cuda": "full-cpu"}  # what each run is compared with (default: cpu-copy)


def last_json(path):
    try:
        for line in reversed(open(path).read().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
    except (OSError, ValueError):
        pass
    return None


def losses(name):
    try:
        return [json.loads(l)["loss"] for l in open(os.path.join(out, f"train-{name}.jsonl"))]
    except (OSError, ValueError, KeyError):
        return None


def tail_error(path):
    try:
        lines = [l for l in open(path).read().splitlines() if l.strip()]
        return lines[-1][:300] if lines else "empty log"
    except OSError:
        return "no log"


java_txt = open(os.path.join(out, "java.txt")).read() if os.path.exists(os.path.join(out, "java.txt")) else ""
s = {"runs": java_txt.splitlines(),
     # with the GPU: 41 tests found (TensorOpsTest 30 over cpu, sealed and cuda; CudaBackendTest 11), none aborted
     "junit": [" ".join(l.replace("[", "").replace("]", "").split()) for l in java_txt.splitlines()
               if any(w in l for w in ("tests found", "tests successful", "tests failed", "tests aborted", "junit"))],
     "gpu": open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else None}
ctest = open(os.path.join(out, "ctest.log")).read() if os.path.exists(os.path.join(out, "ctest.log")) else ""
m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", ctest)
s["ctest"] = {"rc": ctest_rc, "summary": m.group(0) if m else None,
              "skipped": re.findall(r"\d+ - (\S+) \(Skipped\)", ctest)}
s["train"] = {}
for name in TOL:
    cpu = losses(BASE.get(name, "cpu-copy"))
    got = losses(name)
    if cpu is None or got is None or len(got) != len(cpu):
        s["train"][name] = {"ok": False, "error": tail_error(os.path.join(out, f"train-{name}.log")) if got is None
                            else tail_error(os.path.join(out, f"train-{BASE.get(name, 'cpu-copy')}.log"))}
        continue
    rel = max(abs(a - b) / abs(b) for a, b in zip(got, cpu))
    s["train"][name] = {"ok": rel <= TOL[name], "max_rel_diff": rel, "tolerance": TOL[name], "cpu": cpu, "cuda": got}
lc, lg = last_json(os.path.join(out, "loss-cpu.log")), last_json(os.path.join(out, "loss-cuda.log"))
s["loss_command"] = {"cpu": lc and lc.get("loss"), "cuda": lg and lg.get("loss"),
                     "error": None if lg else tail_error(os.path.join(out, "loss-cuda.log"))}
for cmd in ("eval-safety", "eval-task"):
    c, g = last_json(os.path.join(out, f"{cmd}-cpu.log")), last_json(os.path.join(out, f"{cmd}-cuda.log"))
    s[cmd] = {"cpu": c, "cuda": g, "error": None if g else tail_error(os.path.join(out, f"{cmd}-cuda.log"))}
try:
    rc, rg = [[json.loads(l).get("response") for l in open(os.path.join(out, f"safety-{d}.jsonl"))] for d in ("cpu", "cuda")]
    s["eval-safety"]["same_responses"] = sum(a == b for a, b in zip(rc, rg))
    s["eval-safety"]["responses"] = len(rc)
except (OSError, ValueError):
    pass
shapes = {sh: last_json(os.path.join(out, f"bench-asft-{sh}.log")) for sh in ("fused", "gemm", "gemm-tf32")}
p = last_json(os.path.join(out, "bench-peft.log"))
s["step_7b"] = {"asft_" + sh: r or {"error": tail_error(os.path.join(out, f"bench-asft-{sh}.log"))} for sh, r in shapes.items()}
s["step_7b"]["peft"] = p or {"error": tail_error(os.path.join(out, "bench-peft.log"))}
ran = [r for r in shapes.values() if r]
a = max(ran, key=lambda r: r["tokens_per_s"]) if ran else None
if a and p:
    s["step_7b"]["speedup_vs_peft"] = a["tokens_per_s"] / p["tokens_per_s"]
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=2)


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


print("check                          result")
print(f"ctest (CUDA vs CPU kernels)    rc {ctest_rc}: {s['ctest']['summary']}; skipped {s['ctest']['skipped']}")
print(f"TensorOpsTest on cuda (JUnit)  {'; '.join(s['junit']) or '-'}")
for name, t in s["train"].items():
    if "max_rel_diff" in t:
        print(f"train {name:10s} vs cpu      max rel diff {t['max_rel_diff']:.2e} (tol {t['tolerance']:.0e}): {'ok' if t['ok'] else 'FAIL'}")
    else:
        print(f"train {name:10s} vs cpu      FAIL: {t['error']}")
print(f"asft loss cpu / cuda           {fmt(s['loss_command']['cpu'], '.6f')} / {fmt(s['loss_command']['cuda'], '.6f')}")
es = s["eval-safety"]
print(f"eval-safety cpu / cuda         {json.dumps((es['cpu'] or {}).get('harmful_score'))} / {json.dumps((es['cuda'] or {}).get('harmful_score'))};"
      f" same responses {es.get('same_responses')}/{es.get('responses')}")
et = s["eval-task"]
print(f"eval-task cpu / cuda           {json.dumps((et['cpu'] or {}).get('accuracy'))} / {json.dumps((et['cuda'] or {}).get('accuracy'))}")
for sh, r in shapes.items():
    if r:
        print(f"7B step, asft ({sh:9s})      {r['tokens_per_s']:.0f} tok/s, {r['s_per_step_median']:.3f} s/step, MFU {100 * r['mfu']:.1f}% of "
              f"{r.get('bf16_gemm_gflop_per_s', 0) / 1000:.0f} TFLOP/s, AsFT term {100 * r.get('asft_term_share', float('nan')):.2f}%, "
              f"peak {r.get('peak_device_mib', 0):.0f} MiB")
    else:
        print(f"7B step, asft ({sh:9s})      FAIL: {s['step_7b']['asft_' + sh]['error']}")
if p:
    print(f"7B step, transformers + peft   {p['tokens_per_s']:.0f} tok/s, {p['s_per_step_median']:.3f} s/step, peak {p['peak_device_mib']:.0f} MiB "
          f"({p.get('attn_implementation')})")
else:
    print(f"7B step, transformers + peft   FAIL: {s['step_7b']['peft']['error']}")
if "speedup_vs_peft" in s["step_7b"]:
    print(f"asft (faster shape) / peft     {s['step_7b']['speedup_vs_peft']:.2f}x tokens/s (target >= 1.3x)")
