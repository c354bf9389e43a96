//! Picks, once per layer at plan time, dense or sparse and the block width.
//! Placeholder constants until the benchmark derives them.

use super::{find, Isa, KernelInfo};

/// What a layer looks like to the selector.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    pub c_out: usize,
    pub c_in: usize,
    pub hw: usize,
    /// For block widths 1, 2, 4, 8: fraction of `W` a kernel of that width must multiply
    /// (stored positions × width / (c_out · c_in), zeros inside kept blocks included).
    pub density: [f64; 4],
}

#[derive(Debug, Clone, Copy)]
pub enum Choice {
    Dense(&'static KernelInfo),
    Sparse(&'static KernelInfo),
}

pub fn select(_stats: &LayerStats, _isa: Isa) -> Choice {
    Choice::Dense(find("gemm_f32_8x4_scalar").expect("registered"))
}
