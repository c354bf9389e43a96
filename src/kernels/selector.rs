//! Picks, once per layer at plan time, dense or sparse, and the block width.
//!
//! Cost model: relative to our dense kernel, a sparse kernel of block width `nr` takes
//! `density(nr) / tie_density(nr)` of the time, where `density(nr)` is the fraction of `W` it
//! must multiply (stored block positions × nr, zeros inside kept blocks included) and
//! `tie_density(nr)` the density at which it ties dense. The width with the lowest predicted
//! time wins; sparse is taken when that is below 1.
//!
//! How `tie_density` was derived: `make bench` times the best sparse kernel against our best
//! dense kernel on every MobileNetV2 1x1 shape at 0–95% sparsity, in one Chromium run. Sparse
//! time scales with density (speedup · density is flat across 50–95%: 0.65, 0.67, 0.67 for
//! unstructured at 50/70/90%), so each row ≥ 50% gives `speedup · (1 − sparsity)`; the median
//! over rows is `summary.breakeven_density` in bench/results/kernels.json, per pattern:
//! unstructured → the 1-wide kernel, 4x1 → the 4-wide kernel. Only those two widths are
//! measured, so only they are chosen; 2- and 8-wide kernels are in the table and tested.

use super::{find, Isa, Kernel};
use crate::error::Result;

/// (block width, kernel name without the ISA suffix, tie density) for each width the selector
/// may choose, from the SIMD128 run of `make bench` on 2026-11-29 (AMD EPYC Zen 5, Chromium
/// 156): 32x1 and 8x4 were the fastest tiles of their widths on most shapes.
const SPARSE: [(usize, &str, f64); 2] = [(1, "spmm_f32_32x1", 0.66), (4, "spmm_f32_8x4", 0.95)];
const DENSE: &str = "gemm_f32_8x4";
/// The portable build has only 8-pixel scalar tiles; it uses the same tie densities.
const SCALAR_SPARSE: [&str; 2] = ["spmm_f32_8x1", "spmm_f32_8x4"];

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
    Dense(&'static Kernel),
    /// A sparse kernel; pack the weights with its `nr`.
    Sparse(&'static Kernel),
}

impl Choice {
    pub fn kernel(&self) -> &'static Kernel {
        match self {
            Choice::Dense(k) | Choice::Sparse(k) => k,
        }
    }
}

/// Dense or sparse, and which kernel, for a layer on `isa` (`UnknownKernel` if this build
/// lacks that ISA).
pub fn select(stats: &LayerStats, isa: Isa) -> Result<Choice> {
    let kernel = |base: &str| find(&format!("{base}__{}", isa.as_str()));
    let slot = |nr: usize| {
        crate::sparse::BLOCK_WIDTHS
            .iter()
            .position(|&w| w == nr)
            .expect("a block width")
    };
    let (cost, pick) = SPARSE
        .iter()
        .enumerate()
        .map(|(i, &(nr, _, tie))| (stats.density[slot(nr)] / tie, i))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least one sparse width");
    if cost >= 1.0 {
        return Ok(Choice::Dense(kernel(DENSE)?));
    }
    Ok(Choice::Sparse(sparse_kernel(SPARSE[pick].0, isa)?))
}

/// The sparse kernel the selector runs for weights packed `nr` wide on `isa` (a stream stored
/// in a .zsk keeps its width): the measured tile for widths 1 and 4, the 8-pixel tile else.
pub fn sparse_kernel(nr: usize, isa: Isa) -> Result<&'static Kernel> {
    let measured = SPARSE.iter().position(|&(w, _, _)| w == nr);
    let base = match (measured, isa) {
        (Some(i), Isa::Scalar) => SCALAR_SPARSE[i].to_string(),
        (Some(i), _) => SPARSE[i].1.to_string(),
        (None, _) => format!("spmm_f32_8x{nr}"),
    };
    find(&format!("{base}__{}", isa.as_str()))
}
