//! The ONNX operator suite (`tools/zoo/onnx_ops.py`, built by `make zoo`): single-op batch-1
//! models across the attributes of every op a mobile vision model uses, against onnxruntime's
//! outputs. Each case either matches onnxruntime, on the default plan and on the reference
//! interpreter, or is refused with a typed `UnsupportedOp`: never a wrong answer or a wrong
//! shape. `tests/onnx_ops_refused.json` lists the second kind, so a regression (a case that stops
//! importing) and progress (one that starts) both show here. The same files run as wasm through
//! the npm package in `tests/npm/onnx_ops.mjs`.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::zoo;
use zeroskip::graph::{reference, Plan, PlanOptions, Session};
use zeroskip::import::onnx;
use zeroskip::Error;

/// Cases zeroskip refuses today (issue 16 adds them): ConvTranspose, nearest Resize, dilated
/// pools, AveragePool counting its padding, reflect/edge padding, softmax and means over other
/// axes. One list for the native test and the npm one.
fn refused() -> Vec<String> {
    let j: serde_json::Value =
        serde_json::from_str(include_str!("../onnx_ops_refused.json")).expect("refused list");
    j["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .map(|v| v.as_str().expect("a name").to_string())
        .collect()
}

/// |got − want| ≤ TOL · max(|want|, 1), element by element: measured 2.0e-6 (resize_bilinear_
/// asymmetric_x3; the plan and the reference alike). The bound is 1e-4.
const TOL: f32 = 1.4e-5;

fn f32s(name: &str) -> Vec<f32> {
    zoo::read(&format!("onnx_ops/{name}"))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// max |got − want| / max(|want|, 1)
fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f32::max)
}

#[test]
fn every_case_matches_onnxruntime_or_is_refused_by_name() {
    let index: serde_json::Value =
        serde_json::from_slice(&zoo::read("onnx_ops/cases.json")).expect("cases.json");
    let cases = index["cases"].as_array().expect("cases");
    let expect_refused = refused();
    let (mut matched, mut refused, mut worst) = (0, 0, 0.0f32);
    // every case runs; the failures are listed together at the end
    let mut wrong: Vec<String> = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let file = format!("{name}.onnx");
        // refused by the importer or by the planner, never by running
        let planned = onnx::load(&file, &zoo::read(&format!("onnx_ops/{file}")))
            .and_then(|g| Ok((Plan::new(&g, PlanOptions::default())?, g)));
        let (plan, g) = match (planned, expect_refused.iter().any(|r| r == name)) {
            (Err(e @ Error::UnsupportedOp { .. }), true) if e.to_string().contains(&file) => {
                println!("{name:<28} refused: {e}");
                refused += 1;
                continue;
            }
            (Err(e), _) => {
                wrong.push(format!("{name}: {e:?}"));
                continue;
            }
            (Ok(_), true) => {
                wrong.push(format!("{name}: runs, but is listed as refused"));
                continue;
            }
            (Ok(pg), false) => pg,
        };
        let (x, want) = (
            f32s(&format!("{name}.in.f32")),
            f32s(&format!("{name}.out.f32")),
        );
        if g.output_shape().len() != want.len() {
            wrong.push(format!(
                "{name}: {} outputs, onnxruntime has {}",
                g.output_shape().len(),
                want.len()
            ));
            continue;
        }
        let got = Session::new(plan).run(&x).map(<[f32]>::to_vec);
        let got = match got {
            Ok(y) => y,
            Err(e) => {
                wrong.push(format!("{name}: {e}"));
                continue;
            }
        };
        let naive = reference::run(&g, &x).unwrap();
        let (e_plan, e_ref) = (rel_err(&got, &want), rel_err(&naive, &want));
        println!("{name:<28} plan {e_plan:.1e}  reference {e_ref:.1e}");
        if e_plan > TOL || e_ref > TOL {
            wrong.push(format!(
                "{name}: plan {e_plan:e}, reference {e_ref:e} over {TOL:e}"
            ));
            continue;
        }
        worst = worst.max(e_plan).max(e_ref);
        matched += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} cases:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    println!(
        "onnx ops: {matched} of {} cases match onnxruntime {} (worst {worst:.1e}), {refused} refused by name",
        cases.len(),
        index["onnxruntime"]
    );
    assert_eq!(
        refused,
        expect_refused.len(),
        "every refused case is in cases.json"
    );
}
