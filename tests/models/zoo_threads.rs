//! Every zoo CNN gives bit-identical outputs on 1, 2 and 3 threads: ONNX models with their
//! pruned files (dense and sparse plans), and the TF.js models. The pool splits outputs only
//! (src/graph/split.rs), so any difference is a bug, not rounding. Speed is `make bench`'s.

use crate::common;
use common::zoo::{dir, npy_f32, read};
use zeroskip::graph::{Graph, Plan, PlanOptions, Session, Sparsity};
use zeroskip::par::with_threads;

/// The ONNX files: each base model and its pruned variants.
fn onnx_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".onnx"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "no zoo ONNX files in {:?}", dir());
    files
}

/// Outputs of `inputs` on `threads` threads.
fn run(s: &mut Session, inputs: &[&[f32]], threads: usize) -> Vec<Vec<f32>> {
    with_threads(threads, || {
        inputs.iter().map(|x| s.run(x).unwrap().to_vec()).collect()
    })
}

fn check(name: &str, g: &Graph, inputs: &[&[f32]]) {
    for sparsity in [Sparsity::Dense, Sparsity::Auto] {
        let opts = PlanOptions {
            sparsity,
            ..Default::default()
        };
        let mut s = Session::new(Plan::new(g, opts).unwrap());
        let one = run(&mut s, inputs, 1);
        for threads in [2, 3] {
            let got = run(&mut s, inputs, threads);
            for (i, (a, b)) in one.iter().zip(&got).enumerate() {
                let same =
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "{name} {sparsity:?} input {i}: {threads} threads differ from 1"
                );
            }
        }
        println!("{name} {sparsity:?}: bit-identical on 1/2/3 threads");
    }
}

#[test]
fn zoo_onnx_models_are_bit_identical_on_any_thread_count() {
    for file in onnx_files() {
        let model = file.trim_end_matches(".onnx");
        let base = common::zoo::MODELS
            .iter()
            .find(|m| model.starts_with(*m))
            .unwrap_or_else(|| panic!("{file}: not a variant of a zoo model"));
        let g = zeroskip::import::onnx::load(model, &read(&file)).unwrap();
        let (ishape, inputs) = npy_f32(&format!("verify/{base}_inputs.npy"));
        let per = inputs.len() / ishape[0];
        let xs: Vec<&[f32]> = inputs.chunks(per).take(2).collect();
        check(model, &g, &xs);
    }
}

#[test]
fn zoo_tfjs_models_are_bit_identical_on_any_thread_count() {
    let mut names: Vec<String> = std::fs::read_dir(dir().join("tfjs"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "no TF.js models in the zoo");
    for name in names {
        let model = zeroskip::import::tfjs::load_file(&dir().join(format!("tfjs/{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (ishape, inputs) = npy_f32(&format!("tfjs/verify/{name}_inputs.npy"));
        let per = inputs.len() / ishape[0];
        let xs: Vec<&[f32]> = inputs.chunks(per).take(2).collect();
        check(&name, &model.graph, &xs);
    }
}
