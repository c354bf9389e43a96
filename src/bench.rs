//! One synthetic 1x1 layer prepared for every `spmm` / `gemm` kernel of the table, for the
//! benchmark page.
//! Timing is done by the caller (JS `performance.now()`); this only packs and runs.

use crate::dense::DenseWeights;
use crate::error::{Error, Result};
use crate::kernels::{find, reference, Clamp, Kernel, Op};
use crate::sparse::{SpmmLayer, SpmmWeights};
use crate::synth::{sparse_weights, Pattern, Rng};
use std::collections::HashMap;

pub struct LayerBench {
    c_out: usize,
    c_in: usize,
    hw: usize,
    /// (c_out, c_in) with the requested zeros
    w: Vec<f32>,
    /// (c_out,)
    bias: Vec<f32>,
    /// (c_in, hw)
    x: Vec<f32>,
    /// (c_out, hw)
    y: Vec<f32>,
    /// the layer's fused activation
    clamp: Clamp,
    dense: HashMap<usize, DenseWeights>,
    sparse: HashMap<usize, SpmmLayer>,
}

impl LayerBench {
    pub fn new(
        c_out: usize,
        c_in: usize,
        hw: usize,
        sparsity: f64,
        pattern: &str,
        seed: u64,
        activation: &str,
    ) -> Result<Self> {
        let pattern = Pattern::parse(pattern)?;
        let clamp = Clamp::parse(activation)?;
        if c_out == 0 || c_in == 0 || hw == 0 || (c_out.max(c_in) as u64) * (hw as u64) > 1 << 26 {
            return Err(Error::DimOutOfRange {
                tensor: "bench layer".into(),
                what: "c_out, c_in, hw".into(),
                value: (c_out.max(c_in) * hw) as u64,
                limit: "all ≥ 1 and max(c_out, c_in)·hw ≤ 2^26".into(),
            });
        }
        let mut rng = Rng::new(seed);
        let w = sparse_weights(&mut rng, c_out, c_in, sparsity, pattern);
        let bias = rng.vec(c_out);
        let x = rng.vec(c_in * hw);
        Ok(LayerBench {
            c_out,
            c_in,
            hw,
            w,
            bias,
            x,
            y: vec![0.0; c_out * hw],
            clamp,
            dense: HashMap::new(),
            sparse: HashMap::new(),
        })
    }

    /// Nonzero weights in `W`.
    pub fn nonzeros(&self) -> usize {
        self.w.iter().filter(|&&v| v != 0.0).count()
    }

    /// Packs the weights for `kernel` (once per width); returns the weights it multiplies.
    pub fn prepare(&mut self, kernel: &str) -> Result<usize> {
        let k = find(kernel)?;
        let (w, b, nr) = (&self.w, Some(self.bias.as_slice()), k.nr());
        Ok(match k.op {
            Op::Gemm => {
                if !self.dense.contains_key(&nr) {
                    let packed = DenseWeights::pack("bench", w, b, self.c_out, self.c_in, nr)?;
                    self.dense.insert(nr, packed);
                }
                self.c_out * self.c_in
            }
            Op::Spmm => {
                if !self.sparse.contains_key(&nr) {
                    let packed = SpmmWeights::pack("bench", w, b, self.c_out, self.c_in, nr)?;
                    self.sparse.insert(nr, packed.bind(self.hw)?);
                }
                self.sparse[&nr].stored_weights()
            }
            _ => return Err(not_pointwise(k)),
        })
    }

    /// Runs `kernel` `iters` times over the whole layer.
    pub fn run(&mut self, kernel: &str, iters: u32) -> Result<()> {
        let k = find(kernel)?;
        self.prepare(kernel)?;
        for _ in 0..iters {
            match k.op {
                Op::Gemm => k.run_gemm(
                    &self.dense[&k.nr()],
                    self.hw,
                    &self.x,
                    &mut self.y,
                    self.clamp,
                    0..self.hw,
                )?,
                Op::Spmm => k.run_spmm(
                    &self.sparse[&k.nr()],
                    &self.x,
                    &mut self.y,
                    self.clamp,
                    0..self.hw,
                )?,
                _ => return Err(not_pointwise(k)),
            }
        }
        Ok(())
    }

    /// Largest |kernel − reference| after one run: the benchmark refuses to time a wrong kernel.
    pub fn max_error(&mut self, kernel: &str) -> Result<f32> {
        self.y.fill(f32::NAN);
        self.run(kernel, 1)?;
        let mut want = vec![0.0; self.c_out * self.hw];
        let b = Some(self.bias.as_slice());
        reference::conv1x1_chw(
            &self.w, b, &self.x, &mut want, self.c_out, self.c_in, self.hw, self.clamp,
        );
        Ok(want
            .iter()
            .zip(&self.y)
            .map(|(a, b)| (a - b).abs())
            .fold(
                0.0,
                |m, e| if e.is_nan() { f32::INFINITY } else { m.max(e) },
            ))
    }
}

/// The bench layer is a 1x1 conv: only `spmm` and `gemm` kernels run on it.
fn not_pointwise(k: &Kernel) -> Error {
    k.wrong_op("a 1x1 bench layer (spmm or gemm kernels only)")
}
