//! The llama forward pass (SmolLM2, TinyLlama, Llama 2/3 layouts), one token at a time over a
//! KV cache, reading quantized weights in place (see [`super::weights`]).
//!
//! Per token at position `pos` (shapes for SmolLM2-135M: dim 576, 9 heads / 3 KV heads of 64,
//! FFN 1536, vocab 49152):
//!
//! ```text
//! x = token_embd[token]                                   (dim,)
//! for each layer:
//!   xb = rmsnorm(x) · attn_norm                           (dim,)
//!   q = Wq xb (n_heads, hd)   k = Wk xb, v = Wv xb (n_kv_heads, hd)  -> k, v into the cache
//!   q, k = rope(q, pos), rope(k, pos)
//!   per head h (KV head h / (n_heads / n_kv_heads)):
//!     att = softmax(q_h · K[0..=pos]ᵀ / √hd)              (pos + 1,)
//!     ao_h = att @ V[0..=pos]                             (hd,)
//!   x += Wo ao                                            (dim,)
//!   xb = rmsnorm(x) · ffn_norm
//!   x += W_down (silu(W_gate xb) ⊙ W_up xb)               (ffn,) -> (dim,)
//! logits = lm_head · (rmsnorm(x) · output_norm)           (vocab,)  lm_head = token_embd if tied
//! ```
//!
//! **RoPE convention.** llama.cpp's converter stores `attn_q`/`attn_k` with each head's rows
//! permuted from Hugging Face's "rotate half" order (dims `i` and `i + hd/2` form a pair) into
//! interleaved order (pairs `2i, 2i + 1`), and its llama architecture rotates adjacent pairs
//! ("normal" mode 0): `(x[2i], x[2i+1])` by angle `pos · base^(−2i / rope_dim)`, for
//! `i < rope_dim / 2` (dims beyond `rope_dim` pass through). That is what [`rope`] does on the
//! GGUF rows. tools/zoo/llm_forward_ref.py checks it independently: it un-permutes the GGUF's
//! Q/K rows back to Hugging Face order and applies rotate-half RoPE; SmolLM2's logits agree
//! to 3.4e-5 (tests/models/llama.rs), while rotate-half on the rows as stored is off by up to 6.4.
//! The tiny-model test does the same in Rust (an f64 forward with un-permuted rows).
//!
//! **Numerics.** Weights are decoded in registers and everything is f32 except RMSNorm's sum
//! of squares (f64, as ggml) and the RoPE angles (f64). Prefill runs the prompt in chunks of
//! tokens through GEMM kernels ([`super::prefill`]), whose additions come in another order
//! than the decode GEMVs': the two agree to f32 rounding, not bit for bit.
//!
//! **Threads.** Every linear layer and the LM head are split over output rows, attention over
//! heads, across the inference pool ([`crate::par`], cut by [`super::split`]): each output is
//! computed by one thread in the one-thread order, so logits are the same bits on any thread
//! count (tests/it/llm_threads.rs).
//!
//! **Context.** A [`Session`] holds the KV cache and every scratch buffer, sized once for `ctx`
//! positions: [`Llama::decode`] allocates nothing. Feeding more tokens than the session's
//! context has room for is refused up front, before any state changes, with
//! [`Error::DimOutOfRange`] (`tensor` "KV cache", `what` "context positions", `value` the
//! positions the call needs); start a new session (or [`Session::reset`]) with room for them.

use super::act::{ActMethod, ActSparsity, ActStats, SiteCosts};
use super::kv_cache::KvCache;
use super::prefill::{Chunk, PREFILL_CHUNK};
use super::split;
use super::weights::LlamaWeights;
use super::LlamaConfig;
use crate::error::{Error, Result};
use crate::import::gguf::Gguf;
use crate::par::{self, Disjoint};

/// A linear layer's input, as calibration observes it (see [`Tap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    /// rmsnorm(x)·attn_norm `(dim,)`: the input of Wq, Wk, Wv.
    AttnIn,
    /// The heads' attention output `(n_heads·hd,)`: the input of Wo.
    AttnOut,
    /// rmsnorm(x)·ffn_norm `(dim,)`: the input of W_gate, W_up.
    FfnIn,
    /// silu(W_gate xb) ⊙ W_up xb `(ffn,)`: the input of W_down.
    FfnMid,
}

impl Site {
    pub const ALL: [Site; 4] = [Site::AttnIn, Site::AttnOut, Site::FfnIn, Site::FfnMid];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Sees every linear layer's input vector as the forward pass runs (pruning calibration).
/// The forward pass is generic over it, so the plain path (a no-op tap) costs nothing.
pub trait Tap {
    fn see(&mut self, layer: usize, site: Site, x: &[f32]);

    /// silu(W_gate xb) `(ffn,)` of `layer`, before the product with W_up xb (what the gate
    /// method of activation sparsity thresholds); seen just before `FfnMid`.
    fn see_gate(&mut self, _layer: usize, _silu_gate: &[f32]) {}
}

/// The tap of plain inference: sees nothing.
struct NoTap;

impl Tap for NoTap {
    #[inline(always)]
    fn see(&mut self, _: usize, _: Site, _: &[f32]) {}
}

/// A llama model: hyper-parameters and weights. Immutable; any number of [`Session`]s run on it.
#[derive(Debug)]
pub struct Llama {
    pub cfg: LlamaConfig,
    pub weights: LlamaWeights,
    /// (rope_dim / 2,): base^(−2i / rope_dim)
    inv_freq: Vec<f64>,
    /// Activation sparsity of decode (from the file, or set with [`Llama::set_act`]).
    act: Option<ActSparsity>,
    /// Apply the thresholds in prefill too (perplexity runs, which must score what decode
    /// computes); off by default: a prompt's tokens rarely share zeros.
    act_prefill: bool,
    /// What one zero input stands for at each site, for [`ActStats`].
    costs: SiteCosts,
}

/// One conversation's state: the KV cache, the position, and every scratch buffer of the
/// forward pass (allocated once, for `ctx` positions).
#[derive(Debug, Clone)]
pub struct Session {
    kv: KvCache,
    /// Tokens in the cache (the next token's position).
    pos: usize,
    /// (dim,) residual stream
    x: Vec<f32>,
    /// (dim,) normed input of a sublayer, then its output
    xb: Vec<f32>,
    /// (n_heads · head_dim,) queries of the current token
    q: Vec<f32>,
    /// (n_heads, ctx) each head's attention scores, then probabilities, over positions
    /// 0..=pos (a row per head: heads run on the pool's threads)
    att: Vec<f32>,
    /// (n_heads · head_dim,) attention output, heads concatenated
    ao: Vec<f32>,
    /// (ffn_dim,) gate projection, then silu(gate) ⊙ up
    gate: Vec<f32>,
    /// (ffn_dim,) up projection
    up: Vec<f32>,
    /// (rope_dim / 2,) cos and sin of the current position's angles
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// (vocab,) logits of the last token run with logits on
    logits: Vec<f32>,
    /// Scratch of batched prefill (see [`super::prefill`])
    chunk: Chunk,
    /// Activation sparsity met by the last token, and since the session began.
    act_last: ActStats,
    act_total: ActStats,
}

impl Session {
    /// Tokens in the cache so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Positions the session holds.
    pub fn ctx(&self) -> usize {
        self.kv.ctx()
    }

    /// Positions still free.
    pub fn remaining(&self) -> usize {
        self.kv.ctx() - self.pos
    }

    /// The KV cache, the attention scratch and the prefill scratch, borrowed apart.
    pub(super) fn chunk_parts(&mut self) -> (&mut KvCache, &mut [f32], &mut Chunk) {
        (&mut self.kv, &mut self.att, &mut self.chunk)
    }

    /// Moves the position past `t` tokens just written to the cache.
    pub(super) fn advance(&mut self, t: usize) {
        self.pos += t;
    }

    /// Forgets every token (keeps the buffers).
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Drops the cached tokens from position `pos` on (e.g. to regenerate an answer); a `pos`
    /// beyond the current one is refused.
    pub fn truncate(&mut self, pos: usize) -> Result<()> {
        if pos > self.pos {
            return Err(Error::DimOutOfRange {
                tensor: "KV cache".into(),
                what: "truncate position".into(),
                value: pos as u64,
                limit: format!("at most the {} tokens cached", self.pos),
            });
        }
        self.pos = pos;
        Ok(())
    }

    /// The logits of the last token run (zeros before any).
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Activation sparsity of the last decoded token (zeros when the model has none).
    pub fn act_last(&self) -> ActStats {
        self.act_last
    }

    /// Activation sparsity summed over every token run with thresholds since the session
    /// began (or [`Session::clear_act_stats`]).
    pub fn act_total(&self) -> ActStats {
        self.act_total
    }

    pub fn clear_act_stats(&mut self) {
        self.act_last = ActStats::default();
        self.act_total = ActStats::default();
    }

    /// Counts `zeros` inputs at `site` of layer `l` into the current token's statistics.
    pub(super) fn count_act(&mut self, costs: &SiteCosts, l: usize, site: Site, zeros: usize) {
        let i = site.index();
        self.act_last.zero_macs += zeros as u64 * costs.all[l][i];
        self.act_last.skipped_macs += zeros as u64 * costs.skip[l][i];
    }

    /// Starts the statistics of `tokens` new tokens.
    pub(super) fn begin_act(&mut self, costs: &SiteCosts, tokens: usize) {
        self.act_last = ActStats {
            tokens: tokens as u64,
            macs: costs.macs_per_token * tokens as u64,
            ..ActStats::default()
        };
    }

    /// Adds the current token's statistics to the session's.
    pub(super) fn end_act(&mut self) {
        let last = self.act_last;
        self.act_total.add(&last);
    }

    /// Bytes of the KV cache and the scratch buffers.
    pub fn bytes(&self) -> usize {
        self.kv.bytes()
            + 4 * (self.x.len()
                + self.xb.len()
                + self.q.len()
                + self.att.len()
                + self.ao.len()
                + self.gate.len()
                + self.up.len()
                + self.cos.len()
                + self.sin.len()
                + self.logits.len())
            + self.chunk.bytes()
    }
}

/// `{"gemv": {"q4_1": "linear_q4_1_r4t1__relaxed", …}, "matrices": N}` (`Llama::kernel_report`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelReport {
    /// Storage type → GEMV kernel name.
    pub gemv: std::collections::BTreeMap<String, &'static str>,
    pub matrices: usize,
}

impl Llama {
    /// Parses a llama GGUF and keeps its bytes as the weights (no copy).
    pub fn load(file_name: &str, bytes: Vec<u8>) -> Result<Llama> {
        Ok(Llama::load_with(file_name, bytes, |_| Ok(()))?.0)
    }

    /// [`Llama::load`], also handing the parsed file to `extra` (e.g.
    /// `Tokenizer::from_gguf`), so the header is parsed once.
    pub fn load_with<T>(
        file_name: &str,
        bytes: Vec<u8>,
        extra: impl FnOnce(&Gguf) -> Result<T>,
    ) -> Result<(Llama, T)> {
        let mut bytes = bytes;
        if crate::zsk::llm::is_llm_zsk(&bytes) {
            // A sparse .zsk: a header, then a GGUF that the weights index from its start.
            let start = crate::zsk::llm::payload_start(file_name, &bytes)?;
            bytes.drain(..start);
        }
        let (cfg, weights, act, t) = {
            let g = Gguf::parse(file_name, &bytes)?;
            let cfg = LlamaConfig::from_gguf(&g)?;
            let weights = LlamaWeights::locate(&cfg, &g)?;
            let act = ActSparsity::from_gguf(&g, &cfg)?;
            (cfg, weights, act, extra(&g)?)
        };
        let mut m = Llama::new(cfg, weights.with_file(bytes)?)?;
        m.set_act(act)?;
        Ok((m, t))
    }

    /// The GEMV kernel each weight type of the model runs on, and how many matrices there are
    /// (`TextGenerator.kernels()`).
    pub fn kernel_report(&self) -> KernelReport {
        let mut all = self.weights.kernels();
        let matrices = all.len();
        // Sorted, so that a type with two kernels reports the last name, as it always has.
        all.sort();
        KernelReport {
            gemv: all.into_iter().collect(),
            matrices,
        }
    }

    /// The activation sparsity decode applies (`None`: dense inputs).
    pub fn act(&self) -> Option<&ActSparsity> {
        self.act.as_ref()
    }

    /// Replaces the activation thresholds (`None` turns activation sparsity off). Refused if
    /// they do not have one entry per layer or hold a negative or non-finite value.
    pub fn set_act(&mut self, act: Option<ActSparsity>) -> Result<()> {
        if let Some(a) = &act {
            let lens = super::act::site_lens(&self.cfg);
            let bad = a.thresholds.len() != self.cfg.n_layers
                || a.thresholds
                    .iter()
                    .flatten()
                    .any(|t| !(t.is_finite() && *t >= 0.0))
                || (a.method == ActMethod::Wina
                    && (a.scales.len() != 4 * self.cfg.n_layers
                        || a.scales
                            .iter()
                            .enumerate()
                            .any(|(i, v)| v.len() != lens[i % 4])));
            if bad {
                return Err(Error::BadArgument {
                    what: "activation thresholds".into(),
                    detail: format!(
                        "need {} layers of finite thresholds ≥ 0 (and WINA's channel weights), got \
                     {} layers",
                        self.cfg.n_layers,
                        a.thresholds.len()
                    ),
                });
            }
        }
        self.costs = site_costs(&self.weights, act.as_ref().map(|a| a.method));
        self.act = act;
        Ok(())
    }

    /// Whether prefill applies the thresholds too (see the field).
    pub fn set_act_prefill(&mut self, on: bool) {
        self.act_prefill = on;
    }

    /// The thresholds prefill applies: the model's when [`Llama::set_act_prefill`] is on.
    pub(super) fn act_for_prefill(&self) -> Option<&ActSparsity> {
        self.act.as_ref().filter(|_| self.act_prefill)
    }

    pub(super) fn costs(&self) -> &SiteCosts {
        &self.costs
    }

    fn new(cfg: LlamaConfig, weights: LlamaWeights) -> Result<Llama> {
        if cfg.rope_freq_base.is_nan() || cfg.rope_freq_base <= 0.0 {
            return Err(Error::BadArgument {
                what: "llama.rope.freq_base".into(),
                detail: format!("{} is not a positive number", cfg.rope_freq_base),
            });
        }
        let half = cfg.rope_dim / 2;
        let base = cfg.rope_freq_base as f64;
        let inv_freq = (0..half)
            .map(|i| base.powf(-2.0 * i as f64 / cfg.rope_dim as f64))
            .collect();
        let costs = site_costs(&weights, None);
        Ok(Llama {
            cfg,
            weights,
            inv_freq,
            act: None,
            act_prefill: false,
            costs,
        })
    }

    /// (rope_dim / 2,): the RoPE inverse frequencies.
    pub(super) fn inv_freq(&self) -> &[f64] {
        &self.inv_freq
    }

    /// A fresh session with room for `ctx` tokens (at most the model's trained context).
    /// Allocates the KV cache (see [`KvCache`] for its size) and the scratch buffers.
    pub fn session(&self, ctx: usize) -> Result<Session> {
        let c = &self.cfg;
        if ctx == 0 || ctx > c.context_length {
            return Err(Error::DimOutOfRange {
                tensor: "KV cache".into(),
                what: "context length".into(),
                value: ctx as u64,
                limit: format!("1 to the model's {} tokens", c.context_length),
            });
        }
        let hd = c.head_dim();
        Ok(Session {
            kv: KvCache::new(c.n_layers, ctx, c.n_kv_heads, hd)?,
            pos: 0,
            x: vec![0.0; c.dim],
            xb: vec![0.0; c.dim],
            q: vec![0.0; c.n_heads * hd],
            att: vec![0.0; c.n_heads * ctx],
            ao: vec![0.0; c.n_heads * hd],
            gate: vec![0.0; c.ffn_dim],
            up: vec![0.0; c.ffn_dim],
            cos: vec![0.0; c.rope_dim / 2],
            sin: vec![0.0; c.rope_dim / 2],
            logits: vec![0.0; c.vocab_size],
            chunk: Chunk::new(c),
            act_last: ActStats::default(),
            act_total: ActStats::default(),
        })
    }

    /// Runs the prompt `tokens` (appended after what the session holds) and returns the logits
    /// after its last token. Errors, before changing anything, if `tokens` is empty, holds an id
    /// outside the vocabulary, or does not fit the session's remaining context.
    pub fn prefill<'s>(&self, s: &'s mut Session, tokens: &[u32]) -> Result<&'s [f32]> {
        if tokens.is_empty() {
            return Err(Error::BadArgument {
                what: "prefill".into(),
                detail: "no tokens to run".into(),
            });
        }
        self.check(s, tokens)?;
        let n_chunks = tokens.len().div_ceil(PREFILL_CHUNK);
        for (ci, chunk) in tokens.chunks(PREFILL_CHUNK).enumerate() {
            let from = if ci + 1 == n_chunks {
                chunk.len() - 1
            } else {
                chunk.len()
            };
            self.forward_chunk(s, chunk, from)?;
        }
        let v = self.cfg.vocab_size;
        s.logits.copy_from_slice(s.chunk.logits_row(0, v));
        Ok(&s.logits)
    }

    /// Runs `tokens` like [`Llama::prefill`] (no logits), showing `tap` every linear layer's
    /// input: what pruning calibrates on.
    pub fn prefill_tapped(
        &self,
        s: &mut Session,
        tokens: &[u32],
        tap: &mut impl Tap,
    ) -> Result<()> {
        self.check(s, tokens)?;
        for &t in tokens {
            self.forward(s, t, false, tap)?;
        }
        Ok(())
    }

    /// Runs `tokens` like [`Llama::prefill`], and hands the logits after each token from index
    /// `from` on to `each(i, logits)` (`i` indexes `tokens`); tokens before `from` skip the
    /// vocab-sized projection. The logits equal running the tokens one by one with
    /// [`Llama::decode`] up to f32 summation order (prefill runs GEMMs over chunks of
    /// [`PREFILL_CHUNK`] tokens). Allocates nothing. Errors as `prefill`, before changing
    /// anything; an error from `each` stops the run (the session then holds the chunks run so
    /// far).
    pub fn prefill_each(
        &self,
        s: &mut Session,
        tokens: &[u32],
        from: usize,
        mut each: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::BadArgument {
                what: "prefill".into(),
                detail: "no tokens to run".into(),
            });
        }
        self.check(s, tokens)?;
        let v = self.cfg.vocab_size;
        for (ci, chunk) in tokens.chunks(PREFILL_CHUNK).enumerate() {
            let base = ci * PREFILL_CHUNK;
            let local = from.saturating_sub(base).min(chunk.len());
            self.forward_chunk(s, chunk, local)?;
            for i in local..chunk.len() {
                each(base + i, s.chunk.logits_row(i - local, v))?;
            }
            if local < chunk.len() {
                let last = s.chunk.logits_row(chunk.len() - 1 - local, v);
                s.logits.copy_from_slice(last);
            }
        }
        Ok(())
    }

    /// Runs one token and returns its logits `(vocab,)`. Allocates nothing.
    pub fn decode<'s>(&self, s: &'s mut Session, token: u32) -> Result<&'s [f32]> {
        self.check(s, std::slice::from_ref(&token))?;
        self.forward(s, token, true, &mut NoTap)?;
        Ok(&s.logits)
    }

    fn check(&self, s: &Session, tokens: &[u32]) -> Result<()> {
        let c = &self.cfg;
        if s.kv.layers() != c.n_layers
            || s.kv.slot() != c.n_kv_heads * c.head_dim()
            || s.x.len() != c.dim
            || s.gate.len() != c.ffn_dim
            || s.logits.len() != c.vocab_size
        {
            return Err(Error::BadArgument {
                what: "session".into(),
                detail: "was made by a model of another shape".into(),
            });
        }
        check_feed(c.vocab_size, s.pos, s.kv.ctx(), tokens)
    }

    /// One token at position `s.pos`; logits only if `logits` (a prompt's inner tokens skip
    /// the vocab-sized projection). With activation thresholds, each linear input loses its
    /// small entries first (see [`super::act`]).
    fn forward(&self, s: &mut Session, token: u32, logits: bool, tap: &mut impl Tap) -> Result<()> {
        let c = &self.cfg;
        let w = &self.weights;
        let file = w.file();
        let hd = c.head_dim();
        let pos = s.pos;
        let act = self.act.as_ref();
        let costs = &self.costs;
        // the threshold of a site, 0 when off
        // the gate method's channel threshold per layer is read where the FFN runs
        let gate = act.filter(|a| a.method == ActMethod::Gate);
        if act.is_some() {
            s.begin_act(costs, 1);
        }

        w.row_into(&w.token_embd, token as usize, &mut s.x)?;
        for (i, &f) in self.inv_freq.iter().enumerate() {
            let (sn, cs) = (pos as f64 * f).sin_cos();
            s.cos[i] = cs as f32;
            s.sin[i] = sn as f32;
        }

        for (l, lw) in w.layers.iter().enumerate() {
            // ---- attention
            rmsnorm(&mut s.xb, &s.x, &lw.attn_norm, c.rms_eps);
            tap.see(l, Site::AttnIn, &s.xb);
            if let Some(a) = act {
                let z = a.sparsify(l, Site::AttnIn, &mut s.xb);
                s.count_act(costs, l, Site::AttnIn, z);
            }
            lw.wq.gemv(file, &s.xb, &mut s.q)?;
            {
                let (k, v) = s.kv.slot_mut(l, pos);
                lw.wk.gemv(file, &s.xb, k)?;
                lw.wv.gemv(file, &s.xb, v)?;
                rope(k, hd, &s.cos, &s.sin);
            }
            rope(&mut s.q, hd, &s.cos, &s.sin);
            attend(c, &s.kv, l, pos, 1, &s.q, &mut s.att, &mut s.ao);
            tap.see(l, Site::AttnOut, &s.ao);
            if let Some(a) = act {
                let z = a.sparsify(l, Site::AttnOut, &mut s.ao);
                s.count_act(costs, l, Site::AttnOut, z);
            }
            lw.wo.gemv(file, &s.ao, &mut s.xb)?;
            for (x, &d) in s.x.iter_mut().zip(&s.xb) {
                *x += d;
            }

            // ---- feed-forward (SwiGLU)
            rmsnorm(&mut s.xb, &s.x, &lw.ffn_norm, c.rms_eps);
            tap.see(l, Site::FfnIn, &s.xb);
            if let Some(a) = act {
                let z = a.sparsify(l, Site::FfnIn, &mut s.xb);
                s.count_act(costs, l, Site::FfnIn, z);
            }
            lw.w_gate.gemv(file, &s.xb, &mut s.gate)?;
            for g in s.gate.iter_mut() {
                *g = silu(*g);
            }
            tap.see_gate(l, &s.gate);
            let t_gate = gate.map_or(0.0, |a| a.threshold(l, Site::FfnMid));
            if t_gate > 0.0 {
                // CATS: channels with a small silu(gate) are dropped; W_up runs only on the
                // rows of the kept ones, in runs of consecutive rows. Split over W_up's row
                // blocks like a plain GEMV: each task scans the channels of its rows.
                let (xb, w_up) = (&s.xb, &lw.w_up);
                let gate = Disjoint::new(&mut s.gate);
                w_up.gemv_split(xb)?.run(&mut s.up, &|rows, up| {
                    // Safety: a task reads and writes the gate channels of its rows only.
                    let gate = unsafe { gate.get() };
                    let mut r = rows.start;
                    while r < rows.end {
                        if gate[r].abs() < t_gate {
                            gate[r] = 0.0;
                            r += 1;
                            continue;
                        }
                        let start = r;
                        while r < rows.end && gate[r].abs() >= t_gate {
                            r += 1;
                        }
                        w_up.gemv_rows(file, xb, up, start..r)?;
                    }
                    Ok(())
                })?;
            } else {
                lw.w_up.gemv(file, &s.xb, &mut s.up)?;
            }
            for (g, &u) in s.gate.iter_mut().zip(&s.up) {
                *g *= u;
            }
            tap.see(l, Site::FfnMid, &s.gate);
            if let Some(a) = act {
                let z = a.sparsify(l, Site::FfnMid, &mut s.gate);
                s.count_act(costs, l, Site::FfnMid, z);
            }
            lw.w_down.gemv(file, &s.gate, &mut s.xb)?;
            for (x, &d) in s.x.iter_mut().zip(&s.xb) {
                *x += d;
            }
        }

        if logits {
            rmsnorm(&mut s.xb, &s.x, &w.output_norm, c.rms_eps);
            w.lm_head(&s.xb, 1, &mut s.logits)?;
        }
        if act.is_some() {
            s.end_act();
        }
        s.pos += 1;
        Ok(())
    }
}

/// Refuses, before anything changes, `tokens` holding an id outside a vocabulary of `vocab`, or
/// more tokens than a context of `ctx` positions with `pos` cached has room for: the check of
/// every forward pass, on the CPU or the GPU.
pub(crate) fn check_feed(vocab: usize, pos: usize, ctx: usize, tokens: &[u32]) -> Result<()> {
    if let Some(&t) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::DimOutOfRange {
            tensor: "prompt".into(),
            what: "token id".into(),
            value: t as u64,
            limit: format!("below the vocabulary size {vocab}"),
        });
    }
    let need = pos + tokens.len();
    if need > ctx {
        return Err(Error::DimOutOfRange {
            tensor: "KV cache".into(),
            what: "context positions".into(),
            value: need as u64,
            limit: format!(
                "the session's context of {ctx} tokens ({pos} cached, {} new); start a new \
                 session with a larger context",
                tokens.len()
            ),
        });
    }
    Ok(())
}

/// Per layer and site, the multiply-adds one zero input stands for and those a kernel skips,
/// under `method` (see [`SiteCosts`]).
fn site_costs(w: &LlamaWeights, method: Option<ActMethod>) -> SiteCosts {
    let mut c = SiteCosts::default();
    for lw in &w.layers {
        let one = |ms: &[&super::weights::Linear]| -> (u64, u64) {
            let all = ms.iter().map(|m| m.rows() as u64).sum();
            let skip = ms
                .iter()
                .filter(|m| m.skips_zero_inputs())
                .map(|m| m.rows() as u64)
                .sum();
            (all, skip)
        };
        let a = one(&[&lw.wq, &lw.wk, &lw.wv]);
        let o = one(&[&lw.wo]);
        let f = one(&[&lw.w_gate, &lw.w_up]);
        let mut d = one(&[&lw.w_down]);
        if method == Some(ActMethod::Gate) {
            // a dropped channel also skips its row of W_up
            d.0 += lw.w_up.cols() as u64;
            d.1 += lw.w_up.cols() as u64;
        }
        c.all.push([a.0, o.0, f.0, d.0]);
        c.skip.push([a.1, o.1, f.1, d.1]);
    }
    c.macs_per_token = w.linears().map(|m| (m.rows() * m.cols()) as u64).sum();
    c
}

/// Grouped-query attention of `t` consecutive tokens in layer `l`, token i at position
/// `pos0 + i` (its own K/V already in the cache): `q (t, n_heads·hd)` against the cached keys
/// and values of positions `0..=pos0 + i` -> `out (t, n_heads·hd)`. `att (n_heads, ctx)` is
/// scratch, one row per head, so the heads can run on any thread.
///
/// Split over heads across the pool: a task computes every token of its heads, each head's
/// scores, softmax and weighted sum exactly as on one thread.
#[allow(clippy::too_many_arguments)]
pub(super) fn attend(
    c: &LlamaConfig,
    kv: &KvCache,
    l: usize,
    pos0: usize,
    t: usize,
    q: &[f32],
    att: &mut [f32],
    out: &mut [f32],
) {
    let (hd, n_heads) = (c.head_dim(), c.n_heads);
    let q_dim = n_heads * hd;
    let ctx = kv.ctx();
    debug_assert!(att.len() >= n_heads * ctx && pos0 + t <= ctx);
    // per token and head: (pos + 1)·hd multiply-adds for the scores, as many for the sum
    let macs = (0..t).map(|i| 2 * n_heads * (pos0 + i + 1) * hd).sum();
    let tasks = split::tasks_for(macs).min(n_heads);
    let att = Disjoint::new(att);
    let out = Disjoint::new(out);
    par::for_tasks(tasks, &|j| {
        // Safety: task j reads and writes the `att` rows of its heads h and the entries
        // `out[i·q_dim + h·hd ..][..hd]` of those heads only.
        let (att, out) = unsafe { (att.get(), out.get()) };
        for i in 0..t {
            for h in par::part(j, tasks, n_heads, 1) {
                attend_head(
                    c,
                    kv,
                    l,
                    pos0 + i,
                    h,
                    &q[i * q_dim + h * hd..][..hd],
                    &mut att[h * ctx..][..pos0 + i + 1],
                    &mut out[i * q_dim + h * hd..][..hd],
                );
            }
        }
    });
}

/// Head `h` of one token at `pos`: `qh (hd,)` against the cached keys of its KV head ->
/// `att (pos + 1,)` probabilities -> `out (hd,)` = att @ V.
#[allow(clippy::too_many_arguments)]
fn attend_head(
    c: &LlamaConfig,
    kv: &KvCache,
    l: usize,
    pos: usize,
    h: usize,
    qh: &[f32],
    att: &mut [f32],
    out: &mut [f32],
) {
    let hd = c.head_dim();
    let scale = 1.0 / (hd as f32).sqrt();
    let slot = kv.slot();
    let (keys, vals) = kv.layer(l, pos + 1);
    let kvh = kv_head(h, c.n_heads, c.n_kv_heads);
    for (t, a) in att.iter_mut().enumerate() {
        let kt = &keys[t * slot + kvh * hd..][..hd];
        *a = dot(qh, kt) * scale;
    }
    softmax(att);
    out.fill(0.0);
    for (t, &a) in att.iter().enumerate() {
        let vt = &vals[t * slot + kvh * hd..][..hd];
        for (o, &v) in out.iter_mut().zip(vt) {
            *o += a * v;
        }
    }
}

/// `a · b` in a fixed order on every target (8 partial sums, so it vectorizes).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // 8 independent partial sums (vectorizable; a fixed order on every target)
    let mut acc = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// `out (n,) = x / √(mean(x²) + eps) ⊙ w` (sum of squares in f64, as ggml does).
pub fn rmsnorm(out: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
    let ss: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    let inv = 1.0 / ((ss / x.len() as f64) as f32 + eps).sqrt();
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * inv * g;
    }
}

/// In-place softmax over `x`.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

#[inline]
pub(super) fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// RoPE in GGUF (interleaved-pair) order on `v`, heads of `head_dim` back to back: in each
/// head, pair `(2i, 2i+1)` for `i < cos.len()` is rotated by the angle whose cosine and sine
/// are `cos[i]`, `sin[i]` (`pos · base^(−2i / rope_dim)`); dims past `2 · cos.len()` are
/// left as they are.
pub fn rope(v: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    for head in v.chunks_exact_mut(head_dim) {
        for (i, (&c, &s)) in cos.iter().zip(sin).enumerate() {
            let (a, b) = (head[2 * i], head[2 * i + 1]);
            head[2 * i] = a * c - b * s;
            head[2 * i + 1] = a * s + b * c;
        }
    }
}

/// The cosines and sines [`rope`] takes for position `pos`: `rope_dim / 2` angles
/// `pos · base^(−2i / rope_dim)`.
pub fn rope_angles(pos: usize, base: f32, rope_dim: usize) -> (Vec<f32>, Vec<f32>) {
    (0..rope_dim / 2)
        .map(|i| {
            let f = (base as f64).powf(-2.0 * i as f64 / rope_dim as f64);
            let (s, c) = (pos as f64 * f).sin_cos();
            (c as f32, s as f32)
        })
        .unzip()
}

/// The KV head query head `h` reads under grouped-query attention: consecutive query heads
/// share one (`h / (n_heads / n_kv_heads)`), as llama.cpp and Hugging Face's `repeat_kv` do.
pub fn kv_head(h: usize, n_heads: usize, n_kv_heads: usize) -> usize {
    h / (n_heads / n_kv_heads)
}
