//! Tiny random llama models written as GGUF bytes in memory, for tests and benchmarks that
//! must not depend on a downloaded model (and for wasm tests, which cannot read files).
//!
//! [`GgufWriter`] (from [`crate::export::gguf`]) writes GGUF v3;
//! [`llama_tensors`] makes random weights of a [`LlamaConfig`] in any kernel format, and
//! [`llama_gguf`] writes them with the `llama.*` metadata that [`LlamaConfig::from_gguf`]
//! reads.

pub use crate::export::gguf::GgufWriter;

use super::LlamaConfig;
use crate::import::gguf::GgmlType;
use crate::kernels::llm::WeightType;
use crate::synth::Rng;
use crate::tensor::f32_to_f16;

/// One tensor to write: ggml dims (`dims[0]` = row length) and raw bytes of `ty`.
#[derive(Debug, Clone)]
pub struct SynthTensor {
    pub name: String,
    pub dims: Vec<usize>,
    pub ty: WeightType,
    pub data: Vec<u8>,
}

impl SynthTensor {
    /// Row `r`'s bytes (rows of `dims[0]` weights).
    pub fn row(&self, r: usize) -> &[u8] {
        let rb = self.ty.row_bytes(self.dims[0]);
        &self.data[r * rb..(r + 1) * rb]
    }
}

impl SynthTensor {
    /// The ggml type of `ty`.
    pub fn ggml_type(&self) -> GgmlType {
        match self.ty {
            WeightType::F32 => GgmlType::F32,
            WeightType::F16 => GgmlType::F16,
            WeightType::Q4_0 => GgmlType::Q4_0,
            WeightType::Q4_1 => GgmlType::Q4_1,
            WeightType::Q8_0 => GgmlType::Q8_0,
        }
    }
}

impl GgufWriter {
    /// Adds a synthetic tensor.
    pub fn tensor(&mut self, t: SynthTensor) -> &mut Self {
        let ty = t.ggml_type();
        self.raw_tensor(&t.name, &t.dims, ty, t.data)
    }
}

/// Random `rows × cols` weights of `ty` (ggml dims `[cols, rows]`), values of size about
/// `scale`: quantized formats get random codes and random (finite) scales around
/// `scale / 8`, so every block is valid and the weights have mean about zero.
pub fn random_matrix(
    rng: &mut Rng,
    name: &str,
    rows: usize,
    cols: usize,
    ty: WeightType,
    scale: f32,
) -> SynthTensor {
    let mut data = Vec::with_capacity(rows * ty.row_bytes(cols));
    let h = |v: f32| f32_to_f16(v).to_le_bytes();
    let n_blocks = rows * cols / ty.block_len();
    for _ in 0..n_blocks {
        let d = scale / 8.0 * (1.0 + 0.5 * rng.uniform()); // uniform in [-1, 1)
        match ty {
            WeightType::F32 => data.extend_from_slice(&(rng.uniform() * scale).to_le_bytes()),
            WeightType::F16 => data.extend_from_slice(&h(rng.uniform() * scale)),
            WeightType::Q4_0 | WeightType::Q4_1 => {
                data.extend_from_slice(&h(d));
                if ty == WeightType::Q4_1 {
                    // w = q·d + m with m ≈ −7.5d: mean about zero
                    data.extend_from_slice(&h(-d * (7.5 + 0.5 * rng.uniform())));
                }
                for _ in 0..16 {
                    data.push(rng.below(256) as u8);
                }
            }
            WeightType::Q8_0 => {
                data.extend_from_slice(&h(d / 16.0));
                for _ in 0..32 {
                    data.push(rng.below(256) as u8);
                }
            }
        }
    }
    SynthTensor {
        name: name.into(),
        dims: vec![cols, rows],
        ty,
        data,
    }
}

/// A random f32 vector (ggml dims `[len]`) around `center`.
pub fn random_vector(rng: &mut Rng, name: &str, len: usize, center: f32) -> SynthTensor {
    let mut data = Vec::with_capacity(4 * len);
    for _ in 0..len {
        data.extend_from_slice(&(center + 0.1 * rng.uniform()).to_le_bytes());
    }
    SynthTensor {
        name: name.into(),
        dims: vec![len],
        ty: WeightType::F32,
        data,
    }
}

/// Random weights for `cfg` (tied embeddings: no `output.weight`), matrices in `ty`
/// (the embeddings too), norms near 1.
pub fn llama_tensors(cfg: &LlamaConfig, ty: WeightType, seed: u64) -> Vec<SynthTensor> {
    let mut rng = Rng::new(seed);
    let hd = cfg.head_dim();
    let (dim, q_dim, kv_dim) = (cfg.dim, cfg.n_heads * hd, cfg.n_kv_heads * hd);
    let s_in = 1.0 / (dim as f32).sqrt();
    let mut t = vec![random_matrix(
        &mut rng,
        "token_embd.weight",
        cfg.vocab_size,
        dim,
        ty,
        1.0,
    )];
    for l in 0..cfg.n_layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        let ffn = cfg.ffn_dim;
        let s_out = |n_in: usize| 1.0 / (n_in as f32).sqrt();
        // (name, rows, cols, scale) of each block's matrices, in file order after its norm.
        let attn = [
            ("attn_q", q_dim, dim, 2.0 * s_in),
            ("attn_k", kv_dim, dim, 2.0 * s_in),
            ("attn_v", kv_dim, dim, s_in),
            ("attn_output", dim, q_dim, s_out(q_dim)),
        ];
        let mlp = [
            ("ffn_gate", ffn, dim, s_in),
            ("ffn_up", ffn, dim, s_in),
            ("ffn_down", dim, ffn, s_out(ffn)),
        ];
        for (norm, matrices) in [("attn_norm", &attn[..]), ("ffn_norm", &mlp[..])] {
            t.push(random_vector(&mut rng, &n(norm), dim, 1.0));
            for &(name, rows, cols, scale) in matrices {
                t.push(random_matrix(&mut rng, &n(name), rows, cols, ty, scale));
            }
        }
    }
    t.push(random_vector(&mut rng, "output_norm.weight", dim, 1.0));
    t
}

/// The GGUF bytes of `cfg` with `tensors` (e.g. from [`llama_tensors`]).
pub fn llama_gguf(cfg: &LlamaConfig, tensors: Vec<SynthTensor>) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.str("general.architecture", "llama")
        .u32("llama.block_count", cfg.n_layers as u32)
        .u32("llama.context_length", cfg.context_length as u32)
        .u32("llama.embedding_length", cfg.dim as u32)
        .u32("llama.feed_forward_length", cfg.ffn_dim as u32)
        .u32("llama.attention.head_count", cfg.n_heads as u32)
        .u32("llama.attention.head_count_kv", cfg.n_kv_heads as u32)
        .f32("llama.rope.freq_base", cfg.rope_freq_base)
        .u32("llama.rope.dimension_count", cfg.rope_dim as u32)
        .f32("llama.attention.layer_norm_rms_epsilon", cfg.rms_eps)
        .u32("llama.vocab_size", cfg.vocab_size as u32);
    for t in tensors {
        w.tensor(t);
    }
    w.finish()
}

/// A tiny config: `layers` blocks of width `dim`, `heads` query heads and `kv_heads` KV heads
/// of `dim / heads` dims (all rotated), FFN `2·dim`, vocab `vocab`, context 64.
pub fn tiny_config(
    layers: usize,
    dim: usize,
    heads: usize,
    kv_heads: usize,
    vocab: usize,
) -> LlamaConfig {
    LlamaConfig {
        n_layers: layers,
        dim,
        ffn_dim: 2 * dim,
        n_heads: heads,
        n_kv_heads: kv_heads,
        context_length: 64,
        rope_freq_base: 10_000.0,
        rope_dim: dim / heads,
        rms_eps: 1e-5,
        vocab_size: vocab,
    }
}

/// GPT-2's bytes_to_unicode, written out as in the original Python: the printable Latin-1
/// bytes keep their code point, the rest take 256, 257, ... in byte order. Byte-level BPE
/// vocabularies for the tokenizer tests and the fuzz seeds.
pub fn byte_token(b: u8) -> String {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let b = b as u32;
    let c = if printable(b) {
        b
    } else {
        256 + (0..b).filter(|&x| !printable(x)).count() as u32
    };
    char::from_u32(c).expect("a valid code point").to_string()
}

/// The llama GGUF `dense` with the linear matrices whose name ends in `.<kind>.weight` for a
/// kind of `kinds` (`attn_q`, `ffn_down`, …) packed as `format` (their zeros pruned, the rest
/// quantized), and `act`'s thresholds: a sparse `.zsk`. Also returns the same model as a dense
/// F32 GGUF holding the packed weights decoded, the reference the sparse kernels must match.
pub fn sparse_zsk(
    dense: &[u8],
    format: crate::sparse::llm::SparseFormat,
    kinds: &[&str],
    act: Option<&super::act::ActSparsity>,
) -> crate::error::Result<(Vec<u8>, Vec<u8>)> {
    use crate::sparse::llm::SparseMatrix;
    let g = crate::import::gguf::Gguf::parse("dense.gguf", dense)?;
    let mut sparse = Vec::new();
    let mut reference = GgufWriter::new();
    for (k, v) in g.metadata() {
        reference.value(k, v);
    }
    for info in g.tensors() {
        let t = g.tensor(&info.name)?;
        if kinds
            .iter()
            .any(|k| info.name.ends_with(&format!(".{k}.weight")))
        {
            let w = t.dequantize()?;
            let m = SparseMatrix::pack(&info.name, format, &w, info.rows(), info.row_len())?;
            let decoded: Vec<u8> = m.decode().iter().flat_map(|v| v.to_le_bytes()).collect();
            reference.raw_tensor(&info.name, &info.dims, GgmlType::F32, decoded);
            sparse.push(m);
        } else {
            reference.raw_tensor(&info.name, &info.dims, info.ty, t.data.to_vec());
        }
    }
    Ok((
        crate::zsk::llm::write_with_act(&g, &sparse, &[], act)?,
        reference.finish(),
    ))
}
