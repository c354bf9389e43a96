//! Lowering of each op: which shader, its override constants, uniform words, weights and
//! dispatch grid. Every size that reaches a shader is checked to fit a u32 and the device.

use super::{Data, Lowerer, Pointwise, Slot, SPARSE_MIN_ZEROS, SPMM_SHAPES};
use crate::error::Result;
use crate::gpu::pack::{dense_weights, CsrWeights};
use crate::gpu::shaders::{self, Binary};
use crate::graph::{Conv, Matrix, Op, PoolKind, Shape};
use crate::kernels::cnn::{self, ConvParams, DwConvParams, PoolParams};
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
                let m = Matrix::new(&c.weight, &c.bias, c.c_out, c.c_in);
                self.pointwise(i, m, xs.hw(), x, clamp)
            }
            Op::Linear(l) => {
                let m = Matrix::new(&l.weight, &l.bias, l.c_out, l.c_in);
                self.pointwise(i, m, 1, x, clamp)
            }
            Op::Conv(c) if c.is_depthwise() || c.groups == 1 => self.conv(i, c, xs, x, clamp),
            Op::Conv(c) => Err(self.unsupported(i, &format!("grouped conv, {} groups", c.groups))),
            Op::Act(a) => {
                // The kernels' form (ReLU is a clamp), and unary.wgsl's two parameters.
                let act = cnn::Activation::from(*a);
                let (pa, pb) = match act {
                    cnn::Activation::Clamp(c) => (c.min, c.max),
                    cnn::Activation::HardSigmoid { alpha, beta } => (alpha, beta),
                    cnn::Activation::LeakyRelu { alpha } => (alpha, 0.0),
                    _ => (0.0, 0.0),
                };
                let groups = self.grid(i, xs.len(), 256, 1)?;
                let params = [n, pa.to_bits(), pb.to_bits()];
                let p = shaders::unary(act.kind());
                self.push(i, p, &params, vec![x], vec![], groups, None)
            }
            Op::ChannelAffine { scale, shift } => {
                let w = Data::F32(scale.iter().chain(shift).copied().collect());
                self.channel(i, xs, x, false, w)
            }
            Op::Prelu { slope } => self.channel(i, xs, x, true, Data::F32(slope.clone())),
            Op::Add | Op::Sub | Op::Mul => {
                let b = self.slot_of(node.inputs[1])?;
                let bs = g.shape(node.inputs[1]);
                let op = match node.op {
                    Op::Add => Binary::Add,
                    Op::Sub => Binary::Sub,
                    _ if bs == xs => Binary::Mul,
                    _ => Binary::ChMul,
                };
                let groups = self.grid(i, xs.len(), 256, 1)?;
                let hw = self.u(i, "H·W", xs.hw())?;
                let params = [n, hw, clamp.min.to_bits(), clamp.max.to_bits()];
                let p = shaders::binary(op);
                self.push(i, p, &params, vec![x, b], vec![], groups, None)
            }
            Op::GlobalAvgPool => {
                let groups = self.grid(i, xs.c, 1, 1)?;
                let params = [self.u(i, "C", xs.c)?, self.u(i, "H·W", xs.hw())?];
                let p = shaders::gavgpool();
                self.push(i, p, &params, vec![x], vec![], groups, None)
            }
            Op::Pool(p) => {
                let pp = PoolParams::new(&node.name, xs.c, xs.h, xs.w, p.window())?;
                let geo = pp.geometry();
                let (oh, ow) = (geo.oh(), geo.ow());
                let groups = self.grid(i, oh * ow, 64, xs.c)?;
                let dims = [
                    xs.c,
                    xs.h,
                    xs.w,
                    oh,
                    ow,
                    p.kh,
                    p.kw,
                    p.stride[0],
                    p.stride[1],
                    p.pads[0],
                    p.pads[1],
                ];
                let params = self.words(i, &dims)?;
                let p = shaders::pool(p.kind == PoolKind::Max);
                self.push(i, p, &params, vec![x], vec![], groups, None)
            }
            Op::Softmax => {
                let p = shaders::softmax();
                self.push(i, p, &[n], vec![x], vec![], [1, 1, 1], None)
            }
            Op::Concat => {
                let mut at = 0usize;
                for &v in &node.inputs {
                    let part = self.slot_of(v)?;
                    let len = g.shape(v).len();
                    let groups = self.grid(i, len, 256, 1)?;
                    let params = [self.u(i, "part", len)?, self.u(i, "offset", at)?];
                    // The first part's dispatch reports the node.
                    let p = shaders::copy();
                    self.push(i, p, &params, vec![part], vec![], groups, None)?;
                    at += len;
                }
                Ok(())
            }
            // Views never get here (`run` shares their source's buffer).
            Op::View(_) => Ok(()),
            Op::ToHwc | Op::FromHwc(_) => Err(self.unsupported(i, "HWC re-layout")),
            Op::Pad { .. } => Err(self.unsupported(i, "no pad shader")),
            Op::DepthToSpace { .. } => Err(self.unsupported(i, "no depth-to-space shader")),
            Op::ResizeBilinear(_) => Err(self.unsupported(i, "no resize shader")),
            Op::Slice { .. } => Err(self.unsupported(i, "no slice shader")),
        }
    }

    /// `dims` as u32 words, each checked.
    fn words(&self, i: usize, dims: &[usize]) -> Result<Vec<u32>> {
        dims.iter().map(|&d| self.u(i, "dimension", d)).collect()
    }

    /// A 1x1 conv or FC layer: `W (m, k) @ X (k, n) + b`, dense or sparse.
    fn pointwise(&mut self, i: usize, mat: Matrix, n: usize, x: Slot, clamp: Clamp) -> Result<()> {
        let Matrix { w, b, .. } = mat;
        let (m, k) = (mat.c_out, mat.c_in);
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
            let weights = vec![Data::U32(csr.idx), Data::F32(csr.wts)];
            let p = shaders::spmm(lanes, rows);
            self.push(i, p, &params, vec![x], weights, groups, Some(zeros))?;
        } else {
            let groups = [
                self.dim(i, "pixel tiles", n.div_ceil(64))?,
                self.dim(i, "row tiles", m.div_ceil(64))?,
                1,
            ];
            let params = [mu, ku, nu, lo, hi];
            let weights = vec![Data::F32(dense_weights(w, b))];
            self.push(
                i,
                shaders::gemm(),
                &params,
                vec![x],
                weights,
                groups,
                Some(zeros),
            )?;
        }
        Ok(())
    }

    /// A depthwise (`c_out = c_in`, window specialised by overrides) or full conv (window in
    /// the uniforms); either runs 64 output pixels of one output channel per workgroup. The
    /// CPU params check the window and give the output size.
    fn conv(&mut self, i: usize, c: &Conv, xs: Shape, x: Slot, clamp: Clamp) -> Result<()> {
        let name = &self.g.nodes[i].name;
        let depthwise = c.is_depthwise();
        let geo = if depthwise {
            *DwConvParams::new(name, c.c_in, xs.h, xs.w, c.window())?.geometry()
        } else {
            *ConvParams::new(name, c.c_in, c.c_out, xs.h, xs.w, c.window())?.geometry()
        };
        let (oh, ow) = (geo.oh(), geo.ow());
        let groups = self.grid(i, oh * ow, 64, c.c_out)?;
        let (plane, pads) = ([c.c_in, xs.h, xs.w, oh, ow], [c.pads[0], c.pads[1]]);
        // The uniforms each shader's `Params` declares, in order.
        let (dims, p) = if depthwise {
            let p = shaders::dwconv(c.kh, c.kw, c.stride[0], c.stride[1]);
            ([&plane[..], &pads, &c.dilation].concat(), p)
        } else {
            let win = [c.kh, c.kw];
            let dims = [&plane[..], &win, &c.stride, &c.dilation, &pads].concat();
            (dims, shaders::conv())
        };
        let mut params = self.words(i, &dims)?;
        params.extend([clamp.min.to_bits(), clamp.max.to_bits()]);
        if !depthwise {
            params.push(self.u(i, "c_out", c.c_out)?);
        }
        let weights = vec![Data::F32(dense_weights(&c.weight, &c.bias))];
        self.push(i, p, &params, vec![x], weights, groups, None)
    }

    fn channel(&mut self, i: usize, xs: Shape, x: Slot, prelu: bool, w: Data) -> Result<()> {
        let groups = self.grid(i, xs.len(), 256, 1)?;
        let params = self.words(i, &[xs.len(), xs.hw(), xs.c])?;
        let p = shaders::channel(prelu);
        self.push(i, p, &params, vec![x], vec![w], groups, None)
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
