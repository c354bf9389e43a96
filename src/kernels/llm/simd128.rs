//! SIMD128 GEMV kernels on raw GGUF blocks, `W (d, n) @ x (n,) -> y (d,)`, generic over the
//! multiply-add ([`Madd`]: `MulAdd` or relaxed FMA).
//!
//! `R` rows are computed together: each block of `x` (32 floats, 8 vectors, plus its sum for
//! the offset formats) is loaded once and used by all `R` rows. Per row and block the weights
//! are widened in registers (u8 → u16 → u32 → f32 for nibbles, i8 → i16 → i32 → f32 for Q8_0),
//! multiplied into two partial vectors, then scaled into the row's accumulator:
//! `acc += d·p (+ m·Σx)`. Leftover rows (`d mod R`) run with `R = 1`.
//!
//! Safety (every kernel): as [`super::GemvFn`].

use super::WeightType;
use crate::kernels::simd128::Madd;
use core::arch::wasm32::*;
use std::ops::Range;

#[inline(always)]
unsafe fn f16_ptr(p: *const u8) -> f32 {
    super::f16_finite(u16::from_le_bytes([*p, *p.add(1)]))
}

#[inline(always)]
unsafe fn hsum(v: v128) -> f32 {
    // (a0 + a2) + (a1 + a3)
    let s = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s)
}

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

/// Σ_j w_j·x_j over 32 weights given as four u16x8 / i16x8 vectors (weights 0..8, 8..16,
/// 16..24, 24..32), `SIGNED` picking the widening.
#[inline(always)]
unsafe fn dot16<M: Madd, const SIGNED: bool>(w: [v128; 4], xv: &[v128; 8]) -> v128 {
    let lo = |v: v128| {
        f32x4_convert_i32x4(if SIGNED {
            i32x4_extend_low_i16x8(v)
        } else {
            u32x4_extend_low_u16x8(v)
        })
    };
    let hi = |v: v128| {
        f32x4_convert_i32x4(if SIGNED {
            i32x4_extend_high_i16x8(v)
        } else {
            u32x4_extend_high_u16x8(v)
        })
    };
    let mut p0 = f32x4_mul(lo(w[0]), xv[0]);
    let mut p1 = f32x4_mul(hi(w[0]), xv[1]);
    p0 = M::madd(p0, lo(w[1]), xv[2]);
    p1 = M::madd(p1, hi(w[1]), xv[3]);
    p0 = M::madd(p0, lo(w[2]), xv[4]);
    p1 = M::madd(p1, hi(w[2]), xv[5]);
    p0 = M::madd(p0, lo(w[3]), xv[6]);
    p1 = M::madd(p1, hi(w[3]), xv[7]);
    f32x4_add(p0, p1)
}

/// Q4_1 (`OFFSET`) / Q4_0 rows, `R` at a time.
pub(crate) unsafe fn gemv_q4<M: Madd, const OFFSET: bool, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    rows: Range<usize>,
) {
    let mut r = rows.start;
    while r + R <= rows.end {
        q4_rows::<M, OFFSET, R>(w, n, x, y, r);
        r += R;
    }
    while r < rows.end {
        q4_rows::<M, OFFSET, 1>(w, n, x, y, r);
        r += 1;
    }
}

#[inline(always)]
unsafe fn q4_rows<M: Madd, const OFFSET: bool, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    r0: usize,
) {
    let ty = if OFFSET {
        WeightType::Q4_1
    } else {
        WeightType::Q4_0
    };
    let (bb, rb) = (ty.block_bytes(), ty.row_bytes(n));
    let qo = if OFFSET { 4 } else { 2 };
    let base = w.as_ptr().add(r0 * rb);
    let xp = x.as_ptr();
    let mask = u8x16_splat(15);
    let mut acc = [f32x4_splat(0.0); R];
    for b in 0..n / 32 {
        let xv = load_x(xp.add(32 * b));
        let sx = sum_x(&xv);
        for (i, a) in acc.iter_mut().enumerate() {
            let blk = base.add(i * rb + b * bb);
            let d = f16_ptr(blk);
            let m = if OFFSET {
                f16_ptr(blk.add(2))
            } else {
                -8.0 * d
            };
            let q = v128_load(blk.add(qo) as *const v128);
            let lo = v128_and(q, mask); // weights 0..16
            let hi = u8x16_shr(q, 4); // weights 16..32
            let p = dot16::<M, false>(
                [
                    u16x8_extend_low_u8x16(lo),
                    u16x8_extend_high_u8x16(lo),
                    u16x8_extend_low_u8x16(hi),
                    u16x8_extend_high_u8x16(hi),
                ],
                &xv,
            );
            *a = M::madd(*a, p, f32x4_splat(d));
            *a = M::madd(*a, sx, f32x4_splat(m));
        }
    }
    for (i, a) in acc.iter().enumerate() {
        *y.get_unchecked_mut(r0 + i) = hsum(*a);
    }
}

/// Q8_0 rows, `R` at a time.
pub(crate) unsafe fn gemv_q8_0<M: Madd, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    rows: Range<usize>,
) {
    let mut r = rows.start;
    while r + R <= rows.end {
        q8_rows::<M, R>(w, n, x, y, r);
        r += R;
    }
    while r < rows.end {
        q8_rows::<M, 1>(w, n, x, y, r);
        r += 1;
    }
}

#[inline(always)]
unsafe fn q8_rows<M: Madd, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    r0: usize,
) {
    let ty = WeightType::Q8_0;
    let (bb, rb) = (ty.block_bytes(), ty.row_bytes(n));
    let base = w.as_ptr().add(r0 * rb);
    let xp = x.as_ptr();
    let mut acc = [f32x4_splat(0.0); R];
    for b in 0..n / 32 {
        let xv = load_x(xp.add(32 * b));
        for (i, a) in acc.iter_mut().enumerate() {
            let blk = base.add(i * rb + b * bb);
            let d = f16_ptr(blk);
            let q0 = v128_load(blk.add(2) as *const v128); // weights 0..16
            let q1 = v128_load(blk.add(18) as *const v128); // weights 16..32
            let p = dot16::<M, true>(
                [
                    i16x8_extend_low_i8x16(q0),
                    i16x8_extend_high_i8x16(q0),
                    i16x8_extend_low_i8x16(q1),
                    i16x8_extend_high_i8x16(q1),
                ],
                &xv,
            );
            *a = M::madd(*a, p, f32x4_splat(d));
        }
    }
    for (i, a) in acc.iter().enumerate() {
        *y.get_unchecked_mut(r0 + i) = hsum(*a);
    }
}

/// F32 rows, `R` at a time; a scalar tail for `n mod 4`.
pub(crate) unsafe fn gemv_f32<M: Madd, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    rows: Range<usize>,
) {
    let mut r = rows.start;
    while r + R <= rows.end {
        f32_rows::<M, R>(w, n, x, y, r);
        r += R;
    }
    while r < rows.end {
        f32_rows::<M, 1>(w, n, x, y, r);
        r += 1;
    }
}

#[inline(always)]
unsafe fn f32_rows<M: Madd, const R: usize>(
    w: &[u8],
    n: usize,
    x: &[f32],
    y: &mut [f32],
    r0: usize,
) {
    let rb = 4 * n;
    let base = w.as_ptr().add(r0 * rb);
    let xp = x.as_ptr();
    let mut acc = [f32x4_splat(0.0); R];
    let n4 = n / 4 * 4;
    let mut k = 0;
    while k < n4 {
        let xv = v128_load(xp.add(k) as *const v128);
        for (i, a) in acc.iter_mut().enumerate() {
            let wv = v128_load(base.add(i * rb + 4 * k) as *const v128);
            *a = M::madd(*a, wv, xv);
        }
        k += 4;
    }
    for (i, a) in acc.iter().enumerate() {
        let mut s = hsum(*a);
        for kk in n4..n {
            let p = base.add(i * rb + 4 * kk);
            s += f32::from_le_bytes([*p, *p.add(1), *p.add(2), *p.add(3)]) * *xp.add(kk);
        }
        *y.get_unchecked_mut(r0 + i) = s;
    }
}
