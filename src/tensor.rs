//! Shapes shared by the weight formats.

use crate::error::{Error, Result};

/// IEEE 754 half (its bits) → single, exactly. The one general f16 conversion of the crate,
/// through the `half` crate; only the LLM kernels keep their own branch-free `f16_finite` for
/// the finite scales on their hot path.
pub fn f16_to_f32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
}

/// IEEE 754 single → half bits, rounded to nearest even (overflow → ±inf, NaN stays NaN).
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// Little-endian halves (ONNX `raw_data`, TF.js shards, `.zsk` f16 values) → singles.
pub fn f16_le_to_f32(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(2)
        .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
}

/// Output-channel block (sparse) or panel (dense) widths the packers and kernels support.
pub const BLOCK_WIDTHS: [usize; 4] = [1, 2, 4, 8];

// Largest `c_out · c_in` accepted: keeps every index and byte offset far from overflow and
// refuses absurd dims before anything is allocated (why that number: `crate::limits`).
use crate::limits::MAX_WEIGHTS;

/// A 1x1 / FC weight `W (c_out, c_in)` as the kernels see it: cut into `nr`-wide
/// output-channel blocks, the `c_out % nr` leftover rows as width-1 blocks (sparse) or one
/// zero-padded panel (dense). `name` is the tensor's name, for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightShape {
    pub name: String,
    pub c_out: usize,
    pub c_in: usize,
    pub nr: usize,
}

impl WeightShape {
    /// Checks the dims before anything is sized from them.
    pub fn new(name: &str, c_out: usize, c_in: usize, nr: usize) -> Result<WeightShape> {
        if !BLOCK_WIDTHS.contains(&nr) {
            return Err(Error::Unsupported {
                what: format!("{name}: output-channel block width"),
                value: nr.to_string(),
                expected: "1, 2, 4, 8".into(),
            });
        }
        for (what, v) in [("c_out", c_out), ("c_in", c_in)] {
            if v == 0 {
                return Err(Error::DimOutOfRange {
                    tensor: name.into(),
                    what: what.into(),
                    value: 0,
                    limit: "must be ≥ 1".into(),
                });
            }
        }
        let weights = (c_out as u64).saturating_mul(c_in as u64);
        if weights > MAX_WEIGHTS {
            return Err(Error::DimOutOfRange {
                tensor: name.into(),
                what: "c_out·c_in".into(),
                value: weights,
                limit: format!("≤ {MAX_WEIGHTS}"),
            });
        }
        Ok(WeightShape {
            name: name.into(),
            c_out,
            c_in,
            nr,
        })
    }

    /// Checks a row-major dense `w (c_out, c_in)` and an optional `bias (c_out,)`.
    pub fn check_dense(&self, w: &[f32], bias: Option<&[f32]>) -> Result<()> {
        let (c_out, c_in) = (self.c_out, self.c_in);
        let mismatch = |what: String, expected: usize, got: usize| Error::ShapeMismatch {
            tensor: self.name.clone(),
            what,
            expected,
            got,
        };
        if w.len() != c_out * c_in {
            return Err(mismatch(
                format!("weight ({c_out}, {c_in})"),
                c_out * c_in,
                w.len(),
            ));
        }
        match bias {
            Some(b) if b.len() != c_out => {
                Err(mismatch(format!("bias ({c_out},)"), c_out, b.len()))
            }
            _ => Ok(()),
        }
    }

    /// Number of full `nr`-wide blocks; the rest are width-1 tail blocks.
    pub fn full_blocks(&self) -> usize {
        self.c_out / self.nr
    }

    /// Full blocks plus width-1 tail blocks.
    pub fn blocks(&self) -> usize {
        self.full_blocks() + self.c_out % self.nr
    }

    /// Width of block `b`: `nr` for full blocks, 1 for tail blocks.
    pub fn block_width(&self, b: usize) -> usize {
        if b < self.full_blocks() {
            self.nr
        } else {
            1
        }
    }
}
