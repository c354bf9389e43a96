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
