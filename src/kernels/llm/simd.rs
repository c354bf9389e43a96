//! The SIMD128 building blocks every LLM kernel shares, each written once: the horizontal sum,
//! f16 scales to lanes, code widening (nibbles, i8 → f32), a [`Block`]'s codes, and the token
//! tile driver for GEMMs over [`tiles`] (the crate's one driver: `T` rows or tokens at a time,
//! then the remainder one at a time).
//!
//! f16 scales go through the branch-free [`super::f16_finite`] (in-vector here, [`f16x4`]):
//! exact for every finite half, and block and group scales are checked finite when a tensor is
//! loaded or packed, so the kernels never pay for a general conversion in their inner loops.

use super::block::Block;
pub(crate) use crate::kernels::scalar::tiles;
use crate::kernels::simd128::Madd;
use crate::sparse::llm::SparseMatrix;
use core::arch::wasm32::*;
use std::ops::Range;

/// `(a0 + a2) + (a1 + a3)`.
#[inline(always)]
pub(crate) unsafe fn hsum(v: v128) -> f32 {
    let s = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s)
}

/// 4 halves at `p` → 4 f32 lanes (finite halves, as [`super::f16_finite`]).
#[inline(always)]
pub(crate) unsafe fn f16x4(p: *const u16) -> v128 {
    let h = u32x4_extend_low_u16x8(v128_load64_zero(p as *const u64));
    let mag = i32x4_shl(v128_and(h, u32x4_splat(0x7fff)), 13);
    let mag = f32x4_mul(mag, f32x4_splat(f32::from_bits(0x7780_0000))); // 2^112
    v128_or(mag, i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16))
}

/// 16 bytes of nibbles → (low nibbles, high nibbles), each 16 u8 lanes in 0..16.
#[inline(always)]
pub(crate) unsafe fn nibbles(q: v128) -> (v128, v128) {
    (v128_and(q, u8x16_splat(15)), u8x16_shr(q, 4))
}

/// i8x16 → two i16x8 (lanes 0..8, 8..16). Also right for u8 lanes below 128 (nibbles).
#[inline(always)]
pub(crate) unsafe fn i8_to_i16(v: v128) -> [v128; 2] {
    [i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v)]
}

/// i16x8 → two f32x4 (lanes 0..4, 4..8).
#[inline(always)]
pub(crate) unsafe fn i16_to_f32(v: v128) -> [v128; 2] {
    [
        f32x4_convert_i32x4(i32x4_extend_low_i16x8(v)),
        f32x4_convert_i32x4(i32x4_extend_high_i16x8(v)),
    ]
}

/// Four i16x8 → eight f32x4, in order (values 4i .. 4i + 4 in `[i]`).
#[inline(always)]
pub(crate) unsafe fn widen(c: [v128; 4]) -> [v128; 8] {
    let mut out = [f32x4_splat(0.0); 8];
    for (i, v) in c.into_iter().enumerate() {
        [out[2 * i], out[2 * i + 1]] = i16_to_f32(v);
    }
    out
}

/// i8x16 → four f32x4, in order.
#[inline(always)]
pub(crate) unsafe fn i8x16_to_f32(v: v128) -> [v128; 4] {
    let [a, b] = i8_to_i16(v);
    let ([a0, a1], [b0, b1]) = (i16_to_f32(a), i16_to_f32(b));
    [a0, a1, b0, b1]
}

/// A block's 32 codes as four i16x8 (weights 0..8, 8..16, 16..24, 24..32): nibbles split
/// low/high (weight j and j + 16 share byte j), or the 32 i8 codes.
#[inline(always)]
pub(crate) unsafe fn codes<B: Block>(blk: &B) -> [v128; 4] {
    let q = blk.qs().as_ptr();
    let (a, b) = if B::NIBBLES {
        nibbles(v128_load(q as *const v128))
    } else {
        (
            v128_load(q as *const v128),
            v128_load(q.add(16) as *const v128),
        )
    };
    let ([a0, a1], [b0, b1]) = (i8_to_i16(a), i8_to_i16(b));
    [a0, a1, b0, b1]
}

/// The operands of a row body: `W` (`d` rows of `n` weights, as the format stores them: GGUF
/// bytes or a sparse store), `x` (t, n), and `d`, the row stride of `Y (t, d)` (GEMM only).
pub(crate) struct Operands<'a, S: ?Sized> {
    pub w: &'a S,
    pub n: usize,
    pub d: usize,
    pub x: &'a [f32],
}

impl<S: ?Sized> Clone for Operands<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: ?Sized> Copy for Operands<'_, S> {}

/// A dense format's operands: `W` is GGUF bytes.
pub(crate) type Dense<'a> = Operands<'a, [u8]>;

/// `K` f32 dot products of length `n` sharing one operand: `out[i] = Σ_k a[k]·b[i·stride + k]`
/// (`a`: one row of `x` against K rows of W in GEMV, one row of W against K tokens in GEMM).
/// Vectors of 4 with one accumulator per product, then a scalar tail for `n mod 4`. The
/// pointers may be unaligned (rows of f32 inside a byte buffer).
#[inline(always)]
pub(crate) unsafe fn dots<M: Madd, const K: usize>(
    a: *const f32,
    b: *const f32,
    stride: usize,
    n: usize,
) -> [f32; K] {
    let mut acc = [f32x4_splat(0.0); K];
    let n4 = n / 4 * 4;
    let mut k = 0;
    while k < n4 {
        let av = v128_load(a.add(k) as *const v128);
        for (i, s) in acc.iter_mut().enumerate() {
            *s = M::madd(*s, v128_load(b.add(i * stride + k) as *const v128), av);
        }
        k += 4;
    }
    std::array::from_fn(|i| {
        let mut s = hsum(acc[i]);
        for kk in n4..n {
            s += b.add(i * stride + kk).read_unaligned() * a.add(kk).read_unaligned();
        }
        s
    })
}

/// The GEMM driver: tiles of `T` tokens outermost (so the tile's rows of `x` stay in cache
/// while all of W streams past), each over every row in `rows`: `tile(y, t0, r)` for whole
/// tiles, then `one(y, t0, r)` for the tokens left.
#[inline(always)]
pub(crate) fn token_tiles<const T: usize>(
    t: usize,
    rows: Range<usize>,
    y: &mut [f32],
    mut tile: impl FnMut(&mut [f32], usize, usize),
    mut one: impl FnMut(&mut [f32], usize, usize),
) {
    tiles::<T, _>(
        0..t,
        y,
        |y, t0| rows.clone().for_each(|r| tile(y, t0, r)),
        |y, t0| rows.clone().for_each(|r| one(y, t0, r)),
    );
}

/// A sparse format's GEMM row body: row `r` of `Y` for tokens `t0 .. t0 + T`, from its store.
pub(crate) trait SparseGemmRow {
    type Store;
    unsafe fn row<const T: usize>(a: Operands<Self::Store>, y: &mut [f32], r: usize, t0: usize);
}

/// A sparse GEMM, `X (t,n) @ Wᵀ -> Y (t,d)` for `rows`, over the store `s` of `w`: tiles of 4
/// tokens, then single tokens ([`token_tiles`]). Safety: as [`super::sparse::SparseFn`].
#[inline(always)]
pub(crate) unsafe fn sparse_gemm<K: SparseGemmRow>(
    s: &K::Store,
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let a = Operands {
        w: s,
        n: w.cols,
        d: w.rows,
        x,
    };
    token_tiles::<4>(
        t,
        rows,
        y,
        |y, t0, r| K::row::<4>(a, y, r, t0),
        |y, t0, r| K::row::<1>(a, y, r, t0),
    );
}
