//! LLM kernels: matrix × vector on quantized weights kept as the GGUF stores them, decoded in
//! registers: `W (d, n) @ x (n,) -> y (d,)`.
//!
//! `W` is `d` rows of `n` weights, each row a run of whole blocks of its [`WeightType`]
//! (ggml's layouts, byte for byte: 32 weights per block, f16 scales). Nothing is dequantized
//! to memory: SmolLM2-135M stays at its 98 MB of Q4_1/Q8_0 blocks instead of 540 MB of f32.
//!
//! Per block of 32 weights the kernels compute `Σ q·x` (and `Σ x` for formats with an offset)
//! in f32 and fold in the block's scales: `d·Σq·x + m·Σx` (Q4_1), `d·Σ(q−8)·x` as
//! `d·Σq·x − 8d·Σx` (Q4_0), `d·Σq·x` (Q8_0). Activations stay f32, so results equal
//! dequantize-then-matmul up to the order of the f32 additions.
//!
//! In the kernel table ([`super::table`](mod@super::table)) they are op `linear`
//! (`X (t,n) @ W (d,n)ᵀ -> Y (t,d)`): `linear_<wtype>_r<R>t1__<isa>` for decode (GEMV, R rows
//! sharing each load of `x`), `linear_<wtype>_r<R>t<T>__<isa>` for prefill (GEMM, T tokens
//! sharing each decoded block), `wtype` ∈ {`f32`, `f16`, `q4_0`, `q4_1`, `q8_0`} or a sparse
//! LLM format ([`crate::sparse::llm`]: `g16i4`, `g8i4`, `g16i8`, `g8i8`, `nm24i8`, `csr8`,
//! and the column-major `cm32i8`, `cm32i4`, whose GEMV skips the input columns where x is
//! zero).
//!
//! Like the CNN kernels, they take a range of output rows: [`crate::llm::split`] cuts each
//! call over rows across the thread pool.

pub mod block;
pub(crate) mod col_scalar;
#[cfg(target_arch = "wasm32")]
pub(crate) mod col_simd128;
pub(crate) mod gemm_scalar;
#[cfg(target_arch = "wasm32")]
pub(crate) mod gemm_simd128;
#[cfg(target_arch = "wasm32")]
pub(crate) mod nm_simd128;
pub(crate) mod scalar;
#[cfg(target_arch = "wasm32")]
pub(crate) mod simd;
#[cfg(target_arch = "wasm32")]
pub(crate) mod simd128;
pub(crate) mod sparse_scalar;
#[cfg(target_arch = "wasm32")]
pub(crate) mod sparse_simd128;

use super::{best, Isa, Kernel, Op, Shape};
use crate::error::{Error, Result};
use std::ops::Range;

/// The weight formats the GEMV kernels read (ggml's names and block layouts).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightType {
    /// 4-byte little-endian f32 per weight.
    F32,
    /// 2-byte IEEE half per weight.
    F16,
    /// 18 bytes per 32 weights: f16 d, 16 bytes of nibbles (low: weights 0..16, high:
    /// 16..32); w = (q − 8)·d.
    Q4_0,
    /// 20 bytes per 32 weights: f16 d, f16 m, nibbles as Q4_0; w = q·d + m.
    Q4_1,
    /// 34 bytes per 32 weights: f16 d, 32 i8; w = q·d.
    Q8_0,
}

impl WeightType {
    pub const ALL: [WeightType; 5] = [
        WeightType::F32,
        WeightType::F16,
        WeightType::Q4_0,
        WeightType::Q4_1,
        WeightType::Q8_0,
    ];

    /// Weights per block.
    pub fn block_len(self) -> usize {
        match self {
            WeightType::F32 | WeightType::F16 => 1,
            _ => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            WeightType::F32 => 4,
            WeightType::F16 => 2,
            WeightType::Q4_0 => 18,
            WeightType::Q4_1 => 20,
            WeightType::Q8_0 => 34,
        }
    }

    /// Bytes of one row of `n` weights (`n` a multiple of [`WeightType::block_len`]).
    pub fn row_bytes(self, n: usize) -> usize {
        n / self.block_len() * self.block_bytes()
    }

    /// ggml's name ("Q4_1"), as in GGUF tensor infos.
    pub fn name(self) -> &'static str {
        match self {
            WeightType::F32 => "F32",
            WeightType::F16 => "F16",
            WeightType::Q4_0 => "Q4_0",
            WeightType::Q4_1 => "Q4_1",
            WeightType::Q8_0 => "Q8_0",
        }
    }

    /// Byte offsets of the f16 scales inside a block (checked finite at load, see
    /// [`check_scales`]).
    fn scale_offsets(self) -> &'static [usize] {
        match self {
            WeightType::F32 | WeightType::F16 => &[],
            WeightType::Q4_0 | WeightType::Q8_0 => &[0],
            WeightType::Q4_1 => &[0, 2],
        }
    }
}

impl std::fmt::Display for WeightType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// f16 bits → f32, exact for every finite half (normal or subnormal): the magnitude bits moved
/// into f32 position read as 2^-112 × the value, then one exact multiply by 2^112. Infinities
/// and NaNs come out finite (65536 × ...), which is why block scales are checked at load
/// ([`check_scales`]); 5 integer/float ops and no branch, unlike a general conversion.
#[inline(always)]
pub fn f16_finite(h: u16) -> f32 {
    let h = h as u32;
    let mag = f32::from_bits((h & 0x7fff) << 13) * f32::from_bits(0x7780_0000); // 2^112
    f32::from_bits(mag.to_bits() | ((h & 0x8000) << 16))
}

/// Checks that every block scale in `w` (whole blocks of `ty`) is finite, so the kernels'
/// branch-free f16 conversion is exact. Returns the index of the first bad block.
pub fn check_scales(ty: WeightType, w: &[u8]) -> std::result::Result<(), usize> {
    let offs = ty.scale_offsets();
    if offs.is_empty() {
        return Ok(());
    }
    for (i, b) in w.chunks_exact(ty.block_bytes()).enumerate() {
        for &o in offs {
            // exponent bits all ones: infinity or NaN
            if u16::from_le_bytes([b[o], b[o + 1]]) & 0x7c00 == 0x7c00 {
                return Err(i);
            }
        }
    }
    Ok(())
}

/// The checks every dense kernel (GEMV: `t` = 1, GEMM) runs before its unsafe body:
/// `W (d, n)` whole blocks of `ty` in `w`, `rows` inside `0..d`, `x` ≥ t·n and `y` ≥ t·d floats,
/// with every product overflow-checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_dense(
    name: &str,
    ty: WeightType,
    w: &[u8],
    d: usize,
    n: usize,
    (x, y): (&[f32], &[f32]),
    t: usize,
    rows: &Range<usize>,
) -> Result<()> {
    let bl = ty.block_len();
    if n % bl != 0 {
        return Err(Error::ShapeMismatch {
            tensor: name.into(),
            what: format!("row length (a multiple of the {bl}-weight block)"),
            expected: n.div_ceil(bl) * bl,
            got: n,
        });
    }
    if rows.start > rows.end || rows.end > d {
        return Err(Error::DimOutOfRange {
            tensor: name.into(),
            what: "row range end".into(),
            value: rows.end as u64,
            limit: format!("start ≤ end ≤ d = {d}"),
        });
    }
    let big = |what: &str, value: usize| Error::DimOutOfRange {
        tensor: name.into(),
        what: what.into(),
        value: value as u64,
        limit: "must fit in memory".into(),
    };
    let need_w = d
        .checked_mul(ty.row_bytes(n))
        .ok_or_else(|| big("d · row bytes", d))?;
    if w.len() < need_w {
        return Err(Error::ShapeMismatch {
            tensor: name.into(),
            what: format!("bytes of {d} rows of {n} {ty} weights"),
            expected: need_w,
            got: w.len(),
        });
    }
    let need_x = t.checked_mul(n).ok_or_else(|| big("t · n", t))?;
    let need_y = t.checked_mul(d).ok_or_else(|| big("t · d", t))?;
    for (buffer, len, need) in [("x", x.len(), need_x), ("y", y.len(), need_y)] {
        if len < need {
            return Err(Error::BufferTooSmall {
                kernel: name.into(),
                buffer: buffer.into(),
                expected: need,
                got: len,
            });
        }
    }
    Ok(())
}

/// The table's decode (`t1`) and prefill kernels for `ty` with the best ISA this build has.
/// Every [`WeightType`] has scalar rows of both (`tests/it/kernel_table.rs` checks it).
pub fn best_dense(ty: WeightType) -> (&'static Kernel, &'static Kernel) {
    let pick = |t| {
        best(Op::Linear, ty.into(), Isa::best(), Shape::Tokens(t))
            .expect("every WeightType has scalar decode and prefill kernels")
    };
    (pick(1), pick(2))
}
