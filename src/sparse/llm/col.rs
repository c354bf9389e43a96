//! Column-major 32-row tiles (`cm32i8`, `cm32i4`): a dense layout for activation sparsity
//! (TEAL-style decode). The GEMV `W (d,n) @ x (n,)` is run as `y += x_j · W[:, j]` over the
//! nonzero `x_j` only, so every weight of a column sits in one contiguous run per tile and a
//! zero input skips that run.
//!
//! Rows are cut into `tiles = ⌈rows/32⌉` tiles of 32 (the last padded with zero weights, which
//! no reader ever returns). Per (tile, column) one f16 scale `d` and 32 quantized weights:
//! - `d (tiles · cols) f16`, index `tile·cols + col`: apart from the values, so a tile's
//!   scales are one contiguous row too;
//! - `q (tiles · cols · B)`, index `(tile·cols + col)·B`: one tile's columns are one
//!   contiguous stream.
//!   - int8 (B = 32): byte i = row `32·tile + i`, i8, `w = q·d`; `d` = max|w| / 127 rounded
//!     up to a half, so every |q| ≤ 127.
//!   - int4 (B = 16): byte i = row i (low nibble) and row i + 16 (high nibble), q ∈ 0..15,
//!     `w = (q − 8)·d` (ggml Q4_0's encoding; zero is exactly q = 8). `d` is signed: the
//!     candidate of least squared error among `d = −m/k`, k ∈ {8, 7.75, 7.5, 7.25, 7}, `m` the
//!     weight of largest magnitude, rounded to the nearest half. k = 8 is ggml's Q4_0 (m at
//!     code −8, the other side clamped at +7), k = 7 is symmetric ±7; the search keeps the
//!     squared error at or below both. Every weight stays within max|w|/8 of its value.
//!
//! Body after the header (format tag 3, G byte 32): d, then q. Nothing else: every size
//! follows from rows and cols.

use super::{f16_up, first_nonfinite_f16, put_u16s, Cursor};
use crate::error::{Error, Result};
use crate::kernels::llm::f16_finite;

/// Rows per tile.
pub(crate) const TILE: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColStore {
    pub bits: u8,
    /// ⌈rows / 32⌉
    pub tiles: usize,
    /// (tiles · cols,) f16 scale of (tile, col)
    pub d: Vec<u16>,
    /// (tiles · cols · tile_bytes,) values of (tile, col)
    pub q: Vec<u8>,
}

/// Bytes of values per (tile, column).
pub(crate) fn tile_bytes(bits: u8) -> usize {
    TILE * bits as usize / 8
}

impl ColStore {
    /// Values that decode to something other than 0 (int8 q ≠ 0, int4 q ≠ 8), not counting
    /// the last tile's padding rows (which are zero).
    pub fn nonzeros(&self, rows: usize, cols: usize) -> usize {
        let zeros = if self.bits == 8 {
            self.q.iter().filter(|&&b| b == 0).count()
        } else {
            self.q
                .iter()
                .map(|&b| (b & 15 == 8) as usize + (b >> 4 == 8) as usize)
                .sum()
        };
        (self.tiles * TILE * cols - zeros).min(rows * cols)
    }

    pub fn tile_bytes(&self) -> usize {
        tile_bytes(self.bits)
    }

    pub fn pack(name: &str, w: &[f32], rows: usize, cols: usize, bits: u8) -> Result<ColStore> {
        let tiles = rows.div_ceil(TILE);
        let tb = tile_bytes(bits);
        let mut s = ColStore {
            bits,
            tiles,
            d: vec![0; tiles * cols],
            q: vec![0; tiles * cols * tb],
        };
        let mut v = [0.0f32; TILE];
        for t in 0..tiles {
            for c in 0..cols {
                for (i, vi) in v.iter_mut().enumerate() {
                    let r = t * TILE + i;
                    *vi = if r < rows { w[r * cols + c] } else { 0.0 };
                }
                let k = t * cols + c;
                let q = &mut s.q[k * tb..][..tb];
                s.d[k] = if bits == 4 {
                    quant4(name, &v, q)?
                } else {
                    quant8(name, &v, q)?
                };
            }
        }
        Ok(s)
    }

    /// The dequantized weight of (row `r`, column `c`).
    #[inline]
    fn weight(&self, cols: usize, r: usize, c: usize) -> f32 {
        let (t, i) = (r / TILE, r % TILE);
        let k = t * cols + c;
        let d = f16_finite(self.d[k]);
        let tb = self.tile_bytes();
        if self.bits == 4 {
            let b = self.q[k * tb + i % 16];
            let q = if i < 16 { b & 15 } else { b >> 4 };
            (q as f32 - 8.0) * d
        } else {
            (self.q[k * tb + i] as i8) as f32 * d
        }
    }

    /// Row `r` in runs of up to 64 columns.
    pub fn for_each_run(&self, r: usize, cols: usize, mut f: impl FnMut(usize, &[f32])) {
        let mut buf = [0.0f32; 64];
        for c0 in (0..cols).step_by(64) {
            let len = (cols - c0).min(64);
            for (j, b) in buf[..len].iter_mut().enumerate() {
                *b = self.weight(cols, r, c0 + j);
            }
            f(c0, &buf[..len]);
        }
    }

    pub fn n_bytes(&self) -> usize {
        2 * self.d.len() + self.q.len()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        put_u16s(out, &self.d);
        out.extend_from_slice(&self.q);
    }

    pub fn read(cur: &mut Cursor, rows: usize, cols: usize, bits: u8) -> Result<Self> {
        let tiles = rows.div_ceil(TILE);
        // tiles · cols ≤ rows · cols (+ cols), which check_dims bounded
        let n = (tiles * cols) as u64;
        let tb = tile_bytes(bits);
        if n.checked_mul(2 + tb as u64)
            .is_none_or(|b| b > cur.left() as u64)
        {
            return Err(cur.bad(format!(
                "{tiles} tiles × {cols} columns of {} bytes do not fit in the {} bytes left",
                2 + tb,
                cur.left()
            )));
        }
        let d = cur.u16s(n, "scales")?;
        if let Some(k) = first_nonfinite_f16(&d) {
            return Err(cur.bad(format!(
                "tile {} column {} has a non-finite f16 scale",
                k / cols,
                k % cols
            )));
        }
        // every byte is valid: i8 (int8) or two nibbles (int4)
        let q = cur.take_n(n, tb, "values")?.to_vec();
        Ok(ColStore { bits, tiles, d, q })
    }
}

/// int8: d = max|w| / 127 rounded up to a half, q = round(w/d) ∈ -127..=127.
fn quant8(name: &str, v: &[f32; TILE], q: &mut [u8]) -> Result<u16> {
    let amax = v.iter().fold(0.0f32, |a, x| a.max(x.abs()));
    let dh = f16_up(name, amax / 127.0)?;
    let d = f16_finite(dh);
    for (o, &x) in q.iter_mut().zip(v) {
        *o = if d > 0.0 {
            (x / d).round().clamp(-127.0, 127.0) as i8 as u8
        } else {
            0
        };
    }
    Ok(dh)
}

/// int4: the signed scale `−m/k` (k ∈ {8, 7.75, 7.5, 7.25, 7}, m the weight of largest
/// magnitude, rounded to the nearest half) of least squared error; codes `round(w/d) + 8`
/// clamped to 0..15.
fn quant4(name: &str, v: &[f32; TILE], q: &mut [u8]) -> Result<u16> {
    let m = v
        .iter()
        .fold(0.0f32, |a, &x| if x.abs() > a.abs() { x } else { a });
    if m == 0.0 {
        q.fill(0x88);
        return Ok(0);
    }
    let code = |x: f32, d: f32| {
        if d != 0.0 {
            ((x / d).round().clamp(-8.0, 7.0) + 8.0) as u8
        } else {
            8
        }
    };
    let sse = |d: f32| -> f32 {
        v.iter()
            .map(|&x| (x - (code(x, d) as f32 - 8.0) * d).powi(2))
            .sum()
    };
    let mut best: Option<(f32, u16)> = None;
    for k in [8.0f32, 7.75, 7.5, 7.25, 7.0] {
        let h = crate::tensor::f32_to_f16(-m / k);
        if h & 0x7c00 == 0x7c00 {
            continue; // not finite in f16
        }
        let e = sse(f16_finite(h));
        if best.is_none_or(|(b, _)| e < b) {
            best = Some((e, h));
        }
    }
    let Some((_, dh)) = best else {
        return Err(Error::BadArgument {
            what: name.into(),
            detail: format!(
                "a scale of {} is outside the f16 range (|w| ≤ 458752)",
                m / 7.0
            ),
        });
    };
    let d = f16_finite(dh);
    for i in 0..TILE / 2 {
        q[i] = code(v[i], d) | (code(v[i + TILE / 2], d) << 4);
    }
    Ok(dh)
}
