//! The bodies of the fuzz targets, one per loader that reads untrusted bytes in the browser.
//! A target returns normally on any `Err`: the property checked is that no input panics,
//! aborts, or allocates more than libFuzzer's `-malloc_limit_mb` (tools/fuzz.sh), i.e. that
//! every bad file becomes a typed `Error`. Where a load succeeds, the target goes on into the
//! code a page runs next (plan + one inference, lowering, a decode step), bounded so one
//! execution stays in milliseconds.

pub mod seeds;

use std::hint::black_box;
use zeroskip::graph::{Graph, Plan, PlanOptions, Session};
use zeroskip::import::gguf::Gguf;
use zeroskip::llm::llama::Llama;
use zeroskip::llm::tokenizer::{ChatTemplate, Message, Tokenizer};
use zeroskip::sparse::llm::SparseMatrix;

/// Largest arena (floats) and work (FLOPs, 2·MACs) of a fuzzed plan that is also run: the
/// seeds need about 1e4 floats and 1e6 FLOPs; 16x that keeps one run under a few ms.
const RUN_ARENA: usize = 1 << 18;
const RUN_FLOPS: u64 = 1 << 24;
/// Largest matrix (weights) the sparse-matrix target decodes and multiplies.
const RUN_WEIGHTS: usize = 1 << 16;

/// Plans `g` and, when it is small, runs one inference on a constant input.
fn plan_and_run(g: &Graph) {
    let Ok(plan) = Plan::new(g, PlanOptions::default()) else {
        return;
    };
    let flops = plan
        .report()
        .iter()
        .fold(0u64, |a, l| a.saturating_add(l.flops));
    if plan.arena_len() > RUN_ARENA || flops > RUN_FLOPS {
        return;
    }
    let x = vec![0.5; plan.input_shape().len()];
    let mut s = Session::new(plan);
    if let Ok(y) = s.run(&x) {
        black_box(y.len());
    }
}

/// ONNX bytes → graph → plan (→ run).
pub fn onnx(data: &[u8]) {
    if let Ok(g) = zeroskip::import::onnx::load("fuzz.onnx", data) {
        plan_and_run(&g);
    }
}

/// Splits one fuzz input into `model.json` and its shards: `u32 LE n`, n bytes of JSON, then
/// shards as `u32 LE len` + bytes (the last one takes what is left). Length prefixes rather
/// than a delimiter, so mutations of the JSON keep the shards where they were.
pub fn split_tfjs(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let take_len = |d: &[u8]| -> Option<(usize, usize)> {
        let n = u32::from_le_bytes(d.get(..4)?.try_into().ok()?) as usize;
        Some((n.min(d.len() - 4), 4))
    };
    let Some((n, h)) = take_len(data) else {
        return (data, Vec::new());
    };
    let (json, mut rest) = data[h..].split_at(n);
    let mut shards = Vec::new();
    while let Some((n, h)) = take_len(rest) {
        let (s, r) = rest[h..].split_at(n);
        shards.push(s);
        rest = r;
    }
    if !rest.is_empty() {
        shards.push(rest);
    }
    (json, shards)
}

/// TF.js model.json + shards → graph → plan (→ run).
pub fn tfjs(data: &[u8]) {
    let (json, shards) = split_tfjs(data);
    if let Ok(m) = zeroskip::import::tfjs::load("fuzz.json", json, &shards) {
        plan_and_run(&m.graph);
    }
}

/// A GGUF: the header and tensor table, every small tensor dequantized, then the llama
/// loader (with its tokenizer) and one decode step.
pub fn gguf(data: &[u8]) {
    if let Ok(g) = Gguf::parse("fuzz.gguf", data) {
        for info in g.tensors() {
            if let Ok(t) = g.tensor(&info.name) {
                if t.len() <= RUN_WEIGHTS {
                    let _ = black_box(t.dequantize());
                }
            }
        }
    }
    llama(data);
}

/// The sparse LLM `.zsk` (a header, then a GGUF whose pruned matrices are
/// [`SparseMatrix`] streams), through the same loader the page uses.
pub fn zsk_llm(data: &[u8]) {
    let _ = zeroskip::zsk::llm::payload_start("fuzz.zsk", data);
    llama(data);
}

/// `Llama::load_with` (GGUF or sparse .zsk) with the tokenizer, then a 4-position session
/// and one decode step: the work is bounded by the weights, which lie in the file.
fn llama(data: &[u8]) {
    let Ok((m, tok)) = Llama::load_with("fuzz.gguf", data.to_vec(), |g| {
        Ok(Tokenizer::from_gguf(g).ok())
    }) else {
        return;
    };
    if let Some(tok) = tok {
        let ids = tok.encode("Hi <|im_start|>", true);
        let _ = black_box(tok.decode(&ids));
    }
    black_box(m.kernel_report());
    if let Ok(mut s) = m.session(4) {
        if let Ok(l) = m.decode(&mut s, 0) {
            black_box(l.len());
        }
    }
}

/// The CNN `.zsk` → graph (+ packed weights) → plan (→ run).
pub fn zsk_cnn(data: &[u8]) {
    if let Ok(m) = zeroskip::zsk::load("fuzz.zsk", data) {
        plan_and_run(&m.graph);
    }
}

/// One [`SparseMatrix`] stream; when it parses and is small: decode, GEMV and a 3-token GEMM
/// with the best kernels, and the write → read round trip, which must give the same weights.
pub fn sparse_matrix(data: &[u8]) {
    let Ok((m, used)) = SparseMatrix::read("fuzz", data) else {
        return;
    };
    assert!(used <= data.len());
    if m.rows.saturating_mul(m.cols) > RUN_WEIGHTS {
        return;
    }
    let w = m.decode();
    let x = vec![0.25f32; 3 * m.cols];
    let mut y = vec![0.0f32; 3 * m.rows];
    let _ = m.gemv(&x[..m.cols], &mut y[..m.rows], 0..m.rows);
    let _ = m.gemm(&x, 3, &mut y);
    let mut out = Vec::new();
    m.write(&mut out);
    let (back, n) = SparseMatrix::read("fuzz", &out).expect("a written matrix reads back");
    assert_eq!(n, out.len());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&back.decode()),
        bits(&w),
        "round trip changed the weights"
    );
}

/// The tokenizer of a small GGUF vocabulary ([`seeds::tokenizer_gguf`]), built once.
fn tokenizer_once() -> &'static Tokenizer {
    static TOK: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
    TOK.get_or_init(|| {
        let bytes = seeds::tokenizer_gguf();
        let g = Gguf::parse("vocab.gguf", &bytes).expect("the vocabulary GGUF parses");
        Tokenizer::from_gguf(&g).expect("the vocabulary builds a tokenizer")
    })
}

/// The first byte picks: encode text (plain: decoding must give the text back; with special
/// tokens), decode arbitrary ids (at once and streamed), or parse and render a chat template.
pub fn tokenizer(data: &[u8]) {
    let tok = tokenizer_once();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match mode % 4 {
        0 => {
            let ids = tok.encode(&text, false);
            let back = tok.decode(&ids).expect("encoded ids decode");
            assert_eq!(back, text, "decode(encode(text)) != text");
        }
        1 => {
            let ids = tok.encode(&text, true);
            black_box(tok.decode(&ids).expect("encoded ids decode"));
        }
        2 => {
            // ids over the vocabulary by a few, so that out-of-range ids are tried too
            let n = tok.vocab_size() as u32 + 4;
            let ids: Vec<u32> = rest
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32 % n)
                .collect();
            let _ = black_box(tok.decode(&ids));
            let mut s = tok.stream();
            for &id in &ids {
                let _ = black_box(s.push(id));
            }
            black_box(s.finish());
        }
        _ => {
            if let Ok(t) = ChatTemplate::parse("fuzz", &text) {
                let msgs = [Message::new("system", "sys"), Message::new("user", "hi")];
                black_box(t.render(&msgs, true));
            }
        }
    }
}

/// ONNX bytes → graph → WGSL lowering against WebGPU's default limits (no device).
pub fn wgsl_lower(data: &[u8]) {
    if let Ok(g) = zeroskip::import::onnx::load("fuzz.onnx", data) {
        let _ = black_box(zeroskip::gpu::lower_for_fuzz(&g));
    }
}
