//! The LLM's kernel calls cut into tasks for the inference pool ([`crate::par`]).
//!
//! Every product `X (t,n) @ W (d,n)ᵀ -> Y (t,d)` (decode's GEMV at `t` = 1, prefill's GEMM, the
//! LM head) is split over output rows: task i runs the kernel on all `t` tokens and all `n`
//! inputs for its rows `rows_i`, writing `Y[:, rows_i]` only. So each output is summed by one
//! thread, in the kernel's own order, and the result does not depend on the thread count. That
//! holds for the input-channel-major formats (`cm32i8`/`cm32i4`, activation sparsity) too: their
//! GEMV adds `x_j · W[:, j]` over the columns, but a row block still sums its own rows over all
//! nonzero columns (never a split over columns, which would split the reduction).
//!
//! **Row boundaries** are multiples of [`row_align`]: the kernel's row tile (`r<R>`: 4 for the
//! SIMD128 dense GEMVs, 32 for the column-major tiles, 1 for the row-at-a-time kernels), so
//! every row is computed by the same tile body on any split (the SIMD GEMV's leftover rows run
//! with `R = 1`; a 32-row column tile cut in two would be decoded by both tasks), and at least
//! 16 rows, one 64-byte cache line of `y`, so two threads never write one line.
//!
//! **Balance.** Dense and column-major matrices cost the same per row: equal row counts. The
//! group (`g16i4`, …) and CSR formats keep a different count of groups / nonzeros per row; their
//! row pointer (built at load) is the prefix sum of that work, so the boundaries are found by a
//! binary search over it ([`RowSplit::part`]). 2:4 keeps `cols / 2` per row: equal counts.
//!
//! **Small calls** stay on the caller: a call gets one task per [`MIN_TASK_MACS`] multiply-adds
//! (the CNN steps' threshold, [`crate::graph::split`]), at most [`par::threads`]. SmolLM2-135M's
//! K/V projections (192 × 576, 110 K) run on one thread; Q/O (576 × 576), the FFN (1536 × 576)
//! and the LM head (49152 × 576, 28 M) are split. Attention is split over heads
//! (`llama::attend`) by the same rule. RMSNorm, RoPE, SwiGLU and the residual adds (576 or 1536
//! elements) stay on one thread: far under the 32 K elements where a task pays for itself.

use crate::error::Result;
pub use crate::graph::split::{min_task_macs, MIN_TASK_MACS};
use crate::kernels::{Kernel, Tile};
use crate::par::{self, Disjoint};
use crate::sparse::llm::SparseMatrix;
use std::ops::Range;

/// Rows of one 64-byte cache line of `y` (f32): the least row boundary step.
const LINE: usize = 16;

/// Tasks for `macs` multiply-adds of work: one per [`MIN_TASK_MACS`], at most
/// [`par::threads`] ([`par::tasks_for`]; the tests force splits with [`par::with_splits`]).
pub fn tasks_for(macs: usize) -> usize {
    par::tasks_for(macs, min_task_macs())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The step of row boundaries for kernel `k`: a multiple of its row tile (`r<R>`) and of a
/// cache line of outputs (see the module doc). 16 for R ∈ {1, 4}, 32 for the column tiles.
pub fn row_align(k: &Kernel) -> usize {
    let r = match k.tile {
        Tile::Rows { r, .. } => r.max(1),
        Tile::Pixels { .. } => 1,
    };
    r / gcd(r, LINE) * LINE
}

/// One task of a row split: `f(rows, y)` computes the outputs of `rows` into `y`.
pub type RowTask<'a> = dyn Fn(Range<usize>, &mut [f32]) -> Result<()> + Sync + 'a;

/// How the rows `0..rows` of one call are cut: `tasks` parts, boundaries multiples of `align`,
/// balanced by `prefix` when there is one.
#[derive(Debug, Clone, Copy)]
pub struct RowSplit<'a> {
    pub tasks: usize,
    rows: usize,
    align: usize,
    /// (rows + 1,) work before each row (a sparse format's row pointer), or `None`: equal rows.
    prefix: Option<&'a [u32]>,
}

impl<'a> RowSplit<'a> {
    /// The split of `rows` rows costing `macs` multiply-adds in all: one task per
    /// [`MIN_TASK_MACS`], at most [`par::threads`] and at most one per `align` rows.
    pub fn new(rows: usize, macs: usize, align: usize, prefix: Option<&'a [u32]>) -> Self {
        let align = align.max(1);
        RowSplit {
            tasks: tasks_for(macs).min(rows / align).max(1),
            rows,
            align,
            prefix: prefix.filter(|p| p.len() == rows + 1),
        }
    }

    /// Task `i`'s rows. With a prefix, each boundary is the first row where the work before it
    /// reaches `i / tasks` of the total, rounded to the nearest multiple of `align`; else
    /// [`par::part`]. Either way the parts are in order, disjoint and cover `0..rows`.
    pub fn part(&self, i: usize) -> Range<usize> {
        let Some(p) = self.prefix else {
            return par::part(i, self.tasks, self.rows, self.align);
        };
        let (rows, tasks, align) = (self.rows, self.tasks, self.align);
        let total = u64::from(p[rows]);
        let at = |k: usize| {
            if k == 0 {
                0
            } else if k >= tasks {
                rows
            } else {
                let target = total * k as u64 / tasks as u64;
                let r = p.partition_point(|&w| u64::from(w) < target);
                ((r + align / 2) / align * align).min(rows)
            }
        };
        at(i)..at(i + 1)
    }

    /// Runs `f(rows_i, y)` for every part, on the pool; `f` must write `y`'s entries of its
    /// rows only (`y[r]`, or `y[tok·d + r]` for every token). The first error by task wins.
    pub fn run(&self, y: &mut [f32], f: &RowTask<'_>) -> Result<()> {
        if self.tasks == 1 {
            return f(0..self.rows, y);
        }
        let y = Disjoint::new(y);
        par::try_for_tasks(self.tasks, &|i| {
            // Safety: the parts are disjoint row ranges and each task's kernel call writes
            // (and, for the adding column-major passes, reads) the entries of its rows only.
            f(self.part(i), unsafe { y.get() })
        })
    }
}

/// Dense product `Y (t,d) = X (t,n) @ W (d,n)ᵀ` with kernel `k` (a decode `t1` tile takes
/// `t` = 1), `w` holding `d` rows of whole blocks of `k`'s weight type, split over rows.
pub fn linear(
    k: &Kernel,
    w: &[u8],
    (d, n): (usize, usize),
    x: &[f32],
    t: usize,
    y: &mut [f32],
) -> Result<()> {
    let macs = t.saturating_mul(d).saturating_mul(n);
    RowSplit::new(d, macs, row_align(k), None)
        .run(y, &|rows, y| k.run_linear(w, d, n, x, t, y, rows))
}

/// Sparse product `Y (t, m.rows) = X (t, m.cols) @ mᵀ` with kernel `k` (a decode `t1` tile:
/// `t` = 1, `y (m.rows,)`), split over rows, balanced by `m`'s stored work per row.
pub fn sparse(k: &Kernel, m: &SparseMatrix, x: &[f32], t: usize, y: &mut [f32]) -> Result<()> {
    let skips = matches!(k.tile, Tile::Rows { t: 1, .. });
    let (macs, prefix) = m.split_work(x, t, skips);
    RowSplit::new(m.rows, macs, row_align(k), prefix)
        .run(y, &|rows, y| k.run_sparse(m, x, t, y, rows))
}
