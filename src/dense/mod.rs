//! Panel-packed dense weights for the CHW 1x1 / GEMM kernels.
//!
//! `W (c_out, c_in)` is cut into panels of `nr` output channels. A panel holds `nr` bias values,
//! then for each input channel `k` the `nr` weights `W[p·nr .. p·nr+nr, k]` side by side, so the
//! kernel broadcasts consecutive floats. The last panel is zero-padded to `nr` rows; kernels
//! store only the real rows.

use crate::error::Result;
use crate::tensor::WeightShape;

#[derive(Debug, Clone, PartialEq)]
pub struct DenseWeights {
    shape: WeightShape,
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
        let shape = WeightShape::new(name, c_out, c_in, nr)?;
        shape.check_dense(w, bias)?;
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
        Ok(DenseWeights { shape, panels })
    }

    pub fn shape(&self) -> &WeightShape {
        &self.shape
    }
    pub fn panels(&self) -> &[f32] {
        &self.panels
    }
    /// Floats in one panel: `(1 + c_in) · nr`.
    pub fn panel_len(&self) -> usize {
        (1 + self.shape.c_in) * self.shape.nr
    }
}
