//! The little dense f64 linear algebra SparseGPT needs: Cholesky factorization and the
//! upper Cholesky factor of an inverse. Matrices are square, row-major, `n × n`.

/// In place: `a (n, n)` symmetric positive definite → its lower Cholesky factor L (a = L Lᵀ),
/// upper triangle zeroed. `None` if a pivot is not positive (a is not positive definite).
pub fn cholesky(a: &mut [f64], n: usize) -> Option<()> {
    for j in 0..n {
        // Rows < j of L are final: split them off to read row j while writing rows below.
        let (above, below) = a.split_at_mut((j + 1) * n);
        let row_j = &mut above[j * n..];
        let d = row_j[j] - row_j[..j].iter().map(|v| v * v).sum::<f64>();
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        row_j[j] = d;
        row_j[j + 1..].fill(0.0);
        let lj = &row_j[..j];
        for row_i in below.chunks_exact_mut(n) {
            let dot: f64 = row_i[..j].iter().zip(lj).map(|(x, y)| x * y).sum();
            row_i[j] = (row_i[j] - dot) / d;
        }
    }
    Some(())
}

/// `h (n, n)` symmetric positive definite → U upper triangular with h⁻¹ = Uᵀ U, the factor
/// SparseGPT reads its OBS updates from. `None` if h is not positive definite.
pub fn inverse_upper_cholesky(h: &[f64], n: usize) -> Option<Vec<f64>> {
    // L (n, n): h = L Lᵀ
    let mut l = h.to_vec();
    cholesky(&mut l, n)?;
    // m (n, n) = L⁻¹, lower triangular, row by row: m[r] = (e_r − Σ_{k<r} L[r][k] m[k]) / L[r][r].
    let mut m = vec![0.0f64; n * n];
    for r in 0..n {
        let (done, rest) = m.split_at_mut(r * n);
        let row = &mut rest[..n];
        row[r] = 1.0;
        for k in 0..r {
            let lrk = l[r * n + k];
            if lrk != 0.0 {
                for (d, &v) in row[..=k].iter_mut().zip(&done[k * n..k * n + k + 1]) {
                    *d -= lrk * v;
                }
            }
        }
        let inv_d = 1.0 / l[r * n + r];
        row[..=r].iter_mut().for_each(|v| *v *= inv_d);
    }
    // inv (n, n) = h⁻¹ = L⁻ᵀ L⁻¹ = mᵀ m: inv[i][j] = Σ_{k ≥ max(i,j)} m[k][i] m[k][j].
    let mut inv = vec![0.0f64; n * n];
    for k in 0..n {
        let row = &m[k * n..k * n + k + 1];
        for i in 0..=k {
            let mi = row[i];
            if mi == 0.0 {
                continue;
            }
            let dst = &mut inv[i * n..i * n + k + 1];
            for (d, &mj) in dst.iter_mut().zip(row) {
                *d += mi * mj;
            }
        }
    }
    // Lower Cholesky of h⁻¹, transposed: U = L'ᵀ with h⁻¹ = L' L'ᵀ = Uᵀ U.
    cholesky(&mut inv, n)?;
    let mut u = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            u[j * n + i] = inv[i * n + j];
        }
    }
    Some(u)
}
