//! SIMD128 depthwise conv, K×K at stride S (K ∈ {3, 5}, S ∈ {1, 2}), any padding, no
//! dilation: `x (C, H, W) * w (C, K, K) + b (C) -> y (C, OH, OW)`.
//!
//! Vectorized along the output width, 4·MV outputs of one row per tile. Each channel's plane
//! is first copied into a scratch plane whose rows carry the left / right zero padding plus
//! slack past the last output vector, so tiles have no column borders at all and the row's
//! last 1–3 outputs are one more full-vector tile stored partially; kernel rows above or below
//! the input read a zero row. A padding tap adds `w · 0 = ±0`, which leaves every sum equal to
//! the reference's (which skips it), so the `MulAdd` kernels match it exactly.
//! The copy is one load and store per input, against K²/S² multiply-adds per input.

use super::{load_taps, padded_width, store_partial};
use crate::kernels::cnn::DwConvWeights;
use crate::kernels::simd128::{Epilogue, Madd};
use crate::kernels::Clamp;
use core::arch::wasm32::*;
use std::ops::Range;

/// Safety: as `scalar::dwconv::dwconv_any`, and the window is K×K, stride S, no dilation.
pub(crate) unsafe fn dwconv<M: Madd, const K: usize, const S: usize, const MV: usize>(
    wts: &DwConvWeights,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    channels: Range<usize>,
) {
    let g = wts.params().geometry();
    let win = g.window();
    let (h, w, oh, ow) = (g.h(), g.w(), g.oh(), g.ow());
    let (pt, pl) = (win.pad_top, win.pad_left);
    let pw = padded_width(K, S, pl + w, ow);
    // pad (H, PW) then one zero row (PW): written only at [pl, pl + w) of each of the H rows.
    super::with_zeroed_scratch((h + 1) * pw, |scratch| {
        let pad = scratch.as_mut_ptr();
        let zero_row = pad.add(h * pw) as *const f32;
        let epi = Epilogue::new(clamp);
        for c in channels {
            let xc = x.as_ptr().add(c * h * w); // x[c] (H, W)
            for iy in 0..h {
                core::ptr::copy_nonoverlapping(xc.add(iy * w), pad.add(iy * pw + pl), w);
            }
            let wc = wts.weights().as_ptr().add(c * K * K); // w[c] (K, K)
            let mut wv = [[f32x4_splat(0.0); K]; K];
            for (ky, row) in wv.iter_mut().enumerate() {
                for (kx, v) in row.iter_mut().enumerate() {
                    *v = v128_load32_splat(wc.add(ky * K + kx) as *const u32);
                }
            }
            let bv = f32x4_splat(*wts.bias().get_unchecked(c));
            let yc = y.as_mut_ptr().add(c * oh * ow); // y[c] (OH, OW)
            for oy in 0..oh {
                let mut rows = [zero_row; K];
                for (ky, r) in rows.iter_mut().enumerate() {
                    let iy = (oy * S + ky) as isize - pt as isize;
                    if (0..h as isize).contains(&iy) {
                        *r = pad.add(iy as usize * pw);
                    }
                }
                let yr = yc.add(oy * ow);
                let mut ox = 0;
                while ox + 4 * MV <= ow {
                    let acc = tile::<M, K, S, MV>(&rows, &wv, bv, ox);
                    epi.store(&[acc], yr.add(ox), 0, 1);
                    ox += 4 * MV;
                }
                while ox + 4 <= ow {
                    let acc = tile::<M, K, S, 1>(&rows, &wv, bv, ox);
                    epi.store(&[acc], yr.add(ox), 0, 1);
                    ox += 4;
                }
                if ox < ow {
                    let [acc] = tile::<M, K, S, 1>(&rows, &wv, bv, ox);
                    store_partial(acc, yr.add(ox), ow - ox, clamp);
                }
            }
        }
    })
}

/// Outputs `ox..ox + 4·MV` of one row: `rows[ky]` is padded input row `oy·S + ky` (or the
/// zero row). Taps are added in the reference's order (ky, then kx) per output; the MV
/// vectors are interleaved so their dependency chains overlap.
#[inline(always)]
unsafe fn tile<M: Madd, const K: usize, const S: usize, const MV: usize>(
    rows: &[*const f32; K],
    wv: &[[v128; K]; K],
    bv: v128,
    ox: usize,
) -> [v128; MV] {
    let mut acc = [bv; MV];
    for ky in 0..K {
        let r = rows[ky].add(ox * S);
        let mut taps = [[f32x4_splat(0.0); K]; MV];
        for (v, t) in taps.iter_mut().enumerate() {
            *t = load_taps::<K, S>(r.add(4 * v * S));
        }
        for kx in 0..K {
            for v in 0..MV {
                acc[v] = M::madd(acc[v], taps[v][kx], wv[ky][kx]);
            }
        }
    }
    acc
}
