//! The sparse LLM kernels ([`crate::sparse::llm`] formats): GEMV `W (d,n) @ x (n,) -> y (d,)`
//! and GEMM `X (t,n) @ Wᵀ -> Y (t,d)`, one list ([`sparse_kernels`]) for both ops.
//!
//! Names: `gemv_<wtype>_r<R>_<isa>` and `gemm_<wtype>_r<R>t<T>_<isa>` with `wtype` the
//! format's name (`g16i4`, `g8i4`, `g16i8`, `g8i8`, `nm24i8`, `csr8`, `cm32i8`, `cm32i4`),
//! `R` rows computed together, `T` tokens sharing each decoded weight. The row-major formats
//! run a row at a time (`r1`, GEMM `r1t4`); the column-major ones a 32-row tile (`r32`, GEMM
//! `r32t16`), their GEMV skipping every input column whose x is zero.

use super::Isa;
use crate::error::{Error, Result};
use crate::sparse::llm::{SparseFormat, SparseMatrix};
use std::ops::Range;
use std::sync::OnceLock;

/// Which product a kernel computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LlmOp {
    /// `W (d,n) @ x (n,) -> y (d,)`: decode, one token.
    Gemv,
    /// `X (t,n) @ Wᵀ -> Y (t,d)`: prefill, `t` tokens.
    Gemm,
}

/// `(w, x (t, cols), t, y, rows)`: GEMV writes `y[r]`, GEMM `y[tok·w.rows + r]`, r in rows.
///
/// Safety: `w.format` is the kernel's; `x` holds `t·w.cols` floats, `y` `t·w.rows` (GEMV:
/// `t = 1`); `rows.start ≤ rows.end ≤ w.rows`; `w` passed [`SparseMatrix::read`]'s checks
/// (or came from `pack`).
pub(crate) type SparseFn = unsafe fn(&SparseMatrix, &[f32], usize, &mut [f32], Range<usize>);

/// One registered sparse kernel.
#[derive(Clone, Copy)]
pub struct SparseKernel {
    pub name: &'static str,
    pub op: LlmOp,
    pub format: SparseFormat,
    /// Rows computed together.
    pub rows: usize,
    /// Tokens sharing each decoded weight (1 for GEMV).
    pub tokens: usize,
    pub isa: Isa,
    func: SparseFn,
}

impl std::fmt::Debug for SparseKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl SparseKernel {
    /// GEMV (`t` = 1): `y[rows] = W[rows, :] @ x (cols,)`; GEMM: `Y (t, w.rows)[:, rows] =
    /// X (t, cols) @ W[rows, :]ᵀ`. Other entries of `y` are left untouched.
    pub fn run(
        &self,
        w: &SparseMatrix,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        rows: Range<usize>,
    ) -> Result<()> {
        if !w.consistent() {
            return Err(Error::MalformedSparse {
                tensor: w.name.clone(),
                detail: "format, rows or cols changed after packing".into(),
            });
        }
        if w.format != self.format {
            return Err(Error::Unsupported {
                what: format!("kernel {} on {}", self.name, w.name),
                value: w.format.name(),
                expected: self.format.name(),
            });
        }
        if t == 0 || (self.op == LlmOp::Gemv && t != 1) {
            return Err(Error::DimOutOfRange {
                tensor: w.name.clone(),
                what: format!("tokens for {}", self.name),
                value: t as u64,
                limit: if self.op == LlmOp::Gemv { "1" } else { "≥ 1" }.into(),
            });
        }
        if rows.start > rows.end || rows.end > w.rows {
            return Err(Error::DimOutOfRange {
                tensor: w.name.clone(),
                what: "row range end".into(),
                value: rows.end as u64,
                limit: format!("start ≤ end ≤ rows = {}", w.rows),
            });
        }
        let big = |what: &str| Error::DimOutOfRange {
            tensor: w.name.clone(),
            what: what.into(),
            value: t as u64,
            limit: "t · dims must fit in memory".into(),
        };
        let need_x = t.checked_mul(w.cols).ok_or_else(|| big("t · cols"))?;
        let need_y = t.checked_mul(w.rows).ok_or_else(|| big("t · rows"))?;
        for (buffer, len, need) in [("x", x.len(), need_x), ("y", y.len(), need_y)] {
            if len < need {
                return Err(Error::BufferTooSmall {
                    kernel: self.name.into(),
                    buffer: buffer.into(),
                    expected: need,
                    got: len,
                });
            }
        }
        // Safety: checked just above; `w`'s arrays were validated when it was built.
        unsafe { (self.func)(w, x, t, y, rows) };
        Ok(())
    }
}

/// `[(op, "op", format, "wtype", "tile", R, T, Isa, "isa", fn), ...]` → kernels, named by the
/// grammar.
macro_rules! sparse_list {
    ($(($op:ident, $ops:literal, $fmt:expr, $ws:literal, $tile:literal, $r:literal, $t:literal,
        $isa:ident, $isas:literal, $f:expr)),* $(,)?) => {
        [$(SparseKernel {
            name: concat!($ops, "_", $ws, "_", $tile, "_", $isas),
            op: LlmOp::$op,
            format: $fmt,
            rows: $r,
            tokens: $t,
            isa: Isa::$isa,
            func: $f,
        }),*]
    };
}

#[cfg(target_arch = "wasm32")]
/// One ISA's kernels for every format: `$isa`, `$m` (the multiply-add) and the modules.
macro_rules! sparse_isa {
    ($isa:ident, $isas:literal, $m:ty) => {{
        use super::col_simd128 as cm;
        use super::nm_simd128 as nm;
        use super::sparse_simd128 as gs;
        use SparseFormat::*;
        sparse_list! {
            (Gemv, "gemv", Group { g: 16, bits: 4 }, "g16i4", "r1", 1, 1, $isa, $isas, gs::gemv_group::<$m, 16, true>),
            (Gemv, "gemv", Group { g: 8, bits: 4 }, "g8i4", "r1", 1, 1, $isa, $isas, gs::gemv_group::<$m, 8, true>),
            (Gemv, "gemv", Group { g: 16, bits: 8 }, "g16i8", "r1", 1, 1, $isa, $isas, gs::gemv_group::<$m, 16, false>),
            (Gemv, "gemv", Group { g: 8, bits: 8 }, "g8i8", "r1", 1, 1, $isa, $isas, gs::gemv_group::<$m, 8, false>),
            (Gemv, "gemv", TwoFour, "nm24i8", "r1", 1, 1, $isa, $isas, nm::gemv_nm::<$m>),
            (Gemv, "gemv", Csr8, "csr8", "r1", 1, 1, $isa, $isas, nm::gemv_csr::<$m>),
            (Gemm, "gemm", Group { g: 16, bits: 4 }, "g16i4", "r1t4", 1, 4, $isa, $isas, gs::gemm_group::<$m, 16, true>),
            (Gemm, "gemm", Group { g: 8, bits: 4 }, "g8i4", "r1t4", 1, 4, $isa, $isas, gs::gemm_group::<$m, 8, true>),
            (Gemm, "gemm", Group { g: 16, bits: 8 }, "g16i8", "r1t4", 1, 4, $isa, $isas, gs::gemm_group::<$m, 16, false>),
            (Gemm, "gemm", Group { g: 8, bits: 8 }, "g8i8", "r1t4", 1, 4, $isa, $isas, gs::gemm_group::<$m, 8, false>),
            (Gemm, "gemm", TwoFour, "nm24i8", "r1t4", 1, 4, $isa, $isas, nm::gemm_nm::<$m>),
            (Gemm, "gemm", Csr8, "csr8", "r1t4", 1, 4, $isa, $isas, nm::gemm_csr::<$m>),
            (Gemv, "gemv", Col { bits: 8 }, "cm32i8", "r32", 32, 1, $isa, $isas, cm::gemv_col::<$m, false>),
            (Gemv, "gemv", Col { bits: 4 }, "cm32i4", "r32", 32, 1, $isa, $isas, cm::gemv_col::<$m, true>),
            (Gemm, "gemm", Col { bits: 8 }, "cm32i8", "r32t16", 32, 16, $isa, $isas, cm::gemm_col::<$m, false>),
            (Gemm, "gemm", Col { bits: 4 }, "cm32i4", "r32t16", 32, 16, $isa, $isas, cm::gemm_col::<$m, true>),
        }
    }};
}

/// Every sparse kernel of this build (GEMV and GEMM), scalar ones first.
pub fn sparse_kernels() -> &'static [SparseKernel] {
    static LIST: OnceLock<Vec<SparseKernel>> = OnceLock::new();
    LIST.get_or_init(|| {
        use super::col_scalar::{gemm_col, gemv_col};
        use super::sparse_scalar::{gemm_runs, gemv_group, gemv_runs};
        use SparseFormat::*;
        #[allow(unused_mut)]
        let mut v = Vec::from(sparse_list! {
            (Gemv, "gemv", Group { g: 16, bits: 4 }, "g16i4", "r1", 1, 1, Scalar, "scalar", gemv_group),
            (Gemv, "gemv", Group { g: 8, bits: 4 }, "g8i4", "r1", 1, 1, Scalar, "scalar", gemv_group),
            (Gemv, "gemv", Group { g: 16, bits: 8 }, "g16i8", "r1", 1, 1, Scalar, "scalar", gemv_group),
            (Gemv, "gemv", Group { g: 8, bits: 8 }, "g8i8", "r1", 1, 1, Scalar, "scalar", gemv_group),
            (Gemv, "gemv", TwoFour, "nm24i8", "r1", 1, 1, Scalar, "scalar", gemv_runs),
            (Gemv, "gemv", Csr8, "csr8", "r1", 1, 1, Scalar, "scalar", gemv_runs),
            (Gemm, "gemm", Group { g: 16, bits: 4 }, "g16i4", "r1t4", 1, 4, Scalar, "scalar", gemm_runs),
            (Gemm, "gemm", Group { g: 8, bits: 4 }, "g8i4", "r1t4", 1, 4, Scalar, "scalar", gemm_runs),
            (Gemm, "gemm", Group { g: 16, bits: 8 }, "g16i8", "r1t4", 1, 4, Scalar, "scalar", gemm_runs),
            (Gemm, "gemm", Group { g: 8, bits: 8 }, "g8i8", "r1t4", 1, 4, Scalar, "scalar", gemm_runs),
            (Gemm, "gemm", TwoFour, "nm24i8", "r1t4", 1, 4, Scalar, "scalar", gemm_runs),
            (Gemm, "gemm", Csr8, "csr8", "r1t4", 1, 4, Scalar, "scalar", gemm_runs),
            (Gemv, "gemv", Col { bits: 8 }, "cm32i8", "r32", 32, 1, Scalar, "scalar", gemv_col::<false>),
            (Gemv, "gemv", Col { bits: 4 }, "cm32i4", "r32", 32, 1, Scalar, "scalar", gemv_col::<true>),
            (Gemm, "gemm", Col { bits: 8 }, "cm32i8", "r32t16", 32, 16, Scalar, "scalar", gemm_col::<false>),
            (Gemm, "gemm", Col { bits: 4 }, "cm32i4", "r32t16", 32, 16, Scalar, "scalar", gemm_col::<true>),
        });
        #[cfg(target_arch = "wasm32")]
        v.extend(sparse_isa!(Simd128, "simd128", crate::kernels::simd128::MulAdd));
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        v.extend(sparse_isa!(Relaxed, "relaxed", crate::kernels::simd128::Relaxed));
        v
    })
}

/// The kernel [`SparseMatrix::gemv`] / [`SparseMatrix::gemm`] use: the best ISA this build
/// has.
pub fn best_sparse(format: SparseFormat, op: LlmOp) -> Result<&'static SparseKernel> {
    sparse_kernels()
        .iter()
        .filter(|k| k.format == format && k.op == op)
        .max_by_key(|k| k.isa)
        .ok_or_else(|| Error::UnknownKernel {
            name: format!("{op:?} for {}", format.name()),
        })
}

/// Looks a sparse kernel up by name.
pub fn find_sparse(name: &str) -> Result<&'static SparseKernel> {
    sparse_kernels()
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::UnknownKernel { name: name.into() })
}
