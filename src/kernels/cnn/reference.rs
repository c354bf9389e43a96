//! Naive oracles for the CNN kernels. Deliberately the plainest loops, computing their own
//! output sizes from the raw `Window`: they share no code with the kernels or their params.
//! Each returns nothing but panics on a short buffer; they are for tests and benchmarks only.
//!
//! Accumulation order (bias first, then input channels, kernel rows, kernel columns, all
//! ascending, padding skipped) is the one the kernels keep, so scalar and SIMD128 kernels can
//! be compared exactly.

use super::params::Window;
use crate::kernels::Clamp;

/// Output size of one axis: `(n + pads - ((k - 1)·d + 1)) / s + 1`.
pub fn out_dim(n: usize, k: usize, s: usize, d: usize, pad_a: usize, pad_b: usize) -> usize {
    (n + pad_a + pad_b - ((k - 1) * d + 1)) / s + 1
}

/// Input coordinate under output `o`, tap `t` of one axis, if it is not padding.
fn tap(o: usize, t: usize, s: usize, d: usize, pad: usize, n: usize) -> Option<usize> {
    let i = (o * s + t * d) as i64 - pad as i64;
    (0..n as i64).contains(&i).then_some(i as usize)
}

/// `(OH, OW)` of `win` over an `h × w` plane.
pub fn out_hw(h: usize, w: usize, win: &Window) -> (usize, usize) {
    (
        out_dim(
            h,
            win.kh,
            win.stride_h,
            win.dilation_h,
            win.pad_top,
            win.pad_bottom,
        ),
        out_dim(
            w,
            win.kw,
            win.stride_w,
            win.dilation_w,
            win.pad_left,
            win.pad_right,
        ),
    )
}

/// Depthwise: `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`, clamped.
pub fn dwconv(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    c: usize,
    h: usize,
    w: usize,
    win: &Window,
    clamp: Clamp,
) {
    let (oh, ow) = out_hw(h, w, win);
    let (kh, kw) = (win.kh, win.kw);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = bias.map_or(0.0, |b| b[ch]);
                for ky in 0..kh {
                    let Some(iy) = tap(oy, ky, win.stride_h, win.dilation_h, win.pad_top, h) else {
                        continue;
                    };
                    for kx in 0..kw {
                        let Some(ix) = tap(ox, kx, win.stride_w, win.dilation_w, win.pad_left, w)
                        else {
                            continue;
                        };
                        acc += wt[(ch * kh + ky) * kw + kx] * x[(ch * h + iy) * w + ix];
                    }
                }
                y[(ch * oh + oy) * ow + ox] = clamp.apply(acc);
            }
        }
    }
}

/// Full conv: `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out) -> y (C_out, OH, OW)`.
pub fn conv(
    x: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    win: &Window,
    clamp: Clamp,
) {
    let (oh, ow) = out_hw(h, w, win);
    let (kh, kw) = (win.kh, win.kw);
    for co in 0..c_out {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = bias.map_or(0.0, |b| b[co]);
                for ci in 0..c_in {
                    for ky in 0..kh {
                        let Some(iy) = tap(oy, ky, win.stride_h, win.dilation_h, win.pad_top, h)
                        else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) =
                                tap(ox, kx, win.stride_w, win.dilation_w, win.pad_left, w)
                            else {
                                continue;
                            };
                            acc += wt[((co * c_in + ci) * kh + ky) * kw + kx]
                                * x[(ci * h + iy) * w + ix];
                        }
                    }
                }
                y[(co * oh + oy) * ow + ox] = clamp.apply(acc);
            }
        }
    }
}

/// `x (C, HW) -> y (C)`: the mean of each channel, summed in order then divided.
pub fn global_avg_pool(x: &[f32], y: &mut [f32], c: usize, hw: usize) {
    for ch in 0..c {
        let mut s = 0.0f32;
        for p in 0..hw {
            s += x[ch * hw + p];
        }
        y[ch] = s / hw as f32;
    }
}

/// `a (n) + b (n) -> y (n)`, clamped.
pub fn add(a: &[f32], b: &[f32], y: &mut [f32], clamp: Clamp) {
    for i in 0..y.len() {
        y[i] = clamp.apply(a[i] + b[i]);
    }
}

/// `x (C, HW) * s (C) -> y (C, HW)`: scales each channel (squeeze-and-excitation).
pub fn channel_mul(x: &[f32], s: &[f32], y: &mut [f32], c: usize, hw: usize) {
    for ch in 0..c {
        for p in 0..hw {
            y[ch * hw + p] = x[ch * hw + p] * s[ch];
        }
    }
}

/// `max(0, min(1, alpha·x + beta))`.
pub fn hardsigmoid(x: f32, alpha: f32, beta: f32) -> f32 {
    (alpha * x + beta).clamp(0.0, 1.0)
}

/// `x · max(0, min(1, x/6 + 1/2))`, with ONNX's alpha = 1/6 as an f32.
pub fn hardswish(x: f32) -> f32 {
    x * hardsigmoid(x, 1.0 / 6.0, 0.5)
}

/// `1 / (1 + e^-x)` with the platform's `exp`.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Average pool, `count_include_pad = 0`: `x (C, H, W) -> y (C, OH, OW)`.
pub fn avg_pool(x: &[f32], y: &mut [f32], c: usize, h: usize, w: usize, win: &Window) {
    pool(x, y, c, h, w, win, |vals| {
        let mut s = 0.0f32;
        for &v in vals {
            s += v;
        }
        s / vals.len() as f32
    });
}

/// Max pool: `x (C, H, W) -> y (C, OH, OW)`.
pub fn max_pool(x: &[f32], y: &mut [f32], c: usize, h: usize, w: usize, win: &Window) {
    pool(x, y, c, h, w, win, |vals| {
        let mut m = f32::NEG_INFINITY;
        for &v in vals {
            if v > m {
                m = v;
            }
        }
        m
    });
}

/// Gathers the real inputs under each window position (row-major) and reduces them.
fn pool(
    x: &[f32],
    y: &mut [f32],
    c: usize,
    h: usize,
    w: usize,
    win: &Window,
    reduce: impl Fn(&[f32]) -> f32,
) {
    let (oh, ow) = out_hw(h, w, win);
    let mut vals = Vec::new();
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                vals.clear();
                for ky in 0..win.kh {
                    for kx in 0..win.kw {
                        let iy = tap(oy, ky, win.stride_h, win.dilation_h, win.pad_top, h);
                        let ix = tap(ox, kx, win.stride_w, win.dilation_w, win.pad_left, w);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            vals.push(x[(ch * h + iy) * w + ix]);
                        }
                    }
                }
                y[(ch * oh + oy) * ow + ox] = reduce(&vals);
            }
        }
    }
}

/// `y_i = e^(x_i - max x) / Σ_j e^(x_j - max x)` over the whole vector.
pub fn softmax(x: &[f32], y: &mut [f32]) {
    let mut m = f32::NEG_INFINITY;
    for &v in x {
        m = m.max(v);
    }
    let mut s = 0.0f32;
    for i in 0..x.len() {
        y[i] = (x[i] - m).exp();
        s += y[i];
    }
    for v in y.iter_mut().take(x.len()) {
        *v /= s;
    }
}
