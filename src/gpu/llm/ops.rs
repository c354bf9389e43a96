//! The non-linear steps of the llama forward pass on WebGPU, and the sampler's top-k on the
//! GPU: one [`OpSpec`] constructor per step (the dispatch convention of [`super::dispatch`]),
//! matching the CPU forward pass of [`crate::llm::llama`] and the sampler of
//! [`crate::llm::sampler`].
//!
//! Shapes (per call of `t` tokens, `State::t`; 1 at decode, at most [`MAX_TOKENS`] at prefill):
//!
//! ```text
//! rmsnorm    x (t, n), w (n,) [, scales (n,)]            -> out (t, n)   (or (1, n): last_only)
//! rope_kv    q (t, nh·hd) in place, k, v (t, nkv·hd), rope (ctx, rope_dim/2, 2)
//!                                                         -> kc, vc (ctx, nkv·hd) rows pos0 + i
//! attention  q (t, nh·hd), kc, vc (ctx, nkv·hd), att scratch (16, nh, ctx) -> out (t, nh·hd)
//! threshold  x (t, n) in place [, scales (n,)]
//! swiglu     gate (t, ffn) <- silu(gate) ⊙ up (t, ffn) [, scales (ffn,)]
//! topk       logits (vocab,), partial scratch            -> out (2·TOPK_MAX + 1,) words
//! ```
//!
//! **Numerics.** RMSNorm's sum of squares is f32 (the CPU's is f64; WGSL has none): strided
//! partial sums per invocation, then a pairwise tree over 256 of them. Attention normalises
//! with 1/Σ after the weighted sum rather than before. Thresholds compare the GPU's values,
//! so an entry within rounding of its threshold may be kept on one side and dropped on the
//! other; the tests (tests/common/gpu_llm_ops.rs) measure all of it.
//!
//! **Thresholds and bindings.** Pipelines use `layout: None`, so every binding a shader declares
//! must be bound. The ops whose WINA variant reads a scales buffer bind another read-only
//! buffer of theirs in its place when there are none (`w` for RMSNorm, `up` for SwiGLU);
//! TEAL's threshold alone (`threshold` without scales) runs on `llm_thresh.wgsl`, which binds
//! `x` only, and WINA's on `llm_swiglu.wgsl` in its threshold mode (scales in both slots).

use super::dispatch::OpSpec;
use crate::error::{Error, Result};
use crate::gpu::shaders::Pipeline;
use crate::llm::sampler::{Sampler, SamplerConfig};

llm_shaders! {
    NORM = "llm_norm";
    ROPE = "llm_rope";
    ATTN = "llm_attn";
    SWIGLU = "llm_swiglu";
    THRESH = "llm_thresh";
    TOPK = "llm_topk";
}

/// Tokens one call may carry (the attention scratch has a row block per token; the prefill
/// chunk of the WASM path, [`crate::llm::prefill::PREFILL_CHUNK`], is the same 16).
pub const MAX_TOKENS: u32 = 16;

/// Largest head_dim `attention` takes (its query lives in workgroup memory; llama-family
/// models use 64 to 256).
pub const MAX_HEAD_DIM: u32 = 256;

/// The model sizes the ops need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub dim: u32,
    pub n_heads: u32,
    pub n_kv_heads: u32,
    pub head_dim: u32,
    pub ffn: u32,
    /// Positions of the KV cache (rows of `kc`, `vc` and of each `att` row block).
    pub ctx: u32,
    pub rope_dim: u32,
    pub vocab: u32,
}

impl Dims {
    /// Checks what the shaders assume: heads divide into KV groups, rope_dim ≤ head_dim, the
    /// tensors' sizes fit u32 words.
    pub fn check(&self) -> Result<()> {
        let bad = |detail: String| {
            Err(Error::BadArgument {
                what: "GPU LLM dims".into(),
                detail,
            })
        };
        let d = self;
        if d.n_heads == 0 || d.n_kv_heads == 0 || d.n_heads % d.n_kv_heads != 0 {
            return bad(format!(
                "{} heads do not split into groups of {} KV heads",
                d.n_heads, d.n_kv_heads
            ));
        }
        if d.head_dim == 0 || d.head_dim > MAX_HEAD_DIM || d.rope_dim > d.head_dim || d.ctx == 0 {
            return bad(format!(
                "head_dim {}, rope_dim {}, ctx {}: need 0 < rope_dim ≤ head_dim ≤ {MAX_HEAD_DIM} \
                 and ctx ≥ 1",
                d.head_dim, d.rope_dim, d.ctx
            ));
        }
        let att = MAX_TOKENS as u64 * d.n_heads as u64 * d.ctx as u64;
        let cache = d.ctx as u64 * d.n_kv_heads as u64 * d.head_dim as u64;
        if att > u32::MAX as u64 || cache > u32::MAX as u64 {
            return bad(format!(
                "the attention scratch ({att}) or the KV cache ({cache} floats) exceeds u32 indexing"
            ));
        }
        Ok(())
    }

    /// Floats of the attention scratch `att` (16, n_heads, ctx).
    pub fn att_len(&self) -> usize {
        MAX_TOKENS as usize * self.n_heads as usize * self.ctx as usize
    }
}

/// An activation threshold applied where a linear layer's input is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Thresh {
    None,
    /// TEAL: |x_j| < t → 0.
    Abs(f32),
    /// WINA: |x_j|·scale_j < t → 0; needs the scales buffer (n,).
    Scaled(f32),
}

impl Thresh {
    /// The shaders' `THRESH` constant, the threshold word, and the pipeline name's variant.
    fn parts(self) -> (u32, f32, &'static str) {
        match self {
            Thresh::None => (0, 0.0, ""),
            Thresh::Abs(t) => (1, t, "_teal"),
            Thresh::Scaled(t) => (2, t, "_wina"),
        }
    }
}

fn f(v: f32) -> u32 {
    v.to_bits()
}

/// x (t, n) -> out (t, n) = x/√(mean(x²)+eps) ⊙ w (n,), then `thresh` (scales (n,) iff
/// Scaled; when absent, `w` is bound in their slot). last_only: only token st.t−1, written to
/// out row 0 (the final norm before the LM head). One workgroup of 256 per row.
#[allow(clippy::too_many_arguments)]
pub fn rmsnorm<B: Copy>(
    x: B,
    w: B,
    out: B,
    scales: Option<B>,
    n: u32,
    eps: f32,
    thresh: Thresh,
    last_only: bool,
) -> OpSpec<B> {
    let (mode, t, variant) = thresh.parts();
    OpSpec {
        pipeline: Pipeline::named(
            format!("rmsnorm_f32_256x1{variant}__wgsl"),
            NORM,
            vec![("THRESH", mode as f64)],
        ),
        params: vec![n, f(eps), f(t), last_only as u32],
        binds: vec![x, w, out, scales.unwrap_or(w)],
        groups: [1, 1, 1],
        per_token: if last_only { None } else { Some(0) },
    }
}

/// RoPE in GGUF's adjacent-pair order on q (t, n_heads·hd) in place and k (t, n_kv·hd) using
/// the table rope (ctx, rope_dim/2, 2) = [cos, sin] per position (see [`rope_table`]), then k
/// and v of token i into this layer's caches kc, vc (ctx, n_kv·hd) at row pos0 + i. Dims past
/// rope_dim pass through. One invocation per pair of dims.
pub fn rope_kv<B: Copy>(q: B, k: B, v: B, rope: B, kc: B, vc: B, d: &Dims) -> OpSpec<B> {
    let slots = (d.n_heads + 2 * d.n_kv_heads) * d.head_dim.div_ceil(2);
    OpSpec {
        pipeline: Pipeline::named("rope_f32_64x1__wgsl".into(), ROPE, vec![]),
        params: vec![d.n_heads, d.n_kv_heads, d.head_dim, d.rope_dim / 2, d.ctx],
        binds: vec![q, k, v, rope, kc, vc],
        groups: [slots.div_ceil(64), 1, 1],
        per_token: Some(1),
    }
}

/// The RoPE table (ctx, rope_dim/2, 2): per position the [cos, sin] of the angles
/// `pos · base^(−2i / rope_dim)`, computed in f64 and rounded as `llama.rs` does.
pub fn rope_table(ctx: usize, rope_dim: usize, base: f32) -> Vec<f32> {
    let half = rope_dim / 2;
    let inv: Vec<f64> = (0..half)
        .map(|i| (base as f64).powf(-2.0 * i as f64 / rope_dim as f64))
        .collect();
    let mut t = Vec::with_capacity(ctx * half * 2);
    for pos in 0..ctx {
        for &fr in &inv {
            let (s, c) = (pos as f64 * fr).sin_cos();
            t.push(c as f32);
            t.push(s as f32);
        }
    }
    t
}

/// Grouped-query attention of the call's t tokens (token i at position pos0+i attends to cache
/// rows 0..=pos0+i; query head h reads KV head h / (n_heads/n_kv)): q (t, n_heads·hd),
/// kc/vc (ctx, n_kv·hd), att scratch (16, n_heads, ctx) -> out (t, n_heads·hd). One workgroup
/// of 128 per (head, token); hd ≤ [`MAX_HEAD_DIM`] ([`Dims::check`]).
pub fn attention<B: Copy>(q: B, kc: B, vc: B, att: B, out: B, d: &Dims) -> OpSpec<B> {
    OpSpec {
        pipeline: Pipeline::named("attn_f32_128x1__wgsl".into(), ATTN, vec![]),
        params: vec![
            d.n_heads,
            d.n_kv_heads,
            d.head_dim,
            d.ctx,
            f(1.0 / (d.head_dim as f32).sqrt()),
        ],
        binds: vec![q, kc, vc, att, out],
        groups: [d.n_heads, 1, 1],
        per_token: Some(1),
    }
}

/// A threshold alone on x (t, n) in place (the attention output's site). `Thresh::None`
/// dispatches no workgroup; `Scaled` needs `scales` (n,) (without them it thresholds nothing).
pub fn threshold<B: Copy>(x: B, scales: Option<B>, n: u32, thresh: Thresh) -> OpSpec<B> {
    let groups = [n.div_ceil(256), 1, 1];
    match (thresh, scales) {
        (Thresh::Scaled(t), Some(s)) => OpSpec {
            pipeline: Pipeline::named(
                "thresh_f32_256x1_wina__wgsl".into(),
                SWIGLU,
                vec![("MODE", 1.0), ("THRESH", 2.0)],
            ),
            params: vec![n, 0, f(t), 0],
            binds: vec![x, s, s],
            groups,
            per_token: Some(1),
        },
        (thresh, _) => {
            let t = match thresh {
                Thresh::Abs(t) => t,
                _ => 0.0,
            };
            OpSpec {
                pipeline: Pipeline::named("thresh_f32_256x1_teal__wgsl".into(), THRESH, vec![]),
                params: vec![n, f(t)],
                binds: vec![x],
                groups: if matches!(thresh, Thresh::Abs(_)) {
                    groups
                } else {
                    [0, 1, 1]
                },
                per_token: Some(1),
            }
        }
    }
}

/// gate (t, ffn) <- silu(gate) ⊙ up (t, ffn), first dropping channels with
/// |silu(gate)| < gate_t (0 = off; the gate method), then `thresh` on the product (the W_down
/// input's site; scales (ffn,) iff Scaled, `up` bound in their slot otherwise).
pub fn swiglu<B: Copy>(
    gate: B,
    up: B,
    scales: Option<B>,
    ffn: u32,
    gate_t: f32,
    thresh: Thresh,
) -> OpSpec<B> {
    let (mode, t, variant) = thresh.parts();
    OpSpec {
        pipeline: Pipeline::named(
            format!("swiglu_f32_256x1{variant}__wgsl"),
            SWIGLU,
            vec![("MODE", 0.0), ("THRESH", mode as f64)],
        ),
        params: vec![ffn, f(gate_t), f(t), 0],
        binds: vec![gate, up, scales.unwrap_or(up)],
        groups: [ffn.div_ceil(256), 1, 1],
        per_token: Some(1),
    }
}

/// Largest candidates K allowed.
pub const TOPK_MAX: u32 = 64;
/// Logits per workgroup of the first top-k pass (llm_topk.wgsl's `C`).
const TOPK_CHUNK: u32 = 1024;
/// Words of a chunk's record in the partial buffer (llm_topk.wgsl's `REC`).
const TOPK_REC: u32 = 2 * TOPK_MAX + 2;
/// The id of an empty candidate slot (past the vocab).
pub const TOPK_NONE: u32 = u32::MAX;

/// logits (vocab,) -> out: the TOPK_MAX best candidates as (id u32, logit f32 bits) pairs
/// sorted by logit descending, ties lower id first (greedy, st.top_k = 1: only the first;
/// slots past the vocab: id [`TOPK_NONE`], logit −∞); then at word 2·TOPK_MAX the f32
/// Z = Σ over the whole vocab of exp((l − max)/st.temperature) (0 unless temperature > 0).
/// `partial` is scratch of `topk_partial_words(vocab)` words. Two dispatches.
pub fn topk<B: Copy>(logits: B, partial: B, out: B, vocab: u32) -> Vec<OpSpec<B>> {
    let chunks = vocab.div_ceil(TOPK_CHUNK).max(1);
    let pass = |p: u32, groups: u32, tile: u32| OpSpec {
        pipeline: Pipeline::named(
            format!("topk_f32_{tile}x1_pass{p}__wgsl"),
            TOPK,
            vec![("PASS", p as f64)],
        ),
        params: vec![vocab, chunks],
        binds: vec![logits, partial, out],
        groups: [groups, 1, 1],
        per_token: None,
    };
    vec![pass(0, chunks, TOPK_CHUNK), pass(1, 1, TOPK_MAX)]
}

/// Words of `topk`'s partial scratch.
pub fn topk_partial_words(vocab: u32) -> usize {
    (vocab.div_ceil(TOPK_CHUNK).max(1) * TOPK_REC) as usize
}

/// Words of `topk`'s output: 2·TOPK_MAX + 1.
pub fn topk_out_words() -> usize {
    2 * TOPK_MAX as usize + 1
}

/// The `State::top_k` to run `topk` with for a sampler: 1 when it is greedy (then only one
/// candidate is found, the cheap way), else its top_k when 1..=TOPK_MAX, else TOPK_MAX.
pub fn state_top_k(cfg: &SamplerConfig) -> u32 {
    if cfg.temperature == 0.0 || cfg.top_k == 1 {
        1
    } else if cfg.top_k >= 1 && cfg.top_k <= TOPK_MAX as usize {
        cfg.top_k as u32
    } else {
        TOPK_MAX
    }
}

/// CPU side of sampling on top of `topk`'s output `out` (its words, run with
/// [`state_top_k`]): returns the token, or None when the draw needs the whole distribution
/// (top_k = 0 or > TOPK_MAX, with the draw or the top-p nucleus falling outside the
/// candidates: the caller then reads all logits and calls [`Sampler::sample`], whose random
/// stream this left untouched). Consumes the random stream exactly as `Sampler::sample`
/// would (see [`Sampler::sample_top`]). Errors: `out` too short, a NaN candidate or Z.
pub fn sample_topk(s: &mut Sampler, out: &[u32], vocab: u32) -> Result<Option<u32>> {
    if out.len() < topk_out_words() || vocab == 0 {
        return Err(Error::BadArgument {
            what: "top-k readback".into(),
            detail: format!(
                "{} words for a vocab of {vocab}; expected {} and a vocab ≥ 1",
                out.len(),
                topk_out_words()
            ),
        });
    }
    let k = state_top_k(s.config()).min(vocab) as usize;
    let top: Vec<(u32, f32)> = (0..k)
        .map(|j| (out[2 * j], f32::from_bits(out[2 * j + 1])))
        .collect();
    let z = f32::from_bits(out[2 * TOPK_MAX as usize]) as f64;
    s.sample_top(&top, z, vocab as usize)
}
