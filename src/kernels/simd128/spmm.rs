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

/// Bytes of `X` a pixel chunk may span (about a quarter of a 1 MiB L2), so the rows one block
/// reads stay cached while the block sweeps the chunk's tiles.
const X_CHUNK_BYTES: usize = 256 * 1024;

/// Safety: as `scalar::spmm::spmm`; `layer.weights().nr() == NR`.
///
/// Loop order: pixel chunk → output-channel block → pixel tile. Sweeping all tiles of a chunk
/// for one block repeats the block's inner loop with the same trip count, so its exit branch
/// is predicted after the first tile; tile-outer order (XNNPACK's) mispredicts once per block
/// per tile.
pub(crate) unsafe fn spmm<M: Madd, const MV: usize, const NR: usize>(
    layer: &SpmmLayer,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    pixels: Range<usize>,
) {
    let wts = layer.weights();
    let hw = layer.hw();
    let mr = 4 * MV;
    let chunk = (X_CHUNK_BYTES / (4 * wts.c_in())).max(mr) / mr * mr;
    let (lo, hi) = (f32x4_splat(clamp.min), f32x4_splat(clamp.max));
    let full = wts.full_blocks();
    let mut c0 = pixels.start;
    while c0 < pixels.end {
        let c1 = (c0 + chunk).min(pixels.end);
        let mut w = wts.values().as_ptr();
        let mut d = layer.byte_deltas().as_ptr();
        let mut yrow = y.as_mut_ptr();
        for (b, (&n, &bx)) in wts.counts().iter().zip(layer.block_x()).enumerate() {
            let xrow = x.as_ptr().add(bx);
            if b < full {
                block_tiles::<M, MV, NR>(w, d, xrow, n, yrow, hw, c0..c1, lo, hi, clamp);
                w = w.add(NR * (1 + n as usize));
                yrow = yrow.add(NR * hw);
            } else {
                block_tiles::<M, MV, 1>(w, d, xrow, n, yrow, hw, c0..c1, lo, hi, clamp);
                w = w.add(1 + n as usize);
                yrow = yrow.add(hw);
            }
            d = d.add(n as usize);
        }
        c0 = c1;
    }
}

/// One output-channel block over the pixels `tiles`: full MR tiles, then 16-, 8- and 4-pixel
/// tiles, then the scalar tile for the last 1–3 pixels.
#[inline(always)]
unsafe fn block_tiles<M: Madd, const MV: usize, const NR: usize>(
    w: *const f32,
    d: *const i32,
    xrow: *const f32,
    n: u32,
    yrow: *mut f32,
    hw: usize,
    tiles: Range<usize>,
    lo: v128,
    hi: v128,
    clamp: Clamp,
) {
    let end = tiles.end;
    let mut p = tiles.start;
    while p + 4 * MV <= end {
        block::<M, MV, NR>(&mut { w }, &mut { d }, &mut xrow.add(p), n, yrow.add(p), hw, lo, hi);
        p += 4 * MV;
    }
    if MV > 4 && p + 16 <= end {
        block::<M, 4, NR>(&mut { w }, &mut { d }, &mut xrow.add(p), n, yrow.add(p), hw, lo, hi);
        p += 16;
    }
    if MV > 2 && p + 8 <= end {
        block::<M, 2, NR>(&mut { w }, &mut { d }, &mut xrow.add(p), n, yrow.add(p), hw, lo, hi);
        p += 8;
    }
    if MV > 1 && p + 4 <= end {
        block::<M, 1, NR>(&mut { w }, &mut { d }, &mut xrow.add(p), n, yrow.add(p), hw, lo, hi);
        p += 4;
    }
    while p < end {
        let xp = &mut xrow.add(p);
        scalar::spmm::block::<1, NR>(&mut { w }, &mut { d }, xp, n, yrow.add(p), hw, clamp);
        p += 1;
    }
}

/// One block: acc (NR, MV vectors) = bias; per stored position acc += X row · w; clamp, store.
#[inline(always)]
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
