//! Scalar depthwise conv, any window: `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`.

use super::tap_ranges;
use crate::kernels::cnn::DwConvWeights;
use crate::kernels::Clamp;
use std::ops::Range;

/// Safety: `x` holds `C·H·W` floats, `y` holds `C·OH·OW`, `channels ⊆ 0..C` (the registry's
/// `run_dwconv` checks all three; the params were checked when the weights were packed).
pub(crate) unsafe fn dwconv_any(
    wts: &DwConvWeights,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
    channels: Range<usize>,
) {
    let g = wts.params().geometry();
    let win = *g.window();
    let (h, w, oh, ow) = (g.h(), g.w(), g.oh(), g.ow());
    let (kh, kw) = (win.kh, win.kw);
    // Which taps of each output row / column are real: computed once, not per output.
    let rows = tap_ranges(oh, h, kh, win.stride_h, win.dilation_h, win.pad_top);
    let cols = tap_ranges(ow, w, kw, win.stride_w, win.dilation_w, win.pad_left);
    for c in channels {
        let xc = x.as_ptr().add(c * h * w); // x[c] (H, W)
        let wc = wts.weights().as_ptr().add(c * kh * kw); // w[c] (KH, KW)
        let bias = *wts.bias().get_unchecked(c);
        let yc = y.as_mut_ptr().add(c * oh * ow); // y[c] (OH, OW)
        for (oy, (iy0, kys)) in rows.iter().enumerate() {
            for (ox, (ix0, kxs)) in cols.iter().enumerate() {
                let mut acc = bias;
                for ky in kys.clone() {
                    let iy = (iy0 + (ky * win.dilation_h) as isize) as usize;
                    let xr = xc.add(iy * w);
                    for kx in kxs.clone() {
                        let ix = (ix0 + (kx * win.dilation_w) as isize) as usize;
                        acc += *wc.add(ky * kw + kx) * *xr.add(ix);
                    }
                }
                *yc.add(oy * ow + ox) = clamp.apply(acc);
            }
        }
    }
}
