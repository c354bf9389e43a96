//! XNNPACK-style packed weights for sparse 1x1 convolution / FC in CHW layout.
//!
//! `W (c_out, c_in)` is cut into output-channel blocks of `nr` rows (nr ∈ {1,2,4,8}); the
//! `c_out % nr` leftover rows become blocks of width 1. A block stores an input position when any
//! of its `nr` weights there is nonzero (G×1 group sparsity: the block's channels share one input
//! pattern, so a kernel reuses every input load `nr` times).
//!
//! Stream, in block order:
//! - `values`: per block, `width` bias values, then `width` values per stored position;
//! - `counts`: stored positions per block (`u32`);
//! - `deltas`: for each stored position, the step in input channels to the next stored
//!   position (across block boundaries); the last one wraps back to `first_ic`, so a kernel's
//!   input pointer is back at the start when it moves on to its next pixel tile.
//!
//! `bind(hw)` turns channel deltas into byte deltas (`delta · hw · 4`), as the kernels step a
//! raw input pointer through `X (c_in, hw)`.

use crate::error::{Error, Result};
use crate::tensor::WeightShape;

#[derive(Debug, Clone, PartialEq)]
pub struct SpmmWeights {
    shape: WeightShape,
    first_ic: u32,
    /// per block: bias (width) then values (width) per stored position
    values: Vec<f32>,
    /// (full_blocks + tail_blocks,) stored positions per block
    counts: Vec<u32>,
    /// (Σ counts,) input-channel step after each stored position; last wraps to `first_ic`
    deltas: Vec<i32>,
}

impl SpmmWeights {
    /// Packs dense `w (c_out, c_in)` row-major and `bias (c_out,)` (zeros when `None`).
    pub fn pack(
        name: &str,
        w: &[f32],
        bias: Option<&[f32]>,
        c_out: usize,
        c_in: usize,
        nr: usize,
    ) -> Result<Self> {
        let shape = WeightShape::new(name, c_out, c_in, nr)?;
        shape.check_dense(w, bias)?;
        let bias_at = |r: usize| bias.map_or(0.0, |b| b[r]);

        let full = c_out / nr;
        let mut values = Vec::new();
        let mut counts = Vec::with_capacity(full + c_out % nr);
        let mut channels: Vec<usize> = Vec::new(); // input channel of each stored position
        let mut push_block = |row0: usize, width: usize| {
            values.extend((row0..row0 + width).map(bias_at));
            let mut count = 0u32;
            for ic in 0..c_in {
                if (row0..row0 + width).any(|r| w[r * c_in + ic] != 0.0) {
                    values.extend((row0..row0 + width).map(|r| w[r * c_in + ic]));
                    channels.push(ic);
                    count += 1;
                }
            }
            counts.push(count);
        };
        for b in 0..full {
            push_block(b * nr, nr);
        }
        for r in full * nr..c_out {
            push_block(r, 1);
        }

        let first_ic = channels.first().copied().unwrap_or(0);
        let deltas = (0..channels.len())
            .map(|i| {
                let next = channels.get(i + 1).copied().unwrap_or(first_ic);
                next as i32 - channels[i] as i32
            })
            .collect();
        let packed = SpmmWeights {
            shape,
            first_ic: first_ic as u32,
            values,
            counts,
            deltas,
        };
        packed.validate()?;
        Ok(packed)
    }

    /// Assembles a stream read from a file; it is validated before it is returned.
    pub fn from_parts(
        name: &str,
        c_out: usize,
        c_in: usize,
        nr: usize,
        first_ic: u32,
        values: Vec<f32>,
        counts: Vec<u32>,
        deltas: Vec<i32>,
    ) -> Result<Self> {
        let shape = WeightShape::new(name, c_out, c_in, nr)?;
        let packed = SpmmWeights {
            shape,
            first_ic,
            values,
            counts,
            deltas,
        };
        packed.validate()?;
        Ok(packed)
    }

    /// Checks the whole stream: dims, block count, counts against values and deltas, and that
    /// every delta keeps the input channel inside `0..c_in` and the chain wraps to `first_ic`.
    pub fn validate(&self) -> Result<()> {
        let name = self.shape.name.as_str();
        let bad = |detail: String| Error::MalformedSparse {
            tensor: name.into(),
            detail,
        };
        let blocks = self.shape.blocks();
        if self.counts.len() != blocks {
            return Err(bad(format!(
                "{} block counts for c_out = {} in blocks of {}, expected {blocks}",
                self.counts.len(),
                self.shape.c_out,
                self.shape.nr
            )));
        }
        let mut positions: u64 = 0;
        let mut expect_values: u64 = 0;
        for (b, &count) in self.counts.iter().enumerate() {
            if count as usize > self.shape.c_in {
                return Err(bad(format!(
                    "block {b} claims {count} stored positions, more than c_in = {}",
                    self.shape.c_in
                )));
            }
            positions += u64::from(count);
            expect_values += self.shape.block_width(b) as u64 * (1 + u64::from(count));
        }
        if positions != self.deltas.len() as u64 {
            return Err(bad(format!(
                "block counts sum to {positions} but there are {} deltas",
                self.deltas.len()
            )));
        }
        if expect_values != self.values.len() as u64 {
            return Err(bad(format!(
                "block counts need {expect_values} values (bias included), stream has {}",
                self.values.len()
            )));
        }
        if self.first_ic as usize >= self.shape.c_in {
            return Err(Error::DeltaOutOfRange {
                tensor: name.into(),
                index: 0,
                channel: i64::from(self.first_ic),
                c_in: self.shape.c_in,
            });
        }
        let mut ic = i64::from(self.first_ic);
        for (i, &d) in self.deltas.iter().enumerate() {
            ic += i64::from(d);
            let is_wrap = i + 1 == self.deltas.len();
            if !is_wrap && !(0..self.shape.c_in as i64).contains(&ic) {
                return Err(Error::DeltaOutOfRange {
                    tensor: name.into(),
                    index: i + 1,
                    channel: ic,
                    c_in: self.shape.c_in,
                });
            }
        }
        if !self.deltas.is_empty() && ic != i64::from(self.first_ic) {
            return Err(bad(format!(
                "the last delta must wrap back to the first input channel {}, it lands on {ic}",
                self.first_ic
            )));
        }
        Ok(())
    }

    /// Sets the layer up for `hw` pixels: byte deltas scaled by `hw`, checked for i32 range.
    pub fn bind(&self, hw: usize) -> Result<SpmmLayer> {
        self.validate()?;
        let plane_bytes = (self.shape.c_in as u64)
            .saturating_mul(hw as u64)
            .saturating_mul(4);
        if hw == 0 || plane_bytes > i32::MAX as u64 {
            return Err(Error::DimOutOfRange {
                tensor: self.shape.name.clone(),
                what: "H·W".into(),
                value: hw as u64,
                limit: format!(
                    "1 ≤ H·W and c_in·H·W·4 ≤ 2^31-1 with c_in = {}",
                    self.shape.c_in
                ),
            });
        }
        let step = (hw * 4) as i32;
        // One interleaved stream per layer: a tile's inner loop then walks a single pointer
        // (weights, then the byte delta to the next stored position), which keeps one more
        // register free for V8 on x86-64.
        let mut stream = Vec::with_capacity(self.values.len() + self.deltas.len());
        let mut block_x = Vec::with_capacity(self.counts.len());
        let (mut v, mut next) = (0usize, 0usize);
        let mut ic = i64::from(self.first_ic);
        for (b, &n) in self.counts.iter().enumerate() {
            let width = self.shape.block_width(b);
            block_x.push(ic as usize * hw);
            stream.extend(self.values[v..v + width].iter().map(|f| f.to_bits()));
            v += width;
            for &d in &self.deltas[next..next + n as usize] {
                stream.extend(self.values[v..v + width].iter().map(|f| f.to_bits()));
                stream.push((d * step) as u32);
                v += width;
                ic += i64::from(d);
            }
            next += n as usize;
        }
        Ok(SpmmLayer {
            shape: self.shape.clone(),
            hw,
            counts: self.counts.clone(),
            block_x,
            stream,
            stored_weights: self.stored_weights(),
        })
    }

    pub fn shape(&self) -> &WeightShape {
        &self.shape
    }
    pub fn first_ic(&self) -> u32 {
        self.first_ic
    }
    pub fn values(&self) -> &[f32] {
        &self.values
    }
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }
    pub fn deltas(&self) -> &[i32] {
        &self.deltas
    }
    /// Weights the kernels multiply, zeros inside stored blocks included.
    pub fn stored_weights(&self) -> usize {
        self.values.len() - self.shape.c_out
    }
    /// Fraction of `W` the kernels skip: 1 − stored / (c_out · c_in).
    pub fn skipped_fraction(&self) -> f64 {
        1.0 - self.stored_weights() as f64 / (self.shape.c_out * self.shape.c_in) as f64
    }
}

/// Packed weights set up for one `hw`; only `SpmmWeights::bind` makes one, so a layer is
/// always validated and its byte deltas never leave `X (c_in, hw)`.
#[derive(Debug, Clone)]
pub struct SpmmLayer {
    shape: WeightShape,
    hw: usize,
    /// (blocks,) stored positions per block; full `nr` blocks, then width-1 tail blocks
    counts: Vec<u32>,
    /// (blocks,) offset in `X (c_in, hw)` of each block's first stored input channel
    /// (`ic · hw`), so a kernel can start any block without replaying the deltas before it
    block_x: Vec<usize>,
    /// per block: `width` bias bits, then per stored position `width` weight bits and the
    /// byte delta (`Δic · hw · 4`, as i32 bits) to the next stored position
    stream: Vec<u32>,
    stored_weights: usize,
}

impl SpmmLayer {
    pub fn shape(&self) -> &WeightShape {
        &self.shape
    }
    pub fn hw(&self) -> usize {
        self.hw
    }
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }
    pub fn block_x(&self) -> &[usize] {
        &self.block_x
    }
    pub fn stream(&self) -> &[u32] {
        &self.stream
    }
    /// Weights the kernels multiply, zeros inside stored blocks included.
    pub fn stored_weights(&self) -> usize {
        self.stored_weights
    }
}
