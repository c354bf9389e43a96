//! SIMD128 activations, in place over a slice. The math mirrors `scalar::act` step for step,
//! so with `MulAdd` the two agree bit for bit; `Relaxed` fuses the multiply-adds.

use crate::kernels::cnn::scalar::act::{EXP_POLY, LN2_HI, LN2_LO, ROUND_MAGIC, SIGMOID_CUTOFF};
use crate::kernels::cnn::{Activation, HARDSWISH_ALPHA, HARDSWISH_BETA};
use crate::kernels::simd128::Madd;
use core::arch::wasm32::*;

/// Applies `act` to every element of `x`.
pub(crate) unsafe fn act<M: Madd>(x: &mut [f32], act: Activation) {
    match act {
        Activation::Clamp(c) => {
            let (lo, hi) = (f32x4_splat(c.min), f32x4_splat(c.max));
            map(x, |v| f32x4_pmin(f32x4_pmax(v, lo), hi))
        }
        Activation::HardSigmoid { alpha, beta } => {
            let (a, b) = (f32x4_splat(alpha), f32x4_splat(beta));
            map(x, |v| hardsigmoid::<M>(v, a, b))
        }
        Activation::HardSwish => {
            let (a, b) = (f32x4_splat(HARDSWISH_ALPHA), f32x4_splat(HARDSWISH_BETA));
            map(x, |v| f32x4_mul(v, hardsigmoid::<M>(v, a, b)))
        }
        Activation::Sigmoid => map(x, |v| sigmoid::<M>(v)),
        Activation::LeakyRelu { alpha } => {
            let a = f32x4_splat(alpha);
            // `x ≥ 0` picks x, so -0.0 stays -0.0 and NaN goes through `alpha·x`, as in scalar.
            map(x, |v| {
                v128_bitselect(v, f32x4_mul(v, a), f32x4_ge(v, f32x4_splat(0.0)))
            })
        }
        // No vector tanh: the registry lists only the scalar kernel for it, which every ISA
        // may run. Kept correct should this be reached anyway.
        Activation::Tanh => x.iter_mut().for_each(|v| *v = v.tanh()),
    }
}

/// `f` over every vector of `x`; the last 1–3 elements go through `f` too, in a zero-filled
/// vector, so they get exactly the same arithmetic.
#[inline(always)]
unsafe fn map(x: &mut [f32], f: impl Fn(v128) -> v128) {
    let mut chunks = x.chunks_exact_mut(4);
    for c in &mut chunks {
        let p = c.as_mut_ptr() as *mut v128;
        v128_store(p, f(v128_load(p)));
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut lanes = [0.0f32; 4];
        lanes[..rest.len()].copy_from_slice(rest);
        let p = lanes.as_mut_ptr() as *mut v128;
        v128_store(p, f(v128_load(p)));
        rest.copy_from_slice(&lanes[..rest.len()]);
    }
}

/// `max(0, min(1, alpha·x + beta))`.
#[inline(always)]
unsafe fn hardsigmoid<M: Madd>(x: v128, alpha: v128, beta: v128) -> v128 {
    let t = M::madd(beta, x, alpha);
    f32x4_pmin(f32x4_pmax(t, f32x4_splat(0.0)), f32x4_splat(1.0))
}

/// The sigmoid of `scalar::act::sigmoid`, four lanes at a time.
#[inline(always)]
unsafe fn sigmoid<M: Madd>(x: v128) -> v128 {
    // f32x4.min propagates NaN, so a NaN lane stays NaN throughout.
    let z = f32x4_min(f32x4_abs(x), f32x4_splat(SIGMOID_CUTOFF));
    let magic = f32x4_splat(ROUND_MAGIC);
    let n = f32x4_sub(
        M::madd(magic, z, f32x4_splat(-std::f32::consts::LOG2_E)),
        magic,
    );
    let r = M::madd(
        M::madd(f32x4_neg(z), n, f32x4_splat(-LN2_HI)),
        n,
        f32x4_splat(-LN2_LO),
    );
    let mut p = f32x4_splat(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = M::madd(f32x4_splat(c), p, r);
    }
    let p = M::madd(f32x4_splat(1.0), p, r);
    // 2^n from its bits; n ∈ [-126, 0] after the cutoff, NaN lanes truncate to 0.
    let two_n = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23);
    let e = f32x4_mul(p, two_n);
    let f = f32x4_div(e, f32x4_add(f32x4_splat(1.0), e));
    let upper = f32x4_sub(f32x4_splat(1.0), f);
    v128_bitselect(f, upper, f32x4_lt(x, f32x4_splat(0.0)))
}
