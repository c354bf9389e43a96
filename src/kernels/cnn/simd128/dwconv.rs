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
                copy_row(xc.add(iy * w), pad.add(iy * pw + pl), w);
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
            let rows = Rows {
                pad,
                pw,
                h,
                pt,
                zero_row,
            };
            let mut oy = 0;
            while oy + 2 <= oh {
                row_group::<M, K, S, MV, 2>(&rows, &wv, bv, yc, oy, ow, epi, clamp);
                oy += 2;
            }
            if oy < oh {
                row_group::<M, K, S, MV, 1>(&rows, &wv, bv, yc, oy, ow, epi, clamp);
            }
        }
    })
}

/// `w` floats from `src` to `dst`. Inline vector moves: on 7- or 14-wide rows a
/// `memory.copy` per row costs more than the row's arithmetic.
#[inline(always)]
unsafe fn copy_row(src: *const f32, dst: *mut f32, w: usize) {
    let mut i = 0;
    while i + 4 <= w {
        v128_store(
            dst.add(i) as *mut v128,
            v128_load(src.add(i) as *const v128),
        );
        i += 4;
    }
    while i < w {
        *dst.add(i) = *src.add(i);
        i += 1;
    }
}

/// The zero-padded scratch plane of one channel: `pad (H, PW)` and a zero row.
struct Rows {
    pad: *mut f32,
    pw: usize,
    h: usize,
    pt: usize,
    zero_row: *const f32,
}

/// Output rows `oy..oy + R` of one channel, `ceil(ow / 4)` vectors per row taken MV at a time
/// (the row's last vector stored partially). Two rows at once share every input row they
/// both read, and give 2·MV independent accumulation chains: on small planes (7×7, 14×14)
/// a single row is one or two vectors wide and one chain's add latency would bound it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn row_group<M: Madd, const K: usize, const S: usize, const MV: usize, const R: usize>(
    p: &Rows,
    wv: &[[v128; K]; K],
    bv: v128,
    yc: *mut f32,
    oy: usize,
    ow: usize,
    epi: Epilogue,
    clamp: Clamp,
) {
    // Input rows oy·S − pt + j for j < (R − 1)·S + K (≤ 7 here), or the zero row.
    let mut rows = [p.zero_row; 8];
    for (j, r) in rows.iter_mut().enumerate().take((R - 1) * S + K) {
        let iy = (oy * S + j) as isize - p.pt as isize;
        if (0..p.h as isize).contains(&iy) {
            *r = p.pad.add(iy as usize * p.pw);
        }
    }
    let yr = yc.add(oy * ow); // y[c][oy..oy + R] (R, OW)
    let nv = ow.div_ceil(4);
    let mut v = 0;
    while v < nv {
        if v + MV <= nv {
            let acc = tile::<M, K, S, MV, R>(&rows, wv, bv, 4 * v);
            store(&acc, yr, 4 * v, ow, epi, clamp);
            v += MV;
        } else {
            let acc = tile::<M, K, S, 1, R>(&rows, wv, bv, 4 * v);
            store(&acc, yr, 4 * v, ow, epi, clamp);
            v += 1;
        }
    }
}

/// `acc (R, MV)` to outputs `ox..` of R consecutive rows of width `ow`; lanes past `ow` are
/// dropped.
#[inline(always)]
unsafe fn store<const MV: usize, const R: usize>(
    acc: &[[v128; MV]; R],
    yr: *mut f32,
    ox: usize,
    ow: usize,
    epi: Epilogue,
    clamp: Clamp,
) {
    if ox + 4 * MV <= ow {
        epi.store(acc, yr.add(ox), ow, R);
        return;
    }
    for (i, row) in acc.iter().enumerate() {
        for (v, &a) in row.iter().enumerate() {
            let o = ox + 4 * v;
            if o + 4 <= ow {
                epi.store(&[[a]], yr.add(i * ow + o), 0, 1);
            } else if o < ow {
                store_partial(a, yr.add(i * ow + o), ow - o, clamp);
            }
        }
    }
}

/// Outputs `ox..ox + 4·MV` of R consecutive rows: `rows[j]` is padded input row `oy·S + j`
/// (or the zero row). Each output gets its taps in the reference's order (ky, then kx): input
/// row j is kernel row `j − i·S` of output row i, and j only grows.
#[inline(always)]
unsafe fn tile<M: Madd, const K: usize, const S: usize, const MV: usize, const R: usize>(
    rows: &[*const f32; 8],
    wv: &[[v128; K]; K],
    bv: v128,
    ox: usize,
) -> [[v128; MV]; R] {
    let mut acc = [[bv; MV]; R];
    for (j, row) in rows.iter().enumerate().take((R - 1) * S + K) {
        let r = row.add(ox * S);
        let mut taps = [[f32x4_splat(0.0); K]; MV];
        for (v, t) in taps.iter_mut().enumerate() {
            *t = load_taps::<K, S>(r.add(4 * v * S));
        }
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let Some(ky) = j.checked_sub(i * S).filter(|&ky| ky < K) else {
                continue;
            };
            for kx in 0..K {
                for v in 0..MV {
                    acc_row[v] = M::madd(acc_row[v], taps[v][kx], wv[ky][kx]);
                }
            }
        }
    }
    acc
}
