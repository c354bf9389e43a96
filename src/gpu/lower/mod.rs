//! Graph → GPU steps: the WebGPU counterpart of `graph::plan`, made once at load time and
//! with no device in sight (so it is tested without a GPU). It keeps the CPU plan's node
//! semantics and the very same decisions, read from one `graph::analysis::Analysis`:
//! - a conv / linear / add whose only reader is a ReLU or Clip right after it runs with that
//!   clamp fused, and views share their source's buffer;
//! - every other value gets a buffer from a pool reused by liveness: a buffer returns to the
//!   pool after the last node reading its value (`Analysis::dies_at`), and a later value
//!   takes the free buffer closest in size (growing it if none is large enough), so a whole
//!   network lives in a few buffers (MobileNetV2: 3, see `GpuSession::buffers`). Unlike the
//!   CPU arena this is a set of buffers, not one: WebGPU forbids binding one buffer both
//!   read-only and writable in the same dispatch, so a step's input and output must be
//!   different buffers, and no activation runs in place (`Reuse::Distinct`);
//! - 1x1 convs and FC layers go dense (tiled GEMM) or sparse (CSR SpMM) by a GPU rule, not
//!   the CPU selector: see `SPARSE_MIN_ZEROS`;
//! - every dispatch runs a `shaders::Pipeline`, named in the kernel grammar
//!   (`spmm_f32_64x4__wgsl`), and the report names each node's pipeline.
//!
//! Ops without a shader yet (Pad, DepthToSpace, ResizeBilinear, Slice, HWC re-layouts,
//! grouped convs) are refused with `Error::UnsupportedOp` naming the node, so the caller can
//! run the model on the WASM kernels instead. Sizes over the device's limits are refused here
//! too (`GpuFailure::Limit`), before anything is allocated.

mod ops;
mod slots;
#[cfg(test)]
mod tests;

use super::shaders::Pipeline;
use crate::error::{Error, GpuFailure, Result};
use crate::graph::analysis::{Analysis, Reuse};
use crate::graph::{Graph, ValueId};
use slots::SlotPool;

/// Words of every step's uniform block (each shader's `Params` is at most 16 scalars).
pub(crate) const PARAM_WORDS: usize = 16;

/// Fraction of zero weights from which a 1x1 / FC layer runs the sparse CSR kernel on the
/// GPU. The CPU selector goes sparse from ~34% zeros because there both kernels stream X
/// through SIMD registers alike. On a GPU they differ in kind: the dense GEMM stages 64×16
/// tiles of W and X in workgroup memory and uses every staged value 64 times (~16 FLOP per
/// byte loaded: compute-bound), while the CSR kernel does one multiply-add per X value it
/// loads (0.5 FLOP per byte, from L2: bandwidth-bound). With L2 delivering roughly a tenth
/// to a twentieth of the FLOP rate in bytes on discrete and integrated GPUs alike, the CSR
/// kernel runs at a quarter to a third of the GEMM's rate per multiply, so it wins once it
/// skips more than ~70% of them. That is an estimate: no hardware GPU was available to
/// measure it. The CPU-emulated adapters measured so far say nothing about it (on lavapipe
/// the CSR kernel beats the GEMM at every sparsity, even 0%: emulated workgroup memory and
/// barriers cost more than they save), and `backend::open` sends `Auto` on such adapters to
/// the WASM kernels anyway. Re-measure in Chromium on real GPUs before tuning.
pub const SPARSE_MIN_ZEROS: f64 = 0.7;

/// (LANES, ROWS) workgroup shapes of `spmm.wgsl`: LANES invocations × 4 pixels along the
/// pixels of ROWS output channels, 64 invocations in all. The executor picks the narrowest
/// LANES covering the layer's pixels, so small maps (7×7, FC) fill the workgroup with rows.
pub const SPMM_SHAPES: &[(u32, u32)] =
    &[(64, 1), (32, 2), (16, 4), (8, 8), (4, 16), (2, 32), (1, 64)];

/// How 1x1 convs and FC layers are run on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointwise {
    /// Sparse when at least `SPARSE_MIN_ZEROS` of the weights are zero, else dense.
    Auto,
    /// Always the dense tiled GEMM (the baseline a sparse run is measured against).
    Dense,
    /// Always the sparse CSR kernel (tests; also at 0% sparsity).
    Sparse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuOptions {
    pub pointwise: Pointwise,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            pointwise: Pointwise::Auto,
        }
    }
}

/// What the GPU path does with one graph node (the WebGPU `LayerReport`).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuLayer {
    pub node: String,
    pub op: &'static str,
    /// The pipeline, in the kernel grammar (`spmm_f32_64x4__wgsl`, `gemm_f32_64x64__wgsl`,
    /// `dwconv_f32_64x1_3x3s2__wgsl`, …: see `gpu::shaders`), or `fused into …` / `view`.
    pub kernel: String,
    /// Zero fraction of the weights (1x1 and FC layers).
    pub sparsity: Option<f64>,
}

/// The device limits lowering checks against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceLimits {
    /// `max_compute_workgroups_per_dimension`
    pub max_groups: u32,
    /// Largest buffer one binding may hold: min(max_storage_buffer_binding_size,
    /// max_buffer_size), in bytes.
    pub max_binding: u64,
}

impl DeviceLimits {
    pub fn of(l: &wgpu::Limits) -> DeviceLimits {
        DeviceLimits {
            max_groups: l.max_compute_workgroups_per_dimension,
            max_binding: l.max_storage_buffer_binding_size.min(l.max_buffer_size),
        }
    }
}

/// A weight buffer's contents.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    F32(Vec<f32>),
    U32(Vec<u32>),
}

impl Data {
    pub fn bytes(&self) -> u64 {
        4 * match self {
            Data::F32(v) => v.len(),
            Data::U32(v) => v.len(),
        } as u64
    }
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Index of a pooled activation buffer.
pub(crate) type Slot = usize;

/// One dispatch. Its bindings are, in order: the uniform block (binding 0), `reads`,
/// `weights`, then `write` — the order every shader declares them in.
#[derive(Debug, Clone)]
pub(crate) struct StepDesc {
    pub pipeline: Pipeline,
    pub params: [u32; PARAM_WORDS],
    pub reads: Vec<Slot>,
    pub weights: Vec<Data>,
    pub write: Slot,
    pub groups: [u32; 3],
}

#[derive(Debug)]
pub(crate) struct Lowered {
    pub steps: Vec<StepDesc>,
    /// Floats of each pooled buffer (the largest value it ever holds).
    pub slot_len: Vec<usize>,
    pub input: Slot,
    pub output: Slot,
    pub report: Vec<GpuLayer>,
}

pub(crate) fn lower(g: &Graph, opts: GpuOptions, lim: DeviceLimits) -> Result<Lowered> {
    g.validate()?;
    Lowerer::new(g, opts, lim).run()
}

struct Lowerer<'g> {
    g: &'g Graph,
    opts: GpuOptions,
    lim: DeviceLimits,
    /// Fusions, shared buffers and lifetimes; `Reuse::Distinct`, as a dispatch may not bind
    /// its output buffer as an input too.
    a: Analysis,
    slot: Vec<Option<Slot>>,
    pool: SlotPool,
    steps: Vec<StepDesc>,
    report: Vec<GpuLayer>,
}

impl<'g> Lowerer<'g> {
    fn new(g: &'g Graph, opts: GpuOptions, lim: DeviceLimits) -> Lowerer<'g> {
        Lowerer {
            g,
            opts,
            lim,
            a: Analysis::new(g, Reuse::Distinct),
            slot: vec![None; g.values.len()],
            pool: SlotPool::default(),
            steps: Vec::new(),
            report: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Lowered> {
        let g = self.g;
        let input = self.alloc(g.input, "graph input")?;
        for i in 0..g.nodes.len() {
            if let Some(p) = self.a.fused_into[i] {
                let into = format!("fused into {}", g.nodes[p].name);
                self.report_node(i, into, None);
            } else if self.a.view[i] {
                self.report_node(i, "view".into(), None);
            } else {
                self.node(i)?;
            }
            for v in std::mem::take(&mut self.a.dies_at[i]) {
                if let Some(s) = self.slot[v] {
                    self.pool.release(s);
                }
            }
        }
        let output = self.slot_of(g.output)?;
        Ok(Lowered {
            steps: self.steps,
            slot_len: self.pool.len,
            input,
            output,
            report: self.report,
        })
    }

    /// A pooled buffer for value `v` (a root), refused if over the device's binding limit.
    fn alloc(&mut self, v: ValueId, what: &str) -> Result<Slot> {
        let len = self.g.shape(v).len();
        self.check_bytes(&self.g.values[v].name, what, 4 * len as u64)?;
        let s = self.pool.alloc(len);
        self.slot[self.a.root[v]] = Some(s);
        Ok(s)
    }

    fn check_bytes(&self, tensor: &str, what: &str, bytes: u64) -> Result<()> {
        if bytes > self.lim.max_binding {
            return Err(Error::Gpu {
                kind: GpuFailure::Limit,
                detail: format!(
                    "{tensor}: {what} needs a buffer of {bytes} bytes; this device binds at \
                     most {} bytes (max_storage_buffer_binding_size / max_buffer_size)",
                    self.lim.max_binding
                ),
            });
        }
        Ok(())
    }

    /// The buffer holding value `v` (computed earlier: the graph is validated).
    fn slot_of(&self, v: ValueId) -> Result<Slot> {
        self.slot[self.a.root[v]].ok_or_else(|| Error::BadNode {
            file: self.g.name.clone(),
            node: self.g.values[v].name.clone(),
            op: "-".into(),
            detail: "value read before it is computed (internal)".into(),
        })
    }

    fn report_node(&mut self, i: usize, kernel: String, sparsity: Option<f64>) {
        let node = &self.g.nodes[i];
        self.report.push(GpuLayer {
            node: node.name.clone(),
            op: node.op.name(),
            kernel,
            sparsity,
        });
    }

    fn unsupported(&self, i: usize, why: &str) -> Error {
        let n = &self.g.nodes[i];
        Error::UnsupportedOp {
            file: self.g.name.clone(),
            node: n.name.clone(),
            op: n.op.name().into(),
            detail: format!(" on the WebGPU path ({why}); run this model on the WASM kernels"),
        }
    }

    /// A u32 shader parameter, refused if it does not fit.
    fn u(&self, i: usize, what: &str, v: usize) -> Result<u32> {
        u32::try_from(v).map_err(|_| Error::Gpu {
            kind: GpuFailure::Limit,
            detail: format!("{}: {what} = {v} exceeds u32", self.g.nodes[i].name),
        })
    }

    /// A dispatch dimension, refused if over `max_compute_workgroups_per_dimension`.
    fn dim(&self, i: usize, what: &str, n: usize) -> Result<u32> {
        let max = self.lim.max_groups as usize;
        if n == 0 || n > max {
            return Err(Error::Gpu {
                kind: GpuFailure::Limit,
                detail: format!(
                    "{}: {n} workgroups along {what}; this device allows 1..={max}",
                    self.g.nodes[i].name
                ),
            });
        }
        Ok(n as u32)
    }

    /// `items` invocations, `per` per workgroup, in (x, y) folded under the limit (shaders
    /// index them as `wg.y · num_workgroups.x + wg.x`), and `z` along the third dimension.
    fn grid(&self, i: usize, items: usize, per: usize, z: usize) -> Result<[u32; 3]> {
        let groups = items.div_ceil(per).max(1);
        let x = groups.min(self.lim.max_groups as usize);
        let y = groups.div_ceil(x);
        Ok([
            self.dim(i, "x", x)?,
            self.dim(i, "y", y)?,
            self.dim(i, "z", z)?,
        ])
    }

    /// Adds a dispatch of `pipeline` writing node `i`'s output (to a fresh buffer, or the one
    /// a Concat's earlier parts went to). A node's first dispatch reports it, under the
    /// pipeline's name.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        i: usize,
        pipeline: Pipeline,
        params: &[u32],
        reads: Vec<Slot>,
        weights: Vec<Data>,
        groups: [u32; 3],
        sparsity: Option<f64>,
    ) -> Result<()> {
        let name = self.g.nodes[i].name.clone();
        for w in &weights {
            self.check_bytes(&name, "weights", w.bytes())?;
        }
        let out = self.g.nodes[i].output;
        let write = match self.slot[self.a.root[out]] {
            Some(s) => s,
            None => self.alloc(out, "output")?,
        };
        if self.report.len() == i {
            self.report_node(i, pipeline.name.clone(), sparsity);
        }
        let mut p = [0u32; PARAM_WORDS];
        p[..params.len()].copy_from_slice(params);
        self.steps.push(StepDesc {
            pipeline,
            params: p,
            reads,
            weights,
            write,
            groups,
        });
        Ok(())
    }
}
