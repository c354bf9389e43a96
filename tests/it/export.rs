//! Graph → ONNX → Graph: every op the graph holds survives the round trip through our own
//! writer and importer with the same outputs. (onnxruntime loading the exported zoo models is
//! checked in tests/models/prune_zoo.rs.) Natively and as wasm32 under Node.

use crate::graphs;
use graphs::{conv, inputs, linear, three_layers, Builder};
use zeroskip::export;
use zeroskip::graph::{reference, Activation, Graph, Linear, Op, Pool, PoolKind, Shape};
use zeroskip::import::onnx;
use zeroskip::synth::Rng;

/// Exports `g`, re-imports it and compares outputs on random inputs.
fn round_trip(g: &Graph, tol: f32) {
    let bytes = export::onnx::write(g).unwrap();
    let back = onnx::load("exported.onnx", &bytes).unwrap();
    assert_eq!(back.input_shape(), g.input_shape());
    assert_eq!(back.output_shape(), g.output_shape());
    for x in inputs(g, 2, 99) {
        let (a, b) = (
            reference::run(g, &x).unwrap(),
            reference::run(&back, &x).unwrap(),
        );
        let d = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d <= tol, "{}: max |Δ| {d} > {tol}", g.name);
    }
}

/// A MobileNet/EfficientNet-like graph with every op kind: strided padded conv, depthwise,
/// grouped conv, each activation, per-channel affine, residual add, squeeze-excitation gate,
/// both pools, concat, views, linear and softmax.
fn every_op() -> Graph {
    let mut rng = Rng::new(21);
    let mut b = Builder::new(Shape::new(3, 10, 10));
    let c0 = b.push(conv(&mut rng, 8, 3, 1, 3, 2, 1), &[0]); // (8, 5, 5)
    let a0 = b.push(Op::Act(Activation::Clip { min: 0.0, max: 6.0 }), &[c0]);
    let dw = b.push(conv(&mut rng, 8, 8, 8, 3, 1, 1), &[a0]);
    let hs = b.push(Op::Act(Activation::HardSwish), &[dw]);
    let gc = b.push(conv(&mut rng, 8, 8, 2, 1, 1, 0), &[hs]);
    let aff = b.push(
        Op::ChannelAffine {
            scale: rng.vec(8),
            shift: rng.vec(8),
        },
        &[gc],
    );
    let res = b.push(Op::Add, &[aff, a0]);
    // Squeeze-excitation: pool → 1x1 → relu → 1x1 → sigmoid → gate.
    let sq = b.push(Op::GlobalAvgPool, &[res]);
    let s1 = b.push(conv(&mut rng, 4, 8, 1, 1, 1, 0), &[sq]);
    let s2 = b.push(Op::Act(Activation::Relu), &[s1]);
    let s3 = b.push(conv(&mut rng, 8, 4, 1, 1, 1, 0), &[s2]);
    let s4 = b.push(
        Op::Act(Activation::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        }),
        &[s3],
    );
    let s5 = b.push(Op::Act(Activation::Sigmoid), &[s4]);
    let gated = b.push(Op::Mul, &[res, s5]);
    let mx = b.push(
        Op::Pool(Pool {
            kind: PoolKind::Max,
            kh: 3,
            kw: 3,
            stride: [2, 2],
            pads: [1, 1, 1, 1],
        }),
        &[gated],
    ); // (8, 3, 3)
    let av = b.push(
        Op::Pool(Pool {
            kind: PoolKind::Average,
            kh: 3,
            kw: 3,
            stride: [2, 2],
            pads: [1, 1, 1, 1],
        }),
        &[gated],
    );
    let cat = b.push(Op::Concat, &[mx, av]); // (16, 3, 3)
    let flat = b.push(Op::View(Shape::vector(144)), &[cat]);
    let fc = b.push(linear(&mut rng, 10, 144), &[flat]);
    // A Linear output viewed back as (C, 1, 1) and gated per channel: rank 2 → 4.
    let v = b.push(Op::View(Shape::new(10, 1, 1)), &[fc]);
    let fc2 = b.push(linear(&mut rng, 10, 10), &[v]);
    let sm = b.push(Op::Softmax, &[fc2]);
    let both = b.push(Op::Mul, &[sm, fc]);
    b.finish(both)
}

tests! {
    /// Every op round-trips with the same outputs.
    fn every_op_round_trips() {
        // measured 1.1e-6 on every build
        round_trip(&every_op(), 5e-6);
    }

    /// The pruning tests' graph round-trips exactly, zeros included.
    fn pruned_graph_round_trips() {
        let mut g = three_layers(4);
        let calib = inputs(&g, 2, 5);
        let config = zeroskip::prune::Config::new(
            zeroskip::prune::Method::Magnitude,
            zeroskip::prune::Pattern::Groups(4),
            0.5,
        );
        zeroskip::prune::prune(&mut g, &calib, &config, &mut |_| {}).unwrap();
        round_trip(&g, 0.0);
        let back = onnx::load("x", &export::onnx::write(&g).unwrap()).unwrap();
        let zeros = |g: &Graph| {
            g.nodes
                .iter()
                .map(|n| match &n.op {
                    Op::Conv(c) => c.weight.iter().filter(|&&v| v == 0.0).count(),
                    Op::Linear(Linear { weight, .. }) => weight.iter().filter(|&&v| v == 0.0).count(),
                    _ => 0,
                })
                .sum::<usize>()
        };
        assert_eq!(zeros(&back), zeros(&g));
    }

    /// The written model declares opset 13 and only standard ops.
    fn writes_opset_13_standard_ops() {
        let m = export::onnx::to_model(&every_op()).unwrap();
        assert_eq!(m.opset_import[0].version, 13);
        assert!(m.opset_import[0].domain.is_empty());
        let g = m.graph.unwrap();
        assert_eq!(g.input.len(), 1);
        let ops: std::collections::BTreeSet<_> =
            g.node.iter().map(|n| n.op_type.as_str()).collect();
        // HardSwish is opset 14; it must have been lowered.
        assert!(!ops.contains("HardSwish"), "{ops:?}");
        let want = ["Conv", "Clip", "Gemm", "Softmax", "Concat", "MaxPool", "AveragePool"];
        for op in want.into_iter().chain(["GlobalAveragePool"]) {
            assert!(ops.contains(op), "{op} missing from {ops:?}");
        }
    }
}
