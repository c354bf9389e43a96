//! Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for LLMs"): score each
//! weight by |W_ij|·‖x_j‖₂, so a small weight on a loud input channel survives, and compare
//! scores within each output row (or G-row group), with no weight update.

use super::{magnitude, Pattern};

/// Prunes `w (c_out, c_in)` given `sq_norm (c_in,)`: Σ over calibration pixels of x_j².
pub fn prune(w: &mut [f32], sq_norm: &[f64], c_out: usize, c_in: usize, s: f32, p: Pattern) {
    let norm: Vec<f64> = sq_norm.iter().map(|v| v.max(0.0).sqrt()).collect();
    // scores (c_out, c_in)
    let scores: Vec<f64> = w
        .chunks(c_in)
        .flat_map(|row| row.iter().zip(&norm).map(|(v, n)| v.abs() as f64 * n))
        .collect();
    magnitude::apply(w, &scores, c_out, c_in, s, p);
}
