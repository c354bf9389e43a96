//! The one list of kernels.
//!
//! Naming grammar: `<op>_<dtype>_<MR>x<NR>_<isa>`
//! - `op`: `spmm` (packed sparse `W` × dense CHW `X`) or `gemm` (panel-packed dense `W` × `X`);
//! - `dtype`: `f32` (weights, activations and accumulation);
//! - `MR`: output pixels per tile (the contiguous CHW axis), `NR`: output channels per tile,
//!   which is also the block width (`spmm`) or panel width (`gemm`) the weights must be packed
//!   with;
//! - `isa`: `scalar` (portable Rust), `simd128` (wasm f32x4 mul + add), `relaxed`
//!   (wasm `f32x4.relaxed_madd`; only in the `+relaxed-simd` build).
//!
//! Example: `spmm_f32_32x1_simd128` is XNNPACK's classic WASM SpMM tile;
//! `spmm_f32_16x4_relaxed` runs 4x1 block sparsity with fused multiply-add.
//!
//! The other CNN ops (`super::cnn`) are listed in `cnn_registry()`, named
//! `<op>_<dtype>[_<window>]_<isa>`:
//! - `op`: `dwconv` (depthwise conv), `conv` (full conv, groups = 1: the stem), `avgpool`,
//!   `maxpool`, `gavgpool` (global average pool), `add` (residual add), `chmul` (per-channel
//!   multiply, squeeze-and-excitation), `act_<kind>` with kind `clamp` (ReLU, ReLU6),
//!   `hardsigmoid`, `hardswish` or `sigmoid`, and `softmax`;
//! - `window`, windowed ops only: `<K>x<K>s<S>` for a fast path that takes only K×K windows
//!   at stride S without dilation (any padding), or `any` for a kernel that takes every
//!   window;
//! - `dtype`, `isa`: as above; an op gets a `relaxed` variant only if it multiplies and adds.
//!
//! Example: `dwconv_f32_3x3s2_simd128` is MobileNet's strided depthwise layer;
//! `dwconv_f32_any_scalar` runs every depthwise window; `act_hardswish_f32_relaxed`.
//! They are separate from `registry()` because `OpKind` is matched exhaustively by its users;
//! `find_cnn` looks them up by name.

use super::cnn::{ActKind, Activation, ConvWeights, DwConvWeights, PoolParams};
use super::{scalar, Clamp};
use crate::dense::DenseWeights;
use crate::error::{Error, Result};
use crate::sparse::SpmmLayer;
use crate::tensor::WeightShape;
use std::ops::Range;
use std::sync::OnceLock;

pub(crate) type SpmmFn = unsafe fn(&SpmmLayer, &[f32], &mut [f32], Clamp, Range<usize>);
pub(crate) type GemmFn = unsafe fn(&DenseWeights, usize, &[f32], &mut [f32], Clamp, Range<usize>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Spmm,
    Gemm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    Simd128,
    Relaxed,
}

impl Isa {
    pub fn as_str(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Simd128 => "simd128",
            Isa::Relaxed => "relaxed",
        }
    }
    /// The fastest ISA this build has.
    pub fn best() -> Isa {
        if cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd")) {
            Isa::Relaxed
        } else if cfg!(target_arch = "wasm32") {
            Isa::Simd128
        } else {
            Isa::Scalar
        }
    }
}

#[derive(Clone, Copy)]
enum KernelFn {
    Spmm(SpmmFn),
    Gemm(GemmFn),
}

/// One registered kernel: its name, op, tile and ISA.
#[derive(Clone, Copy)]
pub struct KernelInfo {
    pub name: &'static str,
    pub op: OpKind,
    /// Output pixels per tile.
    pub mr: usize,
    /// Output channels per tile (= required block / panel width).
    pub nr: usize,
    pub isa: Isa,
    func: KernelFn,
}

impl std::fmt::Debug for KernelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl KernelInfo {
    /// `Y (c_out, hw)[:, pixels] = layer @ X (c_in, hw)[:, pixels]`, clamped.
    pub fn run_spmm(
        &self,
        layer: &SpmmLayer,
        x: &[f32],
        y: &mut [f32],
        clamp: Clamp,
        pixels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::Spmm(f) = self.func else {
            return Err(self.wrong_op("a packed sparse layer"));
        };
        self.check(layer.shape(), layer.hw(), x, y, &pixels)?;
        // Safety: `check` proved buffer sizes, pixel range and block width; `SpmmLayer` can only
        // be built by `bind`, which validated every delta against `c_in`.
        unsafe { f(layer, x, y, clamp, pixels) };
        Ok(())
    }

    /// `Y (c_out, hw)[:, pixels] = W @ X (c_in, hw)[:, pixels]`, clamped.
    pub fn run_gemm(
        &self,
        w: &DenseWeights,
        hw: usize,
        x: &[f32],
        y: &mut [f32],
        clamp: Clamp,
        pixels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::Gemm(f) = self.func else {
            return Err(self.wrong_op("panel-packed dense weights"));
        };
        self.check(w.shape(), hw, x, y, &pixels)?;
        // Safety: `check` proved buffer sizes, pixel range and panel width.
        unsafe { f(w, hw, x, y, clamp, pixels) };
        Ok(())
    }

    fn check(
        &self,
        shape: &WeightShape,
        hw: usize,
        x: &[f32],
        y: &[f32],
        pixels: &Range<usize>,
    ) -> Result<()> {
        let (c_out, c_in, packed_nr) = (shape.c_out, shape.c_in, shape.nr);
        if packed_nr != self.nr {
            return Err(Error::Unsupported {
                what: format!("kernel {}: weights packed with width", self.name),
                value: packed_nr.to_string(),
                expected: self.nr.to_string(),
            });
        }
        if pixels.start > pixels.end || pixels.end > hw {
            return Err(Error::DimOutOfRange {
                tensor: self.name.into(),
                what: "pixel range end".into(),
                value: pixels.end as u64,
                limit: format!("start ≤ end ≤ H·W = {hw}"),
            });
        }
        for (buffer, len, need) in [("X", x.len(), c_in * hw), ("Y", y.len(), c_out * hw)] {
            if len < need {
                return Err(Error::BufferTooSmall {
                    kernel: self.name.into(),
                    buffer: buffer.into(),
                    expected: need,
                    got: len,
                });
            }
        }
        Ok(())
    }

    fn wrong_op(&self, given: &str) -> Error {
        Error::Unsupported {
            what: format!("kernel {} (op {:?})", self.name, self.op),
            value: given.into(),
            expected: format!("{:?} operands", self.op),
        }
    }
}

macro_rules! kernel {
    (spmm, $isa:ident, $isa_s:literal, $mr:literal, $nr:literal, $f:expr) => {
        KernelInfo {
            name: concat!("spmm_f32_", $mr, "x", $nr, "_", $isa_s),
            op: OpKind::Spmm,
            mr: $mr,
            nr: $nr,
            isa: Isa::$isa,
            func: KernelFn::Spmm($f),
        }
    };
    (gemm, $isa:ident, $isa_s:literal, $mr:literal, $nr:literal, $f:expr) => {
        KernelInfo {
            name: concat!("gemm_f32_", $mr, "x", $nr, "_", $isa_s),
            op: OpKind::Gemm,
            mr: $mr,
            nr: $nr,
            isa: Isa::$isa,
            func: KernelFn::Gemm($f),
        }
    };
}

/// Stamps out the SIMD set for one multiply-add flavour.
#[cfg(target_arch = "wasm32")]
macro_rules! simd_set {
    ($isa:ident, $isa_s:literal, $M:ty) => {{
        use super::simd128::{gemm::gemm, spmm::spmm};
        vec![
            kernel!(spmm, $isa, $isa_s, 8, 1, spmm::<$M, 2, 1>),
            kernel!(spmm, $isa, $isa_s, 8, 2, spmm::<$M, 2, 2>),
            kernel!(spmm, $isa, $isa_s, 8, 4, spmm::<$M, 2, 4>),
            kernel!(spmm, $isa, $isa_s, 8, 8, spmm::<$M, 2, 8>),
            kernel!(spmm, $isa, $isa_s, 16, 1, spmm::<$M, 4, 1>),
            kernel!(spmm, $isa, $isa_s, 16, 2, spmm::<$M, 4, 2>),
            kernel!(spmm, $isa, $isa_s, 16, 4, spmm::<$M, 4, 4>),
            kernel!(spmm, $isa, $isa_s, 16, 8, spmm::<$M, 4, 8>),
            kernel!(spmm, $isa, $isa_s, 24, 1, spmm::<$M, 6, 1>),
            kernel!(spmm, $isa, $isa_s, 24, 2, spmm::<$M, 6, 2>),
            kernel!(spmm, $isa, $isa_s, 24, 4, spmm::<$M, 6, 4>),
            kernel!(spmm, $isa, $isa_s, 24, 8, spmm::<$M, 6, 8>),
            kernel!(spmm, $isa, $isa_s, 32, 1, spmm::<$M, 8, 1>),
            kernel!(spmm, $isa, $isa_s, 32, 2, spmm::<$M, 8, 2>),
            kernel!(spmm, $isa, $isa_s, 32, 4, spmm::<$M, 8, 4>),
            kernel!(spmm, $isa, $isa_s, 32, 8, spmm::<$M, 8, 8>),
            kernel!(gemm, $isa, $isa_s, 4, 8, gemm::<$M, 1, 8>),
            kernel!(gemm, $isa, $isa_s, 8, 4, gemm::<$M, 2, 4>),
            kernel!(gemm, $isa, $isa_s, 8, 8, gemm::<$M, 2, 8>),
            kernel!(gemm, $isa, $isa_s, 12, 4, gemm::<$M, 3, 4>),
            kernel!(gemm, $isa, $isa_s, 16, 2, gemm::<$M, 4, 2>),
            kernel!(gemm, $isa, $isa_s, 16, 4, gemm::<$M, 4, 4>),
        ]
    }};
}

fn build() -> Vec<KernelInfo> {
    use scalar::{gemm::gemm, spmm::spmm};
    #[allow(unused_mut)]
    let mut all = vec![
        kernel!(spmm, Scalar, "scalar", 8, 1, spmm::<8, 1>),
        kernel!(spmm, Scalar, "scalar", 8, 2, spmm::<8, 2>),
        kernel!(spmm, Scalar, "scalar", 8, 4, spmm::<8, 4>),
        kernel!(spmm, Scalar, "scalar", 8, 8, spmm::<8, 8>),
        kernel!(gemm, Scalar, "scalar", 8, 1, gemm::<8, 1>),
        kernel!(gemm, Scalar, "scalar", 8, 2, gemm::<8, 2>),
        kernel!(gemm, Scalar, "scalar", 8, 4, gemm::<8, 4>),
        kernel!(gemm, Scalar, "scalar", 8, 8, gemm::<8, 8>),
    ];
    #[cfg(target_arch = "wasm32")]
    all.extend(simd_set!(Simd128, "simd128", super::simd128::MulAdd));
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    all.extend(simd_set!(Relaxed, "relaxed", super::simd128::Relaxed));
    all
}

/// Every kernel this build has, each listed once.
pub fn registry() -> &'static [KernelInfo] {
    static REGISTRY: OnceLock<Vec<KernelInfo>> = OnceLock::new();
    REGISTRY.get_or_init(build)
}

/// The kernel called `name`, or `UnknownKernel`.
pub fn find(name: &str) -> Result<&'static KernelInfo> {
    registry()
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::UnknownKernel { name: name.into() })
}

// ---- CNN kernels other than 1x1 ------------------------------------------------------------

pub(crate) type DwConvFn = unsafe fn(&DwConvWeights, &[f32], &mut [f32], Clamp, Range<usize>);
pub(crate) type ConvFn = unsafe fn(&ConvWeights, &[f32], &mut [f32], Clamp, Range<usize>);
pub(crate) type GlobalPoolFn = unsafe fn(&[f32], &mut [f32], usize, Range<usize>);
pub(crate) type AddFn = unsafe fn(*const f32, *const f32, *mut f32, usize, Clamp);
pub(crate) type ChannelMulFn = unsafe fn(*const f32, &[f32], *mut f32, usize, Range<usize>);
pub(crate) type ActFn = unsafe fn(&mut [f32], Activation);
pub(crate) type PoolFn = unsafe fn(&PoolParams, &[f32], &mut [f32], Range<usize>);
pub(crate) type SoftmaxFn = unsafe fn(&[f32], &mut [f32]);

/// What a CNN kernel computes (shapes in `super::cnn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CnnOp {
    /// `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`, clamped.
    DwConv,
    /// `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out) -> y (C_out, OH, OW)`, clamped.
    Conv,
    /// `x (C, HW) -> y (C)`.
    GlobalAvgPool,
    /// `a (n) + b (n) -> y (n)`, clamped.
    Add,
    /// `x (C, HW) * s (C) -> y (C, HW)`.
    ChannelMul,
    /// In place over a slice.
    Act(ActKind),
    /// `x (C, H, W) -> y (C, OH, OW)`, `count_include_pad = 0`.
    AvgPool,
    /// `x (C, H, W) -> y (C, OH, OW)`.
    MaxPool,
    /// `x (n) -> y (n)`.
    Softmax,
}

#[derive(Clone, Copy)]
pub(crate) enum CnnFn {
    DwConv(DwConvFn),
    Conv(ConvFn),
    GlobalPool(GlobalPoolFn),
    Add(AddFn),
    ChannelMul(ChannelMulFn),
    Act(ActFn),
    Pool(PoolFn),
    Softmax(SoftmaxFn),
}

/// One registered CNN kernel. Run it through its checked `run_*` method for its op.
#[derive(Clone, Copy)]
pub struct CnnKernelInfo {
    pub name: &'static str,
    pub op: CnnOp,
    pub isa: Isa,
    /// `Some((k, s))`: a fast path for k×k windows at stride s without dilation, any padding.
    /// `None`: every window (or the op has none).
    pub window: Option<(usize, usize)>,
    pub(crate) func: CnnFn,
}

impl std::fmt::Debug for CnnKernelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! cnn {
    ($name:expr, $op:expr, $isa:ident, $window:expr, $f:expr) => {
        CnnKernelInfo {
            name: $name,
            op: $op,
            isa: Isa::$isa,
            window: $window,
            func: $f,
        }
    };
}

/// The CNN kernels for one multiply-add flavour: every op that multiplies and adds.
#[cfg(target_arch = "wasm32")]
macro_rules! cnn_simd_set {
    ($isa:ident, $isa_s:literal, $M:ty) => {{
        use super::cnn::simd128::{act::act, conv::conv, dwconv::dwconv};
        use ActKind::{HardSigmoid, HardSwish, Sigmoid};
        use CnnFn::{Act, Conv, DwConv};
        // MV (output vectors per dwconv tile): enough independent add chains to cover the
        // add latency without spilling the K² weight vectors.
        vec![
            cnn!(
                concat!("dwconv_f32_3x3s1_", $isa_s),
                CnnOp::DwConv,
                $isa,
                Some((3, 1)),
                DwConv(dwconv::<$M, 3, 1, 3>)
            ),
            cnn!(
                concat!("dwconv_f32_3x3s2_", $isa_s),
                CnnOp::DwConv,
                $isa,
                Some((3, 2)),
                DwConv(dwconv::<$M, 3, 2, 2>)
            ),
            cnn!(
                concat!("dwconv_f32_5x5s1_", $isa_s),
                CnnOp::DwConv,
                $isa,
                Some((5, 1)),
                DwConv(dwconv::<$M, 5, 1, 2>)
            ),
            cnn!(
                concat!("dwconv_f32_5x5s2_", $isa_s),
                CnnOp::DwConv,
                $isa,
                Some((5, 2)),
                DwConv(dwconv::<$M, 5, 2, 2>)
            ),
            cnn!(
                concat!("conv_f32_3x3s1_", $isa_s),
                CnnOp::Conv,
                $isa,
                Some((3, 1)),
                Conv(conv::<$M, 3, 1, 8>)
            ),
            cnn!(
                concat!("conv_f32_3x3s2_", $isa_s),
                CnnOp::Conv,
                $isa,
                Some((3, 2)),
                Conv(conv::<$M, 3, 2, 8>)
            ),
            cnn!(
                concat!("act_hardsigmoid_f32_", $isa_s),
                CnnOp::Act(HardSigmoid),
                $isa,
                None,
                Act(act::<$M>)
            ),
            cnn!(
                concat!("act_hardswish_f32_", $isa_s),
                CnnOp::Act(HardSwish),
                $isa,
                None,
                Act(act::<$M>)
            ),
            cnn!(
                concat!("act_sigmoid_f32_", $isa_s),
                CnnOp::Act(Sigmoid),
                $isa,
                None,
                Act(act::<$M>)
            ),
        ]
    }};
}

fn build_cnn() -> Vec<CnnKernelInfo> {
    use super::cnn::scalar::{act::act, conv::conv_any, dwconv::dwconv_any, elementwise, pool};
    use ActKind::{Clamp, HardSigmoid, HardSwish, LeakyRelu, Sigmoid, Tanh};
    use CnnFn::{Act, Add, ChannelMul, Conv, DwConv, GlobalPool, Pool, Softmax};
    #[allow(unused_mut)]
    let mut all = vec![
        cnn!(
            "dwconv_f32_any_scalar",
            CnnOp::DwConv,
            Scalar,
            None,
            DwConv(dwconv_any)
        ),
        cnn!(
            "conv_f32_any_scalar",
            CnnOp::Conv,
            Scalar,
            None,
            Conv(conv_any)
        ),
        cnn!(
            "gavgpool_f32_scalar",
            CnnOp::GlobalAvgPool,
            Scalar,
            None,
            GlobalPool(elementwise::global_avg_pool)
        ),
        cnn!(
            "add_f32_scalar",
            CnnOp::Add,
            Scalar,
            None,
            Add(elementwise::add)
        ),
        cnn!(
            "chmul_f32_scalar",
            CnnOp::ChannelMul,
            Scalar,
            None,
            ChannelMul(elementwise::channel_mul)
        ),
        cnn!(
            "act_clamp_f32_scalar",
            CnnOp::Act(Clamp),
            Scalar,
            None,
            Act(act)
        ),
        cnn!(
            "act_hardsigmoid_f32_scalar",
            CnnOp::Act(HardSigmoid),
            Scalar,
            None,
            Act(act)
        ),
        cnn!(
            "act_hardswish_f32_scalar",
            CnnOp::Act(HardSwish),
            Scalar,
            None,
            Act(act)
        ),
        cnn!(
            "act_sigmoid_f32_scalar",
            CnnOp::Act(Sigmoid),
            Scalar,
            None,
            Act(act)
        ),
        // The one tanh for every ISA (std's tanh: no vector version of it to match).
        cnn!(
            "act_tanh_f32_scalar",
            CnnOp::Act(Tanh),
            Scalar,
            None,
            Act(act)
        ),
        cnn!(
            "act_leakyrelu_f32_scalar",
            CnnOp::Act(LeakyRelu),
            Scalar,
            None,
            Act(act)
        ),
        cnn!(
            "avgpool_f32_any_scalar",
            CnnOp::AvgPool,
            Scalar,
            None,
            Pool(pool::avg_pool)
        ),
        cnn!(
            "maxpool_f32_any_scalar",
            CnnOp::MaxPool,
            Scalar,
            None,
            Pool(pool::max_pool)
        ),
        cnn!(
            "softmax_f32_scalar",
            CnnOp::Softmax,
            Scalar,
            None,
            Softmax(pool::softmax)
        ),
    ];
    #[cfg(target_arch = "wasm32")]
    {
        use super::cnn::simd128::{act::act, elementwise};
        use super::simd128::MulAdd;
        all.extend(cnn_simd_set!(Simd128, "simd128", MulAdd));
        // No multiply-add in these, so no relaxed variants.
        all.extend([
            cnn!(
                "gavgpool_f32_simd128",
                CnnOp::GlobalAvgPool,
                Simd128,
                None,
                GlobalPool(elementwise::global_avg_pool)
            ),
            cnn!(
                "add_f32_simd128",
                CnnOp::Add,
                Simd128,
                None,
                Add(elementwise::add)
            ),
            cnn!(
                "chmul_f32_simd128",
                CnnOp::ChannelMul,
                Simd128,
                None,
                ChannelMul(elementwise::channel_mul)
            ),
            cnn!(
                "act_clamp_f32_simd128",
                CnnOp::Act(Clamp),
                Simd128,
                None,
                Act(act::<MulAdd>)
            ),
            cnn!(
                "act_leakyrelu_f32_simd128",
                CnnOp::Act(LeakyRelu),
                Simd128,
                None,
                Act(act::<MulAdd>)
            ),
        ]);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    all.extend(cnn_simd_set!(Relaxed, "relaxed", super::simd128::Relaxed));
    all
}

/// Every CNN kernel (other than 1x1) this build has, each listed once.
pub fn cnn_registry() -> &'static [CnnKernelInfo] {
    static REGISTRY: OnceLock<Vec<CnnKernelInfo>> = OnceLock::new();
    REGISTRY.get_or_init(build_cnn)
}

/// The CNN kernel called `name`, or `UnknownKernel`.
pub fn find_cnn(name: &str) -> Result<&'static CnnKernelInfo> {
    cnn_registry()
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::UnknownKernel { name: name.into() })
}
