//! The linear layers of the LLM on the GPU: `W (rows, cols) @ x (cols,) -> y (rows,)` at
//! decode and `X (t, cols) @ Wᵀ -> Y (t, rows)` at prefill, with the weights uploaded in the
//! file's own encoding and decoded in registers by the shaders:
//!
//! - dense GGUF blocks (F32, F16, Q4_0, Q4_1, Q8_0): `llm_dense.wgsl`, the file's bytes as
//!   they are (also the token-embedding gather);
//! - group-sparse `g16i4`, `g8i4`, `g16i8`, `g8i8`: `llm_group.wgsl`;
//! - 2:4 `nm24i8`: `llm_nm.wgsl`;
//! - column-major `cm32i8`, `cm32i4`: `llm_col.wgsl`, whose decode GEMV walks only the
//!   nonzero inputs listed by [`compact`] (`llm_compact.wgsl`).
//!
//! A matrix is cut into [`LinearPart`]s of whole rows (whole 32-row tiles for cm32) so that no
//! part's buffer exceeds the device's storage binding limit; each part is one buffer and one
//! dispatch (a shader binds at most 8 storage buffers). Dense parts are the file's rows as
//! they are; a sparse part holds its format's arrays at 4-aligned offsets (2:4: each row
//! padded to whole 32-column blocks; group: one 16-byte record per kept group, column, scales
//! and values together, where SwiftShader would otherwise gather four scattered words); the
//! layouts are in each shader's header. `csr8` has no shader ([`Error::Unsupported`]).
//!
//! The dense and group shaders read x as vec4s: its buffer (and the gather's token list) must
//! be bound in whole 16 bytes, and with `x_off`, `x_stride` multiples of 4 every load is one
//! vec4 (pipelines without that are the `_x1` variants).

use super::dispatch::OpSpec;
use crate::error::{Error, Result};
use crate::gpu::shaders::Pipeline;
use crate::kernels::llm::WeightType;
use crate::llm::weights::{Linear, QMatrix};
use crate::sparse::llm::{SparseFormat, SparseMatrix, Store, TILE};
use std::ops::Range;

llm_shaders! {
    LLM_DENSE = "llm_dense";
    LLM_GROUP = "llm_group";
    LLM_NM = "llm_nm";
    LLM_COL = "llm_col";
    LLM_COMPACT = "llm_compact";
}

/// Invocations per workgroup of the linear shaders.
const WG: u32 = 64;
/// Workgroups per dimension (WebGPU's limit); larger counts spill into y.
const MAX_GROUPS: u32 = 65535;

/// A linear layer's weights as GPU bytes, cut into parts of whole rows (row tiles) so that no
/// part exceeds `max_binding` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuLinear {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// The storage type in kernel-name form: `q4_0`, `f16`, `g16i4`, `cm32i8`, …
    pub wtype: String,
    pub parts: Vec<LinearPart>,
}

/// One part of a [`GpuLinear`]: its rows and its buffer's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearPart {
    /// The rows of the whole matrix this part computes.
    pub rows: Range<usize>,
    /// Upload as-is (length a multiple of 4).
    pub bytes: Vec<u8>,
    cols: u32,
    wtype: String,
    /// Invocations per row (dense, group, 2:4); column lanes per row quad (cm32).
    lanes: u32,
    kind: Kind,
}

/// Where each format's shader finds its arrays (word offsets into the part's buffer).
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Dense {
        ty: WeightType,
        units: u32,
        row_bytes: u32,
    },
    Group {
        g: u32,
        bits: u32,
        /// vec4 offset of the group records
        rec_off: u32,
    },
    Nm {
        blocks: u32,
        pos_off: u32,
        scale_off: u32,
    },
    Col {
        bits: u32,
        q_off: u32,
    },
}

/// Where a call reads and writes (in f32 elements): token `tok` reads
/// `x[x_off + tok·x_stride ..][..cols]` and writes `y[y_off + tok·y_stride + r]` for `r` in the
/// part's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinearIo {
    pub x_off: u32,
    pub x_stride: u32,
    pub y_off: u32,
    pub y_stride: u32,
    /// `y += W·x` (the residual adds of Wo and W_down) instead of `y = W·x`.
    pub acc: bool,
    /// Tokens: `None` = the call's `State::t`; `Some(n)` (n ≥ 1) = exactly n (the LM head
    /// runs 1).
    pub tokens: Option<u32>,
}

/// How the rows of a dense, group or 2:4 layer map to a workgroup's invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowSplit {
    /// 4 to 64 invocations per row, about 4 units each, their partial sums added in workgroup
    /// memory: coalesced reads and enough invocations on a GPU.
    Spread,
    /// One invocation per row, 64 rows a workgroup, no reduction and no barrier. A CPU adapter
    /// (SwiftShader, lavapipe) runs invocations as the SIMD lanes of a thread, where the
    /// spread's reduction costs more than it saves: decode 1.5× (Q4_0) to 1.8× (g16i4) faster
    /// on SwiftShader (bench/results/llm_gpu_profile.json).
    PerRow,
}

impl RowSplit {
    /// PerRow on a CPU adapter, else Spread.
    pub fn for_adapter(ctx: &crate::gpu::GpuContext) -> RowSplit {
        if ctx.is_cpu() {
            RowSplit::PerRow
        } else {
            RowSplit::Spread
        }
    }
}

impl GpuLinear {
    /// The same layer with its rows split as `s` says (packing chooses [`RowSplit::Spread`]).
    pub fn split(mut self, s: RowSplit) -> GpuLinear {
        if s == RowSplit::PerRow {
            for p in &mut self.parts {
                p.lanes = 1;
            }
        }
        self
    }

    /// Packs `lin` (its bytes in `file`, the weights' file buffer) for upload.
    ///
    /// Errors: [`Error::Unsupported`] naming the matrix and its format for `csr8` (no shader);
    /// [`Error::DimOutOfRange`] when one row (one 32-row tile for cm32) exceeds `max_binding`
    /// or a size does not fit the shaders' u32 indices.
    pub fn pack(lin: &Linear, file: &[u8], max_binding: u64) -> Result<GpuLinear> {
        match lin {
            Linear::Dense(m) => GpuLinear::pack_dense(m, file, max_binding),
            Linear::Sparse(m) => pack_sparse(m, max_binding),
        }
    }

    /// Packs a dense matrix (the embeddings / a tied LM head are `QMatrix`es, not `Linear`s).
    pub fn pack_dense(m: &QMatrix, file: &[u8], max_binding: u64) -> Result<GpuLinear> {
        let data = m.data(file);
        let (rows, cols, rb) = (m.rows, m.cols, m.row_bytes());
        if data.len() != rows * rb {
            return Err(Error::ShapeMismatch {
                tensor: m.name.clone(),
                what: format!("bytes of {rows} rows of {cols} {}", m.ty.name()),
                expected: rows * rb,
                got: data.len(),
            });
        }
        check_u32(&m.name, rows, cols)?;
        let max = binding_cap(max_binding);
        let ranges = cut(&m.name, rows, 1, max, |r| padded(r.len() * rb) as u64)?;
        let units = cols.div_ceil(32) as u32;
        let wtype = m.ty.name().to_ascii_lowercase();
        let lanes = lanes_for(units as f64);
        let parts = ranges
            .into_iter()
            .map(|r| {
                let mut bytes = data[r.start * rb..r.end * rb].to_vec();
                bytes.resize(padded(bytes.len()), 0);
                LinearPart {
                    rows: r,
                    bytes,
                    cols: cols as u32,
                    wtype: wtype.clone(),
                    lanes,
                    kind: Kind::Dense {
                        ty: m.ty,
                        units,
                        row_bytes: rb as u32,
                    },
                }
            })
            .collect();
        Ok(GpuLinear {
            name: m.name.clone(),
            rows,
            cols,
            wtype,
            parts,
        })
    }

    /// Whether decode skips the weight columns of zero inputs (the cm32 formats).
    pub fn skips_zero_inputs(&self) -> bool {
        self.wtype.starts_with("cm32")
    }
}

/// `n` rounded up to a whole word.
fn padded(n: usize) -> usize {
    n.next_multiple_of(4)
}

/// The binding limit as the part size the shaders can index (u32 byte offsets).
fn binding_cap(max_binding: u64) -> u64 {
    max_binding.min(u32::MAX as u64) & !3
}

fn check_u32(name: &str, rows: usize, cols: usize) -> Result<()> {
    for (what, v) in [("rows", rows), ("cols", cols)] {
        if v as u64 > u32::MAX as u64 {
            return Err(Error::DimOutOfRange {
                tensor: name.into(),
                what: what.into(),
                value: v as u64,
                limit: "2^32 − 1 (the shaders' u32 indices)".into(),
            });
        }
    }
    Ok(())
}

/// Invocations per row for [`RowSplit::Spread`]: about 4 units (blocks, groups) each, 4 to 64.
fn lanes_for(units: f64) -> u32 {
    [64, 32, 16, 8]
        .into_iter()
        .find(|&l| units / l as f64 >= 4.0)
        .unwrap_or(4)
}

/// Cuts `rows` into ranges of whole `unit`s of rows (the last may be short) whose buffer
/// `size(range)` is at most `max`, greedily.
fn cut(
    name: &str,
    rows: usize,
    unit: usize,
    max: u64,
    size: impl Fn(Range<usize>) -> u64,
) -> Result<Vec<Range<usize>>> {
    let mut out = Vec::new();
    let mut s = 0;
    while s < rows {
        let mut e = s;
        loop {
            let next = (e + unit).min(rows);
            if next == e || size(s..next) > max {
                break;
            }
            e = next;
        }
        if e == s {
            let one = (s + unit).min(rows);
            return Err(Error::DimOutOfRange {
                tensor: name.into(),
                what: format!("bytes of rows {s}..{one} (the smallest part)"),
                value: size(s..one),
                limit: format!("{max} (the storage binding limit)"),
            });
        }
        out.push(s..e);
        s = e;
    }
    Ok(out)
}

fn put_u32s(out: &mut Vec<u8>, v: impl IntoIterator<Item = u32>) {
    v.into_iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
}

/// Pads `out` to a word and returns its length in words.
fn align_words(out: &mut Vec<u8>) -> u32 {
    out.resize(padded(out.len()), 0);
    (out.len() / 4) as u32
}

fn pack_sparse(m: &SparseMatrix, max_binding: u64) -> Result<GpuLinear> {
    if !m.consistent() {
        return Err(Error::BadArgument {
            what: m.name.clone(),
            detail: "format or shape changed after packing".into(),
        });
    }
    let (rows, cols) = (m.rows, m.cols);
    check_u32(&m.name, rows, cols)?;
    let max = binding_cap(max_binding);
    let wtype = m.format.name();
    let part = |r: Range<usize>, bytes: Vec<u8>, lanes: u32, kind: Kind| LinearPart {
        rows: r,
        bytes,
        cols: cols as u32,
        wtype: wtype.clone(),
        lanes,
        kind,
    };
    let parts = match (&m.store, m.format) {
        (Store::Group(s), SparseFormat::Group { g, bits }) => {
            let gb = s.group_bytes();
            // a group's record: first column, d | m << 16, its value words; whole vec4s
            let rec = (8 + gb).next_multiple_of(16);
            let size = |r: Range<usize>| {
                let ng = (s.row_ptr[r.end] - s.row_ptr[r.start]) as usize;
                ((4 * (r.len() + 1)).next_multiple_of(16) + ng * rec) as u64
            };
            let lanes = lanes_for(s.col.len() as f64 / rows as f64);
            cut(&m.name, rows, 1, max, size)?
                .into_iter()
                .map(|r| {
                    let (k0, k1) = (s.row_ptr[r.start] as usize, s.row_ptr[r.end] as usize);
                    let mut b = Vec::with_capacity(size(r.clone()) as usize);
                    put_u32s(
                        &mut b,
                        s.row_ptr[r.start..=r.end].iter().map(|&p| p - k0 as u32),
                    );
                    b.resize(b.len().next_multiple_of(16), 0);
                    let rec_off = (b.len() / 16) as u32;
                    for k in k0..k1 {
                        let m = s.m.get(k).copied().unwrap_or(0) as u32;
                        put_u32s(
                            &mut b,
                            [s.col[k] as u32 * g as u32, s.d[k] as u32 | m << 16],
                        );
                        b.extend_from_slice(&s.q[k * gb..(k + 1) * gb]);
                        b.resize(b.len() + rec - 8 - gb, 0);
                    }
                    let kind = Kind::Group {
                        g: g as u32,
                        bits: bits as u32,
                        rec_off,
                    };
                    part(r, b, lanes, kind)
                })
                .collect()
        }
        (Store::Nm(s), SparseFormat::TwoFour) => {
            let (runs, blocks) = (cols / 4, cols.div_ceil(32));
            // the file's bytes per row: values, position nibbles (two runs a byte)
            let (vb, pb) = (cols / 2, runs.div_ceil(2));
            let sw = blocks.div_ceil(2);
            let per_row = 16 * blocks + 4 * blocks + 4 * sw;
            let lanes = lanes_for(blocks as f64);
            cut(&m.name, rows, 1, max, |r| (r.len() * per_row) as u64)?
                .into_iter()
                .map(|r| {
                    let mut b = Vec::with_capacity(r.len() * per_row);
                    for row in r.clone() {
                        b.extend_from_slice(&s.vals[row * vb..][..vb]);
                        b.resize(b.len() + 16 * blocks - vb, 0);
                    }
                    let pos_off = align_words(&mut b);
                    for row in r.clone() {
                        b.extend_from_slice(&s.pos[row * pb..][..pb]);
                        b.resize(b.len() + 4 * blocks - pb, 0);
                    }
                    let scale_off = align_words(&mut b);
                    for row in r.clone() {
                        let sc = &s.scale[row * blocks..][..blocks];
                        sc.iter()
                            .for_each(|h| b.extend_from_slice(&h.to_le_bytes()));
                        b.resize(b.len() + 2 * (2 * sw - blocks), 0);
                    }
                    let kind = Kind::Nm {
                        blocks: blocks as u32,
                        pos_off,
                        scale_off,
                    };
                    part(r, b, lanes, kind)
                })
                .collect()
        }
        (Store::Col(s), SparseFormat::Col { bits }) => {
            let tb = s.tile_bytes();
            let size = |r: Range<usize>| {
                let n = r.len().div_ceil(TILE) * cols;
                (padded(2 * n) + n * tb) as u64
            };
            cut(&m.name, rows, TILE, max, size)?
                .into_iter()
                .map(|r| {
                    let (t0, t1) = (r.start / TILE, r.end.div_ceil(TILE));
                    let (k0, k1) = (t0 * cols, t1 * cols);
                    let mut b = Vec::with_capacity(size(r.clone()) as usize);
                    s.d[k0..k1]
                        .iter()
                        .for_each(|h| b.extend_from_slice(&h.to_le_bytes()));
                    let q_off = align_words(&mut b);
                    b.extend_from_slice(&s.q[k0 * tb..k1 * tb]);
                    let kind = Kind::Col {
                        bits: bits as u32,
                        q_off,
                    };
                    part(r, b, 8, kind)
                })
                .collect()
        }
        _ => {
            return Err(Error::Unsupported {
                what: format!("GPU linear layer {}", m.name),
                value: wtype,
                expected: "F32, F16, Q4_0, Q4_1, Q8_0, g16i4, g8i4, g16i8, g8i8, nm24i8, \
                           cm32i8 or cm32i4 (csr8 has no shader)"
                    .into(),
            })
        }
    };
    Ok(GpuLinear {
        name: m.name.clone(),
        rows,
        cols,
        wtype,
        parts,
    })
}

/// Workgroup counts for `n` workgroups along x, spilling into y past WebGPU's per-dimension
/// limit (the shaders index `wg.y·65535 + wg.x`).
fn spread(n: u32) -> [u32; 3] {
    [n.clamp(1, MAX_GROUPS), n.div_ceil(MAX_GROUPS).max(1), 1]
}

impl LinearPart {
    /// `Y (t, rows) = X (t, cols) @ Wᵀ` for this part's rows: the dispatch. `w` = this part's
    /// uploaded bytes; `nz` = the nonzero list of x (from [`compact`]): given for a cm32
    /// format, the call is the column-skipping decode GEMV (one token: token 0); ignored by
    /// the other formats.
    ///
    /// Bindings: `x (t, ·) f32`, `w`, `y (t, ·) f32`, and for cm32 `nz (cols + 1,) u32` (x
    /// again when there is no list: the prefill walks every column). The dense and group
    /// shaders read x in vec4s: its binding must be a whole number of 16 bytes (and is read
    /// fastest with `x_off` and `x_stride` multiples of 4).
    pub fn call<B: Copy>(&self, x: B, w: B, y: B, nz: Option<B>, io: LinearIo) -> OpSpec<B> {
        let n_rows = self.rows.len() as u32;
        let mut params = vec![
            n_rows,
            self.cols,
            io.x_off,
            io.x_stride,
            io.y_off + self.rows.start as u32,
            io.y_stride,
            io.acc as u32,
            io.tokens.unwrap_or(0),
        ];
        let rpw = WG / self.lanes;
        let tile = format!("{rpw}x{}", self.lanes);
        let lanes = ("LANES", self.lanes as f64);
        let (pipeline, binds, groups) = match &self.kind {
            Kind::Dense {
                ty,
                units,
                row_bytes,
            } => {
                params.extend([*units, *row_bytes, self.rows.start as u32]);
                // whole-vec4 input loads: blocks of 32 when every token's x starts on a vec4
                let x4 = ty.block_len() == 32 && io.x_off % 4 == 0 && io.x_stride % 4 == 0;
                let consts = vec![
                    ("FMT", fmt_code(*ty)),
                    ("MODE", 0.0),
                    lanes,
                    ("X4", x4 as u32 as f64),
                ];
                let variant = if x4 || ty.block_len() != 32 {
                    ""
                } else {
                    "_x1"
                };
                let name = format!("linear_{}_{tile}{variant}__wgsl", self.wtype);
                let p = Pipeline::named(name, LLM_DENSE, consts);
                (p, vec![x, w, y], n_rows.div_ceil(rpw))
            }
            Kind::Group { g, bits, rec_off } => {
                params.push(*rec_off);
                // whole-vec4 input loads when every token's x starts on a vec4
                let x4 = io.x_off % 4 == 0 && io.x_stride % 4 == 0;
                let consts = vec![
                    ("G", *g as f64),
                    ("BITS", *bits as f64),
                    lanes,
                    ("X4", x4 as u32 as f64),
                ];
                let variant = if x4 { "" } else { "_x1" };
                let name = format!("linear_{}_{tile}{variant}__wgsl", self.wtype);
                let p = Pipeline::named(name, LLM_GROUP, consts);
                (p, vec![x, w, y], n_rows.div_ceil(rpw))
            }
            Kind::Nm {
                blocks,
                pos_off,
                scale_off,
            } => {
                params.extend([*blocks, *pos_off, *scale_off]);
                let name = format!("linear_{}_{tile}__wgsl", self.wtype);
                let p = Pipeline::named(name, LLM_NM, vec![lanes]);
                (p, vec![x, w, y], n_rows.div_ceil(rpw))
            }
            Kind::Col { bits, q_off } => {
                params.push(*q_off);
                let skip = nz.is_some();
                let consts = vec![("BITS", *bits as f64), ("SKIP", skip as u32 as f64), lanes];
                let variant = if skip { "_skip" } else { "" };
                let name = format!("linear_{}_{TILE}x{}{variant}__wgsl", self.wtype, self.lanes);
                let p = Pipeline::named(name, LLM_COL, consts);
                // 64 invocations: 8 row quads × `lanes` column lanes per tile
                let tiles = n_rows.div_ceil(TILE as u32).div_ceil(8 / self.lanes);
                (p, vec![x, w, y, nz.unwrap_or(x)], tiles)
            }
        };
        OpSpec {
            pipeline,
            params,
            binds,
            groups: spread(groups),
            per_token: None,
        }
    }

    /// Embedding gather (dense formats only): `y[tok·cols ..][..cols]` = row `tokens[tok]`
    /// decoded, for the tokens whose row lies in this part (others untouched). `tokens:
    /// array<u32> (st.t,)`, bound in whole 16 bytes (the shader reads it as vec4s); one
    /// workgroup per token.
    pub fn gather<B: Copy>(&self, tokens: B, w: B, y: B) -> Result<OpSpec<B>> {
        let Kind::Dense {
            ty,
            units,
            row_bytes,
        } = &self.kind
        else {
            return Err(Error::Unsupported {
                what: "embedding gather".into(),
                value: self.wtype.clone(),
                expected: "a dense GGUF type (F32, F16, Q4_0, Q4_1, Q8_0)".into(),
            });
        };
        let mut params = vec![self.rows.len() as u32, self.cols, 0, 0, 0, 0, 0, 0];
        params.extend([*units, *row_bytes, self.rows.start as u32]);
        let consts = vec![("FMT", fmt_code(*ty)), ("MODE", 1.0)];
        let name = format!("gather_{}_1x{WG}__wgsl", self.wtype);
        Ok(OpSpec {
            pipeline: Pipeline::named(name, LLM_DENSE, consts),
            params,
            binds: vec![tokens, w, y],
            groups: [1, 1, 1],
            per_token: Some(0),
        })
    }
}

/// `FMT` of llm_dense.wgsl.
fn fmt_code(ty: WeightType) -> f64 {
    match ty {
        WeightType::F32 => 0.0,
        WeightType::F16 => 1.0,
        WeightType::Q4_0 => 2.0,
        WeightType::Q4_1 => 3.0,
        WeightType::Q8_0 => 4.0,
    }
}

/// `x (n,)` of one token at `x_off` (decode) -> `nz (n + 1,) u32`: `[count, j0, j1, …]`, the
/// ascending indices of its nonzero entries. One workgroup.
pub fn compact<B: Copy>(x: B, x_off: u32, n: u32, nz: B) -> OpSpec<B> {
    OpSpec {
        pipeline: Pipeline::named("compact_f32_256x1__wgsl".into(), LLM_COMPACT, vec![]),
        params: vec![x_off, n],
        binds: vec![x, nz],
        groups: [1, 1, 1],
        per_token: None,
    }
}
