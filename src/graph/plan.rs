//! Graph → Plan: every choice made once, at load time. Each node gets a kernel (dense or sparse
//! and the block width for 1x1 convs and FC layers, through the selector), packed weights, and
//! a region of one arena; conv/linear/add + ReLU/ReLU6 are fused into one step; views and
//! in-place activations share their input's region. `exec` then only runs the steps.

use super::analysis::{Analysis, Reuse};
use super::arena::{Allocator, Region};
use super::{Conv, Graph, Op, PoolKind, ValueId};
use crate::dense::DenseWeights;
use crate::error::{Error, Result};
use crate::kernels::cnn::{self, ConvParams, ConvWeights, DwConvParams, DwConvWeights, PoolParams};
use crate::kernels::{
    best, select, sparse_kernel, Choice, Clamp, Isa, Kernel, LayerStats, Op as KOp,
    Shape as KShape, WType,
};
use crate::sparse::{SpmmLayer, SpmmWeights};

// Most floats one inference's arena may hold; why that number: `crate::limits`.
pub use crate::limits::MAX_ARENA;

/// How the plan picks 1x1 / FC kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sparsity {
    /// The selector decides per layer from the measured sparsity.
    Auto,
    /// Always the dense kernel: the baseline a sparse plan is measured against.
    Dense,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub isa: Isa,
    pub sparsity: Sparsity,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            isa: Isa::best(),
            sparsity: Sparsity::Auto,
        }
    }
}

/// 1x1 conv / FC weights as the chosen kernel wants them.
#[derive(Debug)]
pub(crate) enum PointwiseWeights {
    Sparse(SpmmLayer),
    Dense(DenseWeights),
}

#[derive(Debug)]
pub(crate) enum Step {
    /// `W (c_out, c_in) @ X (c_in, hw) -> Y (c_out, hw)`
    Pointwise {
        kernel: &'static Kernel,
        w: PointwiseWeights,
        hw: usize,
        x: Region,
        y: Region,
        clamp: Clamp,
    },
    DwConv {
        kernel: &'static Kernel,
        w: DwConvWeights,
        x: Region,
        y: Region,
        clamp: Clamp,
    },
    Conv {
        kernel: &'static Kernel,
        w: ConvWeights,
        x: Region,
        y: Region,
        clamp: Clamp,
    },
    /// In place over `x`.
    Act {
        kernel: &'static Kernel,
        act: cnn::Activation,
        x: Region,
    },
    /// A data-movement kernel (copy, pad, depth to space, resize, slice, HWC re-layouts):
    /// `x -> y` as `params` describes.
    Layout {
        kernel: &'static Kernel,
        params: cnn::Layout,
        x: Region,
        y: Region,
    },
    /// `y[c, p] = x[c, p] · scale[c] + shift[c]`, `hw` pixels per channel
    Affine {
        kernel: &'static Kernel,
        scale: Vec<f32>,
        shift: Vec<f32>,
        hw: usize,
        x: Region,
        y: Region,
    },
    /// `a (n) ∘ b (n) -> y (n)`, clamped: the kernel's op (add, mul, sub) on two same-shape
    /// tensors.
    Binary {
        kernel: &'static Kernel,
        a: Region,
        b: Region,
        y: Region,
        clamp: Clamp,
    },
    /// `x (C, hw) · s (C) -> y (C, hw)`
    ChannelMul {
        kernel: &'static Kernel,
        x: Region,
        s: Region,
        y: Region,
        hw: usize,
    },
    /// `x (C, hw) -> y (C)`
    GlobalAvgPool {
        kernel: &'static Kernel,
        x: Region,
        y: Region,
        hw: usize,
    },
    Pool {
        kernel: &'static Kernel,
        params: PoolParams,
        x: Region,
        y: Region,
    },
    Softmax {
        kernel: &'static Kernel,
        x: Region,
        y: Region,
    },
    /// Channel blocks one after another, each moved by the copy `kernel`.
    Concat {
        kernel: &'static Kernel,
        parts: Vec<Region>,
        y: Region,
    },
    /// `y[c, p] = x[c, p] ≥ 0 ? x[c, p] : slope[c]·x[c, p]`, `hw` pixels per channel
    Prelu {
        kernel: &'static Kernel,
        slope: Vec<f32>,
        hw: usize,
        x: Region,
        y: Region,
    },
}

/// What the plan did with one graph node, for `zeroskip inspect` and the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerReport {
    pub node: String,
    pub op: &'static str,
    /// Input and output shapes, `(c, h, w)`.
    pub input: super::Shape,
    pub output: super::Shape,
    /// Kernel name, or `fused` / `view` / `in place` for nodes that need no step of their own.
    pub kernel: String,
    /// Zero fraction of the weights (1x1 and FC layers), if any.
    pub sparsity: Option<f64>,
    /// Dense-equivalent multiply-adds × 2.
    pub flops: u64,
}

/// A graph compiled for one ISA: steps, buffers, and the report of what was chosen.
#[derive(Debug)]
pub struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) arena_len: usize,
    pub(crate) input: Region,
    pub(crate) output: Region,
    input_shape: super::Shape,
    output_shape: super::Shape,
    report: Vec<LayerReport>,
}

impl Plan {
    pub fn input_shape(&self) -> super::Shape {
        self.input_shape
    }
    pub fn output_shape(&self) -> super::Shape {
        self.output_shape
    }
    /// Floats of the one arena an inference uses.
    pub fn arena_len(&self) -> usize {
        self.arena_len
    }
    pub fn report(&self) -> &[LayerReport] {
        &self.report
    }
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    pub fn new(graph: &Graph, opts: PlanOptions) -> Result<Plan> {
        Plan::with_packed(graph, opts, &[])
    }

    /// As `new`, but 1x1 / FC nodes with a stream in `packed` (indexed by node, from a .zsk)
    /// run it as stored: no selector, no packing. `Sparsity::Dense` ignores them.
    pub fn with_packed(
        graph: &Graph,
        opts: PlanOptions,
        packed: &[Option<SpmmWeights>],
    ) -> Result<Plan> {
        graph.validate()?;
        Builder::new(graph, opts, packed).build()
    }
}

/// State while lowering: value → buffer root, lifetimes, the allocator.
struct Builder<'g> {
    g: &'g Graph,
    opts: PlanOptions,
    /// (nodes,) or empty: streams stored in a .zsk, used as is
    packed: &'g [Option<SpmmWeights>],
    /// Fusions, shared buffers and lifetimes (`Reuse::InPlace`: activations overwrite).
    a: Analysis,
    region: Vec<Option<Region>>,
    alloc: Allocator,
    steps: Vec<Step>,
    report: Vec<LayerReport>,
}

impl<'g> Builder<'g> {
    fn new(g: &'g Graph, opts: PlanOptions, packed: &'g [Option<SpmmWeights>]) -> Builder<'g> {
        let n = g.values.len();
        Builder {
            g,
            opts,
            packed,
            a: Analysis::new(g, Reuse::InPlace),
            region: vec![None; n],
            alloc: Allocator::default(),
            steps: Vec::new(),
            report: Vec::new(),
        }
    }

    fn build(mut self) -> Result<Plan> {
        let g = self.g;
        let input = self.alloc.alloc(g.input_shape().len());
        self.region[g.input] = Some(input);

        for i in 0..g.nodes.len() {
            if let Some(p) = self.a.fused_into[i] {
                self.report_node(i, format!("fused into {}", g.nodes[p].name), None);
            } else {
                self.lower(i, self.a.clamp[i])?;
            }
            for v in std::mem::take(&mut self.a.dies_at[i]) {
                if let Some(r) = self.region[v].take() {
                    self.alloc.release(r);
                }
            }
        }
        if self.alloc.size() > MAX_ARENA {
            return Err(crate::limits::too_large(
                &g.name,
                "activation arena",
                Some(4 * self.alloc.size() as u64),
                4 * MAX_ARENA as u64,
                "the plan's f32 activations at their peak",
            ));
        }
        let output = self.region[self.a.output_root(g)].expect("graph output lowered");
        Ok(Plan {
            arena_len: self.alloc.size(),
            input,
            output,
            input_shape: g.input_shape(),
            output_shape: g.output_shape(),
            steps: self.steps,
            report: self.report,
        })
    }

    /// Region of an input value (already computed).
    fn read(&self, v: ValueId) -> Region {
        let r = self.region[self.a.root[v]].expect("graph order: inputs are computed first");
        let len = self.g.shape(v).len();
        Region { off: r.off, len }
    }

    /// A fresh region for node `i`'s output.
    fn write(&mut self, i: usize) -> Region {
        let v = self.g.nodes[i].output;
        let r = self.alloc.alloc(self.g.shape(v).len());
        self.region[self.a.root[v]] = Some(r);
        r
    }

    fn report_node(&mut self, i: usize, kernel: String, sparsity: Option<f64>) {
        let node = &self.g.nodes[i];
        let flops = match &node.op {
            Op::Conv(c) => 2 * (c.weight.len() as u64) * self.g.shape(node.output).hw() as u64,
            Op::Linear(l) => 2 * l.weight.len() as u64,
            _ => 0,
        };
        self.report.push(LayerReport {
            node: node.name.clone(),
            op: node.op.name(),
            input: self.g.shape(node.inputs[0]),
            output: self.g.shape(node.output),
            kernel,
            sparsity,
            flops,
        });
    }

    /// A node the planner has no kernel for (an op variant, not a malformed graph).
    fn unsupported(&self, i: usize, detail: String) -> Error {
        let n = &self.g.nodes[i];
        Error::UnsupportedOp {
            file: self.g.name.clone(),
            node: n.name.clone(),
            op: n.op.name().into(),
            detail,
        }
    }

    fn lower(&mut self, i: usize, clamp: Clamp) -> Result<()> {
        let g = self.g;
        let node = &g.nodes[i];
        let xs = g.shape(node.inputs[0]);
        let x = self.read(node.inputs[0]);
        if self.a.view[i] {
            self.report_node(i, "view".into(), None);
            return Ok(());
        }
        match &node.op {
            Op::Conv(c) if c.is_pointwise() => {
                self.pointwise(i, &c.weight, &c.bias, c.c_out, c.c_in, xs.hw(), x, clamp)?;
            }
            Op::Linear(l) => {
                self.pointwise(i, &l.weight, &l.bias, l.c_out, l.c_in, 1, x, clamp)?;
            }
            Op::Conv(c) => self.conv(i, c, x, clamp)?,
            Op::Act(a) => {
                let act = cnn::Activation::from(*a);
                let kernel = self.cnn_kernel(KOp::of_act(act.kind()), None)?;
                // In place when the analysis gave the output its input's buffer; else copy
                // first.
                let target = if self.a.in_place_at(g, i) {
                    x
                } else {
                    let y = self.write(i);
                    let params = cnn::Layout::Copy { n: xs.len() };
                    self.layout(x, y, params)?;
                    y
                };
                self.steps.push(Step::Act {
                    kernel,
                    act,
                    x: target,
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::ChannelAffine { scale, shift } => {
                let kernel = self.cnn_kernel(KOp::Affine, None)?;
                let y = self.write(i);
                self.steps.push(Step::Affine {
                    kernel,
                    scale: scale.clone(),
                    shift: shift.clone(),
                    hw: xs.hw(),
                    x,
                    y,
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Add => {
                let kernel = self.cnn_kernel(KOp::Add, None)?;
                let b = self.read(node.inputs[1]);
                let y = self.write(i);
                self.steps.push(Step::Binary {
                    kernel,
                    a: x,
                    b,
                    y,
                    clamp,
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Mul => {
                let s = self.read(node.inputs[1]);
                let y = self.write(i);
                if g.shape(node.inputs[1]).len() == xs.len() {
                    let kernel = self.cnn_kernel(KOp::Mul, None)?;
                    self.steps.push(Step::Binary {
                        kernel,
                        a: x,
                        b: s,
                        y,
                        clamp: Clamp::NONE,
                    });
                    self.report_node(i, kernel.name.into(), None);
                } else {
                    let kernel = self.cnn_kernel(KOp::ChMul, None)?;
                    self.steps.push(Step::ChannelMul {
                        kernel,
                        x,
                        s,
                        y,
                        hw: xs.hw(),
                    });
                    self.report_node(i, kernel.name.into(), None);
                }
            }
            Op::GlobalAvgPool => {
                let kernel = self.cnn_kernel(KOp::GAvgPool, None)?;
                let y = self.write(i);
                self.steps.push(Step::GlobalAvgPool {
                    kernel,
                    x,
                    y,
                    hw: xs.hw(),
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Pool(p) => {
                let params = PoolParams::new(&node.name, xs.c, xs.h, xs.w, p.window())?;
                let op = if p.kind == PoolKind::Max {
                    KOp::MaxPool
                } else {
                    KOp::AvgPool
                };
                let kernel = self.cnn_kernel(op, None)?;
                let y = self.write(i);
                self.steps.push(Step::Pool {
                    kernel,
                    params,
                    x,
                    y,
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Softmax => {
                let kernel = self.cnn_kernel(KOp::Softmax, None)?;
                let y = self.write(i);
                self.steps.push(Step::Softmax { kernel, x, y });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Concat => {
                let kernel = self.cnn_kernel(KOp::Copy, None)?;
                let parts = node.inputs.iter().map(|&v| self.read(v)).collect();
                let y = self.write(i);
                self.steps.push(Step::Concat { kernel, parts, y });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Prelu { slope } => {
                let kernel = self.cnn_kernel(KOp::Prelu, None)?;
                let y = self.write(i);
                self.steps.push(Step::Prelu {
                    kernel,
                    slope: slope.clone(),
                    hw: xs.hw(),
                    x,
                    y,
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Sub => {
                let kernel = self.cnn_kernel(KOp::Sub, None)?;
                let b = self.read(node.inputs[1]);
                let y = self.write(i);
                self.steps.push(Step::Binary {
                    kernel,
                    a: x,
                    b,
                    y,
                    clamp: Clamp::NONE,
                });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Pad { pads } => {
                let y = self.write(i);
                let params = cnn::Layout::Pad {
                    x: [xs.c, xs.h, xs.w],
                    pads: *pads,
                };
                let kernel = self.layout(x, y, params)?;
                self.report_node(i, kernel.name.into(), None);
            }
            Op::DepthToSpace { block } => {
                let y = self.write(i);
                let params = cnn::Layout::DepthToSpace {
                    x: [xs.c, xs.h, xs.w],
                    block: *block,
                };
                let kernel = self.layout(x, y, params)?;
                self.report_node(i, kernel.name.into(), None);
            }
            Op::ResizeBilinear(r) => {
                let (rows, cols) = (r.taps(xs.h, r.oh), r.taps(xs.w, r.ow));
                let y = self.write(i);
                let params = cnn::Layout::Resize {
                    x: [xs.c, xs.h, xs.w],
                    rows,
                    cols,
                };
                let kernel = self.layout(x, y, params)?;
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Slice { begin, step, out } => {
                let y = self.write(i);
                let params = cnn::Layout::Slice {
                    x: [xs.c, xs.h, xs.w],
                    begin: *begin,
                    step: *step,
                    out: [out.c, out.h, out.w],
                };
                let kernel = self.layout(x, y, params)?;
                self.report_node(i, kernel.name.into(), None);
            }
            Op::ToHwc => {
                let y = self.write(i);
                let kernel = self.layout(
                    x,
                    y,
                    cnn::Layout::ToHwc {
                        x: [xs.c, xs.h, xs.w],
                    },
                )?;
                self.report_node(i, kernel.name.into(), None);
            }
            Op::FromHwc(ys) => {
                let y = self.write(i);
                let kernel = self.layout(
                    x,
                    y,
                    cnn::Layout::FromHwc {
                        y: [ys.c, ys.h, ys.w],
                    },
                )?;
                self.report_node(i, kernel.name.into(), None);
            }
            // Shares its input's buffer (`Analysis::view`, above): no step.
            Op::View(_) => {}
        }
        Ok(())
    }

    /// A 1x1 conv or FC layer: the selector picks dense or sparse and the block width.
    #[allow(clippy::too_many_arguments)]
    fn pointwise(
        &mut self,
        i: usize,
        w: &[f32],
        b: &[f32],
        c_out: usize,
        c_in: usize,
        hw: usize,
        x: Region,
        clamp: Clamp,
    ) -> Result<()> {
        let name = self.g.nodes[i].name.clone();
        let zeros = w.iter().filter(|&&v| v == 0.0).count() as f64 / w.len() as f64;
        let stored = self
            .packed
            .get(i)
            .and_then(|p| p.as_ref())
            .filter(|_| self.opts.sparsity == Sparsity::Auto);
        if let Some(p) = stored {
            let kernel = sparse_kernel(p.shape().nr, self.opts.isa)?;
            let y = self.write(i);
            let weights = PointwiseWeights::Sparse(p.bind(hw)?);
            self.steps.push(Step::Pointwise {
                kernel,
                w: weights,
                hw,
                x,
                y,
                clamp,
            });
            self.report_node(i, kernel.name.into(), Some(zeros));
            return Ok(());
        }
        let stats = LayerStats::measure(w, c_out, c_in, hw);
        let choice = match self.opts.sparsity {
            Sparsity::Auto => select(&stats, self.opts.isa)?,
            Sparsity::Dense => {
                let dense = LayerStats {
                    density: [1.0; 4],
                    ..stats
                };
                select(&dense, self.opts.isa)?
            }
        };
        let (kernel, weights) = match choice {
            Choice::Sparse(k) => (
                k,
                PointwiseWeights::Sparse(
                    SpmmWeights::pack(&name, w, Some(b), c_out, c_in, k.nr())?.bind(hw)?,
                ),
            ),
            Choice::Dense(k) => (
                k,
                PointwiseWeights::Dense(DenseWeights::pack(
                    &name,
                    w,
                    Some(b),
                    c_out,
                    c_in,
                    k.nr(),
                )?),
            ),
        };
        let y = self.write(i);
        self.steps.push(Step::Pointwise {
            kernel,
            w: weights,
            hw,
            x,
            y,
            clamp,
        });
        self.report_node(i, kernel.name.into(), Some(zeros));
        Ok(())
    }

    /// Depthwise, full or grouped conv.
    fn conv(&mut self, i: usize, c: &Conv, x: Region, clamp: Clamp) -> Result<()> {
        let node = &self.g.nodes[i];
        let xs = self.g.shape(node.inputs[0]);
        let win = c.window();
        let fast = (c.kh == c.kw && c.stride[0] == c.stride[1] && c.dilation == [1, 1])
            .then_some((c.kh, c.stride[0]));
        if c.is_depthwise() {
            let params = DwConvParams::new(&node.name, c.c_in, xs.h, xs.w, win)?;
            let w = DwConvWeights::pack(&node.name, &c.weight, Some(&c.bias), params)?;
            let kernel = self.cnn_kernel(KOp::DwConv, fast)?;
            let y = self.write(i);
            self.steps.push(Step::DwConv {
                kernel,
                w,
                x,
                y,
                clamp,
            });
            self.report_node(i, kernel.name.into(), None);
        } else {
            // A full conv (groups = 1) or a grouped one: one dense conv per group, each reading
            // its channels' contiguous slice of x (C, H, W) and writing its own of y (CHW keeps
            // a group's channels together), with its rows of W (c_out, c_in/groups, kh, kw).
            let g = c.groups;
            if c.c_in % g != 0 || c.c_out % g != 0 {
                return Err(self.unsupported(
                    i,
                    format!(
                        " with {g} groups over {} input and {} output channels",
                        c.c_in, c.c_out
                    ),
                ));
            }
            let (cin, cout) = (c.c_in / g, c.c_out / g);
            let os = self.g.shape(node.output);
            let per_w = c.weight.len() / c.c_out;
            let kernel = self.cnn_kernel(KOp::Conv, fast)?;
            let y = self.write(i);
            for k in 0..g {
                let params = ConvParams::new(&node.name, cin, cout, xs.h, xs.w, win)?;
                let w = ConvWeights::pack(
                    &node.name,
                    &c.weight[k * cout * per_w..(k + 1) * cout * per_w],
                    Some(&c.bias[k * cout..(k + 1) * cout]),
                    params,
                )?;
                let x_k = Region {
                    off: x.off + k * cin * xs.h * xs.w,
                    len: cin * xs.h * xs.w,
                };
                let y_k = Region {
                    off: y.off + k * cout * os.h * os.w,
                    len: cout * os.h * os.w,
                };
                self.steps.push(Step::Conv {
                    kernel,
                    w,
                    x: x_k,
                    y: y_k,
                    clamp,
                });
            }
            self.report_node(i, kernel.name.into(), None);
        }
        Ok(())
    }

    /// Plans the data-movement step `params` (`x -> y`) on its table kernel, checking the
    /// params once here; returns the kernel.
    fn layout(&mut self, x: Region, y: Region, params: cnn::Layout) -> Result<&'static Kernel> {
        let op = match params {
            cnn::Layout::Copy { .. } => KOp::Copy,
            cnn::Layout::Pad { .. } => KOp::Pad,
            cnn::Layout::DepthToSpace { .. } => KOp::DepthToSpace,
            cnn::Layout::Resize { .. } => KOp::Resize,
            cnn::Layout::Slice { .. } => KOp::Slice,
            cnn::Layout::ToHwc { .. } => KOp::ToHwc,
            cnn::Layout::FromHwc { .. } => KOp::FromHwc,
        };
        let kernel = self.cnn_kernel(op, None)?;
        params.lens()?;
        self.steps.push(Step::Layout {
            kernel,
            params,
            x,
            y,
        });
        Ok(kernel)
    }

    /// The best kernel for `op` on this ISA: a fast path for the window if one exists, else
    /// the any-window one, falling back to lower ISAs.
    fn cnn_kernel(&self, op: KOp, window: Option<(usize, usize)>) -> Result<&'static Kernel> {
        let shape = window.map_or(KShape::Any, |(k, s)| KShape::Window(k, s));
        best(op, WType::F32, self.opts.isa, shape)
    }
}
