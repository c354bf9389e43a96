//! Sparse 1x1 / FC weights in the layout `shaders/spmm.wgsl` reads (see its header for why):
//! CSR rows of output channels, sorted by nonzero count (longest first), packed once at load.

use crate::error::{Error, Result};

/// `W (m, k)` as sorted CSR rows plus the bias, in two flat buffers:
/// - `idx`: `order (m) | row_ptr (m + 1) | col (nnz)`: slot `s` is output channel
///   `order[s]`, its nonzeros are `row_ptr[s]..row_ptr[s + 1]`, `col` = input channels,
///   ascending within a row;
/// - `wts`: `bias (m)` indexed by channel | `val (nnz)` in the same order as `col`.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrWeights {
    pub m: usize,
    pub k: usize,
    pub idx: Vec<u32>,
    pub wts: Vec<f32>,
}

impl CsrWeights {
    /// Packs dense row-major `w (m, k)` and `bias (m)`; `name` (the layer) goes into errors.
    pub fn pack(name: &str, w: &[f32], bias: &[f32], m: usize, k: usize) -> Result<CsrWeights> {
        let mismatch = |what: &str, expected: usize, got: usize| Error::ShapeMismatch {
            tensor: name.into(),
            what: what.into(),
            expected,
            got,
        };
        let expected = m.checked_mul(k).ok_or_else(|| Error::DimOutOfRange {
            tensor: name.into(),
            what: "m·k".into(),
            value: u64::MAX,
            limit: "fits usize".into(),
        })?;
        if w.len() != expected {
            return Err(mismatch(&format!("W ({m}, {k})"), expected, w.len()));
        }
        if bias.len() != m {
            return Err(mismatch(&format!("bias ({m},)"), m, bias.len()));
        }
        // Indices are u32 on the GPU: k and the nonzero count must fit (they do for any
        // tensor under the storage-binding limit, but check rather than truncate).
        if u32::try_from(expected).is_err() {
            return Err(Error::DimOutOfRange {
                tensor: name.into(),
                what: "weights m·k".into(),
                value: expected as u64,
                limit: format!("≤ {}", u32::MAX),
            });
        }
        let rows: Vec<&[f32]> = w.chunks_exact(k.max(1)).take(m).collect();
        let count = |r: &[f32]| r.iter().filter(|&&v| v != 0.0).count();
        let mut order: Vec<usize> = (0..m).collect();
        // Longest rows first; a stable sort keeps channel order among equals.
        order.sort_by_key(|&r| std::cmp::Reverse(count(rows[r])));
        let nnz: usize = rows.iter().map(|r| count(r)).sum();
        let mut idx = Vec::with_capacity(2 * m + 1 + nnz);
        idx.extend(order.iter().map(|&r| r as u32));
        let mut wts = Vec::with_capacity(m + nnz);
        wts.extend_from_slice(bias);
        let mut cols = Vec::with_capacity(nnz);
        idx.push(0);
        for &r in &order {
            for (c, &v) in rows[r].iter().enumerate() {
                if v != 0.0 {
                    cols.push(c as u32);
                    wts.push(v);
                }
            }
            idx.push(cols.len() as u32);
        }
        idx.extend(cols);
        let packed = CsrWeights { m, k, idx, wts };
        packed.validate(name)?;
        Ok(packed)
    }

    pub fn nnz(&self) -> usize {
        self.wts.len().saturating_sub(self.m)
    }

    /// Where `row_ptr` starts in `idx`.
    pub fn ptr_off(&self) -> usize {
        self.m
    }

    /// Where `col` starts in `idx`.
    pub fn col_off(&self) -> usize {
        2 * self.m + 1
    }

    /// Checks everything the shader relies on to stay in bounds: lengths, `order` a
    /// permutation of `0..m`, `row_ptr` non-decreasing from 0 to nnz, every `col < k`.
    pub fn validate(&self, name: &str) -> Result<()> {
        let bad = |detail: String| Error::MalformedSparse {
            tensor: name.into(),
            detail,
        };
        let (m, nnz) = (self.m, self.nnz());
        if self.wts.len() < m || self.idx.len() != 2 * m + 1 + nnz {
            return Err(bad(format!(
                "idx holds {} and wts {} values; expected {} and {} for m = {m}, nnz = {nnz}",
                self.idx.len(),
                self.wts.len(),
                2 * m + 1 + nnz,
                m + nnz
            )));
        }
        let mut seen = vec![false; m];
        for &r in &self.idx[..m] {
            match seen.get_mut(r as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(bad(format!("order repeats or exceeds channel {r}"))),
            }
        }
        let ptr = &self.idx[m..2 * m + 1];
        if ptr[0] != 0 || ptr[m] as usize != nnz || ptr.windows(2).any(|p| p[0] > p[1]) {
            return Err(bad("row_ptr must rise from 0 to the nonzero count".into()));
        }
        let cols = &self.idx[2 * m + 1..];
        if let Some(i) = cols.iter().position(|&c| c as usize >= self.k) {
            return Err(Error::DeltaOutOfRange {
                tensor: name.into(),
                index: i,
                channel: cols[i] as i64,
                c_in: self.k,
            });
        }
        Ok(())
    }
}

/// Dense 1x1 / FC weights as `shaders/gemm.wgsl` reads them: `W (m, k) | bias (m)`.
pub fn dense_weights(w: &[f32], bias: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(w.len() + bias.len());
    out.extend_from_slice(w);
    out.extend_from_slice(bias);
    out
}
