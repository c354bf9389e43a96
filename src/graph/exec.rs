//! Runs a `Plan`: copy the input into the arena, run each step on its regions, return the
//! output region. No allocation, no decisions: those were made in `plan`.

use super::arena::split;
use super::plan::{Plan, PointwiseWeights, Step};
use super::reference::bilinear;
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

/// The kernel a step runs, or what the step does when it is plain Rust.
fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Pointwise { kernel, .. } => kernel.name,
        Step::DwConv { kernel, .. }
        | Step::Conv { kernel, .. }
        | Step::Act { kernel, .. }
        | Step::Binary { kernel, .. }
        | Step::ChannelMul { kernel, .. }
        | Step::Prelu { kernel, .. }
        | Step::GlobalAvgPool { kernel, .. }
        | Step::Pool { kernel, .. }
        | Step::Softmax { kernel, .. } => kernel.name,
        Step::Copy { .. } => "copy",
        Step::Affine { .. } => "affine",
        Step::Concat { .. } => "concat",
        Step::Pad { .. } => "pad",
        Step::DepthToSpace { .. } => "depth_to_space",
        Step::Resize { .. } => "resize_bilinear",
        Step::Slice { .. } => "slice",
        Step::ToHwc { .. } => "to_hwc",
        Step::FromHwc { .. } => "from_hwc",
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
        Step::Binary {
            kernel,
            a,
            b,
            y,
            clamp,
        } => {
            let ([a, b], y) = split(arena, [*a, *b], *y);
            kernel.run_binary(a, b, y, *clamp)
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
        Step::Prelu {
            kernel,
            slope,
            hw,
            x,
            y,
        } => {
            let ([x], y) = split(arena, [*x], *y);
            kernel.run_chmul(x, slope, y, *hw)
        }
        // The layout steps below are rare and cheap (a few per network, one pass over the
        // data), so they are plain loops rather than table kernels.
        Step::Pad { xs, pads, x, y } => {
            // x (C, H, W) -> y (C + c_lo + c_hi, OH, OW): zeros, then each input row in place.
            let ([x], y) = split(arena, [*x], *y);
            let [c_lo, top, left, _, bottom, right] = *pads;
            let (oh, ow) = (xs.h + top + bottom, xs.w + left + right);
            y.fill(0.0);
            for (row, src) in x.chunks_exact(xs.w).enumerate() {
                let (c, h) = (row / xs.h, row % xs.h);
                let at = ((c + c_lo) * oh + h + top) * ow + left;
                y[at..at + xs.w].copy_from_slice(src);
            }
            Ok(())
        }
        Step::DepthToSpace { xs, block, x, y } => {
            // x (C·b², H, W) -> y (C, H·b, W·b): input plane (i·b + j)·C + c fills the pixels
            // (h·b + i, w·b + j) of output channel c.
            let ([x], y) = split(arena, [*x], *y);
            let b = *block;
            let (oc, oh, ow) = (xs.c / (b * b), xs.h * b, xs.w * b);
            for (ic, plane) in x.chunks_exact(xs.hw()).enumerate() {
                let (c, i, j) = (ic % oc, ic / oc / b, ic / oc % b);
                for (h, src) in plane.chunks_exact(xs.w).enumerate() {
                    let out_row = &mut y[(c * oh + h * b + i) * ow..][..ow];
                    for (o, &v) in out_row[j..].iter_mut().step_by(b).zip(src) {
                        *o = v;
                    }
                }
            }
            Ok(())
        }
        Step::Resize {
            xs,
            rows,
            cols,
            x,
            y,
        } => {
            // x (C, H, W) -> y (C, OH, OW), OH = rows.len(), OW = cols.len()
            let ([x], y) = split(arena, [*x], *y);
            let out_plane = rows.len() * cols.len();
            for (plane, yc) in x.chunks_exact(xs.hw()).zip(y.chunks_exact_mut(out_plane)) {
                for (yrow, &(y0, y1, fy)) in yc.chunks_exact_mut(cols.len()).zip(rows) {
                    let r0 = &plane[y0 * xs.w..][..xs.w];
                    let r1 = &plane[y1 * xs.w..][..xs.w];
                    for (o, &(x0, x1, fx)) in yrow.iter_mut().zip(cols) {
                        *o = bilinear(r0[x0], r0[x1], r1[x0], r1[x1], fx, fy);
                    }
                }
            }
            Ok(())
        }
        Step::Slice {
            xs,
            begin,
            step,
            out,
            x,
            y,
        } => {
            // x (C, H, W) -> y (out): whole output rows at a time, strided along the input row.
            let ([x], y) = split(arena, [*x], *y);
            let mut yrows = y.chunks_exact_mut(out.w);
            for c in 0..out.c {
                let plane = begin[0] + c * step[0];
                for h in 0..out.h {
                    let row = &x[(plane * xs.h + begin[1] + h * step[1]) * xs.w..][..xs.w];
                    if let Some(yrow) = yrows.next() {
                        for (o, &v) in yrow.iter_mut().zip(row[begin[2]..].iter().step_by(step[2]))
                        {
                            *o = v;
                        }
                    }
                }
            }
            Ok(())
        }
        Step::ToHwc { xs, x, y } => {
            // x (C, H·W) -> y (H·W, C)
            let ([x], y) = split(arena, [*x], *y);
            for (c, plane) in x.chunks_exact(xs.hw()).enumerate() {
                for (p, &v) in plane.iter().enumerate() {
                    y[p * xs.c + c] = v;
                }
            }
            Ok(())
        }
        Step::FromHwc { ys, x, y } => {
            // x (H·W, C) -> y (C, H·W)
            let ([x], y) = split(arena, [*x], *y);
            for (p, px) in x.chunks_exact(ys.c).enumerate() {
                for (c, &v) in px.iter().enumerate() {
                    y[c * ys.hw() + p] = v;
                }
            }
            Ok(())
        }
    }
}
