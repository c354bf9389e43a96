//! The attention KV cache: every layer's keys (after RoPE) and values for every position so
//! far, preallocated for the whole context so that decoding a token allocates nothing.
//!
//! Layout, for K and V alike: `(layers, ctx, kv_heads, head_dim)` f32, row-major. Position `p`
//! of layer `l` is one contiguous `kv_heads · head_dim` slot; a head's keys over positions are
//! strided by that slot size.
//!
//! Size: `2 · layers · ctx · kv_heads · head_dim · 4` bytes: 46 KB per position for
//! SmolLM2-135M (30 layers, 3 KV heads of 64), so 94 MB for 2048 positions and 377 MB for its
//! full 8192. The caller picks `ctx`; it is checked against the model's trained context and
//! against [`MAX_KV_BYTES`] before anything is allocated.

use crate::error::{Error, Result};
use crate::limits;
// Largest KV cache accepted (K and V together); why that number: `crate::limits`.
pub use crate::limits::MAX_KV_BYTES;

#[derive(Debug, Clone)]
pub struct KvCache {
    layers: usize,
    ctx: usize,
    kv_heads: usize,
    head_dim: usize,
    /// (layers, ctx, kv_heads, head_dim)
    k: Vec<f32>,
    /// (layers, ctx, kv_heads, head_dim)
    v: Vec<f32>,
}

impl KvCache {
    /// A cache for `ctx` positions; errors (before allocating) if it would exceed
    /// [`MAX_KV_BYTES`] or `ctx` is 0.
    pub fn new(layers: usize, ctx: usize, kv_heads: usize, head_dim: usize) -> Result<KvCache> {
        if ctx == 0 {
            return Err(Error::DimOutOfRange {
                tensor: "KV cache".into(),
                what: "context length".into(),
                value: 0,
                limit: "1 or more".into(),
            });
        }
        // In u64: on wasm32 a usize product wraps at 4 GiB.
        let floats = [layers, ctx, kv_heads, head_dim]
            .iter()
            .try_fold(1u64, |a, &b| a.checked_mul(b as u64));
        let bytes = floats.and_then(|f| f.checked_mul(8));
        if bytes.is_none_or(|b| b > MAX_KV_BYTES as u64) {
            return Err(limits::too_large(
                "session",
                "KV cache",
                bytes,
                MAX_KV_BYTES as u64,
                format!(
                    "{ctx} positions of K + V ({layers} layers × {kv_heads} heads × {head_dim} \
                     × 8 bytes)"
                ),
            ));
        }
        // At most MAX_KV_BYTES / 8 floats: a usize on wasm32 too.
        let n = floats.unwrap_or(0) as usize;
        Ok(KvCache {
            layers,
            ctx,
            kv_heads,
            head_dim,
            k: vec![0.0; n],
            v: vec![0.0; n],
        })
    }

    /// Positions the cache holds.
    pub fn ctx(&self) -> usize {
        self.ctx
    }

    pub fn layers(&self) -> usize {
        self.layers
    }

    pub fn kv_heads(&self) -> usize {
        self.kv_heads
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Floats of one position's slot: `kv_heads · head_dim`.
    #[inline]
    pub fn slot(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// Bytes held (K and V).
    pub fn bytes(&self) -> usize {
        8 * self.k.len()
    }

    /// Layer `l`'s (K, V) slots at position `pos`, each `(kv_heads, head_dim)`, to write.
    /// Panics if out of range (callers check the position against [`KvCache::ctx`] first).
    #[inline]
    pub fn slot_mut(&mut self, l: usize, pos: usize) -> (&mut [f32], &mut [f32]) {
        let s = self.slot();
        let at = (l * self.ctx + pos) * s;
        (&mut self.k[at..at + s], &mut self.v[at..at + s])
    }

    /// Layer `l`'s keys and values for positions `0..len`, each `(len, kv_heads, head_dim)`.
    #[inline]
    pub fn layer(&self, l: usize, len: usize) -> (&[f32], &[f32]) {
        let s = self.slot();
        let at = l * self.ctx * s;
        (&self.k[at..at + len * s], &self.v[at..at + len * s])
    }
}
