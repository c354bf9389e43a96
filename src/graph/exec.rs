//! Runs a `Plan`: copy the input into the arena, run each step on its regions, return the
//! output region. No allocation, no decisions: those were made in `plan`.

use super::arena::split;
use super::plan::{Plan, PointwiseWeights, Step};
use crate::error::{Error, Result};
use crate::kernels::cnn::Layout;
use crate::par::{self, Disjoint};

/// A plan plus the one arena its inferences reuse.
#[derive(Debug)]
pub struct Session {
    plan: Plan,
    /// (plan.arena_len,) every activation of the network, regions assigned by the plan
    arena: Vec<f32>,
}

impl Session {
    pub fn new(plan: Plan) -> Session {
        let arena = vec![0.0; plan.arena_len];
        Session { plan, arena }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// `input (C, H, W)` → output tensor (a slice of the arena, valid until the next run).
    pub fn run(&mut self, input: &[f32]) -> Result<&[f32]> {
        self.load_input(input)?;
        for step in &self.plan.steps {
            run_step(step, &mut self.arena)?;
        }
        let outr = self.plan.output;
        Ok(&self.arena[outr.off..outr.end()])
    }

    /// One inference timed step by step with `clock` (milliseconds): `(step name, ms)` per
    /// step, in order. The engine has no clock of its own (wasm has none without JS).
    pub fn profile(
        &mut self,
        input: &[f32],
        clock: &mut dyn FnMut() -> f64,
    ) -> Result<Vec<(&'static str, f64)>> {
        self.load_input(input)?;
        let mut out = Vec::with_capacity(self.plan.steps.len());
        for step in &self.plan.steps {
            let t0 = clock();
            run_step(step, &mut self.arena)?;
            out.push((step_name(step), clock() - t0));
        }
        Ok(out)
    }

    fn load_input(&mut self, input: &[f32]) -> Result<()> {
        let inr = self.plan.input;
        if input.len() != inr.len {
            return Err(Error::ShapeMismatch {
                tensor: "input".into(),
                what: format!("image {}", self.plan.input_shape()),
                expected: inr.len,
                got: input.len(),
            });
        }
        self.arena[inr.off..inr.end()].copy_from_slice(input);
        Ok(())
    }
}

/// The table kernel a step runs (every step runs one).
fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Pointwise { kernel, .. }
        | Step::DwConv { kernel, .. }
        | Step::Conv { kernel, .. }
        | Step::Act { kernel, .. }
        | Step::Binary { kernel, .. }
        | Step::ChannelMul { kernel, .. }
        | Step::Prelu { kernel, .. }
        | Step::Layout { kernel, .. }
        | Step::Affine { kernel, .. }
        | Step::Concat { kernel, .. }
        | Step::GlobalAvgPool { kernel, .. }
        | Step::Pool { kernel, .. }
        | Step::Softmax { kernel, .. } => kernel.name,
    }
}

/// Multiply-adds (or elements, for elementwise ops) under which a step runs on one thread:
/// handing a task to a worker costs about 1–3 µs in a browser (a published job and a counter;
/// workers spin between steps), and 64 K multiply-adds take about 8 µs on one SIMD128 core.
/// Measured by `bench/threads.mjs`' threshold sweep (README, Threads).
pub const MIN_TASK_MACS: usize = 64 * 1024;
/// Elementwise ops move memory more than they compute: a task is worth it from 32 K elements.
pub const MIN_TASK_ELEMS: usize = 32 * 1024;

/// Pixel-range splits of a 1x1 product start at multiples of this: the SIMD tiles are 4·k
/// pixels, and only the last 1–3 pixels of a row take the scalar tile, on any split, so every
/// pixel is computed by the same instructions whatever the thread count.
const PIXEL_ALIGN: usize = 4;

fn run_step(step: &Step, arena: &mut [f32]) -> Result<()> {
    match step {
        Step::Pointwise {
            kernel,
            w,
            hw,
            x,
            y,
            clamp,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            let (macs, hw) = match w {
                PointwiseWeights::Sparse(l) => (l.stored_weights() * hw, *hw),
                PointwiseWeights::Dense(d) => (d.shape().c_out * d.shape().c_in * hw, *hw),
            };
            let tasks = par::tasks_for(macs, MIN_TASK_MACS)
                .min(hw / PIXEL_ALIGN)
                .max(1);
            let y = Disjoint::new(y);
            par::try_for_tasks(tasks, &|i| {
                let px = par::part(i, tasks, hw, PIXEL_ALIGN);
                // Safety: each task writes the pixels `px` of every output row only.
                let y = unsafe { y.get() };
                match w {
                    PointwiseWeights::Sparse(l) => kernel.run_spmm(l, x, y, *clamp, px),
                    PointwiseWeights::Dense(d) => kernel.run_gemm(d, hw, x, y, *clamp, px),
                }
            })
        }
        Step::DwConv {
            kernel,
            w,
            x,
            y,
            clamp,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            let p = w.params();
            let win = p.geometry().window();
            let macs = p.output_len() * win.kh * win.kw;
            let tasks = par::tasks_for(macs, MIN_TASK_MACS);
            let y = Disjoint::new(y);
            par::try_for_tasks(tasks, &|i| {
                let ch = par::part(i, tasks, p.channels(), 1);
                // Safety: each task writes the planes of its channels only.
                kernel.run_dwconv(w, x, unsafe { y.get() }, *clamp, ch)
            })
        }
        Step::Conv {
            kernel,
            w,
            x,
            y,
            clamp,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            let p = w.params();
            let win = p.geometry().window();
            let macs = p.output_len() * p.c_in() * win.kh * win.kw;
            let tasks = par::tasks_for(macs, MIN_TASK_MACS);
            let y = Disjoint::new(y);
            par::try_for_tasks(tasks, &|i| {
                let ch = par::part(i, tasks, p.c_out(), 1);
                // Safety: each task writes the planes of its output channels only.
                kernel.run_conv(w, x, unsafe { y.get() }, *clamp, ch)
            })
        }
        Step::Act { kernel, act, x } => {
            let x = &mut arena[x.off..x.end()];
            let n = x.len();
            let tasks = par::tasks_for(n, MIN_TASK_ELEMS);
            let x = Disjoint::new(x);
            par::try_for_tasks(tasks, &|i| {
                // Safety: each task owns its part of `x`.
                let x = unsafe { x.get() };
                kernel.run_act(&mut x[par::part(i, tasks, n, 4)], *act)
            })
        }
        Step::Layout {
            kernel,
            params,
            x,
            y,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_layout(params, x, y)
        }
        Step::Affine {
            kernel,
            scale,
            shift,
            hw,
            x,
            y,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_affine(x, scale, shift, y, *hw)
        }
        Step::Binary {
            kernel,
            a,
            b,
            y,
            clamp,
        } => {
            let ([a, b], y) = split(arena, [*a, *b], *y);
            let n = y.len();
            let tasks = par::tasks_for(n, MIN_TASK_ELEMS);
            let y = Disjoint::new(y);
            par::try_for_tasks(tasks, &|i| {
                let r = par::part(i, tasks, n, 4);
                // Safety: each task owns its part of `y`.
                let y = unsafe { y.get() };
                kernel.run_binary(&a[r.clone()], &b[r.clone()], &mut y[r], *clamp)
            })
        }
        Step::ChannelMul {
            kernel,
            x,
            s,
            y,
            hw,
        } => {
            let ([x, s], y) = split(arena, [*x, *s], *y);
            by_channels(s.len(), *hw, y, &|ch, y| {
                kernel.run_chmul_channels(x, s, y, *hw, ch)
            })
        }
        Step::GlobalAvgPool { kernel, x, y, hw } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_gavgpool(x, y, *hw)
        }
        Step::Pool {
            kernel,
            params,
            x,
            y,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_pool(params, x, y)
        }
        Step::Softmax { kernel, x, y } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_softmax(x, y)
        }
        Step::Concat { kernel, parts, y } => {
            let mut at = 0;
            for p in parts {
                let ([x], y) = split(arena, [*p], *y);
                kernel.run_layout(&Layout::Copy { n: p.len }, x, &mut y[at..])?;
                at += p.len;
            }
            Ok(())
        }
        Step::Prelu {
            kernel,
            slope,
            hw,
            x,
            y,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            by_channels(slope.len(), *hw, y, &|ch, y| {
                kernel.run_chmul_channels(x, slope, y, *hw, ch)
            })
        }
    }
}

/// A per-channel op on `channels` of its output `y (C, hw)`.
type ChannelTask<'a> = dyn Fn(std::ops::Range<usize>, &mut [f32]) -> Result<()> + Sync + 'a;

/// `f(channels, y)` over channel parts of `y (C, hw)`, on as many threads as `C · hw` elements
/// are worth; `f` writes the planes of its channels only.
fn by_channels(
    c: usize,
    hw: usize,
    y: &mut [f32],
    f: &ChannelTask<'_>,
) -> Result<()> {
    let tasks = par::tasks_for(c * hw, MIN_TASK_ELEMS);
    let y = Disjoint::new(y);
    // Safety: each task writes the planes of its channels only.
    par::try_for_tasks(tasks, &|i| f(par::part(i, tasks, c, 1), unsafe { y.get() }))
}
