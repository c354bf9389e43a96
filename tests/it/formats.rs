//! Packing and `validate()`: round trips, and typed errors (never a panic) for bad dims,
//! deltas that would read out of bounds, and counts that don't add up.

use zeroskip::dense::DenseWeights;
use zeroskip::kernels::{find, Clamp};
use zeroskip::sparse::SpmmWeights;
use zeroskip::Error;

/// W (4, 6), with block 0 (rows 0-1) nonzero at inputs {1, 4} and block 1 at {0, 5}.
fn small() -> (Vec<f32>, Vec<f32>) {
    #[rustfmt::skip]
    let w = vec![
        0.0, 1.0, 0.0, 0.0, 2.0, 0.0,
        0.0, 3.0, 0.0, 0.0, 0.0, 0.0,
        4.0, 0.0, 0.0, 0.0, 0.0, 5.0,
        6.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    (w, vec![0.5, -0.5, 1.5, -1.5])
}

tests! {
    fn packs_the_xnnpack_stream() {
        let (w, b) = small();
        let p = SpmmWeights::pack("small", &w, Some(&b), 4, 6, 2).unwrap();
        assert_eq!(p.counts(), &[2, 2]);
        assert_eq!(p.first_ic(), 1);
        // 1 -> 4 -> 0 -> 5 -> wrap to 1
        assert_eq!(p.deltas(), &[3, -4, 5, -4]);
        assert_eq!(p.values(), &[0.5, -0.5, 1.0, 3.0, 2.0, 0.0, 1.5, -1.5, 4.0, 6.0, 5.0, 0.0]);
        assert_eq!(p.stored_weights(), 8);
        let layer = p.bind(10).unwrap();
        // Interleaved kernel stream: bias, then (weights, byte delta = Δic · hw · 4) per position.
        let f = |v: f32| v.to_bits();
        let d = |v: i32| v as u32;
        #[rustfmt::skip]
        let want = [
            f(0.5), f(-0.5), f(1.0), f(3.0), d(120), f(2.0), f(0.0), d(-160),
            f(1.5), f(-1.5), f(4.0), f(6.0), d(200), f(5.0), f(0.0), d(-160),
        ];
        assert_eq!(layer.stream(), &want);
        assert_eq!(layer.block_x(), &[10, 0]);
    }

    fn tail_rows_become_width_one_blocks() {
        let (w, b) = small();
        let p = SpmmWeights::pack("small", &w[..18], Some(&b[..3]), 3, 6, 2).unwrap();
        assert_eq!(p.counts(), &[2, 2]); // block (rows 0-1), then row 2 alone
        assert_eq!(p.shape().full_blocks(), 1);
        assert_eq!(p.stored_weights(), 6);
    }

    fn from_parts_round_trips() {
        let (w, b) = small();
        let p = SpmmWeights::pack("small", &w, Some(&b), 4, 6, 2).unwrap();
        let q = SpmmWeights::from_parts("small", 4, 6, 2, p.first_ic(), p.values().to_vec(), p.counts().to_vec(), p.deltas().to_vec()).unwrap();
        assert_eq!(p, q);
    }

    fn rejects_mismatched_dims() {
        let (w, b) = small();
        assert!(matches!(
            SpmmWeights::pack("conv7", &w, Some(&b), 4, 5, 1),
            Err(Error::ShapeMismatch { ref tensor, expected: 20, got: 24, .. }) if tensor == "conv7"
        ));
        assert!(matches!(SpmmWeights::pack("conv7", &w, Some(&b[..3]), 4, 6, 1), Err(Error::ShapeMismatch { expected: 4, got: 3, .. })));
        assert!(matches!(SpmmWeights::pack("conv7", &w, None, 4, 6, 3), Err(Error::Unsupported { .. })));
        assert!(matches!(SpmmWeights::pack("conv7", &[], None, 0, 6, 1), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(SpmmWeights::pack("conv7", &[], None, 1 << 15, 1 << 15, 1), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(SpmmWeights::pack("conv7", &[], None, usize::MAX, usize::MAX, 1), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(DenseWeights::pack("fc", &[], None, usize::MAX, usize::MAX, 1), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(DenseWeights::pack("fc", &w, None, 5, 6, 4), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(DenseWeights::pack("fc", &w, None, 4, 6, 3), Err(Error::Unsupported { .. })));
        let msg = SpmmWeights::pack("conv7", &w, Some(&b), 4, 5, 1).unwrap_err().to_string();
        assert!(msg.contains("conv7") && msg.contains("20") && msg.contains("24"), "{msg}");
    }

    fn rejects_deltas_out_of_bounds() {
        let (w, b) = small();
        let p = SpmmWeights::pack("small", &w, Some(&b), 4, 6, 2).unwrap();
        let parts = |deltas: Vec<i32>, first: u32| {
            SpmmWeights::from_parts("small", 4, 6, 2, first, p.values().to_vec(), p.counts().to_vec(), deltas)
        };
        // A step past the last input channel.
        assert!(matches!(parts(vec![5, -6, 5, -4], 1), Err(Error::DeltaOutOfRange { index: 1, channel: 6, c_in: 6, .. })));
        // A step below channel 0.
        assert!(matches!(parts(vec![3, -5, 6, -4], 1), Err(Error::DeltaOutOfRange { index: 2, channel: -1, .. })));
        // A first channel outside the input.
        assert!(matches!(parts(p.deltas().to_vec(), 6), Err(Error::DeltaOutOfRange { channel: 6, .. })));
        // Huge deltas that would overflow a naive i32 sum.
        assert!(matches!(parts(vec![i32::MAX, i32::MAX, 5, -4], 1), Err(Error::DeltaOutOfRange { .. })));
        // Last delta not wrapping to the first channel.
        assert!(matches!(parts(vec![3, -4, 5, -3], 1), Err(Error::MalformedSparse { .. })));
    }

    fn rejects_counts_that_do_not_add_up() {
        let (w, b) = small();
        let p = SpmmWeights::pack("small", &w, Some(&b), 4, 6, 2).unwrap();
        let (v, d) = (p.values().to_vec(), p.deltas().to_vec());
        let parts = |counts: Vec<u32>, values: Vec<f32>, deltas: Vec<i32>| SpmmWeights::from_parts("small", 4, 6, 2, 1, values, counts, deltas);
        assert!(matches!(parts(vec![2, 1], v.clone(), d.clone()), Err(Error::MalformedSparse { .. })));
        assert!(matches!(parts(vec![2, 2, 0], v.clone(), d.clone()), Err(Error::MalformedSparse { .. })));
        assert!(matches!(parts(vec![2, 2], v[..11].to_vec(), d.clone()), Err(Error::MalformedSparse { .. })));
        assert!(matches!(parts(vec![2, 2], v.clone(), d[..3].to_vec()), Err(Error::MalformedSparse { .. })));
        assert!(matches!(parts(vec![u32::MAX, 2], v.clone(), d.clone()), Err(Error::MalformedSparse { .. })));
        let msg = parts(vec![2, 1], v, d).unwrap_err().to_string();
        assert!(msg.contains("small") && msg.contains("deltas"), "{msg}");
    }

    fn bind_rejects_absurd_hw() {
        let (w, b) = small();
        let p = SpmmWeights::pack("small", &w, Some(&b), 4, 6, 2).unwrap();
        assert!(matches!(p.bind(0), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(p.bind(usize::MAX / 8), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(p.bind(1 << 29), Err(Error::DimOutOfRange { .. })));
    }

    fn kernels_reject_bad_buffers_and_widths() {
        let (w, b) = small();
        let layer = SpmmWeights::pack("small", &w, Some(&b), 4, 6, 2).unwrap().bind(8).unwrap();
        let x = vec![1.0; 6 * 8];
        let mut y = vec![0.0; 4 * 8];
        let k2 = find("spmm_f32_8x2__scalar").unwrap();
        k2.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..8).unwrap();
        assert!(matches!(k2.run_spmm(&layer, &x[..47], &mut y, Clamp::NONE, 0..8), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(k2.run_spmm(&layer, &x, &mut y[..31], Clamp::NONE, 0..8), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(k2.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..9), Err(Error::DimOutOfRange { .. })));
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        assert!(matches!(k2.run_spmm(&layer, &x, &mut y, Clamp::NONE, backwards), Err(Error::DimOutOfRange { .. })));
        let k4 = find("spmm_f32_8x4__scalar").unwrap();
        assert!(matches!(k4.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..8), Err(Error::Unsupported { .. })));
        let gemm = find("gemm_f32_8x2__scalar").unwrap();
        assert!(matches!(gemm.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..8), Err(Error::Unsupported { .. })));
        assert!(matches!(find("spmm_f32_64x1__avx"), Err(Error::UnknownKernel { .. })));
    }
}

// ---- f16 ---------------------------------------------------------------------------------------

/// The hand-written conversions the crate used before `half` (import::onnx::tensor and
/// zsk::write / llm::synth), kept here as the oracle that the switch changed no bit.
mod before_half {
    pub fn f16_to_f32(h: u16) -> f32 {
        let sign = ((h >> 15) as u32) << 31;
        let exp = ((h >> 10) & 0x1f) as u32;
        let man = (h & 0x3ff) as u32;
        let bits = match (exp, man) {
            (0, 0) => sign,
            (0, m) => {
                let shift = m.leading_zeros() - 21;
                sign | ((113 - shift) << 23) | (((m << shift) & 0x3ff) << 13)
            }
            (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
            (e, m) => sign | ((e + 112) << 23) | (m << 13),
        };
        f32::from_bits(bits)
    }

    pub fn f32_to_f16(x: f32) -> u16 {
        let b = x.to_bits();
        let sign = ((b >> 16) & 0x8000) as u16;
        let exp = ((b >> 23) & 0xff) as i32;
        let man = b & 0x7f_ffff;
        if exp == 0xff {
            return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
        }
        let e = exp - 127 + 15;
        if e >= 0x1f {
            return sign | 0x7c00;
        }
        if e <= 0 {
            if e < -10 {
                return sign;
            }
            let m = man | 0x80_0000;
            let shift = (14 - e) as u32;
            let half = 1u32 << (shift - 1);
            let rest = m & ((1 << shift) - 1);
            let mut h = m >> shift;
            if rest > half || (rest == half && h & 1 == 1) {
                h += 1;
            }
            return sign | h as u16;
        }
        let mut h = ((e as u32) << 10) | (man >> 13);
        let rest = man & 0x1fff;
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
            h += 1;
        }
        sign | h as u16
    }
}

/// Bit-identical, except that a NaN's payload may differ (`half` quiets signalling NaNs): a
/// NaN must stay a NaN of the same sign.
fn same_f32(got: f32, want: f32) -> bool {
    if want.is_nan() {
        got.is_nan() && got.is_sign_negative() == want.is_sign_negative()
    } else {
        got.to_bits() == want.to_bits()
    }
}

fn same_f16(got: u16, want: u16) -> bool {
    let nan = |h: u16| h & 0x7c00 == 0x7c00 && h & 0x3ff != 0;
    if nan(want) {
        nan(got) && got & 0x8000 == want & 0x8000
    } else {
        got == want
    }
}

tests! {
    /// Every half: ±0, subnormals, normals, max (0x7bff), ±inf and NaNs.
    fn f16_to_f32_is_the_old_conversion_for_every_half() {
        for h in 0..=u16::MAX {
            let (got, want) = (zeroskip::tensor::f16_to_f32(h), before_half::f16_to_f32(h));
            assert!(same_f32(got, want), "f16 {h:#06x}: {got:e} != {want:e}");
        }
    }

    /// Singles around every rounding edge: each half, the midpoints to its neighbours (ties go
    /// to even) and one ulp either side of them, the subnormal and overflow boundaries, ±0,
    /// ±inf, NaNs, and a sweep of bit patterns across the whole f32 range.
    fn f32_to_f16_rounds_as_the_old_conversion() {
        let mut xs = vec![0.0f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN,
            f32::MAX, f32::MIN_POSITIVE, 65504.0, 65519.99, 65520.0, 65536.0, 5.96e-8, 2.98e-8,
            2.9802322e-8, 1e-10, f32::from_bits(1), f32::from_bits(0x7f80_0001)];
        for h in 0..0x7c00u16 {
            let a = before_half::f16_to_f32(h);
            let b = before_half::f16_to_f32(h + 1);
            let mid = (a as f64 + b as f64) / 2.0;
            let mid = mid as f32;
            for x in [a, mid, f32::from_bits(mid.to_bits() - 1), f32::from_bits(mid.to_bits() + 1)] {
                xs.push(x);
                xs.push(-x);
            }
        }
        for i in 0..(1u32 << 20) {
            xs.push(f32::from_bits(i.wrapping_mul(4093)));
            xs.push(f32::from_bits(i << 12 | i & 0xfff));
        }
        for x in xs {
            let (got, want) = (zeroskip::tensor::f32_to_f16(x), before_half::f32_to_f16(x));
            assert!(same_f16(got, want), "{x:e} ({:#010x}): {got:#06x} != {want:#06x}", x.to_bits());
        }
    }
}
