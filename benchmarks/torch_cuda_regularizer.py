#!/usr/bin/env python3
"""PyTorch GPU timings for the CUDA issue's targets (run by gpu/check.sh).

For Llama-2-7B shapes (64 modules of 4096 x 4096, r = 8), value + gradients of the AsFT penalty:
  1. the released code: C on the host, copied to the GPU every step, (I - C) @ (B @ A), autograd;
  2. the same dense formulation with every C resident on the GPU;
  3. the one-pass algebra (G = Q @ B, ...) in PyTorch with bf16 Q resident, for reference.
Medians of CUDA-event timings after warm-up; random inputs.
"""
import statistics
import sys

import torch

mods = int(sys.argv[1]) if len(sys.argv) > 1 else 64
d, r = 4096, 8
dev = torch.device("cuda")
torch.manual_seed(0)


def time_ms(fn, reps):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        end.synchronize()
        ts.append(start.elapsed_time(end))
    return statistics.median(ts)


a = [torch.randn(r, d, device=dev) / d ** 0.5 for _ in range(mods)]
b = [torch.randn(d, r, device=dev) for _ in range(mods)]
eye = torch.eye(d, device=dev)
# Host-side C (pinned, as fast as host copies get) for the released-code timing.
c_host = [torch.randn(d, d).div_(d ** 0.5).pin_memory() for _ in range(min(mods, 8))]


def dense_step(cs):
    total = 0.0
    for i in range(mods):
        aa = a[i].detach().requires_grad_()
        bb = b[i].detach().requires_grad_()
        c = cs(i)
        value = torch.norm((eye - c) @ (bb @ aa)) ** 2
        value.backward()
        total = total + value.detach()
    return total


released = time_ms(lambda: dense_step(lambda i: c_host[i % len(c_host)].to(dev, non_blocking=True)), 3)
c_dev = [torch.randn(d, d, device=dev) / d ** 0.5 for _ in range(mods)]
resident = time_ms(lambda: dense_step(lambda i: c_dev[i]), 5)
del c_dev
q16 = [torch.randn(d, d, device=dev, dtype=torch.bfloat16) / d ** 0.5 for _ in range(mods)]


def one_pass():
    for i in range(mods):
        g = (q16[i] @ b[i].to(torch.bfloat16)).float()
        s = b[i].T @ g
        p = a[i] @ a[i].T
        _ = (s * p).sum(), 2 * g @ p, 2 * s @ a[i]


onepass = time_ms(one_pass, 10)
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: {mods} modules {d}x{d} r={r}")
print(f"released code (host C copied each step, dense, autograd): {released:10.2f} ms")
print(f"dense formulation, C resident on the GPU:                 {resident:10.2f} ms")
print(f"one-pass algebra in PyTorch, bf16 Q resident:             {onepass:10.2f} ms")
