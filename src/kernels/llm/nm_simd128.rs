//! SIMD128 kernels for 2:4 and CSR int8, generic over the multiply-add and, for 2:4, the
//! byte swizzle ([`Swizzle`]).
//!
//! 2:4, `W (d,n) @ x (n,) -> y (d,)`: wasm has no gather, but a run's two columns lie in one
//! 4-float vector of `x`, so one `i8x16.swizzle` of that vector with a mask looked up by the
//! run's position nibble (16 masks, 256 bytes) fetches both; two runs' pairs are joined by one
//! 64-bit shuffle, matching the stored value order. Per 32 columns: one 16-byte value load,
//! 8 swizzles, 4 multiply-adds, one scale. The masks index within 0..16 only, so the relaxed
//! swizzle (a bare pshufb on x86) gives the same result.
//!
//! CSR: 4 nonzeros at a time, `x` gathered lane by lane; the row scale is applied once.
//!
//! GEMM, `X (t,n) @ Wᵀ -> Y (t,d)`: decoded weights (and for 2:4 the masks) are shared by a
//! tile of 4 tokens.
//!
//! Safety (every kernel): as [`super::sparse::SparseFn`].

use super::f16_finite;
use super::simd::{hsum, i8x16_to_f32, sparse_gemm, Operands, SparseGemmRow};
use crate::kernels::simd128::{Madd, MulAdd};
use crate::sparse::llm::{pos_bytes, CsrStore, NmStore, SparseMatrix, Store};
use core::arch::wasm32::*;
use std::marker::PhantomData;
use std::ops::Range;

/// A multiply-add plus the swizzle of its ISA.
pub(crate) trait Swizzle: Madd {
    unsafe fn swizzle(a: v128, s: v128) -> v128;
}

impl Swizzle for MulAdd {
    #[inline(always)]
    unsafe fn swizzle(a: v128, s: v128) -> v128 {
        i8x16_swizzle(a, s)
    }
}

#[cfg(target_feature = "relaxed-simd")]
impl Swizzle for crate::kernels::simd128::Relaxed {
    #[inline(always)]
    unsafe fn swizzle(a: v128, s: v128) -> v128 {
        i8x16_relaxed_swizzle(a, s)
    }
}

/// Per position nibble `p0 | p1 << 2`: the bytes of floats p0 and p1 into lanes 0 and 1.
static MASKS: [[u8; 16]; 16] = {
    let mut t = [[0u8; 16]; 16];
    let mut nib = 0;
    while nib < 16 {
        let (p0, p1) = (nib & 3, nib >> 2);
        let mut b = 0;
        while b < 4 {
            t[nib][b] = (4 * p0 + b) as u8;
            t[nib][4 + b] = (4 * p1 + b) as u8;
            t[nib][8 + b] = (4 * p0 + b) as u8;
            t[nib][12 + b] = (4 * p1 + b) as u8;
            b += 1;
        }
        nib += 1;
    }
    t
};

#[inline(always)]
unsafe fn mask(nib: u32) -> v128 {
    v128_load(MASKS.as_ptr().add(nib as usize) as *const v128)
}

/// The `x` values of one 32-column block's stored weights, in value order: `[i]` holds runs
/// 2i and 2i+1. `xb` points at the block's first column, `pos` is its 4 position bytes.
#[inline(always)]
unsafe fn gather_block<M: Swizzle>(xb: *const f32, masks: &[v128; 8]) -> [v128; 4] {
    [0, 1, 2, 3].map(|i| {
        let a = M::swizzle(v128_load(xb.add(8 * i) as *const v128), masks[2 * i]);
        let b = M::swizzle(
            v128_load(xb.add(8 * i + 4) as *const v128),
            masks[2 * i + 1],
        );
        i32x4_shuffle::<0, 1, 4, 5>(a, b)
    })
}

#[inline(always)]
unsafe fn block_masks(pos: *const u8) -> [v128; 8] {
    let p = u32::from_le_bytes(*(pos as *const [u8; 4]));
    [0, 1, 2, 3, 4, 5, 6, 7].map(|k| mask((p >> (4 * k)) & 15))
}

/// Σ over row `r`'s runs `from..runs` of `v·x` (unscaled), one token; `x` at column 0.
#[inline(always)]
unsafe fn nm_tail(s: &NmStore, cols: usize, x: *const f32, r: usize, from: usize) -> f32 {
    let (runs, pb) = (cols / 4, pos_bytes(cols));
    let mut acc = 0.0;
    for k in from..runs {
        let nib = *s.pos.get_unchecked(r * pb + k / 2) >> (4 * (k % 2));
        let v = s.vals.as_ptr().add((r * runs + k) * 2);
        acc += (*v as i8) as f32 * *x.add(4 * k + (nib & 3) as usize);
        acc += (*v.add(1) as i8) as f32 * *x.add(4 * k + (nib >> 2 & 3) as usize);
    }
    acc
}

/// 2:4 GEMV: `W (d,n) @ x (n,) -> y (d,)` for `rows`.
pub(crate) unsafe fn gemv_nm<M: Swizzle>(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Nm(s) = &w.store else { return };
    let cols = w.cols;
    let (pb, nb, full) = (pos_bytes(cols), cols.div_ceil(32), cols / 32);
    for r in rows {
        let vp = s.vals.as_ptr().add(r * cols / 2);
        let (pp, sp) = (s.pos.as_ptr().add(r * pb), s.scale.as_ptr().add(r * nb));
        let mut acc = f32x4_splat(0.0);
        for b in 0..full {
            let wv = i8x16_to_f32(v128_load(vp.add(16 * b) as *const v128));
            let g = gather_block::<M>(x.as_ptr().add(32 * b), &block_masks(pp.add(4 * b)));
            let p0 = M::madd(f32x4_mul(wv[0], g[0]), wv[2], g[2]);
            let p1 = M::madd(f32x4_mul(wv[1], g[1]), wv[3], g[3]);
            acc = M::madd(acc, f32x4_add(p0, p1), f32x4_splat(f16_finite(*sp.add(b))));
        }
        let mut yr = hsum(acc);
        if full < nb {
            yr += f16_finite(*sp.add(full)) * nm_tail(s, cols, x.as_ptr(), r, 8 * full);
        }
        *y.get_unchecked_mut(r) = yr;
    }
}

/// 2:4 GEMM: `X (t,n) @ Wᵀ -> Y (t,d)` for `rows`, tiles of 4 tokens then single tokens.
pub(crate) unsafe fn gemm_nm<M: Swizzle>(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Nm(s) = &w.store else { return };
    sparse_gemm::<NmRows<M>>(s, w, x, t, y, rows);
}

/// 2:4 GEMM rows: decoded weights and the block's masks shared by the T tokens.
struct NmRows<M>(PhantomData<M>);

impl<M: Swizzle> SparseGemmRow for NmRows<M> {
    type Store = NmStore;
    #[inline(always)]
    unsafe fn row<const T: usize>(a: Operands<NmStore>, y: &mut [f32], r: usize, t0: usize) {
        let Operands { w: s, n, d, x } = a;
        let (pb, nb, full) = (pos_bytes(n), n.div_ceil(32), n / 32);
        let vp = s.vals.as_ptr().add(r * n / 2);
        let (pp, sp) = (s.pos.as_ptr().add(r * pb), s.scale.as_ptr().add(r * nb));
        let xp = x.as_ptr().add(t0 * n);
        let mut acc = [f32x4_splat(0.0); T];
        for b in 0..full {
            let dv = f32x4_splat(f16_finite(*sp.add(b)));
            let wv =
                i8x16_to_f32(v128_load(vp.add(16 * b) as *const v128)).map(|q| f32x4_mul(q, dv));
            let masks = block_masks(pp.add(4 * b));
            for (i, a) in acc.iter_mut().enumerate() {
                let g = gather_block::<M>(xp.add(i * n + 32 * b), &masks);
                for j in 0..4 {
                    *a = M::madd(*a, wv[j], g[j]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            let mut yr = hsum(*a);
            if full < nb {
                yr += f16_finite(*sp.add(full)) * nm_tail(s, n, xp.add(i * n), r, 8 * full);
            }
            *y.get_unchecked_mut((t0 + i) * d + r) = yr;
        }
    }
}

/// 4 i8 values → f32 lanes.
#[inline(always)]
unsafe fn i8x4_to_f32(p: *const u8) -> v128 {
    let v = i16x8_extend_low_i8x16(v128_load32_zero(p as *const u32));
    f32x4_convert_i32x4(i32x4_extend_low_i16x8(v))
}

/// `x[c[0..4]]` in 4 lanes.
#[inline(always)]
unsafe fn gather4(x: *const f32, c: *const u16) -> v128 {
    let mut v = f32x4_splat(*x.add(*c as usize));
    v = f32x4_replace_lane::<1>(v, *x.add(*c.add(1) as usize));
    v = f32x4_replace_lane::<2>(v, *x.add(*c.add(2) as usize));
    f32x4_replace_lane::<3>(v, *x.add(*c.add(3) as usize))
}

/// CSR GEMV: `W (d,n) @ x (n,) -> y (d,)` for `rows`.
pub(crate) unsafe fn gemv_csr<M: Madd>(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Csr(s) = &w.store else { return };
    for r in rows {
        *y.get_unchecked_mut(r) = csr_row::<M, 1>(s, x.as_ptr(), 0, r)[0];
    }
}

/// CSR GEMM: `X (t,n) @ Wᵀ -> Y (t,d)` for `rows`.
pub(crate) unsafe fn gemm_csr<M: Madd>(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Csr(s) = &w.store else { return };
    sparse_gemm::<CsrRows<M>>(s, w, x, t, y, rows);
}

/// CSR GEMM rows: each group of 4 nonzeros widened once for the T tokens.
struct CsrRows<M>(PhantomData<M>);

impl<M: Madd> SparseGemmRow for CsrRows<M> {
    type Store = CsrStore;
    #[inline(always)]
    unsafe fn row<const T: usize>(a: Operands<CsrStore>, y: &mut [f32], r: usize, t0: usize) {
        let v = csr_row::<M, T>(a.w, a.x.as_ptr().add(t0 * a.n), a.n, r);
        for (i, v) in v.into_iter().enumerate() {
            *y.get_unchecked_mut((t0 + i) * a.d + r) = v;
        }
    }
}

/// Row `r` of CSR for T tokens (`x` rows `stride` apart).
#[inline(always)]
unsafe fn csr_row<M: Madd, const T: usize>(
    s: &CsrStore,
    x: *const f32,
    stride: usize,
    r: usize,
) -> [f32; T] {
    let (k0, k1) = (
        *s.row_ptr.get_unchecked(r) as usize,
        *s.row_ptr.get_unchecked(r + 1) as usize,
    );
    let (cp, vp) = (s.col.as_ptr(), s.vals.as_ptr());
    let mut acc = [f32x4_splat(0.0); T];
    let mut k = k0;
    while k + 4 <= k1 {
        let wv = i8x4_to_f32(vp.add(k));
        for (i, a) in acc.iter_mut().enumerate() {
            *a = M::madd(*a, wv, gather4(x.add(i * stride), cp.add(k)));
        }
        k += 4;
    }
    let scale = *s.scale.get_unchecked(r);
    let mut out = [0.0; T];
    for (i, o) in out.iter_mut().enumerate() {
        let mut v = hsum(acc[i]);
        for kk in k..k1 {
            v += (*vp.add(kk) as i8) as f32 * *x.add(i * stride + *cp.add(kk) as usize);
        }
        *o = v * scale;
    }
    out
}
