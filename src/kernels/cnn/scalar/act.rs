//! Scalar activations, in place over a slice.

use crate::kernels::cnn::{Activation, HARDSWISH_ALPHA, HARDSWISH_BETA};

/// Applies `act` to every element of `x`. Safe; `unsafe` only to share the registry's type.
pub(crate) unsafe fn act(x: &mut [f32], act: Activation) {
    match act {
        Activation::Clamp(c) => x.iter_mut().for_each(|v| *v = c.apply(*v)),
        Activation::HardSigmoid { alpha, beta } => {
            x.iter_mut().for_each(|v| *v = hardsigmoid(*v, alpha, beta))
        }
        Activation::HardSwish => x
            .iter_mut()
            .for_each(|v| *v *= hardsigmoid(*v, HARDSWISH_ALPHA, HARDSWISH_BETA)),
        Activation::Sigmoid => x.iter_mut().for_each(|v| *v = sigmoid(*v)),
        Activation::Tanh => x.iter_mut().for_each(|v| *v = v.tanh()),
        Activation::LeakyRelu { alpha } => x.iter_mut().for_each(|v| *v = leaky_relu(*v, alpha)),
    }
}

/// `x ≥ 0 ? x : alpha·x`; a NaN takes the `alpha·x` side and stays NaN, as in the SIMD kernel.
#[inline(always)]
pub(crate) fn leaky_relu(x: f32, alpha: f32) -> f32 {
    if x >= 0.0 {
        x
    } else {
        alpha * x
    }
}

#[inline(always)]
fn hardsigmoid(x: f32, alpha: f32, beta: f32) -> f32 {
    (alpha * x + beta).clamp(0.0, 1.0)
}

/// Beyond this `e^-|x|` would leave the normal range; the sigmoid there is 0 or 1 to within
/// 2e-38, so clamping `|x|` loses nothing and keeps `2^n` a normal float.
pub(crate) const SIGMOID_CUTOFF: f32 = 87.0;
/// 1.5·2^23: adding it rounds any |v| < 2^22 to an integer (round to nearest even).
pub(crate) const ROUND_MAGIC: f32 = 12_582_912.0;
/// ln 2 split so that `n · LN2_HI` is exact for |n| ≤ 2^8 (Cody–Waite).
pub(crate) const LN2_HI: f32 = 0.693_145_75;
pub(crate) const LN2_LO: f32 = 1.428_606_8e-6;

/// `1 / (1 + e^-x)` without a libm call, the same steps as the SIMD kernel:
/// `z = min(|x|, 87)`, `e^-z = 2^n · e^r` with `n = round(-z·log2 e)` and
/// `|r| ≤ ln2/2` (degree-6 Taylor, relative error < 2e-7), `f = e/(1+e)` is the sigmoid of
/// `-|x|`, and the sigmoid of `|x|` is `1 - f`. Max abs error vs `1/(1+expf(-x))` < 2e-6
/// (tested over the whole float range); NaN in, NaN out.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    // Said outright: LLVM may turn the cutoff's compare-and-select into a (relaxed) min, which
    // is free to drop a NaN.
    if x.is_nan() {
        return x;
    }
    let z = x.abs().min(SIGMOID_CUTOFF);
    let n = (-z * std::f32::consts::LOG2_E + ROUND_MAGIC) - ROUND_MAGIC;
    let r = (-z - n * LN2_HI) - n * LN2_LO;
    let p = exp_poly(r);
    let e = p * f32::from_bits((((n as i32) + 127) as u32) << 23);
    let f = e / (1.0 + e);
    if x < 0.0 {
        f
    } else {
        1.0 - f
    }
}

/// Taylor coefficients of `e^r` from r^6 down to r^1 (Horner order); the constant is 1.
pub(crate) const EXP_POLY: [f32; 6] = [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0];

#[inline(always)]
fn exp_poly(r: f32) -> f32 {
    let mut p = EXP_POLY[0];
    for &c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    p * r + 1.0
}
