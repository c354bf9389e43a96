//! Every CPU kernel: CNN ops on CHW tensors and the LLM products, each as a naive oracle
//! (`reference`, `cnn::reference`), portable scalar code and, on wasm32, SIMD128 code plus a
//! relaxed-SIMD (fused multiply-add) variant in the relaxed build. [`table`](mod@table) is the
//! one list of them.
//!
//! Kernels take a range of pixels, channels or rows, so a caller (later a thread pool) can
//! split the work without the kernels changing.
//!
//! # Names
//!
//! `<op>_<wtype>_<tile>[_<K>x<K>s<S>]__<isa>`, e.g. `spmm_f32_32x1__simd128` (XNNPACK's
//! classic WASM SpMM tile), `dwconv_f32_8x1_3x3s2__relaxed` (MobileNet's strided depthwise
//! layer), `linear_q4_0_r4t1__simd128` (Q4_0 decode, 4 rows at a time).
//! - `op`, one word: `spmm` (packed sparse `W (c_out,c_in) @ X (c_in,hw)`), `gemm` (the same
//!   product on panel-packed dense `W`), `dwconv` (depthwise conv), `conv` (full conv,
//!   groups = 1: the stem), `gavgpool` (global average pool), `avgpool`, `maxpool`, `add`
//!   (residual add), `mul`, `sub` (same-shape elementwise), `chmul` (per-channel multiply,
//!   squeeze-and-excitation), `prelu`, `affine` (per-channel scale and shift), `softmax`, the
//!   activations `clamp` (ReLU, ReLU6, Clip), `hardsigmoid`, `hardswish`, `sigmoid`, `tanh`,
//!   `leakyrelu`, the data movement `copy`, `pad`, `depthtospace`, `resize` (bilinear),
//!   `slice`, `tohwc`, `fromhwc` (`cnn::Layout`), and `linear`: the LLM product
//!   `X (t,n) @ W (d,n)ᵀ -> Y (t,d)` (not `gemm`: that is `W·X` on CHW activations), decode
//!   and prefill alike. Every step of a CNN plan is one of these kernels.
//! - `wtype`: `f32` for every CNN kernel; for `linear` ggml's dense blocks `f32`, `f16`,
//!   `q4_0`, `q4_1`, `q8_0` (layouts in [`llm`]) or a sparse LLM format ([`crate::sparse::llm`]):
//!   `g16i4`, `g8i4`, `g16i8`, `g8i8` (kept groups of 16 / 8 columns, int4 / int8), `nm24i8`
//!   (2:4), `csr8`, `cm32i8`, `cm32i4` (column-major 32-row tiles that skip zero inputs).
//! - `tile`, the work of one step: CNN kernels `<MR>x<NR>`, MR output pixels (one row's
//!   outputs for windowed ops, elements for elementwise ops and activations: 4 per SIMD128
//!   vector; `1x1` for scalar kernels that step one output at a time) × NR output channels,
//!   where for `spmm` / `gemm` NR is also the block / panel width the weights must be packed
//!   with; `linear` `r<R>t<T>`, R output rows sharing each
//!   load of `x` × T tokens sharing each decoded weight. `t1` tiles are decode (GEMV) bodies
//!   and take one token; [`best`] picks the tile from the token count.
//! - `<K>x<K>s<S>`, fast paths only: the kernel takes K×K windows at stride S without
//!   dilation (any padding). Kernels that take every window have no window part.
//! - `isa`: `scalar` (portable Rust), `simd128` (wasm f32x4 mul + add), `relaxed`
//!   (`f32x4.relaxed_madd`; only in the `+relaxed-simd` build). An op gets a `relaxed`
//!   variant only if it multiplies and adds.
//!
//! [`KernelName::parse`] takes a name apart; [`find`] looks one up, [`best`] picks one for
//! (op, wtype, isa, shape); each signature has one checked `run_*` on [`Kernel`].

pub mod cnn;
pub mod llm;
pub mod reference;
pub mod scalar;
pub mod selector;
#[cfg(target_arch = "wasm32")]
pub mod simd128;
pub mod table;

pub use selector::{select, sparse_kernel, Choice, LayerStats};
pub use table::{best, find, table, Kernel, KernelName, Op, Shape, Tile, WType};

/// The instruction set a kernel is written for, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
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

/// Output clamp fused into every kernel's epilogue (XNNPACK's "minmax").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clamp {
    pub min: f32,
    pub max: f32,
}

impl Clamp {
    pub const NONE: Clamp = Clamp {
        min: f32::NEG_INFINITY,
        max: f32::INFINITY,
    };
    pub const RELU: Clamp = Clamp {
        min: 0.0,
        max: f32::INFINITY,
    };
    pub const RELU6: Clamp = Clamp { min: 0.0, max: 6.0 };

    /// `none`, `relu` or `relu6`: the fused activations of MobileNet-family 1x1 layers.
    pub fn parse(s: &str) -> crate::Result<Clamp> {
        match s {
            "none" => Ok(Clamp::NONE),
            "relu" => Ok(Clamp::RELU),
            "relu6" => Ok(Clamp::RELU6),
            _ => Err(crate::Error::Unsupported {
                what: "activation".into(),
                value: s.into(),
                expected: "none, relu, relu6".into(),
            }),
        }
    }

    #[inline(always)]
    pub fn apply(self, v: f32) -> f32 {
        v.max(self.min).min(self.max)
    }
}

/// Runs a SIMD peak probe (see `simd128::peak`): `isa` is `simd128`, `relaxed` (relaxed build
/// only) or `split` (separate mul and add chains), `chains` ∈ {8, 10, 12, 14, 16}. Returns a checksum;
/// the flops done are `iters · chains · 8` (`iters · chains · 4` for `split`).
pub fn peak_probe(isa: &str, chains: u32, iters: u32) -> crate::Result<f32> {
    #[cfg(target_arch = "wasm32")]
    {
        use simd128::peak::probe;
        use simd128::MulAdd;
        match (isa, chains) {
            ("simd128", 8) => return Ok(probe::<MulAdd, 8>(iters)),
            ("simd128", 12) => return Ok(probe::<MulAdd, 12>(iters)),
            ("simd128", 14) => return Ok(probe::<MulAdd, 14>(iters)),
            ("simd128", 10) => return Ok(probe::<MulAdd, 10>(iters)),
            ("simd128", 16) => return Ok(probe::<MulAdd, 16>(iters)),
            ("split", 8) => return Ok(simd128::peak::probe_split::<8>(iters)),
            ("split", 12) => return Ok(simd128::peak::probe_split::<12>(iters)),
            ("split", 14) => return Ok(simd128::peak::probe_split::<14>(iters)),
            ("split", 10) => return Ok(simd128::peak::probe_split::<10>(iters)),
            ("split", 16) => return Ok(simd128::peak::probe_split::<16>(iters)),
            #[cfg(target_feature = "relaxed-simd")]
            ("relaxed", 8) => return Ok(probe::<simd128::Relaxed, 8>(iters)),
            #[cfg(target_feature = "relaxed-simd")]
            ("relaxed", 12) => return Ok(probe::<simd128::Relaxed, 12>(iters)),
            #[cfg(target_feature = "relaxed-simd")]
            ("relaxed", 10) => return Ok(probe::<simd128::Relaxed, 10>(iters)),
            #[cfg(target_feature = "relaxed-simd")]
            ("relaxed", 14) => return Ok(probe::<simd128::Relaxed, 14>(iters)),
            #[cfg(target_feature = "relaxed-simd")]
            ("relaxed", 16) => return Ok(probe::<simd128::Relaxed, 16>(iters)),
            _ => {}
        }
    }
    let _ = iters;
    Err(crate::Error::Unsupported {
        what: "peak probe (isa, chains)".into(),
        value: format!("({isa}, {chains})"),
        expected:
            "simd128, split or (relaxed build) relaxed, with 8, 10, 12, 14 or 16 chains, on wasm32"
                .into(),
    })
}
