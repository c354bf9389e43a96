//! Portable kernels for the column-major formats (`cm32i8`, `cm32i4`,
//! [`crate::sparse::llm`]'s `col`), and the loops the SIMD128 ones share.
//!
//! GEMV, `W (d,n) @ x (n,) -> y (d,)`, input-sparse: the nonzero inputs are compacted once per
//! call (indices and values, on the stack, [`CHUNK`] columns at a time), then per 32-row tile
//! the 32 sums stay in registers and each nonzero column j adds `(x_j·d) · q` for its 32
//! codes. A zero input costs one compare in the compaction; its weights are never read.
//! Written over fixed-size arrays so that native builds vectorize it (the native CLI's
//! perplexity runs use it).
//!
//! GEMM, `X (t,n) @ Wᵀ -> Y (t,d)` (prefill, all columns): per tile, [`KC`] columns at a time
//! are decoded once to an f32 panel (`q·d`) and used by up to [`TOKENS`] tokens, each token's
//! 32 sums again held in registers across the panel.
//!
//! Safety (every kernel): as [`super::sparse::SparseFn`].

use super::f16_finite;
use crate::sparse::llm::{ColStore, SparseMatrix, Store, TILE};
use std::ops::Range;

/// Input columns compacted per pass: 16 KiB of indices and values on the stack. Larger
/// inputs take several passes, each adding into `y`.
pub(crate) const CHUNK: usize = 2048;
/// Columns per decoded GEMM panel (8 KiB of f32).
pub(crate) const KC: usize = 64;
/// Tokens sharing each decoded GEMM panel.
pub(crate) const TOKENS: usize = 16;

/// Writes (`add`: adds) the tile of rows `r0 .. r0 + 32` into `y`, only the rows in `rows`.
#[inline(always)]
fn store(acc: &[f32; TILE], y: &mut [f32], r0: usize, rows: &Range<usize>, add: bool) {
    let (lo, hi) = (rows.start.max(r0), rows.end.min(r0 + TILE));
    let (a, ys) = (&acc[lo - r0..hi - r0], &mut y[lo..hi]);
    if add {
        ys.iter_mut().zip(a).for_each(|(o, v)| *o += v);
    } else {
        ys.copy_from_slice(a);
    }
}

/// One 32-row tile of a column-major matrix: column j's f16 scale at `d + j`, its codes at
/// `q + j·bytes`.
#[derive(Clone, Copy)]
pub(crate) struct Tile {
    d: *const u16,
    q: *const u8,
    bytes: usize,
}

impl Tile {
    /// Tile `t` of `s` (`cols` columns). Safety: `t` < the number of tiles.
    #[inline(always)]
    unsafe fn of(s: &ColStore, cols: usize, t: usize) -> Tile {
        let bytes = s.tile_bytes();
        Tile {
            d: s.d.as_ptr().add(t * cols),
            q: s.q.as_ptr().add(t * cols * bytes),
            bytes,
        }
    }

    /// Column `j`: its scale (finite, as [`f16_finite`]) and a pointer to its codes.
    #[inline(always)]
    pub(crate) unsafe fn col(self, j: usize) -> (f32, *const u8) {
        (f16_finite(*self.d.add(j)), self.q.add(j * self.bytes))
    }
}

/// The input-sparse GEMV loop: compacts `x`'s nonzeros, then for each tile touching `rows`
/// calls `tile(tile, idx, val)` (the tile's 32 sums over those columns) and stores the wanted
/// rows. Safety: as [`super::sparse::SparseFn`].
#[inline(always)]
pub(crate) unsafe fn gemv_skip(
    w: &SparseMatrix,
    x: &[f32],
    y: &mut [f32],
    rows: Range<usize>,
    mut tile: impl FnMut(Tile, &[u32], &[f32]) -> [f32; TILE],
) {
    let Store::Col(s) = &w.store else { return };
    let cols = w.cols;
    if rows.is_empty() {
        return;
    }
    let tiles = rows.start / TILE..rows.end.div_ceil(TILE);
    let mut idx = [0u32; CHUNK];
    let mut val = [0.0f32; CHUNK];
    for c0 in (0..cols).step_by(CHUNK) {
        let xs = &x[c0..cols.min(c0 + CHUNK)];
        let mut len = 0;
        for (j, &v) in xs.iter().enumerate() {
            // branch-free: always write, advance only past a nonzero (len ≤ j < CHUNK)
            *idx.get_unchecked_mut(len) = (c0 + j) as u32;
            *val.get_unchecked_mut(len) = v;
            len += (v != 0.0) as usize;
        }
        if len == 0 && c0 > 0 {
            continue; // nothing to add
        }
        for t in tiles.clone() {
            let acc = tile(Tile::of(s, cols, t), &idx[..len], &val[..len]);
            store(&acc, y, t * TILE, &rows, c0 > 0);
        }
    }
}

/// The GEMM loop: per tile and block of [`TOKENS`] tokens, the panel is filled with columns
/// `k0 .. k0 + kc` of the tile, `decode(d, codes, panel column)` per column (`q·d` into the
/// tile's 32 rows), then `madd(panel, x_row, acc)` adds each token's products. Safety: as [`super::sparse::SparseFn`].
#[inline(always)]
pub(crate) unsafe fn gemm_tiles(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
    mut decode: impl FnMut(f32, *const u8, &mut [f32; TILE]),
    mut madd: impl FnMut(&[[f32; TILE]], &[f32], &mut [f32; TILE]),
) {
    let Store::Col(s) = &w.store else { return };
    let (cols, d) = (w.cols, w.rows);
    if rows.is_empty() {
        return;
    }
    let mut panel = [[0.0f32; TILE]; KC];
    let mut acc = [[0.0f32; TILE]; TOKENS];
    for tile in rows.start / TILE..rows.end.div_ceil(TILE) {
        for tok0 in (0..t).step_by(TOKENS) {
            let tt = TOKENS.min(t - tok0);
            acc[..tt].iter_mut().for_each(|a| *a = [0.0; TILE]);
            for k0 in (0..cols).step_by(KC) {
                let kc = KC.min(cols - k0);
                let tl = Tile::of(s, cols, tile);
                for (c, pk) in panel.iter_mut().enumerate().take(kc) {
                    let (d, q) = tl.col(k0 + c);
                    decode(d, q, pk);
                }
                for (i, a) in acc[..tt].iter_mut().enumerate() {
                    madd(&panel[..kc], &x[(tok0 + i) * cols + k0..][..kc], a);
                }
            }
            for (i, a) in acc[..tt].iter().enumerate() {
                store(a, &mut y[(tok0 + i) * d..][..d], tile * TILE, &rows, false);
            }
        }
    }
}

/// The tile's 32 sums over the nonzero columns `idx` (values `val`).
#[inline(always)]
unsafe fn tile_sums<const INT4: bool>(tile: Tile, idx: &[u32], val: &[f32]) -> [f32; TILE] {
    let mut acc = [0.0f32; TILE];
    for (&j, &xv) in idx.iter().zip(val) {
        let (d, q) = tile.col(j as usize);
        let sc = xv * d;
        if INT4 {
            let q = &*(q as *const [u8; TILE / 2]);
            for i in 0..TILE / 2 {
                acc[i] += sc * ((q[i] & 15) as f32 - 8.0);
                acc[i + TILE / 2] += sc * ((q[i] >> 4) as f32 - 8.0);
            }
        } else {
            let q = &*(q as *const [u8; TILE]);
            for i in 0..TILE {
                acc[i] += sc * (q[i] as i8) as f32;
            }
        }
    }
    acc
}

/// Column-major GEMV, `W (d,n) @ x (n,) -> y (d,)` over the nonzero `x_j` only.
pub(crate) unsafe fn gemv_col<const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    _t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    gemv_skip(w, x, y, rows, |tile, idx, val| {
        tile_sums::<INT4>(tile, idx, val)
    });
}

/// Column-major GEMM, `X (t,n) @ Wᵀ -> Y (t,d)`.
pub(crate) unsafe fn gemm_col<const INT4: bool>(
    w: &SparseMatrix,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    let decode = |d: f32, q: *const u8, pk: &mut [f32; TILE]| {
        if INT4 {
            let q = &*(q as *const [u8; TILE / 2]);
            for (i, &b) in q.iter().enumerate() {
                pk[i] = ((b & 15) as f32 - 8.0) * d;
                pk[i + TILE / 2] = ((b >> 4) as f32 - 8.0) * d;
            }
        } else {
            let q = &*(q as *const [u8; TILE]);
            for (o, &b) in pk.iter_mut().zip(q) {
                *o = (b as i8) as f32 * d;
            }
        }
    };
    let madd = |p: &[[f32; TILE]], xr: &[f32], a: &mut [f32; TILE]| {
        let mut acc = *a;
        for (wk, &xv) in p.iter().zip(xr) {
            for r in 0..TILE {
                acc[r] += xv * wk[r];
            }
        }
        *a = acc;
    };
    gemm_tiles(w, x, t, y, rows, decode, madd);
}
