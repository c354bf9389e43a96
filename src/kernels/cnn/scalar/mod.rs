//! Portable scalar CNN kernels: the fallback on every target, and the general path (any
//! kernel size, stride, dilation, padding) on wasm32 too.

pub mod act;
pub mod conv;
pub mod dwconv;
pub mod elementwise;
pub mod pool;

use std::ops::Range;

/// For each of `n_out` outputs on one axis: its first input coordinate (may be negative, in
/// the padding) and the taps `lo..hi` that land inside `0..n_in`. Taps are monotone in the
/// input, so the real ones are one contiguous range (empty only when dilation jumps a window
/// over the whole input).
pub(crate) fn tap_ranges(
    n_out: usize,
    n_in: usize,
    k: usize,
    s: usize,
    d: usize,
    pad: usize,
) -> Vec<(isize, Range<usize>)> {
    (0..n_out)
        .map(|o| {
            let first = (o * s) as isize - pad as isize;
            let inside = |t: &usize| (0..n_in as isize).contains(&(first + (*t * d) as isize));
            let lo = (0..k).find(inside).unwrap_or(k);
            let hi = (lo..k).rfind(inside).map_or(lo, |t| t + 1);
            (first, lo..hi)
        })
        .collect()
}
