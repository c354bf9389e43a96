//! Corrupted model files: whatever the bytes, import → plan → exec returns a typed error or a
//! result, never a panic (a panic in wasm kills the page) and never an unbounded allocation.

use crate::common;
use common::onnx::tiny_network;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zeroskip::graph::{Plan, PlanOptions, Session};
use zeroskip::import::onnx::load;

/// Runs the whole pipeline on `bytes`; Ok means it produced finite-size output.
fn pipeline(bytes: &[u8]) -> zeroskip::Result<usize> {
    let g = load("fuzz.onnx", bytes)?;
    let mut s = Session::new(Plan::new(&g, PlanOptions::default())?);
    let x = vec![0.5; g.input_shape().len()];
    Ok(s.run(&x)?.len())
}

tests! {
    fn corrupted_models_never_panic() {
        let good = tiny_network(0.5);
        assert!(pipeline(&good).is_ok());
        let len = good.len();
        let mutations = prop::collection::vec((0..len, any::<u8>()), 1..8);
        let mut runner = TestRunner::new(Config { cases: 300, failure_persistence: None, ..Config::default() });
        let (ok, err) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        runner
            .run(&(mutations, any::<bool>(), 0..=len), |(muts, truncate, cut)| {
                let mut b = good.clone();
                for (i, v) in muts {
                    b[i] = v;
                }
                if truncate {
                    b.truncate(cut);
                }
                match pipeline(&b) {
                    Ok(_) => ok.set(ok.get() + 1),
                    Err(_) => err.set(err.get() + 1),
                }
                Ok(())
            })
            .unwrap();
        // Both paths must be exercised: corrupted weights run to the end, corrupted structure
        // is refused.
        assert!(ok.get() >= 10 && err.get() >= 10, "ok {} / err {}", ok.get(), err.get());
    }
}
