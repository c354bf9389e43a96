//! The graph ops a TF.js import maps onto (Tanh, LeakyRelu, PRelu, Sub, Pad, DepthToSpace,
//! ResizeBilinear, Slice, ToHwc / FromHwc): hand-computed outputs through the reference
//! interpreter, the planned executor against the reference on every ISA of the build over edge
//! cases, typed errors for bad parameters, the `.zsk` round trip and the ONNX export.
//! Natively and as wasm32 under Node.

use crate::graphs;
use graphs::Builder;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zeroskip::export;
use zeroskip::graph::{
    reference, shape, Activation, Graph, Node, Op, Plan, PlanOptions, Pool, PoolKind, Resize,
    Session, Shape, Sparsity, Value,
};
use zeroskip::kernels::Isa;
use zeroskip::synth::Rng;
use zeroskip::zsk::{self, Precision};
use zeroskip::Error;

// ---- helpers --------------------------------------------------------------------------------

/// `input (s) -> op -> output`.
fn single(op: Op, s: Shape) -> Graph {
    let mut b = Builder::new(s);
    let y = b.push(op, &[0]);
    b.finish(y)
}

/// `x[c, h, w] = 100·c + 10·h + w`: every element names its own position.
fn positions(s: Shape) -> Vec<f32> {
    let mut v = Vec::with_capacity(s.len());
    for c in 0..s.c {
        for h in 0..s.h {
            for w in 0..s.w {
                v.push((100 * c + 10 * h + w) as f32);
            }
        }
    }
    v
}

fn run_ref(g: &Graph, x: &[f32]) -> Vec<f32> {
    reference::run(g, x).unwrap()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: [{i}] got {g} want {w}\n got {got:?}\nwant {want:?}"
        );
    }
}

/// Every ISA this build has kernels for.
fn isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Simd128, Isa::Relaxed]
        .into_iter()
        .filter(|&i| i <= Isa::best())
        .collect()
}

/// Plans `g` for every ISA (auto and dense) and compares `Session::run` with the reference
/// interpreter on random inputs: exactly when `tol` is 0 (the layout ops move values, the
/// activations compute what the reference computes), else within `tol`.
fn check_plan(g: &Graph, tol: f32, what: &str) {
    for seed in 0..2 {
        let x = Rng::new(seed + 11).vec(g.input_shape().len());
        let x: Vec<f32> = x.iter().map(|v| v * 4.0).collect();
        let want = run_ref(g, &x);
        for isa in isas() {
            for sparsity in [Sparsity::Auto, Sparsity::Dense] {
                let plan = Plan::new(g, PlanOptions { isa, sparsity })
                    .unwrap_or_else(|e| panic!("{what} on {}: {e}", isa.as_str()));
                let mut s = Session::new(plan);
                let got = s.run(&x).unwrap().to_vec();
                let w = format!("{what} on {} {sparsity:?}", isa.as_str());
                if tol == 0.0 {
                    assert_eq!(got, want, "{w}");
                } else {
                    assert_close(&got, &want, tol, &w);
                }
                // The arena is reused: a second run gives the same answer.
                assert_eq!(s.run(&x).unwrap(), &got[..], "{w}: second run");
            }
        }
    }
}

/// Whether shape inference accepts `op` on `inputs`; must never panic.
fn infer_err(op: &Op, inputs: &[Shape]) -> String {
    match shape::infer(op, inputs) {
        Ok(s) => panic!("{op:?} on {inputs:?} was accepted as {s}"),
        Err(e) => e,
    }
}

/// A graph holding every new op (and each activation), after a conv so values are mixed.
fn every_new_op() -> Graph {
    let mut rng = Rng::new(5);
    let mut b = Builder::new(Shape::new(3, 6, 7));
    let c = b.push(graphs::conv(&mut rng, 8, 3, 1, 3, 1, 1), &[0]); // (8, 6, 7)
    let t = b.push(Op::Act(Activation::Tanh), &[c]);
    let l = b.push(Op::Act(Activation::LeakyRelu { alpha: 0.2 }), &[c]);
    let s = b.push(Op::Sub, &[t, l]);
    let p = b.push(Op::Prelu { slope: rng.vec(8) }, &[s]);
    let pad = b.push(
        Op::Pad {
            pads: [1, 1, 0, 3, 2, 1],
        },
        &[p],
    ); // (12, 9, 8)
    let mp = b.push(
        Op::Pool(Pool {
            kind: PoolKind::Max,
            kh: 3,
            kw: 3,
            stride: [1, 1],
            pads: [0; 4],
        }),
        &[pad],
    ); // (12, 7, 6)
    let d = b.push(Op::DepthToSpace { block: 2 }, &[mp]); // (3, 14, 12)
    let r = b.push(
        Op::ResizeBilinear(Resize {
            oh: 9,
            ow: 17,
            align_corners: false,
            half_pixel_centers: true,
        }),
        &[d],
    ); // (3, 9, 17)
    let r2 = b.push(
        Op::ResizeBilinear(Resize {
            oh: 5,
            ow: 6,
            align_corners: true,
            half_pixel_centers: false,
        }),
        &[r],
    ); // (3, 5, 6)
    let r3 = b.push(
        Op::ResizeBilinear(Resize {
            oh: 7,
            ow: 4,
            align_corners: false,
            half_pixel_centers: false,
        }),
        &[r2],
    ); // (3, 7, 4)
    let sl = b.push(
        Op::Slice {
            begin: [1, 1, 0],
            step: [1, 2, 3],
            out: Shape::new(2, 3, 2),
        },
        &[r3],
    ); // (2, 3, 2)
    let hwc = b.push(Op::ToHwc, &[sl]); // (12, 1, 1)
    let back = b.push(Op::FromHwc(Shape::new(4, 3, 1)), &[hwc]); // (4, 3, 1)
    b.finish(back)
}

// ---- tests ----------------------------------------------------------------------------------

tests! {
    // ---- hand-computed outputs through the reference ----------------------------------------

    fn depth_to_space_by_hand() {
        // (8, 1, 1), block 2 -> (2, 2, 2): y[c, i, j] = x[(2i + j)·2 + c].
        let g = single(Op::DepthToSpace { block: 2 }, Shape::new(8, 1, 1));
        assert_eq!(g.output_shape(), Shape::new(2, 2, 2));
        let x: Vec<f32> = (0..8).map(|v| v as f32).collect();
        assert_eq!(run_ref(&g, &x), [0., 2., 4., 6., 1., 3., 5., 7.]);

        // (4, 2, 3), block 2 -> (1, 4, 6): y[0, 2h + i, 2w + j] = x[2i + j, h, w].
        let s = Shape::new(4, 2, 3);
        let g = single(Op::DepthToSpace { block: 2 }, s);
        assert_eq!(g.output_shape(), Shape::new(1, 4, 6));
        #[rustfmt::skip]
        let want = [
            0., 100., 1., 101., 2., 102.,
            200., 300., 201., 301., 202., 302.,
            10., 110., 11., 111., 12., 112.,
            210., 310., 211., 311., 212., 312.,
        ];
        assert_eq!(run_ref(&g, &positions(s)), want);

        // Block 3 on (9, 1, 1) -> (1, 3, 3): the channels, row-major.
        let g = single(Op::DepthToSpace { block: 3 }, Shape::new(9, 1, 1));
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        assert_eq!(run_ref(&g, &x), x);
    }

    fn resize_2x2_to_4x4_in_each_mode_by_hand() {
        // x = [[0, 4], [8, 20]]: bilinear at (ty, tx) is 4·tx + 8·ty + 8·tx·ty, where t is
        // the effective (clamped) source position on each axis.
        let x = [0., 4., 8., 20.];
        let s = Shape::new(1, 2, 2);
        let resize = |align_corners, half_pixel_centers| {
            let g = single(
                Op::ResizeBilinear(Resize { oh: 4, ow: 4, align_corners, half_pixel_centers }),
                s,
            );
            run_ref(&g, &x)
        };
        // align_corners: t = o·(2 − 1)/(4 − 1) = 0, 1/3, 2/3, 1.
        #[rustfmt::skip]
        let want = [
            0., 4. / 3., 8. / 3., 4.,
            8. / 3., 44. / 9., 64. / 9., 28. / 3.,
            16. / 3., 76. / 9., 104. / 9., 44. / 3.,
            8., 12., 16., 20.,
        ];
        // measured 9.5e-7 on every build
        assert_close(&resize(true, false), &want, 4e-6, "align_corners");
        // half_pixel_centers: (o + 0.5)·0.5 − 0.5 = −0.25 (reads index 0), 0.25, 0.75,
        // 1.25 (reads index 1).
        #[rustfmt::skip]
        let want = [
            0., 1., 3., 4.,
            2., 3.5, 6.5, 8.,
            6., 8.5, 13.5, 16.,
            8., 11., 17., 20.,
        ];
        assert_eq!(resize(false, true), want, "half_pixel_centers");
        // Neither (TF's legacy mode): o·0.5 = 0, 0.5, 1, 1.5 (upper index clamped to 1).
        #[rustfmt::skip]
        let want = [
            0., 2., 4., 4.,
            4., 8., 12., 12.,
            8., 14., 20., 20.,
            8., 14., 20., 20.,
        ];
        assert_eq!(resize(false, false), want, "legacy");
    }

    fn resize_downsample_by_hand() {
        // One row [0, 1, 2, 3] -> 2 samples (scale 2, or 3 with align_corners).
        let s = Shape::new(1, 1, 4);
        let x = [0., 1., 2., 3.];
        let resize = |align_corners, half_pixel_centers| {
            let op = Op::ResizeBilinear(Resize { oh: 1, ow: 2, align_corners, half_pixel_centers });
            run_ref(&single(op, s), &x)
        };
        assert_eq!(resize(false, true), [0.5, 2.5]); // (o + 0.5)·2 − 0.5
        assert_eq!(resize(false, false), [0., 2.]); // o·2
        assert_eq!(resize(true, false), [0., 3.]); // o·3
        // One output sample with align_corners: TF falls back to in/out, i.e. index 0.
        let op = Op::ResizeBilinear(Resize { oh: 1, ow: 1, align_corners: true, half_pixel_centers: false });
        assert_eq!(run_ref(&single(op, s), &x), [0.]);
    }

    fn slice_with_steps_by_hand() {
        let s = Shape::new(3, 4, 5);
        let x = positions(s);
        // y[c, h, w] = x[1 + c, 2h, 1 + 2w]
        let g = single(
            Op::Slice { begin: [1, 0, 1], step: [1, 2, 2], out: Shape::new(2, 2, 2) },
            s,
        );
        assert_eq!(run_ref(&g, &x), [101., 103., 121., 123., 201., 203., 221., 223.]);
        // A channel step: y[c, h, 0] = x[2c, 1 + h, 4]
        let g = single(
            Op::Slice { begin: [0, 1, 4], step: [2, 1, 1], out: Shape::new(2, 3, 1) },
            s,
        );
        assert_eq!(run_ref(&g, &x), [14., 24., 34., 214., 224., 234.]);
        // The last element exactly: begin + (out − 1)·step = size − 1 on every axis.
        let g = single(
            Op::Slice { begin: [0, 1, 0], step: [2, 2, 4], out: Shape::new(2, 2, 2) },
            s,
        );
        assert_eq!(run_ref(&g, &x), [10., 14., 30., 34., 210., 214., 230., 234.]);
    }

    fn pad_channels_and_space_by_hand() {
        // x (1, 2, 2) = [[1, 2], [3, 4]], pads c_lo 1, top 1, right 1 -> (2, 3, 3).
        let g = single(Op::Pad { pads: [1, 1, 0, 0, 0, 1] }, Shape::new(1, 2, 2));
        assert_eq!(g.output_shape(), Shape::new(2, 3, 3));
        #[rustfmt::skip]
        let want = [
            0., 0., 0., 0., 0., 0., 0., 0., 0.,
            0., 0., 0.,
            1., 2., 0.,
            3., 4., 0.,
        ];
        assert_eq!(run_ref(&g, &[1., 2., 3., 4.]), want);
        // Every side at once on a single value: (1, 1, 1) -> (1 + 1 + 1, 1 + 2 + 1, 1 + 0 + 2).
        let g = single(Op::Pad { pads: [1, 2, 0, 1, 1, 2] }, Shape::new(1, 1, 1));
        assert_eq!(g.output_shape(), Shape::new(3, 4, 3));
        let mut want = vec![0.0; 36];
        want[12 + 2 * 3] = 7.0; // channel 1, row 2, column 0
        assert_eq!(run_ref(&g, &[7.]), want);
    }

    fn hwc_layouts_by_hand_and_round_trip() {
        let s = Shape::new(2, 2, 3);
        let g = single(Op::ToHwc, s);
        assert_eq!(g.output_shape(), Shape::vector(12));
        assert_eq!(
            run_ref(&g, &positions(s)),
            [0., 100., 1., 101., 2., 102., 10., 110., 11., 111., 12., 112.]
        );
        let g = single(Op::FromHwc(s), Shape::vector(12));
        let hwc = [0., 100., 1., 101., 2., 102., 10., 110., 11., 111., 12., 112.];
        assert_eq!(run_ref(&g, &hwc), positions(s));
        // ToHwc then FromHwc is the identity, on odd sizes too.
        let s = Shape::new(3, 5, 7);
        let mut b = Builder::new(s);
        let t = b.push(Op::ToHwc, &[0]);
        let f = b.push(Op::FromHwc(s), &[t]);
        let g = b.finish(f);
        let x = Rng::new(3).vec(s.len());
        assert_eq!(run_ref(&g, &x), x);
        check_plan(&g, 0.0, "ToHwc -> FromHwc");
    }

    fn elementwise_ops_by_hand() {
        let s = Shape::new(2, 1, 2);
        let g = single(Op::Prelu { slope: vec![0.5, 0.25] }, s);
        assert_eq!(run_ref(&g, &[-1., 2., -3., 4.]), [-0.5, 2., -0.75, 4.]);
        let g = single(Op::Act(Activation::LeakyRelu { alpha: 0.1 }), s);
        assert_eq!(run_ref(&g, &[-2., 3., 0., -0.5]), [-0.2, 3., 0., -0.05]);
        let g = single(Op::Act(Activation::Tanh), s);
        // measured 0 natively, 3.0e-8 as wasm32 (its libm tanh)
        assert_close(&run_ref(&g, &[0., 0.5, -2., 30.]), &[0., 0.462_117_16, -0.964_027_6, 1.], 1.5e-7, "tanh");
        // Sub is a − b, not b − a: b = 0·x + [1, 4].
        let mut b = Builder::new(Shape::vector(2));
        let shift = b.push(Op::ChannelAffine { scale: vec![0., 0.], shift: vec![1., 4.] }, &[0]);
        let d = b.push(Op::Sub, &[0, shift]);
        let g = b.finish(d);
        assert_eq!(run_ref(&g, &[5., 3.]), [4., -1.]);
        check_plan(&g, 0.0, "sub");
    }

    // ---- the planned executor against the reference, every ISA ------------------------------

    fn plan_matches_reference_for_activations() {
        let acts = [
            Activation::Tanh,
            Activation::LeakyRelu { alpha: 0.1 },
            Activation::LeakyRelu { alpha: -0.3 },
            Activation::LeakyRelu { alpha: 1.5 },
        ];
        for act in acts {
            for s in [Shape::new(3, 5, 7), Shape::new(1, 1, 1), Shape::new(2, 1, 9), Shape::new(4, 2, 2)] {
                // Alone (copy then act: the graph input is never overwritten) and after a conv
                // (in place, not fused: only ReLU / clip fuse).
                check_plan(&single(Op::Act(act), s), 0.0, &format!("{act:?} on {s}"));
                let mut rng = Rng::new(1);
                let mut b = Builder::new(s);
                let c = b.push(graphs::conv(&mut rng, 4, s.c, 1, 3, 1, 1), &[0]);
                let a = b.push(Op::Act(act), &[c]);
                let g = b.finish(a);
                // measured 0 natively and SIMD128, 2.4e-6 relaxed
                check_plan(&g, 1.2e-5, &format!("conv + {act:?} on {s}"));
                let plan = Plan::new(&g, PlanOptions::default()).unwrap();
                let k = &plan.report()[1].kernel;
                assert!(k.starts_with("tanh_") || k.starts_with("leakyrelu_"), "{act:?} after a conv must not fuse: {k}");
            }
        }
        // Every ISA has a kernel for both (plans never fail for want of one).
        for isa in isas() {
            for act in acts {
                Plan::new(&single(Op::Act(act), Shape::new(2, 3, 3)), PlanOptions { isa, sparsity: Sparsity::Auto })
                    .unwrap_or_else(|e| panic!("{act:?} on {}: {e}", isa.as_str()));
            }
        }
    }

    fn plan_matches_reference_for_prelu_and_sub() {
        let mut rng = Rng::new(2);
        for s in [Shape::new(3, 5, 7), Shape::new(4, 1, 1), Shape::new(1, 3, 1)] {
            check_plan(&single(Op::Prelu { slope: rng.vec(s.c) }, s), 0.0, &format!("prelu {s}"));
            let mut b = Builder::new(s);
            let t = b.push(Op::Act(Activation::Tanh), &[0]);
            let d = b.push(Op::Sub, &[t, 0]);
            let d2 = b.push(Op::Sub, &[0, d]);
            check_plan(&b.finish(d2), 0.0, &format!("sub {s}"));
        }
    }

    fn plan_matches_reference_for_pad() {
        let cases = [
            (Shape::new(3, 5, 7), [0, 1, 1, 0, 1, 1]),
            (Shape::new(2, 3, 3), [2, 0, 0, 1, 0, 0]),
            (Shape::new(1, 1, 1), [1, 2, 3, 4, 5, 6]),
            (Shape::new(4, 2, 5), [0; 6]),
            (Shape::new(2, 1, 6), [0, 0, 3, 0, 2, 0]),
        ];
        for (s, pads) in cases {
            check_plan(&single(Op::Pad { pads }, s), 0.0, &format!("pad {pads:?} on {s}"));
        }
        // Pad before a max pool stays its own step (the importer folds pads into convs
        // itself; the plan fuses nothing into or out of a pad).
        let mut b = Builder::new(Shape::new(2, 5, 5));
        let p = b.push(Op::Pad { pads: [0, 1, 1, 0, 1, 1] }, &[0]);
        let m = b.push(Op::Pool(Pool { kind: PoolKind::Max, kh: 3, kw: 3, stride: [2, 2], pads: [0; 4] }), &[p]);
        let mut rng = Rng::new(4);
        let c = b.push(graphs::conv(&mut rng, 3, 2, 1, 3, 1, 0), &[m]);
        let g = b.finish(c);
        // measured 0 natively and SIMD128, 1.9e-6 relaxed
        check_plan(&g, 1e-5, "pad -> maxpool -> conv");
        let plan = Plan::new(&g, PlanOptions::default()).unwrap();
        assert_eq!(plan.report()[0].kernel, "pad_f32_1x1__scalar");
    }

    fn plan_matches_reference_for_depth_to_space() {
        let cases = [
            (Shape::new(8, 3, 5), 2),
            (Shape::new(4, 1, 1), 2),
            (Shape::new(12, 2, 3), 2),
            (Shape::new(18, 2, 3), 3),
            (Shape::new(9, 1, 1), 3),
            (Shape::new(27, 1, 4), 3),
            (Shape::new(3, 2, 2), 1),
        ];
        for (s, block) in cases {
            check_plan(&single(Op::DepthToSpace { block }, s), 0.0, &format!("d2s {block} on {s}"));
        }
    }

    fn plan_matches_reference_for_resize() {
        let modes = [(false, false), (true, false), (false, true)];
        let cases = [
            (Shape::new(2, 5, 7), 10, 14), // upsample 2x
            (Shape::new(2, 5, 7), 3, 4),   // downsample
            (Shape::new(1, 1, 1), 3, 3),   // from one pixel
            (Shape::new(3, 4, 4), 1, 1),   // to one pixel
            (Shape::new(2, 3, 5), 7, 2),   // up in H, down in W
            (Shape::new(1, 2, 2), 4, 4),
            (Shape::new(1, 6, 1), 6, 1),   // same size
            (Shape::new(2, 7, 9), 13, 5),  // odd, non-integer ratios
        ];
        for (s, oh, ow) in cases {
            for (align_corners, half_pixel_centers) in modes {
                let op = Op::ResizeBilinear(Resize { oh, ow, align_corners, half_pixel_centers });
                check_plan(&single(op.clone(), s), 0.0, &format!("{op:?} on {s}"));
            }
        }
    }

    fn plan_matches_reference_for_slice() {
        let s = Shape::new(5, 7, 9);
        let cases = [
            ([1, 2, 3], [2, 2, 3], Shape::new(2, 3, 2)),
            ([0, 0, 0], [1, 1, 1], s),
            ([4, 6, 8], [1, 1, 1], Shape::new(1, 1, 1)),
            ([0, 0, 0], [4, 6, 8], Shape::new(2, 2, 2)),
            ([2, 0, 1], [1, 3, 1], Shape::new(3, 3, 8)),
            // A step on an axis of output length 1 is never used, however large.
            ([3, 1, 2], [usize::MAX, 1, usize::MAX / 2], Shape::new(1, 6, 1)),
        ];
        for (begin, step, out) in cases {
            let op = Op::Slice { begin, step, out };
            check_plan(&single(op.clone(), s), 0.0, &format!("{op:?}"));
        }
        check_plan(
            &single(Op::Slice { begin: [0, 0, 0], step: [1, 1, 1], out: Shape::vector(1) }, Shape::vector(1)),
            0.0,
            "slice of one value",
        );
    }

    fn plan_matches_reference_for_hwc_layouts() {
        for s in [Shape::new(3, 5, 7), Shape::new(1, 4, 4), Shape::new(6, 1, 1), Shape::new(2, 1, 3), Shape::new(1, 1, 1)] {
            check_plan(&single(Op::ToHwc, s), 0.0, &format!("ToHwc {s}"));
            check_plan(&single(Op::FromHwc(s), Shape::vector(s.len())), 0.0, &format!("FromHwc {s}"));
        }
        // One channel or one pixel: CHW and HWC coincide, so no step and no copy.
        let plan = Plan::new(&single(Op::ToHwc, Shape::new(6, 1, 1)), PlanOptions::default()).unwrap();
        assert_eq!(plan.report()[0].kernel, "view");
        // A flatten-to-HWC feeding a dense layer, then an activation in place on its output.
        let mut rng = Rng::new(8);
        let mut b = Builder::new(Shape::new(4, 3, 3));
        let t = b.push(Op::ToHwc, &[0]);
        let l = b.push(graphs::linear(&mut rng, 5, 36), &[t]);
        let a = b.push(Op::Act(Activation::LeakyRelu { alpha: 0.3 }), &[l]);
        let f = b.push(Op::FromHwc(Shape::new(5, 1, 1)), &[a]);
        // measured 1.9e-6 on every build
        check_plan(&b.finish(f), 1e-5, "ToHwc -> linear -> leaky -> FromHwc");
    }

    fn in_place_activations_never_clobber_a_live_value() {
        let mut rng = Rng::new(12);
        let s = Shape::new(3, 4, 5);
        // l is read by a second activation and by Sub after it: tanh must not overwrite l.
        let mut b = Builder::new(s);
        let c = b.push(graphs::conv(&mut rng, 3, 3, 1, 3, 1, 1), &[0]);
        let l = b.push(Op::Act(Activation::LeakyRelu { alpha: 0.1 }), &[c]);
        let t = b.push(Op::Act(Activation::Tanh), &[l]);
        let d = b.push(Op::Sub, &[t, l]);
        // measured 0 natively and SIMD128, 9.5e-7 relaxed
        check_plan(&b.finish(d), 5e-6, "act -> act -> sub");
        // The graph output is l; a dead activation after it must not overwrite it.
        let mut b = Builder::new(s);
        let c = b.push(graphs::conv(&mut rng, 3, 3, 1, 3, 1, 1), &[0]);
        let l = b.push(Op::Act(Activation::LeakyRelu { alpha: 0.1 }), &[c]);
        b.push(Op::Act(Activation::Tanh), &[l]);
        // measured 0 natively and SIMD128, 1.9e-6 relaxed
        check_plan(&b.finish(l), 1e-5, "output read by a later act");
        // A view of an activation that runs in place.
        let mut b = Builder::new(s);
        let c = b.push(graphs::conv(&mut rng, 3, 3, 1, 3, 1, 1), &[0]);
        let t = b.push(Op::Act(Activation::Tanh), &[c]);
        let v = b.push(Op::View(Shape::vector(60)), &[t]);
        let f = b.push(graphs::linear(&mut rng, 4, 60), &[v]);
        // measured 1.2e-6 natively, 4.8e-7 SIMD128, 9.5e-7 relaxed
        check_plan(&b.finish(f), 6e-6, "view of an in-place act");
    }

    fn plan_matches_reference_on_a_chain_of_every_new_op() {
        let g = every_new_op();
        // measured 0 natively and SIMD128, 2.4e-7 relaxed
        check_plan(&g, 1.2e-6, "every new op");
    }

    // ---- bad parameters: typed errors, never a panic ----------------------------------------

    fn shape_inference_rejects_bad_params() {
        let x = Shape::new(6, 4, 4);
        // DepthToSpace: C not divisible by block², block 0, block whose square overflows.
        assert!(infer_err(&Op::DepthToSpace { block: 2 }, &[x]).contains("block"));
        infer_err(&Op::DepthToSpace { block: 0 }, &[x]);
        infer_err(&Op::DepthToSpace { block: usize::MAX }, &[x]);
        infer_err(&Op::DepthToSpace { block: 1 << (usize::BITS / 2) }, &[x]);
        // Slice: past the end, step 0, an empty output, overflowing begin / step.
        let sl = |begin, step, out| Op::Slice { begin, step, out };
        assert!(infer_err(&sl([0, 0, 3], [1, 1, 1], Shape::new(1, 1, 2)), &[Shape::new(1, 1, 4)]).contains("axis 2"));
        infer_err(&sl([0, 0, 0], [1, 1, 2], Shape::new(1, 1, 3)), &[Shape::new(1, 1, 4)]);
        infer_err(&sl([0, 0, 0], [0, 1, 1], Shape::new(1, 1, 1)), &[x]);
        infer_err(&sl([0, 0, 0], [1, 1, 1], Shape::new(0, 1, 1)), &[x]);
        infer_err(&sl([usize::MAX, 0, 0], [1, 1, 1], Shape::new(1, 1, 1)), &[x]);
        infer_err(&sl([1, 0, 0], [usize::MAX, 1, 1], Shape::new(2, 1, 1)), &[x]);
        infer_err(&sl([0, 0, 0], [1, 1, 1], Shape::new(usize::MAX, usize::MAX, 2)), &[x]);
        // Pad: overflowing sums, and outputs beyond the activation limit.
        infer_err(&Op::Pad { pads: [usize::MAX, 0, 0, 1, 0, 0] }, &[x]);
        infer_err(&Op::Pad { pads: [0, usize::MAX, 0, 0, usize::MAX, 0] }, &[x]);
        infer_err(&Op::Pad { pads: [0, 1 << 20, 0, 0, 0, 1 << 20] }, &[x]);
        // Resize: empty or huge outputs, both coordinate modes at once.
        let rs = |oh, ow, align_corners, half_pixel_centers| Op::ResizeBilinear(Resize { oh, ow, align_corners, half_pixel_centers });
        infer_err(&rs(0, 4, false, false), &[x]);
        infer_err(&rs(4, 0, false, true), &[x]);
        infer_err(&rs(1 << 20, 1 << 20, false, false), &[x]);
        infer_err(&rs(usize::MAX, usize::MAX, false, false), &[x]);
        assert!(infer_err(&rs(8, 8, true, true), &[x]).contains("align_corners"));
        // Prelu slope per channel; Sub same shape and two inputs; FromHwc same length.
        infer_err(&Op::Prelu { slope: vec![0.1; 5] }, &[x]);
        infer_err(&Op::Sub, &[x, Shape::new(6, 4, 1)]);
        infer_err(&Op::Sub, &[x]);
        infer_err(&Op::Prelu { slope: vec![0.1; 6] }, &[x, x]);
        infer_err(&Op::FromHwc(Shape::new(6, 4, 3)), &[Shape::vector(96)]);
        infer_err(&Op::FromHwc(Shape::new(usize::MAX, usize::MAX, 4)), &[Shape::vector(96)]);
        infer_err(&Op::View(Shape::new(usize::MAX, usize::MAX / 2, 4)), &[Shape::vector(96)]);
        infer_err(&Op::ToHwc, &[x, x]);
        // The good versions pass.
        assert_eq!(shape::infer(&Op::DepthToSpace { block: 2 }, &[Shape::new(8, 4, 4)]), Ok(Shape::new(2, 8, 8)));
        assert_eq!(shape::infer(&sl([0, 0, 1], [1, 1, 2], Shape::new(1, 1, 2)), &[Shape::new(1, 1, 4)]), Ok(Shape::new(1, 1, 2)));
        assert_eq!(shape::infer(&Op::Pad { pads: [1, 2, 3, 4, 5, 6] }, &[x]), Ok(Shape::new(11, 11, 13)));
    }

    fn graph_validate_and_plan_give_typed_errors() {
        // A graph whose declared op does not fit: BadNode from validate, from the reference
        // and from the plan, never a panic.
        let bad = |op: Op, input: Shape, out: Shape| Graph {
            name: "bad".into(),
            values: vec![
                Value { name: "x".into(), shape: input },
                Value { name: "y".into(), shape: out },
            ],
            nodes: vec![Node { name: "n".into(), op, inputs: vec![0], output: 1 }],
            input: 0,
            output: 1,
        };
        let graphs = [
            bad(Op::DepthToSpace { block: 2 }, Shape::new(6, 2, 2), Shape::new(1, 4, 4)),
            bad(Op::Slice { begin: [0, 0, 5], step: [1, 1, 1], out: Shape::new(1, 1, 1) }, Shape::new(1, 1, 5), Shape::new(1, 1, 1)),
            bad(Op::Pad { pads: [0, usize::MAX, 0, 0, 1, 0] }, Shape::new(1, 2, 2), Shape::new(1, 2, 2)),
            bad(Op::ResizeBilinear(Resize { oh: 2, ow: 2, align_corners: true, half_pixel_centers: true }), Shape::new(1, 2, 2), Shape::new(1, 2, 2)),
            bad(Op::Prelu { slope: vec![] }, Shape::new(1, 2, 2), Shape::new(1, 2, 2)),
            bad(Op::Sub, Shape::new(1, 2, 2), Shape::new(1, 2, 2)),
            bad(Op::FromHwc(Shape::new(2, 2, 2)), Shape::vector(4), Shape::new(2, 2, 2)),
            // Right op, wrong declared output.
            bad(Op::ToHwc, Shape::new(2, 2, 2), Shape::new(2, 2, 2)),
        ];
        for g in &graphs {
            assert!(matches!(g.validate(), Err(Error::BadNode { .. })), "{:?}", g.nodes[0].op);
            assert!(matches!(Plan::new(g, PlanOptions::default()), Err(Error::BadNode { .. })));
            assert!(reference::run(g, &vec![0.0; g.input_shape().len()]).is_err());
            assert!(zsk::write(g, Precision::F32).is_err());
            assert!(export::onnx::write(g).is_err());
        }
    }

    // ---- .zsk -------------------------------------------------------------------------------

    fn zsk_round_trip_of_every_new_op() {
        let g = every_new_op();
        let bytes = zsk::write(&g, Precision::F32).unwrap();
        let m = zsk::load("ops.zsk", &bytes).unwrap();
        assert_eq!(m.graph, g);
        let x = Rng::new(9).vec(g.input_shape().len());
        assert_eq!(run_ref(&m.graph, &x), run_ref(&g, &x));
        let plan = Plan::with_packed(&m.graph, PlanOptions::default(), &m.packed).unwrap();
        let got = Session::new(plan).run(&x).unwrap().to_vec();
        // measured 0 natively and SIMD128, 1.2e-7 relaxed
        assert_close(&got, &run_ref(&g, &x), 6e-7, "loaded plan");
        // f16 stores the weights (slope, conv) at half precision; the ops come back the same.
        let m16 = zsk::load("ops16.zsk", &zsk::write(&g, Precision::F16).unwrap()).unwrap();
        assert_eq!(m16.graph.nodes.len(), g.nodes.len());
        for (a, b) in m16.graph.nodes.iter().zip(&g.nodes) {
            assert_eq!(a.op.name(), b.op.name());
        }
        // A step on an output axis of length 1 beyond u32 is stored as 1: same outputs.
        let s = Shape::new(5, 7, 9);
        let op = Op::Slice { begin: [3, 1, 2], step: [usize::MAX, 1, usize::MAX / 2], out: Shape::new(1, 6, 1) };
        let g = single(op, s);
        let m = zsk::load("slice.zsk", &zsk::write(&g, Precision::F32).unwrap()).unwrap();
        let x = Rng::new(10).vec(s.len());
        assert_eq!(run_ref(&m.graph, &x), run_ref(&g, &x));
    }

    fn zsk_rejects_bad_new_op_fields() {
        // Single-node files: the op's payload is at the end of the file.
        let load = |bytes: &[u8]| zsk::load("bad.zsk", bytes);
        let is_bad = |r: zeroskip::Result<zsk::ZskModel>, what: &str| {
            assert!(matches!(&r, Err(Error::BadModel { .. })), "{what}: {:?}", r.map(|m| m.graph.nodes[0].op.clone()));
        };
        let op = Op::ResizeBilinear(Resize { oh: 3, ow: 3, align_corners: false, half_pixel_centers: true });
        let good = zsk::write(&single(op, Shape::new(1, 2, 2)), Precision::F32).unwrap();
        assert!(load(&good).is_ok());
        let n = good.len();
        let mut b = good.clone();
        b[n - 1] = 4; // an unknown flag bit
        let e = load(&b).unwrap_err();
        assert!(e.to_string().contains("resize flags"), "{e}");
        b[n - 1] = 3; // both coordinate modes
        is_bad(load(&b), "align_corners + half_pixel_centers");
        b[n - 1] = 1; // align_corners alone is fine
        assert!(load(&b).is_ok());
        b[n - 5..n - 1].copy_from_slice(&0u32.to_le_bytes()); // ow = 0
        is_bad(load(&b), "ow 0");

        let good = zsk::write(&single(Op::DepthToSpace { block: 2 }, Shape::new(8, 2, 2)), Precision::F32).unwrap();
        let n = good.len();
        for block in [0u32, 3, u32::MAX] {
            let mut b = good.clone();
            b[n - 4..].copy_from_slice(&block.to_le_bytes());
            is_bad(load(&b), &format!("block {block}"));
        }

        let sl = Op::Slice { begin: [0, 1, 0], step: [1, 1, 2], out: Shape::new(2, 2, 2) };
        let good = zsk::write(&single(sl, Shape::new(2, 3, 4)), Precision::F32).unwrap();
        let n = good.len();
        // ... begin[3] step[3] out(c, h, w): step w is at n − 16, begin c at n − 36.
        for (at, v) in [(n - 16, 0u32), (n - 16, 4), (n - 36, 1), (n - 36, u32::MAX), (n - 4, 0)] {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            is_bad(load(&b), &format!("slice field at {at} = {v}"));
        }

        let good = zsk::write(&single(Op::Act(Activation::LeakyRelu { alpha: 0.2 }), Shape::new(1, 2, 2)), Precision::F32).unwrap();
        let n = good.len();
        let mut b = good.clone();
        b[n - 5] = 99; // the activation tag
        is_bad(load(&b), "activation tag");
        let mut b = good.clone();
        b[n - 6] = 200; // the op tag
        is_bad(load(&b), "op tag");
        // Every truncation of the every-op file is an error.
        let bytes = zsk::write(&every_new_op(), Precision::F32).unwrap();
        for cut in (0..bytes.len()).step_by(13) {
            assert!(load(&bytes[..cut]).is_err(), "cut at {cut} loaded");
        }
    }

    fn corrupted_new_op_files_never_panic() {
        let g = every_new_op();
        let good = zsk::write(&g, Precision::F32).unwrap();
        let x = vec![0.5; g.input_shape().len()];
        // Mutate only the nodes after the conv (whose weights are most of the file): the new
        // ops. Node 1 starts at its name's length, 4 bytes before the name.
        let len = good.len();
        let name = g.nodes[1].name.as_bytes();
        let start = good.windows(name.len()).position(|w| w == name).unwrap() - 4;
        let mut runner = TestRunner::new(Config { cases: 200, failure_persistence: None, ..Config::default() });
        runner
            .run(&prop::collection::vec((start..len, any::<u8>()), 1..4), |muts| {
                let mut b = good.clone();
                for (i, v) in muts {
                    b[i] = v;
                }
                let run = || -> zeroskip::Result<()> {
                    let m = zsk::load("fuzz.zsk", &b)?;
                    reference::run(&m.graph, &x)?;
                    let mut s = Session::new(Plan::with_packed(&m.graph, PlanOptions::default(), &m.packed)?);
                    s.run(&x)?;
                    Ok(())
                };
                let _ = run();
                Ok(())
            })
            .unwrap();
    }

    // ---- ONNX export ------------------------------------------------------------------------

    fn onnx_export_of_every_new_op() {
        let g = every_new_op();
        let model = export::onnx::to_model(&g).unwrap();
        let graph = model.graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        for want in ["Tanh", "LeakyRelu", "Sub", "PRelu", "Pad", "MaxPool", "DepthToSpace", "Resize", "Slice", "Transpose", "Reshape"] {
            assert!(ops.contains(&want), "{want} missing from {ops:?}");
        }
        let attr = |op: &str, name: &str| -> Vec<String> {
            graph
                .node
                .iter()
                .filter(|n| n.op_type == op)
                .flat_map(|n| n.attribute.iter().filter(|a| a.name == name))
                .map(|a| String::from_utf8(a.s.clone()).unwrap())
                .collect()
        };
        assert_eq!(attr("DepthToSpace", "mode"), ["DCR"]);
        assert_eq!(attr("Resize", "coordinate_transformation_mode"), ["half_pixel", "align_corners", "asymmetric"]);
        // PRelu's slope is a (C, 1, 1) initializer.
        let prelu = graph.node.iter().find(|n| n.op_type == "PRelu").unwrap();
        let slope = graph.initializer.iter().find(|t| t.name == prelu.input[1]).unwrap();
        assert_eq!(slope.dims, [8, 1, 1]);
        // Pad's pads: begins of N, C, H, W then their ends.
        let pad = graph.node.iter().find(|n| n.op_type == "Pad").unwrap();
        let pads = graph.initializer.iter().find(|t| t.name == pad.input[1]).unwrap();
        assert_eq!(pads.int64_data, [0, 1, 1, 0, 0, 3, 2, 1]);
        // Slice: ends just past the last element read.
        let slice = graph.node.iter().find(|n| n.op_type == "Slice").unwrap();
        let ends = graph.initializer.iter().find(|t| t.name == slice.input[2]).unwrap();
        assert_eq!(ends.int64_data, [3, 6, 4]);
        assert!(!export::onnx::write(&g).unwrap().is_empty());
    }
}
