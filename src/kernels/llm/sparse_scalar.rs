//! Portable sparse kernels: a dedicated GEMV for the group formats (the main path, also the
//! native CLI's), and GEMV/GEMM for any format over its dequantized runs
//! ([`SparseMatrix::for_each_run`]), which is as fast as scalar code gets for one or two
//! weights per index (2:4, CSR).
//!
//! Safety (every kernel): as [`super::sparse::SparseFn`].

use super::f16_finite;
use crate::sparse::llm::{SparseMatrix, Store};
use std::ops::Range;

/// Group formats, `W (d,n) @ x (n,) -> y (d,)`: per group `d·Σq·x (+ m·Σx)`, 8 partial sums.
pub(crate) unsafe fn gemv_group(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let Store::Group(s) = &w.store else { return };
    let (g, gb, int4) = (s.g, s.group_bytes(), s.bits == 4);
    for r in rows {
        let mut acc = [0.0f32; 8];
        for k in s.row_ptr[r] as usize..s.row_ptr[r + 1] as usize {
            let xg = &x[s.col[k] as usize * g..][..g];
            let q = &s.q[k * gb..][..gb];
            let d = f16_finite(s.d[k]);
            let mut p = [0.0f32; 8];
            if int4 {
                // byte j: weight j (low nibble), weight j + g/2 (high)
                let mut sx = [0.0f32; 8];
                for (j, &b) in q.iter().enumerate() {
                    let (x0, x1) = (xg[j], xg[j + gb]);
                    p[j] = (b & 15) as f32 * x0 + (b >> 4) as f32 * x1;
                    sx[j] = x0 + x1;
                }
                let m = f16_finite(s.m[k]);
                for j in 0..gb {
                    acc[j] += d * p[j] + m * sx[j];
                }
            } else {
                for (j, (&b, &xv)) in q.iter().zip(xg).enumerate() {
                    p[j % 8] += (b as i8) as f32 * xv;
                }
                for j in 0..8 {
                    acc[j] += d * p[j];
                }
            }
        }
        y[r] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    }
}

/// Any format, `W (d,n) @ x (n,) -> y (d,)`.
pub(crate) unsafe fn gemv_runs(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    for r in rows {
        let mut acc = 0.0f32;
        w.for_each_run(r, |c, v| {
            acc += v.iter().zip(&x[c..]).map(|(a, b)| a * b).sum::<f32>()
        });
        y[r] = acc;
    }
}

/// Any format, `X (t,n) @ Wᵀ -> Y (t,d)`: each row's weights are decoded once per tile of 4
/// tokens (the tile outermost, so the tile's rows of `x` stay in cache across all rows of W).
pub(crate) unsafe fn gemm_runs(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let (n, d) = (w.cols, w.rows);
    for t0 in (0..t).step_by(4) {
        let tt = (t - t0).min(4);
        for r in rows.clone() {
            let mut acc = [0.0f32; 4];
            w.for_each_run(r, |c, v| {
                for (i, a) in acc.iter_mut().enumerate().take(tt) {
                    let xr = &x[(t0 + i) * n + c..][..v.len()];
                    *a += v.iter().zip(xr).map(|(a, b)| a * b).sum::<f32>();
                }
            });
            for (i, a) in acc.iter().enumerate().take(tt) {
                y[(t0 + i) * d + r] = *a;
            }
        }
    }
}
