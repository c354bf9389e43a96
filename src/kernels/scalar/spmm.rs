//! Scalar sparse 1x1 in CHW: `Y (c_out, hw) = W_sparse (c_out, c_in) @ X (c_in, hw) + b`.
//! A tile is MR pixels × NR output channels; the packed stream's deltas step the input pointer.

use crate::kernels::Clamp;
use crate::sparse::SpmmLayer;
use std::ops::Range;

/// Safety: `x` holds `c_in · hw` floats, `y` holds `c_out · hw`, `pixels ⊆ 0..hw`, the layer's
/// `nr` is `NR`. `SpmmLayer` guarantees every delta stays inside `X`.
pub(crate) unsafe fn spmm<const MR: usize, const NR: usize>(
    layer: &SpmmLayer,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    pixels: Range<usize>,
) {
    let mut p = pixels.start;
    while p + MR <= pixels.end {
        tile::<MR, NR>(layer, x.as_ptr(), y.as_mut_ptr(), clamp, p);
        p += MR;
    }
    while p < pixels.end {
        tile::<1, NR>(layer, x.as_ptr(), y.as_mut_ptr(), clamp, p);
        p += 1;
    }
}

/// One MR-pixel tile at pixel `p` across all output-channel blocks.
#[inline(always)]
pub(crate) unsafe fn tile<const MR: usize, const NR: usize>(
    layer: &SpmmLayer,
    x: *const f32,
    y: *mut f32,
    clamp: Clamp,
    p: usize,
) {
    let wts = layer.weights();
    let hw = layer.hw();
    let mut w = wts.values().as_ptr();
    let mut d = layer.byte_deltas().as_ptr();
    let mut xp = x.add(wts.first_ic() as usize * hw + p);
    let mut yp = y.add(p);
    let (full, tail) = wts.counts().split_at(wts.full_blocks());
    for &n in full {
        block::<MR, NR>(&mut w, &mut d, &mut xp, n, yp, hw, clamp);
        yp = yp.add(NR * hw);
    }
    for &n in tail {
        block::<MR, 1>(&mut w, &mut d, &mut xp, n, yp, hw, clamp);
        yp = yp.add(hw);
    }
}

/// One block: bias (NR), then `n` stored positions of NR values each.
#[inline(always)]
pub(crate) unsafe fn block<const MR: usize, const NR: usize>(
    w: &mut *const f32,
    d: &mut *const i32,
    xp: &mut *const f32,
    n: u32,
    yp: *mut f32,
    hw: usize,
    clamp: Clamp,
) {
    let mut acc = [[0.0f32; MR]; NR];
    for (j, row) in acc.iter_mut().enumerate() {
        *row = [*w.add(j); MR];
    }
    *w = w.add(NR);
    for _ in 0..n {
        let mut xv = [0.0f32; MR];
        for (i, v) in xv.iter_mut().enumerate() {
            *v = *xp.add(i);
        }
        *xp = xp.byte_offset(**d as isize);
        *d = d.add(1);
        for (j, row) in acc.iter_mut().enumerate() {
            let wj = *w.add(j);
            for i in 0..MR {
                row[i] += xv[i] * wj;
            }
        }
        *w = w.add(NR);
    }
    for (j, row) in acc.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            *yp.add(j * hw + i) = clamp.apply(v);
        }
    }
}
