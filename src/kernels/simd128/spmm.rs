//! SIMD128 sparse 1x1 in CHW: `Y (c_out, hw) = W_sparse (c_out, c_in) @ X (c_in, hw) + b`.
//!
//! A tile is MR = 4·MV pixels × NR output channels. Per stored position the kernel loads MV
//! vectors of `X` once and multiplies them into all NR channels of the block, so block sparsity
//! cuts input loads by NR. Pixels left over after the main tiles run through 16-, 8- and
//! 4-pixel tiles, then the scalar tile for the last 1–3 pixels.

use super::{Epilogue, Madd};
use crate::kernels::{scalar, Clamp};
use crate::sparse::SpmmLayer;
use core::arch::wasm32::*;
use std::ops::Range;

/// Bytes of `X` a pixel chunk may span (about a quarter of a 1 MiB L2), so the rows one block
/// reads stay cached while the block sweeps the chunk's tiles.
const X_CHUNK_BYTES: usize = 256 * 1024;

/// Safety: as `scalar::spmm::spmm`; `layer.shape().nr == NR`.
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
    let hw = layer.hw();
    let mr = 4 * MV;
    let chunk = (X_CHUNK_BYTES / (4 * layer.shape().c_in)).max(mr) / mr * mr;
    let epi = Epilogue::new(clamp);
    let full = layer.shape().full_blocks();
    let mut c0 = pixels.start;
    while c0 < pixels.end {
        let c1 = (c0 + chunk).min(pixels.end);
        let mut s = layer.stream().as_ptr();
        let mut yrow = y.as_mut_ptr();
        for (b, (&n, &bx)) in layer.counts().iter().zip(layer.block_x()).enumerate() {
            let xrow = x.as_ptr().add(bx);
            let width = if b < full { NR } else { 1 };
            if width == NR {
                block_tiles::<M, MV, NR>(s, xrow, n, yrow, hw, c0..c1, epi, clamp);
            } else {
                block_tiles::<M, MV, 1>(s, xrow, n, yrow, hw, c0..c1, epi, clamp);
            }
            s = s.add(width + n as usize * (width + 1));
            yrow = yrow.add(width * hw);
        }
        c0 = c1;
    }
}

/// One output-channel block over the pixels `tiles`: full MR tiles, then 16-, 8- and 4-pixel
/// tiles, then the scalar tile for the last 1–3 pixels.
#[inline(always)]
unsafe fn block_tiles<M: Madd, const MV: usize, const NR: usize>(
    s: *const u32,
    xrow: *const f32,
    n: u32,
    yrow: *mut f32,
    hw: usize,
    tiles: Range<usize>,
    epi: Epilogue,
    clamp: Clamp,
) {
    let (mut xt, mut yt) = (xrow.add(tiles.start), yrow.add(tiles.start));
    let mut left = tiles.end - tiles.start;
    while left >= 4 * MV {
        block::<M, MV, NR>(s, xt, n, yt, hw, epi);
        (xt, yt, left) = (xt.add(4 * MV), yt.add(4 * MV), left - 4 * MV);
    }
    if MV > 4 && left >= 16 {
        block::<M, 4, NR>(s, xt, n, yt, hw, epi);
        (xt, yt, left) = (xt.add(16), yt.add(16), left - 16);
    }
    if MV > 2 && left >= 8 {
        block::<M, 2, NR>(s, xt, n, yt, hw, epi);
        (xt, yt, left) = (xt.add(8), yt.add(8), left - 8);
    }
    if MV > 1 && left >= 4 {
        block::<M, 1, NR>(s, xt, n, yt, hw, epi);
        (xt, yt, left) = (xt.add(4), yt.add(4), left - 4);
    }
    for i in 0..left {
        scalar::spmm::block::<1, NR>(s, xt.add(i), n, yt.add(i), hw, clamp);
    }
}

/// One block on 4·MV pixels: `s` points at its NR bias values, then `n` stored positions of NR
/// weights and a byte delta each; `x` at the block's first input row, this tile's pixel.
/// acc (NR, MV vectors) = bias; per position acc += X row · w; clamp; store.
#[inline(always)]
unsafe fn block<M: Madd, const MV: usize, const NR: usize>(
    s: *const u32,
    x: *const f32,
    n: u32,
    y: *mut f32,
    hw: usize,
    epi: Epilogue,
) {
    let mut acc = [[f32x4_splat(0.0); MV]; NR];
    for (j, row) in acc.iter_mut().enumerate() {
        *row = [v128_load32_splat(s.add(j)); MV];
    }
    let mut s = s.add(NR);
    let mut xp = x;
    for _ in 0..n {
        let mut wv = [f32x4_splat(0.0); NR];
        for (j, wj) in wv.iter_mut().enumerate() {
            *wj = v128_load32_splat(s.add(j));
        }
        for v in 0..MV {
            let xv = v128_load(xp.add(4 * v) as *const v128);
            for j in 0..NR {
                acc[j][v] = M::madd(acc[j][v], xv, wv[j]);
            }
        }
        xp = xp.byte_offset(*s.add(NR) as i32 as isize);
        s = s.add(NR + 1);
    }
    epi.store(&acc, y, hw, NR);
}
