//! The closed set of operations a `Graph` holds. Import maps ONNX ops onto these; plan maps
//! these onto kernels. Batch is always 1 and activations are CHW.

use super::reference::bilinear_source;
use crate::kernels::cnn::{self, Window};
use crate::kernels::Clamp;

/// Elementwise activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Relu,
    /// `min(max(x, min), max)`; ReLU6 is `Clip { min: 0, max: 6 }`.
    Clip {
        min: f32,
        max: f32,
    },
    /// `max(0, min(1, alpha·x + beta))`
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x · HardSigmoid(x)` with alpha = 1/6, beta = 1/2
    HardSwish,
    Sigmoid,
    Tanh,
    /// `x ≥ 0 ? x : alpha·x`
    LeakyRelu {
        alpha: f32,
    },
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Clip { min, max } => x.max(min).min(max),
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
        }
    }
}

/// The kernels' form: ReLU and Clip are both a clamp (ReLU's bounds are 0, ∞).
impl From<Activation> for cnn::Activation {
    fn from(a: Activation) -> cnn::Activation {
        match a {
            Activation::Relu => cnn::Activation::RELU,
            Activation::Clip { min, max } => cnn::Activation::Clamp(Clamp { min, max }),
            Activation::HardSigmoid { alpha, beta } => cnn::Activation::HardSigmoid { alpha, beta },
            Activation::HardSwish => cnn::Activation::HardSwish,
            Activation::Sigmoid => cnn::Activation::Sigmoid,
            Activation::Tanh => cnn::Activation::Tanh,
            Activation::LeakyRelu { alpha } => cnn::Activation::LeakyRelu { alpha },
        }
    }
}

/// A 2-D convolution, `groups` = 1 (full), = c_in (depthwise) or anything in between.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub c_out: usize,
    pub c_in: usize,
    pub groups: usize,
    pub kh: usize,
    pub kw: usize,
    /// [height, width]
    pub stride: [usize; 2],
    /// [height, width]
    pub dilation: [usize; 2],
    /// [top, left, bottom, right]
    pub pads: [usize; 4],
    /// (c_out, c_in / groups, kh, kw)
    pub weight: Vec<f32>,
    /// (c_out,)
    pub bias: Vec<f32>,
}

impl Conv {
    /// A `kh × kw` conv with zero weights and bias sized for its channels and groups, stride
    /// and dilation 1, no padding: set the fields that differ.
    pub fn new(c_out: usize, c_in: usize, groups: usize, [kh, kw]: [usize; 2]) -> Conv {
        Conv {
            c_out,
            c_in,
            groups,
            kh,
            kw,
            stride: [1, 1],
            dilation: [1, 1],
            pads: [0; 4],
            weight: vec![0.0; c_out * (c_in / groups.max(1)) * kh * kw],
            bias: vec![0.0; c_out],
        }
    }
    /// The kernel window: size, strides, pads and dilation.
    pub fn window(&self) -> Window {
        Window::new(self.kh, self.kw, self.stride[0], self.stride[1])
            .pads(self.pads[0], self.pads[1], self.pads[2], self.pads[3])
            .dilation(self.dilation[0], self.dilation[1])
    }
    /// A 1x1, stride-1, unpadded, ungrouped conv: a matrix product over pixels (SpMM/GEMM).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pads == [0; 4]
            && self.groups == 1
    }
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.c_in && self.c_out == self.c_in && self.groups > 1
    }
}

/// The weights of a 1x1 conv or FC layer as one product `W (c_out, c_in) @ X (c_in, n) + b`,
/// borrowed: what the backends' pointwise lowering reads from either op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matrix<'a> {
    /// (c_out, c_in)
    pub w: &'a [f32],
    /// (c_out,)
    pub b: &'a [f32],
    pub c_out: usize,
    pub c_in: usize,
}

impl<'a> Matrix<'a> {
    pub fn new(w: &'a [f32], b: &'a [f32], c_out: usize, c_in: usize) -> Matrix<'a> {
        Matrix { w, b, c_out, c_in }
    }
}

/// Fully connected on a vector: `W (c_out, c_in) @ x (c_in,) + b -> y (c_out,)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub c_out: usize,
    pub c_in: usize,
    /// (c_out, c_in)
    pub weight: Vec<f32>,
    /// (c_out,)
    pub bias: Vec<f32>,
}

/// Bilinear resize `x (C, H, W) -> y (C, oh, ow)`. The source coordinate of output `o` is
/// `o · (in − 1) / (out − 1)` with `align_corners`, `(o + 0.5) · in / out − 0.5` with
/// `half_pixel_centers` (clamped at 0), else `o · in / out` (TF's three modes). As in TF:
/// computed in f32, the two neighbour indices `floor`/`ceil` clamped to `0..in`, the weight
/// `src − floor(src)`, `align_corners` with `out = 1` uses `in / out`, and both flags at once
/// are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    pub oh: usize,
    pub ow: usize,
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

impl Resize {
    /// The samples of `out` outputs along an axis of `n` inputs: (lower index, upper index,
    /// weight of the upper) each, as `reference::bilinear_source` computes them.
    pub fn taps(&self, n: usize, out: usize) -> Vec<(usize, usize, f32)> {
        (0..out)
            .map(|o| bilinear_source(o, n, out, self.align_corners, self.half_pixel_centers))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Average,
    Max,
}

/// Average (padding excluded from the count) or max pooling over a `kh × kw` window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub kind: PoolKind,
    pub kh: usize,
    pub kw: usize,
    /// [height, width]
    pub stride: [usize; 2],
    /// [top, left, bottom, right]
    pub pads: [usize; 4],
}

impl Pool {
    /// The pooling window: size, strides and pads.
    pub fn window(&self) -> Window {
        Window::new(self.kh, self.kw, self.stride[0], self.stride[1]).pads(
            self.pads[0],
            self.pads[1],
            self.pads[2],
            self.pads[3],
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `x (c_in, H, W) -> y (c_out, OH, OW)`
    Conv(Conv),
    /// Fully connected on a vector: `W (c_out, c_in) @ x (c_in,) + b -> y (c_out,)`
    Linear(Linear),
    Act(Activation),
    /// Per-channel `x · scale + shift` (a BatchNormalization or constant Mul/Add that could
    /// not be folded into a conv).
    ChannelAffine {
        scale: Vec<f32>,
        shift: Vec<f32>,
    },
    /// `a + b`, same shape.
    Add,
    /// `a · b`, same shape or `b` per channel `(C, 1, 1)` (squeeze-and-excitation).
    Mul,
    /// `x (C, H, W) -> y (C, 1, 1)`
    GlobalAvgPool,
    /// Average (padding excluded from the count) or max pooling.
    Pool(Pool),
    /// Over the whole (vector) input.
    Softmax,
    /// Along channels.
    Concat,
    /// Same data, new shape (Flatten, Reshape, Squeeze, Unsqueeze, Identity): no copy.
    View(super::Shape),
    /// `y = x ≥ 0 ? x : slope[c]·x`, `slope (C,)` (TF/ONNX PRelu with a per-channel slope).
    Prelu {
        slope: Vec<f32>,
    },
    /// `a − b`, same shape.
    Sub,
    /// Zero padding `x (C, H, W) -> y (C + c_lo + c_hi, H + top + bottom, W + left + right)`;
    /// `pads` = [c_lo, top, left, c_hi, bottom, right]. Spatial pads in front of a conv are
    /// folded into the conv at import; this op is what remains (channel pads, pads before a
    /// max pool).
    Pad {
        pads: [usize; 6],
    },
    /// `x (C·b², H, W) -> y (C, H·b, W·b)`, TF's DepthToSpace channel order (DCR):
    /// `y[c, h·b + i, w·b + j] = x[(i·b + j)·C + c, h, w]`.
    DepthToSpace {
        block: usize,
    },
    /// Bilinear resize `x (C, H, W) -> y (C, oh, ow)`.
    ResizeBilinear(Resize),
    /// Strided sub-tensor: `y[c, h, w] = x[begin[0] + c·step[0], begin[1] + h·step[1],
    /// begin[2] + w·step[2]]` for `y` of shape `out` (TF StridedSlice with positive strides).
    Slice {
        begin: [usize; 3],
        step: [usize; 3],
        out: super::Shape,
    },
    /// `x (C, H, W) -> y (H·W·C, 1, 1)`: the same tensor laid out HWC (row-major NHWC), for
    /// a TF Reshape/output that flattens across channels and pixels.
    ToHwc,
    /// `x (H·W·C, 1, 1) -> y (C, H, W)` = `shape`: the inverse of `ToHwc` (an input of any
    /// shape holding H·W·C values is read flat).
    FromHwc(super::Shape),
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::Linear(_) => "Linear",
            Op::Act(_) => "Activation",
            Op::ChannelAffine { .. } => "ChannelAffine",
            Op::Add => "Add",
            Op::Mul => "Mul",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::Pool(_) => "Pool",
            Op::Softmax => "Softmax",
            Op::Concat => "Concat",
            Op::View(_) => "View",
            Op::Prelu { .. } => "Prelu",
            Op::Sub => "Sub",
            Op::Pad { .. } => "Pad",
            Op::DepthToSpace { .. } => "DepthToSpace",
            Op::ResizeBilinear(_) => "ResizeBilinear",
            Op::Slice { .. } => "Slice",
            Op::ToHwc => "ToHwc",
            Op::FromHwc(_) => "FromHwc",
        }
    }
}
