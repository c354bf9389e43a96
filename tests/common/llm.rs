//! Shared by the LLM kernel tests (`llm_kernels.rs`, `kernel_table.rs`): random weights in
//! each sparse format's pattern and the f64 dequantize-then-matmul oracle. Included with
//! `#[path]` like `cnn.rs`.
#![allow(dead_code)]

use std::ops::Range;
use zeroskip::kernels::Kernel;
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::synth::Rng;

/// Random `w (rows, cols)` obeying `f`'s pattern, about `sparsity` of it zero.
pub fn random_w(
    rng: &mut Rng,
    f: SparseFormat,
    rows: usize,
    cols: usize,
    sparsity: f32,
) -> Vec<f32> {
    let mut w = rng.vec(rows * cols);
    let drop = |rng: &mut Rng| (rng.uniform() + 1.0) / 2.0 < sparsity;
    match f {
        SparseFormat::Group { g, .. } => {
            for grp in w.chunks_exact_mut(g) {
                if drop(rng) {
                    grp.fill(0.0);
                }
            }
        }
        SparseFormat::TwoFour => {
            for run in w.chunks_exact_mut(4) {
                // 0, 1 or 2 nonzeros (mostly 2) at random places
                let keep = [2, 2, 2, 1, 0][rng.below(5)];
                let a = rng.below(4);
                let b = (a + 1 + rng.below(3)) % 4;
                for (j, v) in run.iter_mut().enumerate() {
                    if !(keep >= 1 && j == a || keep == 2 && j == b) {
                        *v = 0.0;
                    }
                }
            }
        }
        // dense layout: zeros are stored like any weight
        SparseFormat::Csr8 | SparseFormat::Col { .. } => {
            w.iter_mut().filter(|_| drop(rng)).for_each(|v| *v = 0.0)
        }
    }
    w
}

/// `Y (t, d) = X (t, n) @ Wᵀ` in f64, with per-entry tolerance `3e-7 · Σ(|w| + max|w_row|)·|x|`
/// (the max term covers int4's `d·Σq·x + m·Σx` split, whose halves may cancel). Measured at
/// most 6.8e-8 of that sum over every LLM linear kernel and format (scalar, SIMD128 and
/// relaxed; `check_x` and kernel_table's `check_rows`).
pub fn reference(w: &[f32], d: usize, n: usize, x: &[f32], t: usize) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); t * d];
    for tok in 0..t {
        for r in 0..d {
            let row = &w[r * n..(r + 1) * n];
            let amax = row.iter().fold(0.0f64, |a, v| a.max(v.abs() as f64));
            let (mut s, mut mag) = (0.0f64, 0.0f64);
            for (c, &wv) in row.iter().enumerate() {
                let xv = x[tok * n + c] as f64;
                s += wv as f64 * xv;
                mag += (wv.abs() as f64 + amax) * xv.abs();
            }
            out[tok * d + r] = (s, 3e-7 * mag);
        }
    }
    out
}

/// Runs `k` on `m` for `t` tokens and `rows`; checks against the reference, and that entries
/// outside `rows` stay untouched.
pub fn check(k: &Kernel, m: &SparseMatrix, t: usize, rows: Range<usize>, seed: u64, case: &str) {
    let x = Rng::new(seed).vec(t * m.cols);
    check_x(k, m, &x, t, rows, case);
}

/// [`check`] with a given `x (t, cols)`.
pub fn check_x(k: &Kernel, m: &SparseMatrix, x: &[f32], t: usize, rows: Range<usize>, case: &str) {
    let (d, n) = (m.rows, m.cols);
    let want = reference(&m.decode(), d, n, x, t);
    let mut y = vec![f32::NAN; t * d];
    k.run_sparse(m, x, t, &mut y, rows.clone()).unwrap();
    for tok in 0..t {
        for r in 0..d {
            let got = y[tok * d + r];
            if !rows.contains(&r) {
                assert!(
                    got.is_nan(),
                    "{k:?} {case}: row {r} outside {rows:?} written"
                );
                continue;
            }
            let (w, tol) = want[tok * d + r];
            assert!(
                (got as f64 - w).abs() <= tol,
                "{k:?} {case} ({d}×{n}, t={t}): token {tok} row {r}: {got} vs {w} (tol {tol:.2e})"
            );
        }
    }
}

/// Columns for a case: `k` pattern units plus, where a format allows it, a partial 32-block.
pub fn cols_for(f: SparseFormat, units: usize) -> usize {
    match f {
        SparseFormat::Group { g, .. } => g * units,
        SparseFormat::Col { .. } => 4 * units + 1,
        _ => 4 * units,
    }
}
