//! WebAssembly SIMD128 CNN kernels, generic over `Madd` like the 1x1 kernels: `MulAdd` matches
//! the scalar reference bit for bit, `Relaxed` (relaxed build) may fuse.

use crate::kernels::Clamp;
use core::arch::wasm32::*;

pub mod act;
pub mod conv;
pub mod dwconv;
pub mod elementwise;

std::thread_local! {
    /// One scratch buffer per thread, grown to the largest request and reused, so a planned
    /// inference allocates nothing after its first run.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` zeroed floats of the thread's scratch buffer (kernels never nest).
pub(crate) fn with_zeroed_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut v = s.borrow_mut();
        if v.len() < len {
            v.resize(len, 0.0);
        }
        let buf = &mut v[..len];
        buf.fill(0.0);
        f(buf)
    })
}

/// Row stride of a zero-padded scratch row for a K-wide, stride-S window: the input sits at
/// `[pad_left, pad_left + w)`, zeros elsewhere, and the row is long enough that the last
/// output vector (rounded up to 4 outputs) loads only inside it: stride 1 reads up to
/// `ow4 + K - 2`, stride 2 (three vectors per tap row) up to `2·ow4 + 3`.
pub(crate) fn padded_width(k: usize, s: usize, pad_left_plus_w: usize, ow: usize) -> usize {
    pad_left_plus_w.max(s * ow.div_ceil(4) * 4 + k + 4)
}

/// The K tap vectors of one kernel row for 4 consecutive outputs at stride S: tap `kx` of
/// output `i` is `p[i·S + kx]`. Stride 1: K unaligned loads. Stride 2: 3 loads cover
/// `p[0..12]`; even/odd deinterleaves give taps 0 and 1, one more shuffle each gives the
/// rest (K ∈ {3, 5}).
#[inline(always)]
pub(crate) unsafe fn load_taps<const K: usize, const S: usize>(p: *const f32) -> [v128; K] {
    let mut t = [f32x4_splat(0.0); K];
    if S == 1 {
        for (kx, tk) in t.iter_mut().enumerate() {
            *tk = v128_load(p.add(kx) as *const v128);
        }
    } else {
        let v0 = v128_load(p as *const v128); // p[0..4]
        let v1 = v128_load(p.add(4) as *const v128); // p[4..8]
        let v2 = v128_load(p.add(8) as *const v128); // p[8..12]
        let even = i32x4_shuffle::<0, 2, 4, 6>(v0, v1); // p[0, 2, 4, 6]
        let odd = i32x4_shuffle::<1, 3, 5, 7>(v0, v1); // p[1, 3, 5, 7]
        let taps = [
            even,
            odd,
            i32x4_shuffle::<1, 2, 3, 4>(even, v2), // p[2, 4, 6, 8]
            i32x4_shuffle::<1, 2, 3, 5>(odd, v2),  // p[3, 5, 7, 9]
            i32x4_shuffle::<2, 3, 4, 6>(even, v2), // p[4, 6, 8, 10]
        ];
        t.copy_from_slice(&taps[..K]);
    }
    t
}

/// Clamps the first `n < 4` lanes of `v` and stores them to `y[..n]`: the last, partial
/// output vector of a row.
#[inline(always)]
pub(crate) unsafe fn store_partial(v: v128, y: *mut f32, n: usize, clamp: Clamp) {
    // Lane stores of the clamped vector: scalar f32 min/max in wasm cost several
    // instructions each (NaN rules), which dominated small planes' row tails.
    let c = f32x4_pmin(
        f32x4_pmax(v, f32x4_splat(clamp.min)),
        f32x4_splat(clamp.max),
    );
    match n {
        1 => v128_store32_lane::<0>(c, y as *mut u32),
        2 => v128_store64_lane::<0>(c, y as *mut u64),
        _ => {
            v128_store64_lane::<0>(c, y as *mut u64);
            v128_store32_lane::<2>(c, y.add(2) as *mut u32);
        }
    }
}
