//! One-shot pruning of a llama model's linear layers (Wq, Wk, Wv, Wo, W_gate, W_up, W_down of
//! every block; the tied embedding / LM head stays dense), then quantization into a sparse LLM
//! format ([`SparseFormat`]).
//!
//! Each matrix `W (rows, cols)` is decoded to f32 from the GGUF, pruned on its own with the
//! shared methods of [`crate::prune`] — magnitude, Wanda (|W|·‖x‖ with ‖x_j‖² = diag H),
//! SparseGPT (OBS with H) — under an LLM pattern (unstructured, 1×G column groups, N:M), and
//! packed: [`SparseMatrix::pack`] quantizes the kept weights (int4/int8 with per-group scales).
//! H comes from [`Calibration`]: one dense pass over calibration text.
//!
//! The pattern and the format must agree: 1×G groups pack as `g<G>i4`/`g<G>i8`, 2:4 as
//! `nm24i8`, and any mask as `csr8` (unstructured's only format) or as the input-channel-major
//! `cm32i8`/`cm32i4` of activation sparsity (which store the zeros; see [`act`]).

pub mod act;
pub mod calib;

pub use calib::{Calibration, Gram};

use super::{check_sparsity, magnitude, sparsegpt, wanda, Method, Pattern};
use crate::error::{Error, Result};
use crate::import::gguf::Gguf;
use crate::llm::llama::Site;
use crate::llm::LlamaConfig;
use crate::sparse::llm::{SparseFormat, SparseMatrix};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How the target sparsity is spread over the matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Every matrix loses the same fraction.
    Uniform,
    /// One threshold over all matrices on each unit's (weight or 1×G group) estimated share of
    /// its matrix's output, Σ w² · E[x_j²] (diag H / tokens; magnitude: Σ w²) over the matrix's
    /// total: matrices whose energy sits in few units (dead FFN channels, quiet heads) give up
    /// more at the same relative error. Each matrix is then pruned uniformly per row at its
    /// share, at most [`MAX_MATRIX_SPARSITY`]. N:M has nothing to allocate (its ratio is fixed).
    Global,
}

/// The most a [`Allocation::Global`] share may take from one matrix.
pub const MAX_MATRIX_SPARSITY: f32 = 0.9;

crate::parse_names!(Allocation, "allocation", [
    "uniform" => Allocation::Uniform,
    "global" => Allocation::Global,
]);

/// How to prune and pack an LLM.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    pub method: Method,
    pub pattern: Pattern,
    /// Fraction of each matrix's weights dropped, in [0, 1) (N:M fixes its own).
    pub sparsity: f32,
    pub format: SparseFormat,
    /// SparseGPT: columns per block (rounded up to the pattern's alignment).
    pub block: usize,
    /// SparseGPT: dampening as a fraction of mean(diag H).
    pub damp: f64,
    pub allocation: Allocation,
    /// 1×G: reorder each block's FFN channels by activation energy first (see [`ffn_order`]).
    pub permute: bool,
    /// Prune only the matrices of these kinds (`attn_q`, …, `ffn_down`); empty: all. The
    /// others stay as the GGUF has them.
    pub only: Vec<String>,
}

impl LlmConfig {
    pub fn new(method: Method, pattern: Pattern, sparsity: f32, format: SparseFormat) -> Self {
        LlmConfig {
            method,
            pattern,
            sparsity: pattern.fixed_sparsity().unwrap_or(sparsity),
            format,
            block: 128,
            damp: 0.01,
            allocation: Allocation::Uniform,
            permute: true,
            only: Vec::new(),
        }
    }

    fn validate(&self) -> Result<()> {
        check_sparsity("sparsity", self.sparsity)?;
        self.pattern.validate()?;
        let fits = match (self.pattern, self.format) {
            (_, SparseFormat::Csr8) => !matches!(self.pattern, Pattern::Groups(_)),
            // input-channel-major (activation sparsity) stores every weight: any mask fits
            (_, SparseFormat::Col { .. }) => !matches!(self.pattern, Pattern::Groups(_)),
            (Pattern::ColGroups(g), SparseFormat::Group { g: fg, .. }) => g == fg,
            (Pattern::NofM(n, 4), SparseFormat::TwoFour) => n <= 2,
            _ => false,
        };
        if !fits {
            return Err(Error::BadArgument {
                what: "format".into(),
                detail: format!(
                    "pattern {} cannot be stored as {}: 1xG packs as gGi4/gGi8, 2:4 as nm24i8, \
                     unstructured as csr8",
                    self.pattern.name(),
                    self.format.name()
                ),
            });
        }
        if self.block == 0 || !(self.damp.is_finite() && self.damp > 0.0) {
            return Err(Error::BadArgument {
                what: "sparsegpt".into(),
                detail: format!("block {} must be ≥ 1, damp {} > 0", self.block, self.damp),
            });
        }
        Ok(())
    }
}

/// One linear matrix pruning touches: its GGUF name, block and input site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    pub name: String,
    pub layer: usize,
    pub site: Site,
}

impl Linear {
    /// The matrix kind: `attn_q`, …, `ffn_down`.
    pub fn kind(&self) -> &str {
        let rest = self.name.splitn(3, '.').nth(2).unwrap_or("");
        rest.strip_suffix(".weight").unwrap_or(rest)
    }
}

/// The linear matrices of `cfg`'s blocks, in file order.
pub fn linears(cfg: &LlamaConfig) -> Vec<Linear> {
    const PARTS: [(&str, Site); 7] = [
        ("attn_q", Site::AttnIn),
        ("attn_k", Site::AttnIn),
        ("attn_v", Site::AttnIn),
        ("attn_output", Site::AttnOut),
        ("ffn_gate", Site::FfnIn),
        ("ffn_up", Site::FfnIn),
        ("ffn_down", Site::FfnMid),
    ];
    (0..cfg.n_layers)
        .flat_map(|layer| {
            PARTS.iter().map(move |&(p, site)| Linear {
                name: format!("blk.{layer}.{p}.weight"),
                layer,
                site,
            })
        })
        .collect()
}

/// What pruning did to one matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixReport {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// Fraction of weights zero after pruning (before packing).
    pub sparsity: f32,
    /// Relative Frobenius error of the packed (pruned, quantized) matrix against the dense one.
    pub rel_error: f32,
    pub bytes: usize,
}

/// Prunes and packs every linear matrix of the model in `g`; `calib` is required by Wanda and
/// SparseGPT. Matrices run on two threads; `progress(done)` after each (from either thread).
pub fn prune(
    g: &Gguf,
    cfg: &LlamaConfig,
    calib: Option<&Calibration>,
    pc: &LlmConfig,
    progress: impl Fn(usize) + Sync,
) -> Result<Vec<(SparseMatrix, MatrixReport)>> {
    pc.validate()?;
    if pc.method != Method::Magnitude && calib.is_none() {
        return Err(Error::BadCalibration {
            detail: format!("{:?} needs calibration text (--calib)", pc.method),
        });
    }
    let jobs: Vec<Linear> = linears(cfg)
        .into_iter()
        .filter(|j| pc.only.is_empty() || pc.only.iter().any(|k| j.kind() == k))
        .collect();
    if jobs.is_empty() {
        return Err(Error::BadArgument {
            what: "only".into(),
            detail: format!("{:?} names no matrix kind (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down)", pc.only),
        });
    }
    let shares = match (pc.allocation, pc.pattern) {
        (Allocation::Global, p) if p.fixed_sparsity().is_none() => allocate(g, &jobs, calib, pc)?,
        _ => vec![pc.sparsity; jobs.len()],
    };
    // per block: the FFN channel order (1×G with calibration only, and only when the block's
    // three FFN matrices are all rewritten)
    let all_ffn = ["ffn_gate", "ffn_up", "ffn_down"]
        .iter()
        .all(|k| jobs.iter().any(|j| j.kind() == *k));
    let orders: Vec<Option<Vec<usize>>> = (0..cfg.n_layers)
        .map(|l| match (calib, pc.pattern, pc.permute && all_ffn) {
            (Some(c), Pattern::ColGroups(_), true) => Some(ffn_order(c.gram(l, Site::FfnMid))),
            _ => None,
        })
        .collect();
    let done = AtomicUsize::new(0);
    crate::par::par_map(
        jobs.len(),
        crate::par::available(),
        || (),
        |_, i| {
            let order = orders[jobs[i].layer].as_deref();
            let r = prune_one(g, &jobs[i], calib, pc, shares[i], order);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            r
        },
    )
    .into_iter()
    .collect()
}

fn prune_one(
    g: &Gguf,
    job: &Linear,
    calib: Option<&Calibration>,
    pc: &LlmConfig,
    s: f32,
    ffn: Option<&[usize]>,
) -> Result<(SparseMatrix, MatrixReport)> {
    let t = g.tensor(&job.name)?;
    let (rows, cols) = (t.info.rows(), t.info.row_len());
    // dense (rows, cols): the weights, with the FFN channels reordered (gate/up rows, down
    // columns) when `ffn` is given
    let mut dense = t.dequantize()?;
    let mut gram = calib.map(|c| std::borrow::Cow::Borrowed(c.gram(job.layer, job.site)));
    if let Some(order) = ffn {
        match job.site {
            Site::FfnIn if order.len() == rows => {
                let old = dense.clone();
                for (r, &o) in order.iter().enumerate() {
                    dense[r * cols..(r + 1) * cols].copy_from_slice(&old[o * cols..(o + 1) * cols]);
                }
            }
            Site::FfnMid if order.len() == cols => {
                for row in dense.chunks_exact_mut(cols) {
                    let old = row.to_vec();
                    for (j, &o) in order.iter().enumerate() {
                        row[j] = old[o];
                    }
                }
                gram = gram.map(|gr| std::borrow::Cow::Owned(gr.permuted(order)));
            }
            _ => {}
        }
    }
    let gram = gram.as_deref();
    // w (rows, cols): pruned in place
    let mut w = dense.clone();
    if let Some(gr) = gram {
        if gr.n != cols {
            return Err(Error::ShapeMismatch {
                tensor: job.name.clone(),
                what: "calibration inputs".into(),
                expected: cols,
                got: gr.n,
            });
        }
    }
    if cols % pc.pattern.align() != 0 {
        return Err(Error::BadArgument {
            what: job.name.clone(),
            detail: format!(
                "{cols} columns are not a multiple of {} ({})",
                pc.pattern.align(),
                pc.pattern.name()
            ),
        });
    }
    match (pc.method, gram) {
        (Method::Magnitude, _) => magnitude::prune(&mut w, rows, cols, s, pc.pattern),
        (Method::Wanda, Some(gr)) => wanda::prune(&mut w, &gr.diag(), rows, cols, s, pc.pattern),
        (Method::SparseGpt, Some(gr)) => sparsegpt::prune(
            &job.name,
            &mut w,
            gr.h.clone(),
            rows,
            cols,
            s,
            pc.pattern,
            pc.block,
            pc.damp,
        )?,
        (_, None) => {
            return Err(Error::BadCalibration {
                detail: format!("{:?} needs calibration text (--calib)", pc.method),
            })
        }
    }
    let zeros = w.iter().filter(|&&v| v == 0.0).count();
    let m = SparseMatrix::pack(&job.name, pc.format, &w, rows, cols)?;
    let packed = m.decode();
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (a, b) in packed.iter().zip(&dense) {
        num += ((a - b) as f64).powi(2);
        den += (*b as f64).powi(2);
    }
    let report = MatrixReport {
        name: job.name.clone(),
        rows,
        cols,
        sparsity: zeros as f32 / w.len() as f32,
        rel_error: (num / den.max(f64::MIN_POSITIVE)).sqrt() as f32,
        bytes: m.n_bytes(),
    };
    Ok((m, report))
}

/// The FFN channel order of one block that pruning stores: channels by decreasing activation
/// energy E[x_j²] at W_down's input. Reordering the FFN's hidden channels (W_gate and W_up
/// rows, W_down columns, alike) leaves the block's function unchanged, and it puts quiet
/// channels next to each other, so W_down's 1×G groups gather channels of similar importance:
/// dropping a group of quiet ones costs little, where in file order every group mixes loud and
/// quiet channels.
pub fn ffn_order(mid: &Gram) -> Vec<usize> {
    let d = mid.diag();
    let mut order: Vec<usize> = (0..mid.n).collect();
    order.sort_by(|&a, &b| d[b].total_cmp(&d[a]).then(a.cmp(&b)));
    order
}

/// Quantiles kept per matrix for [`Allocation::Global`]'s threshold search.
const QUANTILES: usize = 2048;

/// Per-matrix sparsities for [`Allocation::Global`]: the threshold τ on unit scores that
/// prunes `pc.sparsity` of all weights (each matrix capped at [`MAX_MATRIX_SPARSITY`]), found
/// by bisection over each matrix's score quantiles.
fn allocate(
    g: &Gguf,
    jobs: &[Linear],
    calib: Option<&Calibration>,
    pc: &LlmConfig,
) -> Result<Vec<f32>> {
    let unit = pc.pattern.unit();
    // per matrix: (weights, sorted score quantiles)
    let stats: Vec<(usize, Vec<f64>)> = crate::par::par_map(
        jobs.len(),
        crate::par::available(),
        || (),
        |_, i| {
            let job = &jobs[i];
            let t = g.tensor(&job.name)?;
            let (rows, cols) = (t.info.rows(), t.info.row_len());
            let w = t.dequantize()?;
            // e (cols,): E[x_j²] per input column (1 without calibration: magnitude)
            let e: Vec<f64> = match calib {
                Some(c) => {
                    let gr = c.gram(job.layer, job.site);
                    let n = gr.tokens.max(1) as f64;
                    gr.diag().iter().map(|v| v / n).collect()
                }
                None => vec![1.0; cols],
            };
            let mut scores: Vec<f64> = (0..rows)
                .flat_map(|r| {
                    let (w, e) = (&w, &e);
                    (0..cols / unit).map(move |u| {
                        (u * unit..(u + 1) * unit)
                            .map(|j| (w[r * cols + j] as f64).powi(2) * e[j])
                            .sum::<f64>()
                    })
                })
                .collect();
            // Relative to the matrix's whole Σ w²·E[x²]: a raw threshold would strip the early
            // blocks, whose residual stream (and so every score) is small, yet which matter most.
            let sum: f64 = scores.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            scores.iter_mut().for_each(|v| *v /= sum);
            scores.sort_by(f64::total_cmp);
            let q = (0..QUANTILES)
                .map(|k| scores[(k * scores.len()) / QUANTILES])
                .collect();
            Ok((rows * cols, q))
        },
    )
    .into_iter()
    .collect::<Result<_>>()?;
    let total: f64 = stats.iter().map(|(n, _)| *n as f64).sum();
    // fraction of matrix i's units scoring below τ, capped
    let share = |q: &[f64], tau: f64| -> f64 {
        let below = q.partition_point(|&v| v < tau) as f64 / q.len() as f64;
        below.min(MAX_MATRIX_SPARSITY as f64)
    };
    let pruned = |tau: f64| -> f64 {
        stats
            .iter()
            .map(|(n, q)| *n as f64 * share(q, tau))
            .sum::<f64>()
            / total
    };
    let (mut lo, mut hi) = (
        0.0f64,
        stats
            .iter()
            .map(|(_, q)| q[QUANTILES - 1])
            .fold(0.0, f64::max)
            * 2.0
            + 1.0,
    );
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if pruned(mid) < pc.sparsity as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(stats.iter().map(|(_, q)| share(q, hi) as f32).collect())
}
