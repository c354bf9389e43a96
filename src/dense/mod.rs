//! Panel-packed dense weights for the CHW 1x1 / GEMM kernels.
//!
//! `W (c_out, c_in)` is cut into panels of `nr` output channels. A panel holds `nr` bias values,
//! then for each input channel `k` the `nr` weights `W[p·nr .. p·nr+nr, k]` side by side, so the
//! kernel broadcasts consecutive floats. The last panel is zero-padded to `nr` rows; kernels
//! store only the real rows.

use crate::error::{Error, Result};

/// Panel widths the dense kernels are built for.
pub const PANEL_WIDTHS: [usize; 4] = [1, 2, 4, 8];

#[derive(Debug, Clone, PartialEq)]
pub struct DenseWeights {
    name: String,
    c_out: usize,
    c_in: usize,
    nr: usize,
    /// (panels, 1 + c_in, nr): bias row, then one row of nr weights per input channel
    panels: Vec<f32>,
}

impl DenseWeights {
    /// Packs row-major `w (c_out, c_in)` and `bias (c_out,)` (zeros when `None`).
    pub fn pack(
        name: &str,
        w: &[f32],
        bias: Option<&[f32]>,
        c_out: usize,
        c_in: usize,
        nr: usize,
    ) -> Result<Self> {
        if !PANEL_WIDTHS.contains(&nr) {
            return Err(Error::Unsupported {
                what: format!("{name}: dense panel width"),
                value: nr.to_string(),
                expected: "1, 2, 4, 8".into(),
            });
        }
        if c_out == 0 || c_in == 0 || (c_out as u64).saturating_mul(c_in as u64) > 1 << 28 {
            return Err(Error::DimOutOfRange {
                tensor: name.into(),
                what: "c_out·c_in".into(),
                value: (c_out as u64).saturating_mul(c_in as u64),
                limit: "1 ..= 2^28".into(),
            });
        }
        if w.len() != c_out * c_in {
            return Err(Error::ShapeMismatch {
                tensor: name.into(),
                what: format!("weight ({c_out}, {c_in})"),
                expected: c_out * c_in,
                got: w.len(),
            });
        }
        if let Some(b) = bias {
            if b.len() != c_out {
                return Err(Error::ShapeMismatch {
                    tensor: name.into(),
                    what: format!("bias ({c_out},)"),
                    expected: c_out,
                    got: b.len(),
                });
            }
        }
        let n_panels = c_out.div_ceil(nr);
        let mut panels = vec![0.0f32; n_panels * (1 + c_in) * nr];
        for p in 0..n_panels {
            let base = p * (1 + c_in) * nr;
            for j in 0..nr.min(c_out - p * nr) {
                let r = p * nr + j;
                panels[base + j] = bias.map_or(0.0, |b| b[r]);
                for k in 0..c_in {
                    panels[base + (1 + k) * nr + j] = w[r * c_in + k];
                }
            }
        }
        Ok(DenseWeights {
            name: name.into(),
            c_out,
            c_in,
            nr,
            panels,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn c_out(&self) -> usize {
        self.c_out
    }
    pub fn c_in(&self) -> usize {
        self.c_in
    }
    pub fn nr(&self) -> usize {
        self.nr
    }
    pub fn panels(&self) -> &[f32] {
        &self.panels
    }
    /// Floats in one panel: `(1 + c_in) · nr`.
    pub fn panel_len(&self) -> usize {
        (1 + self.c_in) * self.nr
    }
}
