"""Independent numpy reference of the llama forward pass, for tests/models/llama.rs (--features zoo).

Reads the GGUF with its own minimal reader and dequantizer (F32, F16, Q4_0, Q4_1, Q8_0; nothing
shared with the Rust code or with llm_gguf.py), runs the dense model in float64 on a fixed
prompt, and writes into OUT (default .cache/zoo/llm):

  forward_ref.npy    float32 (T, vocab): the logits after each prompt position
  forward_ref.json   the prompt, its ids, per-position top-5, the greedy continuation
                     (ids and text) and what the RoPE cross-check measured

RoPE is applied the Hugging Face way on purpose: llama.cpp's converter permuted each head's
Q/K rows (HF "rotate half" pairs (i, i + hd/2) -> interleaved pairs (2i, 2i + 1)); this script
un-permutes the GGUF rows back to HF order and rotates halves. The Rust engine rotates adjacent
pairs on the GGUF rows as stored; equal logits confirm both conventions describe one model.
The script also runs the wrong combination (rotate-half on the permuted rows) and records how
far it lands, to show the check has teeth.

    python llm_forward_ref.py MODEL.gguf [OUT_DIR]

The prompt ids are those of "The capital of France is" from PyPI `tokenizers` built from the
GGUF's vocabulary and merges with SmolLM2's pre-tokenizer (as llm_ref.py builds it; no BOS:
tokenizer.ggml.add_bos_token is false): The | Ġcapital | Ġof | ĠFrance | Ġis.
"""
import json
import os
import struct
import sys
import time

import numpy as np

PROMPT = "The capital of France is"
PROMPT_IDS = [504, 3575, 282, 4649, 314]
GREEDY_STEPS = 8

# ---- minimal GGUF reader ------------------------------------------------------------------

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}


class Buf:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.d[self.p:self.p + n]).decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        if t in SCALAR:
            return self.take(SCALAR[t])
        if t == 8:
            return self.string()
        if t == 9:
            et = self.take("<I")
            n = self.take("<Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError(f"GGUF value type {t}")


def read_gguf(path):
    data = memoryview(open(path, "rb").read())
    b = Buf(data)
    assert bytes(data[:4]) == b"GGUF", "not a GGUF file"
    b.p = 4
    version = b.take("<I")
    assert version in (2, 3), version
    n_tensors = b.take("<Q")
    n_kv = b.take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = b.string()
        meta[k] = b.value(b.take("<I"))
    tensors = {}
    for _ in range(n_tensors):
        name = b.string()
        nd = b.take("<I")
        dims = [b.take("<Q") for _ in range(nd)]
        ty = b.take("<I")
        off = b.take("<Q")
        tensors[name] = (dims, ty, off)
    align = meta.get("general.alignment", 32)
    start = (b.p + align - 1) // align * align
    return meta, tensors, start, data


# type id: (block weights, block bytes)
LAYOUT = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34)}


def dequant(gguf, name):
    """The tensor as float32, numpy row-major shape (dims reversed)."""
    meta, tensors, start, data = gguf
    dims, ty, off = tensors[name]
    n = int(np.prod(dims))
    bl, bb = LAYOUT[ty]
    raw = np.frombuffer(data, dtype=np.uint8, count=n // bl * bb, offset=start + off)
    if ty == 0:
        x = raw.view("<f4").astype(np.float32)
    elif ty == 1:
        x = raw.view("<f2").astype(np.float32)
    else:
        blk = raw.reshape(-1, bb)
        d = blk[:, 0:2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
        if ty == 8:  # Q8_0: w = q·d
            q = blk[:, 2:34].copy().view(np.int8).astype(np.float32)
            x = q * d
        else:
            qs = blk[:, bb - 16:]
            q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float32)  # (blocks, 32)
            if ty == 2:  # Q4_0: w = (q − 8)·d
                x = (q - 8.0) * d
            else:  # Q4_1: w = q·d + m
                m = blk[:, 2:4].copy().view("<f2").astype(np.float32)
                x = q * d + m
    return x.reshape(-1).reshape(list(reversed(dims)))


# ---- the model, Hugging Face conventions --------------------------------------------------

def unpermute(w, n_head):
    """GGUF Q/K rows -> HF rows: inverse of convert_hf_to_gguf.py's LlamaModel.permute
    (w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2))."""
    rows, cols = w.shape
    hd = rows // n_head
    return w.reshape(n_head, hd // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


class Model:
    def __init__(self, path, hf_rope=True):
        self.g = read_gguf(path)
        m = self.g[0]
        assert m["general.architecture"] == "llama"
        self.L = m["llama.block_count"]
        self.dim = m["llama.embedding_length"]
        self.nh = m["llama.attention.head_count"]
        self.nkv = m["llama.attention.head_count_kv"]
        self.hd = self.dim // self.nh
        self.eps = float(m["llama.attention.layer_norm_rms_epsilon"])
        self.base = float(m.get("llama.rope.freq_base", 10000.0))
        assert m.get("llama.rope.dimension_count", self.hd) == self.hd
        self.hf_rope = hf_rope
        f64 = lambda n: dequant(self.g, n).astype(np.float64)  # noqa: E731
        self.emb = dequant(self.g, "token_embd.weight")  # (vocab, dim) float32
        self.out_norm = f64("output_norm.weight")
        self.head = (dequant(self.g, "output.weight") if "output.weight" in self.g[1]
                     else self.emb).astype(np.float64)
        self.layers = []
        for i in range(self.L):
            p = f"blk.{i}."
            wq, wk = f64(p + "attn_q.weight"), f64(p + "attn_k.weight")
            if hf_rope:
                wq, wk = unpermute(wq, self.nh), unpermute(wk, self.nkv)
            self.layers.append(dict(
                an=f64(p + "attn_norm.weight"), wq=wq, wk=wk, wv=f64(p + "attn_v.weight"),
                wo=f64(p + "attn_output.weight"), fn=f64(p + "ffn_norm.weight"),
                wg=f64(p + "ffn_gate.weight"), wu=f64(p + "ffn_up.weight"),
                wd=f64(p + "ffn_down.weight")))

    def logits(self, ids):
        """(T, vocab) float64 logits of every position."""
        T, nh, nkv, hd = len(ids), self.nh, self.nkv, self.hd
        x = self.emb[ids].astype(np.float64)  # (T, dim)
        inv = self.base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)  # (hd/2,)
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]  # (T, hd/2)
        cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]  # (T, 1, hd)
        sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for ly in self.layers:
            h = rms(x, ly["an"], self.eps)
            q = (h @ ly["wq"].T).reshape(T, nh, hd)
            k = (h @ ly["wk"].T).reshape(T, nkv, hd)
            v = (h @ ly["wv"].T).reshape(T, nkv, hd)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            rep = nh // nkv  # HF repeat_kv: query head j uses KV head j // rep
            k = np.repeat(k, rep, axis=1)
            v = np.repeat(v, rep, axis=1)
            s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask  # (nh, T, T)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o = np.einsum("hts,shd->thd", s, v).reshape(T, nh * hd)
            x = x + o @ ly["wo"].T
            h = rms(x, ly["fn"], self.eps)
            g = h @ ly["wg"].T
            x = x + ((g / (1 + np.exp(-g))) * (h @ ly["wu"].T)) @ ly["wd"].T
        return rms(x, self.out_norm, self.eps) @ self.head.T


def token_text(meta, ids):
    """Decodes byte-level BPE tokens (GPT-2's byte map) to text."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    dec = {chr(c): b for b, c in zip(bs, cs)}
    toks = meta["tokenizer.ggml.tokens"]
    out = bytearray()
    for i in ids:
        out += bytes(dec[c] for c in toks[i]) if all(c in dec for c in toks[i]) \
            else toks[i].encode()
    return out.decode("utf-8", errors="replace")


def main():
    model = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(model))
    t0 = time.time()
    m = Model(model, hf_rope=True)
    logits = m.logits(PROMPT_IDS)
    top5 = [[int(i) for i in np.argsort(-row, kind="stable")[:5]] for row in logits]
    ids = list(PROMPT_IDS)
    for _ in range(GREEDY_STEPS):
        ids.append(int(np.argmax(m.logits(ids)[-1])))
    greedy = ids[len(PROMPT_IDS):]
    # The wrong pairing (rotate-half on the GGUF's permuted rows): how far it lands.
    wrong = Model(model, hf_rope=False).logits(PROMPT_IDS)
    rope_check = {
        "wrong_convention_max_abs_diff": float(np.abs(wrong - logits).max()),
        "wrong_convention_last_top1": int(np.argmax(wrong[-1])),
        "right_convention_last_top1": int(np.argmax(logits[-1])),
    }
    np.save(os.path.join(out, "forward_ref.npy"), logits.astype(np.float32))
    ref = {"prompt": PROMPT, "ids": PROMPT_IDS, "top5": top5, "greedy_ids": greedy,
           "greedy_text": token_text(m.g[0], greedy),
           "logits_range": [float(logits.min()), float(logits.max())],
           "rope_check": rope_check, "dtype": "float64 (weights dequantized exactly)"}
    with open(os.path.join(out, "forward_ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"[zoo] forward_ref: {PROMPT!r} -> {ref['greedy_text']!r} (greedy ids {greedy}); "
          f"last top5 {top5[-1]}; wrong RoPE pairing: max |Δlogit| "
          f"{rope_check['wrong_convention_max_abs_diff']:.2f}; {time.time() - t0:.1f}s",
          flush=True)


if __name__ == "__main__":
    main()
