#!/usr/bin/env python3
"""Golden values for the Java Llama forward pass (trainer/src/test/.../LlamaForwardTest).

A tiny random Llama-family model written as a Hugging Face folder (config.json +
model.safetensors, f32), an input batch with padding, and what a plain PyTorch implementation of
the Hugging Face Llama/Qwen2 forward computes for it: logits and the token-mean masked
cross-entropy. The reference follows transformers' modeling_llama: RMSNorm, rotate-half RoPE,
grouped-query causal attention, SwiGLU MLP; Qwen2 adds q/k/v biases and ties the output head.

Run (Debian python3-torch): /usr/bin/python3 make_llama_golden.py   (writes ./llama, ./qwen2)
Not part of the test suite: the files it writes are committed.
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(1234)


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        t = t.contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def forward(cfg, w, ids, mask, lora=None, scale=1.0):
    bsz, T = ids.shape
    H, K, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    x = w["model.embed_tokens.weight"][ids]
    pos = torch.arange(T, dtype=torch.float32)
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & mask.bool()[:, None, None, :]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ w[p + f"self_attn.{name}.weight"].T
            bias = w.get(p + f"self_attn.{name}.bias")
            y = y + bias if bias is not None else y
            key = p + f"self_attn.{name}"
            if lora is not None and key in lora:  # PEFT: y += s * (x A^T) B^T
                a, b = lora[key]
                y = y + scale * ((h @ a.T) @ b.T)
            return y

        q = proj("q_proj").view(bsz, T, H, D).transpose(1, 2)
        k = proj("k_proj").view(bsz, T, K, D).transpose(1, 2)
        v = proj("v_proj").view(bsz, T, K, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // K, dim=1)
        v = v.repeat_interleave(H // K, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~allowed, float("-inf"))
        a = torch.softmax(s, dim=-1)
        a = torch.nan_to_num(a)  # rows with no allowed key (none here: every row sees itself)
        o = (a @ v).transpose(1, 2).reshape(bsz, T, H * D)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def make(name, model_type, tie, bias):
    cfg = {"model_type": model_type, "architectures": ["LlamaForCausalLM"], "vocab_size": 32, "hidden_size": 16,
           "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "head_dim": 4, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
           "tie_word_embeddings": tie, "attention_bias": bias, "torch_dtype": "float32"}
    V, E, I, H, K, D = 32, 16, 24, 4, 2, 4
    w = {"model.embed_tokens.weight": torch.randn(V, E) * 0.5}
    for l in range(2):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(E)
        w[p + "self_attn.q_proj.weight"] = torch.randn(H * D, E) * 0.3
        w[p + "self_attn.k_proj.weight"] = torch.randn(K * D, E) * 0.3
        w[p + "self_attn.v_proj.weight"] = torch.randn(K * D, E) * 0.3
        if bias:
            w[p + "self_attn.q_proj.bias"] = torch.randn(H * D) * 0.1
            w[p + "self_attn.k_proj.bias"] = torch.randn(K * D) * 0.1
            w[p + "self_attn.v_proj.bias"] = torch.randn(K * D) * 0.1
        w[p + "self_attn.o_proj.weight"] = torch.randn(E, H * D) * 0.3
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(E)
        w[p + "mlp.gate_proj.weight"] = torch.randn(I, E) * 0.3
        w[p + "mlp.up_proj.weight"] = torch.randn(I, E) * 0.3
        w[p + "mlp.down_proj.weight"] = torch.randn(E, I) * 0.3
    w["model.norm.weight"] = 1 + 0.1 * torch.randn(E)
    if not tie:
        w["lm_head.weight"] = torch.randn(V, E) * 0.5
    ids = torch.randint(4, V, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.int64)
    mask[1, 5:] = 0  # the second sequence is padded (right padding)
    ids[1, 5:] = 3
    labels = ids.clone()
    labels[:, :2] = -100  # a masked prompt
    labels[mask == 0] = -100
    with torch.no_grad():
        logits = forward(cfg, w, ids, mask)
    shift_logits, shift_labels = logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1)
    loss = torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100)
    # LoRA on q_proj and v_proj (r = 4, alpha = 8: s = 2) with a non-zero B, and the gradients
    # of the same masked loss with respect to every A and B (autograd).
    r, alpha = 4, 8.0
    lora = {}
    for l in range(2):
        for m, out in (("q_proj", H * D), ("v_proj", K * D)):
            a = (torch.randn(r, E) * 0.3).requires_grad_()
            b = (torch.randn(out, r) * 0.3).requires_grad_()
            lora[f"model.layers.{l}.self_attn.{m}"] = (a, b)
    logits_l = forward(cfg, w, ids, mask, lora, alpha / r)
    loss_l = torch.nn.functional.cross_entropy(logits_l[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss_l.backward()
    grads = {"lora_loss": loss_l.detach().reshape(1)}
    for key, (a, b) in lora.items():
        grads[key + ".lora_A.weight"] = a.detach()
        grads[key + ".lora_B.weight"] = b.detach()
        grads[key + ".lora_A.grad"] = a.grad
        grads[key + ".lora_B.grad"] = b.grad
    os.makedirs(name, exist_ok=True)
    write_safetensors(os.path.join(name, "lora_golden.safetensors"), grads)
    # Full fine-tuning: the gradient of the same masked loss (no LoRA) with respect to every
    # weight (a tied head's gradient lands on the embedding).
    wf = {k: v.clone().requires_grad_() for k, v in w.items()}
    logits_f = forward(cfg, wf, ids, mask)
    loss_f = torch.nn.functional.cross_entropy(logits_f[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss_f.backward()
    full = {"full_loss": loss_f.detach().reshape(1)}
    for k, v in wf.items():
        full[k + ".grad"] = v.grad
    write_safetensors(os.path.join(name, "full_golden.safetensors"), full)
    with open(os.path.join(name, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(name, "model.safetensors"), w)
    write_safetensors(os.path.join(name, "golden.safetensors"),
                      {"input_ids": ids, "attention_mask": mask, "labels": labels, "logits": logits,
                       "loss": loss.reshape(1)})
    print(name, "loss", float(loss))


make("llama", "llama", tie=False, bias=False)
make("qwen2", "qwen2", tie=True, bias=True)
