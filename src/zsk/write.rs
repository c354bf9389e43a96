//! Graph → `.zsk` bytes.

use super::*;
use crate::error::Result;
use crate::graph::{Activation, Graph, Op, PoolKind};
use crate::kernels::{select, Choice, Isa, LayerStats};
use crate::sparse::SpmmWeights;
use crate::tensor::f32_to_f16;

/// How weight values are stored. f16 halves the file; the loaded weights are the f16 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
}

/// Serializes `graph`. 1x1 conv / FC layers that the selector would run sparse are stored as
/// packed SpMM streams with its block width; every other weight is stored dense.
pub fn write(graph: &Graph, precision: Precision) -> Result<Vec<u8>> {
    graph.validate()?;
    let mut w = Writer {
        out: Vec::new(),
        precision,
    };
    w.out.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u32(0); // flags, reserved
    w.str(&graph.name);
    w.u32(graph.values.len() as u32);
    for v in &graph.values {
        w.str(&v.name);
        w.shape(v.shape);
    }
    w.u32(graph.input as u32);
    w.u32(graph.output as u32);
    w.u32(graph.nodes.len() as u32);
    for node in &graph.nodes {
        w.str(&node.name);
        w.u32(node.inputs.len() as u32);
        node.inputs.iter().for_each(|&v| w.u32(v as u32));
        w.u32(node.output as u32);
        let hw = graph.shape(node.output).hw();
        match &node.op {
            Op::Conv(c) => {
                w.u8(OP_CONV);
                for v in [c.c_out, c.c_in, c.groups, c.kh, c.kw] {
                    w.u32(v as u32);
                }
                c.stride
                    .iter()
                    .chain(&c.dilation)
                    .chain(&c.pads)
                    .for_each(|&v| w.u32(v as u32));
                w.values(&c.bias);
                if c.is_pointwise() {
                    w.pointwise(&node.name, &c.weight, &c.bias, c.c_out, c.c_in, hw)?;
                } else {
                    w.u8(WEIGHTS_DENSE);
                    w.values(&c.weight);
                }
            }
            Op::Linear(l) => {
                w.u8(OP_LINEAR);
                w.u32(l.c_out as u32);
                w.u32(l.c_in as u32);
                w.values(&l.bias);
                w.pointwise(&node.name, &l.weight, &l.bias, l.c_out, l.c_in, 1)?;
            }
            Op::Act(a) => {
                w.u8(OP_ACT);
                match *a {
                    Activation::Relu => w.u8(ACT_RELU),
                    Activation::Clip { min, max } => {
                        w.u8(ACT_CLIP);
                        w.f32(min);
                        w.f32(max);
                    }
                    Activation::HardSigmoid { alpha, beta } => {
                        w.u8(ACT_HARDSIGMOID);
                        w.f32(alpha);
                        w.f32(beta);
                    }
                    Activation::HardSwish => w.u8(ACT_HARDSWISH),
                    Activation::Sigmoid => w.u8(ACT_SIGMOID),
                    Activation::Tanh => w.u8(ACT_TANH),
                    Activation::LeakyRelu { alpha } => {
                        w.u8(ACT_LEAKY_RELU);
                        w.f32(alpha);
                    }
                }
            }
            Op::ChannelAffine { scale, shift } => {
                w.u8(OP_AFFINE);
                w.values(scale);
                w.values(shift);
            }
            Op::Add => w.u8(OP_ADD),
            Op::Mul => w.u8(OP_MUL),
            Op::GlobalAvgPool => w.u8(OP_GAP),
            Op::Pool(p) => {
                w.u8(OP_POOL);
                w.u8(if p.kind == PoolKind::Max { 1 } else { 0 });
                [p.kh, p.kw]
                    .iter()
                    .chain(&p.stride)
                    .chain(&p.pads)
                    .for_each(|&v| w.u32(v as u32));
            }
            Op::Softmax => w.u8(OP_SOFTMAX),
            Op::Concat => w.u8(OP_CONCAT),
            Op::View(s) => {
                w.u8(OP_VIEW);
                w.shape(*s);
            }
            Op::Prelu { slope } => {
                w.u8(OP_PRELU);
                w.values(slope);
            }
            Op::Sub => w.u8(OP_SUB),
            Op::Pad { pads } => {
                w.u8(OP_PAD);
                pads.iter().for_each(|&v| w.u32(v as u32));
            }
            Op::DepthToSpace { block } => {
                w.u8(OP_DEPTH_TO_SPACE);
                w.u32(*block as u32);
            }
            Op::ResizeBilinear(r) => {
                w.u8(OP_RESIZE_BILINEAR);
                w.u32(r.oh as u32);
                w.u32(r.ow as u32);
                let mut flags = 0;
                if r.align_corners {
                    flags |= RESIZE_ALIGN_CORNERS;
                }
                if r.half_pixel_centers {
                    flags |= RESIZE_HALF_PIXEL;
                }
                w.u8(flags);
            }
            Op::Slice { begin, step, out } => {
                w.u8(OP_SLICE);
                // validate() bounds begin (and pads, block, sizes above) by the activation
                // limit, so they fit a u32. A step may not fit only on an axis of output
                // length 1, where it is never used: store 1 there.
                begin.iter().for_each(|&v| w.u32(v as u32));
                step.iter()
                    .for_each(|&v| w.u32(u32::try_from(v).unwrap_or(1)));
                w.shape(*out);
            }
            Op::ToHwc => w.u8(OP_TO_HWC),
            Op::FromHwc(s) => {
                w.u8(OP_FROM_HWC);
                w.shape(*s);
            }
        }
    }
    Ok(w.out)
}

struct Writer {
    out: Vec<u8>,
    precision: Precision,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.out.extend_from_slice(s.as_bytes());
    }
    fn shape(&mut self, s: crate::graph::Shape) {
        [s.c, s.h, s.w].iter().for_each(|&v| self.u32(v as u32));
    }
    /// `dtype u8, n u32, n values`.
    fn values(&mut self, v: &[f32]) {
        match self.precision {
            Precision::F32 => {
                self.u8(DTYPE_F32);
                self.u32(v.len() as u32);
                v.iter().for_each(|&x| self.f32(x));
            }
            Precision::F16 => {
                self.u8(DTYPE_F16);
                self.u32(v.len() as u32);
                v.iter()
                    .for_each(|&x| self.out.extend_from_slice(&f32_to_f16(x).to_le_bytes()));
            }
        }
    }
    /// A 1x1 / FC weight `W (c_out, c_in)`: the packed stream when the selector would run it
    /// sparse, else dense.
    fn pointwise(
        &mut self,
        name: &str,
        w: &[f32],
        b: &[f32],
        c_out: usize,
        c_in: usize,
        hw: usize,
    ) -> Result<()> {
        let stats = LayerStats::measure(w, c_out, c_in, hw);
        // The width decision is the same for every SIMD ISA; ask for the portable one so a
        // native writer and a browser reader agree.
        match select(&stats, Isa::Scalar)? {
            Choice::Sparse(k) => {
                let p = SpmmWeights::pack(name, w, Some(b), c_out, c_in, k.nr())?;
                self.u8(WEIGHTS_SPMM);
                self.u32(p.shape().nr as u32);
                self.u32(p.first_ic());
                self.u32(p.counts().len() as u32);
                p.counts().iter().for_each(|&c| self.u32(c));
                // Deltas in input channels: 16 bits when every one fits, else 32.
                let narrow = p.deltas().iter().all(|&d| i16::try_from(d).is_ok());
                self.u8(if narrow { 2 } else { 4 });
                self.u32(p.deltas().len() as u32);
                for &d in p.deltas() {
                    if narrow {
                        self.out.extend_from_slice(&(d as i16).to_le_bytes());
                    } else {
                        self.out.extend_from_slice(&d.to_le_bytes());
                    }
                }
                self.values(p.values());
            }
            Choice::Dense(_) => {
                self.u8(WEIGHTS_DENSE);
                self.values(w);
            }
        }
        Ok(())
    }
}
