//! CSR int8, unstructured (the baseline the structured formats are measured against):
//! `row_ptr (rows + 1) u32`, `col (nnz) u16` increasing within a row, `vals (nnz) i8`,
//! `scale (rows) f32`; `w = q·scale[row]`.
//!
//! Body after the header: nnz u64, row_ptr, col, vals, scale.

use super::{check_increasing, check_row_ptr, put_u16s, put_u32s, Cursor};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CsrStore {
    /// (rows + 1) nonzeros before each row
    pub row_ptr: Vec<u32>,
    /// (nnz,) column of each nonzero
    pub col: Vec<u16>,
    /// (nnz,) i8 value
    pub vals: Vec<u8>,
    /// (rows,) f32 scale
    pub scale: Vec<f32>,
}

impl CsrStore {
    /// Every nonzero of `w` is stored (even one that quantizes to 0: the pattern is the
    /// pruner's). A row's scale is its largest |w| / 127, kept in f32 (one per row is cheap).
    pub fn pack(w: &[f32], rows: usize, cols: usize) -> CsrStore {
        let mut s = CsrStore {
            row_ptr: vec![0],
            col: vec![],
            vals: vec![],
            scale: vec![],
        };
        for row in w.chunks_exact(cols).take(rows) {
            let d = row.iter().fold(0.0f32, |a, v| a.max(v.abs())) / 127.0;
            for (c, &v) in row.iter().enumerate().filter(|(_, &v)| v != 0.0) {
                s.col.push(c as u16);
                s.vals
                    .push((v / d).round().clamp(-127.0, 127.0) as i8 as u8);
            }
            s.scale.push(d);
            s.row_ptr.push(s.col.len() as u32);
        }
        s
    }

    pub fn for_each_run(&self, r: usize, mut f: impl FnMut(usize, &[f32])) {
        for k in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
            f(
                self.col[k] as usize,
                &[(self.vals[k] as i8) as f32 * self.scale[r]],
            );
        }
    }

    pub fn n_bytes(&self) -> usize {
        8 + 4 * self.row_ptr.len() + 3 * self.col.len() + 4 * self.scale.len()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.col.len() as u64).to_le_bytes());
        put_u32s(out, &self.row_ptr);
        put_u16s(out, &self.col);
        out.extend_from_slice(&self.vals);
        self.scale
            .iter()
            .for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
    }

    pub fn read(cur: &mut Cursor, rows: usize, cols: usize) -> Result<CsrStore> {
        let nnz = cur.u64()?;
        if nnz.checked_mul(3).is_none_or(|b| b > cur.left() as u64) {
            return Err(cur.bad(format!(
                "nonzero count {nnz} does not fit in the bytes left"
            )));
        }
        let row_ptr = cur.u32s(rows as u64 + 1, "row_ptr")?;
        check_row_ptr(cur, &row_ptr, nnz)?;
        let col = cur.u16s(nnz, "column indices")?;
        if let Some(k) = col.iter().position(|&c| c as usize >= cols) {
            return Err(cur.bad(format!(
                "nonzero #{k} has column {}, outside 0..{cols}",
                col[k]
            )));
        }
        check_increasing(cur, &row_ptr, &col, "column")?;
        let vals = cur.take_n(nnz, 1, "values")?.to_vec();
        let scale: Vec<f32> = cur
            .u32s(rows as u64, "row scales")?
            .into_iter()
            .map(f32::from_bits)
            .collect();
        if let Some(r) = scale.iter().position(|s| !s.is_finite()) {
            return Err(cur.bad(format!("row {r} has scale {}, not finite", scale[r])));
        }
        Ok(CsrStore {
            row_ptr,
            col,
            vals,
            scale,
        })
    }
}
