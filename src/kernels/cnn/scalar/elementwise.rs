//! Scalar global average pool, residual add and channel multiply.

use crate::kernels::Clamp;
use std::ops::Range;

/// `x (C, HW) -> y (C)`, channels `channels` only: sums in order, then divides.
/// Safety: `x` holds `channels.end · hw` floats, `y` holds `channels.end`, `hw ≥ 1`.
pub(crate) unsafe fn global_avg_pool(x: &[f32], y: &mut [f32], hw: usize, channels: Range<usize>) {
    for c in channels {
        let xc = x.get_unchecked(c * hw..(c + 1) * hw);
        let mut s = 0.0f32;
        for &v in xc {
            s += v;
        }
        *y.get_unchecked_mut(c) = s / hw as f32;
    }
}

/// `a (n) + b (n) -> y (n)`, clamped. `y` may be `a` or `b` (an in-place residual add).
/// Safety: all three point at `n` floats.
pub(crate) unsafe fn add(a: *const f32, b: *const f32, y: *mut f32, n: usize, clamp: Clamp) {
    for i in 0..n {
        *y.add(i) = clamp.apply(*a.add(i) + *b.add(i));
    }
}

/// `x (C, HW) * s (C) -> y (C, HW)` for channels `channels`; `y` may be `x`.
/// Safety: `x` and `y` point at `channels.end · hw` floats, `s` holds `channels.end`.
pub(crate) unsafe fn channel_mul(
    x: *const f32,
    s: &[f32],
    y: *mut f32,
    hw: usize,
    channels: Range<usize>,
) {
    for c in channels {
        let sc = *s.get_unchecked(c);
        for p in c * hw..(c + 1) * hw {
            *y.add(p) = *x.add(p) * sc;
        }
    }
}
