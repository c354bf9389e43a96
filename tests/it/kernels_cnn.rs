//! Every CNN kernel of the registry (depthwise and stem convs, pools, elementwise ops,
//! activations, softmax) against its oracle across named edge cases, a property test over
//! random shapes, and the typed errors for bad params and buffers. Runs natively (scalar) and
//! as wasm32 under Node (scalar + SIMD128, and relaxed in the relaxed build).

use crate::cnn;
use cnn::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zeroskip::kernels::cnn::{
    reference, ActKind, Activation, ConvParams, ConvWeights, DwConvParams, DwConvWeights,
    PoolParams, Window,
};
use zeroskip::kernels::{find, Clamp, Isa, Op};
use zeroskip::synth::Rng;
use zeroskip::Error;

tests! {
    // ---- depthwise conv -----------------------------------------------------------------

    /// H and / or W smaller than the kernel (only padding makes the window fit).
    fn dwconv_input_smaller_than_kernel() {
        check_all_dwconv("H, W < K", &[(3, 2, 2), (2, 1, 4), (2, 4, 1), (2, 3, 3), (1, 2, 5)], |c| c);
    }

    /// Widths that are not a multiple of the 4-lane vector, or of a whole tile.
    fn dwconv_odd_widths() {
        let shapes: Vec<_> = [5, 6, 7, 9, 11, 13, 15, 17, 19, 23, 29, 33].iter().map(|&w| (3, 6, w)).collect();
        check_all_dwconv("odd widths", &shapes, |c| c);
    }

    /// A single column, a single row, and a single pixel.
    fn dwconv_width_or_height_one() {
        check_all_dwconv("W = 1 / H = 1", &[(4, 9, 1), (4, 1, 9), (4, 1, 1), (2, 1, 30)], |c| c);
    }

    /// Stride 2 over odd sizes (the last window ends on the input's last column / row).
    fn dwconv_stride2_odd_sizes() {
        check_all_dwconv("stride 2, odd", &[(3, 7, 7), (3, 15, 15), (2, 9, 13), (2, 13, 9), (2, 3, 5)], |c| c);
    }

    /// TF-SAME on even sizes pads one more at the bottom / right; also one-sided pads.
    fn dwconv_asymmetric_padding() {
        let mut n = 0;
        for k in cnn_kernels(|op| op == Op::DwConv) {
            let (kk, s) = k.window.unwrap_or((3, 2));
            for (i, (h, w)) in [(8, 8), (14, 10), (7, 12), (2, 6)].into_iter().enumerate() {
                let pads = [
                    (0, 0, kk - 1, kk - 1),
                    (kk - 1, kk - 1, 0, 0),
                    (0, kk - 1, 1, 0),
                    (kk / 2, 0, 0, kk / 2 + 1),
                ];
                for (j, (t, l, b, r)) in pads.into_iter().enumerate() {
                    let win = Window::new(kk, kk, s, s).pads(t, l, b, r.min(kk - 1));
                    if let Some(case) = DwCase::random(3, h, w, win, (i * 10 + j) as u64) {
                        check_dwconv(k, &case, "asymmetric pads");
                        n += 1;
                    }
                }
                let same = Window::new(kk, kk, s, s).same_upper(h, w);
                if let Some(case) = DwCase::random(3, h, w, same, i as u64) {
                    check_dwconv(k, &case, "TF-SAME");
                    n += 1;
                }
            }
        }
        assert!(n > 0);
    }

    /// No padding at all ("valid" conv).
    fn dwconv_zero_padding() {
        let mut n = 0;
        for k in cnn_kernels(|op| op == Op::DwConv) {
            let (kk, s) = k.window.unwrap_or((3, 1));
            for (h, w) in [(kk, kk), (kk + 1, kk + 5), (12, 17), (20, 9)] {
                let case = DwCase::random(4, h, w, Window::square(kk, s, 0), (h * w) as u64).unwrap();
                check_dwconv(k, &case, "zero padding");
                n += 1;
            }
        }
        assert!(n > 0);
    }

    /// A channel sub-range, as a thread pool would hand out: nothing outside it is written.
    fn dwconv_channel_subrange() {
        for (a, b) in [(0, 0), (2, 5), (0, 1), (6, 7), (3, 3)] {
            check_all_dwconv("channel range", &[(7, 9, 11)], |mut c| {
                c.channels = a..b;
                c
            });
        }
    }

    /// Clamp bounds reached on both sides (inputs scaled up so ReLU6's 6 is hit).
    fn dwconv_clamp_bounds() {
        for clamp in CLAMPS {
            check_all_dwconv("clamp", &[(3, 10, 13)], |c| {
                let x = scaled(c.x.clone(), 8.0);
                DwCase { x, ..c }.clamp(clamp)
            });
        }
    }

    /// Many channels (MobileNetV2's last stages), one channel, and no bias.
    fn dwconv_channel_counts_and_no_bias() {
        check_all_dwconv("large C", &[(576, 7, 7), (960, 4, 4)], |c| c.clamp(Clamp::RELU6));
        check_all_dwconv("one channel", &[(1, 12, 12)], |c| c);
        check_all_dwconv("no bias", &[(5, 6, 9)], |c| DwCase { bias: None, ..c });
    }

    /// Real MobileNet planes: 112×112, 56×56, 28×28 (several tiles and rows per channel).
    fn dwconv_mobilenet_planes() {
        check_all_dwconv("MobileNet planes", &[(2, 112, 112), (3, 56, 56), (4, 28, 28)], |c| c.clamp(Clamp::RELU6));
    }

    // ---- full conv (stem) ---------------------------------------------------------------

    /// The stem's own shapes: 3 → 32 (and 16, EfficientNet-Lite / MobileNetV3), 3x3 s2,
    /// symmetric and TF-SAME padding, over small and odd planes.
    fn conv_stem_shapes() {
        check_all_conv(
            "stem",
            &[(3, 32, 16, 16), (3, 16, 15, 17), (3, 32, 9, 7), (3, 24, 34, 34)],
            |c| c.clamp(Clamp::RELU6),
        );
    }

    /// Input smaller than the kernel, width / height 1, odd widths.
    fn conv_small_and_odd_planes() {
        check_all_conv(
            "small/odd",
            &[(3, 9, 2, 2), (2, 5, 1, 7), (2, 5, 7, 1), (1, 3, 1, 1), (3, 8, 5, 13), (3, 8, 6, 21)],
            |c| c,
        );
    }

    /// Output-channel counts that leave a partial NR block, one channel, and sub-ranges.
    fn conv_channel_blocks_and_ranges() {
        check_all_conv("C_out % NR", &[(3, 1, 8, 8), (3, 7, 8, 8), (3, 13, 8, 8), (1, 9, 8, 9)], |c| c);
        for (a, b) in [(0, 0), (1, 10), (8, 16), (16, 17), (3, 20)] {
            check_all_conv("out channel range", &[(3, 20, 9, 10)], |mut c| {
                c.out_channels = a..b;
                c
            });
        }
    }

    /// Many input channels (a non-stem 3x3 conv), clamps, no bias.
    fn conv_large_c_in_clamps_and_no_bias() {
        check_all_conv("large C_in", &[(64, 9, 6, 6)], |c| c);
        for clamp in CLAMPS {
            check_all_conv("clamp", &[(3, 10, 9, 11)], |c| {
                let x = scaled(c.x.clone(), 4.0);
                ConvCase { x, ..c }.clamp(clamp)
            });
        }
        check_all_conv("no bias", &[(3, 8, 7, 7)], |c| ConvCase { bias: None, ..c });
    }

    // Global average pool, add, channel multiply, pools and softmax: the generated per-kernel
    // oracle tests in tests/it/kernel_table.rs.

    // ---- activations ------------------------------------------------------------------------

    /// Clamp / hard-sigmoid / hard-swish against the oracle: exact for scalar and SIMD128,
    /// within one rounding of `alpha·x` (times |x| for hard-swish) for relaxed kernels.
    fn hard_activations_match_oracle() {
        for kind in [ActKind::HardSigmoid, ActKind::HardSwish] {
            assert_relaxed_present(Op::of_act(kind));
        }
        let acts = [
            Activation::RELU,
            Activation::RELU6,
            Activation::Clamp(Clamp { min: -1.5, max: 0.25 }),
            Activation::HardSigmoid { alpha: 0.2, beta: 0.5 },
            Activation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 },
            Activation::HardSigmoid { alpha: -0.7, beta: 0.1 },
            Activation::HardSwish,
            Activation::LeakyRelu { alpha: 0.1 },
            Activation::LeakyRelu { alpha: -1.5 },
        ];
        for act in acts {
            for k in cnn_kernels(|op| op == Op::of_act(act.kind())) {
                for n in [0, 1, 2, 3, 4, 5, 7, 8, 1001] {
                    let x = scaled(Rng::new(n as u64).vec(n), 8.0);
                    let mut got = x.clone();
                    k.run_act(&mut got, act).unwrap();
                    for (i, (&g, &xi)) in got.iter().zip(&x).enumerate() {
                        let (want, alpha_x) = match act {
                            Activation::Clamp(c) => (c.apply(xi), 0.0),
                            Activation::HardSigmoid { alpha, beta } => (reference::hardsigmoid(xi, alpha, beta), alpha * xi),
                            Activation::HardSwish => (reference::hardswish(xi), xi * xi / 6.0),
                            Activation::LeakyRelu { alpha } => (if xi >= 0.0 { xi } else { alpha * xi }, 0.0),
                            Activation::Sigmoid | Activation::Tanh => unreachable!(),
                        };
                        // relaxed: one fused rounding, measured 0.84 of this bound
                        let tol = if k.isa == Isa::Relaxed { f32::EPSILON * (alpha_x.abs() + want.abs()) } else { 0.0 };
                        assert!((g - want).abs() <= tol, "{} {act:?} n={n} x[{i}]={xi}: got {g} want {want}", k.name);
                    }
                }
            }
        }
    }

    /// Sigmoid within 2e-6 of `1/(1+expf(-x))` over a sweep of the whole float range (every
    /// 4099th bit pattern, both signs, subnormals, huge values, infinities), always in [0, 1];
    /// NaN in gives NaN out.
    fn sigmoid_error_bound_over_float_range() {
        assert_relaxed_present(Op::Sigmoid);
        let mut x: Vec<f32> = (0..=u32::MAX / 4099).map(|i| f32::from_bits(i * 4099)).collect();
        x.extend([0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 15.9, -15.9, 87.0, -87.0, 88.7, -88.7, 89.0, -104.0, 1e30, -1e30, f32::MAX, f32::MIN, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, f32::NAN]);
        for k in cnn_kernels(|op| op == Op::Sigmoid) {
            let mut got = x.clone();
            k.run_act(&mut got, Activation::Sigmoid).unwrap();
            let mut worst = (0.0f32, 0.0f32);
            for (&g, &xi) in got.iter().zip(&x) {
                if xi.is_nan() {
                    assert!(g.is_nan(), "{}: sigmoid(NaN) = {g}", k.name);
                    continue;
                }
                assert!((0.0..=1.0).contains(&g), "{}: sigmoid({xi}) = {g}", k.name);
                let err = (g - reference::sigmoid(xi)).abs();
                if err > worst.0 {
                    worst = (err, xi);
                }
            }
            // measured 1.2e-7 on every build
            assert!(worst.0 <= 5e-7, "{}: max abs error {} at x = {}", k.name, worst.0, worst.1);
        }
    }

    // ---- pools and softmax -------------------------------------------------------------------

    // ---- params, packing and typed errors ----------------------------------------------------

    /// TF-SAME pads and the output sizes they give (ceil(H / S)), and the geometry check.
    fn window_same_upper_and_output_size() {
        let win = Window::new(3, 3, 2, 2).same_upper(224, 225);
        assert_eq!((win.pad_top, win.pad_left, win.pad_bottom, win.pad_right), (0, 1, 1, 1));
        let p = DwConvParams::new("stem", 32, 224, 225, win).unwrap();
        assert_eq!((p.geometry().oh(), p.geometry().ow()), (112, 113));
        let win = Window::new(5, 5, 1, 1).same_upper(14, 14);
        assert_eq!((win.pad_top, win.pad_left, win.pad_bottom, win.pad_right), (2, 2, 2, 2));
        let p = ConvParams::new("stem", 3, 32, 224, 224, Window::square(3, 2, 1)).unwrap();
        assert_eq!((p.geometry().oh(), p.geometry().ow(), p.output_len()), (112, 112, 32 * 112 * 112));
    }

    /// Zero, absurd and overflowing dims are refused with `DimOutOfRange` before anything is
    /// allocated; pool dilation with `Unsupported`.
    fn bad_params_are_typed_errors() {
        let ok = Window::square(3, 1, 1);
        let dim_err = |r: Result<DwConvParams, Error>, what: &str| {
            assert!(matches!(r, Err(Error::DimOutOfRange { .. })), "{what}: {r:?}");
        };
        dim_err(DwConvParams::new("t", 0, 8, 8, ok), "zero channels");
        dim_err(DwConvParams::new("t", 4, 0, 8, ok), "zero H");
        dim_err(DwConvParams::new("t", 4, 8, 0, ok), "zero W");
        dim_err(DwConvParams::new("t", 4, 8, 8, Window::square(0, 1, 0)), "zero kernel");
        dim_err(DwConvParams::new("t", 4, 8, 8, Window::square(3, 0, 1)), "zero stride");
        dim_err(DwConvParams::new("t", 4, 8, 8, ok.dilation(0, 1)), "zero dilation");
        dim_err(DwConvParams::new("t", 4, 1 << 20, 8, ok), "absurd H");
        dim_err(DwConvParams::new("t", 4, 8, 8, Window::square(3, usize::MAX, 1)), "absurd stride");
        dim_err(DwConvParams::new("t", 4, 8, 8, ok.pads(usize::MAX, 0, 0, 0)), "absurd pad");
        dim_err(DwConvParams::new("t", 4, 8, 8, Window::square(3, 1, 3)), "pad ≥ kernel");
        dim_err(DwConvParams::new("t", 4, 2, 8, Window::square(5, 1, 0)), "kernel taller than padded input");
        dim_err(DwConvParams::new("t", 30000, 30000, 30000, ok), "C·H·W overflow");
        let huge = Window::new(3, 3, usize::MAX, 1).dilation(1, usize::MAX).same_upper(usize::MAX, usize::MAX);
        dim_err(DwConvParams::new("t", 1, 8, 8, huge), "saturated SAME pads");
        assert!(matches!(ConvParams::new("t", 3, 0, 8, 8, ok), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(ConvParams::new("t", 30000, 30000, 8, 8, ok), Err(Error::DimOutOfRange { .. })), "weights overflow");
        assert!(matches!(PoolParams::new("t", 3, 8, 8, ok.dilation(2, 2)), Err(Error::Unsupported { .. })));
        let msg = DwConvParams::new("block3.dw", 4, 8, 8, Window::square(3, 1, 3)).unwrap_err().to_string();
        assert!(msg.contains("block3.dw") && msg.contains("pad_top"), "{msg}");
    }

    /// Weights and bias of the wrong length are refused by `pack` with `ShapeMismatch`.
    fn bad_weights_are_typed_errors() {
        let p = DwConvParams::new("dw", 4, 8, 8, Window::square(3, 1, 1)).unwrap();
        assert!(matches!(DwConvWeights::pack("dw", &[0.0; 35], None, p), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(DwConvWeights::pack("dw", &[0.0; 36], Some(&[0.0; 3]), p), Err(Error::ShapeMismatch { .. })));
        let p = ConvParams::new("stem", 3, 8, 8, 8, Window::square(3, 2, 1)).unwrap();
        assert!(matches!(ConvWeights::pack("stem", &[0.0; 8 * 27 - 1], None, p), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(ConvWeights::pack("stem", &[0.0; 8 * 27], Some(&[0.0; 9]), p), Err(Error::ShapeMismatch { .. })));
    }

    /// Short buffers, bad ranges, wrong windows, wrong ops and mismatched lengths: typed
    /// errors from every `run_*`, before the kernel touches memory.
    fn bad_run_arguments_are_typed_errors() {
        let p = DwConvParams::new("dw", 4, 6, 6, Window::square(3, 1, 1)).unwrap();
        let dw = DwConvWeights::pack("dw", &[0.1; 36], None, p).unwrap();
        let (x, mut y) = (vec![0.0; 4 * 36], vec![0.0; 4 * 36]);
        for k in cnn_kernels(|op| op == Op::DwConv).into_iter().filter(|k| k.window.is_none_or(|w| w == (3, 1))) {
            assert!(matches!(k.run_dwconv(&dw, &x[1..], &mut y, Clamp::NONE, 0..4), Err(Error::BufferTooSmall { .. })), "{}", k.name);
            assert!(matches!(k.run_dwconv(&dw, &x, &mut y[1..], Clamp::NONE, 0..4), Err(Error::BufferTooSmall { .. })), "{}", k.name);
            assert!(matches!(k.run_dwconv(&dw, &x, &mut y, Clamp::NONE, 0..5), Err(Error::DimOutOfRange { .. })), "{}", k.name);
            #[allow(clippy::reversed_empty_ranges)]
            let backwards = 3..1;
            assert!(matches!(k.run_dwconv(&dw, &x, &mut y, Clamp::NONE, backwards), Err(Error::DimOutOfRange { .. })), "{}", k.name);
        }
        // A fast path refuses any other window.
        let p5 = DwConvParams::new("dw5", 4, 6, 6, Window::square(5, 2, 2)).unwrap();
        let dw5 = DwConvWeights::pack("dw5", &[0.1; 100], None, p5).unwrap();
        for k in cnn_kernels(|op| op == Op::DwConv).into_iter().filter(|k| k.window.is_some_and(|w| w != (5, 2))) {
            assert!(matches!(k.run_dwconv(&dw5, &x, &mut y, Clamp::NONE, 0..4), Err(Error::Unsupported { .. })), "{}", k.name);
        }
        let dilated = DwConvParams::new("dwd", 4, 6, 6, Window::square(3, 1, 1).dilation(2, 2)).unwrap();
        let dwd = DwConvWeights::pack("dwd", &[0.1; 36], None, dilated).unwrap();
        for k in cnn_kernels(|op| op == Op::DwConv) {
            let r = k.run_dwconv(&dwd, &x, &mut y, Clamp::NONE, 0..4);
            assert_eq!(r.is_ok(), k.window.is_none(), "{}: dilation goes to the general kernel only: {r:?}", k.name);
        }
        // Wrong op, wrong activation kind.
        let any = find("dwconv_f32_1x1__scalar").unwrap();
        let cp = ConvParams::new("stem", 3, 4, 6, 6, Window::square(3, 1, 1)).unwrap();
        let cw = ConvWeights::pack("stem", &[0.0; 108], None, cp).unwrap();
        assert!(matches!(any.run_conv(&cw, &x, &mut y, Clamp::NONE, 0..4), Err(Error::Unsupported { .. })));
        let mut v = vec![1.0; 5];
        assert!(matches!(any.run_act(&mut v, Activation::Sigmoid), Err(Error::Unsupported { .. })));
        let hs = find("hardswish_f32_1x1__scalar").unwrap();
        assert!(matches!(hs.run_act(&mut v, Activation::Sigmoid), Err(Error::Unsupported { .. })));
        assert!(matches!(find("dwconv_f32_8x1_7x7s1__avx"), Err(Error::UnknownKernel { .. })));
        // Conv: short input, bad output range.
        for k in cnn_kernels(|op| op == Op::Conv).into_iter().filter(|k| k.window.is_none_or(|w| w == (3, 1))) {
            assert!(matches!(k.run_conv(&cw, &x[..107], &mut y, Clamp::NONE, 0..4), Err(Error::BufferTooSmall { .. })), "{}", k.name);
            assert!(matches!(k.run_conv(&cw, &x, &mut y, Clamp::NONE, 2..5), Err(Error::DimOutOfRange { .. })), "{}", k.name);
        }
        // Elementwise ops.
        for k in cnn_kernels(|op| op == Op::Add) {
            assert!(matches!(k.run_binary(&x[..4], &x[..5], &mut y[..4], Clamp::NONE), Err(Error::ShapeMismatch { .. })));
            assert!(matches!(k.run_binary(&x[..4], &x[..4], &mut y[..3], Clamp::NONE), Err(Error::ShapeMismatch { .. })));
            assert!(matches!(k.run_binary_assign(&mut y[..4], &x[..3], Clamp::NONE), Err(Error::ShapeMismatch { .. })));
        }
        for k in cnn_kernels(|op| op == Op::GAvgPool) {
            let mut out = vec![0.0; 4];
            assert!(matches!(k.run_gavgpool_channels(&x, &mut out, 0, 0..4), Err(Error::DimOutOfRange { .. })));
            assert!(matches!(k.run_gavgpool_channels(&x, &mut out, 37, 0..4), Err(Error::BufferTooSmall { .. })));
            assert!(matches!(k.run_gavgpool_channels(&x, &mut out, 36, 0..5), Err(Error::DimOutOfRange { .. })));
            assert!(matches!(k.run_gavgpool_channels(&x, &mut out, usize::MAX / 2, 0..4), Err(Error::DimOutOfRange { .. })));
        }
        for k in cnn_kernels(|op| op == Op::ChMul) {
            let s = [1.0; 4];
            assert!(matches!(k.run_chmul_channels(&x, &s, &mut y[..100], 36, 0..4), Err(Error::BufferTooSmall { .. })));
            assert!(matches!(k.run_chmul_channels(&x, &s, &mut y, 36, 0..5), Err(Error::DimOutOfRange { .. })));
            let mut xm = x.clone();
            assert!(matches!(k.run_chmul_assign(&mut xm, &s, 37, 0..4), Err(Error::BufferTooSmall { .. })));
        }
        for k in cnn_kernels(|op| matches!(op, Op::AvgPool | Op::MaxPool)) {
            let pp = PoolParams::new("pool", 4, 6, 6, Window::square(2, 2, 0)).unwrap();
            assert!(matches!(k.run_pool(&pp, &x[..143], &mut y), Err(Error::BufferTooSmall { .. })));
            assert!(matches!(k.run_pool(&pp, &x, &mut y[..35]), Err(Error::BufferTooSmall { .. })));
        }
        let sm = find("softmax_f32_1x1__scalar").unwrap();
        assert!(matches!(sm.run_softmax(&x[..4], &mut y[..5]), Err(Error::ShapeMismatch { .. })));
    }

    /// The table's CNN rows: names follow the grammar, each is listed once and can be found.
    fn cnn_table_names() {
        let all = cnn_kernels(|_| true);
        for k in &all {
            assert_eq!(find(k.name).unwrap().name, k.name);
            assert!(k.name.ends_with(k.isa.as_str()), "{}", k.name);
            assert_eq!(all.iter().filter(|o| o.name == k.name).count(), 1, "{} listed twice", k.name);
            if let Some((kk, s)) = k.window {
                assert!(k.name.contains(&format!("_{kk}x{kk}s{s}__")), "{}", k.name);
            }
        }
        for name in ["dwconv_f32_1x1__scalar", "conv_f32_1x1__scalar", "gavgpool_f32_1x1__scalar", "add_f32_1x1__scalar", "chmul_f32_1x1__scalar", "sigmoid_f32_1x1__scalar", "avgpool_f32_1x1__scalar", "maxpool_f32_1x1__scalar", "softmax_f32_1x1__scalar"] {
            find(name).unwrap();
        }
        if cfg!(target_arch = "wasm32") {
            for name in ["dwconv_f32_12x1_3x3s1__simd128", "dwconv_f32_8x1_5x5s2__simd128", "conv_f32_4x8_3x3s2__simd128", "gavgpool_f32_16x1__simd128", "add_f32_4x1__simd128", "hardswish_f32_4x1__simd128"] {
                find(name).unwrap();
            }
        }
        if cfg!(target_feature = "relaxed-simd") {
            find("dwconv_f32_8x1_5x5s2__relaxed").unwrap();
            find("sigmoid_f32_4x1__relaxed").unwrap();
        }
    }

    // ---- property test -----------------------------------------------------------------------

    /// Random shapes, windows (each kernel's own for fast paths; any size, stride, pads and
    /// dilation for general ones), clamps and channel ranges: every dwconv and conv kernel
    /// agrees with the oracle.
    fn every_conv_kernel_matches_oracle_on_random_layers() {
        let dw = cnn_kernels(|op| op == Op::DwConv);
        let cv = cnn_kernels(|op| op == Op::Conv);
        let strategy = (
            (1usize..12, 1usize..5, 1usize..20, 1usize..20, 1usize..40),
            (1usize..8, 1usize..8, 1usize..4, 1usize..4, 1usize..3, 1usize..3),
            (any::<[u8; 4]>(), 0usize..4, any::<(u8, u8)>(), any::<u64>(), any::<u8>()),
        );
        let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
        runner
            .run(&strategy, |((c, c_in, c_out, h, w), (kh, kw, sh, sw, dh, dw_), (pads, clamp, (a, b), seed, pick))| {
                let clamp = CLAMPS[clamp];
                let (a, b) = (a as usize, b as usize);
                for i in 0..3 {
                    let k = dw[(pick as usize + 5 * i) % dw.len()];
                    let mut win = match k.window {
                        Some((kk, s)) => Window::square(kk, s, 0),
                        None => Window::new(kh, kw, sh, sw).dilation(dh, dw_),
                    };
                    let (eh, ew) = (win.extent_h(), win.extent_w());
                    win = win.pads(pads[0] as usize % eh, pads[1] as usize % ew, pads[2] as usize % eh, pads[3] as usize % ew);
                    if let Some(mut case) = DwCase::random(c, h, w, win, seed) {
                        case.channels = (a % (c + 1)).min(b % (c + 1))..(a % (c + 1)).max(b % (c + 1));
                        check_dwconv(k, &case.clamp(clamp), "proptest");
                    }
                    let k = cv[(pick as usize + 3 * i) % cv.len()];
                    if let Some((kk, s)) = k.window {
                        win = Window::square(kk, s, 0).pads(pads[0] as usize % kk, pads[1] as usize % kk, pads[2] as usize % kk, pads[3] as usize % kk);
                    }
                    if let Some(mut case) = ConvCase::random(c_in, c_out, h, w, win, seed ^ 1) {
                        case.out_channels = (a % (c_out + 1)).min(b % (c_out + 1))..(a % (c_out + 1)).max(b % (c_out + 1));
                        check_conv(k, &case.clamp(clamp), "proptest");
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
