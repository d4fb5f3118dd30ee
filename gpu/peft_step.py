"""The baseline of gpu/check.sh: a LoRA training step of transformers + peft as a user runs it.

A Llama-2-7B-shaped model with random bf16 weights (no download), PEFT LoRA r=8 on q_proj and
v_proj (the adapter in f32, PEFT's default), the default attention implementation, no
torch.compile, AdamW, batch x seq random tokens with labels = inputs. Prints one JSON line last:
tokens/s over the timed steps, seconds per step, peak device memory.
Usage: python3 gpu/peft_step.py [--layers 32] [--batch 8] [--seq 512] [--steps 5]
"""
import argparse
import json
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--intermediate", type=int, default=11008)
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    cfg = LlamaConfig(hidden_size=a.hidden, intermediate_size=a.intermediate, num_hidden_layers=a.layers,
                      num_attention_heads=a.heads, num_key_value_heads=a.heads, vocab_size=a.vocab,
                      max_position_embeddings=max(4096, a.seq), rms_norm_eps=1e-5, tie_word_embeddings=False)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # the weights as a bf16 checkpoint loads them
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4)
    ids = torch.randint(4, a.vocab, (a.steps + 2, a.batch, a.seq), device="cuda")

    def step(i):
        out = model(input_ids=ids[i], labels=ids[i])
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss

    for i in range(2):  # warm-up: kernels chosen, memory pools filled
        step(i)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        loss = step(2 + i)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"tokens_per_s": a.batch * a.seq / median, "s_per_step_median": median, "loss": float(loss),
                      "peak_device_mib": torch.cuda.max_memory_allocated() / 2**20,
                      "attn_implementation": model.config._attn_implementation, "torch": torch.__version__,
                      "device": torch.cuda.get_device_name(0)}))


if __name__ == "__main__":
    main()
