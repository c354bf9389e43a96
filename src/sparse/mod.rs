//! Sparse weight formats. One file per format; each has a `validate()` that runs before any
//! kernel touches the stream, so kernels may index without bounds checks.

pub mod spmm;

pub use spmm::{SpmmLayer, SpmmWeights, BLOCK_WIDTHS};
