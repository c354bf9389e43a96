"""References for the GGUF reader and the BPE tokenizer (called by llm.sh), into OUT:

  gguf_ref.json         the SmolLM2 GGUF as llm_gguf.py (numpy, independent of the Rust reader)
                        reads it: version, alignment, data offset, every metadata key (arrays as
                        type + length + first items), every tensor (dims, type, offset) with
                        checksums of its dequantized values, and the .npy files below
  dequant/*.npy         float32 dequantizations: a few whole tensors, and rows of token_embd
  synth_quant.gguf      a small GGUF of random blocks of every tensor type the Rust reader
  synth/*.npy           dequantizes (F32 F16 Q4_0 Q4_1 Q8_0 Q4_K Q6_K), with numpy's values
  smollm2_vocab.gguf    the tokenizer.* metadata of the model alone (1.5 MB, no tensors), small
                        enough for the wasm tests to embed
  tokenizer_ref.json    (name, text, ids) from PyPI `tokenizers` built from the GGUF's vocab and
                        merges: ids with the control tokens recognised in the text ("special")
                        and without ("plain"); the chat template rendered by jinja2 for a few
                        conversations, with its ids

    python llm_ref.py MODEL.gguf LEE_BACKGROUND.cor OUT
"""
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llm_gguf as G  # noqa: E402

# Tensors dequantized whole into dequant/<name>.npy (dims reversed: numpy row-major).
WHOLE = ["blk.0.attn_norm.weight", "blk.0.attn_k.weight", "blk.29.ffn_down.weight",
         "output_norm.weight"]
# token_embd.weight (49152 x 576, Q8_0) is 113 MB as f32: only these rows.
EMBD_ROWS = [0, 1, 2, 17, 100, 1000, 12345, 49151]


def log(msg):
    print(f"[zoo] {msg}", flush=True)


def weighted_sums(x):
    x = x.astype(np.float64)
    w = (np.arange(len(x)) % 7 - 3).astype(np.float64)
    return {"sum": float(x.sum()), "abs_sum": float(np.abs(x).sum()), "wsum": float((x * w).sum())}


def jsonable(t, v):
    if isinstance(v, tuple) and v[0] == "array":
        _, et, items = v
        head = [x if isinstance(x, str) else x.item() for x in list(items[:8])]
        out = {"type": "array", "elem": G.VALUE_TYPE_NAMES[et], "len": len(items), "head": head}
        if et in G.NUMPY:
            out["sum"] = float(np.asarray(items, dtype=np.float64).sum())
        return out
    if isinstance(v, (np.generic,)):
        v = v.item()
    return {"type": G.VALUE_TYPE_NAMES[t], "value": v}


def gguf_refs(model, out):
    version, meta, tensors, data_start, buf = G.read(model)
    os.makedirs(os.path.join(out, "dequant"), exist_ok=True)
    ref = {"file": os.path.basename(model), "version": version, "alignment": 32,
           "data_offset": data_start, "n_bytes": len(buf),
           "metadata": {k: jsonable(t, v) for k, (t, v) in meta.items()},
           "tensors": [], "dequant": {}}
    for t in tensors:
        x = G.dequantize(t, data_start, buf)
        assert x.size == int(np.prod(t["dims"])), t["name"]
        ref["tensors"].append({"name": t["name"], "dims": t["dims"],
                               "type": G.TYPES[t["type"]][0], "offset": t["offset"],
                               **weighted_sums(x)})
        shape = list(reversed(t["dims"]))
        if t["name"] in WHOLE:
            f = f"dequant/{t['name']}.npy"
            np.save(os.path.join(out, f), x.reshape(shape))
            ref["dequant"][t["name"]] = {"file": f, "rows": None}
        if t["name"] == "token_embd.weight":
            f = "dequant/token_embd.weight.rows.npy"
            np.save(os.path.join(out, f), x.reshape(shape)[EMBD_ROWS])
            ref["dequant"][t["name"]] = {"file": f, "rows": EMBD_ROWS}
    with open(os.path.join(out, "gguf_ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    log(f"  gguf_ref.json: v{version}, {len(meta)} keys, {len(tensors)} tensors, "
        f"data at {data_start}; {len(ref['dequant'])} dequantized references")
    return meta


def synth_refs(out):
    """Random blocks of every type, with sane f16 scales, and numpy's dequantization."""
    rng = np.random.default_rng(20261129)
    os.makedirs(os.path.join(out, "synth"), exist_ok=True)

    def f16_bytes(n, lo, hi):
        return (rng.uniform(lo, hi, n) * rng.choice([-1, 1], n)).astype("<f2").view(np.uint8).reshape(n, 2)

    specs = []  # (name, dims, type id, bytes)
    specs.append(("f32", [7, 3], 0, rng.standard_normal(21).astype("<f4").tobytes()))
    specs.append(("f16", [5, 2], 1, rng.standard_normal(10).astype("<f2").tobytes()))
    for name, ty, nb in [("q4_0", 2, 6), ("q4_1", 3, 6), ("q8_0", 8, 6), ("q4_k", 12, 4), ("q6_k", 14, 3)]:
        _, bw, bb = G.TYPES[ty]
        blk = rng.integers(0, 256, size=(nb, bb), dtype=np.uint8)
        if ty in (2, 3, 8):
            blk[:, 0:2] = f16_bytes(nb, 0.01, 0.2)
        if ty == 3:
            blk[:, 2:4] = f16_bytes(nb, 0.0, 1.0)
        if ty == 12:
            blk[:, 0:2] = f16_bytes(nb, 0.001, 0.05)
            blk[:, 2:4] = f16_bytes(nb, 0.001, 0.05)
        if ty == 14:
            blk[:, 208:210] = f16_bytes(nb, 0.001, 0.05)
        dims = [bw * 2, nb // 2] if nb % 2 == 0 else [bw, nb]
        specs.append((name, dims, ty, blk.tobytes()))
    path = os.path.join(out, "synth_quant.gguf")
    G.write(path, {"general.architecture": (G.STRING, "synthetic")},
            [(n, d, t, b) for n, d, t, b in specs])
    version, meta, tensors, data_start, buf = G.read(path)
    for t in tensors:
        x = G.dequantize(t, data_start, buf)
        np.save(os.path.join(out, f"synth/{t['name']}.npy"), x.reshape(list(reversed(t["dims"]))))
    log(f"  synth_quant.gguf: {', '.join(t['name'] for t in tensors)} + numpy dequantizations")


def vocab_gguf(meta, out):
    keep = {k: v for k, v in meta.items()
            if k.startswith("tokenizer.") or k in ("general.architecture", "general.name")}
    path = os.path.join(out, "smollm2_vocab.gguf")
    G.write(path, keep, [])
    log(f"  smollm2_vocab.gguf: {len(keep)} keys, {os.path.getsize(path)} bytes")


def texts(lee):
    lines = [ln for ln in lee.split("\n") if ln.strip()]
    t = [
        ("empty", ""),
        ("lee_background", lee),
        *[(f"lee_line_{i}", lines[i]) for i in range(0, 40, 4)],
        ("accents", "Café naïve résumé façade Zürich São Paulo Ångström Øresund Łódź"),
        ("cjk", "日本語のテキストと中文文本，还有한국어 텍스트。東京は晴れ"),
        ("emoji", "I ❤️ 🦀 Rust! 👨‍👩‍👧‍👦 family 🇫🇷 flag 🏳️‍🌈 😀😃😄"),
        ("combining", "e\u0301 a\u0308 n\u0303 Z\u0324\u0354\u0367\u0311a\u0308\u0356\u032dl\u036eg\u030co\u0319"),
        ("scripts", "नमस्ते दुनिया | مرحبا بالعالم | Καλημέρα κόσμε | Привет, мир! | สวัสดีชาวโลก | שָׁלוֹם"),
        ("letterlike", "Ⅻ ⅻ ⓐⓑⓒ Ⓐ x² + y³ = z¹⁰ ½ １２３ ٣٤٥ ᾳ ͅ ǅ ʰ"),
        ("odd_spaces", "a\u00a0b\u2003c\u3000d\u200be\u2028f\u0085g\u1680h\u202fi"),
        ("leading_spaces", "   leading"),
        ("trailing_spaces", "trailing   "),
        ("space_runs", "a  b   c    d     e"),
        ("tabs", "\t\tindented\ttabs\t \t"),
        ("newlines", "line1\nline2\n\nline4\n\n\nline7\n"),
        ("crlf", "one\r\ntwo\r\n\r\nthree \r\n"),
        ("mixed_ws", "mixed \t \n \r\n  end \n\t x"),
        ("long_spaces", " " * 1000 + "x"),
        ("long_newlines", "\n" * 500),
        ("long_mixed_ws", " \t" * 300 + "y"),
        ("long_trailing", "x" + " " * 5000),
        ("digits", "1234567890"),
        ("numbers", "The year 2024, pi 3.14159, 1,000,000 and -42; 0x1F 1e-9 v1.2.3-rc4"),
        ("long_number", "3" * 2000),
        ("phone", "+1 (555) 123-4567 and 007"),
        ("spaces_before_digits", "a  1  22   333\t4\n5 \n6  x7y  8"),
        ("digits_in_words", "H2O mp3 abc123def 4x4 COVID-19 ３rd ²nd"),
        ("code_rust", "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n"
                      "    println!(\"{:?}\", x);\n}\n"),
        ("code_python", "def f(x):\n    if x > 0:\n        return x ** 2  # square\n\treturn None\n"),
        ("contractions", "I'm you're we've they'll she'd it's don't I'M YOU'RE rock'n'roll 's 't"),
        ("punctuation", "Hello, world!!! ... ??? --- *** ### @@@ <html><b>x</b></html> a@b.com "
                        "https://example.com/p?q=1&r=2 ~`^|\\"),
        ("control_chars", "a\x00b\x01c\x7fd\x1be"),
        # bytes SmolLM2's vocabulary has no token for: dropped (no unknown token), so lossy
        ("dropped_bytes", "a\x04b\x06c\x13\x14\x16\x1dd \x04 x"),
        ("long_word", "a" * 3000),
        ("long_pairs", "ab" * 2000),
        ("special_chat", "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
        ("special_eot", "<|endoftext|>"),
        ("special_inline", "text<|im_end|>more<|endoftext|><|endoftext|> x"),
        ("special_adjacent", "<|im_start|><|im_end|><repo_name>foo<file_sep>bar<jupyter_code>"),
        ("special_near_miss", "< |im_start| > <|im_start <|im_sta|> |im_end|>"),
    ]
    names = [n for n, _ in t]
    assert len(names) == len(set(names))
    return t


CHATS = [
    ("user_only", [("user", "What is the capital of France?")], True),
    ("user_only_no_prompt", [("user", "Hello!")], False),
    ("with_system", [("system", "You are a pirate."), ("user", "Say hi.")], True),
    ("multi_turn", [("user", "2+2?"), ("assistant", "4."), ("user", "And 3+3?")], True),
    ("unicode_turn", [("user", "Café? 日本 🦀\n\n  indented")], True),
    ("empty_content", [("user", "")], True),
]


def tokenizer_refs(meta, lee, out):
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    import tokenizers

    tokens = list(meta["tokenizer.ggml.tokens"][1][2])
    types = meta["tokenizer.ggml.token_type"][1][2]
    merges = [tuple(m.split(" ")) for m in meta["tokenizer.ggml.merges"][1][2]]
    assert all(len(m) == 2 for m in merges)
    assert meta["tokenizer.ggml.model"][1] == "gpt2" and meta["tokenizer.ggml.pre"][1] == "smollm"
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens)

    def build(pre):
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=None, byte_fallback=False,
                                   fuse_unk=False))
        tok.pre_tokenizer = pre
        tok.decoder = decoders.ByteLevel()
        return tok

    # tokenizer.ggml.pre = "smollm": each digit isolated, then GPT-2's byte-level regex (the
    # pre-tokenizer of SmolLM2's tokenizer.json, and llama.cpp's regex list for "smollm").
    smollm = lambda: pre_tokenizers.Sequence([  # noqa: E731
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    plain = build(smollm())
    special = build(smollm())
    control = [tokens[i] for i in range(len(tokens)) if types[i] == 3]
    special.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    gpt2_only = build(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))

    cases = []
    differs_without_digits = []
    hf_seconds = None
    for name, text in texts(lee):
        t0 = time.perf_counter()
        ids_special = special.encode(text, add_special_tokens=False).ids
        if name == "lee_background":
            hf_seconds = time.perf_counter() - t0
        ids_plain = plain.encode(text, add_special_tokens=False).ids
        lossy = name == "dropped_bytes"
        for ids in (ids_special, ids_plain):
            back = special.decode(ids, skip_special_tokens=False)
            assert (back != text) if lossy else (back == text), (name, back[:80], text[:80])
        if gpt2_only.encode(text, add_special_tokens=False).ids != ids_plain:
            differs_without_digits.append(name)
        cases.append({"name": name, "text": text, "special": ids_special, "plain": ids_plain,
                      "lossy": lossy})

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(meta["tokenizer.chat_template"][1])
    chats = []
    for name, msgs, gen in CHATS:
        messages = [{"role": r, "content": c} for r, c in msgs]
        text = template.render(messages=messages, add_generation_prompt=gen)
        chats.append({"name": name, "messages": [list(m) for m in msgs],
                      "add_generation_prompt": gen, "text": text,
                      "ids": special.encode(text, add_special_tokens=False).ids})

    ref = {"tokenizers_version": tokenizers.__version__,
           "pre_tokenizer": "Sequence[Digits(individual_digits=True), "
                            "ByteLevel(add_prefix_space=False, use_regex=True)]",
           "control_tokens": control,
           "lee_background_tokens": len(cases[1]["special"]),
           "lee_background_hf_seconds": hf_seconds,
           "differs_without_digit_split": differs_without_digits,
           "cases": cases, "chats": chats}
    with open(os.path.join(out, "tokenizer_ref.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=True)
    log(f"  tokenizer_ref.json: {len(cases)} texts, {len(chats)} chats (tokenizers "
        f"{tokenizers.__version__}); lee_background.cor = {len(lee)} chars -> "
        f"{ref['lee_background_tokens']} tokens in {hf_seconds * 1000:.0f} ms")
    log(f"  without the digit split {len(differs_without_digits)} texts would tokenize "
        f"differently: {', '.join(differs_without_digits)}")


def main():
    model, lee_path, out = sys.argv[1:4]
    with open(lee_path, encoding="utf-8", newline="") as f:
        lee = f.read()
    meta = gguf_refs(model, out)
    synth_refs(out)
    vocab_gguf(meta, out)
    tokenizer_refs(meta, lee, out)


if __name__ == "__main__":
    main()
