//! SIMD128 global average pool, residual add and channel multiply.

use crate::kernels::Clamp;
use core::arch::wasm32::*;
use std::ops::Range;

/// `x (C, HW) -> y (C)`, channels `channels`. Four vector accumulators (16 partial sums)
/// keep four add chains in flight; the order differs from the reference's running sum, so
/// results agree to within the summation error bound, not bit for bit.
/// Safety: as `scalar::elementwise::global_avg_pool`.
pub(crate) unsafe fn global_avg_pool(x: &[f32], y: &mut [f32], hw: usize, channels: Range<usize>) {
    for c in channels {
        let xc = x.as_ptr().add(c * hw); // x[c] (HW)
        let mut acc = [f32x4_splat(0.0); 4];
        let mut p = 0;
        while p + 16 <= hw {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = f32x4_add(*a, v128_load(xc.add(p + 4 * v) as *const v128));
            }
            p += 16;
        }
        while p + 4 <= hw {
            acc[0] = f32x4_add(acc[0], v128_load(xc.add(p) as *const v128));
            p += 4;
        }
        let v = f32x4_add(f32x4_add(acc[0], acc[1]), f32x4_add(acc[2], acc[3]));
        let mut s = (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
            + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v));
        while p < hw {
            s += *xc.add(p);
            p += 1;
        }
        *y.get_unchecked_mut(c) = s / hw as f32;
    }
}

/// `a (n) + b (n) -> y (n)`, clamped; `y` may be `a` or `b`. Bit-identical to the scalar
/// kernel. Safety: all three point at `n` floats.
pub(crate) unsafe fn add(a: *const f32, b: *const f32, y: *mut f32, n: usize, clamp: Clamp) {
    let (lo, hi) = (f32x4_splat(clamp.min), f32x4_splat(clamp.max));
    let mut i = 0;
    // One branch per call, not per vector (see `Epilogue`).
    if clamp != Clamp::NONE {
        while i + 4 <= n {
            let s = f32x4_add(
                v128_load(a.add(i) as *const v128),
                v128_load(b.add(i) as *const v128),
            );
            v128_store(y.add(i) as *mut v128, f32x4_pmin(f32x4_pmax(s, lo), hi));
            i += 4;
        }
    } else {
        while i + 4 <= n {
            let s = f32x4_add(
                v128_load(a.add(i) as *const v128),
                v128_load(b.add(i) as *const v128),
            );
            v128_store(y.add(i) as *mut v128, s);
            i += 4;
        }
    }
    for j in i..n {
        *y.add(j) = clamp.apply(*a.add(j) + *b.add(j));
    }
}

/// `x (C, HW) * s (C) -> y (C, HW)` for channels `channels`; `y` may be `x`.
/// Safety: as `scalar::elementwise::channel_mul`.
pub(crate) unsafe fn channel_mul(
    x: *const f32,
    s: &[f32],
    y: *mut f32,
    hw: usize,
    channels: Range<usize>,
) {
    for c in channels {
        let sc = *s.get_unchecked(c);
        let sv = f32x4_splat(sc);
        let (xc, yc) = (x.add(c * hw), y.add(c * hw));
        let mut p = 0;
        while p + 4 <= hw {
            v128_store(
                yc.add(p) as *mut v128,
                f32x4_mul(v128_load(xc.add(p) as *const v128), sv),
            );
            p += 4;
        }
        for q in p..hw {
            *yc.add(q) = *xc.add(q) * sc;
        }
    }
}
