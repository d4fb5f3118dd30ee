#!/usr/bin/env python3
"""Golden renders of real chat templates, made with Python's Jinja2 set up as transformers sets it
up for apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, the
loopcontrols extension, the {% generation %} tag, tojson with ensure_ascii=False,
raise_exception, strftime_now), so asft's renderer can be checked against it without Python at
test time.

    /usr/bin/python3 make_chat_golden.py     # Debian's python3-jinja2; rewrites golden.json

templates/ holds chat templates as model repositories ship them (see templates/SOURCES.md);
conversations.json the conversations rendered with each, with and without the generation prompt;
snippets.json small templates, one construct each (Python's str methods, slices, arithmetic,
scoping, loops, filters, tests, macros, whitespace control, errors), rendered over one conversation.
A render that fails records the exception's type; asft must fail there too.
"""
import datetime
import json
import os

from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
# strftime_now is pinned so the golden file does not change with the day it is made.
NOW = datetime.datetime(2026, 12, 7, 15, 45, 0)
GEN_START, GEN_END = "\ue000", "\ue001"  # marks {% generation %} output; never in the data


class GenerationTag(Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %} marks what the
    assistant generates. Here its output is bracketed by two private-use characters, from which
    the spans are read."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_mark", []), [], [], body).set_lineno(lineno)

    def _mark(self, caller):
        return GEN_START + caller() + GEN_END


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise ValueError(message)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


# The special tokens each family's tokenizer_config.json names (what transformers passes as
# bos_token / eos_token).
TOKENS = [
    ("meta-llama_Llama-3", "<|begin_of_text|>", "<|eot_id|>"),
    ("meta-llama_Meta-Llama-3", "<|begin_of_text|>", "<|eot_id|>"),
    ("NousResearch_Hermes-2-Pro-Llama-3", "<|begin_of_text|>", "<|im_end|>"),
    ("Qwen", None, "<|im_end|>"),
    ("HuggingFaceTB", None, "<|im_end|>"),
    ("asft_chatml", None, "<|im_end|>"),
    ("google", "<bos>", "<eos>"),
    ("HuggingFaceH4_zephyr-7b-gemma", "<bos>", "<eos>"),
    ("microsoft_Phi-3", "<s>", "<|endoftext|>"),
    ("deepseek-ai_DeepSeek-R1", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("deepseek-ai", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
]


def tokens_for(name):
    for prefix, bos, eos in TOKENS:
        if name.startswith(prefix):
            return bos, eos
    return "<s>", "</s>"


def render(env, source, bos, eos, messages, add_generation_prompt):
    kwargs = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": add_generation_prompt}
    if bos is not None:
        kwargs["bos_token"] = bos
    if eos is not None:
        kwargs["eos_token"] = eos
    try:
        marked = env.from_string(source).render(**kwargs)
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return {"error": type(e).__name__ + ": " + str(e)}
    text, spans, i = "", [], 0
    while i < len(marked):
        c = marked[i]
        if c == GEN_START:
            spans.append([len(text), None])
        elif c == GEN_END:
            spans[-1][1] = len(text)
        else:
            text += c
        i += 1
    # lengths in UTF-16 code units, as Java counts a String
    def u16(n):
        return len(text[:n].encode("utf-16-le")) // 2

    out = {"text": text}
    if spans:
        out["generation"] = [[u16(s), u16(e)] for s, e in spans]
    return out


def main():
    env = environment()
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)
    tdir = os.path.join(HERE, "templates")
    golden = {"now": NOW.isoformat(), "templates": {}}
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(tdir, name), encoding="utf-8") as f:
            source = f.read()
        bos, eos = tokens_for(name)
        renders = []
        for conv in conversations:
            for agp in (False, True):
                r = render(env, source, bos, eos, conv["messages"], agp)
                r.update({"conversation": conv["name"], "add_generation_prompt": agp})
                renders.append(r)
        golden["templates"][name] = {"bos_token": bos, "eos_token": eos, "renders": renders}
    # small templates exercising one construct each, with the same messages
    with open(os.path.join(HERE, "snippets.json"), encoding="utf-8") as f:
        snippets = json.load(f)
    messages = conversations[1]["messages"]
    golden["snippets"] = []
    for source in snippets:
        r = render(env, source, "<s>", "</s>", messages, False)
        r["source"] = source
        golden["snippets"].append(r)
    with open(os.path.join(HERE, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n = sum(len(t["renders"]) for t in golden["templates"].values())
    errors = sum(1 for t in golden["templates"].values() for r in t["renders"] if "error" in r)
    print(f"{len(golden['templates'])} templates, {n} renders ({errors} errors) -> golden.json")


if __name__ == "__main__":
    main()
