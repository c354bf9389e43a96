//! 2:4 semi-structured: in every aligned run of 4 input columns at most 2 nonzeros, stored as
//! exactly 2 int8 values and their 2-bit positions (a run with fewer nonzeros pads with zero
//! values at free positions), `w = q·d` with an f16 d per (row, 32 columns) — the scale
//! density of Q8_0, and 16 values per scale: one 16-byte load per block.
//!
//! Per row (runs = cols/4, blocks = ⌈cols/32⌉):
//! - `vals (cols/2) i8`: run k's two values at 2k, 2k+1;
//! - `pos (⌈runs/2⌉) u8`: run k's nibble in byte k/2 (low nibble for even k), `p0 | p1 << 2`,
//!   p0 < p1 (an odd run count leaves the last high nibble 0);
//! - `scale (blocks) f16`.
//!
//! Body after the header: vals, pos, scale for all rows (sizes follow from rows and cols).

use super::{f16_up, first_nonfinite_f16, put_u16s, Cursor};
use crate::error::{Error, Result};
use crate::kernels::llm::f16_finite;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NmStore {
    /// (rows, cols/2) i8 values
    pub vals: Vec<u8>,
    /// (rows, ⌈cols/8⌉) position nibbles
    pub pos: Vec<u8>,
    /// (rows, ⌈cols/32⌉) f16 scales
    pub scale: Vec<u16>,
}

/// Bytes of positions per row.
pub(crate) fn pos_bytes(cols: usize) -> usize {
    (cols / 4).div_ceil(2)
}

impl NmStore {
    pub fn pack(name: &str, w: &[f32], rows: usize, cols: usize) -> Result<NmStore> {
        let pb = pos_bytes(cols);
        let mut s = NmStore {
            vals: Vec::with_capacity(rows * cols / 2),
            pos: vec![0; rows * pb],
            scale: Vec::with_capacity(rows * cols.div_ceil(32)),
        };
        for (r, row) in w.chunks_exact(cols).take(rows).enumerate() {
            let mut d = 0.0;
            for (k, run) in row.chunks_exact(4).enumerate() {
                if k % 8 == 0 {
                    let blk = &row[4 * k..(4 * k + 32).min(cols)];
                    let dh = f16_up(name, blk.iter().fold(0.0f32, |a, v| a.max(v.abs())) / 127.0)?;
                    d = f16_finite(dh);
                    s.scale.push(dh);
                }
                let nz: Vec<usize> = (0..4).filter(|&j| run[j] != 0.0).collect();
                let (p0, p1) = match nz[..] {
                    [] => (0, 1),
                    [3] => (2, 3),
                    [p] => (p, p + 1),
                    [a, b] => (a, b),
                    _ => {
                        return Err(Error::BadArgument {
                            what: name.into(),
                            detail: format!(
                                "row {r}, columns {}..{}: {} nonzeros in a run of 4, not 2:4",
                                4 * k,
                                4 * k + 4,
                                nz.len()
                            ),
                        })
                    }
                };
                let q = |v: f32| {
                    if d > 0.0 {
                        (v / d).round().clamp(-127.0, 127.0) as i8 as u8
                    } else {
                        0
                    }
                };
                s.vals.extend_from_slice(&[q(run[p0]), q(run[p1])]);
                s.pos[r * pb + k / 2] |= ((p0 | p1 << 2) as u8) << (4 * (k % 2));
            }
        }
        Ok(s)
    }

    pub fn for_each_run(&self, r: usize, cols: usize, mut f: impl FnMut(usize, &[f32])) {
        let (runs, pb, nb) = (cols / 4, pos_bytes(cols), cols.div_ceil(32));
        for k in 0..runs {
            let d = f16_finite(self.scale[r * nb + k / 8]);
            let nib = self.pos[r * pb + k / 2] >> (4 * (k % 2));
            let v = &self.vals[(r * runs + k) * 2..][..2];
            f(4 * k + (nib & 3) as usize, &[(v[0] as i8) as f32 * d]);
            f(4 * k + (nib >> 2 & 3) as usize, &[(v[1] as i8) as f32 * d]);
        }
    }

    pub fn n_bytes(&self) -> usize {
        self.vals.len() + self.pos.len() + 2 * self.scale.len()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.vals);
        out.extend_from_slice(&self.pos);
        put_u16s(out, &self.scale);
    }

    pub fn read(cur: &mut Cursor, rows: usize, cols: usize) -> Result<NmStore> {
        let (rows64, runs) = (rows as u64, cols / 4);
        let vals = cur.take_n(rows64, cols / 2, "2:4 values")?.to_vec();
        let pos = cur
            .take_n(rows64, pos_bytes(cols), "2:4 positions")?
            .to_vec();
        let scale = cur.u16s(rows64 * cols.div_ceil(32) as u64, "2:4 scales")?;
        for (r, row) in pos.chunks_exact(pos_bytes(cols)).enumerate() {
            for k in 0..runs {
                let nib = row[k / 2] >> (4 * (k % 2)) & 15;
                if nib & 3 >= nib >> 2 {
                    return Err(cur.bad(format!(
                        "row {r}, run {k}: positions {} and {} are not increasing",
                        nib & 3,
                        nib >> 2
                    )));
                }
            }
            if runs % 2 == 1 && row[runs / 2] >> 4 != 0 {
                return Err(cur.bad(format!("row {r}: padding nibble is not 0")));
            }
        }
        if let Some(i) = first_nonfinite_f16(&scale) {
            return Err(cur.bad(format!("scale #{i} is not a finite f16")));
        }
        Ok(NmStore { vals, pos, scale })
    }
}
