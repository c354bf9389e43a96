//! Group-sparse 1×G (GQSA-like): per row, the kept groups of G consecutive input columns.
//!
//! Arrays (ng = kept groups in all rows, in row order):
//! - `row_ptr (rows + 1) u32`: groups before each row;
//! - `col (ng) u16`: group index c, the group covering columns `c·G .. c·G + G`;
//! - `d (ng) f16`, `m (ng) f16` (int4 only): scales apart from the values, so a kernel loads
//!   four groups' scales as one 8-byte vector load;
//! - `q (ng · G·bits/8)`: int4: `G/2` bytes per group, byte j = weight j (low nibble) and
//!   weight j + G/2 (high), value `q·d + m`, q ∈ 0..15 (ggml Q4_1's split, so one mask and
//!   one shift yield two runs of consecutive weights); int8: G i8, value `q·d`.
//!
//! Body after the header: ng u64, row_ptr, col, d, m (int4), q.

use super::{check_row_ptr, first_nonfinite_f16, put_u16s, put_u32s, Cursor};
use super::{f16_down, f16_up};
use crate::error::Result;
use crate::kernels::llm::f16_finite;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupStore {
    pub g: usize,
    pub bits: u8,
    /// (rows + 1) kept groups before each row
    pub row_ptr: Vec<u32>,
    /// (ng,) group index: columns col·g .. col·g + g
    pub col: Vec<u16>,
    /// (ng,) f16 scale
    pub d: Vec<u16>,
    /// (ng,) f16 min (int4), empty for int8
    pub m: Vec<u16>,
    /// (ng · g·bits/8,) packed values
    pub q: Vec<u8>,
}

impl GroupStore {
    /// Bytes of values per group.
    pub fn group_bytes(&self) -> usize {
        self.g * self.bits as usize / 8
    }

    pub fn pack(
        name: &str,
        w: &[f32],
        rows: usize,
        cols: usize,
        g: usize,
        bits: u8,
    ) -> Result<GroupStore> {
        let mut s = GroupStore {
            g,
            bits,
            row_ptr: vec![0],
            col: vec![],
            d: vec![],
            m: vec![],
            q: vec![],
        };
        for row in w.chunks_exact(cols).take(rows) {
            for (c, grp) in row.chunks_exact(g).enumerate() {
                if grp.iter().all(|&v| v == 0.0) {
                    continue;
                }
                s.col.push(c as u16);
                if bits == 4 {
                    s.push_int4(name, grp)?;
                } else {
                    s.push_int8(name, grp)?;
                }
            }
            s.row_ptr.push(s.col.len() as u32);
        }
        Ok(s)
    }

    /// Min rounded down to a half; the scale is the candidate of least squared error among
    /// `(hi − m) / k` for k = 15 (rounded up: every weight lies in `[m, m + 15·d]`) down to 8
    /// (rounded to nearest; 15·d then exceeds the range). Every candidate keeps each weight
    /// within d/2 of its code. Searching k matters when the weights already sit on a coarser
    /// grid (a Q4_1 model's values, a group spanning k of its 16 levels): the matching k
    /// reproduces them exactly, where (hi − m)/15 would round every one of them.
    fn push_int4(&mut self, name: &str, grp: &[f32]) -> Result<()> {
        let lo = grp.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = grp.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mh = f16_down(name, lo)?;
        let m = f16_finite(mh);
        let code = |v: f32, d: f32| {
            if d > 0.0 {
                ((v - m) / d).round().clamp(0.0, 15.0) as u8
            } else {
                0
            }
        };
        let sse = |d: f32| -> f32 {
            grp.iter()
                .map(|&v| (v - (m + code(v, d) as f32 * d)).powi(2))
                .sum()
        };
        let mut dh = f16_up(name, (hi - m) / 15.0)?;
        let mut best = sse(f16_finite(dh));
        for k in (8..15).rev() {
            let h = crate::tensor::f32_to_f16((hi - m) / k as f32);
            if h & 0x7c00 == 0x7c00 {
                continue; // not finite in f16
            }
            let e = sse(f16_finite(h));
            if e < best {
                (best, dh) = (e, h);
            }
        }
        let d = f16_finite(dh);
        let h = grp.len() / 2;
        for j in 0..h {
            self.q.push(code(grp[j], d) | (code(grp[j + h], d) << 4));
        }
        self.d.push(dh);
        self.m.push(mh);
        Ok(())
    }

    /// Scale rounded up to a half, so |w/d| ≤ 127.
    fn push_int8(&mut self, name: &str, grp: &[f32]) -> Result<()> {
        let amax = grp.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let dh = f16_up(name, amax / 127.0)?;
        let d = f16_finite(dh);
        for &v in grp {
            let q = if d > 0.0 {
                (v / d).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            };
            self.q.push(q as u8);
        }
        self.d.push(dh);
        Ok(())
    }

    pub fn for_each_run(&self, r: usize, mut f: impl FnMut(usize, &[f32])) {
        let (g, gb) = (self.g, self.group_bytes());
        let mut buf = [0.0f32; 16];
        for k in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
            let d = f16_finite(self.d[k]);
            let q = &self.q[k * gb..(k + 1) * gb];
            if self.bits == 4 {
                let m = f16_finite(self.m[k]);
                for (j, &b) in q.iter().enumerate() {
                    buf[j] = (b & 15) as f32 * d + m;
                    buf[j + gb] = (b >> 4) as f32 * d + m;
                }
            } else {
                for (o, &b) in buf.iter_mut().zip(q) {
                    *o = (b as i8) as f32 * d;
                }
            }
            f(self.col[k] as usize * g, &buf[..g]);
        }
    }

    pub fn n_bytes(&self) -> usize {
        8 + 4 * self.row_ptr.len()
            + 2 * (self.col.len() + self.d.len() + self.m.len())
            + self.q.len()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.col.len() as u64).to_le_bytes());
        put_u32s(out, &self.row_ptr);
        put_u16s(out, &self.col);
        put_u16s(out, &self.d);
        put_u16s(out, &self.m);
        out.extend_from_slice(&self.q);
    }

    pub fn read(cur: &mut Cursor, rows: usize, cols: usize, g: usize, bits: u8) -> Result<Self> {
        let ng = cur.u64()?;
        // Each group needs at least 2 + 2 + g·bits/8 bytes: bound ng before any allocation.
        let gb = g * bits as usize / 8;
        let per = 4 + gb + if bits == 4 { 2 } else { 0 };
        if ng
            .checked_mul(per as u64)
            .is_none_or(|b| b > cur.left() as u64)
        {
            return Err(cur.bad(format!("group count {ng} does not fit in the bytes left")));
        }
        let row_ptr = cur.u32s(rows as u64 + 1, "row_ptr")?;
        check_row_ptr(cur, &row_ptr, ng)?;
        let col = cur.u16s(ng, "group indices")?;
        let n_groups = cols / g;
        if let Some(k) = col.iter().position(|&c| c as usize >= n_groups) {
            return Err(cur.bad(format!(
                "group #{k} has index {}, outside 0..{n_groups} (cols {cols} / G {g})",
                col[k]
            )));
        }
        super::check_increasing(cur, &row_ptr, &col, "group index")?;
        let d = cur.u16s(ng, "scales")?;
        let m = if bits == 4 {
            cur.u16s(ng, "mins")?
        } else {
            vec![]
        };
        if let Some(k) = first_nonfinite_f16(&d).or_else(|| first_nonfinite_f16(&m)) {
            return Err(cur.bad(format!("group #{k} has a non-finite f16 scale or min")));
        }
        let q = cur.take_n(ng, gb, "values")?.to_vec();
        Ok(GroupStore {
            g,
            bits,
            row_ptr,
            col,
            d,
            m,
            q,
        })
    }
}
