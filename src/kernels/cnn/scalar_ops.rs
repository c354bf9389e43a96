//! Scalar kernels of the rare elementwise graph ops (ONNX Mul, Sub, PRelu, a per-channel
//! affine left over from batch norm): a few per network, one pass over the data each, so no
//! SIMD versions. Mul, Sub and PRelu share the signatures of `add` and `channel_mul`, and so
//! those ops' checked entry points.

use crate::kernels::Clamp;
use std::ops::Range;

/// `a (n) · b (n) -> y (n)`, clamped; `y` may be `a` or `b`.
/// Safety: all three point at `n` floats.
pub(crate) unsafe fn mul(a: *const f32, b: *const f32, y: *mut f32, n: usize, clamp: Clamp) {
    for i in 0..n {
        *y.add(i) = clamp.apply(*a.add(i) * *b.add(i));
    }
}

/// `a (n) − b (n) -> y (n)`, clamped; `y` may be `a` or `b`.
/// Safety: all three point at `n` floats.
pub(crate) unsafe fn sub(a: *const f32, b: *const f32, y: *mut f32, n: usize, clamp: Clamp) {
    for i in 0..n {
        *y.add(i) = clamp.apply(*a.add(i) - *b.add(i));
    }
}

/// PRelu `y[c, p] = x[c, p] ≥ 0 ? x[c, p] : slope[c]·x[c, p]` over `x (C, HW)`, channels
/// `channels`; `y` may be `x`.
/// Safety: `x` and `y` point at `channels.end · hw` floats, `slope` holds `channels.end`.
pub(crate) unsafe fn prelu(
    x: *const f32,
    slope: &[f32],
    y: *mut f32,
    hw: usize,
    channels: Range<usize>,
) {
    for c in channels {
        let s = *slope.get_unchecked(c);
        for p in c * hw..(c + 1) * hw {
            let v = *x.add(p);
            *y.add(p) = if v >= 0.0 { v } else { s * v };
        }
    }
}

/// `y[c, p] = x[c, p] · scale[c] + shift[c]` over `x (C, HW)`, `C = scale.len()`; `y` may be `x`.
/// Safety: `x` and `y` point at `C · hw` floats, `shift` holds `C`.
pub(crate) unsafe fn affine(x: *const f32, scale: &[f32], shift: &[f32], y: *mut f32, hw: usize) {
    for (c, (&a, &b)) in scale.iter().zip(shift).enumerate() {
        for p in c * hw..(c + 1) * hw {
            *y.add(p) = *x.add(p) * a + b;
        }
    }
}
