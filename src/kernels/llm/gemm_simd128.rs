//! SIMD128 dense GEMM on raw GGUF blocks, `X (t,n) @ Wᵀ -> Y (t,d)`, generic over the
//! multiply-add. Per row and 32-weight block the weights are decoded once to 8 f32 vectors
//! (`q·d + m`, `(q − 8)·d`, `q·d`) and used by a tile of T = 4 tokens (4 independent
//! accumulator chains); leftover tokens run with T = 1. Tiles are the outer loop so the
//! tile's rows of `x` stay in cache while all of W streams past.
//!
//! Safety (every kernel): as [`super::gemm::GemmFn`].

use super::block::{Block, Weights, F32};
use super::simd::{codes, dots, hsum, token_tiles, widen, Dense};
use crate::kernels::simd128::Madd;
use core::arch::wasm32::*;
use std::ops::Range;

/// One block → 8 f32 vectors of its 32 weights, in order: `q·d + m` (one multiply-add) for
/// the nibble formats, `q·d` for Q8_0.
#[inline(always)]
unsafe fn decode_block<M: Madd, B: Block>(blk: &B) -> [v128; 8] {
    let (d, m) = blk.dm();
    let (dv, mv) = (f32x4_splat(d), f32x4_splat(m));
    widen(codes(blk)).map(|q| {
        if B::NIBBLES {
            M::madd(mv, q, dv)
        } else {
            f32x4_mul(q, dv)
        }
    })
}

/// Row `r` of a weight format for tokens `t0 .. t0 + T`: `Y[t0.., r] = X (T,n) @ W[r, :]ᵀ`.
pub(crate) trait GemmRow: Weights {
    unsafe fn row<M: Madd, const T: usize>(a: Dense, y: &mut [f32], r: usize, t0: usize);
}

/// Any format with [`GemmRow`] (F32, Q4_0, Q4_1, Q8_0): tiles of 4 tokens, then single ones.
pub(crate) unsafe fn gemm<M: Madd, W: GemmRow>(
    w: &[u8],
    n: usize,
    d: usize,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let a = Dense { w, n, d, x };
    token_tiles::<4>(
        t,
        rows,
        y,
        |y, t0, r| W::row::<M, 4>(a, y, r, t0),
        |y, t0, r| W::row::<M, 1>(a, y, r, t0),
    );
}

/// Quantized blocks: each decoded once, used by all T tokens.
impl<B: Block> GemmRow for B {
    #[inline(always)]
    unsafe fn row<M: Madd, const T: usize>(a: Dense, y: &mut [f32], r: usize, t0: usize) {
        let Dense { w, n, d, x } = a;
        let row = w.as_ptr().add(r * B::TYPE.row_bytes(n)) as *const B;
        let xp = x.as_ptr().add(t0 * n);
        let mut acc = [f32x4_splat(0.0); T];
        for b in 0..n / 32 {
            let wv = decode_block::<M, B>(&*row.add(b));
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
}

/// F32: T dot products sharing each vector of the row (any `n`: a scalar tail for `n mod 4`).
impl GemmRow for F32 {
    #[inline(always)]
    unsafe fn row<M: Madd, const T: usize>(a: Dense, y: &mut [f32], r: usize, t0: usize) {
        let Dense { w, n, d, x } = a;
        let row = w.as_ptr().add(r * 4 * n) as *const f32;
        let v = dots::<M, T>(row, x.as_ptr().add(t0 * n), n, n);
        for (i, v) in v.into_iter().enumerate() {
            *y.get_unchecked_mut((t0 + i) * d + r) = v;
        }
    }
}
