//! The one kernel table: every CPU kernel of this build, CNN and LLM, in one grammar
//! (described in [`crate::kernels`]): `<op>_<wtype>_<tile>[_<K>x<K>s<S>]__<isa>`.
//!
//! A row is written once, in [`for_each_kernel!`](crate::for_each_kernel), as
//! `(name, signature, function)`: the name's tokens ARE the row's parameters (op, weight type,
//! tile, window; the ISA comes from the row's group), parsed back by [`KernelName::parse`], so
//! a name and what it describes cannot drift apart. The SIMD groups are stamped out twice from
//! one generic body per kernel, with `MulAdd` (`__simd128`) and `Relaxed` (`__relaxed`, only
//! in the `+relaxed-simd` build). The same macro emits one named oracle test per row in
//! `tests/it/kernel_table.rs`.
//!
//! Lookups: [`find`] by name, [`best`] by (op, wtype, isa, shape); every kernel runs through
//! the checked `run_*` method of its signature (here and in `cnn::run`).

use super::cnn::{ActKind, Activation, ConvWeights, DwConvWeights, PoolParams};
use super::llm::WeightType;
use super::{Clamp, Isa};
use crate::dense::DenseWeights;
use crate::error::{Error, Result};
use crate::sparse::llm::{SparseFormat, SparseMatrix};
use crate::sparse::SpmmLayer;
use crate::tensor::WeightShape;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

/// What a kernel computes. Shapes: CNN tensors are CHW; `t` tokens for the LLM product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `W (c_out, c_in) @ X (c_in, hw) -> Y (c_out, hw)`, `W` packed sparse, clamped.
    Spmm,
    /// `W (c_out, c_in) @ X (c_in, hw) -> Y (c_out, hw)`, `W` panel-packed dense, clamped.
    Gemm,
    /// `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`, clamped.
    DwConv,
    /// `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out) -> y (C_out, OH, OW)`, clamped.
    Conv,
    /// `x (C, HW) -> y (C)`.
    GAvgPool,
    /// `x (C, H, W) -> y (C, OH, OW)`, `count_include_pad = 0`.
    AvgPool,
    /// `x (C, H, W) -> y (C, OH, OW)`.
    MaxPool,
    /// `a (n) + b (n) -> y (n)`, clamped.
    Add,
    /// `a (n) · b (n) -> y (n)`, clamped (ONNX Mul of same-shape tensors).
    Mul,
    /// `a (n) − b (n) -> y (n)`, clamped.
    Sub,
    /// `x (C, HW) * s (C) -> y (C, HW)`.
    ChMul,
    /// `x (C, HW) -> y (C, HW)`: `x ≥ 0 ? x : slope[c]·x`.
    Prelu,
    /// `x (C, HW) · scale (C) + shift (C) -> y (C, HW)`.
    Affine,
    /// `x (n) -> y (n)`.
    Softmax,
    /// The activations, in place over a slice: `min(max(x, lo), hi)` (ReLU, ReLU6, Clip),
    Clamp,
    /// `max(0, min(1, α·x + β))`,
    HardSigmoid,
    /// `x · hardsigmoid(x)`,
    HardSwish,
    /// `1 / (1 + e^-x)`,
    Sigmoid,
    /// `tanh(x)`,
    Tanh,
    /// `x ≥ 0 ? x : α·x`.
    LeakyRelu,
    /// `X (t, n) @ W (d, n)ᵀ -> Y (t, d)`: the LLM product, decode (`t` = 1) and prefill alike.
    Linear,
    /// The data-movement ops ([`Layout`](super::cnn::Layout) has their shapes): `x (n) -> y (n)`,
    Copy,
    /// zero padding of all three CHW axes,
    Pad,
    /// `x (C·b², H, W) -> y (C, H·b, W·b)`,
    DepthToSpace,
    /// bilinear resize of the H, W axes,
    Resize,
    /// strided slice of all three axes,
    Slice,
    /// `x (C, H·W) -> y (H·W, C)`,
    ToHwc,
    /// `x (H·W, C) -> y (C, H·W)`.
    FromHwc,
}

impl Op {
    pub const ALL: [Op; 28] = [
        Op::Spmm,
        Op::Gemm,
        Op::DwConv,
        Op::Conv,
        Op::GAvgPool,
        Op::AvgPool,
        Op::MaxPool,
        Op::Add,
        Op::Mul,
        Op::Sub,
        Op::ChMul,
        Op::Prelu,
        Op::Affine,
        Op::Softmax,
        Op::Clamp,
        Op::HardSigmoid,
        Op::HardSwish,
        Op::Sigmoid,
        Op::Tanh,
        Op::LeakyRelu,
        Op::Linear,
        Op::Copy,
        Op::Pad,
        Op::DepthToSpace,
        Op::Resize,
        Op::Slice,
        Op::ToHwc,
        Op::FromHwc,
    ];

    /// The name's op token (one word, no underscore).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Spmm => "spmm",
            Op::Gemm => "gemm",
            Op::DwConv => "dwconv",
            Op::Conv => "conv",
            Op::GAvgPool => "gavgpool",
            Op::AvgPool => "avgpool",
            Op::MaxPool => "maxpool",
            Op::Add => "add",
            Op::Mul => "mul",
            Op::Sub => "sub",
            Op::ChMul => "chmul",
            Op::Prelu => "prelu",
            Op::Affine => "affine",
            Op::Softmax => "softmax",
            Op::Clamp => "clamp",
            Op::HardSigmoid => "hardsigmoid",
            Op::HardSwish => "hardswish",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::LeakyRelu => "leakyrelu",
            Op::Linear => "linear",
            Op::Copy => "copy",
            Op::Pad => "pad",
            Op::DepthToSpace => "depthtospace",
            Op::Resize => "resize",
            Op::Slice => "slice",
            Op::ToHwc => "tohwc",
            Op::FromHwc => "fromhwc",
        }
    }

    /// The op that applies activations of `kind`.
    pub fn of_act(kind: ActKind) -> Op {
        match kind {
            ActKind::Clamp => Op::Clamp,
            ActKind::HardSigmoid => Op::HardSigmoid,
            ActKind::HardSwish => Op::HardSwish,
            ActKind::Sigmoid => Op::Sigmoid,
            ActKind::Tanh => Op::Tanh,
            ActKind::LeakyRelu => Op::LeakyRelu,
        }
    }
}

/// The weight (CNN: data) type token: ggml's dense LLM blocks, the sparse LLM formats
/// ([`SparseFormat::name`]), or `f32` for every CNN kernel.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q8_0,
    G16i4,
    G8i4,
    G16i8,
    G8i8,
    Nm24i8,
    Csr8,
    Cm32i8,
    Cm32i4,
}

impl WType {
    pub const ALL: [WType; 13] = [
        WType::F32,
        WType::F16,
        WType::Q4_0,
        WType::Q4_1,
        WType::Q8_0,
        WType::G16i4,
        WType::G8i4,
        WType::G16i8,
        WType::G8i8,
        WType::Nm24i8,
        WType::Csr8,
        WType::Cm32i8,
        WType::Cm32i4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WType::F32 => "f32",
            WType::F16 => "f16",
            WType::Q4_0 => "q4_0",
            WType::Q4_1 => "q4_1",
            WType::Q8_0 => "q8_0",
            WType::G16i4 => "g16i4",
            WType::G8i4 => "g8i4",
            WType::G16i8 => "g16i8",
            WType::G8i8 => "g8i8",
            WType::Nm24i8 => "nm24i8",
            WType::Csr8 => "csr8",
            WType::Cm32i8 => "cm32i8",
            WType::Cm32i4 => "cm32i4",
        }
    }

    /// The dense LLM block type this names, if any.
    pub fn dense(self) -> Option<WeightType> {
        WeightType::ALL
            .into_iter()
            .find(|&w| WType::from(w) == self)
    }

    /// The sparse LLM format this names, if any (the format's name is the token).
    pub fn sparse(self) -> Option<SparseFormat> {
        SparseFormat::ALL
            .into_iter()
            .find(|f| f.name() == self.as_str())
    }

    /// The token of a sparse format.
    pub fn of_sparse(format: SparseFormat) -> Result<WType> {
        let name = format.name();
        WType::ALL
            .into_iter()
            .find(|w| w.as_str() == name)
            .ok_or_else(|| Error::UnknownKernel {
                name: format!("weight type {name}"),
            })
    }
}

impl From<WeightType> for WType {
    fn from(w: WeightType) -> WType {
        match w {
            WeightType::F32 => WType::F32,
            WeightType::F16 => WType::F16,
            WeightType::Q4_0 => WType::Q4_0,
            WeightType::Q4_1 => WType::Q4_1,
            WeightType::Q8_0 => WType::Q8_0,
        }
    }
}

/// Work per step of the kernel's inner loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tile {
    /// `<MR>x<NR>`: CNN kernels; MR output pixels (the contiguous CHW axis: one row's outputs
    /// for windowed ops, elements for elementwise ops and activations) × NR output channels.
    /// For `spmm` / `gemm` NR is also the block / panel width the weights are packed with.
    Pixels { mr: usize, nr: usize },
    /// `r<R>t<T>`: LLM products; R output rows (sharing each load of `x`) × T tokens (sharing
    /// each decoded weight). `t1` tiles are decode (GEMV) bodies, which take one token only.
    Rows { r: usize, t: usize },
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tile::Pixels { mr, nr } => write!(f, "{mr}x{nr}"),
            Tile::Rows { r, t } => write!(f, "r{r}t{t}"),
        }
    }
}

/// A kernel name's parts: `<op>_<wtype>_<tile>[_<K>x<K>s<S>]__<isa>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelName {
    pub op: Op,
    pub wtype: WType,
    pub tile: Tile,
    /// `Some((k, s))`: a fast path for k×k windows at stride s without dilation (any
    /// padding). `None`: every window, or the op has none.
    pub window: Option<(usize, usize)>,
    pub isa: Isa,
}

impl fmt::Display for KernelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}",
            self.op.as_str(),
            self.wtype.as_str(),
            self.tile
        )?;
        if let Some((k, s)) = self.window {
            write!(f, "_{k}x{k}s{s}")?;
        }
        write!(f, "__{}", self.isa.as_str())
    }
}

impl KernelName {
    /// The inverse of `Display`: `dwconv_f32_12x1_3x3s1__simd128` → its parts.
    pub fn parse(name: &str) -> Result<KernelName> {
        let bad = || Error::UnknownKernel { name: name.into() };
        let (body, isa) = name.split_once("__").ok_or_else(bad)?;
        let isa = [Isa::Scalar, Isa::Simd128, Isa::Relaxed]
            .into_iter()
            .find(|i| i.as_str() == isa)
            .ok_or_else(bad)?;
        let (op, rest) = body.split_once('_').ok_or_else(bad)?;
        let op = Op::ALL
            .into_iter()
            .find(|o| o.as_str() == op)
            .ok_or_else(bad)?;
        // wtypes may hold an underscore (q4_0): match the known tokens, not a split.
        let (wtype, rest) = WType::ALL
            .into_iter()
            .find_map(|w| Some((w, rest.strip_prefix(w.as_str())?.strip_prefix('_')?)))
            .ok_or_else(bad)?;
        let (tile, window) = match rest.split_once('_') {
            Some((tile, window)) => (tile, Some(window)),
            None => (rest, None),
        };
        let num = |s: &str| {
            s.parse::<usize>()
                .ok()
                .filter(|&v| v > 0 && !s.starts_with('0'))
        };
        let tile = if let Some((r, t)) = tile.strip_prefix('r').and_then(|rt| rt.split_once('t')) {
            Tile::Rows {
                r: num(r).ok_or_else(bad)?,
                t: num(t).ok_or_else(bad)?,
            }
        } else {
            let (mr, nr) = tile.split_once('x').ok_or_else(bad)?;
            Tile::Pixels {
                mr: num(mr).ok_or_else(bad)?,
                nr: num(nr).ok_or_else(bad)?,
            }
        };
        let window = match window {
            None => None,
            Some(w) => {
                let (kk, s) = w.split_once('s').ok_or_else(bad)?;
                let (k1, k2) = kk.split_once('x').ok_or_else(bad)?;
                let (k, s) = (num(k1).ok_or_else(bad)?, num(s).ok_or_else(bad)?);
                if num(k2) != Some(k) {
                    return Err(bad());
                }
                Some((k, s))
            }
        };
        let parsed = KernelName {
            op,
            wtype,
            tile,
            window,
            isa,
        };
        // One spelling per kernel: `08x4`, `r4t1_` and the like are refused.
        if parsed.to_string() != name {
            return Err(bad());
        }
        Ok(parsed)
    }
}

// ---- signatures ----------------------------------------------------------------------------

/// `(layer, X (c_in, hw), Y (c_out, hw), clamp, pixels)`.
pub(crate) type SpmmFn = unsafe fn(&SpmmLayer, &[f32], &mut [f32], Clamp, Range<usize>);
/// `(W, hw, X (c_in, hw), Y (c_out, hw), clamp, pixels)`.
pub(crate) type GemmFn = unsafe fn(&DenseWeights, usize, &[f32], &mut [f32], Clamp, Range<usize>);
pub(crate) type DwConvFn = unsafe fn(&DwConvWeights, &[f32], &mut [f32], Clamp, Range<usize>);
pub(crate) type ConvFn = unsafe fn(&ConvWeights, &[f32], &mut [f32], Clamp, Range<usize>);
/// `(x (C, HW), y (C), hw, channels)`.
pub(crate) type GlobalPoolFn = unsafe fn(&[f32], &mut [f32], usize, Range<usize>);
/// `(a, b, y, n, clamp)`: binary elementwise ops; `y` may be `a` or `b`.
pub(crate) type BinaryFn = unsafe fn(*const f32, *const f32, *mut f32, usize, Clamp);
/// `(x (C, HW), s (C), y (C, HW), hw, channels)`: per-channel ops; `y` may be `x`.
pub(crate) type ChannelMulFn = unsafe fn(*const f32, &[f32], *mut f32, usize, Range<usize>);
/// `(x (C, HW), scale (C), shift (C), y (C, HW), hw)`; `y` may be `x`.
pub(crate) type AffineFn = unsafe fn(*const f32, &[f32], &[f32], *mut f32, usize);
pub(crate) type ActFn = unsafe fn(&mut [f32], Activation);
pub(crate) type PoolFn = unsafe fn(&PoolParams, &[f32], &mut [f32], Range<usize>);
pub(crate) type SoftmaxFn = unsafe fn(&[f32], &mut [f32]);
/// `(params, x, y)`: the data-movement kernels.
pub(crate) type LayoutFn = unsafe fn(&super::cnn::Layout, &[f32], &mut [f32]);
/// Decode: `(w, n, x (n,), y (d,), rows)`, `y[r] = W[r, :] · x`, row `r` of `W` at
/// `w[r·row_bytes ..][.. row_bytes]`.
///
/// Safety: `n` is a multiple of the type's block length, `w` holds at least
/// `rows.end · row_bytes(n)` bytes, `x` at least `n` floats, `y` at least `rows.end` floats,
/// `rows.start ≤ rows.end`.
pub(crate) type GemvFn = unsafe fn(&[u8], usize, &[f32], &mut [f32], Range<usize>);
/// Prefill: `(w, n, d, X (t,n), t, Y (t,d), rows)`, `Y[tok, r] = X[tok, :] · W[r, :]`.
///
/// Safety: as [`GemvFn`], `x` holding `t·n` floats and `y` `t·d`, `rows.end ≤ d`.
pub(crate) type LinearFn = unsafe fn(&[u8], usize, usize, &[f32], usize, &mut [f32], Range<usize>);
/// `(w, X (t, cols), t, Y (t, w.rows), rows)`: `t1` tiles write `y[r]`, others
/// `y[tok·w.rows + r]`, r in rows.
///
/// Safety: `w.format` is the kernel's; `x` holds `t·w.cols` floats, `y` `t·w.rows`;
/// `rows.start ≤ rows.end ≤ w.rows`; `w` passed [`SparseMatrix::read`]'s checks (or came from
/// `pack`).
pub(crate) type SparseFn = unsafe fn(&SparseMatrix, &[f32], usize, &mut [f32], Range<usize>);

/// A kernel's function, by signature: each has one checked `run_*` method on [`Kernel`].
#[derive(Clone, Copy)]
pub(crate) enum KernelFn {
    Spmm(SpmmFn),
    Gemm(GemmFn),
    DwConv(DwConvFn),
    Conv(ConvFn),
    GlobalPool(GlobalPoolFn),
    Binary(BinaryFn),
    ChannelMul(ChannelMulFn),
    Affine(AffineFn),
    Act(ActFn),
    Pool(PoolFn),
    Softmax(SoftmaxFn),
    Layout(LayoutFn),
    Gemv(GemvFn),
    Linear(LinearFn),
    Sparse(SparseFn),
}

impl KernelFn {
    /// The signature's name, as the table's rows spell it.
    pub(crate) fn signature(&self) -> &'static str {
        match self {
            KernelFn::Spmm(_) => "Spmm",
            KernelFn::Gemm(_) => "Gemm",
            KernelFn::DwConv(_) => "DwConv",
            KernelFn::Conv(_) => "Conv",
            KernelFn::GlobalPool(_) => "GlobalPool",
            KernelFn::Binary(_) => "Binary",
            KernelFn::ChannelMul(_) => "ChannelMul",
            KernelFn::Affine(_) => "Affine",
            KernelFn::Act(_) => "Act",
            KernelFn::Pool(_) => "Pool",
            KernelFn::Softmax(_) => "Softmax",
            KernelFn::Layout(_) => "Layout",
            KernelFn::Gemv(_) => "Gemv",
            KernelFn::Linear(_) => "Linear",
            KernelFn::Sparse(_) => "Sparse",
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Kernel {
    pub name: &'static str,
    pub op: Op,
    pub wtype: WType,
    pub tile: Tile,
    pub window: Option<(usize, usize)>,
    pub isa: Isa,
    pub(crate) func: KernelFn,
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Every kernel row, in groups of one ISA: `$cb! { [$arg;] #[cfg] isa, { (name, Signature,
/// function), ... } }` per group, the ISA group's cfg included (SIMD rows exist on wasm32
/// only, relaxed ones in the `+relaxed-simd` build only). The library builds [`table`] from
/// it; `tests/it/kernel_table.rs` emits one named oracle test per row.
///
/// Name tokens: see [`crate::kernels`]. The tile of a SIMD kernel follows its generic
/// parameters: `spmm::<M, MV, NR>` and `gemm::<M, MV, NR>` are `<4·MV>x<NR>`;
/// `dwconv::<M, K, S, MV>` is `<4·MV>x1_<K>x<K>s<S>`; `conv::<M, K, S, NR>` is
/// `4x<NR>_<K>x<K>s<S>`; `gemv_*::<M, .., R>` is `r<R>t1`.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_kernel {
    ($cb:ident $(, $arg:ident)?) => {
        $cb! { $($arg;)? #[cfg(all())] scalar, {
            (spmm_f32_8x1, Spmm, $crate::kernels::scalar::spmm::spmm::<8, 1>),
            (spmm_f32_8x2, Spmm, $crate::kernels::scalar::spmm::spmm::<8, 2>),
            (spmm_f32_8x4, Spmm, $crate::kernels::scalar::spmm::spmm::<8, 4>),
            (spmm_f32_8x8, Spmm, $crate::kernels::scalar::spmm::spmm::<8, 8>),
            (gemm_f32_8x1, Gemm, $crate::kernels::scalar::gemm::gemm::<8, 1>),
            (gemm_f32_8x2, Gemm, $crate::kernels::scalar::gemm::gemm::<8, 2>),
            (gemm_f32_8x4, Gemm, $crate::kernels::scalar::gemm::gemm::<8, 4>),
            (gemm_f32_8x8, Gemm, $crate::kernels::scalar::gemm::gemm::<8, 8>),
            (dwconv_f32_1x1, DwConv, $crate::kernels::cnn::scalar::dwconv::dwconv_any),
            (conv_f32_1x1, Conv, $crate::kernels::cnn::scalar::conv::conv_any),
            (gavgpool_f32_1x1, GlobalPool, $crate::kernels::cnn::scalar::elementwise::global_avg_pool),
            (add_f32_1x1, Binary, $crate::kernels::cnn::scalar::elementwise::add),
            (mul_f32_1x1, Binary, $crate::kernels::cnn::scalar_ops::mul),
            (sub_f32_1x1, Binary, $crate::kernels::cnn::scalar_ops::sub),
            (chmul_f32_1x1, ChannelMul, $crate::kernels::cnn::scalar::elementwise::channel_mul),
            (prelu_f32_1x1, ChannelMul, $crate::kernels::cnn::scalar_ops::prelu),
            (affine_f32_1x1, Affine, $crate::kernels::cnn::scalar_ops::affine),
            (clamp_f32_1x1, Act, $crate::kernels::cnn::scalar::act::act),
            (hardsigmoid_f32_1x1, Act, $crate::kernels::cnn::scalar::act::act),
            (hardswish_f32_1x1, Act, $crate::kernels::cnn::scalar::act::act),
            (sigmoid_f32_1x1, Act, $crate::kernels::cnn::scalar::act::act),
            // The one tanh for every ISA (std's tanh: no vector version of it to match).
            (tanh_f32_1x1, Act, $crate::kernels::cnn::scalar::act::act),
            (leakyrelu_f32_1x1, Act, $crate::kernels::cnn::scalar::act::act),
            (avgpool_f32_1x1, Pool, $crate::kernels::cnn::scalar::pool::avg_pool),
            (maxpool_f32_1x1, Pool, $crate::kernels::cnn::scalar::pool::max_pool),
            (softmax_f32_1x1, Softmax, $crate::kernels::cnn::scalar::pool::softmax),
            (copy_f32_1x1, Layout, $crate::kernels::cnn::layout::copy),
            (pad_f32_1x1, Layout, $crate::kernels::cnn::layout::pad),
            (depthtospace_f32_1x1, Layout, $crate::kernels::cnn::layout::depth_to_space),
            (resize_f32_1x1, Layout, $crate::kernels::cnn::layout::resize),
            (slice_f32_1x1, Layout, $crate::kernels::cnn::layout::slice),
            (tohwc_f32_1x1, Layout, $crate::kernels::cnn::layout::to_hwc),
            (fromhwc_f32_1x1, Layout, $crate::kernels::cnn::layout::from_hwc),
            (linear_f32_r1t1, Gemv, $crate::kernels::llm::scalar::gemv_f32),
            (linear_f16_r1t1, Gemv, $crate::kernels::llm::scalar::gemv_f16),
            (linear_q4_0_r1t1, Gemv, $crate::kernels::llm::scalar::gemv_q::<$crate::kernels::llm::block::BlockQ4_0>),
            (linear_q4_1_r1t1, Gemv, $crate::kernels::llm::scalar::gemv_q::<$crate::kernels::llm::block::BlockQ4_1>),
            (linear_q8_0_r1t1, Gemv, $crate::kernels::llm::scalar::gemv_q::<$crate::kernels::llm::block::BlockQ8_0>),
            (linear_f32_r1t4, Linear, $crate::kernels::llm::gemm_scalar::gemm::<$crate::kernels::llm::block::F32>),
            (linear_f16_r1t4, Linear, $crate::kernels::llm::gemm_scalar::gemm::<$crate::kernels::llm::block::F16>),
            (linear_q4_0_r1t4, Linear, $crate::kernels::llm::gemm_scalar::gemm::<$crate::kernels::llm::block::BlockQ4_0>),
            (linear_q4_1_r1t4, Linear, $crate::kernels::llm::gemm_scalar::gemm::<$crate::kernels::llm::block::BlockQ4_1>),
            (linear_q8_0_r1t4, Linear, $crate::kernels::llm::gemm_scalar::gemm::<$crate::kernels::llm::block::BlockQ8_0>),
            (linear_g16i4_r1t1, Sparse, $crate::kernels::llm::sparse_scalar::gemv_group),
            (linear_g8i4_r1t1, Sparse, $crate::kernels::llm::sparse_scalar::gemv_group),
            (linear_g16i8_r1t1, Sparse, $crate::kernels::llm::sparse_scalar::gemv_group),
            (linear_g8i8_r1t1, Sparse, $crate::kernels::llm::sparse_scalar::gemv_group),
            (linear_nm24i8_r1t1, Sparse, $crate::kernels::llm::sparse_scalar::gemv_runs),
            (linear_csr8_r1t1, Sparse, $crate::kernels::llm::sparse_scalar::gemv_runs),
            (linear_g16i4_r1t4, Sparse, $crate::kernels::llm::sparse_scalar::gemm_runs),
            (linear_g8i4_r1t4, Sparse, $crate::kernels::llm::sparse_scalar::gemm_runs),
            (linear_g16i8_r1t4, Sparse, $crate::kernels::llm::sparse_scalar::gemm_runs),
            (linear_g8i8_r1t4, Sparse, $crate::kernels::llm::sparse_scalar::gemm_runs),
            (linear_nm24i8_r1t4, Sparse, $crate::kernels::llm::sparse_scalar::gemm_runs),
            (linear_csr8_r1t4, Sparse, $crate::kernels::llm::sparse_scalar::gemm_runs),
            (linear_cm32i8_r32t1, Sparse, $crate::kernels::llm::col_scalar::gemv_col::<false>),
            (linear_cm32i4_r32t1, Sparse, $crate::kernels::llm::col_scalar::gemv_col::<true>),
            (linear_cm32i8_r32t16, Sparse, $crate::kernels::llm::col_scalar::gemm_col::<false>),
            (linear_cm32i4_r32t16, Sparse, $crate::kernels::llm::col_scalar::gemm_col::<true>),
        } }
        $crate::__madd_kernels! { $cb $(, $arg)?; #[cfg(target_arch = "wasm32")] simd128,
            $crate::kernels::simd128::MulAdd, {
            // No multiply-add in these (or, for the activations, the same arithmetic either
            // way), so no relaxed twins.
            (gavgpool_f32_16x1, GlobalPool, $crate::kernels::cnn::simd128::elementwise::global_avg_pool),
            (add_f32_4x1, Binary, $crate::kernels::cnn::simd128::elementwise::add),
            (chmul_f32_4x1, ChannelMul, $crate::kernels::cnn::simd128::elementwise::channel_mul),
            (clamp_f32_4x1, Act, $crate::kernels::cnn::simd128::act::act::<$crate::kernels::simd128::MulAdd>),
            (leakyrelu_f32_4x1, Act, $crate::kernels::cnn::simd128::act::act::<$crate::kernels::simd128::MulAdd>),
        } }
        $crate::__madd_kernels! { $cb $(, $arg)?;
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))] relaxed,
            $crate::kernels::simd128::Relaxed, {} }
    };
}

/// The SIMD rows generic over the multiply-add `$m` (see [`for_each_kernel!`]), plus `$extra`.
#[doc(hidden)]
#[macro_export]
macro_rules! __madd_kernels {
    ($cb:ident $(, $arg:ident)?; #[$cfg:meta] $isa:ident, $m:ty, { $($extra:tt)* }) => {
        $cb! { $($arg;)? #[$cfg] $isa, {
            (spmm_f32_8x1, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 2, 1>),
            (spmm_f32_8x2, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 2, 2>),
            (spmm_f32_8x4, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 2, 4>),
            (spmm_f32_8x8, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 2, 8>),
            (spmm_f32_16x1, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 4, 1>),
            (spmm_f32_16x2, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 4, 2>),
            (spmm_f32_16x4, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 4, 4>),
            (spmm_f32_16x8, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 4, 8>),
            (spmm_f32_24x1, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 6, 1>),
            (spmm_f32_24x2, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 6, 2>),
            (spmm_f32_24x4, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 6, 4>),
            (spmm_f32_24x8, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 6, 8>),
            (spmm_f32_32x1, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 8, 1>),
            (spmm_f32_32x2, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 8, 2>),
            (spmm_f32_32x4, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 8, 4>),
            (spmm_f32_32x8, Spmm, $crate::kernels::simd128::spmm::spmm::<$m, 8, 8>),
            (gemm_f32_4x8, Gemm, $crate::kernels::simd128::gemm::gemm::<$m, 1, 8>),
            (gemm_f32_8x4, Gemm, $crate::kernels::simd128::gemm::gemm::<$m, 2, 4>),
            (gemm_f32_8x8, Gemm, $crate::kernels::simd128::gemm::gemm::<$m, 2, 8>),
            (gemm_f32_12x4, Gemm, $crate::kernels::simd128::gemm::gemm::<$m, 3, 4>),
            (gemm_f32_16x2, Gemm, $crate::kernels::simd128::gemm::gemm::<$m, 4, 2>),
            (gemm_f32_16x4, Gemm, $crate::kernels::simd128::gemm::gemm::<$m, 4, 4>),
            // MV (output vectors per dwconv tile): enough independent add chains to cover
            // the add latency without spilling the K² weight vectors.
            (dwconv_f32_12x1_3x3s1, DwConv, $crate::kernels::cnn::simd128::dwconv::dwconv::<$m, 3, 1, 3>),
            (dwconv_f32_8x1_3x3s2, DwConv, $crate::kernels::cnn::simd128::dwconv::dwconv::<$m, 3, 2, 2>),
            (dwconv_f32_8x1_5x5s1, DwConv, $crate::kernels::cnn::simd128::dwconv::dwconv::<$m, 5, 1, 2>),
            (dwconv_f32_8x1_5x5s2, DwConv, $crate::kernels::cnn::simd128::dwconv::dwconv::<$m, 5, 2, 2>),
            (conv_f32_4x8_3x3s1, Conv, $crate::kernels::cnn::simd128::conv::conv::<$m, 3, 1, 8>),
            (conv_f32_4x8_3x3s2, Conv, $crate::kernels::cnn::simd128::conv::conv::<$m, 3, 2, 8>),
            (hardsigmoid_f32_4x1, Act, $crate::kernels::cnn::simd128::act::act::<$m>),
            (hardswish_f32_4x1, Act, $crate::kernels::cnn::simd128::act::act::<$m>),
            (sigmoid_f32_4x1, Act, $crate::kernels::cnn::simd128::act::act::<$m>),
            (linear_f32_r4t1, Gemv, $crate::kernels::llm::simd128::gemv::<$m, $crate::kernels::llm::block::F32, 4>),
            (linear_q4_0_r4t1, Gemv, $crate::kernels::llm::simd128::gemv::<$m, $crate::kernels::llm::block::BlockQ4_0, 4>),
            (linear_q4_1_r4t1, Gemv, $crate::kernels::llm::simd128::gemv::<$m, $crate::kernels::llm::block::BlockQ4_1, 4>),
            (linear_q8_0_r4t1, Gemv, $crate::kernels::llm::simd128::gemv::<$m, $crate::kernels::llm::block::BlockQ8_0, 4>),
            (linear_f32_r1t4, Linear, $crate::kernels::llm::gemm_simd128::gemm::<$m, $crate::kernels::llm::block::F32>),
            (linear_q4_0_r1t4, Linear, $crate::kernels::llm::gemm_simd128::gemm::<$m, $crate::kernels::llm::block::BlockQ4_0>),
            (linear_q4_1_r1t4, Linear, $crate::kernels::llm::gemm_simd128::gemm::<$m, $crate::kernels::llm::block::BlockQ4_1>),
            (linear_q8_0_r1t4, Linear, $crate::kernels::llm::gemm_simd128::gemm::<$m, $crate::kernels::llm::block::BlockQ8_0>),
            (linear_g16i4_r1t1, Sparse, $crate::kernels::llm::sparse_simd128::gemv_group::<$m, 16, true>),
            (linear_g8i4_r1t1, Sparse, $crate::kernels::llm::sparse_simd128::gemv_group::<$m, 8, true>),
            (linear_g16i8_r1t1, Sparse, $crate::kernels::llm::sparse_simd128::gemv_group::<$m, 16, false>),
            (linear_g8i8_r1t1, Sparse, $crate::kernels::llm::sparse_simd128::gemv_group::<$m, 8, false>),
            (linear_nm24i8_r1t1, Sparse, $crate::kernels::llm::nm_simd128::gemv_nm::<$m>),
            (linear_csr8_r1t1, Sparse, $crate::kernels::llm::nm_simd128::gemv_csr::<$m>),
            (linear_g16i4_r1t4, Sparse, $crate::kernels::llm::sparse_simd128::gemm_group::<$m, 16, true>),
            (linear_g8i4_r1t4, Sparse, $crate::kernels::llm::sparse_simd128::gemm_group::<$m, 8, true>),
            (linear_g16i8_r1t4, Sparse, $crate::kernels::llm::sparse_simd128::gemm_group::<$m, 16, false>),
            (linear_g8i8_r1t4, Sparse, $crate::kernels::llm::sparse_simd128::gemm_group::<$m, 8, false>),
            (linear_nm24i8_r1t4, Sparse, $crate::kernels::llm::nm_simd128::gemm_nm::<$m>),
            (linear_csr8_r1t4, Sparse, $crate::kernels::llm::nm_simd128::gemm_csr::<$m>),
            (linear_cm32i8_r32t1, Sparse, $crate::kernels::llm::col_simd128::gemv_col::<$m, false>),
            (linear_cm32i4_r32t1, Sparse, $crate::kernels::llm::col_simd128::gemv_col::<$m, true>),
            (linear_cm32i8_r32t16, Sparse, $crate::kernels::llm::col_simd128::gemm_col::<$m, false>),
            (linear_cm32i4_r32t16, Sparse, $crate::kernels::llm::col_simd128::gemm_col::<$m, true>),
            $($extra)*
        } }
    };
}

/// A row as the macro writes it: the full name and the function.
struct Row {
    name: &'static str,
    func: KernelFn,
}

/// `for_each_kernel!` callback: pushes one ISA group's rows onto `$v`.
macro_rules! push_rows {
    ($v:ident; #[$cfg:meta] $isa:ident, { $(($name:ident, $sig:ident, $f:expr)),* $(,)? }) => {
        #[$cfg]
        $v.extend([$(Row {
            name: concat!(stringify!($name), "__", stringify!($isa)),
            func: KernelFn::$sig($f),
        }),*]);
    };
}

fn build() -> Vec<Kernel> {
    let mut rows: Vec<Row> = Vec::new();
    crate::for_each_kernel!(push_rows, rows);
    rows.into_iter()
        .map(|r| {
            // The names are this file's literals: `tests/it/kernel_table.rs` parses every one.
            let p = KernelName::parse(r.name).expect("every table name parses");
            Kernel {
                name: r.name,
                op: p.op,
                wtype: p.wtype,
                tile: p.tile,
                window: p.window,
                isa: p.isa,
                func: r.func,
            }
        })
        .collect()
}

/// Every kernel this build has, each listed once, scalar ones first.
pub fn table() -> &'static [Kernel] {
    static TABLE: OnceLock<Vec<Kernel>> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// The kernel called `name`, or `UnknownKernel`.
pub fn find(name: &str) -> Result<&'static Kernel> {
    table()
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::UnknownKernel { name: name.into() })
}

/// What [`best`] must fit beyond op, wtype and ISA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Nothing: kernels that take every window (or have none).
    Any,
    /// A k×k window at stride s, no dilation: its fast path if one exists, else an
    /// every-window kernel.
    Window(usize, usize),
    /// `t` tokens of [`Op::Linear`]: a `t1` (decode) tile for one token, a multi-token
    /// (prefill) tile otherwise.
    Tokens(usize),
}

impl Kernel {
    /// The parsed name.
    pub fn parts(&self) -> KernelName {
        KernelName {
            op: self.op,
            wtype: self.wtype,
            tile: self.tile,
            window: self.window,
            isa: self.isa,
        }
    }

    /// Output pixels per step (`<MR>x<NR>` tiles; 0 for `r<R>t<T>`).
    pub fn mr(&self) -> usize {
        match self.tile {
            Tile::Pixels { mr, .. } => mr,
            Tile::Rows { .. } => 0,
        }
    }

    /// Output channels per step, = the block / panel width of `spmm` / `gemm` weights
    /// (`<MR>x<NR>` tiles; 0 for `r<R>t<T>`).
    pub fn nr(&self) -> usize {
        match self.tile {
            Tile::Pixels { nr, .. } => nr,
            Tile::Rows { .. } => 0,
        }
    }

    /// The name of this kernel's signature (`Spmm`, `Gemv`, `Act`, ...): which `run_*` runs it.
    pub fn signature(&self) -> &'static str {
        self.func.signature()
    }

    fn fits(&self, shape: Shape) -> bool {
        match (shape, self.tile) {
            (Shape::Any, _) => self.window.is_none(),
            (Shape::Window(k, s), _) => self.window.is_none_or(|w| w == (k, s)),
            (Shape::Tokens(t), Tile::Rows { t: tile_t, .. }) => (t == 1) == (tile_t == 1),
            (Shape::Tokens(_), Tile::Pixels { .. }) => false,
        }
    }
}

/// The kernel the plan / forward pass uses: among `op`'s kernels for `wtype` that fit `shape`,
/// the best ISA up to `isa`, then a fixed-window fast path before an every-window kernel.
pub fn best(op: Op, wtype: WType, isa: Isa, shape: Shape) -> Result<&'static Kernel> {
    table()
        .iter()
        .filter(|k| k.op == op && k.wtype == wtype && k.isa <= isa && k.fits(shape))
        .min_by_key(|k| (std::cmp::Reverse(k.isa), k.window.is_none()))
        .ok_or_else(|| Error::UnknownKernel {
            name: format!(
                "{}_{} for {shape:?} up to {}",
                op.as_str(),
                wtype.as_str(),
                isa.as_str()
            ),
        })
}

// ---- checked entry points: 1x1 CNN and LLM products (CNN others: `cnn::run`) ---------------

impl Kernel {
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
        self.check_pointwise(layer.shape(), layer.hw(), x, y, &pixels)?;
        // Safety: the check proved buffer sizes, pixel range and block width; `SpmmLayer` can
        // only be built by `bind`, which validated every delta against `c_in`.
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
        self.check_pointwise(w.shape(), hw, x, y, &pixels)?;
        // Safety: the check proved buffer sizes, pixel range and panel width.
        unsafe { f(w, hw, x, y, clamp, pixels) };
        Ok(())
    }

    fn check_pointwise(
        &self,
        shape: &WeightShape,
        hw: usize,
        x: &[f32],
        y: &[f32],
        pixels: &Range<usize>,
    ) -> Result<()> {
        let (c_out, c_in, packed_nr) = (shape.c_out, shape.c_in, shape.nr);
        let nr = self.nr();
        if packed_nr != nr {
            return Err(Error::Unsupported {
                what: format!("kernel {}: weights packed with width", self.name),
                value: packed_nr.to_string(),
                expected: nr.to_string(),
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

    /// Dense LLM product `Y (t,d)[:, rows] = X (t,n) @ W (d,n)[rows, :]ᵀ`, `w` holding `d` rows
    /// of whole blocks of this kernel's wtype. Decode (`t1`) tiles take `t` = 1 only. Other
    /// entries of `y` are left untouched.
    #[allow(clippy::too_many_arguments)]
    pub fn run_linear(
        &self,
        w: &[u8],
        d: usize,
        n: usize,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        rows: Range<usize>,
    ) -> Result<()> {
        let Some(ty) = self.wtype.dense() else {
            return Err(self.wrong_op("dense weight blocks"));
        };
        // A decode body takes one token; t = 0 is an empty prefill, as before the table.
        let decode = matches!(self.func, KernelFn::Gemv(_));
        if decode {
            self.check_tokens(self.name, t)?;
        }
        super::llm::check_dense(self.name, ty, w, d, n, (x, y), t, &rows)?;
        match self.func {
            // Safety (both): checked just above.
            KernelFn::Gemv(f) => unsafe { f(w, n, x, y, rows) },
            KernelFn::Linear(f) => unsafe { f(w, n, d, x, t, y, rows) },
            _ => return Err(self.wrong_op("dense weight blocks")),
        }
        Ok(())
    }

    /// Sparse LLM product: `t1` tiles `y[rows] = W[rows, :] @ x (cols,)` (`t` = 1), others
    /// `Y (t, w.rows)[:, rows] = X (t, cols) @ W[rows, :]ᵀ`. Other entries of `y` are left
    /// untouched.
    pub fn run_sparse(
        &self,
        w: &SparseMatrix,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        rows: Range<usize>,
    ) -> Result<()> {
        let KernelFn::Sparse(f) = self.func else {
            return Err(self.wrong_op("a sparse matrix"));
        };
        if !w.consistent() {
            return Err(Error::MalformedSparse {
                tensor: w.name.clone(),
                detail: "format, rows or cols changed after packing".into(),
            });
        }
        if self.wtype.sparse() != Some(w.format) {
            return Err(Error::Unsupported {
                what: format!("kernel {} on {}", self.name, w.name),
                value: w.format.name(),
                expected: self.wtype.as_str().into(),
            });
        }
        self.check_tokens(&w.name, t)?;
        if rows.start > rows.end || rows.end > w.rows {
            return Err(Error::DimOutOfRange {
                tensor: w.name.clone(),
                what: "row range end".into(),
                value: rows.end as u64,
                limit: format!("start ≤ end ≤ rows = {}", w.rows),
            });
        }
        let big = |what: &str| Error::DimOutOfRange {
            tensor: w.name.clone(),
            what: what.into(),
            value: t as u64,
            limit: "t · dims must fit in memory".into(),
        };
        let need_x = t.checked_mul(w.cols).ok_or_else(|| big("t · cols"))?;
        let need_y = t.checked_mul(w.rows).ok_or_else(|| big("t · rows"))?;
        for (buffer, len, need) in [("x", x.len(), need_x), ("y", y.len(), need_y)] {
            if len < need {
                return Err(Error::BufferTooSmall {
                    kernel: self.name.into(),
                    buffer: buffer.into(),
                    expected: need,
                    got: len,
                });
            }
        }
        // Safety: checked just above; `w`'s arrays were validated when it was built.
        unsafe { f(w, x, t, y, rows) };
        Ok(())
    }

    /// `t ≥ 1`, and exactly 1 for a decode (`t1`) tile.
    fn check_tokens(&self, tensor: &str, t: usize) -> Result<()> {
        let decode = matches!(self.tile, Tile::Rows { t: 1, .. });
        if t == 0 || (decode && t != 1) {
            return Err(Error::DimOutOfRange {
                tensor: tensor.into(),
                what: format!("tokens for {}", self.name),
                value: t as u64,
                limit: if decode { "1" } else { "≥ 1" }.into(),
            });
        }
        Ok(())
    }

    pub(crate) fn wrong_op(&self, given: &str) -> Error {
        Error::Unsupported {
            what: format!("kernel {} (op {})", self.name, self.op.as_str()),
            value: given.into(),
            expected: format!("{} operands ({})", self.op.as_str(), self.signature()),
        }
    }
}
