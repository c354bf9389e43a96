//! The non-1x1 CNN kernels of MobileNetV1/V2 and EfficientNet-Lite, CHW layout, batch 1:
//! depthwise conv, the full-conv stem, global average pool, residual add, SE channel
//! multiply, activations, pools and softmax.
//!
//! As with the 1x1 kernels, each op has a naive oracle (`reference`), portable scalar code
//! and, on wasm32, SIMD128 code generic over `Madd` (so the relaxed build gets a fused variant
//! of every op that multiplies and adds). The kernel table (`super::table`) lists them all; the
//! checked entry points are `Kernel::run_*` methods (`run`).
//!
//! Windowed kernels take a range of channels (output channels for the stem), elementwise ones
//! a slice, so a caller can split work without the kernels changing.

pub mod layout;
pub mod pack;
pub mod params;
pub mod reference;
mod run;
pub mod scalar;
pub(crate) mod scalar_ops;
#[cfg(target_arch = "wasm32")]
pub mod simd128;

pub use layout::{Layout, Tap};
pub use pack::{ConvWeights, DwConvWeights};
pub use params::{ConvParams, DwConvParams, Geometry, PoolParams, Window};

use super::Clamp;

/// ONNX HardSwish's fixed slope and offset: `x · max(0, min(1, x/6 + 1/2))`.
pub const HARDSWISH_ALPHA: f32 = 1.0 / 6.0;
pub const HARDSWISH_BETA: f32 = 0.5;

/// An activation applied in place over a slice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `min(max(x, lo), hi)`: ReLU, ReLU6 and any other bounds.
    Clamp(Clamp),
    /// `max(0, min(1, alpha·x + beta))` (ONNX HardSigmoid; its defaults are 0.2, 0.5).
    HardSigmoid { alpha: f32, beta: f32 },
    /// `x · max(0, min(1, x/6 + 1/2))` (ONNX HardSwish).
    HardSwish,
    /// `1 / (1 + e^-x)`, to within 2e-6 absolute everywhere (see `scalar::act::sigmoid`).
    Sigmoid,
    /// `tanh(x)`, as std's `f32::tanh` computes it on every ISA.
    Tanh,
    /// `x ≥ 0 ? x : alpha·x` (TF/ONNX LeakyRelu).
    LeakyRelu { alpha: f32 },
}

/// Which activation a kernel computes; the parameters travel in `Activation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActKind {
    Clamp,
    HardSigmoid,
    HardSwish,
    Sigmoid,
    Tanh,
    LeakyRelu,
}

impl Activation {
    pub const RELU: Activation = Activation::Clamp(Clamp::RELU);
    pub const RELU6: Activation = Activation::Clamp(Clamp::RELU6);

    pub fn kind(self) -> ActKind {
        match self {
            Activation::Clamp(_) => ActKind::Clamp,
            Activation::HardSigmoid { .. } => ActKind::HardSigmoid,
            Activation::HardSwish => ActKind::HardSwish,
            Activation::Sigmoid => ActKind::Sigmoid,
            Activation::Tanh => ActKind::Tanh,
            Activation::LeakyRelu { .. } => ActKind::LeakyRelu,
        }
    }
}

impl ActKind {
    /// The op token of the activation's kernels (`super::Op::of_act`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActKind::Clamp => "clamp",
            ActKind::HardSigmoid => "hardsigmoid",
            ActKind::HardSwish => "hardswish",
            ActKind::Sigmoid => "sigmoid",
            ActKind::Tanh => "tanh",
            ActKind::LeakyRelu => "leakyrelu",
        }
    }
}
