//! Portable dense GEMM on raw GGUF blocks, `X (t,n) @ Wᵀ -> Y (t,d)`: a row is dequantized
//! once per tile of 4 tokens into a scratch row, then dotted with each token.
//!
//! Safety: as [`super::gemm::GemmFn`].

use super::{f16_at, WeightType};
use std::ops::Range;

/// Row bytes of `ty` → `out (n,)` f32.
fn dequant_row(ty: WeightType, row: &[u8], out: &mut [f32]) {
    use crate::import::onnx::tensor::f16_to_f32;
    let bb = ty.block_bytes();
    match ty {
        WeightType::F32 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        WeightType::F16 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        WeightType::Q4_0 | WeightType::Q4_1 => {
            let q41 = ty == WeightType::Q4_1;
            for (o, blk) in out.chunks_exact_mut(32).zip(row.chunks_exact(bb)) {
                let d = f16_at(blk, 0);
                let (m, qo) = if q41 {
                    (f16_at(blk, 2), 4)
                } else {
                    (-8.0 * d, 2)
                };
                for (j, &q) in blk[qo..qo + 16].iter().enumerate() {
                    o[j] = (q & 15) as f32 * d + m;
                    o[j + 16] = (q >> 4) as f32 * d + m;
                }
            }
        }
        WeightType::Q8_0 => {
            for (o, blk) in out.chunks_exact_mut(32).zip(row.chunks_exact(bb)) {
                let d = f16_at(blk, 0);
                for (o, &q) in o.iter_mut().zip(&blk[2..34]) {
                    *o = (q as i8) as f32 * d;
                }
            }
        }
    }
}

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

/// Tags naming a [`WeightType`] in const generics.
pub(crate) const F32: u8 = 0;
pub(crate) const F16: u8 = 1;
pub(crate) const Q4_0: u8 = 2;
pub(crate) const Q4_1: u8 = 3;
pub(crate) const Q8_0: u8 = 4;

pub(crate) const fn ty_of(tag: u8) -> WeightType {
    match tag {
        F32 => WeightType::F32,
        F16 => WeightType::F16,
        Q4_0 => WeightType::Q4_0,
        Q4_1 => WeightType::Q4_1,
        _ => WeightType::Q8_0,
    }
}

/// The type tagged `TY`; tiles of 4 tokens outermost, so they stay in cache across all rows.
pub(crate) unsafe fn gemm<const TY: u8>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let ty = ty_of(TY);
    let rb = ty.row_bytes(n);
    let mut wr = vec![0.0f32; n]; // W[r, :] (n,) dequantized
    for t0 in (0..t).step_by(4) {
        let tt = (t - t0).min(4);
        for r in rows.clone() {
            dequant_row(ty, &w[r * rb..(r + 1) * rb], &mut wr);
            for i in 0..tt {
                y[(t0 + i) * d + r] = dot8(&wr, &x[(t0 + i) * n..][..n]);
            }
        }
    }
}
