//! Graph → Plan: every choice made once, at load time. Each node gets a kernel (dense or sparse
//! and the block width for 1x1 convs and FC layers, through the selector), packed weights, and
//! a region of one arena; conv/linear/add + ReLU/ReLU6 are fused into one step; views and
//! in-place activations share their input's region. `exec` then only runs the steps.

use super::analysis::{Analysis, Reuse};
use super::arena::{Allocator, Region};
use super::{Conv, Graph, Op, PoolKind, Shape, ValueId};
use crate::dense::DenseWeights;
use crate::error::{Error, Result};
use crate::kernels::cnn::{self, ConvParams, ConvWeights, DwConvParams, DwConvWeights, PoolParams};
use crate::kernels::registry::{cnn_registry, CnnKernelInfo, CnnOp};
use crate::kernels::{select, sparse_kernel, Choice, Clamp, Isa, KernelInfo, LayerStats};
use crate::sparse::{SpmmLayer, SpmmWeights};

/// Most floats one inference's arena may hold (512 MiB): refused at plan time rather than
/// failing an allocation, which would abort the page in wasm.
pub const MAX_ARENA: usize = 1 << 27;

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
        kernel: &'static KernelInfo,
        w: PointwiseWeights,
        hw: usize,
        x: Region,
        y: Region,
        clamp: Clamp,
    },
    DwConv {
        kernel: &'static CnnKernelInfo,
        w: DwConvWeights,
        x: Region,
        y: Region,
        clamp: Clamp,
    },
    Conv {
        kernel: &'static CnnKernelInfo,
        w: ConvWeights,
        x: Region,
        y: Region,
        clamp: Clamp,
    },
    /// In place over `x`.
    Act {
        kernel: &'static CnnKernelInfo,
        act: cnn::Activation,
        x: Region,
    },
    Copy {
        x: Region,
        y: Region,
    },
    /// `y[c, p] = x[c, p] · scale[c] + shift[c]`, `hw` pixels per channel
    Affine {
        scale: Vec<f32>,
        shift: Vec<f32>,
        hw: usize,
        x: Region,
        y: Region,
    },
    Add {
        kernel: &'static CnnKernelInfo,
        a: Region,
        b: Region,
        y: Region,
        clamp: Clamp,
    },
    /// Elementwise product of two same-shape tensors.
    Mul {
        a: Region,
        b: Region,
        y: Region,
    },
    /// `x (C, hw) · s (C) -> y (C, hw)`
    ChannelMul {
        kernel: &'static CnnKernelInfo,
        x: Region,
        s: Region,
        y: Region,
        hw: usize,
    },
    /// `x (C, hw) -> y (C)`
    GlobalAvgPool {
        kernel: &'static CnnKernelInfo,
        x: Region,
        y: Region,
        hw: usize,
    },
    Pool {
        kernel: &'static CnnKernelInfo,
        params: PoolParams,
        x: Region,
        y: Region,
    },
    Softmax {
        kernel: &'static CnnKernelInfo,
        x: Region,
        y: Region,
    },
    /// Channel blocks one after another.
    Concat {
        parts: Vec<Region>,
        y: Region,
    },
    /// `y[c, p] = x[c, p] ≥ 0 ? x[c, p] : slope[c]·x[c, p]`, `hw` pixels per channel
    Prelu {
        slope: Vec<f32>,
        hw: usize,
        x: Region,
        y: Region,
    },
    /// `a (n) − b (n) -> y (n)`
    Sub {
        a: Region,
        b: Region,
        y: Region,
    },
    /// `x (C, H, W) -> y (C + c_lo + c_hi, H + top + bottom, W + left + right)`, zeros around;
    /// `pads` as in `Op::Pad`
    Pad {
        xs: Shape,
        pads: [usize; 6],
        x: Region,
        y: Region,
    },
    /// `x (C·b², H, W) -> y (C, H·b, W·b)`, DCR channel order
    DepthToSpace {
        xs: Shape,
        block: usize,
        x: Region,
        y: Region,
    },
    /// `x (C, H, W) -> y (C, rows.len(), cols.len())`; the sample taps per output row and
    /// column, computed once here: (lower index, upper index, weight of the upper)
    Resize {
        xs: Shape,
        rows: Vec<Tap>,
        cols: Vec<Tap>,
        x: Region,
        y: Region,
    },
    /// `x (C, H, W) -> y (out)`, `y[c, h, w] = x[begin + (c, h, w)·step]`
    Slice {
        xs: Shape,
        begin: [usize; 3],
        step: [usize; 3],
        out: Shape,
        x: Region,
        y: Region,
    },
    /// `x (C, H, W) -> y (H·W·C)`
    ToHwc {
        xs: Shape,
        x: Region,
        y: Region,
    },
    /// `x (H·W·C) -> y (C, H, W)` = `ys`
    FromHwc {
        ys: Shape,
        x: Region,
        y: Region,
    },
}

/// One bilinear sample along an axis: (lower index, upper index, weight of the upper).
pub(crate) type Tap = (usize, usize, f32);

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
            return Err(Error::DimOutOfRange {
                tensor: g.name.clone(),
                what: "activation arena (floats)".into(),
                value: self.alloc.size() as u64,
                limit: format!("≤ {MAX_ARENA}"),
            });
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

    fn bad(&self, i: usize, detail: String) -> Error {
        let n = &self.g.nodes[i];
        Error::BadNode {
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
                let kernel = self.cnn_kernel(CnnOp::Act(act.kind()), None)?;
                // In place when the analysis gave the output its input's buffer; else copy
                // first.
                let target = if self.a.in_place_at(g, i) {
                    x
                } else {
                    let y = self.write(i);
                    self.steps.push(Step::Copy { x, y });
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
                let y = self.write(i);
                self.steps.push(Step::Affine {
                    scale: scale.clone(),
                    shift: shift.clone(),
                    hw: xs.hw(),
                    x,
                    y,
                });
                self.report_node(i, "affine (scalar)".into(), None);
            }
            Op::Add => {
                let kernel = self.cnn_kernel(CnnOp::Add, None)?;
                let b = self.read(node.inputs[1]);
                let y = self.write(i);
                self.steps.push(Step::Add {
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
                    self.steps.push(Step::Mul { a: x, b: s, y });
                    self.report_node(i, "mul (scalar)".into(), None);
                } else {
                    let kernel = self.cnn_kernel(CnnOp::ChannelMul, None)?;
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
                let kernel = self.cnn_kernel(CnnOp::GlobalAvgPool, None)?;
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
                    CnnOp::MaxPool
                } else {
                    CnnOp::AvgPool
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
                let kernel = self.cnn_kernel(CnnOp::Softmax, None)?;
                let y = self.write(i);
                self.steps.push(Step::Softmax { kernel, x, y });
                self.report_node(i, kernel.name.into(), None);
            }
            Op::Concat => {
                let parts = node.inputs.iter().map(|&v| self.read(v)).collect();
                let y = self.write(i);
                self.steps.push(Step::Concat { parts, y });
                self.report_node(i, "concat (copy)".into(), None);
            }
            Op::Prelu { slope } => {
                let y = self.write(i);
                self.steps.push(Step::Prelu {
                    slope: slope.clone(),
                    hw: xs.hw(),
                    x,
                    y,
                });
                self.report_node(i, "prelu (scalar)".into(), None);
            }
            Op::Sub => {
                let b = self.read(node.inputs[1]);
                let y = self.write(i);
                self.steps.push(Step::Sub { a: x, b, y });
                self.report_node(i, "sub (scalar)".into(), None);
            }
            Op::Pad { pads } => {
                let y = self.write(i);
                self.steps.push(Step::Pad {
                    xs,
                    pads: *pads,
                    x,
                    y,
                });
                self.report_node(i, "pad (copy)".into(), None);
            }
            Op::DepthToSpace { block } => {
                let y = self.write(i);
                self.steps.push(Step::DepthToSpace {
                    xs,
                    block: *block,
                    x,
                    y,
                });
                self.report_node(i, "depth_to_space (copy)".into(), None);
            }
            Op::ResizeBilinear(r) => {
                let (rows, cols) = (r.taps(xs.h, r.oh), r.taps(xs.w, r.ow));
                let y = self.write(i);
                self.steps.push(Step::Resize {
                    xs,
                    rows,
                    cols,
                    x,
                    y,
                });
                self.report_node(i, "resize_bilinear (scalar)".into(), None);
            }
            Op::Slice { begin, step, out } => {
                let y = self.write(i);
                self.steps.push(Step::Slice {
                    xs,
                    begin: *begin,
                    step: *step,
                    out: *out,
                    x,
                    y,
                });
                self.report_node(i, "slice (copy)".into(), None);
            }
            Op::ToHwc => {
                let y = self.write(i);
                self.steps.push(Step::ToHwc { xs, x, y });
                self.report_node(i, "to_hwc (copy)".into(), None);
            }
            Op::FromHwc(ys) => {
                let y = self.write(i);
                self.steps.push(Step::FromHwc { ys: *ys, x, y });
                self.report_node(i, "from_hwc (copy)".into(), None);
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
                    SpmmWeights::pack(&name, w, Some(b), c_out, c_in, k.nr)?.bind(hw)?,
                ),
            ),
            Choice::Dense(k) => (
                k,
                PointwiseWeights::Dense(DenseWeights::pack(&name, w, Some(b), c_out, c_in, k.nr)?),
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

    /// Depthwise or full (stem) conv; grouped convs in between are not supported.
    fn conv(&mut self, i: usize, c: &Conv, x: Region, clamp: Clamp) -> Result<()> {
        let node = &self.g.nodes[i];
        let xs = self.g.shape(node.inputs[0]);
        let win = c.window();
        let fast = (c.kh == c.kw && c.stride[0] == c.stride[1] && c.dilation == [1, 1])
            .then_some((c.kh, c.stride[0]));
        if c.is_depthwise() {
            let params = DwConvParams::new(&node.name, c.c_in, xs.h, xs.w, win)?;
            let w = DwConvWeights::pack(&node.name, &c.weight, Some(&c.bias), params)?;
            let kernel = self.cnn_kernel(CnnOp::DwConv, fast)?;
            let y = self.write(i);
            self.steps.push(Step::DwConv {
                kernel,
                w,
                x,
                y,
                clamp,
            });
            self.report_node(i, kernel.name.into(), None);
        } else if c.groups == 1 {
            let params = ConvParams::new(&node.name, c.c_in, c.c_out, xs.h, xs.w, win)?;
            let w = ConvWeights::pack(&node.name, &c.weight, Some(&c.bias), params)?;
            let kernel = self.cnn_kernel(CnnOp::Conv, fast)?;
            let y = self.write(i);
            self.steps.push(Step::Conv {
                kernel,
                w,
                x,
                y,
                clamp,
            });
            self.report_node(i, kernel.name.into(), None);
        } else {
            return Err(self.bad(
                i,
                format!(
                    "grouped conv with {} groups (only 1 or depthwise) is not supported",
                    c.groups
                ),
            ));
        }
        Ok(())
    }

    /// The best kernel for `op` on this ISA: a fast path for the window if one exists, else
    /// the any-window one, falling back to scalar.
    fn cnn_kernel(
        &self,
        op: CnnOp,
        window: Option<(usize, usize)>,
    ) -> Result<&'static CnnKernelInfo> {
        let isa = self.opts.isa;
        let rank = |k: &CnnKernelInfo| {
            let isa_rank = if k.isa == isa {
                0
            } else if k.isa == Isa::Simd128 && isa == Isa::Relaxed {
                1
            } else {
                2
            };
            let win_rank = if k.window.is_some() { 0 } else { 1 };
            (isa_rank, win_rank)
        };
        cnn_registry()
            .iter()
            .filter(|k| k.op == op && k.isa <= isa && (k.window.is_none() || k.window == window))
            .min_by_key(|k| rank(k))
            .ok_or_else(|| Error::UnknownKernel {
                name: format!("{op:?} for {}", isa.as_str()),
            })
    }
}
