#!/usr/bin/env python3
"""PyTorch CPU reference timings for docs/PERFORMANCE.md (not part of any test).

Times, for one d x d module at rank r, on 2 threads:
  - the one-pass algebra of ASFT.md section 3 (G = Q @ B, r x r work, both gradients);
  - the same with a bf16 anchor;
  - the released code's dense formulation (I - C) @ (B @ A) with autograd.
Usage: /usr/bin/python3 benchmarks/torch_regularizer.py [d] [r]   (Debian's python3-torch)
"""
import json
import statistics
import sys
import time

import torch

d = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
r = int(sys.argv[2]) if len(sys.argv) > 2 else 8
torch.set_num_threads(2)
torch.manual_seed(0)
qs = [torch.randn(d, d) / d ** 0.5 for _ in range(4)]
a = torch.randn(r, d) / d ** 0.5
b = torch.randn(d, r)


def one_pass(q, bb):
    g = (q @ bb).float()  # bf16 anchor: the product in bf16, the rest in f32
    bb = bb.float()
    s = bb.T @ g
    p = a @ a.T
    value = (s * p).sum()
    grad_b = 2 * g @ p
    grad_a = 2 * s @ a
    return value, grad_a, grad_b


def median_ms(fn, reps):
    ts = []
    for i in range(reps):
        t = time.perf_counter()
        fn(i)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts[max(1, reps // 5):]) * 1e3


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "d": d, "r": r}
out["one_pass_f32_ms"] = median_ms(lambda i: one_pass(qs[i % 4], b), 40)
qh = [q.to(torch.bfloat16) for q in qs]
bh = b.to(torch.bfloat16)
out["one_pass_bf16_ms"] = median_ms(lambda i: one_pass(qh[i % 4], bh), 8)
eye = torch.eye(d)


def dense(i):
    aa = a.clone().requires_grad_()
    bb = b.clone().requires_grad_()
    value = torch.norm((eye - qs[i % 4]) @ (bb @ aa)) ** 2
    value.backward()


out["dense_autograd_ms"] = median_ms(dense, 3)
print(json.dumps(out))
