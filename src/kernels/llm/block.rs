//! ggml's quant blocks as typed `#[repr(C)]` structs (Q4_0, Q4_1, Q8_0: 32 weights each), and
//! the [`Block`] trait the dense LLM kernels are generic over, so that no kernel computes a
//! byte offset inside a block or carries a flag saying which format it reads.
//!
//! GGUF tensor data is a run of these blocks at no particular alignment, so every block type
//! is made of byte arrays only: alignment 1 and every bit pattern valid, which makes viewing
//! `&[u8]` as `&[B]` ([`blocks`]) sound without copying.

use super::{f16_finite, WeightType};

/// 18 bytes: f16 scale d, 16 bytes of nibbles (low nibbles weights 0..16, high 16..32);
/// w = (q − 8)·d.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ4_0 {
    pub d: [u8; 2],
    pub qs: [u8; 16],
}

/// 20 bytes: f16 d, f16 m, nibbles as Q4_0; w = q·d + m.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ4_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qs: [u8; 16],
}

/// 34 bytes: f16 d, 32 i8 codes; w = q·d.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [i8; 32],
}

const _: () = {
    use std::mem::{align_of, size_of};
    assert!(size_of::<BlockQ4_0>() == 18 && align_of::<BlockQ4_0>() == 1);
    assert!(size_of::<BlockQ4_1>() == 20 && align_of::<BlockQ4_1>() == 1);
    assert!(size_of::<BlockQ8_0>() == 34 && align_of::<BlockQ8_0>() == 1);
};

/// A weight format as a type, for kernels generic over it: the block types below, and
/// [`F32`] and [`F16`] (one weight per "block").
pub trait Weights: 'static {
    const TYPE: WeightType;
}

/// 4-byte little-endian f32 weights.
pub struct F32;
/// 2-byte IEEE half weights.
pub struct F16;

/// `Weights` for each format type: `(type, WeightType variant), ...`.
macro_rules! weights {
    ($(($t:ty, $ty:ident)),*) => {$(
        impl Weights for $t {
            const TYPE: WeightType = WeightType::$ty;
        }
    )*};
}
weights!(
    (F32, F32),
    (F16, F16),
    (BlockQ4_0, Q4_0),
    (BlockQ4_1, Q4_1),
    (BlockQ8_0, Q8_0)
);

/// A block of 32 quantized weights, `w_j = q_j·d + m`.
///
/// Implementors are `#[repr(C)]` structs of byte arrays only (alignment 1, any bits valid):
/// [`blocks`] relies on it, which is why the trait is sealed to this module's three types.
pub trait Block: Weights + Copy + sealed::Sealed {
    /// 4-bit codes (two per byte: weights j and j + 16 in byte j) with an offset `m` (so the
    /// kernels add `m·Σx`); otherwise 32 signed 8-bit codes and no offset.
    const NIBBLES: bool;

    /// The codes' bytes: 16 (nibbles) or 32 (i8).
    fn qs(&self) -> &[u8];

    /// `(d, m)`: the scale and the offset, `m` = 0 for formats without one (f16 scales through
    /// [`f16_finite`]: exact because scales are checked finite at load, see
    /// [`super::check_scales`]).
    fn dm(&self) -> (f32, f32);

    /// Code `j` (0..32) as f32: a nibble 0..15 or an i8.
    #[inline(always)]
    fn code(&self, j: usize) -> f32 {
        let q = self.qs();
        if Self::NIBBLES {
            let b = q[j % 16];
            (if j < 16 { b & 15 } else { b >> 4 }) as f32
        } else {
            (q[j] as i8) as f32
        }
    }

    /// The 32 weights, in order (`q·d + m`, or `q·d` without an offset: the kernels'
    /// arithmetic, so a dequantized matmul matches them up to the order of additions).
    #[inline(always)]
    fn decode(&self) -> [f32; 32] {
        let (d, m) = self.dm();
        std::array::from_fn(|j| {
            if Self::NIBBLES {
                self.code(j) * d + m
            } else {
                self.code(j) * d
            }
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::BlockQ4_0 {}
    impl Sealed for super::BlockQ4_1 {}
    impl Sealed for super::BlockQ8_0 {}
}

#[inline(always)]
fn f16(h: [u8; 2]) -> f32 {
    f16_finite(u16::from_le_bytes(h))
}

/// `Block` for a struct with fields `d` and `qs`: whether its codes are nibbles, and its
/// `(d, m)` from the block `$b`.
macro_rules! block {
    ($t:ty, nibbles: $nib:expr, |$b:ident| $dm:expr) => {
        impl Block for $t {
            const NIBBLES: bool = $nib;
            #[inline(always)]
            fn qs(&self) -> &[u8] {
                // u8 or i8 codes as bytes: same size and alignment, any bit pattern valid
                unsafe { std::slice::from_raw_parts(self.qs.as_ptr() as *const u8, self.qs.len()) }
            }
            #[inline(always)]
            fn dm(&self) -> (f32, f32) {
                let $b = self;
                $dm
            }
        }
    };
}
// Q4_0: m = −8d, so w = (q − 8)·d is computed as q·d − 8d.
block!(BlockQ4_0, nibbles: true, |b| (f16(b.d), -8.0 * f16(b.d)));
block!(BlockQ4_1, nibbles: true, |b| (f16(b.d), f16(b.m)));
block!(BlockQ8_0, nibbles: false, |b| (f16(b.d), 0.0));

/// `bytes` as whole blocks of `B` (a trailing partial block is left out).
#[inline(always)]
pub fn blocks<B: Block>(bytes: &[u8]) -> &[B] {
    // Safety: `B` has alignment 1 and no invalid bit patterns (see `Block`), and the length
    // covers only whole blocks inside `bytes`.
    unsafe {
        std::slice::from_raw_parts(
            bytes.as_ptr() as *const B,
            bytes.len() / std::mem::size_of::<B>(),
        )
    }
}

/// Decodes one row of `ty` weights to `out (n,)` f32: the values the kernels multiply by. The
/// one dequantize routine (the portable GEMM's scratch rows, [`crate::llm::weights`]' rows).
pub fn decode_row(ty: WeightType, row: &[u8], out: &mut [f32]) {
    fn quant<B: Block>(row: &[u8], out: &mut [f32]) {
        for (o, b) in out.chunks_exact_mut(32).zip(blocks::<B>(row)) {
            o.copy_from_slice(&b.decode());
        }
    }
    match ty {
        WeightType::F32 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        WeightType::F16 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = crate::tensor::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        WeightType::Q4_0 => quant::<BlockQ4_0>(row, out),
        WeightType::Q4_1 => quant::<BlockQ4_1>(row, out),
        WeightType::Q8_0 => quant::<BlockQ8_0>(row, out),
    }
}
