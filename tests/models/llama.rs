//! The llama path: GEMV kernels on raw GGUF blocks against dequantize-then-matmul, RoPE and
//! grouped-query attention properties, the KV cache, and a tiny random model against an
//! independent f64 forward written the Hugging Face way (un-permuted Q/K rows, rotate-half
//! RoPE). Natively and as wasm32 under Node (scalar + SIMD128 kernels; relaxed in the relaxed
//! build).
//!
//! With `--features zoo` (release; after `bash tools/zoo/llm.sh` and
//! `tools/zoo/llm_forward_ref.py`): SmolLM2-135M's logits against numpy's, and its greedy
//! continuation of "The capital of France is".

use crate::common;
use zeroskip::error::Error;
use zeroskip::import::gguf::Gguf;
use zeroskip::kernels::llm::{best_dense, f16_finite, WeightType};
use zeroskip::kernels::Isa;
use zeroskip::kernels::{table, Kernel, Op, Tile};
use zeroskip::llm::llama::{kv_head, rope, rope_angles, Llama};
use zeroskip::llm::synth::{
    llama_gguf, llama_tensors, random_matrix, tiny_config, GgufWriter, SynthTensor,
};
use zeroskip::llm::LlamaConfig;
use zeroskip::synth::Rng;
use zeroskip::tensor::{f16_to_f32, f32_to_f16};

const QUANT: [WeightType; 5] = [
    WeightType::Q4_1,
    WeightType::Q8_0,
    WeightType::Q4_0,
    WeightType::F32,
    WeightType::F16,
];

/// `t` written to a GGUF and dequantized by the GGUF reader (independent of the kernels).
fn dequantized(t: &SynthTensor) -> Vec<f32> {
    let mut w = GgufWriter::new();
    w.tensor(t.clone());
    let bytes = w.finish();
    let g = Gguf::parse("synth.gguf", &bytes).unwrap();
    g.tensor(&t.name).unwrap().dequantize().unwrap()
}

/// Every GEMV kernel of this build (with a check that wasm builds carry SIMD ones).
fn kernels() -> Vec<&'static Kernel> {
    let ks: Vec<_> = table()
        .iter()
        .filter(|k| k.op == Op::Linear && k.wtype.dense().is_some())
        .filter(|k| matches!(k.tile, Tile::Rows { t: 1, .. }))
        .collect();
    if cfg!(target_arch = "wasm32") {
        assert!(ks.iter().any(|k| k.isa == Isa::Simd128), "no SIMD128 GEMV");
    }
    if cfg!(target_feature = "relaxed-simd") {
        assert!(ks.iter().any(|k| k.isa == Isa::Relaxed), "no relaxed GEMV");
    }
    ks
}

/// Runs `k` on a random `d × n` matrix for `rows` and checks against dequantize-then-matmul
/// (f64): within 3e-7 of Σ|w·x| per row; rows outside `rows` untouched.
fn check_gemv(k: &Kernel, d: usize, n: usize, rows: std::ops::Range<usize>, seed: u64) {
    let mut rng = Rng::new(seed);
    let t = random_matrix(&mut rng, "w", d, n, k.wtype.dense().unwrap(), 0.5);
    let w = dequantized(&t);
    let x = rng.vec(n);
    let mut y = vec![f32::NAN; d + 3];
    k.run_linear(&t.data, d, n, &x, 1, &mut y, rows.clone())
        .unwrap();
    for r in 0..d + 3 {
        if !rows.contains(&r) {
            assert!(
                y[r].is_nan(),
                "{k:?} d={d} n={n}: row {r} outside {rows:?} written"
            );
            continue;
        }
        let (mut want, mut mag) = (0.0f64, 0.0f64);
        for c in 0..n {
            let p = w[r * n + c] as f64 * x[c] as f64;
            want += p;
            mag += p.abs();
        }
        let err = (y[r] as f64 - want).abs();
        assert!(
            // measured ≤ 7.4e-8 · Σ|wx| natively (q4_1)
            err <= 3e-7 * mag,
            "{k:?} d={d} n={n} row {r}: {} vs {want} (err {err:.3e}, Σ|wx| {mag:.3e})",
            y[r]
        );
    }
}

// ---- a naive f64 forward, Hugging Face conventions -----------------------------------------

/// GGUF Q/K rows back to Hugging Face order: in each head, GGUF row 2j + a is HF row
/// a·hd/2 + j (the inverse of llama.cpp's converter permutation).
fn unpermute(w: &[f64], heads: usize, cols: usize) -> Vec<f64> {
    let hd = w.len() / cols / heads;
    let mut out = vec![0.0; w.len()];
    for h in 0..heads {
        for j in 0..hd / 2 {
            for a in 0..2 {
                let src = (h * hd + 2 * j + a) * cols;
                let dst = (h * hd + a * hd / 2 + j) * cols;
                out[dst..dst + cols].copy_from_slice(&w[src..src + cols]);
            }
        }
    }
    out
}

fn matvec(w: &[f64], x: &[f64]) -> Vec<f64> {
    w.chunks_exact(x.len())
        .map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

fn rms(x: &[f64], w: &[f64], eps: f64) -> Vec<f64> {
    let s = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64 + eps).sqrt();
    x.iter().zip(w).map(|(v, g)| v / s * g).collect()
}

/// Logits after every token of `ids`, from a GGUF, in f64 with HF RoPE (rotate half).
fn reference_logits(cfg: &LlamaConfig, bytes: &[u8], ids: &[u32]) -> Vec<Vec<f64>> {
    let g = Gguf::parse("ref.gguf", bytes).unwrap();
    let get = |n: &str| -> Vec<f64> {
        let t = g.tensor(n).unwrap().dequantize().unwrap();
        t.into_iter().map(|v| v as f64).collect()
    };
    let (dim, nh, nkv, hd) = (cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim());
    let eps = cfg.rms_eps as f64;
    let emb = get("token_embd.weight");
    let mut keys: Vec<Vec<Vec<f64>>> = vec![vec![]; cfg.n_layers]; // [layer][pos] (nkv·hd)
    let mut vals: Vec<Vec<Vec<f64>>> = vec![vec![]; cfg.n_layers];
    let mut out = vec![];
    let layers: Vec<_> = (0..cfg.n_layers)
        .map(|l| {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            [
                get(&n("attn_norm")),
                unpermute(&get(&n("attn_q")), nh, dim),
                unpermute(&get(&n("attn_k")), nkv, dim),
                get(&n("attn_v")),
                get(&n("attn_output")),
                get(&n("ffn_norm")),
                get(&n("ffn_gate")),
                get(&n("ffn_up")),
                get(&n("ffn_down")),
            ]
        })
        .collect();
    let rope_hf = |v: &mut [f64], pos: usize| {
        for head in v.chunks_exact_mut(hd) {
            let old = head.to_vec();
            for i in 0..hd {
                let j = i % (hd / 2);
                let ang =
                    pos as f64 * (cfg.rope_freq_base as f64).powf(-2.0 * j as f64 / hd as f64);
                let rot = if i < hd / 2 {
                    -old[i + hd / 2]
                } else {
                    old[i - hd / 2]
                };
                head[i] = old[i] * ang.cos() + rot * ang.sin();
            }
        }
    };
    for (pos, &id) in ids.iter().enumerate() {
        let mut x = emb[id as usize * dim..(id as usize + 1) * dim].to_vec();
        for (l, w) in layers.iter().enumerate() {
            let h = rms(&x, &w[0], eps);
            let mut q = matvec(&w[1], &h);
            let mut k = matvec(&w[2], &h);
            rope_hf(&mut q, pos);
            rope_hf(&mut k, pos);
            keys[l].push(k);
            vals[l].push(matvec(&w[3], &h));
            let mut o = vec![0.0; nh * hd];
            for hh in 0..nh {
                let kv = hh * nkv / nh; // HF repeat_kv
                let qh = &q[hh * hd..(hh + 1) * hd];
                let s: Vec<f64> = keys[l]
                    .iter()
                    .map(|k| {
                        let kh = &k[kv * hd..(kv + 1) * hd];
                        qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f64>() / (hd as f64).sqrt()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for (t, v) in vals[l].iter().enumerate() {
                    for i in 0..hd {
                        o[hh * hd + i] += e[t] / z * v[kv * hd + i];
                    }
                }
            }
            for (a, b) in x.iter_mut().zip(matvec(&w[4], &o)) {
                *a += b;
            }
            let h = rms(&x, &w[5], eps);
            let gt = matvec(&w[6], &h);
            let up = matvec(&w[7], &h);
            let act: Vec<f64> = gt
                .iter()
                .zip(&up)
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            for (a, b) in x.iter_mut().zip(matvec(&w[8], &act)) {
                *a += b;
            }
        }
        out.push(matvec(&emb, &rms(&x, &get("output_norm.weight"), eps)));
    }
    out
}

fn tiny(ty: WeightType, kv_heads: usize, seed: u64) -> (LlamaConfig, Vec<u8>) {
    let cfg = tiny_config(2, 32, 4, kv_heads, 40);
    let bytes = llama_gguf(&cfg, llama_tensors(&cfg, ty, seed));
    (cfg, bytes)
}

tests! {
    /// The kernels' branch-free f16 conversion is exact for every finite half.
    fn f16_conversion_exact_for_finite() {
        for h in 0..=u16::MAX {
            let want = f16_to_f32(h);
            if want.is_finite() {
                assert_eq!(f16_finite(h).to_bits(), want.to_bits(), "f16 {h:#06x}");
                assert_eq!(f32_to_f16(want), h, "round trip {h:#06x}");
            }
        }
    }

    /// Every GEMV kernel: one block, several blocks, every row remainder of the R-row tiles,
    /// and SmolLM2's shapes, against dequantize-then-matmul.
    fn gemv_matches_dequantize_then_matmul() {
        for k in kernels() {
            let bl = k.wtype.dense().unwrap().block_len().max(4);
            for (i, &(d, n)) in [
                (1, 32),
                (2, 32),
                (3, 64),
                (4, 32),
                (5, 96),
                (7, 128),
                (8, 64),
                (13, 160),
                (64, 576),
                (9, 1536),
            ]
            .iter()
            .enumerate()
            {
                let n = n / bl * bl;
                check_gemv(k, d, n, 0..d, 100 + i as u64);
            }
        }
    }

    /// A row range computes those rows only (a thread's share), R-row tiles or not.
    fn gemv_row_ranges() {
        for k in kernels() {
            for (i, rows) in [0..0, 0..1, 2..3, 1..6, 3..11, 4..8, 5..13].into_iter().enumerate() {
                check_gemv(k, 13, 64, rows, 200 + i as u64);
            }
        }
    }

    /// F32 weights with odd row lengths (the scalar tails of the SIMD kernel).
    fn gemv_f32_odd_lengths() {
        for k in kernels().into_iter().filter(|k| k.wtype.dense() == Some(WeightType::F32)) {
            for n in [1, 3, 5, 17, 33] {
                check_gemv(k, 6, n, 0..6, n as u64);
            }
        }
    }

    /// Bad shapes are typed errors, never out-of-bounds reads.
    fn gemv_checks_shapes() {
        let k = best_dense(WeightType::Q4_1).0;
        let w = vec![0u8; 20 * 4];
        let x = vec![0.0; 64];
        let mut y = vec![0.0; 2];
        assert!(matches!(k.run_linear(&w, 2, 63, &x, 1, &mut y, 0..2), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(k.run_linear(&w, 3, 64, &x, 1, &mut y, 0..2), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(k.run_linear(&w, 2, 64, &x[..32], 1, &mut y, 0..2), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(k.run_linear(&w, 2, 64, &x, 1, &mut y, 1..3), Err(Error::DimOutOfRange { .. })));
        assert!(k.run_linear(&w, 2, 64, &x, 1, &mut y, 0..2).is_ok());
    }

    /// RoPE: position 0 is the identity; each pair keeps its norm; q·k depends only on the
    /// distance between their positions.
    fn rope_properties() {
        let (hd, base) = (16, 10_000.0);
        let mut rng = Rng::new(7);
        let q0 = rng.vec(2 * hd);
        let k0 = rng.vec(2 * hd);
        let at = |v: &[f32], pos: usize| {
            let (c, s) = rope_angles(pos, base, hd);
            let mut v = v.to_vec();
            rope(&mut v, hd, &c, &s);
            v
        };
        assert_eq!(at(&q0, 0), q0);
        let q5 = at(&q0, 5);
        for i in 0..hd {
            let n0 = q0[2 * i].hypot(q0[2 * i + 1]);
            let n5 = q5[2 * i].hypot(q5[2 * i + 1]);
            // measured 1.2e-7 (norms ≈ 1)
            assert!((n0 - n5).abs() <= 5e-7, "pair {i}: norm {n0} -> {n5}");
        }
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        for (m, n, shift) in [(3, 1, 10), (7, 7, 100), (20, 4, 1000)] {
            for h in 0..2 {
                let r = h * hd..(h + 1) * hd;
                let a = dot(&at(&q0, m)[r.clone()], &at(&k0, n)[r.clone()]);
                let b = dot(&at(&q0, m + shift)[r.clone()], &at(&k0, n + shift)[r]);
                // measured 1.8e-7
                assert!((a - b).abs() <= 1e-6, "head {h}: q·k at ({m},{n}) {a} vs shifted {b}");
            }
        }
        // partial rotary: dims past rope_dim pass through
        let (c, s) = rope_angles(9, base, 8);
        let mut v = q0[..hd].to_vec();
        rope(&mut v, hd, &c, &s);
        assert_eq!(&v[8..], &q0[8..hd]);
        assert_ne!(&v[..8], &q0[..8]);
    }

    /// Grouped-query attention: query heads share KV heads in consecutive groups, and a GQA
    /// model equals the multi-head model whose K/V heads are those repeated per group.
    fn gqa_equals_repeated_kv_heads() {
        assert_eq!((0..9).map(|h| kv_head(h, 9, 3)).collect::<Vec<_>>(), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!((0..4).map(|h| kv_head(h, 4, 4)).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let gqa_cfg = tiny_config(2, 32, 4, 2, 40);
        let t = llama_tensors(&gqa_cfg, WeightType::Q8_0, 11);
        let mha_cfg = LlamaConfig { n_kv_heads: 4, ..gqa_cfg.clone() };
        let hd = gqa_cfg.head_dim();
        let mha_t: Vec<SynthTensor> = t
            .iter()
            .map(|t| {
                if !(t.name.ends_with("attn_k.weight") || t.name.ends_with("attn_v.weight")) {
                    return t.clone();
                }
                let mut data = vec![];
                for h in 0..4 {
                    let kv = kv_head(h, 4, 2);
                    for r in kv * hd..(kv + 1) * hd {
                        data.extend_from_slice(t.row(r));
                    }
                }
                SynthTensor { dims: vec![t.dims[0], 4 * hd], data, ..t.clone() }
            })
            .collect();
        let gqa = Llama::load("gqa", llama_gguf(&gqa_cfg, t)).unwrap();
        let mha = Llama::load("mha", llama_gguf(&mha_cfg, mha_t)).unwrap();
        let (mut s1, mut s2) = (gqa.session(16).unwrap(), mha.session(16).unwrap());
        let a = gqa.prefill(&mut s1, &[3, 1, 4, 1, 5]).unwrap().to_vec();
        let b = mha.prefill(&mut s2, &[3, 1, 4, 1, 5]).unwrap().to_vec();
        assert_eq!(a, b);
    }

    /// The tiny model against the independent f64 forward (HF RoPE on un-permuted rows), at
    /// every position, for each weight format.
    fn tiny_model_matches_reference() {
        let ids = [1u32, 7, 3, 39, 0, 12, 12, 5];
        for (i, ty) in QUANT.into_iter().enumerate() {
            let (cfg, bytes) = tiny(ty, 2, 20 + i as u64);
            let want = reference_logits(&cfg, &bytes, &ids);
            let m = Llama::load("tiny", bytes).unwrap();
            let mut s = m.session(ids.len()).unwrap();
            for (p, &id) in ids.iter().enumerate() {
                let got = m.decode(&mut s, id).unwrap();
                let scale = want[p].iter().fold(0.0f64, |a, v| a.max(v.abs()));
                for (v, (&g, &w)) in got.iter().zip(&want[p]).enumerate() {
                    assert!(
                        // measured 3.0e-7 · scale natively
                        (g as f64 - w).abs() <= 1.5e-6 * scale.max(1.0),
                        "{ty} pos {p} logit {v}: {g} vs {w}"
                    );
                }
            }
        }
    }

    /// KV cache consistency: decode after prefill equals prefill of the longer sequence, and
    /// token-by-token decoding equals (batched, GEMM) prefill up to f32 summation order;
    /// replaying the same calls gives the same bits.
    fn decode_after_prefill_equals_longer_prefill() {
        for (kv, ty) in [(2, WeightType::Q4_1), (1, WeightType::Q8_0), (4, WeightType::F32)] {
            let (_, bytes) = tiny(ty, kv, 5);
            let m = Llama::load("tiny", bytes).unwrap();
            let ids = [5u32, 9, 2, 33, 17, 8];
            let mut a = m.session(32).unwrap();
            m.prefill(&mut a, &ids[..4]).unwrap();
            m.decode(&mut a, ids[4]).unwrap();
            let la = m.decode(&mut a, ids[5]).unwrap().to_vec();
            let mut b = m.session(32).unwrap();
            let lb = m.prefill(&mut b, &ids).unwrap().to_vec();
            // measured 8.7e-8 · scale natively
            common::assert_close(&la, &lb, 5e-7, &format!("{ty}, {kv} KV heads"));
            let mut c = m.session(32).unwrap();
            for &t in &ids {
                m.decode(&mut c, t).unwrap();
            }
            // measured 1.2e-7 · scale natively
            common::assert_close(c.logits(), &lb, 5e-7, "decode one by one vs prefill");
            assert_eq!((a.pos(), b.pos(), c.pos()), (6, 6, 6));
            // reset / truncate replay the same numbers
            b.truncate(4).unwrap();
            m.prefill(&mut b, &ids[4..]).unwrap();
            // the same chunks as the first prefill: bit-identical
            assert_eq!(b.logits(), &lb[..], "prefill after truncate");
            b.reset();
            assert_eq!(m.prefill(&mut b, &ids).unwrap(), &lb[..]);
        }
    }

    /// Too many tokens for the context, ids outside the vocabulary, an empty prompt, a
    /// session of another model: typed errors, and the session is unchanged.
    fn bad_inputs_are_typed_errors() {
        let (_, bytes) = tiny(WeightType::Q4_1, 2, 3);
        let m = Llama::load("tiny", bytes).unwrap();
        let mut s = m.session(4).unwrap();
        m.prefill(&mut s, &[1, 2, 3]).unwrap();
        let before = s.logits().to_vec();
        match m.prefill(&mut s, &[4, 5]) {
            Err(Error::DimOutOfRange { tensor, what, value, .. }) => {
                assert_eq!((tensor.as_str(), what.as_str(), value), ("KV cache", "context positions", 5));
            }
            other => panic!("context overflow: {other:?}"),
        }
        assert_eq!((s.pos(), s.logits()), (3, &before[..]));
        assert!(matches!(m.decode(&mut s, 40), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(m.prefill(&mut s, &[]), Err(Error::BadArgument { .. })));
        m.decode(&mut s, 4).unwrap();
        assert!(matches!(m.decode(&mut s, 4), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(m.session(0), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(m.session(65), Err(Error::DimOutOfRange { .. })));
        let (_, other) = tiny(WeightType::Q4_1, 4, 3);
        let o = Llama::load("other", other).unwrap();
        let mut so = o.session(4).unwrap();
        assert!(matches!(m.decode(&mut so, 1), Err(Error::BadArgument { .. })));
    }

    /// Files that do not fit the config, or carry a non-finite block scale, are refused.
    fn bad_files_are_refused() {
        let cfg = tiny_config(1, 32, 4, 2, 40);
        let mut t = llama_tensors(&cfg, WeightType::Q4_1, 1);
        // a missing tensor
        let short: Vec<_> = t.iter().filter(|t| !t.name.contains("ffn_up")).cloned().collect();
        assert!(matches!(Llama::load("x", llama_gguf(&cfg, short)), Err(Error::BadTensor { .. })));
        // wrong dims
        let mut wrong = t.clone();
        let i = wrong.iter().position(|t| t.name == "blk.0.attn_k.weight").unwrap();
        let mut rng = Rng::new(1);
        wrong[i] = random_matrix(&mut rng, "blk.0.attn_k.weight", 8, 32, WeightType::Q4_1, 1.0);
        assert!(matches!(Llama::load("x", llama_gguf(&cfg, wrong)), Err(Error::BadTensor { .. })));
        // an infinite scale in the embeddings
        t[0].data[20 * 5..20 * 5 + 2].copy_from_slice(&0x7c00u16.to_le_bytes());
        match Llama::load("x", llama_gguf(&cfg, t)) {
            Err(Error::BadTensor { tensor, detail, .. }) => {
                assert_eq!(tensor, "token_embd.weight");
                assert!(detail.contains("block 5"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(feature = "zoo")]
mod zoo {
    use super::common::zoo;
    use zeroskip::llm::llama::Llama;
    use zeroskip::llm::sampler::argmax;
    use zeroskip::llm::tokenizer::Tokenizer;
    use zeroskip::par::with_threads;

    const MODEL: &str = "llm/SmolLM2-135M-Instruct.Q4_1.gguf";
    /// Largest |Rust − numpy| allowed on any logit (logits span about −20..27; measured
    /// 3.4e-5 with f32 activations, native release).
    const TOL: f32 = 1.5e-4;

    fn load() -> (Llama, Tokenizer) {
        Llama::load_with(MODEL, zoo::read(MODEL), Tokenizer::from_gguf).unwrap()
    }

    fn reference() -> (Vec<u32>, Vec<Vec<f32>>, serde_json::Value) {
        let (shape, flat) = zoo::npy_f32("llm/forward_ref.npy");
        let meta: serde_json::Value =
            serde_json::from_slice(&zoo::read("llm/forward_ref.json")).unwrap();
        let ids: Vec<u32> = meta["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(shape, [ids.len(), 49152]);
        (
            ids,
            flat.chunks_exact(shape[1]).map(|r| r.to_vec()).collect(),
            meta,
        )
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    fn top5(x: &[f32]) -> Vec<usize> {
        let mut i: Vec<usize> = (0..x.len()).collect();
        i.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
        i.truncate(5);
        i
    }

    /// SmolLM2-135M's logits after every prompt position against numpy's float64 forward
    /// (tools/zoo/llm_forward_ref.py): within TOL, and the same top-5.
    #[test]
    fn smollm2_logits_match_numpy() {
        let (m, tok) = load();
        let (ids, want, _) = reference();
        assert_eq!(
            tok.encode("The capital of France is", false),
            ids,
            "prompt ids"
        );
        let mut s = m.session(64).unwrap();
        let mut worst = 0.0f32;
        for (p, &id) in ids.iter().enumerate() {
            let got = m.decode(&mut s, id).unwrap();
            let d = max_abs_diff(got, &want[p]);
            worst = worst.max(d);
            assert_eq!(top5(got), top5(&want[p]), "top-5 at position {p}");
        }
        let mut s2 = m.session(64).unwrap();
        let last = m.prefill(&mut s2, &ids).unwrap();
        // measured 2.0e-6 · scale
        crate::common::assert_close(last, s.logits(), 1e-5, "prefill vs decode");
        eprintln!(
            "SmolLM2 logits vs numpy: max |diff| {worst:.2e} over {} positions",
            ids.len()
        );
        assert!(worst <= TOL, "max |diff| {worst} > {TOL}");
    }

    /// The demo's default model (TEAL activation sparsity on `cm32i8`, www/llm-models.json) and
    /// the dense Q4_0 file.
    const THREAD_MODELS: [&str; 2] = [
        "llm/SmolLM2-135M-Instruct.act-teal-s40-cm32i8.zsk",
        "llm/SmolLM2-135M-Instruct.Q4_0.gguf",
    ];

    /// The prompt's logits after prefill, then 8 greedy decode steps' logits (all of them,
    /// concatenated), on `threads` threads.
    fn greedy_logits(m: &Llama, ids: &[u32], threads: usize) -> Vec<f32> {
        with_threads(threads, || {
            let mut s = m.session(64).unwrap();
            let mut out = m.prefill(&mut s, ids).unwrap().to_vec();
            let mut next = argmax(&out) as u32;
            for _ in 0..8 {
                let l = m.decode(&mut s, next).unwrap();
                next = argmax(l) as u32;
                out.extend_from_slice(l);
            }
            out
        })
    }

    /// SmolLM2 on 1, 2 and 3 threads (every kernel call split across the pool at the engine's
    /// thresholds: the FFN, Q/O projections and LM head are split) gives the same logits, bit
    /// for bit: a prefill of the prompt and 8 greedy decode steps.
    #[test]
    fn smollm2_threads_bit_identical() {
        for file in THREAD_MODELS {
            let (m, tok) = Llama::load_with(file, zoo::read(file), Tokenizer::from_gguf).unwrap();
            assert_eq!(file.contains("act-teal"), m.act().is_some(), "{file}");
            let ids = tok.encode("The capital of France is", false);
            let want = greedy_logits(&m, &ids, 1);
            assert_eq!(want.len(), 9 * m.cfg.vocab_size);
            for n in [2, 3] {
                let got = greedy_logits(&m, &ids, n);
                let diff = got
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(diff, None, "{file} on {n} threads: first different logit");
            }
        }
    }

    /// Prefill and decode speed on 1 and 2 threads (a measurement, not a check): 5 rounds
    /// alternating the thread counts, each a 64-token prefill then 64 greedy decode steps;
    /// prints every round and the best and median per thread count.
    /// `cargo test --release --features zoo --test models smollm2_thread_speed -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn smollm2_thread_speed() {
        use std::time::Instant;
        for file in THREAD_MODELS.iter().rev() {
            let (m, _) = Llama::load_with(file, zoo::read(file), Tokenizer::from_gguf).unwrap();
            let prompt: Vec<u32> = (0..64u32).map(|i| 300 + i * 37).collect();
            // (prefill tok/s, decode tok/s) per round, for 1 and 2 threads
            let mut runs: [Vec<(f64, f64)>; 2] = [vec![], vec![]];
            for round in 0..5 {
                for n in [1, 2] {
                    let (p, d) = with_threads(n, || {
                        let mut s = m.session(160).unwrap();
                        let t0 = Instant::now();
                        let mut next = argmax(m.prefill(&mut s, &prompt).unwrap()) as u32;
                        let p = t0.elapsed().as_secs_f64();
                        let t1 = Instant::now();
                        for _ in 0..64 {
                            next = argmax(m.decode(&mut s, next).unwrap()) as u32;
                        }
                        (64.0 / p, 64.0 / t1.elapsed().as_secs_f64())
                    });
                    eprintln!("{file} round {round}, {n} thread(s): prefill {p:.1} tok/s, decode {d:.1} tok/s");
                    runs[n - 1].push((p, d));
                }
            }
            for (i, r) in runs.iter_mut().enumerate() {
                let stats = |v: &mut Vec<f64>| {
                    v.sort_by(f64::total_cmp);
                    (v[v.len() - 1], v[v.len() / 2])
                };
                let (pb, pm) = stats(&mut r.iter().map(|x| x.0).collect());
                let (db, dm) = stats(&mut r.iter().map(|x| x.1).collect());
                eprintln!(
                    "{file}, {} thread(s): prefill best {pb:.1} / median {pm:.1} tok/s, decode \
                     best {db:.1} / median {dm:.1} tok/s",
                    i + 1
                );
            }
        }
    }

    /// Greedy continuation of "The capital of France is" names Paris within 8 tokens, and
    /// matches numpy's greedy ids.
    #[test]
    fn smollm2_greedy_says_paris() {
        let (m, tok) = load();
        let (_, _, meta) = reference();
        let ids = tok.encode("The capital of France is", false);
        let mut s = m.session(64).unwrap();
        let mut next = argmax(m.prefill(&mut s, &ids).unwrap()) as u32;
        let mut out = vec![];
        for _ in 0..8 {
            out.push(next);
            next = argmax(m.decode(&mut s, next).unwrap()) as u32;
        }
        let text = tok.decode(&out).unwrap();
        eprintln!("greedy: {text:?} ({out:?})");
        let want: Vec<u32> = meta["greedy_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert!(text.contains("Paris"), "{text:?}");
        assert_eq!(out, want, "greedy ids vs numpy");
    }
}
