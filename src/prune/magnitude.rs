//! Magnitude pruning: drop the weights of smallest |W_ij|. The data-free baseline.

use super::{mask, pruned_per_row, Pattern};

/// Zeroes `round(s · c_in)` weights of every row of `w (c_out, c_in)`, or of every group of
/// rows with `pattern`, by smallest magnitude (a group sums its members' |W|); in units of
/// 1×G groups, or N of every M, as the pattern says.
pub fn prune(w: &mut [f32], c_out: usize, c_in: usize, s: f32, pattern: Pattern) {
    // scores (c_out, c_in)
    let scores: Vec<f64> = w.iter().map(|v| v.abs() as f64).collect();
    apply(w, &scores, c_out, c_in, s, pattern);
}

/// Zeroes the weights `mask::select` picks from `scores (c_out, c_in)`.
pub(super) fn apply(w: &mut [f32], scores: &[f64], c_out: usize, c_in: usize, s: f32, p: Pattern) {
    let k = pruned_per_row(c_in / p.unit(), s);
    let pruned = mask::select(scores, c_out, c_in, k, p);
    for (v, &drop) in w.iter_mut().zip(&pruned) {
        if drop {
            *v = 0.0;
        }
    }
}
