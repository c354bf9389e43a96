//! Kernels for CHW 1x1 convolution / FC: `Y (c_out, hw) = W (c_out, c_in) @ X (c_in, hw) + b`,
//! clamped. Each exists as a naive oracle (`reference`), portable scalar code and, on wasm32,
//! SIMD128 code plus a relaxed-SIMD (fused multiply-add) variant in the relaxed build.
//!
//! Kernels take a pixel range, so a caller (later a thread pool) can split the work without the
//! kernels changing. The `registry` is the one place a kernel is listed.

pub mod cnn;
pub mod llm;
pub mod reference;
pub mod registry;
pub mod scalar;
pub mod selector;
#[cfg(target_arch = "wasm32")]
pub mod simd128;

pub use registry::{find, registry, Isa, KernelInfo, OpKind};
pub use selector::{select, sparse_kernel, Choice, LayerStats};

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
