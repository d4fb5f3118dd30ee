#!/usr/bin/env python3
"""PyTorch CPU eager reference for `asft bench train` (docs/PERFORMANCE.md; not part of any test).

One LoRA training step (r = 8 on q_proj and v_proj, frozen weights, autograd) of a random
Llama: hidden 512, 8 layers, 8 heads, intermediate 1376, vocab 8000, batch 4 x 256, 2 threads.
Usage: /usr/bin/python3 benchmarks/torch_train_step.py [STEPS]   (default 6, as compared in docs/PERFORMANCE.md)
"""
import math
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)
L, E, H, I, V, B, T, R = 8, 512, 8, 1376, 8000, 4, 256, 8
D = E // H


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))


def rot(x):
    return torch.cat((-x[..., D // 2:], x[..., : D // 2]), dim=-1)


W = {"emb": torch.randn(V, E) * 0.02, "head": torch.randn(V, E) * 0.02, "norm": torch.ones(E)}
for l in range(L):
    for n, shape in (("q", (E, E)), ("k", (E, E)), ("v", (E, E)), ("o", (E, E)), ("g", (I, E)), ("u", (I, E)), ("d", (E, I))):
        W[f"{l}{n}"] = torch.randn(*shape) * 0.02
    W[f"{l}n1"], W[f"{l}n2"] = torch.ones(E), torch.ones(E)
lora = {f"{l}{n}": ((torch.rand(R, E) * 2 - 1) / math.sqrt(E), torch.randn(E, R) * 0.01) for l in range(L) for n in ("q", "v")}
params = [t.requires_grad_() for pair in lora.values() for t in pair]
opt = torch.optim.AdamW(params, lr=1e-4)
inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
ang = torch.outer(torch.arange(T).float(), inv)
cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))


def step(ids):
    x = W["emb"][ids]
    for l in range(L):
        h = rms(x, W[f"{l}n1"])

        def proj(n):
            y = h @ W[f"{l}{n}"].T
            if f"{l}{n}" in lora:
                a, b = lora[f"{l}{n}"]
                y = y + 4.0 * ((h @ a.T) @ b.T)
            return y

        q, k, v = (proj(n).view(B, T, H, D).transpose(1, 2) for n in ("q", "k", "v"))
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        x = x + (a @ v).transpose(1, 2).reshape(B, T, E) @ W[f"{l}o"].T
        h = rms(x, W[f"{l}n2"])
        x = x + (torch.nn.functional.silu(h @ W[f"{l}g"].T) * (h @ W[f"{l}u"].T)) @ W[f"{l}d"].T
    logits = rms(x, W["norm"]) @ W["head"].T
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()


# As `asft bench train --steps N`: one warm-up step, then N timed steps; the mean and the median.
N = int(sys.argv[1]) if len(sys.argv) > 1 else 6
ids = torch.randint(4, V, (B, T))
step(ids)
ts = []
for _ in range(N):
    t = time.perf_counter()
    step(ids)
    ts.append(time.perf_counter() - t)
mean, med = sum(ts) / N, statistics.median(ts)
print(f"torch {torch.__version__}, 2 threads: {mean:.3f} s/step (median {med:.3f}) over {N} steps, {B * T / mean:.0f} tokens/s")
