//! Scalar dense 1x1 / GEMM in CHW: `Y (c_out, hw) = W (c_out, c_in) @ X (c_in, hw) + b` over
//! panel-packed weights, tiles of MR pixels × NR output channels.

use crate::dense::DenseWeights;
use crate::kernels::Clamp;
use std::ops::Range;

/// Safety: `x` holds `c_in · hw` floats, `y` holds `c_out · hw`, `pixels ⊆ 0..hw`, the panel
/// width is `NR`.
pub(crate) unsafe fn gemm<const MR: usize, const NR: usize>(
    wts: &DenseWeights,
    hw: usize,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    pixels: Range<usize>,
) {
    let k = wts.shape().c_in;
    for (pi, panel) in wts.panels().chunks_exact(wts.panel_len()).enumerate() {
        let rows = NR.min(wts.shape().c_out - pi * NR);
        let yp = y.as_mut_ptr().add(pi * NR * hw);
        let (wp, xp) = (panel.as_ptr(), x.as_ptr());
        super::tiles::<MR, _>(
            pixels.clone(),
            &mut (),
            |_, p| tile::<MR, NR>(wp, xp.add(p), yp.add(p), hw, k, rows, clamp),
            |_, p| tile::<1, NR>(wp, xp.add(p), yp.add(p), hw, k, rows, clamp),
        );
    }
}

/// `panel (1 + k, NR)` @ `X[:, p..p+MR]` (row stride hw) -> `Y[rows, p..p+MR]`.
#[inline(always)]
pub(crate) unsafe fn tile<const MR: usize, const NR: usize>(
    panel: *const f32,
    x: *const f32,
    y: *mut f32,
    hw: usize,
    k: usize,
    rows: usize,
    clamp: Clamp,
) {
    let mut acc = [[0.0f32; MR]; NR];
    for (j, row) in acc.iter_mut().enumerate() {
        *row = [*panel.add(j); MR];
    }
    for kk in 0..k {
        let xr = x.add(kk * hw);
        let wr = panel.add((1 + kk) * NR);
        for (j, row) in acc.iter_mut().enumerate() {
            let wj = *wr.add(j);
            for i in 0..MR {
                row[i] += *xr.add(i) * wj;
            }
        }
    }
    for (j, row) in acc.iter().enumerate().take(rows) {
        for (i, &v) in row.iter().enumerate() {
            *y.add(j * hw + i) = clamp.apply(v);
        }
    }
}
