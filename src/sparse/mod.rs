//! Sparse weight formats. One file per format; each has a `validate()` that runs before any
//! kernel touches the stream, so kernels may index without bounds checks.

pub mod llm;
pub mod spmm;

pub use crate::tensor::BLOCK_WIDTHS;
pub use spmm::{SpmmLayer, SpmmWeights};
