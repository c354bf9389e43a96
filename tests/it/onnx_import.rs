//! ONNX import on small in-memory models: op mapping, BN folding, views, sparse initializers,
//! and a typed error (never a panic) for each kind of bad input.

use crate::common;
use common::onnx::*;
use zeroskip::graph::{reference, Activation, Linear, Op, Plan, PlanOptions, Session, Shape};
use zeroskip::import::onnx::{load, proto::SparseTensorProto};
use zeroskip::Error;

/// Conv 3→4 (3x3, s2, p1) → BN → Clip(0,6) → depthwise 3x3 → Relu → 1x1 4→6 → GAP → Flatten
/// → Gemm 6→5 (transB) → Softmax: the skeleton of a MobileNet.
fn mobilenet_like() -> (Vec<u8>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let w0 = values(4 * 3 * 9, 1);
    let b0 = values(4, 2);
    let (gamma, beta, mean) = (values(4, 3), values(4, 4), values(4, 5));
    let var: Vec<f32> = values(4, 6).iter().map(|v| v.abs() + 0.5).collect();
    let nodes = vec![
        node(
            "Conv",
            "stem",
            &["input", "w0", "b0"],
            &["c0"],
            vec![
                ints("strides", &[2, 2]),
                ints("pads", &[1, 1, 1, 1]),
                ints("kernel_shape", &[3, 3]),
            ],
        ),
        node(
            "BatchNormalization",
            "bn0",
            &["c0", "gamma", "beta", "mean", "var"],
            &["n0"],
            vec![float("epsilon", 1e-3)],
        ),
        node("Clip", "relu6", &["n0", "zero", "six"], &["r0"], vec![]),
        node(
            "Conv",
            "dw",
            &["r0", "wdw"],
            &["d0"],
            vec![int("group", 4), ints("pads", &[1, 1, 1, 1])],
        ),
        node("Relu", "relu", &["d0"], &["r1"], vec![]),
        node("Conv", "pw", &["r1", "wpw", "bpw"], &["p0"], vec![]),
        node("GlobalAveragePool", "gap", &["p0"], &["g"], vec![]),
        node("Flatten", "flat", &["g"], &["f"], vec![]),
        node(
            "Gemm",
            "fc",
            &["f", "wfc", "bfc"],
            &["logits"],
            vec![int("transB", 1)],
        ),
        node("Softmax", "prob", &["logits"], &["prob"], vec![]),
    ];
    let inits = vec![
        tensor("w0", &[4, 3, 3, 3], &w0),
        tensor("b0", &[4], &b0),
        tensor("gamma", &[4], &gamma),
        tensor("beta", &[4], &beta),
        tensor("mean", &[4], &mean),
        tensor("var", &[4], &var),
        tensor("zero", &[], &[0.0]),
        tensor("six", &[], &[6.0]),
        tensor("wdw", &[4, 1, 3, 3], &values(36, 7)),
        tensor("wpw", &[6, 4, 1, 1], &values(24, 8)),
        tensor("bpw", &[6], &values(6, 9)),
        tensor("wfc", &[5, 6], &values(30, 10)),
        tensor("bfc", &[5], &values(5, 11)),
    ];
    let m = model(nodes, inits, &[1, 3, 9, 10], "prob");
    (
        bytes(&m),
        w0,
        b0,
        gamma
            .iter()
            .zip(&var)
            .map(|(g, v)| g / (v + 1e-3).sqrt())
            .collect(),
    )
}

/// `m` imported and run on the default plan, beside the graph's reference interpreter.
fn run_both(m: &zeroskip::import::onnx::proto::ModelProto, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let g = load("op.onnx", &bytes(m)).unwrap();
    let want = reference::run(&g, x).unwrap();
    let mut s = Session::new(Plan::new(&g, PlanOptions::default()).unwrap());
    (s.run(x).unwrap().to_vec(), want)
}

/// One node `op` over `input (1, 3, 4, 5)` with `inits`, at `opset`.
fn one_node(
    op: &str,
    inputs: &[&str],
    attrs: Vec<zeroskip::import::onnx::proto::AttributeProto>,
    inits: Vec<zeroskip::import::onnx::proto::TensorProto>,
    opset: i64,
) -> zeroskip::import::onnx::proto::ModelProto {
    let mut m = model(
        vec![node(op, "n", inputs, &["y"], attrs)],
        inits,
        &[1, 3, 4, 5],
        "y",
    );
    m.opset_import[0].version = opset;
    m
}

tests! {
    fn pad_prelu_tanh_and_leaky_relu_match_a_naive_reference() {
        let x = values(60, 40);
        let at = |c: usize, h: usize, w: usize| x[(c * 4 + h) * 5 + w];
        // Pad: opset 13 (pads as an input) and opset 2 (attributes), channels and pixels
        let pads = [0i64, 1, 1, 0, 0, 2, 0, 3];
        let want: Vec<f32> = (0..6).flat_map(|c| (0..5).flat_map(move |h| (0..8).map(move |w| (c, h, w))))
            .map(|(c, h, w)| if (1..4).contains(&c) && (1..5).contains(&h) && w < 5 { at(c - 1, h - 1, w) } else { 0.0 })
            .collect();
        let m13 = one_node("Pad", &["input", "pads"], vec![], vec![tensor_i64("pads", &pads)], 13);
        let m2 = one_node("Pad", &["input"], vec![ints("pads", &pads), string("mode", "constant")], vec![], 2);
        for m in [m13, m2] {
            let g = load("pad.onnx", &bytes(&m)).unwrap();
            assert_eq!(g.output_shape(), Shape::new(6, 5, 8));
            let (got, reference) = run_both(&m, &x);
            assert_eq!(got, want);
            assert_eq!(reference, want);
        }
        // PRelu: per channel in each layout ONNX exporters write, and one shared slope
        let slope = [0.5f32, -0.25, 2.0];
        for dims in [&[3, 1, 1][..], &[1, 3, 1, 1], &[3]] {
            let m = one_node("PRelu", &["input", "s"], vec![], vec![tensor("s", dims, &slope)], 13);
            let want: Vec<f32> = x.iter().enumerate().map(|(i, &v)| if v >= 0.0 { v } else { slope[i / 20] * v }).collect();
            let (got, reference) = run_both(&m, &x);
            assert_eq!(got, want, "{dims:?}");
            assert_eq!(reference, want, "{dims:?}");
        }
        let m = one_node("PRelu", &["input", "s"], vec![], vec![tensor("s", &[1], &[0.1])], 13);
        let want: Vec<f32> = x.iter().map(|&v| if v >= 0.0 { v } else { 0.1 * v }).collect();
        assert_eq!(run_both(&m, &x).0, want);
        // LeakyRelu (ONNX's default alpha is 0.01) and Tanh
        for (attrs, alpha) in [(vec![], 0.01f32), (vec![float("alpha", 0.3)], 0.3)] {
            let m = one_node("LeakyRelu", &["input"], attrs, vec![], 13);
            let want: Vec<f32> = x.iter().map(|&v| if v >= 0.0 { v } else { alpha * v }).collect();
            assert_eq!(run_both(&m, &x).0, want);
        }
        let m = one_node("Tanh", &["input"], vec![], vec![], 13);
        // the kernels call std's tanh, as this does: exact on every build
        let want: Vec<f32> = x.iter().map(|v| v.tanh()).collect();
        assert_eq!(run_both(&m, &x).0, want);
    }

    fn attributes_the_importer_does_not_read_are_refused_by_name() {
        // MaxPool with dilations used to be imported without them: another shape, silently
        let m = one_node("MaxPool", &["input"], vec![ints("kernel_shape", &[2, 2]), ints("dilations", &[2, 2])], vec![], 13);
        let e = load("dil.onnx", &bytes(&m)).unwrap_err();
        assert!(matches!(&e, Error::UnsupportedOp { node, op, detail, .. } if node == "n" && op == "MaxPool" && detail.contains("dilations")), "{e}");
        // an attribute no importer reads, on an op that has none
        let m = one_node("Relu", &["input"], vec![int("frobnicate", 1)], vec![], 13);
        let e = load("attr.onnx", &bytes(&m)).unwrap_err();
        assert!(matches!(&e, Error::UnsupportedOp { detail, .. } if detail.contains("attribute frobnicate")), "{e}");
        assert!(e.to_string().contains("attr.onnx") && e.to_string().contains("Relu"), "{e}");
        // values the importer reads but cannot honour
        let cases: Vec<(&str, zeroskip::import::onnx::proto::ModelProto, &str)> = vec![
            ("reflect pad", one_node("Pad", &["input", "pads"], vec![string("mode", "reflect")], vec![tensor_i64("pads", &[0, 0, 1, 1, 0, 0, 1, 1])], 13), "reflect"),
            ("pad value", one_node("Pad", &["input", "pads", "v"], vec![], vec![tensor_i64("pads", &[0, 0, 1, 1, 0, 0, 1, 1]), tensor("v", &[], &[1.5])], 13), "1.5"),
            ("crop", one_node("Pad", &["input", "pads"], vec![], vec![tensor_i64("pads", &[0, 0, -1, 0, 0, 0, 0, 0])], 13), "cropping"),
            ("batch pad", one_node("Pad", &["input", "pads"], vec![], vec![tensor_i64("pads", &[1, 0, 0, 0, 0, 0, 0, 0])], 13), "batch"),
            ("slope", one_node("PRelu", &["input", "s"], vec![], vec![tensor("s", &[1, 1, 4, 5], &values(20, 3))], 13), "slope"),
            ("bn training", one_node("BatchNormalization", &["input", "a", "a", "a", "a"], vec![int("training_mode", 1)], vec![tensor("a", &[3], &[1.0, 1.0, 1.0])], 14), "training_mode"),
            ("transpose", one_node("Transpose", &["input"], vec![ints("perm", &[0, 1, 3, 2])], vec![], 13), "perm [0, 1, 3, 2]"),
            // opset 13 reduces the last axis alone: of size 5, while the tensor has 60 values
            ("softmax", one_node("Softmax", &["input"], vec![], vec![], 13), "axis -1"),
        ];
        for (what, m, needle) in cases {
            let e = load("op.onnx", &bytes(&m)).unwrap_err();
            assert!(matches!(&e, Error::UnsupportedOp { detail, .. } if detail.contains(needle)), "{what}: {e}");
        }
    }

    fn reduce_mean_depth_to_space_and_swish_match_a_naive_reference() {
        let x = values(60, 42);
        // ReduceMean over H and W: axes as an attribute (opset 13) or an input (opset 18)
        let mean: Vec<f32> = x.chunks(20).map(|c| c.iter().sum::<f32>() / 20.0).collect();
        for keep in [1, 0] {
            let m13 = one_node("ReduceMean", &["input"], vec![ints("axes", &[2, -1]), int("keepdims", keep)], vec![], 13);
            let m18 = one_node("ReduceMean", &["input", "axes"], vec![int("keepdims", keep)], vec![tensor_i64("axes", &[2, 3])], 18);
            for m in [m13, m18] {
                let g = load("rm.onnx", &bytes(&m)).unwrap();
                assert_eq!(g.output_shape(), if keep == 1 { Shape::new(3, 1, 1) } else { Shape::vector(3) });
                let (got, _) = run_both(&m, &x);
                let err = got.iter().zip(&mean).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
                // measured 0 natively, 1.5e-8 as wasm32 (SIMD128 and relaxed)
                assert!(err <= 1.5e-7, "{got:?} vs {mean:?}");
            }
        }
        let m = one_node("ReduceMean", &["input"], vec![ints("axes", &[1])], vec![], 13);
        let e = load("rm.onnx", &bytes(&m)).unwrap_err();
        assert!(matches!(&e, Error::UnsupportedOp { detail, .. } if detail.contains("axes [1]")), "{e}");
        // DepthToSpace, DCR: y[c, h·b + i, w·b + j] = x[(i·b + j)·C + c, h, w]
        let (b, c, h, w) = (2usize, 2usize, 2usize, 3usize);
        let x8 = values(b * b * c * h * w, 43);
        let m = model(vec![node("DepthToSpace", "d2s", &["input"], &["y"], vec![int("blocksize", 2)])], vec![], &[1, 8, 2, 3], "y");
        let mut want = vec![0.0; x8.len()];
        for ci in 0..c {
            for hi in 0..h * b {
                for wi in 0..w * b {
                    let src = (((hi % b) * b + wi % b) * c + ci) * h * w + (hi / b) * w + wi / b;
                    want[(ci * h * b + hi) * w * b + wi] = x8[src];
                }
            }
        }
        let (got, reference) = run_both(&m, &x8);
        assert_eq!(got, want);
        assert_eq!(reference, want);
        // CRD (PyTorch's PixelShuffle): y[c, h·b + i, w·b + j] = x[c·b² + i·b + j, h, w]
        let m = model(vec![node("DepthToSpace", "d2s", &["input"], &["y"], vec![int("blocksize", 2), string("mode", "CRD")])], vec![], &[1, 8, 2, 3], "y");
        for ci in 0..c {
            for hi in 0..h * b {
                for wi in 0..w * b {
                    let src = ((ci * b + hi % b) * b + wi % b) * h * w + (hi / b) * w + wi / b;
                    want[(ci * h * b + hi) * w * b + wi] = x8[src];
                }
            }
        }
        let (got, reference) = run_both(&m, &x8);
        assert_eq!(got, want);
        assert_eq!(reference, want);
        // Swish as exporters write it: x · Sigmoid(x)
        let m = model(
            vec![node("Sigmoid", "s", &["input"], &["sg"], vec![]), node("Mul", "m", &["input", "sg"], &["y"], vec![])],
            vec![],
            &[1, 3, 4, 5],
            "y",
        );
        let (got, _) = run_both(&m, &x);
        let err = got.iter().zip(&x).map(|(g, v)| (g - v / (1.0 + (-v).exp())).abs()).fold(0.0f32, f32::max);
        // measured 6.0e-8 natively and as wasm32 (SIMD128 and relaxed)
        assert!(err <= 6e-7, "{err:e}");
    }

    fn softmax_axes_follow_the_opset() {
        // (1, 5, 1, 1): over the channels for opset 11's axis 1 (flattened from it); opset 13's
        // default −1 reduces a unit axis, refused above. (1, 5) works on both.
        let mut m = model(vec![node("Softmax", "s", &["input"], &["y"], vec![])], vec![], &[1, 5, 1, 1], "y");
        m.opset_import[0].version = 11;
        let x = values(5, 41);
        let (got, _) = run_both(&m, &x);
        let z: f32 = x.iter().map(|v| v.exp()).sum();
        let err = got.iter().zip(&x).map(|(g, v)| (g - v.exp() / z).abs()).fold(0.0f32, f32::max);
        // measured 3.0e-8 natively, 0 as wasm32 (SIMD128 and relaxed)
        assert!(err <= 3e-7, "{got:?}: {err:e}");
        m.opset_import[0].version = 13;
        assert!(matches!(load("s.onnx", &bytes(&m)), Err(Error::UnsupportedOp { .. })));
        let m = model(vec![node("Softmax", "s", &["input"], &["y"], vec![int("axis", 1)])], vec![], &[1, 5, 1, 1], "y");
        assert_eq!(run_both(&m, &x).0, got);
    }

    fn imports_a_mobilenet_skeleton() {
        let (b, _, _, _) = mobilenet_like();
        let g = load("tiny.onnx", &b).unwrap();
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["Conv", "Activation", "Conv", "Activation", "Conv", "GlobalAvgPool", "Linear", "Softmax"]);
        assert_eq!(g.input_shape(), Shape::new(3, 9, 10));
        assert_eq!(g.shape(g.nodes[0].output), Shape::new(4, 5, 5));
        assert_eq!(g.output_shape(), Shape::vector(5));
        assert_eq!(g.nodes[1].op, Op::Act(Activation::Clip { min: 0.0, max: 6.0 }));
        let Op::Conv(dw) = &g.nodes[2].op else { panic!() };
        assert!(dw.is_depthwise());
        let Op::Conv(pw) = &g.nodes[4].op else { panic!() };
        assert!(pw.is_pointwise());
        let y = reference::run(&g, &values(3 * 9 * 10, 12)).unwrap();
        assert_eq!(y.len(), 5);
        // measured 0 natively, 6.0e-8 as wasm32 (SIMD128 and relaxed)
        assert!((y.iter().sum::<f32>() - 1.0).abs() <= 3e-7, "softmax sums to 1: {y:?}");
    }

    fn folds_batch_norm_into_the_conv() {
        let (b, w0, b0, scale) = mobilenet_like();
        let g = load("tiny.onnx", &b).unwrap();
        let Op::Conv(c) = &g.nodes[0].op else { panic!() };
        for o in 0..4 {
            for i in 0..27 {
                // the importer computes the same one product: bit-identical on every build
                assert_eq!(c.weight[o * 27 + i], w0[o * 27 + i] * scale[o]);
            }
        }
        // b' = b·s + beta − mean·s, with beta = values(4, 4) and mean = values(4, 5).
        let (beta, mean) = (values(4, 4), values(4, 5));
        for o in 0..4 {
            // measured 6.0e-8 (one rounding of values ≈ 1) on every build
            assert!((c.bias[o] - (b0[o] * scale[o] + beta[o] - mean[o] * scale[o])).abs() <= 3e-7);
        }
    }

    fn sparse_initializers_are_densified() {
        let m = {
            let mut m = model(
                vec![node("Conv", "pw", &["input", "w"], &["y"], vec![])],
                vec![],
                &[1, 4, 2, 2],
                "y",
            );
            let g = m.graph.as_mut().unwrap();
            g.sparse_initializer.push(SparseTensorProto {
                values: Some(tensor("w", &[3], &[1.5, -2.0, 0.25])),
                indices: Some(tensor_i64("w_idx", &[1, 6, 11])),
                dims: vec![3, 4, 1, 1],
            });
            m
        };
        let g = load("sparse.onnx", &bytes(&m)).unwrap();
        let Op::Conv(c) = &g.nodes[0].op else { panic!() };
        let mut want = vec![0.0; 12];
        (want[1], want[6], want[11]) = (1.5, -2.0, 0.25);
        assert_eq!(c.weight, want);
    }

    fn truncated_or_garbage_files_are_bad_model_errors() {
        let (b, _, _, _) = mobilenet_like();
        for cut in [1, 10, b.len() / 2, b.len() - 1] {
            let e = load("cut.onnx", &b[..cut]).unwrap_err();
            assert!(matches!(e, Error::BadModel { .. } | Error::BadTensor { .. } | Error::BadNode { .. }), "cut {cut}: {e}");
            assert!(e.to_string().contains("cut.onnx"), "{e}");
        }
        let e = load("junk.onnx", b"\xff\xff\xff\xff not onnx").unwrap_err();
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        assert!(matches!(load("empty.onnx", &[]), Err(Error::BadModel { .. })));
    }

    fn unsupported_ops_name_the_node_and_op() {
        let m = model(vec![node("LSTM", "rnn1", &["input"], &["y"], vec![])], vec![], &[1, 4, 2, 2], "y");
        let e = load("rnn.onnx", &bytes(&m)).unwrap_err();
        assert!(matches!(&e, Error::UnsupportedOp { node, op, .. } if node == "rnn1" && op == "LSTM"), "{e}");
        assert!(e.to_string().contains("rnn1") && e.to_string().contains("LSTM"));
    }

    fn shape_mismatches_are_bad_node_errors() {
        // Weights expect 5 input channels, the image has 4.
        let m = model(
            vec![node("Conv", "pw", &["input", "w"], &["y"], vec![])],
            vec![tensor("w", &[3, 5, 1, 1], &values(15, 1))],
            &[1, 4, 2, 2],
            "y",
        );
        let e = load("mismatch.onnx", &bytes(&m)).unwrap_err();
        assert!(matches!(&e, Error::BadNode { node, .. } if node == "pw"), "{e}");
        // A window larger than the padded input.
        let m = model(
            vec![node("Conv", "big", &["input", "w"], &["y"], vec![])],
            vec![tensor("w", &[3, 4, 5, 5], &values(300, 1))],
            &[1, 4, 2, 2],
            "y",
        );
        assert!(matches!(load("window.onnx", &bytes(&m)), Err(Error::BadNode { .. })));
        // Reading a value nobody computes.
        let m = model(vec![node("Relu", "r", &["nowhere"], &["y"], vec![])], vec![], &[1, 4, 2, 2], "y");
        assert!(matches!(load("dangling.onnx", &bytes(&m)), Err(Error::BadNode { .. })));
    }

    fn bad_tensors_are_bad_tensor_errors() {
        let conv = || vec![node("Conv", "pw", &["input", "w"], &["y"], vec![])];
        // raw_data shorter than the dims say.
        let mut w = tensor("w", &[3, 4, 1, 1], &values(12, 1));
        w.raw_data.truncate(40);
        let e = load("short.onnx", &bytes(&model(conv(), vec![w], &[1, 4, 2, 2], "y"))).unwrap_err();
        assert!(matches!(&e, Error::BadTensor { tensor, .. } if tensor == "w"), "{e}");
        // Absurd dims: never allocated (over the caps of zeroskip::limits: TooLarge).
        let w = tensor("w", &[1 << 20, 1 << 20, 1, 1], &[]);
        assert!(matches!(load("huge.onnx", &bytes(&model(conv(), vec![w], &[1, 4, 2, 2], "y"))), Err(Error::TooLarge { .. })));
        let w = tensor("w", &[-3, 4, 1, 1], &[]);
        assert!(matches!(load("neg.onnx", &bytes(&model(conv(), vec![w], &[1, 4, 2, 2], "y"))), Err(Error::BadTensor { .. })));
        // External data cannot be loaded in a browser.
        let mut w = tensor("w", &[3, 4, 1, 1], &values(12, 1));
        w.data_location = 1;
        assert!(matches!(load("ext.onnx", &bytes(&model(conv(), vec![w], &[1, 4, 2, 2], "y"))), Err(Error::BadTensor { .. })));
        // Sparse index outside the tensor.
        let mut m = model(conv(), vec![], &[1, 4, 2, 2], "y");
        m.graph.as_mut().unwrap().sparse_initializer.push(SparseTensorProto {
            values: Some(tensor("w", &[1], &[1.0])),
            indices: Some(tensor_i64("i", &[12])),
            dims: vec![3, 4, 1, 1],
        });
        let e = load("sparse.onnx", &bytes(&m)).unwrap_err();
        assert!(matches!(&e, Error::BadTensor { detail, .. } if detail.contains("outside")), "{e}");
    }

    fn inputs_must_be_batch_one_nchw() {
        let relu = || vec![node("Relu", "r", &["input"], &["y"], vec![])];
        for dims in [&[2, 3, 4, 4][..], &[1, 3, 4][..], &[1, 0, 4, 4][..]] {
            let e = load("in.onnx", &bytes(&model(relu(), vec![], dims, "y"))).unwrap_err();
            assert!(matches!(e, Error::BadModel { .. }), "{dims:?}: {e}");
        }
    }

    fn auto_pad_same_matches_tf_padding() {
        // TF-SAME, stride 2 on an even input: the extra pad goes bottom/right.
        let m = model(
            vec![node("Conv", "c", &["input", "w"], &["y"], vec![ints("strides", &[2, 2]), string("auto_pad", "SAME_UPPER")])],
            vec![tensor("w", &[2, 1, 3, 3], &values(18, 1))],
            &[1, 1, 8, 8],
            "y",
        );
        let g = load("same.onnx", &bytes(&m)).unwrap();
        let Op::Conv(c) = &g.nodes[0].op else { panic!() };
        assert_eq!(c.pads, [0, 0, 1, 1]);
        assert_eq!(g.output_shape(), Shape::new(2, 4, 4));
    }

    fn reshape_squeeze_and_matmul_add_become_a_linear() {
        let m = model(
            vec![
                node("GlobalAveragePool", "gap", &["input"], &["g"], vec![]),
                node("Squeeze", "sq", &["g", "axes"], &["s"], vec![]),
                node("MatMul", "mm", &["s", "w"], &["mmo"], vec![]),
                node("Add", "bias", &["mmo", "b"], &["y"], vec![]),
            ],
            vec![tensor_i64("axes", &[2, 3]), tensor("w", &[4, 3], &values(12, 1)), tensor("b", &[3], &[1.0, 2.0, 3.0])],
            &[1, 4, 2, 2],
            "y",
        );
        let g = load("mm.onnx", &bytes(&m)).unwrap();
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["GlobalAvgPool", "Linear"]);
        let Op::Linear(Linear { bias, weight, .. }) = &g.nodes[1].op else { panic!() };
        assert_eq!(bias, &[1.0, 2.0, 3.0]);
        // MatMul's B (4, 3) becomes W (3, 4) = Bᵀ.
        let w = values(12, 1);
        let (o, i) = (1, 2);
        assert_eq!(weight[o * 4 + i], w[i * 3 + o]);
    }
}
