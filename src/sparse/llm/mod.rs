//! Sparse weight formats for the linear layers of a small LLM: `W (rows = d, cols = n)`,
//! applied as `W (d,n) @ x (n,) -> y (d,)` (decode) or `X (t,n) @ Wᵀ -> Y (t,d)` (prefill).
//! Values are quantized when packed; kernels decode them in registers (src/kernels/llm).
//!
//! - **Group 1×G** ([`group`], GQSA-like, the main path): a row keeps whole groups of G
//!   consecutive columns, so `x[c·G ..][.. G]` is one or two contiguous vector loads. int4
//!   (Q4_1-like: `q·d + m`, f16 d and m per group) or int8 (Q8_0-like: `q·d`).
//! - **2:4** ([`nm`]): two int8 values and their 2-bit positions per 4 columns, an f16 scale
//!   per (row, 32 columns) — the scale density of Q8_0.
//! - **CSR int8** ([`csr`]): unstructured, for comparison; one f32 scale per row.
//! - **Column-major 32-row tiles** ([`col`], `cm32i8` / `cm32i4`): dense, for activation
//!   sparsity: per (32-row tile, input column) an f16 scale and 32 contiguous int8/int4
//!   weights, so the GEMV skips every column whose input is zero.
//!
//! Serialized form (little-endian, self-delimiting): `b"ZSLW"`, format tag u8, G u8, bits u8,
//! 0u8, rows u64, cols u64, then the format's body (see each file). [`SparseMatrix::read`]
//! validates every count against the bytes present before it allocates, and every index a
//! kernel will follow, so kernels index without checks.

mod col;
mod csr;
mod group;
mod nm;

pub(crate) use col::{ColStore, TILE};
pub(crate) use csr::CsrStore;
pub(crate) use group::GroupStore;
#[cfg(target_arch = "wasm32")]
pub(crate) use nm::pos_bytes;
pub(crate) use nm::NmStore;

use crate::error::{Error, Result};
use crate::kernels::llm::f16_finite;
use crate::kernels::{best, Isa, Kernel, Op, Shape, WType};
use crate::limits::{self, MAX_LLM_TENSOR_ELEMENTS};
use std::ops::Range;

/// A sparse LLM weight format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SparseFormat {
    /// Kept groups of `g` ∈ {8, 16} consecutive input columns, `bits` ∈ {4, 8}.
    Group { g: usize, bits: u8 },
    /// 2:4 semi-structured, int8 values.
    TwoFour,
    /// Unstructured CSR, int8 values.
    Csr8,
    /// Dense, column-major in 32-row tiles, `bits` ∈ {4, 8}: for activation sparsity (the
    /// GEMV skips the columns whose input is zero).
    Col { bits: u8 },
}

impl SparseFormat {
    /// Every supported format.
    pub const ALL: [SparseFormat; 8] = [
        SparseFormat::Group { g: 16, bits: 4 },
        SparseFormat::Group { g: 8, bits: 4 },
        SparseFormat::Group { g: 16, bits: 8 },
        SparseFormat::Group { g: 8, bits: 8 },
        SparseFormat::TwoFour,
        SparseFormat::Csr8,
        SparseFormat::Col { bits: 8 },
        SparseFormat::Col { bits: 4 },
    ];

    /// `g16i4`, `g8i8`, `nm24i8`, `csr8`, `cm32i8`: the wtype in kernel names.
    pub fn name(&self) -> String {
        match self {
            SparseFormat::Group { g, bits } => format!("g{g}i{bits}"),
            SparseFormat::TwoFour => "nm24i8".into(),
            SparseFormat::Csr8 => "csr8".into(),
            SparseFormat::Col { bits } => format!("cm32i{bits}"),
        }
    }

    /// The inverse of [`SparseFormat::name`].
    pub fn parse(s: &str) -> Result<SparseFormat> {
        SparseFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| Error::BadArgument {
                what: "sparse format".into(),
                detail: format!(
                    "unknown format {s:?}, expected one of {}",
                    SparseFormat::ALL.map(|f| f.name()).join(", ")
                ),
            })
    }

    fn check(self) -> Result<()> {
        match self {
            SparseFormat::Group { g, bits } if !matches!((g, bits), (8 | 16, 4 | 8)) => {
                Err(Error::Unsupported {
                    what: "group sparse format".into(),
                    value: format!("G = {g}, bits = {bits}"),
                    expected: "G ∈ {8, 16}, bits ∈ {4, 8}".into(),
                })
            }
            SparseFormat::Col { bits } if !matches!(bits, 4 | 8) => Err(Error::Unsupported {
                what: "column-major format".into(),
                value: format!("bits = {bits}"),
                expected: "bits ∈ {4, 8}".into(),
            }),
            _ => Ok(()),
        }
    }

    /// Columns per unit of the pattern: cols must be a multiple of it.
    fn col_unit(self) -> usize {
        match self {
            SparseFormat::Group { g, .. } => g,
            SparseFormat::TwoFour => 4,
            SparseFormat::Csr8 | SparseFormat::Col { .. } => 1,
        }
    }

    /// Largest `cols` the stored column indices (u16) can address.
    fn max_cols(self) -> usize {
        match self {
            SparseFormat::Group { g, .. } => 65536 * g,
            SparseFormat::TwoFour => 1 << 24,
            SparseFormat::Csr8 => 65536,
            SparseFormat::Col { .. } => 1 << 24,
        }
    }
}

/// The format-specific packed arrays (read by the kernels in src/kernels/llm).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Store {
    Group(GroupStore),
    Nm(NmStore),
    Csr(CsrStore),
    Col(ColStore),
}

/// A packed sparse weight matrix `W (rows, cols)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMatrix {
    pub name: String,
    pub format: SparseFormat,
    pub rows: usize,
    pub cols: usize,
    pub(crate) store: Store,
    /// (format, rows, cols) as packed: the public fields must still say so before a kernel
    /// trusts the arrays.
    packed: (SparseFormat, usize, usize),
}

const MAGIC: &[u8; 4] = b"ZSLW";

impl SparseMatrix {
    /// Packs `w (rows, cols)` row-major f32; zeros are pruned weights. Group: a group is kept
    /// iff any of its G weights is nonzero (its zeros are then stored as quantized values).
    /// TwoFour: Err if an aligned 4-run has more than 2 nonzeros. cols must be a multiple of
    /// G (group) or 4 (2:4). Col: every weight is stored (zeros exactly), any cols.
    pub fn pack(
        name: &str,
        format: SparseFormat,
        w: &[f32],
        rows: usize,
        cols: usize,
    ) -> Result<SparseMatrix> {
        format.check()?;
        check_dims(name, format, rows as u64, cols as u64)?;
        if rows.checked_mul(cols) != Some(w.len()) {
            return Err(Error::ShapeMismatch {
                tensor: name.into(),
                what: format!("weights of a {rows} × {cols} matrix"),
                expected: rows.saturating_mul(cols),
                got: w.len(),
            });
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(Error::BadArgument {
                what: name.into(),
                detail: format!(
                    "weight ({}, {}) is {}, not finite",
                    i / cols,
                    i % cols,
                    w[i]
                ),
            });
        }
        let store = match format {
            SparseFormat::Group { g, bits } => {
                Store::Group(GroupStore::pack(name, w, rows, cols, g, bits)?)
            }
            SparseFormat::TwoFour => Store::Nm(NmStore::pack(name, w, rows, cols)?),
            SparseFormat::Csr8 => Store::Csr(CsrStore::pack(w, rows, cols)),
            SparseFormat::Col { bits } => Store::Col(ColStore::pack(name, w, rows, cols, bits)?),
        };
        Ok(SparseMatrix::new(name, format, rows, cols, store))
    }

    /// A matrix of `format` over `store`, as packed (`packed` records the format it came in).
    fn new(name: &str, format: SparseFormat, rows: usize, cols: usize, store: Store) -> Self {
        SparseMatrix {
            name: name.into(),
            format,
            rows,
            cols,
            store,
            packed: (format, rows, cols),
        }
    }

    /// Kept weights (kept groups × G for group, cols/2 per row for 2:4; for the dense
    /// column-major format, the stored values that are not exactly zero, so a pruned matrix
    /// stored there still reports its pruning).
    pub fn nonzeros(&self) -> usize {
        match &self.store {
            Store::Group(s) => s.col.len() * s.g,
            Store::Nm(_) => self.rows * self.cols / 2,
            Store::Csr(s) => s.col.len(),
            Store::Col(s) => s.nonzeros(self.rows, self.cols),
        }
    }

    /// Bytes of storage (what [`SparseMatrix::write`] emits after the header).
    pub fn n_bytes(&self) -> usize {
        match &self.store {
            Store::Group(s) => s.n_bytes(),
            Store::Nm(s) => s.n_bytes(),
            Store::Csr(s) => s.n_bytes(),
            Store::Col(s) => s.n_bytes(),
        }
    }

    /// The dequantized dense `W (rows, cols)`: exactly the values the kernels multiply by.
    pub fn decode(&self) -> Vec<f32> {
        let (_, rows, cols) = self.packed;
        let mut w = vec![0.0f32; rows * cols];
        for (r, row) in w.chunks_exact_mut(cols).enumerate() {
            self.for_each_run(r, |c, v| row[c..c + v.len()].copy_from_slice(v));
        }
        w
    }

    /// Calls `f(first column, weights)` for the stored runs of row `r`, dequantized.
    pub(crate) fn for_each_run(&self, r: usize, f: impl FnMut(usize, &[f32])) {
        match &self.store {
            Store::Group(s) => s.for_each_run(r, f),
            Store::Nm(s) => s.for_each_run(r, self.packed.2, f),
            Store::Csr(s) => s.for_each_run(r, f),
            Store::Col(s) => s.for_each_run(r, self.packed.2, f),
        }
    }

    /// `y[r] = W[r, :] · x` for `r` in `rows`: `W (rows,cols) @ x (cols,) -> y (rows,)`, with
    /// the best kernel of this build. Other entries of `y` are left untouched.
    pub fn gemv(&self, x: &[f32], y: &mut [f32], rows: Range<usize>) -> Result<()> {
        self.kernel(1)?.run_sparse(self, x, 1, y, rows)
    }

    /// `Y (t, rows) = X (t, cols) @ Wᵀ` (prefill): each weight is decoded once per tile of
    /// tokens instead of once per token.
    pub fn gemm(&self, x: &[f32], t: usize, y: &mut [f32]) -> Result<()> {
        self.kernel(t.max(2))?
            .run_sparse(self, x, t, y, 0..self.rows)
    }

    /// What a thread pool needs to split `X (t, cols) @ Wᵀ` over rows ([`crate::llm::split`]):
    /// the multiply-adds of the call, and the prefix sum of the work per row `(rows + 1,)`
    /// where rows differ (the group and CSR row pointers, in groups / nonzeros). `skips`: the
    /// kernel skips zero inputs (the column-major GEMV), so only `x`'s nonzeros count. Cheap:
    /// no pass over the weights.
    pub(crate) fn split_work(&self, x: &[f32], t: usize, skips: bool) -> (usize, Option<&[u32]>) {
        let (rows, cols) = (self.rows, self.cols);
        let (per_token, prefix) = match &self.store {
            Store::Group(s) => (s.col.len() * s.g, Some(&s.row_ptr[..])),
            Store::Csr(s) => (s.col.len(), Some(&s.row_ptr[..])),
            Store::Nm(_) => (rows * (cols / 2), None),
            Store::Col(_) if skips => {
                let nz = x.iter().take(cols).filter(|&&v| v != 0.0).count();
                (rows * nz, None)
            }
            Store::Col(_) => (rows * cols, None),
        };
        (per_token.saturating_mul(t), prefix)
    }

    /// The GEMV kernel [`SparseMatrix::gemv`] runs.
    pub fn kernel_name(&self) -> &'static str {
        self.kernel(1).map_or("none", |k| k.name)
    }

    /// The table's kernel for this format and `t` tokens (a prefill tile for any `t` ≥ 2),
    /// with the best ISA this build has.
    pub(crate) fn kernel(&self, t: usize) -> Result<&'static Kernel> {
        best(
            Op::Linear,
            WType::of_sparse(self.format)?,
            Isa::best(),
            Shape::Tokens(t),
        )
    }

    /// The public fields still describe the packed arrays.
    pub(crate) fn consistent(&self) -> bool {
        self.packed == (self.format, self.rows, self.cols)
    }

    /// Appends the serialized matrix (header and body) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        let (format, rows, cols) = self.packed;
        let (tag, g, bits) = match format {
            SparseFormat::Group { g, bits } => (0u8, g as u8, bits),
            SparseFormat::TwoFour => (1, 4, 8),
            SparseFormat::Csr8 => (2, 1, 8),
            SparseFormat::Col { bits } => (3, TILE as u8, bits),
        };
        out.extend_from_slice(&[tag, g, bits, 0]);
        out.extend_from_slice(&(rows as u64).to_le_bytes());
        out.extend_from_slice(&(cols as u64).to_le_bytes());
        match &self.store {
            Store::Group(s) => s.write(out),
            Store::Nm(s) => s.write(out),
            Store::Csr(s) => s.write(out),
            Store::Col(s) => s.write(out),
        }
    }

    /// Parses one matrix from the start of `bytes`; returns it and the bytes consumed.
    /// Everything is validated; a bad stream is a typed Err naming `name`.
    pub fn read(name: &str, bytes: &[u8]) -> Result<(SparseMatrix, usize)> {
        let mut cur = Cursor::new(name, bytes);
        if cur.take(4)? != MAGIC {
            return Err(cur.bad("does not start with the ZSLW magic".into()));
        }
        let h = cur.take(4)?;
        let (tag, g, bits) = (h[0], h[1] as usize, h[2]);
        let format = match tag {
            0 => SparseFormat::Group { g, bits },
            1 => SparseFormat::TwoFour,
            2 => SparseFormat::Csr8,
            3 if g == TILE => SparseFormat::Col { bits },
            3 => return Err(cur.bad(format!("column-major tile of {g} rows, expected {TILE}"))),
            _ => return Err(cur.bad(format!("unknown format tag {tag}"))),
        };
        format.check().map_err(|e| cur.bad(e.to_string()))?;
        let rows = cur.u64()?;
        let cols = cur.u64()?;
        check_dims(name, format, rows, cols)?;
        let (rows, cols) = (rows as usize, cols as usize);
        let store = match format {
            SparseFormat::Group { g, bits } => {
                Store::Group(GroupStore::read(&mut cur, rows, cols, g, bits)?)
            }
            SparseFormat::TwoFour => Store::Nm(NmStore::read(&mut cur, rows, cols)?),
            SparseFormat::Csr8 => Store::Csr(CsrStore::read(&mut cur, rows, cols)?),
            SparseFormat::Col { bits } => Store::Col(ColStore::read(&mut cur, rows, cols, bits)?),
        };
        Ok((SparseMatrix::new(name, format, rows, cols, store), cur.pos))
    }
}

/// rows ≥ 1; 1 ≤ cols ≤ what the format's indices address, a multiple of its unit; rows·cols
/// addressable (so no later size arithmetic overflows).
fn check_dims(name: &str, format: SparseFormat, rows: u64, cols: u64) -> Result<()> {
    let out = |what: &str, value: u64, limit: String| Error::DimOutOfRange {
        tensor: name.into(),
        what: what.into(),
        value,
        limit,
    };
    let max_cols = format.max_cols() as u64;
    if cols == 0 || cols > max_cols {
        return Err(out(
            "cols",
            cols,
            format!("1 ..= {max_cols} for {}", format.name()),
        ));
    }
    if rows == 0 || rows > u32::MAX as u64 {
        return Err(out("rows", rows, "1 ..= 2^32 − 1".into()));
    }
    // Decoded to f32 (`decode`, the kernels' rows): capped like a GGUF tensor, in u64 before
    // anything becomes a 32-bit usize on wasm32.
    let n = rows.checked_mul(cols);
    if n.is_none_or(|n| n > MAX_LLM_TENSOR_ELEMENTS) {
        return Err(limits::too_large(
            "sparse LLM matrix",
            name,
            n.and_then(|n| n.checked_mul(4)),
            MAX_LLM_TENSOR_ELEMENTS * 4,
            format!("{rows}×{cols} {} decoded to f32", format.name()),
        ));
    }
    let unit = format.col_unit() as u64;
    if cols % unit != 0 {
        return Err(Error::ShapeMismatch {
            tensor: name.into(),
            what: format!("cols (a multiple of {unit} for {})", format.name()),
            expected: cols.div_ceil(unit) as usize * unit as usize,
            got: cols as usize,
        });
    }
    Ok(())
}

/// Reads a serialized stream, every length checked against the bytes left.
pub(crate) struct Cursor<'a> {
    name: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(name: &'a str, bytes: &'a [u8]) -> Self {
        Cursor {
            name,
            bytes,
            pos: 0,
        }
    }

    pub(crate) fn bad(&self, detail: String) -> Error {
        Error::MalformedSparse {
            tensor: self.name.into(),
            detail,
        }
    }

    /// The next `n` bytes, or Err if fewer are left (checked before anything is allocated).
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(self.bad(format!(
                "truncated: needs {n} more bytes at offset {}, {left} left",
                self.pos
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// `count` items of `size` bytes (the product checked for overflow and against the rest).
    pub(crate) fn take_n(&mut self, count: u64, size: usize, what: &str) -> Result<&'a [u8]> {
        let n = count
            .checked_mul(size as u64)
            .filter(|&n| n <= (self.bytes.len() - self.pos) as u64)
            .ok_or_else(|| {
                self.bad(format!(
                    "{what}: {count} entries of {size} bytes do not fit in the {} bytes left",
                    self.bytes.len() - self.pos
                ))
            })?;
        self.take(n as usize)
    }

    pub(crate) fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub(crate) fn u16s(&mut self, count: u64, what: &str) -> Result<Vec<u16>> {
        let b = self.take_n(count, 2, what)?;
        Ok(b.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect())
    }

    pub(crate) fn u32s(&mut self, count: u64, what: &str) -> Result<Vec<u32>> {
        let b = self.take_n(count, 4, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// row_ptr (rows + 1): starts at 0, never decreases, ends at `count`.
pub(crate) fn check_row_ptr(cur: &Cursor, row_ptr: &[u32], count: u64) -> Result<()> {
    if row_ptr[0] != 0 {
        return Err(cur.bad(format!("row_ptr[0] = {}, expected 0", row_ptr[0])));
    }
    if let Some(r) = row_ptr.windows(2).position(|p| p[1] < p[0]) {
        return Err(cur.bad(format!(
            "row_ptr decreases at row {r}: {} then {}",
            row_ptr[r],
            row_ptr[r + 1]
        )));
    }
    let last = *row_ptr.last().expect("rows ≥ 1") as u64;
    if last != count {
        return Err(cur.bad(format!(
            "row_ptr ends at {last}, expected the count {count}"
        )));
    }
    Ok(())
}

/// Column (or group) indices strictly increase within each row, so every stored weight has
/// its own place in the dense matrix.
pub(crate) fn check_increasing(
    cur: &Cursor,
    row_ptr: &[u32],
    col: &[u16],
    what: &str,
) -> Result<()> {
    for (r, p) in row_ptr.windows(2).enumerate() {
        let c = &col[p[0] as usize..p[1] as usize];
        if let Some(i) = c.windows(2).position(|c| c[1] <= c[0]) {
            return Err(cur.bad(format!(
                "row {r}: {what} {} follows {}, expected increasing",
                c[i + 1],
                c[i]
            )));
        }
    }
    Ok(())
}

/// Index of the first f16 that is infinite or NaN.
pub(crate) fn first_nonfinite_f16(h: &[u16]) -> Option<usize> {
    h.iter().position(|&v| v & 0x7c00 == 0x7c00)
}

pub(crate) fn put_u16s(out: &mut Vec<u8>, v: &[u16]) {
    v.iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
}

pub(crate) fn put_u32s(out: &mut Vec<u8>, v: &[u32]) {
    v.iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
}

/// The largest half ≤ `v`, or Err (for the packer's scales) past the half range.
pub(crate) fn f16_down(name: &str, v: f32) -> Result<u16> {
    let h = crate::tensor::f32_to_f16(v);
    let h = if f16_finite(h) <= v {
        h
    } else if h & 0x8000 != 0 {
        h + 1 // negative: one step away from zero
    } else if h == 0 {
        0x8001
    } else {
        h - 1
    };
    if h & 0x7c00 == 0x7c00 {
        return Err(Error::BadArgument {
            what: name.into(),
            detail: format!("a scale of {v} is outside the f16 range (|w| ≤ 65504)"),
        });
    }
    Ok(h)
}

/// The smallest half ≥ `v`: scales rounded up keep every weight within range of its q.
pub(crate) fn f16_up(name: &str, v: f32) -> Result<u16> {
    Ok(f16_down(name, -v)? ^ 0x8000)
}
