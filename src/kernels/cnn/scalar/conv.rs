//! Scalar full conv (groups = 1), any window:
//! `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out) -> y (C_out, OH, OW)`.

use super::tap_ranges;
use crate::kernels::cnn::ConvWeights;
use crate::kernels::Clamp;
use std::ops::Range;

/// Safety: `x` holds `C_in·H·W` floats, `y` holds `C_out·OH·OW`, `out_channels ⊆ 0..C_out`.
pub(crate) unsafe fn conv_any(
    wts: &ConvWeights,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    out_channels: Range<usize>,
) {
    let p = wts.params();
    let g = p.geometry();
    let win = *g.window();
    let (c_in, h, w, oh, ow) = (p.c_in(), g.h(), g.w(), g.oh(), g.ow());
    let (kh, kw) = (win.kh, win.kw);
    let rows = tap_ranges(oh, h, kh, win.stride_h, win.dilation_h, win.pad_top);
    let cols = tap_ranges(ow, w, kw, win.stride_w, win.dilation_w, win.pad_left);
    for co in out_channels {
        let wo = wts.weights().as_ptr().add(co * c_in * kh * kw); // w[co] (C_in, KH, KW)
        let bias = *wts.bias().get_unchecked(co);
        let yo = y.as_mut_ptr().add(co * oh * ow); // y[co] (OH, OW)
        for (oy, (iy0, kys)) in rows.iter().enumerate() {
            for (ox, (ix0, kxs)) in cols.iter().enumerate() {
                let mut acc = bias;
                for ci in 0..c_in {
                    let xc = x.as_ptr().add(ci * h * w);
                    let wc = wo.add(ci * kh * kw);
                    for ky in kys.clone() {
                        let iy = (iy0 + (ky * win.dilation_h) as isize) as usize;
                        for kx in kxs.clone() {
                            let ix = (ix0 + (kx * win.dilation_w) as isize) as usize;
                            acc += *wc.add(ky * kw + kx) * *xc.add(iy * w + ix);
                        }
                    }
                }
                *yo.add(oy * ow + ox) = clamp.apply(acc);
            }
        }
    }
}
