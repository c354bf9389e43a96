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

/// The fused output clamp. Layers without an activation (MobileNetV2's projections) skip it:
/// at 90% sparsity two extra FP ops per output vector are a fifth of a small-K tile's work.
#[derive(Clone, Copy)]
pub(crate) struct Epilogue {
    lo: v128,
    hi: v128,
    active: bool,
}

impl Epilogue {
    pub(crate) fn new(clamp: crate::kernels::Clamp) -> Epilogue {
        Epilogue {
            lo: f32x4_splat(clamp.min),
            hi: f32x4_splat(clamp.max),
            active: clamp != crate::kernels::Clamp::NONE,
        }
    }

    /// Stores `acc (NR, MV vectors)` to rows `j · hw` of `y`, the first `rows` rows only.
    /// Clamps with pmin/pmax, which lower to one minps/maxps each.
    #[inline(always)]
    pub(crate) unsafe fn store<const MV: usize, const NR: usize>(
        self,
        acc: &[[v128; MV]; NR],
        y: *mut f32,
        hw: usize,
        rows: usize,
    ) {
        // Two loop nests under one branch: a per-vector `if` becomes a select, which computes
        // the clamp anyway and blends.
        if self.active {
            for (j, row) in acc.iter().enumerate().take(rows) {
                for (v, &a) in row.iter().enumerate() {
                    let c = f32x4_pmin(f32x4_pmax(a, self.lo), self.hi);
                    v128_store(y.add(j * hw + 4 * v) as *mut v128, c);
                }
            }
        } else {
            for (j, row) in acc.iter().enumerate().take(rows) {
                for (v, &a) in row.iter().enumerate() {
                    v128_store(y.add(j * hw + 4 * v) as *mut v128, a);
                }
            }
        }
    }
}
