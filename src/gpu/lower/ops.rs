//! Lowering of each op: which shader, its override constants, uniform words, weights and
//! dispatch grid. Every size that reaches a shader is checked to fit a u32 and the device.

use super::{Data, Lowerer, Pointwise, Slot, SPARSE_MIN_ZEROS, SPMM_SHAPES};
use crate::error::Result;
use crate::gpu::pack::{dense_weights, CsrWeights};
use crate::gpu::shaders;
use crate::graph::{Activation, Conv, Op, PoolKind, Shape};
use crate::kernels::cnn::{ConvParams, DwConvParams, PoolParams, Window};
use crate::kernels::Clamp;

impl Lowerer<'_> {
    /// Lowers node `i` (neither fused nor a view) into its step(s).
    pub(super) fn node(&mut self, i: usize) -> Result<()> {
        let g = self.g;
        let node = &g.nodes[i];
        let xs = g.shape(node.inputs[0]);
        let x = self.slot_of(node.inputs[0])?;
        let clamp = self.a.clamp[i];
        let n = self.u(i, "elements", xs.len())?;
        match &node.op {
            Op::Conv(c) if c.is_pointwise() => {
                self.pointwise(i, &c.weight, &c.bias, c.c_out, c.c_in, xs.hw(), x, clamp)
            }
            Op::Linear {
                c_out,
                c_in,
                weight,
                bias,
            } => self.pointwise(i, weight, bias, *c_out, *c_in, 1, x, clamp),
            Op::Conv(c) if c.is_depthwise() => self.dwconv(i, c, xs, x, clamp),
            Op::Conv(c) if c.groups == 1 => self.conv(i, c, xs, x, clamp),
            Op::Conv(c) => Err(self.unsupported(i, &format!("grouped conv, {} groups", c.groups))),
            Op::Act(a) => {
                // (ACT of unary.wgsl, its two parameters, name)
                let (act, pa, pb, name) = match *a {
                    Activation::Relu => (0, 0.0, 0.0, "relu"),
                    Activation::Clip { min, max } => (1, min, max, "clip"),
                    Activation::HardSigmoid { alpha, beta } => (2, alpha, beta, "hardsigmoid"),
                    Activation::HardSwish => (3, 0.0, 0.0, "hardswish"),
                    Activation::Sigmoid => (4, 0.0, 0.0, "sigmoid"),
                    Activation::Tanh => (5, 0.0, 0.0, "tanh"),
                    Activation::LeakyRelu { alpha } => (6, alpha, 0.0, "leaky_relu"),
                };
                let groups = self.grid(i, xs.len(), 256, 1)?;
                let params = [n, pa.to_bits(), pb.to_bits()];
                let consts = vec![("ACT", act as f64)];
                self.push(i, shaders::UNARY, consts, &params, vec![x], vec![], groups)?;
                self.report_node(i, format!("unary_{name}"), None);
                Ok(())
            }
            Op::ChannelAffine { scale, shift } => {
                let w = Data::F32(scale.iter().chain(shift).copied().collect());
                self.channel(i, xs, x, false, w)
            }
            Op::Prelu { slope } => self.channel(i, xs, x, true, Data::F32(slope.clone())),
            Op::Add | Op::Sub | Op::Mul => {
                let b = self.slot_of(node.inputs[1])?;
                let bs = g.shape(node.inputs[1]);
                let (op, name) = match node.op {
                    Op::Add => (0, "add"),
                    Op::Sub => (1, "sub"),
                    _ if bs == xs => (2, "mul"),
                    _ => (3, "channel_mul"),
                };
                let groups = self.grid(i, xs.len(), 256, 1)?;
                let hw = self.u(i, "H·W", xs.hw())?;
                let params = [n, hw, clamp.min.to_bits(), clamp.max.to_bits()];
                let consts = vec![("OP", op as f64)];
                self.push(
                    i,
                    shaders::BINARY,
                    consts,
                    &params,
                    vec![x, b],
                    vec![],
                    groups,
                )?;
                self.report_node(i, format!("binary_{name}"), None);
                Ok(())
            }
            Op::GlobalAvgPool => {
                let groups = self.grid(i, xs.c, 1, 1)?;
                let params = [self.u(i, "C", xs.c)?, self.u(i, "H·W", xs.hw())?];
                self.push(
                    i,
                    shaders::GLOBAL_AVG_POOL,
                    vec![],
                    &params,
                    vec![x],
                    vec![],
                    groups,
                )?;
                self.report_node(i, "global_avg_pool_64".into(), None);
                Ok(())
            }
            Op::Pool {
                kind,
                kh,
                kw,
                stride,
                pads,
            } => {
                let win = Window::new(*kh, *kw, stride[0], stride[1])
                    .pads(pads[0], pads[1], pads[2], pads[3]);
                let pp = PoolParams::new(&node.name, xs.c, xs.h, xs.w, win)?;
                let geo = pp.geometry();
                let (oh, ow) = (geo.oh(), geo.ow());
                let groups = self.grid(i, oh * ow, 64, xs.c)?;
                let dims = [
                    xs.c, xs.h, xs.w, oh, ow, *kh, *kw, stride[0], stride[1], pads[0], pads[1],
                ];
                let params = self.words(i, &dims)?;
                let max = *kind == PoolKind::Max;
                let consts = vec![("MAX", if max { 1.0 } else { 0.0 })];
                self.push(i, shaders::POOL, consts, &params, vec![x], vec![], groups)?;
                let name = if max { "max" } else { "avg" };
                self.report_node(i, format!("pool_{name}_{kh}x{kw}"), None);
                Ok(())
            }
            Op::Softmax => {
                self.push(
                    i,
                    shaders::SOFTMAX,
                    vec![],
                    &[n],
                    vec![x],
                    vec![],
                    [1, 1, 1],
                )?;
                self.report_node(i, "softmax_256".into(), None);
                Ok(())
            }
            Op::Concat => {
                let mut at = 0usize;
                for &v in &node.inputs {
                    let part = self.slot_of(v)?;
                    let len = g.shape(v).len();
                    let groups = self.grid(i, len, 256, 1)?;
                    let params = [self.u(i, "part", len)?, self.u(i, "offset", at)?];
                    self.push(
                        i,
                        shaders::COPY,
                        vec![],
                        &params,
                        vec![part],
                        vec![],
                        groups,
                    )?;
                    at += len;
                }
                self.report_node(i, format!("copy ×{}", node.inputs.len()), None);
                Ok(())
            }
            // Views never get here (`run` shares their source's buffer).
            Op::View(_) => Ok(()),
            Op::ToHwc | Op::FromHwc(_) => Err(self.unsupported(i, "HWC re-layout")),
            Op::Pad { .. } => Err(self.unsupported(i, "no pad shader")),
            Op::DepthToSpace { .. } => Err(self.unsupported(i, "no depth-to-space shader")),
            Op::ResizeBilinear { .. } => Err(self.unsupported(i, "no resize shader")),
            Op::Slice { .. } => Err(self.unsupported(i, "no slice shader")),
        }
    }

    /// `dims` as u32 words, each checked.
    fn words(&self, i: usize, dims: &[usize]) -> Result<Vec<u32>> {
        dims.iter().map(|&d| self.u(i, "dimension", d)).collect()
    }

    /// A 1x1 conv or FC layer: `W (m, k) @ X (k, n) + b`, dense or sparse.
    #[allow(clippy::too_many_arguments)]
    fn pointwise(
        &mut self,
        i: usize,
        w: &[f32],
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
        x: Slot,
        clamp: Clamp,
    ) -> Result<()> {
        let name = self.g.nodes[i].name.clone();
        let zeros = w.iter().filter(|&&v| v == 0.0).count() as f64 / w.len().max(1) as f64;
        let sparse = match self.opts.pointwise {
            Pointwise::Auto => zeros >= SPARSE_MIN_ZEROS,
            Pointwise::Dense => false,
            Pointwise::Sparse => true,
        };
        let (lo, hi) = (clamp.min.to_bits(), clamp.max.to_bits());
        let (mu, ku, nu) = (
            self.u(i, "c_out", m)?,
            self.u(i, "c_in", k)?,
            self.u(i, "H·W", n)?,
        );
        if sparse {
            let csr = CsrWeights::pack(&name, w, b, m, k)?;
            let (lanes, rows) = spmm_shape(n);
            let groups = [
                self.dim(i, "pixel tiles", n.div_ceil(4 * lanes as usize))?,
                self.dim(i, "row groups", m.div_ceil(rows as usize))?,
                1,
            ];
            let params = [
                mu,
                nu,
                self.u(i, "row_ptr offset", csr.ptr_off())?,
                self.u(i, "col offset", csr.col_off())?,
                lo,
                hi,
            ];
            let consts = vec![("LANES", lanes as f64), ("ROWS", rows as f64)];
            let weights = vec![Data::U32(csr.idx), Data::F32(csr.wts)];
            self.push(i, shaders::SPMM, consts, &params, vec![x], weights, groups)?;
            self.report_node(i, format!("spmm_csr_{lanes}x{rows}"), Some(zeros));
        } else {
            let groups = [
                self.dim(i, "pixel tiles", n.div_ceil(64))?,
                self.dim(i, "row tiles", m.div_ceil(64))?,
                1,
            ];
            let params = [mu, ku, nu, lo, hi];
            let weights = vec![Data::F32(dense_weights(w, b))];
            self.push(i, shaders::GEMM, vec![], &params, vec![x], weights, groups)?;
            self.report_node(i, "gemm_64x64".into(), Some(zeros));
        }
        Ok(())
    }

    fn dwconv(&mut self, i: usize, c: &Conv, xs: Shape, x: Slot, clamp: Clamp) -> Result<()> {
        let name = &self.g.nodes[i].name;
        let win = window(c);
        let geo = *DwConvParams::new(name, c.c_in, xs.h, xs.w, win)?.geometry();
        let (oh, ow) = (geo.oh(), geo.ow());
        let groups = self.grid(i, oh * ow, 64, c.c_in)?;
        let dims = [
            c.c_in,
            xs.h,
            xs.w,
            oh,
            ow,
            c.pads[0],
            c.pads[1],
            c.dilation[0],
            c.dilation[1],
        ];
        let mut params = self.words(i, &dims)?;
        params.extend([clamp.min.to_bits(), clamp.max.to_bits()]);
        let consts = vec![
            ("KH", c.kh as f64),
            ("KW", c.kw as f64),
            ("SH", c.stride[0] as f64),
            ("SW", c.stride[1] as f64),
        ];
        let weights = vec![Data::F32(dense_weights(&c.weight, &c.bias))];
        self.push(
            i,
            shaders::DWCONV,
            consts,
            &params,
            vec![x],
            weights,
            groups,
        )?;
        let kernel = format!("dwconv_{}x{}_s{}", c.kh, c.kw, c.stride[0]);
        self.report_node(i, kernel, None);
        Ok(())
    }

    fn conv(&mut self, i: usize, c: &Conv, xs: Shape, x: Slot, clamp: Clamp) -> Result<()> {
        let name = &self.g.nodes[i].name;
        let win = window(c);
        let geo = *ConvParams::new(name, c.c_in, c.c_out, xs.h, xs.w, win)?.geometry();
        let (oh, ow) = (geo.oh(), geo.ow());
        let groups = self.grid(i, oh * ow, 64, c.c_out)?;
        let dims = [
            c.c_in,
            xs.h,
            xs.w,
            oh,
            ow,
            c.kh,
            c.kw,
            c.stride[0],
            c.stride[1],
            c.dilation[0],
            c.dilation[1],
            c.pads[0],
            c.pads[1],
        ];
        let mut params = self.words(i, &dims)?;
        params.extend([
            clamp.min.to_bits(),
            clamp.max.to_bits(),
            self.u(i, "c_out", c.c_out)?,
        ]);
        let weights = vec![Data::F32(dense_weights(&c.weight, &c.bias))];
        self.push(i, shaders::CONV, vec![], &params, vec![x], weights, groups)?;
        let kernel = format!("conv_{}x{}_s{}", c.kh, c.kw, c.stride[0]);
        self.report_node(i, kernel, None);
        Ok(())
    }

    fn channel(&mut self, i: usize, xs: Shape, x: Slot, prelu: bool, w: Data) -> Result<()> {
        let groups = self.grid(i, xs.len(), 256, 1)?;
        let params = self.words(i, &[xs.len(), xs.hw(), xs.c])?;
        let consts = vec![("PRELU", if prelu { 1.0 } else { 0.0 })];
        self.push(
            i,
            shaders::CHANNEL,
            consts,
            &params,
            vec![x],
            vec![w],
            groups,
        )?;
        let kernel = if prelu {
            "channel_prelu"
        } else {
            "channel_affine"
        };
        self.report_node(i, kernel.into(), None);
        Ok(())
    }
}

/// The narrowest `SPMM_SHAPES` entry whose LANES·4 pixels cover `n` (64 lanes past 256).
pub(super) fn spmm_shape(n: usize) -> (u32, u32) {
    SPMM_SHAPES
        .iter()
        .rev()
        .find(|&&(lanes, _)| 4 * lanes as usize >= n)
        .copied()
        .unwrap_or(SPMM_SHAPES[0])
}

fn window(c: &Conv) -> Window {
    Window::new(c.kh, c.kw, c.stride[0], c.stride[1])
        .pads(c.pads[0], c.pads[1], c.pads[2], c.pads[3])
        .dilation(c.dilation[0], c.dilation[1])
}
