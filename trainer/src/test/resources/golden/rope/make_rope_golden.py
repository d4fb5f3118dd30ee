#!/usr/bin/env python3
"""Golden rotary frequencies for rope_scaling (linear, llama3), computed in torch f32 as
transformers' modeling_rope_utils does (_compute_default_rope_parameters,
_compute_linear_scaling_rope_parameters, _compute_llama3_parameters).
Run (Debian python3-torch): /usr/bin/python3 make_rope_golden.py   (writes rope_golden.json)"""
import json, math
import torch


def default(theta, dim):
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def linear(theta, dim, factor):
    return default(theta, dim) / factor


def llama3(theta, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
    inv_freq = default(theta, dim)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


cases = [
    {"head_dim": 64, "rope_theta": 10000.0, "rope_scaling": None, "inv_freq": default(10000.0, 64)},
    {"head_dim": 128, "rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 4.0},
     "inv_freq": linear(10000.0, 128, 4.0)},
    # Llama 3.1 8B's config.json
    {"head_dim": 128, "rope_theta": 500000.0,
     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192},
     "inv_freq": llama3(500000.0, 128, 8.0, 1.0, 4.0, 8192)},
    # Llama 3.2 1B's config.json
    {"head_dim": 64, "rope_theta": 500000.0,
     "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192},
     "inv_freq": llama3(500000.0, 64, 32.0, 1.0, 4.0, 8192)},
]
for c in cases:
    c["inv_freq"] = [float(x) for x in c["inv_freq"]]
with open("rope_golden.json", "w") as f:
    json.dump(cases, f, indent=1)
print(len(cases), "cases")
