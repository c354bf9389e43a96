//! Portable scalar kernels: the fallback on every target, and the tail path (fewer than four
//! pixels) of the SIMD kernels.

pub mod gemm;
pub mod spmm;

use std::ops::Range;

/// The tile driver every kernel shares (plain Rust, so every ISA can use it): `tile(s, i)` for
/// `i = start, start + T, …` while a whole tile of `T` fits in `range`, then `one(s, i)` for
/// each index left. `tile` and `one` are the same body instantiated at `T` and 1 (pixels,
/// output channels, rows or tokens); `s` is state both write (an output slice, or `()`).
#[inline(always)]
pub(crate) fn tiles<const T: usize, S: ?Sized>(
    range: Range<usize>,
    s: &mut S,
    mut tile: impl FnMut(&mut S, usize),
    mut one: impl FnMut(&mut S, usize),
) {
    let mut i = range.start;
    while i + T <= range.end {
        tile(s, i);
        i += T;
    }
    while i < range.end {
        one(s, i);
        i += 1;
    }
}
