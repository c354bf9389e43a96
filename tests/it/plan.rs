//! Graph → plan → exec against the naive reference interpreter, on in-memory models: fusion,
//! views, in-place activations, buffer reuse, and dense vs sparse choices per layer.

use crate::common;
use common::onnx::*;
use zeroskip::graph::{reference, Plan, PlanOptions, Session, Sparsity};
use zeroskip::import::onnx::load;

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

tests! {
    fn plan_matches_the_reference_interpreter() {
        for sparsity in [0.0, 0.5, 0.9] {
            let g = load("net.onnx", &tiny_network(sparsity)).unwrap();
            let x = values(g.input_shape().len(), 7);
            let want = reference::run(&g, &x).unwrap();
            for mode in [Sparsity::Auto, Sparsity::Dense] {
                let plan = Plan::new(&g, PlanOptions { sparsity: mode, ..Default::default() }).unwrap();
                let mut s = Session::new(plan);
                let got = s.run(&x).unwrap().to_vec();
                // measured 3.8e-6 natively and SIMD128, 5.7e-6 relaxed
                assert!(max_diff(&got, &want) <= 3e-5, "sparsity {sparsity} {mode:?}: {}", max_diff(&got, &want));
                // A second run on the same arena gives the same answer.
                assert_eq!(s.run(&x).unwrap(), &got[..]);
            }
        }
    }

    fn fuses_activations_and_reuses_buffers() {
        let g = load("net.onnx", &tiny_network(0.0)).unwrap();
        let plan = Plan::new(&g, PlanOptions::default()).unwrap();
        let report = plan.report();
        let kernel_of = |node: &str| report.iter().find(|r| r.node == node).unwrap().kernel.clone();
        assert!(kernel_of("stem_relu6").starts_with("fused into stem"));
        assert!(kernel_of("dw1_relu").starts_with("fused into dw1"));
        assert!(kernel_of("expand_relu6").starts_with("fused into expand"));
        // Flatten of a (C, 1, 1) pool output changes nothing: import drops it.
        assert!(report.iter().all(|r| r.node != "flat"));
        // The arena holds fewer floats than all activations together.
        let total: usize = g.values.iter().map(|v| v.shape.len()).sum();
        assert!(plan.arena_len() < total / 2, "arena {} vs all values {total}", plan.arena_len());
    }

    fn the_selector_picks_sparse_kernels_for_sparse_layers() {
        let pick = |sparsity: f64, mode: Sparsity| {
            let g = load("net.onnx", &tiny_network(sparsity)).unwrap();
            let plan = Plan::new(&g, PlanOptions { sparsity: mode, ..Default::default() }).unwrap();
            plan.report().iter().find(|r| r.node == "expand").unwrap().kernel.clone()
        };
        assert!(pick(0.9, Sparsity::Auto).starts_with("spmm_"), "{}", pick(0.9, Sparsity::Auto));
        assert!(pick(0.9, Sparsity::Dense).starts_with("gemm_"));
        assert!(pick(0.0, Sparsity::Auto).starts_with("gemm_"));
    }

    fn wrong_input_size_is_an_error() {
        let g = load("net.onnx", &tiny_network(0.0)).unwrap();
        let mut s = Session::new(Plan::new(&g, PlanOptions::default()).unwrap());
        assert!(matches!(s.run(&[0.0; 7]), Err(zeroskip::Error::ShapeMismatch { .. })));
    }
}
