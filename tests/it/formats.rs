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
        let k2 = find("spmm_f32_8x2_scalar").unwrap();
        k2.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..8).unwrap();
        assert!(matches!(k2.run_spmm(&layer, &x[..47], &mut y, Clamp::NONE, 0..8), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(k2.run_spmm(&layer, &x, &mut y[..31], Clamp::NONE, 0..8), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(k2.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..9), Err(Error::DimOutOfRange { .. })));
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..2;
        assert!(matches!(k2.run_spmm(&layer, &x, &mut y, Clamp::NONE, backwards), Err(Error::DimOutOfRange { .. })));
        let k4 = find("spmm_f32_8x4_scalar").unwrap();
        assert!(matches!(k4.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..8), Err(Error::Unsupported { .. })));
        let gemm = find("gemm_f32_8x2_scalar").unwrap();
        assert!(matches!(gemm.run_spmm(&layer, &x, &mut y, Clamp::NONE, 0..8), Err(Error::Unsupported { .. })));
        assert!(matches!(find("spmm_f32_64x1_avx"), Err(Error::UnknownKernel { .. })));
    }
}
