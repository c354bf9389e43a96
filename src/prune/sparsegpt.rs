//! SparseGPT (Frantar & Alistarh 2023, "Massive Language Models Can Be Accurately Pruned in
//! One-Shot"), written from the paper's Algorithm 1. A 1x1 conv is a linear layer over pixels,
//! so with X (c_in, pixels) of calibration inputs the layer-wise problem is
//! min ‖W X − Ŵ X‖² over masked Ŵ, whose Hessian is H = X Xᵀ (c_in, c_in).
//!
//! Columns are processed left to right in blocks. For each block the mask is chosen by the OBS
//! saliency w² / [U]_jj² (U the upper Cholesky factor of H⁻¹). Then each column in turn is
//! quantized to "kept or zero", and its error is spread over the columns to its right through
//! row j of U: the OBS update, which needs no re-inversion when eliminated in order.
//! With G×1 groups all rows of a group share the block's mask; the update stays per row
//! because H, and so U, is the same for every row.

use super::{linalg, mask, pruned_per_row, Pattern};
use crate::error::{Error, Result};

/// Prunes `w (c_out, c_in)` to sparsity `s` given `h (c_in, c_in)` = Σ x xᵀ over the
/// calibration pixels, and updates the kept weights to compensate. `damp` adds
/// `damp · mean(diag h)` to the diagonal (1% in the paper); if h is still not positive definite
/// the dampening grows tenfold, up to three times.
pub fn prune(
    layer: &str,
    w: &mut [f32],
    mut h: Vec<f64>,
    c_out: usize,
    c_in: usize,
    s: f32,
    pattern: Pattern,
    block: usize,
    damp: f64,
) -> Result<()> {
    let n = c_in;
    // Inputs that never fire carry no information: they cost nothing to drop, so their weights
    // are zeroed (they score 0 and go first) and their diagonal made 1 to keep H invertible.
    // w64 (c_out, c_in): the working copy, in f64 like H
    let mut w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    for j in 0..n {
        if h[j * n + j] <= 0.0 {
            h[j * n + j] = 1.0;
            (0..c_out).for_each(|r| w64[r * n + j] = 0.0);
        }
    }
    let mean_diag = (0..n).map(|j| h[j * n + j]).sum::<f64>() / n as f64;
    let mut u = None;
    let mut lambda = damp * mean_diag;
    for _ in 0..4 {
        // hd (c_in, c_in) = H + λ I
        let mut hd = h.clone();
        (0..n).for_each(|j| hd[j * n + j] += lambda);
        u = linalg::inverse_upper_cholesky(&hd, n);
        if u.is_some() {
            break;
        }
        lambda *= 10.0;
    }
    // U (c_in, c_in): upper triangular, H⁻¹ = Uᵀ U
    let u = u.ok_or_else(|| Error::Numerical {
        layer: layer.into(),
        detail: format!("H ({n}×{n}) is not positive definite even with dampening {lambda:.3e}"),
    })?;

    // Blocks hold whole 1×G groups / N:M runs.
    let (unit, align) = (pattern.unit(), pattern.align());
    let block = block.div_ceil(align) * align;
    if n % align != 0 {
        return Err(Error::BadArgument {
            what: "pattern".into(),
            detail: format!(
                "{layer}: {n} columns are not a multiple of {align} ({})",
                pattern.name()
            ),
        });
    }
    let k_row = pruned_per_row(n / unit, s);
    // OBS saliency of weight (r, j) under the current weights: w² / [U]_jj²
    let saliency = |w64: &[f64], r: usize, j: usize| {
        let d = u[j * n + j];
        w64[r * n + j] * w64[r * n + j] / (d * d)
    };
    // 1×G groups choose their mask over the whole row, up front: a block holds only
    // block / G groups, and a per-block quota (round(s · 8) groups of 16 for the default
    // 128-column block) would force every row to drop groups in the same blocks.
    // pruned_row (c_out, n), for 1×G only
    let pruned_row = match pattern {
        Pattern::ColGroups(_) => {
            let all: Vec<f64> = (0..c_out)
                .flat_map(|r| (0..n).map(move |j| (r, j)))
                .map(|(r, j)| saliency(&w64, r, j))
                .collect();
            Some(mask::select(&all, c_out, n, k_row, pattern))
        }
        _ => None,
    };
    for lo in (0..n).step_by(block) {
        let hi = (lo + block).min(n);
        let cols = hi - lo;
        // pruned (c_out, cols): this block's mask, chosen now from the updated weights
        // (adaptive mask selection) unless chosen up front
        let pruned: Vec<bool> = match &pruned_row {
            Some(p) => (0..c_out)
                .flat_map(|r| p[r * n + lo..r * n + hi].iter().copied())
                .collect(),
            None => {
                // scores (c_out, cols)
                let scores: Vec<f64> = (0..c_out)
                    .flat_map(|r| (lo..hi).map(move |j| (r, j)))
                    .map(|(r, j)| saliency(&w64, r, j))
                    .collect();
                let k = mask::per_block(k_row, n / unit, lo / unit, hi / unit);
                mask::select(&scores, c_out, cols, k, pattern)
            }
        };
        // err (cols,): one row's scaled errors, reused for the lazy update right of the block
        let mut err = vec![0.0f64; cols];
        for r in 0..c_out {
            let row = &mut w64[r * n..(r + 1) * n];
            for j in lo..hi {
                let q = if pruned[r * cols + j - lo] {
                    0.0
                } else {
                    row[j]
                };
                let e = (row[j] - q) / u[j * n + j];
                err[j - lo] = e;
                // OBS update of the block's remaining columns; row[j] itself becomes q.
                if e != 0.0 {
                    for (x, &uj) in row[j..hi].iter_mut().zip(&u[j * n + j..j * n + hi]) {
                        *x -= e * uj;
                    }
                }
                row[j] = q;
            }
            // Lazy batch update: columns right of the block take the block's errors at once.
            for (j, &e) in (lo..hi).zip(&err) {
                if e != 0.0 {
                    for (x, &uj) in row[hi..].iter_mut().zip(&u[j * n + hi..(j + 1) * n]) {
                        *x -= e * uj;
                    }
                }
            }
        }
    }
    for (dst, &v) in w.iter_mut().zip(&w64) {
        *dst = v as f32;
    }
    Ok(())
}
