//! Batched prefill: a prompt runs [`PREFILL_CHUNK`] tokens at a time, so every linear layer is
//! one GEMM `Y (t, d) = X (t, n) @ Wᵀ` per chunk and each weight is decoded once per tile of
//! tokens instead of once per token (decode is bound by exactly that decoding). Attention stays
//! per token (token i of the chunk attends to positions `0..=pos + i`, its own K/V written to
//! the cache first), as do RMSNorm and RoPE. Each GEMM is split over output rows and the
//! chunk's attention over heads across the inference pool ([`super::split`]).
//!
//! Per chunk of `t` tokens at positions `pos..pos + t` (buffers of [`Chunk`]):
//!
//! ```text
//! X (t, dim) = token_embd[tokens]
//! for each layer:
//!   XB = rmsnorm rows · attn_norm                         (t, dim)
//!   Q = XB Wqᵀ (t, q_dim)   K = XB Wkᵀ, V = XB Wvᵀ (t, kv_dim)  -> rope rows, K/V into the cache
//!   AO[i] = attention(Q[i], cache[0..=pos + i])           (t, q_dim)
//!   X += AO Woᵀ
//!   XB = rmsnorm rows · ffn_norm
//!   X += (silu(XB W_gateᵀ) ⊙ XB W_upᵀ) W_downᵀ            (t, ffn) -> (t, dim)
//! logits rows wanted: rmsnorm · output_norm, then lm_head (GEMM over those rows)
//! ```
//!
//! The GEMM kernels add in another order than the GEMV ones, so prefill logits equal decode
//! logits up to f32 rounding (tests bound the difference), not bit for bit.

use super::act::ActMethod;
use super::llama::{attend, rmsnorm, rope, silu, Llama, Session, Site};
use crate::error::Result;

/// Tokens a prefill pass runs together (a multiple of the GEMM kernels' 4-token tile).
pub const PREFILL_CHUNK: usize = 16;

/// Scratch of a prefill pass, `C = PREFILL_CHUNK` rows each, allocated with the session.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// (C, dim) residual streams
    x: Vec<f32>,
    /// (C, dim) normed inputs, then sublayer outputs
    xb: Vec<f32>,
    /// (C, q_dim) queries
    q: Vec<f32>,
    /// (C, kv_dim) keys and values before they enter the cache
    k: Vec<f32>,
    v: Vec<f32>,
    /// (C, q_dim) attention outputs
    ao: Vec<f32>,
    /// (C, ffn) gate, then silu(gate) ⊙ up; and up
    gate: Vec<f32>,
    up: Vec<f32>,
    /// (C, half) cos/sin of each row's RoPE angles
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// (C, vocab) logits of the rows asked for
    logits: Vec<f32>,
    /// (n_layers,) zeros per site of the chunk's sparsified inputs (activation sparsity)
    act_zeros: Vec<[usize; 4]>,
}

impl Chunk {
    pub fn new(cfg: &super::LlamaConfig) -> Chunk {
        let c = PREFILL_CHUNK;
        let (q_dim, kv_dim) = (
            cfg.n_heads * cfg.head_dim(),
            cfg.n_kv_heads * cfg.head_dim(),
        );
        let half = cfg.rope_dim / 2;
        Chunk {
            x: vec![0.0; c * cfg.dim],
            xb: vec![0.0; c * cfg.dim],
            q: vec![0.0; c * q_dim],
            k: vec![0.0; c * kv_dim],
            v: vec![0.0; c * kv_dim],
            ao: vec![0.0; c * q_dim],
            gate: vec![0.0; c * cfg.ffn_dim],
            up: vec![0.0; c * cfg.ffn_dim],
            cos: vec![0.0; c * half],
            sin: vec![0.0; c * half],
            logits: vec![0.0; c * cfg.vocab_size],
            act_zeros: vec![[0; 4]; cfg.n_layers],
        }
    }

    pub fn bytes(&self) -> usize {
        4 * [
            &self.x,
            &self.xb,
            &self.q,
            &self.k,
            &self.v,
            &self.ao,
            &self.gate,
            &self.up,
            &self.cos,
            &self.sin,
            &self.logits,
        ]
        .iter()
        .map(|v| v.len())
        .sum::<usize>()
    }

    /// Logits of chunk row `from + i` of the last [`Llama::forward_chunk`] (`vocab` floats).
    pub fn logits_row(&self, i: usize, vocab: usize) -> &[f32] {
        &self.logits[i * vocab..(i + 1) * vocab]
    }
}

impl Llama {
    /// Runs `tokens` (at most [`PREFILL_CHUNK`], already checked against the session) at
    /// positions `s.pos..`; computes logits for rows `from..` into the chunk's logits (none if
    /// `from ≥ tokens.len()`). Allocates nothing.
    pub(super) fn forward_chunk(&self, s: &mut Session, tokens: &[u32], from: usize) -> Result<()> {
        let c = &self.cfg;
        let w = &self.weights;
        let file = w.file();
        let t = tokens.len();
        debug_assert!((1..=PREFILL_CHUNK).contains(&t));
        let (dim, hd, ffn) = (c.dim, c.head_dim(), c.ffn_dim);
        let (q_dim, kv_dim, half) = (c.n_heads * hd, c.n_kv_heads * hd, c.rope_dim / 2);
        let pos0 = s.pos();
        // Activation thresholds, when prefill applies them (perplexity runs): every row of a
        // linear input is sparsified as decode would, counted into the session's statistics.
        let act = self.act_for_prefill();
        let costs = self.costs();
        if act.is_some() {
            s.begin_act(costs, t);
        }
        let (kv, att, ch) = s.chunk_parts();
        ch.act_zeros.iter_mut().for_each(|z| *z = [0; 4]);
        let mut count = |l: usize, site: Site, x: &mut [f32], n: usize| {
            if let Some(a) = act {
                let z: usize = x
                    .chunks_exact_mut(n)
                    .map(|row| a.sparsify(l, site, row))
                    .sum();
                ch.act_zeros[l][site.index()] += z;
            }
        };

        for (i, &tok) in tokens.iter().enumerate() {
            // the angles in f64, as the one-token path computes them
            w.row_into(
                &w.token_embd,
                tok as usize,
                &mut ch.x[i * dim..(i + 1) * dim],
            )?;
            let pos = (pos0 + i) as f64;
            for (j, &f) in self.inv_freq().iter().enumerate() {
                let (sn, cs) = (pos * f).sin_cos();
                ch.cos[i * half + j] = cs as f32;
                ch.sin[i * half + j] = sn as f32;
            }
        }

        for (l, lw) in w.layers.iter().enumerate() {
            // ---- attention
            for i in 0..t {
                let r = i * dim..(i + 1) * dim;
                rmsnorm(&mut ch.xb[r.clone()], &ch.x[r], &lw.attn_norm, c.rms_eps);
            }
            count(l, Site::AttnIn, &mut ch.xb[..t * dim], dim);
            let xb = &ch.xb[..t * dim];
            lw.wq.gemm(file, xb, t, &mut ch.q[..t * q_dim])?;
            lw.wk.gemm(file, xb, t, &mut ch.k[..t * kv_dim])?;
            lw.wv.gemm(file, xb, t, &mut ch.v[..t * kv_dim])?;
            for i in 0..t {
                let (cs, sn) = (&ch.cos[i * half..][..half], &ch.sin[i * half..][..half]);
                rope(&mut ch.q[i * q_dim..(i + 1) * q_dim], hd, cs, sn);
                let k = &mut ch.k[i * kv_dim..(i + 1) * kv_dim];
                rope(k, hd, cs, sn);
                let (kc, vc) = kv.slot_mut(l, pos0 + i);
                kc.copy_from_slice(k);
                vc.copy_from_slice(&ch.v[i * kv_dim..(i + 1) * kv_dim]);
            }
            // every token of the chunk at once, split over heads
            attend(
                c,
                kv,
                l,
                pos0,
                t,
                &ch.q[..t * q_dim],
                att,
                &mut ch.ao[..t * q_dim],
            );
            count(l, Site::AttnOut, &mut ch.ao[..t * q_dim], q_dim);
            lw.wo
                .gemm(file, &ch.ao[..t * q_dim], t, &mut ch.xb[..t * dim])?;
            add(&mut ch.x[..t * dim], &ch.xb[..t * dim]);

            // ---- feed-forward (SwiGLU)
            for i in 0..t {
                let r = i * dim..(i + 1) * dim;
                rmsnorm(&mut ch.xb[r.clone()], &ch.x[r], &lw.ffn_norm, c.rms_eps);
            }
            count(l, Site::FfnIn, &mut ch.xb[..t * dim], dim);
            let xb = &ch.xb[..t * dim];
            lw.w_gate.gemm(file, xb, t, &mut ch.gate[..t * ffn])?;
            lw.w_up.gemm(file, xb, t, &mut ch.up[..t * ffn])?;
            match act {
                Some(a) if a.method == ActMethod::Gate => {
                    // decode drops the channels whose |silu(gate)| is small: zero them here
                    let thr = a.threshold(l, Site::FfnMid);
                    for (g, &u) in ch.gate[..t * ffn].iter_mut().zip(&ch.up[..t * ffn]) {
                        let sg = silu(*g);
                        *g = if sg.abs() < thr { 0.0 } else { sg * u };
                    }
                    count(l, Site::FfnMid, &mut ch.gate[..t * ffn], ffn);
                }
                _ => {
                    for (g, &u) in ch.gate[..t * ffn].iter_mut().zip(&ch.up[..t * ffn]) {
                        *g = silu(*g) * u;
                    }
                    count(l, Site::FfnMid, &mut ch.gate[..t * ffn], ffn);
                }
            }
            lw.w_down
                .gemm(file, &ch.gate[..t * ffn], t, &mut ch.xb[..t * dim])?;
            add(&mut ch.x[..t * dim], &ch.xb[..t * dim]);
        }

        if from < t {
            let n = t - from;
            for i in from..t {
                let r = i * dim..(i + 1) * dim;
                let o = (i - from) * dim..(i - from + 1) * dim;
                rmsnorm(&mut ch.xb[o], &ch.x[r], &w.output_norm, c.rms_eps);
            }
            let v = c.vocab_size;
            w.lm_head(&ch.xb[..n * dim], n, &mut ch.logits[..n * v])?;
        }
        if act.is_some() {
            for l in 0..w.layers.len() {
                let z = s.chunk_parts().2.act_zeros[l];
                for site in Site::ALL {
                    s.count_act(costs, l, site, z[site.index()]);
                }
            }
            s.end_act();
        }
        s.advance(t);
        Ok(())
    }
}

/// `x += d` elementwise.
fn add(x: &mut [f32], d: &[f32]) {
    for (x, &d) in x.iter_mut().zip(d) {
        *x += d;
    }
}
