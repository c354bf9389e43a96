//! Scalar pools and softmax: `x (C, H, W) -> y (C, OH, OW)` and `x (n) -> y (n)`.
//! Pools are a handful of layers per network (or none), so they are not vectorized.

use super::tap_ranges;
use crate::kernels::cnn::PoolParams;
use std::ops::Range;

/// Average pool over the real inputs under each window (`count_include_pad = 0`).
/// Safety: `x` holds `C·H·W` floats, `y` holds `C·OH·OW`, `channels ⊆ 0..C`.
pub(crate) unsafe fn avg_pool(p: &PoolParams, x: &[f32], y: &mut [f32], channels: Range<usize>) {
    pool(p, x, y, channels, |xc, w, rows, cols| {
        let mut s = 0.0f32;
        for iy in rows.clone() {
            for ix in cols.clone() {
                s += *xc.add(iy * w + ix);
            }
        }
        // PoolParams has no dilation, so neither range is empty.
        s / (rows.len() * cols.len()) as f32
    })
}

/// Max pool. Safety: as `avg_pool`.
pub(crate) unsafe fn max_pool(p: &PoolParams, x: &[f32], y: &mut [f32], channels: Range<usize>) {
    pool(p, x, y, channels, |xc, w, rows, cols| {
        let mut m = f32::NEG_INFINITY;
        for iy in rows {
            for ix in cols.clone() {
                let v = *xc.add(iy * w + ix);
                if v > m {
                    m = v;
                }
            }
        }
        m
    })
}

/// Walks every output of `channels`, handing `reduce` the channel plane `(H, W)`, its width and
/// the input rows and columns under the window that are not padding.
#[inline(always)]
unsafe fn pool(
    p: &PoolParams,
    x: &[f32],
    y: &mut [f32],
    channels: Range<usize>,
    reduce: impl Fn(*const f32, usize, Range<usize>, Range<usize>) -> f32,
) {
    let g = p.geometry();
    let win = g.window();
    let (h, w, oh, ow) = (g.h(), g.w(), g.oh(), g.ow());
    // No dilation: tap t of an output whose window starts at `first` reads input first + t.
    let real = |(first, taps): &(isize, Range<usize>)| {
        (first + taps.start as isize) as usize..(first + taps.end as isize) as usize
    };
    let rows: Vec<_> = tap_ranges(oh, h, win.kh, win.stride_h, 1, win.pad_top)
        .iter()
        .map(real)
        .collect();
    let cols: Vec<_> = tap_ranges(ow, w, win.kw, win.stride_w, 1, win.pad_left)
        .iter()
        .map(real)
        .collect();
    for c in channels {
        let xc = x.as_ptr().add(c * h * w); // x[c] (H, W)
        let yc = y.as_mut_ptr().add(c * oh * ow); // y[c] (OH, OW)
        for (oy, r) in rows.iter().enumerate() {
            for (ox, q) in cols.iter().enumerate() {
                *yc.add(oy * ow + ox) = reduce(xc, w, r.clone(), q.clone());
            }
        }
    }
}

/// Numerically stable softmax: `y_i = e^(x_i - max) / Σ e^(x_j - max)`. `x` and `y` have the
/// same length (checked by the registry). Safe; `unsafe` only to share the registry's type.
pub(crate) unsafe fn softmax(x: &[f32], y: &mut [f32]) {
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut s = 0.0f32;
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = (xi - m).exp();
        s += *yi;
    }
    for yi in y.iter_mut() {
        *yi /= s;
    }
}
