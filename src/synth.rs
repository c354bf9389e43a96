//! Deterministic synthetic layers for tests and benchmarks: dense weights with an exact
//! fraction of zeros, either unstructured or in G×1 output-channel groups.
//!
//! Not behind the `testing` feature with the other fixtures (`llm::synth`): the benchmark
//! page's synthetic layer (`bench`, `KernelBench` in the wasm façade) is built from it.

use crate::error::{Error, Result};
use crate::llm::sampler::SplitMix64;

/// The sampler's SplitMix64 with the seed whitened, so that small seeds start far apart.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed ^ 0x9E37_79B9_7F4A_7C15))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `[-1, 1)`.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// `n` values uniform in `[-1, 1)`.
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }
}

/// Where zeros go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Each weight is kept or dropped on its own.
    Unstructured,
    /// `g` consecutive output channels × 1 input channel are kept or dropped together.
    Groups(usize),
}

impl Pattern {
    /// `unstructured` or `Gx1` (e.g. `4x1`).
    pub fn parse(s: &str) -> Result<Pattern> {
        if s == "unstructured" {
            return Ok(Pattern::Unstructured);
        }
        s.strip_suffix("x1")
            .and_then(|g| g.parse().ok())
            .filter(|g| [1, 2, 4, 8].contains(g))
            .map(Pattern::Groups)
            .ok_or_else(|| Error::Unsupported {
                what: "sparsity pattern".into(),
                value: s.into(),
                expected: "unstructured, 1x1, 2x1, 4x1, 8x1".into(),
            })
    }
    pub fn name(self) -> String {
        match self {
            Pattern::Unstructured => "unstructured".into(),
            Pattern::Groups(g) => format!("{g}x1"),
        }
    }
}

/// Dense `W (c_out, c_in)` whose zero fraction is `sparsity` rounded to whole groups; kept
/// weights are nonzero (magnitude ≥ 0.05) so the pattern is exactly what was asked.
pub fn sparse_weights(
    rng: &mut Rng,
    c_out: usize,
    c_in: usize,
    sparsity: f64,
    pattern: Pattern,
) -> Vec<f32> {
    let g = match pattern {
        Pattern::Unstructured => 1,
        Pattern::Groups(g) => g,
    };
    // Groups tile the rows: (c_out / g) full groups per column plus single-row leftovers.
    let group_rows: Vec<(usize, usize)> = (0..c_out / g)
        .map(|b| (b * g, g))
        .chain((c_out / g * g..c_out).map(|r| (r, 1)))
        .collect();
    let groups = group_rows.len() * c_in;
    let drop = ((sparsity.clamp(0.0, 1.0) * groups as f64).round() as usize).min(groups);
    // Partial Fisher-Yates: the first `drop` slots of a shuffled index list are dropped.
    let mut order: Vec<u32> = (0..groups as u32).collect();
    for i in 0..drop {
        let j = i + rng.below(groups - i);
        order.swap(i, j);
    }
    let mut keep = vec![true; groups];
    for &gi in &order[..drop] {
        keep[gi as usize] = false;
    }
    let mut w = vec![0.0f32; c_out * c_in];
    for (gr, &(row0, rows)) in group_rows.iter().enumerate() {
        for ic in 0..c_in {
            if keep[gr * c_in + ic] {
                for r in row0..row0 + rows {
                    let v = rng.uniform();
                    w[r * c_in + ic] = if v >= 0.0 { v + 0.05 } else { v - 0.05 };
                }
            }
        }
    }
    w
}
