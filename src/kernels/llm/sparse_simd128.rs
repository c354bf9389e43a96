//! SIMD128 kernels for the group-sparse formats (1×G, int4/int8), generic over the
//! multiply-add ([`Madd`]).
//!
//! GEMV, `W (d,n) @ x (n,) -> y (d,)`: rows share no pattern, so a row is the unit (R = 1) and
//! loop overhead is amortized over 4 groups instead: per group the G/4 vectors of `x` at
//! `c·G` are plain loads, the values are widened in registers to G/4 f32 vectors and
//! multiplied into one partial vector; the 4 partials are reduced to one vector
//! `(Σp₀, Σp₁, Σp₂, Σp₃)` by a 4×4 transpose-add and scaled by the 4 groups' d (one 8-byte
//! load of 4 halves, converted in-vector). int4's `m·Σx` term uses `Σx` per group of `x`,
//! computed once per call (n/G floats), gathered into lanes and scaled by the 4 m's the same
//! way. That keeps the per-group scale work at about a quarter of a splat-per-group scheme,
//! which is what lets a kept weight cost what a dense Q4_1 weight costs.
//!
//! GEMM, `X (t,n) @ Wᵀ -> Y (t,d)`: per group the weights are decoded once to f32
//! (`q·d + m`) and used by T = 4 tokens.
//!
//! Safety (every kernel): as [`super::sparse::SparseFn`].

use super::f16_finite;
use super::simd::{
    f16x4, hsum, i16_to_f32, i8x16_to_f32, nibbles, sparse_gemm, Operands, SparseGemmRow,
};
use crate::kernels::simd128::Madd;
use crate::sparse::llm::{GroupStore, SparseMatrix, Store};
use core::arch::wasm32::*;
use std::marker::PhantomData;
use std::ops::Range;

/// `(Σp₀, Σp₁, Σp₂, Σp₃)`: unpacklo/hi and 64-bit moves, no lane extracts.
#[inline(always)]
unsafe fn hsum4x4(p: [v128; 4]) -> v128 {
    let a = f32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(p[0], p[1]),
        i32x4_shuffle::<2, 6, 3, 7>(p[0], p[1]),
    );
    let b = f32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(p[2], p[3]),
        i32x4_shuffle::<2, 6, 3, 7>(p[2], p[3]),
    );
    f32x4_add(
        i32x4_shuffle::<0, 1, 4, 5>(a, b),
        i32x4_shuffle::<2, 3, 6, 7>(a, b),
    )
}

/// One group's values `q` → G/4 f32 vectors of q (weights 4j..4j+4 in `[j]`; the rest unused).
#[inline(always)]
unsafe fn unpack<const G: usize, const INT4: bool>(q: *const u8) -> [v128; 4] {
    let z = f32x4_splat(0.0);
    match (G, INT4) {
        (16, true) => {
            // 8 bytes: low nibbles are weights 0..8, high nibbles 8..16
            let b = u16x8_load_extend_u8x8(q);
            let ([a0, a1], [b0, b1]) = (
                i16_to_f32(v128_and(b, u16x8_splat(15))),
                i16_to_f32(u16x8_shr(b, 4)),
            );
            [a0, a1, b0, b1]
        }
        (_, true) => {
            // 4 bytes: low nibbles are weights 0..4, high nibbles 4..8
            let (lo, hi) = nibbles(v128_load32_zero(q as *const u32));
            let [a, b] = [lo, hi].map(|v| i16_to_f32(i16x8_extend_low_i8x16(v))[0]);
            [a, b, z, z]
        }
        (16, false) => i8x16_to_f32(v128_load(q as *const v128)),
        _ => {
            let [a, b] = i16_to_f32(i16x8_load_extend_i8x8(q as *const i8));
            [a, b, z, z]
        }
    }
}

/// Σ q·x over one group, as 4 partial lanes; `x` points at the group's first column.
#[inline(always)]
unsafe fn dot<M: Madd, const G: usize, const INT4: bool>(q: *const u8, x: *const f32) -> v128 {
    let w = unpack::<G, INT4>(q);
    let xv = |j: usize| v128_load(x.add(4 * j) as *const v128);
    if G == 16 {
        let p0 = M::madd(f32x4_mul(w[0], xv(0)), w[2], xv(2));
        let p1 = M::madd(f32x4_mul(w[1], xv(1)), w[3], xv(3));
        f32x4_add(p0, p1)
    } else {
        M::madd(f32x4_mul(w[0], xv(0)), w[1], xv(1))
    }
}

/// Row `r`: `W[r, :] · x`; `sx (n/G)` = Σx per group of x (int4 only).
#[inline(always)]
unsafe fn row<M: Madd, const G: usize, const INT4: bool>(
    s: &GroupStore,
    x: *const f32,
    sx: *const f32,
    r: usize,
) -> f32 {
    let gb = G * if INT4 { 4 } else { 8 } / 8;
    let (k0, k1) = (
        *s.row_ptr.get_unchecked(r) as usize,
        *s.row_ptr.get_unchecked(r + 1) as usize,
    );
    let (cp, qp, dp, mp) = (s.col.as_ptr(), s.q.as_ptr(), s.d.as_ptr(), s.m.as_ptr());
    let mut acc = f32x4_splat(0.0);
    let mut k = k0;
    while k + 4 <= k1 {
        let c = [0, 1, 2, 3].map(|j| *cp.add(k + j) as usize);
        let p = [0, 1, 2, 3].map(|j| dot::<M, G, INT4>(qp.add((k + j) * gb), x.add(c[j] * G)));
        acc = M::madd(acc, hsum4x4(p), f16x4(dp.add(k)));
        if INT4 {
            let mut sv = f32x4_splat(*sx.add(c[0]));
            sv = f32x4_replace_lane::<1>(sv, *sx.add(c[1]));
            sv = f32x4_replace_lane::<2>(sv, *sx.add(c[2]));
            sv = f32x4_replace_lane::<3>(sv, *sx.add(c[3]));
            acc = M::madd(acc, sv, f16x4(mp.add(k)));
        }
        k += 4;
    }
    let mut y = hsum(acc);
    while k < k1 {
        let c = *cp.add(k) as usize;
        y += f16_finite(*dp.add(k)) * hsum(dot::<M, G, INT4>(qp.add(k * gb), x.add(c * G)));
        if INT4 {
            y += f16_finite(*mp.add(k)) * *sx.add(c);
        }
        k += 1;
    }
    y
}

/// Group GEMV: `W (d,n) @ x (n,) -> y (d,)` for `rows`.
pub(crate) unsafe fn gemv_group<M: Madd, const G: usize, const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Group(s) = &w.store else { return };
    // sx (n/G): Σx per group, once per call (n adds, vs 3 adds per kept group per row)
    let sx: Vec<f32> = if INT4 {
        x[..w.cols]
            .chunks_exact(G)
            .map(|g| g.iter().sum())
            .collect()
    } else {
        Vec::new()
    };
    for r in rows {
        *y.get_unchecked_mut(r) = row::<M, G, INT4>(s, x.as_ptr(), sx.as_ptr(), r);
    }
}

/// Group GEMM: `X (t,n) @ Wᵀ -> Y (t,d)` for `rows`, tiles of 4 tokens then single tokens.
pub(crate) unsafe fn gemm_group<M: Madd, const G: usize, const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Group(s) = &w.store else { return };
    sparse_gemm::<GroupRows<M, G, INT4>>(s, w, x, t, y, rows);
}

/// The group formats' GEMM rows: per group the weights are decoded once (`q·d + m`).
struct GroupRows<M, const G: usize, const INT4: bool>(PhantomData<M>);

/// Row `r` for tokens `t0..t0+T`: `Y[t0.., r] = X (T,n) @ W[r, :]ᵀ`.
impl<M: Madd, const G: usize, const INT4: bool> SparseGemmRow for GroupRows<M, G, INT4> {
    type Store = GroupStore;
    #[inline(always)]
    unsafe fn row<const T: usize>(a: Operands<GroupStore>, y: &mut [f32], r: usize, t0: usize) {
        let Operands { w: s, n, d, x } = a;
        let gb = G * if INT4 { 4 } else { 8 } / 8;
        let xp = x.as_ptr().add(t0 * n);
        let mut acc = [f32x4_splat(0.0); T];
        for k in *s.row_ptr.get_unchecked(r) as usize..*s.row_ptr.get_unchecked(r + 1) as usize {
            let mut wv = unpack::<G, INT4>(s.q.as_ptr().add(k * gb));
            let dv = f32x4_splat(f16_finite(*s.d.get_unchecked(k)));
            if INT4 {
                let mv = f32x4_splat(f16_finite(*s.m.get_unchecked(k)));
                wv = wv.map(|q| M::madd(mv, q, dv));
            } else {
                wv = wv.map(|q| f32x4_mul(q, dv));
            }
            let xo = *s.col.get_unchecked(k) as usize * G;
            for (i, a) in acc.iter_mut().enumerate() {
                let xg = xp.add(i * n + xo);
                for (j, &wj) in wv.iter().enumerate().take(G / 4) {
                    *a = M::madd(*a, wj, v128_load(xg.add(4 * j) as *const v128));
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            *y.get_unchecked_mut((t0 + i) * d + r) = hsum(*a);
        }
    }
}
