//! SIMD128 dense 1x1 / GEMM in CHW: `Y (c_out, hw) = W (c_out, c_in) @ X (c_in, hw) + b` over
//! panel-packed weights. A tile is MR = 4·MV pixels × NR output channels: per input channel it
//! loads MV vectors of `X` and broadcasts NR weights, so MV·NR multiply-adds share MV + NR loads.
//!
//! Pixels are walked in column blocks sized so that the block of `X` (c_in × cols) stays in
//! cache while every panel of `W` passes over it.

use super::{Epilogue, Madd};
use crate::dense::DenseWeights;
use crate::kernels::{scalar, Clamp};
use core::arch::wasm32::*;
use std::ops::Range;

/// Bytes of `X` a column block may span: about half of a 1 MiB L2.
const X_BLOCK_BYTES: usize = 512 * 1024;

/// Safety: as `scalar::gemm::gemm`; the panel width is `NR`.
pub(crate) unsafe fn gemm<M: Madd, const MV: usize, const NR: usize>(
    wts: &DenseWeights,
    hw: usize,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    pixels: Range<usize>,
) {
    let k = wts.shape().c_in;
    let mr = 4 * MV;
    let cols = (X_BLOCK_BYTES / (4 * k)).max(mr) / mr * mr;
    let epi = Epilogue::new(clamp);
    let mut c0 = pixels.start;
    while c0 < pixels.end {
        let c1 = (c0 + cols).min(pixels.end);
        for (pi, panel) in wts.panels().chunks_exact(wts.panel_len()).enumerate() {
            let rows = NR.min(wts.shape().c_out - pi * NR);
            let wp = panel.as_ptr();
            let yp = y.as_mut_ptr().add(pi * NR * hw);
            let xp = x.as_ptr();
            let mut p = c0;
            while p + mr <= c1 {
                tile::<M, MV, NR>(wp, xp.add(p), yp.add(p), hw, k, rows, epi);
                p += mr;
            }
            if MV > 2 && p + 8 <= c1 {
                tile::<M, 2, NR>(wp, xp.add(p), yp.add(p), hw, k, rows, epi);
                p += 8;
            }
            if MV > 1 && p + 4 <= c1 {
                tile::<M, 1, NR>(wp, xp.add(p), yp.add(p), hw, k, rows, epi);
                p += 4;
            }
            while p < c1 {
                scalar::gemm::tile::<1, NR>(wp, xp.add(p), yp.add(p), hw, k, rows, clamp);
                p += 1;
            }
        }
        c0 = c1;
    }
}

/// `panel (1 + k, NR)` @ `X[:, p..p+4·MV]` (row stride hw) -> `Y[..rows, p..p+4·MV]`.
#[inline(always)]
unsafe fn tile<M: Madd, const MV: usize, const NR: usize>(
    panel: *const f32,
    x: *const f32,
    y: *mut f32,
    hw: usize,
    k: usize,
    rows: usize,
    epi: Epilogue,
) {
    let mut acc = [[f32x4_splat(0.0); MV]; NR];
    for (j, row) in acc.iter_mut().enumerate() {
        *row = [v128_load32_splat(panel.add(j) as *const u32); MV];
    }
    let mut xr = x;
    let mut wr = panel.add(NR);
    for _ in 0..k {
        let mut xv = [f32x4_splat(0.0); MV];
        for (v, xq) in xv.iter_mut().enumerate() {
            *xq = v128_load(xr.add(4 * v) as *const v128);
        }
        for (j, row) in acc.iter_mut().enumerate() {
            let wj = v128_load32_splat(wr.add(j) as *const u32);
            for v in 0..MV {
                row[v] = M::madd(row[v], xv[v], wj);
            }
        }
        xr = xr.add(hw);
        wr = wr.add(NR);
    }
    epi.store(&acc, y, hw, rows);
}
