//! WebAssembly SIMD128 kernels, generic over how a multiply-add is done: `MulAdd` (f32x4 mul
//! then add, every SIMD128 engine) or `Relaxed` (`f32x4.relaxed_madd`, fused where the engine
//! can, built only with `+relaxed-simd`). One generic body per op keeps the two ISAs from
//! drifting apart.

use core::arch::wasm32::*;

pub mod gemm;
pub mod peak;
pub mod spmm;

/// `acc + a · b` on four lanes.
pub(crate) trait Madd {
    unsafe fn madd(acc: v128, a: v128, b: v128) -> v128;
}

/// Separate multiply and add: exact IEEE rounding after each, like the scalar reference.
pub(crate) struct MulAdd;
impl Madd for MulAdd {
    #[inline(always)]
    unsafe fn madd(acc: v128, a: v128, b: v128) -> v128 {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}

/// Relaxed multiply-add: one rounding where the engine has FMA, two where it has not.
#[cfg(target_feature = "relaxed-simd")]
pub(crate) struct Relaxed;
#[cfg(target_feature = "relaxed-simd")]
impl Madd for Relaxed {
    #[inline(always)]
    unsafe fn madd(acc: v128, a: v128, b: v128) -> v128 {
        f32x4_relaxed_madd(a, b, acc)
    }
}

/// Clamp to `[lo, hi]` with pmin/pmax, which lower to one minps/maxps each.
#[inline(always)]
pub(crate) fn clamp4(v: v128, lo: v128, hi: v128) -> v128 {
    f32x4_pmin(f32x4_pmax(v, lo), hi)
}
