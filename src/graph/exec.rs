//! Runs a `Plan`: copy the input into the arena, run each step on its regions, return the
//! output region. No allocation, no decisions: those were made in `plan`.

use super::arena::split;
use super::plan::{Plan, PointwiseWeights, Step};
use super::split as threaded;
use crate::error::{Error, Result};
use crate::kernels::cnn::Layout;

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
            match w {
                PointwiseWeights::Sparse(l) => threaded::spmm(kernel, l, x, y, *clamp),
                PointwiseWeights::Dense(d) => threaded::gemm(kernel, d, *hw, x, y, *clamp),
            }
        }
        Step::DwConv {
            kernel,
            w,
            x,
            y,
            clamp,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            threaded::dwconv(kernel, w, x, y, *clamp)
        }
        Step::Conv {
            kernel,
            w,
            x,
            y,
            clamp,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            threaded::conv(kernel, w, x, y, *clamp)
        }
        Step::Act { kernel, act, x } => threaded::act(kernel, &mut arena[x.off..x.end()], *act),
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
            threaded::binary(kernel, a, b, y, *clamp)
        }
        Step::ChannelMul {
            kernel,
            x,
            s,
            y,
            hw,
        } => {
            let ([x, s], y) = split(arena, [*x, *s], *y);
            threaded::chmul(kernel, x, s, y, *hw)
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
            threaded::chmul(kernel, x, slope, y, *hw)
        }
    }
}
