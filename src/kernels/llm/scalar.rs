//! Portable GEMV kernels, `W (d, n) @ x (n,) -> y (d,)` on raw GGUF blocks, one row at a time.
//! Each keeps 16 independent partial sums (lane arrays, no cross-lane dependency) so that a
//! native build can vectorize them; the lanes are summed once per row.
//!
//! Safety (every kernel): as [`super::GemvFn`].

use super::block::{blocks, Block};
use super::WeightType;
use crate::tensor::f16_to_f32;
use std::ops::Range;

/// Sums 16 lanes pairwise (the same tree every time).
#[inline(always)]
fn hsum16(a: &[f32; 16]) -> f32 {
    let mut s = [0.0f32; 8];
    for i in 0..8 {
        s[i] = a[i] + a[i + 8];
    }
    let t = [s[0] + s[4], s[1] + s[5], s[2] + s[6], s[3] + s[7]];
    (t[0] + t[2]) + (t[1] + t[3])
}

/// F32 weights.
pub(crate) unsafe fn gemv_f32(w: &[u8], n: usize, x: &[f32], y: &mut [f32], rows: Range<usize>) {
    let rb = WeightType::F32.row_bytes(n);
    let x = &x[..n];
    for r in rows {
        let row = &w[r * rb..(r + 1) * rb];
        let mut acc = [0.0f32; 16];
        let mut xs = x.chunks_exact(16);
        let mut ws = row.chunks_exact(64);
        for (xc, wc) in (&mut xs).zip(&mut ws) {
            for j in 0..16 {
                let wj =
                    f32::from_le_bytes([wc[4 * j], wc[4 * j + 1], wc[4 * j + 2], wc[4 * j + 3]]);
                acc[j] += wj * xc[j];
            }
        }
        for (j, (&xv, wc)) in xs
            .remainder()
            .iter()
            .zip(ws.remainder().chunks_exact(4))
            .enumerate()
        {
            acc[j] += f32::from_le_bytes([wc[0], wc[1], wc[2], wc[3]]) * xv;
        }
        y[r] = hsum16(&acc);
    }
}

/// F16 weights (general conversion: inf/NaN weights propagate as such).
pub(crate) unsafe fn gemv_f16(w: &[u8], n: usize, x: &[f32], y: &mut [f32], rows: Range<usize>) {
    let rb = WeightType::F16.row_bytes(n);
    for r in rows {
        let row = &w[r * rb..(r + 1) * rb];
        let mut acc = [0.0f32; 16];
        for (i, (&xv, wc)) in x[..n].iter().zip(row.chunks_exact(2)).enumerate() {
            acc[i % 16] += f16_to_f32(u16::from_le_bytes([wc[0], wc[1]])) * xv;
        }
        y[r] = hsum16(&acc);
    }
}

/// Quantized rows (block type `B`). Per block:
/// `acc[j] += d·(q_j·x_j + q_{j+16}·x_{j+16}) (+ m·(x_j + x_{j+16}) for the nibble formats)`.
pub(crate) unsafe fn gemv_q<B: Block>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    rows: Range<usize>,
) {
    let rb = B::TYPE.row_bytes(n);
    for r in rows {
        let mut acc = [0.0f32; 16];
        for (blk, xb) in blocks::<B>(&w[r * rb..(r + 1) * rb])
            .iter()
            .zip(x[..n].chunks_exact(32))
        {
            let (d, m) = blk.dm();
            for j in 0..16 {
                let qx = blk.code(j) * xb[j] + blk.code(j + 16) * xb[j + 16];
                acc[j] += if B::NIBBLES {
                    d * qx + m * (xb[j] + xb[j + 16])
                } else {
                    d * qx
                };
            }
        }
        y[r] = hsum16(&acc);
    }
}
