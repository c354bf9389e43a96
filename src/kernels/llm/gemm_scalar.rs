//! Portable dense GEMM on raw GGUF blocks, `X (t,n) @ Wᵀ -> Y (t,d)`: a row is dequantized
//! once per tile of 4 tokens into a scratch row, then dotted with each token.
//!
//! Safety: as [`super::gemm::GemmFn`].

use super::block::{decode_row, Weights};
use std::ops::Range;

/// `a · b` over 8 running sums kept in lanes (`chunks_exact`, so the compiler vectorizes
/// it; an index `k % 8` into the sums does not).
#[inline(always)]
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Any format `W`; tiles of 4 tokens outermost, so they stay in cache across all rows.
pub(crate) unsafe fn gemm<W: Weights>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let ty = W::TYPE;
    let rb = ty.row_bytes(n);
    let mut wr = vec![0.0f32; n]; // W[r, :] (n,) dequantized
    for t0 in (0..t).step_by(4) {
        let tt = (t - t0).min(4);
        for r in rows.clone() {
            decode_row(ty, &w[r * rb..(r + 1) * rb], &mut wr);
            for i in 0..tt {
                y[(t0 + i) * d + r] = dot8(&wr, &x[(t0 + i) * n..][..n]);
            }
        }
    }
}
