//! Dense GEMM on raw GGUF blocks (prefill): `X (t,n) @ Wᵀ -> Y (t,d)`, `W (d,n)` as the GEMV
//! kernels read it. Each block is decoded to f32 once per tile of T tokens instead of once
//! per token. Names: `gemm_<wtype>_r<R>t<T>_<isa>`; [`gemm_kernels`] is the one list.

use super::{Isa, WeightType};
use crate::error::{Error, Result};
use std::ops::Range;
use std::sync::OnceLock;

/// `(w, n, d, x (t,n), t, y (t,d), rows)`: `Y[tok, r] = X[tok, :] · W[r, :]` for r in rows.
///
/// Safety: `n` is a multiple of the type's block length, `w` holds `d · row_bytes(n)` bytes,
/// `x` `t·n` floats, `y` `t·d`, `rows.start ≤ rows.end ≤ d`.
pub(crate) type GemmFn = unsafe fn(&[u8], usize, usize, &[f32], usize, &mut [f32], Range<usize>);

/// One registered dense GEMM kernel.
#[derive(Clone, Copy)]
pub struct GemmKernel {
    pub name: &'static str,
    pub ty: WeightType,
    /// Rows computed together.
    pub rows: usize,
    /// Tokens sharing each decoded block.
    pub tokens: usize,
    pub isa: Isa,
    func: GemmFn,
}

impl std::fmt::Debug for GemmKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl GemmKernel {
    /// `Y (t,d)[:, rows] = X (t,n) @ W (d,n)[rows, :]ᵀ`, `w` holding `d` rows of blocks. Other
    /// entries of `y` are left untouched.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        w: &[u8],
        d: usize,
        n: usize,
        x: &[f32],
        t: usize,
        y: &mut [f32],
        rows: Range<usize>,
    ) -> Result<()> {
        super::check_dense(self.name, self.ty, w, d, n, (x, y), t, &rows)?;
        // Safety: checked just above.
        unsafe { (self.func)(w, n, d, x, t, y, rows) };
        Ok(())
    }
}

/// `[(type, "type", Isa, "isa", fn), ...]` → r1t4 kernels named by the grammar.
macro_rules! gemm_list {
    ($(($ty:ident, $tys:literal, $isa:ident, $isas:literal, $f:expr)),* $(,)?) => {
        [$(GemmKernel {
            name: concat!("gemm_", $tys, "_r1t4_", $isas),
            ty: WeightType::$ty,
            rows: 1,
            tokens: 4,
            isa: Isa::$isa,
            func: $f,
        }),*]
    };
}

/// Every dense GEMM kernel of this build, scalar ones first.
pub fn gemm_kernels() -> &'static [GemmKernel] {
    static LIST: OnceLock<Vec<GemmKernel>> = OnceLock::new();
    LIST.get_or_init(|| {
        use super::block::{BlockQ4_0, BlockQ4_1, BlockQ8_0, F16, F32};
        use super::gemm_scalar::gemm;
        #[allow(unused_mut)]
        let mut v = Vec::from(gemm_list! {
            (F32, "f32", Scalar, "scalar", gemm::<F32>),
            (F16, "f16", Scalar, "scalar", gemm::<F16>),
            (Q4_0, "q4_0", Scalar, "scalar", gemm::<BlockQ4_0>),
            (Q4_1, "q4_1", Scalar, "scalar", gemm::<BlockQ4_1>),
            (Q8_0, "q8_0", Scalar, "scalar", gemm::<BlockQ8_0>),
        });
        #[cfg(target_arch = "wasm32")]
        {
            use super::gemm_simd128 as g;
            use crate::kernels::simd128::MulAdd as M;
            v.extend(gemm_list! {
                (F32, "f32", Simd128, "simd128", g::gemm::<M, F32>),
                (Q4_0, "q4_0", Simd128, "simd128", g::gemm::<M, BlockQ4_0>),
                (Q4_1, "q4_1", Simd128, "simd128", g::gemm::<M, BlockQ4_1>),
                (Q8_0, "q8_0", Simd128, "simd128", g::gemm::<M, BlockQ8_0>),
            });
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        {
            use super::gemm_simd128 as g;
            use crate::kernels::simd128::Relaxed as M;
            v.extend(gemm_list! {
                (F32, "f32", Relaxed, "relaxed", g::gemm::<M, F32>),
                (Q4_0, "q4_0", Relaxed, "relaxed", g::gemm::<M, BlockQ4_0>),
                (Q4_1, "q4_1", Relaxed, "relaxed", g::gemm::<M, BlockQ4_1>),
                (Q8_0, "q8_0", Relaxed, "relaxed", g::gemm::<M, BlockQ8_0>),
            });
        }
        v
    })
}

/// The GEMM the prefill uses for `ty`: the best ISA this build has for it.
pub fn best_gemm(ty: WeightType) -> &'static GemmKernel {
    gemm_kernels()
        .iter()
        .filter(|k| k.ty == ty)
        .max_by_key(|k| k.isa)
        .expect("every WeightType has a scalar GEMM")
}

/// Looks a dense GEMM kernel up by name.
pub fn find_gemm(name: &str) -> Result<&'static GemmKernel> {
    gemm_kernels()
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::UnknownKernel { name: name.into() })
}
