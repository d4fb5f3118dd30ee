#!/usr/bin/env python3
"""The geometry behind docs/EXPERIMENTS.md: how concentrated the alignment update V is, and how
much of a fine-tuning update dW = s*B*A lies in V's top singular directions.
Run: /usr/bin/python3 docs/experiments/alignment_geometry.py WORLD ADAPTER [ADAPTER ...]
(numpy only; reads f32 safetensors written by asft)."""
import json, struct, sys
import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(e["shape"]).astype(np.float64)
    return out


world = sys.argv[1]
base = read_safetensors(f"{world}/base/model.safetensors")
aligned = read_safetensors(f"{world}/aligned/model.safetensors")
mods = sorted(k[:-7] for k in base if k.endswith(("q_proj.weight", "v_proj.weight")))
print("module                              |V|_F  stable rank  top-4 energy  lambda_max(C)")
svd = {}
for m in mods:
    V = aligned[m + ".weight"] - base[m + ".weight"]
    U, S, _ = np.linalg.svd(V)
    svd[m] = (U, S, np.linalg.norm(V))
    print(f"{m:34s} {np.linalg.norm(V):6.3f} {np.sum(S**2) / S[0]**2:11.1f} {np.sum(S[:4]**2) / np.sum(S**2):12.2f}"
          f" {S[0]**2 / np.linalg.norm(V):13.3f}")
for ad_dir in sys.argv[2:]:
    cfg = json.load(open(f"{ad_dir}/adapter_config.json"))
    s = cfg["lora_alpha"] / cfg["r"]
    ad = read_safetensors(f"{ad_dir}/adapter_model.safetensors")
    print(f"\n{ad_dir}: share of |dW|^2 in V's top-k left singular directions, and |(I-C) dW| / |dW|")
    for m in mods:
        A = ad[f"base_model.model.{m}.lora_A.weight"]
        B = ad[f"base_model.model.{m}.lora_B.weight"]
        dW = s * B @ A
        U, S, nv = svd[m]
        tot = np.sum(dW**2)
        shares = [np.sum((U[:, :k].T @ dW) ** 2) / tot for k in (1, 4, 16)]
        C = (U * S**2) @ U.T / nv
        ratio = np.linalg.norm(dW - C @ dW) / np.sqrt(tot)
        V = aligned[m + ".weight"] - base[m + ".weight"]
        cos = np.sum(dW * V) / (np.sqrt(tot) * np.linalg.norm(V))  # < 0: the update undoes alignment
        print(f"  {m:34s} |dW|={np.sqrt(tot):6.3f}  top1 {shares[0]:.2f} top4 {shares[1]:.2f} top16 {shares[2]:.2f}"
              f"  (random: {1/dW.shape[0]:.2f} {4/dW.shape[0]:.2f} {16/dW.shape[0]:.2f})  |(I-C)dW|/|dW| {ratio:.3f}"
              f"  cos(dW, V) {cos:+.3f}")
