//! SIMD128 dense GEMM on raw GGUF blocks, `X (t,n) @ Wᵀ -> Y (t,d)`, generic over the
//! multiply-add. Per row and 32-weight block the weights are decoded once to 8 f32 vectors
//! (`q·d + m`, `(q − 8)·d`, `q·d`) and used by a tile of T = 4 tokens (4 independent
//! accumulator chains); leftover tokens run with T = 1. Tiles are the outer loop so the
//! tile's rows of `x` stay in cache while all of W streams past.
//!
//! Safety (every kernel): as [`super::gemm::GemmFn`].

use super::f16_finite;
use super::gemm_scalar::{ty_of, Q4_1, Q8_0};
use super::sparse_simd128::hsum;
use crate::kernels::simd128::Madd;
use core::arch::wasm32::*;
use std::ops::Range;

#[inline(always)]
unsafe fn f16_ptr(p: *const u8) -> f32 {
    f16_finite(u16::from_le_bytes([*p, *p.add(1)]))
}

/// One block at `blk` → 8 f32 vectors of its 32 weights, in order.
#[inline(always)]
unsafe fn decode_block<M: Madd, const TY: u8>(blk: *const u8) -> [v128; 8] {
    let d = f16_ptr(blk);
    let dv = f32x4_splat(d);
    let cvt = f32x4_convert_i32x4;
    if TY == Q8_0 {
        let q0 = v128_load(blk.add(2) as *const v128);
        let q1 = v128_load(blk.add(18) as *const v128);
        let h = [
            i16x8_extend_low_i8x16(q0),
            i16x8_extend_high_i8x16(q0),
            i16x8_extend_low_i8x16(q1),
            i16x8_extend_high_i8x16(q1),
        ];
        [0, 1, 2, 3, 4, 5, 6, 7].map(|j| {
            let v = if j % 2 == 0 {
                i32x4_extend_low_i16x8(h[j / 2])
            } else {
                i32x4_extend_high_i16x8(h[j / 2])
            };
            f32x4_mul(cvt(v), dv)
        })
    } else {
        let (m, qo) = if TY == Q4_1 {
            (f16_ptr(blk.add(2)), 4)
        } else {
            (-8.0 * d, 2)
        };
        let mv = f32x4_splat(m);
        let q = v128_load(blk.add(qo) as *const v128);
        let lo = v128_and(q, u8x16_splat(15)); // weights 0..16
        let hi = u8x16_shr(q, 4); // weights 16..32
        let h = [
            u16x8_extend_low_u8x16(lo),
            u16x8_extend_high_u8x16(lo),
            u16x8_extend_low_u8x16(hi),
            u16x8_extend_high_u8x16(hi),
        ];
        [0, 1, 2, 3, 4, 5, 6, 7].map(|j| {
            let v = if j % 2 == 0 {
                u32x4_extend_low_u16x8(h[j / 2])
            } else {
                u32x4_extend_high_u16x8(h[j / 2])
            };
            M::madd(mv, cvt(v), dv)
        })
    }
}

/// Q4_0 / Q4_1 / Q8_0 (tag `TY`).
pub(crate) unsafe fn gemm_q<M: Madd, const TY: u8>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let mut t0 = 0;
    while t0 < t {
        if t0 + 4 <= t {
            for r in rows.clone() {
                q_row::<M, TY, 4>(w, n, d, x, y, r, t0);
            }
            t0 += 4;
        } else {
            for r in rows.clone() {
                q_row::<M, TY, 1>(w, n, d, x, y, r, t0);
            }
            t0 += 1;
        }
    }
}

/// Row `r` for tokens `t0..t0+T`: `Y[t0.., r] = X (T,n) @ W[r, :]ᵀ`.
#[inline(always)]
unsafe fn q_row<M: Madd, const TY: u8, const T: usize>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    y: &mut [f32],
    r: usize,
    t0: usize,
) {
    let ty = ty_of(TY);
    let (bb, rb) = (ty.block_bytes(), ty.row_bytes(n));
    let row = w.as_ptr().add(r * rb);
    let xp = x.as_ptr().add(t0 * n);
    let mut acc = [f32x4_splat(0.0); T];
    for b in 0..n / 32 {
        let wv = decode_block::<M, TY>(row.add(b * bb));
        for (i, a) in acc.iter_mut().enumerate() {
            let xb = xp.add(i * n + 32 * b);
            for (j, &wj) in wv.iter().enumerate() {
                *a = M::madd(*a, wj, v128_load(xb.add(4 * j) as *const v128));
            }
        }
    }
    for (i, a) in acc.iter().enumerate() {
        *y.get_unchecked_mut((t0 + i) * d + r) = hsum(*a);
    }
}

/// F32 weights (any `n`: a scalar tail for `n mod 4`).
pub(crate) unsafe fn gemm_f32<M: Madd>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let mut t0 = 0;
    while t0 < t {
        if t0 + 4 <= t {
            for r in rows.clone() {
                f32_row::<M, 4>(w, n, d, x, y, r, t0);
            }
            t0 += 4;
        } else {
            for r in rows.clone() {
                f32_row::<M, 1>(w, n, d, x, y, r, t0);
            }
            t0 += 1;
        }
    }
}

#[inline(always)]
unsafe fn f32_row<M: Madd, const T: usize>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    y: &mut [f32],
    r: usize,
    t0: usize,
) {
    let row = w.as_ptr().add(r * 4 * n);
    let xp = x.as_ptr().add(t0 * n);
    let mut acc = [f32x4_splat(0.0); T];
    let n4 = n / 4 * 4;
    let mut k = 0;
    while k < n4 {
        let wv = v128_load(row.add(4 * k) as *const v128);
        for (i, a) in acc.iter_mut().enumerate() {
            *a = M::madd(*a, wv, v128_load(xp.add(i * n + k) as *const v128));
        }
        k += 4;
    }
    for (i, a) in acc.iter().enumerate() {
        let mut s = hsum(*a);
        for kk in n4..n {
            let p = row.add(4 * kk);
            s += f32::from_le_bytes([*p, *p.add(1), *p.add(2), *p.add(3)]) * *xp.add(i * n + kk);
        }
        *y.get_unchecked_mut((t0 + i) * d + r) = s;
    }
}
