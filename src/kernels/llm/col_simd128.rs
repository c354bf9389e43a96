//! SIMD128 kernels for the column-major formats (`cm32i8`, `cm32i4`), generic over the
//! multiply-add ([`Madd`]), on the loops of [`super::col_scalar`].
//!
//! GEMV: per tile the 32 sums are 8 f32x4 accumulators; per nonzero input j one splat of
//! `x_j·d[tile][j]` and the column's 32 codes widened i8 → i16 → i32 → f32 (int4: two nibble
//! masks, minus 8, first), 8 multiply-adds.
//!
//! GEMM: the panel of [`super::col_scalar::KC`] columns is decoded with the same widening
//! (times a splat of d), then per token 8 accumulators take one splat of x and 8 panel loads
//! per column.
//!
//! Safety (every kernel): as [`super::sparse::SparseFn`].

use super::col_scalar::{gemm_tiles, gemv_skip, Panel};
use super::f16_finite;
use crate::kernels::simd128::Madd;
use crate::sparse::llm::{SparseMatrix, Store, TILE};
use core::arch::wasm32::*;
use std::ops::Range;

/// The 32 codes of one (tile, column) at `q` as signed values: rows 0..16 then 16..32 as
/// four i16x8 vectors (rows 0..8, 8..16, 16..24, 24..32).
#[inline(always)]
unsafe fn codes<const INT4: bool>(q: *const u8) -> [v128; 4] {
    if INT4 {
        let b = v128_load(q as *const v128);
        let e = i8x16_splat(8);
        let lo = i8x16_sub(v128_and(b, u8x16_splat(15)), e);
        let hi = i8x16_sub(u8x16_shr(b, 4), e);
        [
            i16x8_extend_low_i8x16(lo),
            i16x8_extend_high_i8x16(lo),
            i16x8_extend_low_i8x16(hi),
            i16x8_extend_high_i8x16(hi),
        ]
    } else {
        let q = q as *const i8;
        [0, 8, 16, 24].map(|o| i16x8_load_extend_i8x8(q.add(o)))
    }
}

/// Four i16x8 → eight f32x4 (rows 4i .. 4i + 4 in `[i]`).
#[inline(always)]
unsafe fn widen(c: [v128; 4]) -> [v128; 8] {
    let cvt = f32x4_convert_i32x4;
    let mut out = [f32x4_splat(0.0); 8];
    for (i, v) in c.into_iter().enumerate() {
        out[2 * i] = cvt(i32x4_extend_low_i16x8(v));
        out[2 * i + 1] = cvt(i32x4_extend_high_i16x8(v));
    }
    out
}

/// Column-major GEMV, `W (d,n) @ x (n,) -> y (d,)` over the nonzero `x_j` only.
pub(crate) unsafe fn gemv_col<M: Madd, const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Col(s) = &w.store else { return };
    let cols = w.cols;
    let tb = s.tile_bytes();
    gemv_skip(cols, x, y, rows, |t, idx, val| {
        let dt = s.d.as_ptr().add(t * cols);
        let qt = s.q.as_ptr().add(t * cols * tb);
        let mut acc = [f32x4_splat(0.0); 8];
        for (&j, &xv) in idx.iter().zip(val) {
            let j = j as usize;
            let sc = f32x4_splat(xv * f16_finite(*dt.add(j)));
            let wv = widen(codes::<INT4>(qt.add(j * tb)));
            for (a, &wi) in acc.iter_mut().zip(&wv) {
                *a = M::madd(*a, sc, wi);
            }
        }
        let mut out = [0.0f32; TILE];
        for (i, &a) in acc.iter().enumerate() {
            v128_store(out.as_mut_ptr().add(4 * i) as *mut v128, a);
        }
        out
    });
}

/// Column-major GEMM, `X (t,n) @ Wᵀ -> Y (t,d)`.
pub(crate) unsafe fn gemm_col<M: Madd, const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Col(s) = &w.store else { return };
    let cols = w.cols;
    let tb = s.tile_bytes();
    let decode = |tile: usize, k0: usize, kc: usize, p: &mut Panel| {
        let k = tile * cols + k0;
        let (dp, qp) = (s.d.as_ptr().add(k), s.q.as_ptr().add(k * tb));
        for (c, pk) in p.iter_mut().enumerate().take(kc) {
            let d = f32x4_splat(f16_finite(*dp.add(c)));
            let wv = widen(codes::<INT4>(qp.add(c * tb)));
            for (i, &wi) in wv.iter().enumerate() {
                v128_store(pk.as_mut_ptr().add(4 * i) as *mut v128, f32x4_mul(wi, d));
            }
        }
    };
    let madd = |p: &[[f32; TILE]], xr: &[f32], a: &mut [f32; TILE]| {
        let ap = a.as_mut_ptr();
        let mut acc = [0, 1, 2, 3, 4, 5, 6, 7].map(|i| v128_load(ap.add(4 * i) as *const v128));
        for (wk, &xv) in p.iter().zip(xr) {
            let xs = f32x4_splat(xv);
            let wp = wk.as_ptr();
            for (i, a) in acc.iter_mut().enumerate() {
                *a = M::madd(*a, xs, v128_load(wp.add(4 * i) as *const v128));
            }
        }
        for (i, &v) in acc.iter().enumerate() {
            v128_store(ap.add(4 * i) as *mut v128, v);
        }
    };
    gemm_tiles(cols, w.rows, x, t, y, rows, decode, madd);
}
