//! Runs a `Plan`: copy the input into the arena, run each step on its regions, return the
//! output region. No allocation, no decisions: those were made in `plan`.

use super::arena::split;
use super::plan::{Plan, PointwiseWeights, Step};
use crate::error::{Error, Result};

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
        let (inr, outr) = (self.plan.input, self.plan.output);
        if input.len() != inr.len {
            return Err(Error::ShapeMismatch {
                tensor: "input".into(),
                what: format!("image {}", self.plan.input_shape()),
                expected: inr.len,
                got: input.len(),
            });
        }
        self.arena[inr.off..inr.end()].copy_from_slice(input);
        for step in &self.plan.steps {
            run_step(step, &mut self.arena)?;
        }
        Ok(&self.arena[outr.off..outr.end()])
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
                PointwiseWeights::Sparse(l) => kernel.run_spmm(l, x, y, *clamp, 0..*hw),
                PointwiseWeights::Dense(d) => kernel.run_gemm(d, *hw, x, y, *clamp, 0..*hw),
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
            kernel.run_dwconv(w, x, y, *clamp, 0..w.params().channels())
        }
        Step::Conv {
            kernel,
            w,
            x,
            y,
            clamp,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_conv(w, x, y, *clamp, 0..w.params().c_out())
        }
        Step::Act { kernel, act, x } => kernel.run_act(&mut arena[x.off..x.end()], *act),
        Step::Copy { x, y } => {
            arena.copy_within(x.off..x.end(), y.off);
            Ok(())
        }
        Step::Affine {
            scale,
            shift,
            hw,
            x,
            y,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            for (c, (xc, yc)) in x.chunks_exact(*hw).zip(y.chunks_exact_mut(*hw)).enumerate() {
                yc.iter_mut()
                    .zip(xc)
                    .for_each(|(o, &v)| *o = v * scale[c] + shift[c]);
            }
            Ok(())
        }
        Step::Add {
            kernel,
            a,
            b,
            y,
            clamp,
        } => {
            let ([a, b], y) = split(arena, [*a, *b], *y);
            kernel.run_add(a, b, y, *clamp)
        }
        Step::Mul { a, b, y } => {
            let ([a, b], y) = split(arena, [*a, *b], *y);
            y.iter_mut()
                .zip(a.iter().zip(b))
                .for_each(|(o, (p, q))| *o = p * q);
            Ok(())
        }
        Step::ChannelMul {
            kernel,
            x,
            s,
            y,
            hw,
        } => {
            let ([x, s], y) = split(arena, [*x, *s], *y);
            kernel.run_chmul(x, s, y, *hw)
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
        Step::Concat { parts, y } => {
            let mut at = y.off;
            for p in parts {
                arena.copy_within(p.off..p.end(), at);
                at += p.len;
            }
            Ok(())
        }
    }
}
