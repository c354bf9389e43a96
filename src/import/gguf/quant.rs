//! Reference dequantization, block by block, in ggml's order of operations (so results match
//! ggml's bit for bit): the oracle for future in-register kernels that read the raw blocks.
//!
//! Every function takes whole blocks (`data.len() = blocks · block_bytes`) and writes
//! `blocks · block_len` floats; the caller has checked both lengths.

use super::ggml::GgmlType;
use crate::tensor::f16_to_f32;

fn f16(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Decodes `data` (whole blocks of `ty`) into `out`; false if `ty` is not decoded here.
pub(super) fn dequantize(ty: GgmlType, data: &[u8], out: &mut [f32]) -> bool {
    debug_assert_eq!(
        data.len() / ty.block_bytes() * ty.block_len(),
        out.len(),
        "{ty}: bytes vs floats"
    );
    match ty {
        GgmlType::F32 => plain::<4>(data, out, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        GgmlType::F16 => plain::<2>(data, out, |b| f16(b, 0)),
        GgmlType::BF16 => plain::<2>(data, out, |b| {
            f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
        }),
        GgmlType::Q4_0 => q4_0(data, out),
        GgmlType::Q4_1 => q4_1(data, out),
        GgmlType::Q8_0 => q8_0(data, out),
        GgmlType::Q4_K => q4_k(data, out),
        GgmlType::Q6_K => q6_k(data, out),
        _ => return false,
    }
    true
}

fn plain<const N: usize>(data: &[u8], out: &mut [f32], f: impl Fn(&[u8]) -> f32) {
    for (b, o) in data.chunks_exact(N).zip(out) {
        *o = f(b);
    }
}

/// Q4_0 (18 bytes → 32 weights): f16 d, then 16 bytes whose low nibbles are weights 0..16 and
/// high nibbles weights 16..32; w = (q − 8)·d.
fn q4_0(data: &[u8], out: &mut [f32]) {
    for (b, o) in data.chunks_exact(18).zip(out.chunks_exact_mut(32)) {
        let d = f16(b, 0);
        for j in 0..16 {
            let q = b[2 + j];
            o[j] = ((q & 15) as i32 - 8) as f32 * d;
            o[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Q4_1 (20 bytes → 32 weights): f16 d, f16 m, 16 bytes of nibbles as in Q4_0; w = q·d + m.
fn q4_1(data: &[u8], out: &mut [f32]) {
    for (b, o) in data.chunks_exact(20).zip(out.chunks_exact_mut(32)) {
        let (d, m) = (f16(b, 0), f16(b, 2));
        for j in 0..16 {
            let q = b[4 + j];
            o[j] = (q & 15) as f32 * d + m;
            o[j + 16] = (q >> 4) as f32 * d + m;
        }
    }
}

/// Q8_0 (34 bytes → 32 weights): f16 d, 32 i8; w = q·d.
fn q8_0(data: &[u8], out: &mut [f32]) {
    for (b, o) in data.chunks_exact(34).zip(out.chunks_exact_mut(32)) {
        let d = f16(b, 0);
        for j in 0..32 {
            o[j] = (b[2 + j] as i8) as f32 * d;
        }
    }
}

/// The 6-bit scale and min of group `g` (0..8) of a Q4_K block, from its 12 packed bytes:
/// groups 0..4 keep theirs in the low 6 bits of bytes g (scale) and g+4 (min); groups 4..8 take
/// 4 bits from byte g+4 (low nibble: scale, high: min) and their top 2 bits from the spare top
/// bits of bytes g−4 (scale) and g (min).
fn q4_k_scale_min(s: &[u8], g: usize) -> (u8, u8) {
    if g < 4 {
        (s[g] & 63, s[g + 4] & 63)
    } else {
        (
            (s[g + 4] & 15) | ((s[g - 4] >> 6) << 4),
            (s[g + 4] >> 4) | ((s[g] >> 6) << 4),
        )
    }
}

/// Q4_K (144 bytes → 256 weights in 8 groups of 32): f16 d, f16 dmin, 12 bytes of scales and
/// mins, 128 bytes of nibbles. Each 32 bytes of nibbles hold two groups: low nibbles group 2i,
/// high nibbles group 2i+1. w = (d·scale)·q − dmin·min.
fn q4_k(data: &[u8], out: &mut [f32]) {
    for (b, o) in data.chunks_exact(144).zip(out.chunks_exact_mut(256)) {
        let (d, dmin) = (f16(b, 0), f16(b, 2));
        let scales = &b[4..16];
        let qs = &b[16..144];
        for i in 0..4 {
            let (s0, m0) = q4_k_scale_min(scales, 2 * i);
            let (s1, m1) = q4_k_scale_min(scales, 2 * i + 1);
            let (d0, m0) = (d * s0 as f32, dmin * m0 as f32);
            let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
            let q = &qs[32 * i..32 * i + 32];
            let o = &mut o[64 * i..64 * i + 64];
            for l in 0..32 {
                o[l] = d0 * (q[l] & 15) as f32 - m0;
                o[l + 32] = d1 * (q[l] >> 4) as f32 - m1;
            }
        }
    }
}

/// Q6_K (210 bytes → 256 weights in 16 groups of 16): 128 bytes of low 4 bits, 64 bytes of
/// high 2 bits, 16 i8 scales, f16 d. Each half (128 weights) has 64 low bytes and 32 high
/// bytes: its weight l + 32k (l < 32, k < 4) takes the low nibble (k < 2) or the high nibble
/// (k ≥ 2) of low byte l + 32·(k mod 2), and bits 2k, 2k+1 of high byte l.
/// w = (d·scale)·(q − 32), the scale of group w / 16.
fn q6_k(data: &[u8], out: &mut [f32]) {
    for (b, o) in data.chunks_exact(210).zip(out.chunks_exact_mut(256)) {
        let d = f16(b, 208);
        for h in 0..2 {
            let ql = &b[64 * h..64 * h + 64];
            let qh = &b[128 + 32 * h..128 + 32 * h + 32];
            let sc = &b[192 + 8 * h..192 + 8 * h + 8];
            let o = &mut o[128 * h..128 * h + 128];
            for l in 0..32 {
                let q = [
                    (ql[l] & 15) | ((qh[l] & 3) << 4),
                    (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4),
                    (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
                    (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
                ];
                for (k, &q) in q.iter().enumerate() {
                    let w = l + 32 * k;
                    o[w] = d * (sc[w / 16] as i8) as f32 * (q as i32 - 32) as f32;
                }
            }
        }
    }
}
