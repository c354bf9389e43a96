//! SIMD128 GEMV kernels on raw GGUF blocks, `W (d, n) @ x (n,) -> y (d,)`, generic over the
//! multiply-add ([`Madd`]: `MulAdd` or relaxed FMA).
//!
//! `R` rows are computed together: each block of `x` (32 floats, 8 vectors, plus its sum for
//! the offset formats) is loaded once and used by all `R` rows. Per row and block the weights
//! are widened in registers ([`codes`]: nibbles and Q8_0's i8 alike, i8 → i16 → i32 → f32),
//! multiplied into two partial vectors, then scaled into the row's accumulator:
//! `acc += d·p (+ m·Σx)`. Leftover rows (`d mod R`) run with `R = 1`.
//!
//! Safety (every kernel): as [`super::GemvFn`].

use super::block::{Block, Weights, F32};
use super::simd::{codes, dots, hsum, tiles, widen, Dense};
use crate::kernels::simd128::Madd;
use core::arch::wasm32::*;
use std::ops::Range;

/// The 8 vectors of a 32-float block of `x`.
#[inline(always)]
unsafe fn load_x(x: *const f32) -> [v128; 8] {
    let mut v = [f32x4_splat(0.0); 8];
    for (i, vi) in v.iter_mut().enumerate() {
        *vi = v128_load(x.add(4 * i) as *const v128);
    }
    v
}

/// Σ of a block of `x`, as 4 lanes.
#[inline(always)]
unsafe fn sum_x(xv: &[v128; 8]) -> v128 {
    let a = f32x4_add(f32x4_add(xv[0], xv[1]), f32x4_add(xv[2], xv[3]));
    let b = f32x4_add(f32x4_add(xv[4], xv[5]), f32x4_add(xv[6], xv[7]));
    f32x4_add(a, b)
}

/// Σ_j q_j·x_j over one block's 32 codes (four i16x8, as [`codes`]), as 4 partial lanes: two
/// chains, weights 0..16 and 16..32 interleaved.
#[inline(always)]
unsafe fn dot32<M: Madd>(c: [v128; 4], xv: &[v128; 8]) -> v128 {
    let q = widen(c);
    let mut p0 = f32x4_mul(q[0], xv[0]);
    let mut p1 = f32x4_mul(q[1], xv[1]);
    for j in 1..4 {
        p0 = M::madd(p0, q[2 * j], xv[2 * j]);
        p1 = M::madd(p1, q[2 * j + 1], xv[2 * j + 1]);
    }
    f32x4_add(p0, p1)
}

/// Rows `r0 .. r0 + R` of a weight format: `y[r0 + i] = W[r0 + i, :] · x`.
pub(crate) trait GemvRows: Weights {
    unsafe fn rows<M: Madd, const R: usize>(a: Dense, y: &mut [f32], r0: usize);
}

/// Any format with [`GemvRows`] (F32, Q4_0, Q4_1, Q8_0), `R` rows at a time.
pub(crate) unsafe fn gemv<M: Madd, W: GemvRows, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    rows: Range<usize>,
) {
    let a = Dense { w, n, d: 0, x };
    tiles::<R, _>(
        rows,
        y,
        |y, r| W::rows::<M, R>(a, y, r),
        |y, r| W::rows::<M, 1>(a, y, r),
    );
}

/// Quantized blocks: per block `acc += d·Σq·x (+ m·Σx for the nibble formats)`.
impl<B: Block> GemvRows for B {
    #[inline(always)]
    unsafe fn rows<M: Madd, const R: usize>(a: Dense, y: &mut [f32], r0: usize) {
        let Dense { w, n, x, .. } = a;
        let rb = B::TYPE.row_bytes(n);
        let base = w.as_ptr().add(r0 * rb);
        let xp = x.as_ptr();
        let mut acc = [f32x4_splat(0.0); R];
        for b in 0..n / 32 {
            let xv = load_x(xp.add(32 * b));
            let sx = if B::NIBBLES {
                sum_x(&xv)
            } else {
                f32x4_splat(0.0)
            };
            for (i, a) in acc.iter_mut().enumerate() {
                let blk = &*(base.add(i * rb) as *const B).add(b);
                let (d, m) = blk.dm();
                let p = dot32::<M>(codes(blk), &xv);
                *a = M::madd(*a, p, f32x4_splat(d));
                if B::NIBBLES {
                    *a = M::madd(*a, sx, f32x4_splat(m));
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            *y.get_unchecked_mut(r0 + i) = hsum(*a);
        }
    }
}

/// F32: R dot products sharing each vector of `x` (any `n`: a scalar tail for `n mod 4`).
impl GemvRows for F32 {
    #[inline(always)]
    unsafe fn rows<M: Madd, const R: usize>(a: Dense, y: &mut [f32], r0: usize) {
        let Dense { w, n, x, .. } = a;
        let base = w.as_ptr().add(r0 * 4 * n) as *const f32;
        let v = dots::<M, R>(x.as_ptr(), base, n, n);
        y.get_unchecked_mut(r0..r0 + R).copy_from_slice(&v);
    }
}
