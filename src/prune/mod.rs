//! One-shot pruning of the layers zeroskip runs sparse: every pointwise (1x1) `Conv` and every
//! `Linear`. Both are `W (c_out, c_in) @ X (c_in, pixels)`, so each method sees one matrix.
//!
//! - `Method`: which weights go — magnitude, Wanda (|W|·‖x‖), SparseGPT (OBS reconstruction).
//! - `Pattern`: unstructured (the same count in every row) or G×1 groups (G consecutive output
//!   rows keep or drop an input column together: the SIMD SpMM block of `sparse`).
//! - `Schedule`: how much each layer loses (uniform, an explicit map, or `ProtectSmall`).
//! - Calibration (`calib`) runs the network on sample inputs *sequentially*: layer k is pruned
//!   on inputs produced by the already-pruned layers before it, and each pruned layer's output
//!   statistics are re-matched to the dense network's (`reestimate`: BN is folded at import).

mod calib;
// Decoding photos for calibration: native only (the browser preprocesses in www/classify.js).
#[cfg(not(target_arch = "wasm32"))]
pub mod images;
mod linalg;
// LLM pruning runs matrices on two threads: native only (the CLI).
#[cfg(not(target_arch = "wasm32"))]
pub mod llm;
mod magnitude;
mod mask;
pub mod npy;
mod reestimate;
pub mod schedule;
mod sparsegpt;
mod wanda;

pub use schedule::Schedule;

use crate::error::{Error, Result};
use crate::graph::{Graph, Op};

/// How the weights to drop are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Smallest |W_ij|: needs no data (calibration only feeds re-estimation).
    Magnitude,
    /// Smallest |W_ij|·‖x_j‖₂ (Sun et al. 2023), x_j = input channel j over all calibration
    /// pixels.
    Wanda,
    /// SparseGPT (Frantar & Alistarh 2023): OBS mask selection and reconstruction of the
    /// remaining weights from H = X Xᵀ.
    SparseGpt,
}

crate::parse_names!(Method, "method", [
    "magnitude" => Method::Magnitude,
    "wanda" => Method::Wanda,
    "sparsegpt" => Method::SparseGpt,
]);

/// Which weights are dropped together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Each output row loses the same number of weights, anywhere in the row.
    Unstructured,
    /// `G` consecutive output rows (G ∈ {2, 4, 8}) share one mask over input columns; the
    /// last group of a layer whose c_out is not a multiple of G is simply shorter.
    Groups(usize),
    /// 1×G: within a row, `G` consecutive input columns (G ∈ {4, 8, 16, 32}, aligned to G)
    /// are kept or dropped together: the LLM GEMV's group-sparse format, whose kept groups are
    /// contiguous SIMD loads of `x`. Each row loses the same number of groups.
    ColGroups(usize),
    /// N:M: in every aligned run of M input columns of a row, at most N are kept (2:4 is the
    /// hardware standard); the sparsity is fixed at 1 − N/M.
    NofM(usize, usize),
}

crate::parse_names!(Pattern, "pattern", [
    "unstructured" => Pattern::Unstructured,
    "2x1" => Pattern::Groups(2),
    "4x1" => Pattern::Groups(4),
    "8x1" => Pattern::Groups(8),
    "1x4" => Pattern::ColGroups(4),
    "1x8" => Pattern::ColGroups(8),
    "1x16" => Pattern::ColGroups(16),
    "1x32" => Pattern::ColGroups(32),
    "2:4" => Pattern::NofM(2, 4),
    "1:4" => Pattern::NofM(1, 4),
    "4:8" => Pattern::NofM(4, 8),
]);

impl Pattern {
    /// Rows that share a mask.
    pub fn group(self) -> usize {
        match self {
            Pattern::Groups(g) => g,
            _ => 1,
        }
    }

    /// Consecutive columns of a row that are dropped as one unit (the G of 1×G).
    pub fn unit(self) -> usize {
        match self {
            Pattern::ColGroups(g) => g,
            _ => 1,
        }
    }

    /// Columns a row length must be a multiple of (and a SparseGPT block too).
    pub fn align(self) -> usize {
        match self {
            Pattern::ColGroups(g) => g,
            Pattern::NofM(_, m) => m,
            _ => 1,
        }
    }

    /// The sparsity the pattern itself fixes (N:M), if any.
    pub fn fixed_sparsity(self) -> Option<f32> {
        match self {
            Pattern::NofM(n, m) => Some(1.0 - n as f32 / m as f32),
            _ => None,
        }
    }

    /// The name `FromStr` reads.
    pub fn name(self) -> String {
        match self {
            Pattern::Unstructured => "unstructured".into(),
            Pattern::Groups(g) => format!("{g}x1"),
            Pattern::ColGroups(g) => format!("1x{g}"),
            Pattern::NofM(n, m) => format!("{n}:{m}"),
        }
    }

    pub(crate) fn validate(self) -> Result<()> {
        match self {
            Pattern::Groups(g) if ![2, 4, 8].contains(&g) => Err(bad_arg(
                "pattern",
                format!("group of {g} rows, expected 2, 4 or 8"),
            )),
            Pattern::ColGroups(g) if ![4, 8, 16, 32].contains(&g) => Err(bad_arg(
                "pattern",
                format!("group of {g} columns, expected 4, 8, 16 or 32"),
            )),
            Pattern::NofM(n, m) if n == 0 || n >= m || m > 16 => Err(bad_arg(
                "pattern",
                format!("{n}:{m}, expected 0 < N < M ≤ 16"),
            )),
            _ => Ok(()),
        }
    }
}

/// Everything `prune` needs besides the graph and the calibration inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub method: Method,
    pub pattern: Pattern,
    /// Target fraction of zeros over all pruned weights, in [0, 1).
    pub sparsity: f32,
    pub schedule: Schedule,
    /// Re-match each pruned layer's per-channel output mean/std to the dense network's.
    pub reestimate: bool,
    /// SparseGPT: columns per block (mask selection and lazy update granularity).
    pub block: usize,
    /// SparseGPT: dampening λ as a fraction of mean(diag H).
    pub damp: f64,
}

impl Config {
    pub fn new(method: Method, pattern: Pattern, sparsity: f32) -> Config {
        Config {
            method,
            pattern,
            sparsity,
            schedule: Schedule::Uniform,
            reestimate: true,
            block: 128,
            damp: 0.01,
        }
    }

    fn validate(&self) -> Result<()> {
        check_sparsity("sparsity", self.sparsity)?;
        self.pattern.validate()?;
        if matches!(self.pattern, Pattern::ColGroups(_) | Pattern::NofM(..)) {
            return Err(bad_arg(
                "pattern",
                format!(
                    "{} is an LLM pattern; convolutions and linears of a graph take \
                     unstructured, 2x1, 4x1 or 8x1",
                    self.pattern.name()
                ),
            ));
        }
        if self.block == 0 {
            return Err(bad_arg("block", "must be ≥ 1".into()));
        }
        if !(self.damp.is_finite() && self.damp > 0.0) {
            return Err(bad_arg("damp", format!("{} must be > 0", self.damp)));
        }
        self.schedule.validate()
    }
}

/// A layer `prune` touches: node `node` of the graph, weight `W (c_out, c_in)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub node: usize,
    pub name: String,
    pub c_out: usize,
    pub c_in: usize,
}

impl Layer {
    pub fn weights(&self) -> usize {
        self.c_out * self.c_in
    }
}

/// The pointwise convs and linear layers of `graph`, in execution order.
pub fn layers(graph: &Graph) -> Vec<Layer> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(node, n)| {
            let (c_out, c_in) = match &n.op {
                Op::Conv(c) if c.is_pointwise() => (c.c_out, c.c_in),
                Op::Linear(l) => (l.c_out, l.c_in),
                _ => return None,
            };
            Some(Layer {
                node,
                name: n.name.clone(),
                c_out,
                c_in,
            })
        })
        .collect()
}

/// What happened to one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerReport {
    pub name: String,
    pub c_out: usize,
    pub c_in: usize,
    /// The schedule's sparsity for this layer.
    pub target: f32,
    /// Zeros / weights after pruning (≥ target: dead inputs may add zeros).
    pub achieved: f32,
}

/// Where `prune` is, for a progress bar: `done` of `total` steps of `stage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
    /// The input image (dense statistics) or layer (pruning) just finished.
    pub what: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Running the dense network on the calibration inputs for re-estimation targets.
    DenseStats,
    /// Pruning layer by layer.
    Prune,
}

/// Prunes every layer of `layers(graph)` in place, calibrating on `calib` (each input of the
/// graph's input shape). Magnitude without re-estimation needs no calibration inputs.
pub fn prune(
    graph: &mut Graph,
    calib: &[Vec<f32>],
    config: &Config,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<LayerReport>> {
    config.validate()?;
    graph.validate()?;
    let layers = layers(graph);
    let targets = config.schedule.sparsities(&layers, config.sparsity)?;
    let needs_data = config.reestimate || config.method != Method::Magnitude;
    if needs_data && calib.is_empty() {
        return Err(Error::BadCalibration {
            detail: format!(
                "{:?}{} needs at least one calibration input",
                config.method,
                if config.reestimate {
                    " with re-estimation"
                } else {
                    ""
                }
            ),
        });
    }
    let want = graph.input_shape().len();
    if let Some((i, x)) = calib.iter().enumerate().find(|(_, x)| x.len() != want) {
        return Err(Error::BadCalibration {
            detail: format!(
                "input #{i} has {} values, the model takes {} {want}",
                x.len(),
                graph.input_shape()
            ),
        });
    }
    if needs_data {
        calib::run(graph, calib, &layers, &targets, config, progress)?;
    } else {
        for (i, (layer, &s)) in layers.iter().zip(&targets).enumerate() {
            let (w, c_out, c_in) = weights_mut(graph, layer.node);
            magnitude::prune(w, c_out, c_in, s, config.pattern);
            progress(&Progress {
                stage: Stage::Prune,
                done: i + 1,
                total: layers.len(),
                what: layer.name.clone(),
            });
        }
    }
    Ok(layers
        .iter()
        .zip(&targets)
        .map(|(l, &target)| {
            let (w, _, _) = weights_mut(graph, l.node);
            let zeros = w.iter().filter(|&&v| v == 0.0).count();
            LayerReport {
                name: l.name.clone(),
                c_out: l.c_out,
                c_in: l.c_in,
                target,
                achieved: zeros as f32 / w.len() as f32,
            }
        })
        .collect())
}

/// Zeros / weights over all layers of `reports`.
pub fn global_sparsity(reports: &[LayerReport]) -> f32 {
    let (zeros, total) = reports.iter().fold((0.0f64, 0.0f64), |(z, t), r| {
        let n = (r.c_out * r.c_in) as f64;
        (z + r.achieved as f64 * n, t + n)
    });
    if total == 0.0 {
        0.0
    } else {
        (zeros / total) as f32
    }
}

/// `W (c_out, c_in)` of a layer node (a pointwise conv's `(c_out, c_in, 1, 1)` is the same
/// memory). Only called on nodes `layers` returned.
fn weights_mut(graph: &mut Graph, node: usize) -> (&mut Vec<f32>, usize, usize) {
    match &mut graph.nodes[node].op {
        Op::Conv(c) => (&mut c.weight, c.c_out, c.c_in),
        Op::Linear(l) => (&mut l.weight, l.c_out, l.c_in),
        op => unreachable!("layers() returned a {} node", op.name()),
    }
}

/// `(W (c_out, c_in), b (c_out,))` of a layer node, mutably.
fn weights_bias_mut(graph: &mut Graph, node: usize) -> (&mut [f32], &mut [f32]) {
    match &mut graph.nodes[node].op {
        Op::Conv(c) => (&mut c.weight, &mut c.bias),
        Op::Linear(l) => (&mut l.weight, &mut l.bias),
        op => unreachable!("layers() returned a {} node", op.name()),
    }
}

/// Weights to drop from each row: round(s · c_in), never the whole row.
fn pruned_per_row(c_in: usize, s: f32) -> usize {
    ((s as f64 * c_in as f64).round() as usize).min(c_in.saturating_sub(1))
}

pub(crate) fn check_sparsity(what: &str, s: f32) -> Result<()> {
    if (0.0..1.0).contains(&s) {
        Ok(())
    } else {
        Err(bad_arg(what, format!("sparsity {s} is outside [0, 1)")))
    }
}

fn bad_arg(what: &str, detail: String) -> Error {
    Error::BadArgument {
        what: what.into(),
        detail,
    }
}
