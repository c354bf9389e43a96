//! Scalar sparse 1x1 in CHW: `Y (c_out, hw) = W_sparse (c_out, c_in) @ X (c_in, hw) + b`.
//! A tile is MR pixels × NR output channels; the layer's stream steps the input pointer.

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
    let hw = layer.hw();
    let mut s = layer.stream().as_ptr();
    let mut yrow = y.as_mut_ptr();
    for (b, (&n, &bx)) in layer.counts().iter().zip(layer.block_x()).enumerate() {
        let xrow = x.as_ptr().add(bx);
        let width = if b < layer.shape().full_blocks() {
            NR
        } else {
            1
        };
        let (xp, yp) = (xrow, yrow);
        match width {
            1 => super::tiles::<MR, _>(
                pixels.clone(),
                &mut (),
                |_, p| block::<MR, 1>(s, xp.add(p), n, yp.add(p), hw, clamp),
                |_, p| block::<1, 1>(s, xp.add(p), n, yp.add(p), hw, clamp),
            ),
            _ => super::tiles::<MR, _>(
                pixels.clone(),
                &mut (),
                |_, p| block::<MR, NR>(s, xp.add(p), n, yp.add(p), hw, clamp),
                |_, p| block::<1, NR>(s, xp.add(p), n, yp.add(p), hw, clamp),
            ),
        }
        s = s.add(width + n as usize * (width + 1));
        yrow = yrow.add(width * hw);
    }
}

/// One block on MR pixels: `s` points at its NR bias values, followed by `n` stored positions
/// of NR weights and a byte delta each; `x` at the block's first input row, pixel `p`.
#[inline(always)]
pub(crate) unsafe fn block<const MR: usize, const NR: usize>(
    s: *const u32,
    x: *const f32,
    n: u32,
    y: *mut f32,
    hw: usize,
    clamp: Clamp,
) {
    let mut acc = [[0.0f32; MR]; NR];
    for (j, row) in acc.iter_mut().enumerate() {
        *row = [f32::from_bits(*s.add(j)); MR];
    }
    let mut s = s.add(NR);
    let mut xp = x;
    for _ in 0..n {
        let mut xv = [0.0f32; MR];
        for (i, v) in xv.iter_mut().enumerate() {
            *v = *xp.add(i);
        }
        for (j, row) in acc.iter_mut().enumerate() {
            let wj = f32::from_bits(*s.add(j));
            for i in 0..MR {
                row[i] += xv[i] * wj;
            }
        }
        xp = xp.byte_offset(*s.add(NR) as i32 as isize);
        s = s.add(NR + 1);
    }
    for (j, row) in acc.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            *y.add(j * hw + i) = clamp.apply(v);
        }
    }
}
