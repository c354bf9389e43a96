//! The real models of the zoo, imported and run end to end, against onnxruntime's logits on
//! real images. Native only (reads files); run with `--release` (`make test-models`).
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use common::zoo;
use zeroskip::graph::reference;
use zeroskip::import::onnx;

/// The naive interpreter matches onnxruntime on every zoo model: an independent check of the
/// importer (BN folding, padding, views, Gemm) on real weights.
#[test]
fn reference_interpreter_matches_onnxruntime() {
    for model in zoo::MODELS {
        let g = onnx::load(model, &zoo::read(&format!("{model}.onnx"))).unwrap();
        let (ishape, inputs) = zoo::npy_f32(&format!("verify/{model}_inputs.npy"));
        let (lshape, logits) = zoo::npy_f32(&format!("verify/{model}_logits.npy"));
        let (n, per_in, per_out) = (ishape[0], g.input_shape().len(), g.output_shape().len());
        assert_eq!(
            (per_in, per_out),
            (ishape[1..].iter().product(), lshape[1..].iter().product())
        );
        // Two images: the interpreter is deliberately naive.
        for i in 0..n.min(2) {
            let y = reference::run(&g, &inputs[i * per_in..(i + 1) * per_in]).unwrap();
            let want = &logits[i * per_out..(i + 1) * per_out];
            let diff = y
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            println!("{model} image {i}: max |Δlogit| = {diff:.2e}");
            // measured 2.7e-5 (MobileNetV1), 2.1e-5 (V2), 1.3e-5 (EfficientNet-Lite0)
            assert!(
                diff <= 1e-4,
                "{model} image {i}: max |Δlogit| {diff} > 1e-4"
            );
        }
    }
}

/// The planned executor (dense and auto-sparse plans) matches onnxruntime on all 20 images of
/// every zoo model: logits within 1e-4 and the same top-1.
#[test]
fn planned_executor_matches_onnxruntime() {
    use zeroskip::graph::{Plan, PlanOptions, Session, Sparsity};
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0
    };
    for model in zoo::MODELS {
        let g = onnx::load(model, &zoo::read(&format!("{model}.onnx"))).unwrap();
        let (ishape, inputs) = zoo::npy_f32(&format!("verify/{model}_inputs.npy"));
        let (_, logits) = zoo::npy_f32(&format!("verify/{model}_logits.npy"));
        let (per_in, per_out) = (g.input_shape().len(), g.output_shape().len());
        for sparsity in [Sparsity::Dense, Sparsity::Auto] {
            let mut s = Session::new(
                Plan::new(
                    &g,
                    PlanOptions {
                        sparsity,
                        ..Default::default()
                    },
                )
                .unwrap(),
            );
            let mut worst = 0.0f32;
            for i in 0..ishape[0] {
                let y = s.run(&inputs[i * per_in..(i + 1) * per_in]).unwrap();
                let want = &logits[i * per_out..(i + 1) * per_out];
                worst = y
                    .iter()
                    .zip(want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(worst, f32::max);
                assert_eq!(
                    argmax(y),
                    argmax(want),
                    "{model} {sparsity:?} image {i}: top-1 differs from onnxruntime"
                );
            }
            println!(
                "{model} {sparsity:?}: {} images, max |Δlogit| = {worst:.2e}",
                ishape[0]
            );
            // measured 4.2e-5 (MobileNetV1), 2.9e-5 (V2), 2.2e-5 (EfficientNet-Lite0), dense
            // and auto-sparse alike
            assert!(
                worst <= 1e-4,
                "{model} {sparsity:?}: max |Δlogit| {worst} > 1e-4"
            );
        }
    }
}

/// A `.zsk` of MobileNetV2 at 85% is at most 35% of the dense ONNX file, loads with its SpMM
/// streams as stored, and gives the ONNX model's logits.
#[test]
fn zsk_of_sparse_mobilenet_v2_is_small_and_exact() {
    use zeroskip::graph::{Plan, PlanOptions, Session};
    use zeroskip::zsk::{self, Precision};
    let dense_onnx = zoo::read("mobilenet_v2.onnx").len();
    let g = onnx::load("mobilenet_v2_s85", &zoo::read("mobilenet_v2_s85.onnx")).unwrap();
    let (_, inputs) = zoo::npy_f32("verify/mobilenet_v2_inputs.npy");
    let per_in = g.input_shape().len();
    let mut want = Session::new(Plan::new(&g, PlanOptions::default()).unwrap());
    for precision in [Precision::F32, Precision::F16] {
        let bytes = zsk::write(&g, precision).unwrap();
        let ratio = bytes.len() as f64 / dense_onnx as f64;
        println!("mobilenet_v2 s85 .zsk {precision:?}: {} bytes = {:.1}% of the dense ONNX ({dense_onnx})", bytes.len(), 100.0 * ratio);
        assert!(ratio <= 0.35, "{precision:?}: {:.1}% > 35%", 100.0 * ratio);
        let m = zsk::load("mobilenet_v2_s85.zsk", &bytes).unwrap();
        let stored = m.packed.iter().filter(|p| p.is_some()).count();
        assert_eq!(stored, 35, "every 1x1/FC layer stored packed");
        let mut got =
            Session::new(Plan::with_packed(&m.graph, PlanOptions::default(), &m.packed).unwrap());
        // F32: the weights as stored, the same kernels: measured bit-identical; F16: measured
        // 5.2e-3 over 3 images
        let tol = if precision == Precision::F32 {
            0.0
        } else {
            2.5e-2
        };
        for i in 0..3 {
            let x = &inputs[i * per_in..(i + 1) * per_in];
            let (a, b) = (want.run(x).unwrap().to_vec(), got.run(x).unwrap());
            let diff = a
                .iter()
                .zip(b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(diff <= tol, "{precision:?} image {i}: max |Δlogit| {diff}");
        }
    }
}
