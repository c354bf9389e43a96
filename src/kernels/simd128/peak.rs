//! SIMD peak probes, register-only. Benchmarks express kernel throughput as a fraction of the
//! best probe measured in the same run, so the peak must be honest: each shape of probe can be
//! limited by latency rather than throughput on some CPU, and the best one wins.
//! - `probe`: CHAINS independent chains `acc = acc · a + b` (mul and add dependent);
//! - `probe_split`: CHAINS/2 independent multiply chains beside CHAINS/2 independent add
//!   chains, so a CPU with separate multiply and add pipes can fill both.

use super::Madd;
use core::arch::wasm32::*;
use core::hint::black_box;

/// Runs `iters` rounds and returns a lane sum (so nothing is optimized away).
/// Flops done: `iters · CHAINS · 8`.
pub(crate) fn probe<M: Madd, const CHAINS: usize>(iters: u32) -> f32 {
    // a slightly below 1 and b tiny keep the values finite and normal however long it runs.
    let a = black_box(f32x4_splat(0.999_9));
    let b = black_box(f32x4_splat(1e-4));
    let mut acc = starts::<CHAINS>();
    for _ in 0..iters {
        for v in acc.iter_mut() {
            // Safety: pure register arithmetic.
            *v = unsafe { M::madd(b, *v, a) };
        }
    }
    lane_sum(&acc)
}

/// CHAINS/2 multiply chains `m = m · a` and CHAINS/2 add chains `s = s + b`, side by side.
/// Flops done: `iters · CHAINS · 4` (one f32x4 op per chain per round).
pub(crate) fn probe_split<const CHAINS: usize>(iters: u32) -> f32 {
    let a = black_box(f32x4_splat(0.999_9));
    let b = black_box(f32x4_splat(1e-4));
    let mut m = starts::<CHAINS>();
    for _ in 0..iters {
        for (i, v) in m.iter_mut().enumerate() {
            *v = if i % 2 == 0 {
                f32x4_mul(*v, a)
            } else {
                f32x4_add(*v, b)
            };
        }
    }
    lane_sum(&m)
}

/// Distinct starting values for the chains: 1, 1.01, 1.02, …
fn starts<const CHAINS: usize>() -> [v128; CHAINS] {
    std::array::from_fn(|i| f32x4_splat(1.0 + i as f32 * 0.01))
}

/// The sum of every lane of `v`, so that no chain is optimized away.
fn lane_sum(v: &[v128]) -> f32 {
    let s = v.iter().fold(f32x4_splat(0.0), |s, &v| f32x4_add(s, v));
    f32x4_extract_lane::<0>(s)
        + f32x4_extract_lane::<1>(s)
        + f32x4_extract_lane::<2>(s)
        + f32x4_extract_lane::<3>(s)
}
