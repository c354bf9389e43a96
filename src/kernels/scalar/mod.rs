//! Portable scalar kernels: the fallback on every target, and the tail path (fewer than four
//! pixels) of the SIMD kernels.

pub mod gemm;
pub mod spmm;
