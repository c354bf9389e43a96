//! SIMD128 full conv (groups = 1), K×K at stride S (K = 3, S ∈ {1, 2}), any padding, no
//! dilation: `x (C_in, H, W) * w (C_out, C_in, K, K) + b (C_out) -> y (C_out, OH, OW)`.
//! The network stem: C_in = 3, C_out = 16–32, the largest plane in the network.
//!
//! Per output row the C_in·K input rows it needs are copied into zero-padded scratch rows
//! (as in `dwconv`; rows outside the input are all zeros). A tile is 4 outputs × NR output
//! channels: each tap's input vector is loaded (stride 2: deinterleaved) once and multiplied
//! into NR accumulators, so NR independent chains hide the add latency.

use super::{load_taps, padded_width, store_partial};
use crate::kernels::cnn::ConvWeights;
use crate::kernels::simd128::{Epilogue, Madd};
use crate::kernels::Clamp;
use core::arch::wasm32::*;
use std::ops::Range;

/// Safety: as `scalar::conv::conv_any`, and the window is K×K, stride S, no dilation.
pub(crate) unsafe fn conv<M: Madd, const K: usize, const S: usize, const NR: usize>(
    wts: &ConvWeights,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    out_channels: Range<usize>,
) {
    let p = wts.params();
    let g = p.geometry();
    let win = g.window();
    let (c_in, h, w, oh, ow) = (p.c_in(), g.h(), g.w(), g.oh(), g.ow());
    let (pt, pl) = (win.pad_top, win.pad_left);
    let pw = padded_width(K, S, pl + w, ow);
    // rows (C_in, K, PW): input rows oy·S + ky - pt of every input channel, zero-padded.
    super::with_zeroed_scratch(c_in * K * pw, |scratch| {
        let rows = scratch.as_mut_ptr();
        let epi = Epilogue::new(clamp);
        let ohw = oh * ow;
        for oy in 0..oh {
            for ci in 0..c_in {
                for ky in 0..K {
                    let dst = rows.add((ci * K + ky) * pw + pl);
                    let iy = (oy * S + ky) as isize - pt as isize;
                    if (0..h as isize).contains(&iy) {
                        let src = x.as_ptr().add((ci * h + iy as usize) * w);
                        core::ptr::copy_nonoverlapping(src, dst, w);
                    } else {
                        core::ptr::write_bytes(dst, 0, w);
                    }
                }
            }
            let row = OutRow {
                wts,
                rows,
                pw,
                c_in,
                y: y.as_mut_ptr(),
                oy,
                ow,
                ohw,
                epi,
                clamp,
            };
            crate::kernels::scalar::tiles::<NR, _>(
                out_channels.clone(),
                &mut (),
                |_, co| block::<M, K, S, NR>(&row, co),
                |_, co| block::<M, K, S, 1>(&row, co),
            );
        }
    })
}

/// One output row `oy` for every output channel: the scratch `rows (C_in, K, pw)` it reads and
/// where it writes (`y` (C_out, OH, OW), `ohw` = OH·OW).
struct OutRow<'a> {
    wts: &'a ConvWeights,
    rows: *const f32,
    pw: usize,
    c_in: usize,
    y: *mut f32,
    oy: usize,
    ow: usize,
    ohw: usize,
    epi: Epilogue,
    clamp: Clamp,
}

/// Output row `oy` of channels `co..co + NB`, 4 outputs at a time.
#[inline(always)]
unsafe fn block<M: Madd, const K: usize, const S: usize, const NB: usize>(row: &OutRow, co: usize) {
    let &OutRow {
        wts,
        rows,
        pw,
        c_in,
        y,
        oy,
        ow,
        ohw,
        epi,
        clamp,
    } = row;
    let taps_per_co = c_in * K * K;
    let wb = wts.weights().as_ptr().add(co * taps_per_co); // w[co..co+NB] (NB, C_in·K·K)
    let mut bv = [f32x4_splat(0.0); NB];
    for (j, b) in bv.iter_mut().enumerate() {
        *b = f32x4_splat(*wts.bias().get_unchecked(co + j));
    }
    let yb = y.add(co * ohw + oy * ow); // y[co..co+NB][oy] (NB rows, stride OH·OW)
    let mut ox = 0;
    while ox < ow {
        let mut acc = [[f32x4_splat(0.0); 1]; NB];
        for j in 0..NB {
            acc[j][0] = bv[j];
        }
        for t in 0..c_in * K {
            // t = ci·K + ky: one kernel row of one input channel.
            let taps = load_taps::<K, S>(rows.add(t * pw + ox * S));
            for (kx, &tap) in taps.iter().enumerate() {
                for j in 0..NB {
                    let wj = v128_load32_splat(wb.add(j * taps_per_co + t * K + kx) as *const u32);
                    acc[j][0] = M::madd(acc[j][0], tap, wj);
                }
            }
        }
        if ox + 4 <= ow {
            epi.store(&acc, yb.add(ox), ohw, NB);
        } else {
            for j in 0..NB {
                store_partial(acc[j][0], yb.add(j * ohw + ox), ow - ox, clamp);
            }
        }
        ox += 4;
    }
}
