//! SIMD128 sparse 1x1 in CHW: `Y (c_out, hw) = W_sparse (c_out, c_in) @ X (c_in, hw) + b`.
//!
//! A tile is MR = 4·MV pixels × NR output channels. Per stored position the kernel loads MV
//! vectors of `X` once and multiplies them into all NR channels of the block, so block sparsity
//! cuts input loads by NR. Pixels left over after the main tiles run through 16-, 8- and
//! 4-pixel tiles, then the scalar tile for the last 1–3 pixels.

use super::{clamp4, Madd};
use crate::kernels::{scalar, Clamp};
use crate::sparse::SpmmLayer;
use core::arch::wasm32::*;
use std::ops::Range;

/// Safety: as `scalar::spmm::spmm`; `layer.weights().nr() == NR`.
pub(crate) unsafe fn spmm<M: Madd, const MV: usize, const NR: usize>(
    layer: &SpmmLayer,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    pixels: Range<usize>,
) {
    let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
    let end = pixels.end;
    let mut p = pixels.start;
    while p + 4 * MV <= end {
        tile::<M, MV, NR>(layer, xp, yp, clamp, p);
        p += 4 * MV;
    }
    if MV > 4 && p + 16 <= end {
        tile::<M, 4, NR>(layer, xp, yp, clamp, p);
        p += 16;
    }
    if MV > 2 && p + 8 <= end {
        tile::<M, 2, NR>(layer, xp, yp, clamp, p);
        p += 8;
    }
    if MV > 1 && p + 4 <= end {
        tile::<M, 1, NR>(layer, xp, yp, clamp, p);
        p += 4;
    }
    while p < end {
        scalar::spmm::tile::<1, NR>(layer, xp, yp, clamp, p);
        p += 1;
    }
}

#[inline(always)]
unsafe fn tile<M: Madd, const MV: usize, const NR: usize>(
    layer: &SpmmLayer,
    x: *const f32,
    y: *mut f32,
    clamp: Clamp,
    p: usize,
) {
    let wts = layer.weights();
    let hw = layer.hw();
    let lo = f32x4_splat(clamp.min);
    let hi = f32x4_splat(clamp.max);
    let mut w = wts.values().as_ptr();
    let mut d = layer.byte_deltas().as_ptr();
    let mut xp = x.add(wts.first_ic() as usize * hw + p);
    let mut yp = y.add(p);
    let (full, tail) = wts.counts().split_at(wts.full_blocks());
    for &n in full {
        block::<M, MV, NR>(&mut w, &mut d, &mut xp, n, yp, hw, lo, hi);
        yp = yp.add(NR * hw);
    }
    for &n in tail {
        block::<M, MV, 1>(&mut w, &mut d, &mut xp, n, yp, hw, lo, hi);
        yp = yp.add(hw);
    }
}

/// One block: acc (NR, MV vectors) = bias; per stored position acc += X row · w; clamp, store.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn block<M: Madd, const MV: usize, const NR: usize>(
    w: &mut *const f32,
    d: &mut *const i32,
    xp: &mut *const f32,
    n: u32,
    yp: *mut f32,
    hw: usize,
    lo: v128,
    hi: v128,
) {
    let mut acc = [[f32x4_splat(0.0); MV]; NR];
    for (j, row) in acc.iter_mut().enumerate() {
        *row = [v128_load32_splat(w.add(j) as *const u32); MV];
    }
    *w = w.add(NR);
    for _ in 0..n {
        // Weights first, then each X vector is used by all NR channels as soon as it is loaded:
        // NR·MV accumulators + NR weights + one X vector stay in registers.
        let mut wv = [f32x4_splat(0.0); NR];
        for (j, wj) in wv.iter_mut().enumerate() {
            *wj = v128_load32_splat(w.add(j) as *const u32);
        }
        for v in 0..MV {
            let xv = v128_load(xp.add(4 * v) as *const v128);
            for j in 0..NR {
                acc[j][v] = M::madd(acc[j][v], xv, wv[j]);
            }
        }
        *xp = xp.byte_offset(**d as isize);
        *d = d.add(1);
        *w = w.add(NR);
    }
    for (j, row) in acc.iter().enumerate() {
        for (v, &a) in row.iter().enumerate() {
            v128_store(yp.add(j * hw + 4 * v) as *mut v128, clamp4(a, lo, hi));
        }
    }
}
