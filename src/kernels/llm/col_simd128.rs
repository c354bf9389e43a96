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

use super::col_scalar::{gemm_tiles, gemv_skip};
use super::simd::{i8_to_i16, nibbles, widen};
use crate::kernels::simd128::Madd;
use crate::sparse::llm::{SparseMatrix, TILE};
use core::arch::wasm32::*;
use std::ops::Range;

/// The 32 codes of one (tile, column) at `q` as signed values: rows 0..16 then 16..32 as
/// four i16x8 vectors (rows 0..8, 8..16, 16..24, 24..32).
#[inline(always)]
unsafe fn codes<const INT4: bool>(q: *const u8) -> [v128; 4] {
    if INT4 {
        let (lo, hi) = nibbles(v128_load(q as *const v128));
        let e = i8x16_splat(8);
        let ([a0, a1], [b0, b1]) = (i8_to_i16(i8x16_sub(lo, e)), i8_to_i16(i8x16_sub(hi, e)));
        [a0, a1, b0, b1]
    } else {
        let q = q as *const i8;
        [0, 8, 16, 24].map(|o| i16x8_load_extend_i8x8(q.add(o)))
    }
}

/// Column-major GEMV, `W (d,n) @ x (n,) -> y (d,)` over the nonzero `x_j` only.
pub(crate) unsafe fn gemv_col<M: Madd, const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    gemv_skip(w, x, y, rows, |tile, idx, val| {
        let mut acc = [f32x4_splat(0.0); 8];
        for (&j, &xv) in idx.iter().zip(val) {
            let (d, q) = tile.col(j as usize);
            let sc = f32x4_splat(xv * d);
            let wv = widen(codes::<INT4>(q));
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
    let decode = |d: f32, q: *const u8, pk: &mut [f32; TILE]| {
        let d = f32x4_splat(d);
        for (i, &wi) in widen(codes::<INT4>(q)).iter().enumerate() {
            v128_store(pk.as_mut_ptr().add(4 * i) as *mut v128, f32x4_mul(wi, d));
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
    gemm_tiles(w, x, t, y, rows, decode, madd);
}
