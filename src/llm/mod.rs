//! Small LLMs: the hyper-parameters of a llama-architecture GGUF, its tokenizer, the weights
//! as the file stores them (`weights`), the forward pass over a preallocated KV cache
//! (`llama`, `kv_cache`), the sampler, and perplexity (`ppl`). Sparse weight formats come next.

pub mod act;
pub mod kv_cache;
pub mod llama;
pub mod ppl;
pub mod prefill;
pub mod sampler;
pub mod split;
// A test fixture (random GGUF models in memory): tests/ get it through the `testing` feature,
// which the dev-dependency on this crate turns on; library builds leave it out.
#[cfg(any(test, feature = "testing"))]
pub mod synth;
pub mod tokenizer;
pub mod weights;

use crate::error::{Error, Result};
use crate::import::gguf::Gguf;

// Largest width, layer count and context accepted from a file (why: `crate::limits`).
use crate::limits::{
    MAX_LLM_CONTEXT as MAX_CONTEXT, MAX_LLM_DIM as MAX_DIM, MAX_LLM_LAYERS as MAX_LAYERS,
};

/// The hyper-parameters the JS API reports (`TextGenerator.config()`), with the session's
/// context `ctx`: the shape of that JSON, which the npm package and the pages read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigReport {
    pub n_layers: usize,
    pub dim: usize,
    pub ffn_dim: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub ctx: usize,
}

/// A llama-architecture model's hyper-parameters (`llama.*` metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// `llama.block_count`
    pub n_layers: usize,
    /// `llama.embedding_length`
    pub dim: usize,
    /// `llama.feed_forward_length`
    pub ffn_dim: usize,
    /// `llama.attention.head_count`
    pub n_heads: usize,
    /// `llama.attention.head_count_kv` (= n_heads without grouped-query attention)
    pub n_kv_heads: usize,
    /// `llama.context_length`
    pub context_length: usize,
    /// `llama.rope.freq_base` (10000 when absent)
    pub rope_freq_base: f32,
    /// `llama.rope.dimension_count` (the head size when absent)
    pub rope_dim: usize,
    /// `llama.attention.layer_norm_rms_epsilon`
    pub rms_eps: f32,
    /// `llama.vocab_size`, else the length of `tokenizer.ggml.tokens`
    pub vocab_size: usize,
}

impl LlamaConfig {
    /// What `TextGenerator.config()` reports, for a session of `ctx` positions.
    pub fn report(&self, ctx: usize) -> ConfigReport {
        ConfigReport {
            n_layers: self.n_layers,
            dim: self.dim,
            ffn_dim: self.ffn_dim,
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            vocab_size: self.vocab_size,
            context_length: self.context_length,
            ctx,
        }
    }

    /// Reads and checks the hyper-parameters (heads divide the width, KV heads divide the
    /// heads, the RoPE dims fit a head).
    pub fn from_gguf(g: &Gguf) -> Result<LlamaConfig> {
        g.require_str("general.architecture", "llama", "llama")?;
        let n = |key: &str, max: usize| -> Result<usize> {
            let v = g.get_usize(key, max)?;
            if v == 0 {
                return Err(Error::DimOutOfRange {
                    tensor: format!("{}: metadata '{key}'", g.file()),
                    what: key.into(),
                    value: 0,
                    limit: "at least 1".into(),
                });
            }
            Ok(v)
        };
        let dim = n("llama.embedding_length", MAX_DIM)?;
        let n_heads = n("llama.attention.head_count", MAX_DIM)?;
        let n_kv_heads = match g.get("llama.attention.head_count_kv") {
            None => n_heads,
            Some(_) => n("llama.attention.head_count_kv", MAX_DIM)?,
        };
        let vocab_size = match g.get("llama.vocab_size") {
            Some(_) => n("llama.vocab_size", u32::MAX as usize)?,
            None => g.get_array("tokenizer.ggml.tokens")?.len(),
        };
        let c = LlamaConfig {
            n_layers: n("llama.block_count", MAX_LAYERS)?,
            dim,
            ffn_dim: n("llama.feed_forward_length", 16 * MAX_DIM)?,
            n_heads,
            n_kv_heads,
            context_length: n("llama.context_length", MAX_CONTEXT)?,
            rope_freq_base: match g.get("llama.rope.freq_base") {
                None => 10_000.0,
                Some(_) => g.get_f32("llama.rope.freq_base")?,
            },
            rope_dim: match g.get("llama.rope.dimension_count") {
                None => dim / n_heads,
                Some(_) => n("llama.rope.dimension_count", MAX_DIM)?,
            },
            rms_eps: g.get_f32("llama.attention.layer_norm_rms_epsilon")?,
            vocab_size,
        };
        let head = c.dim / c.n_heads;
        let bad = |detail: String| Error::BadModel {
            file: g.file().into(),
            format: "GGUF llama".into(),
            detail,
        };
        if c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 {
            return Err(bad(format!(
                "{} heads do not divide the width {}, or {} KV heads do not divide them",
                c.n_heads, c.dim, c.n_kv_heads
            )));
        }
        if c.rope_dim > head || c.rope_dim % 2 != 0 {
            return Err(bad(format!(
                "RoPE over {} dims does not fit heads of {head} (even, at most the head size)",
                c.rope_dim
            )));
        }
        if !(c.rms_eps.is_finite()
            && c.rms_eps > 0.0
            && c.rope_freq_base.is_finite()
            && c.rope_freq_base > 0.0)
        {
            return Err(bad(format!(
                "rms epsilon {} or RoPE base {} is not a positive finite number",
                c.rms_eps, c.rope_freq_base
            )));
        }
        Ok(c)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.n_heads
    }
}
