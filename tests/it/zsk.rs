//! `.zsk` round trips (f32 exactly, f16 closely), loads that reuse the stored SpMM streams,
//! and typed errors for bad magic, versions, truncation and corrupted streams.

use crate::common;
use common::onnx::{tiny_network, values};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zeroskip::graph::{reference, Plan, PlanOptions, Session};
use zeroskip::import::onnx;
use zeroskip::zsk::{self, Precision};
use zeroskip::Error;

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

tests! {
    fn f32_round_trip_is_exact_and_reuses_the_streams() {
        let g = onnx::load("net.onnx", &tiny_network(0.9)).unwrap();
        let bytes = zsk::write(&g, Precision::F32).unwrap();
        let m = zsk::load("net.zsk", &bytes).unwrap();
        assert_eq!(m.graph.nodes.len(), g.nodes.len());
        let x = values(g.input_shape().len(), 3);
        assert_eq!(reference::run(&m.graph, &x).unwrap(), reference::run(&g, &x).unwrap());
        // The sparse 1x1 layers came packed, and the plan runs them as stored.
        assert!(m.packed.iter().filter(|p| p.is_some()).count() >= 3);
        let plan = Plan::with_packed(&m.graph, PlanOptions::default(), &m.packed).unwrap();
        assert!(plan.report().iter().filter(|r| r.kernel.starts_with("spmm_")).count() >= 3);
        let mut a = Session::new(plan);
        let mut b = Session::new(Plan::new(&g, PlanOptions::default()).unwrap());
        // the same kernels on the same weights: bit-identical on every build
        assert_eq!(a.run(&x).unwrap(), b.run(&x).unwrap());
    }

    fn f16_halves_the_weights_and_stays_close() {
        let g = onnx::load("net.onnx", &tiny_network(0.5)).unwrap();
        let full = zsk::write(&g, Precision::F32).unwrap();
        let half = zsk::write(&g, Precision::F16).unwrap();
        assert!(half.len() < full.len() * 7 / 10, "{} vs {}", half.len(), full.len());
        let m = zsk::load("net16.zsk", &half).unwrap();
        let x = values(g.input_shape().len(), 4);
        let (want, got) = (reference::run(&g, &x).unwrap(), reference::run(&m.graph, &x).unwrap());
        let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        // measured 7.5e-4 · scale (f16 weights) on every build
        assert!(max_diff(&want, &got) <= 2e-3 * scale.max(1.0), "{}", max_diff(&want, &got));
    }

    fn bad_magic_version_and_truncation_are_typed_errors() {
        let g = onnx::load("net.onnx", &tiny_network(0.9)).unwrap();
        let bytes = zsk::write(&g, Precision::F32).unwrap();
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        let e = zsk::load("m.zsk", &wrong).unwrap_err();
        assert!(matches!(&e, Error::BadModel { detail, .. } if detail.contains("magic")), "{e}");
        let mut v2 = bytes.clone();
        v2[8] = 2;
        let e = zsk::load("m.zsk", &v2).unwrap_err();
        assert!(matches!(&e, Error::BadModel { detail, .. } if detail.contains("version 2")), "{e}");
        for cut in (0..bytes.len()).step_by(7) {
            assert!(zsk::load("cut.zsk", &bytes[..cut]).is_err(), "cut at {cut} loaded");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(zsk::load("long.zsk", &long), Err(Error::BadModel { .. })));
        // An absurd value or node count is refused before anything is sized from it: u32::MAX
        // planted where the reader reads each count (docs/zsk.md: magic 8, version 4, flags 4,
        // the graph's name as u32 length + bytes, the value count, per value a name and 3 u32
        // dims, input and output u32, the node count).
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let values_at = 20 + u32_at(16);
        assert_eq!(u32_at(values_at), g.values.len(), "the walk is at the value count");
        let mut at = values_at + 4;
        for _ in 0..g.values.len() {
            at += 4 + u32_at(at) + 12;
        }
        let nodes_at = at + 8;
        assert_eq!(u32_at(nodes_at), g.nodes.len(), "the walk is at the node count");
        for at in [values_at, nodes_at] {
            let mut huge = bytes.clone();
            huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            let e = zsk::load("huge.zsk", &huge).unwrap_err();
            let left = bytes.len() - at - 4;
            let want = format!("count 4294967295 cannot fit in the {left} bytes left (at byte {})", at + 4);
            assert!(matches!(&e, Error::BadModel { detail, .. } if *detail == want), "{e}");
        }
    }

    fn corrupted_files_never_panic() {
        let g = onnx::load("net.onnx", &tiny_network(0.9)).unwrap();
        let good = zsk::write(&g, Precision::F32).unwrap();
        let x = vec![0.5; g.input_shape().len()];
        let len = good.len();
        let mut runner = TestRunner::new(Config { cases: 300, failure_persistence: None, ..Config::default() });
        let (ok, err) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        runner
            .run(&prop::collection::vec((0..len, any::<u8>()), 1..6), |muts| {
                let mut b = good.clone();
                for (i, v) in muts {
                    b[i] = v;
                }
                let run = || -> zeroskip::Result<()> {
                    let m = zsk::load("fuzz.zsk", &b)?;
                    let mut s = Session::new(Plan::with_packed(&m.graph, PlanOptions::default(), &m.packed)?);
                    s.run(&x)?;
                    Ok(())
                };
                match run() {
                    Ok(()) => ok.set(ok.get() + 1),
                    Err(_) => err.set(err.get() + 1),
                }
                Ok(())
            })
            .unwrap();
        assert!(ok.get() >= 10 && err.get() >= 10, "ok {} / err {}", ok.get(), err.get());
    }

    /// Flipping each byte in turn: corrupted deltas are caught as out-of-range indices and
    /// corrupted value ids or shapes by the graph checks, each a typed error.
    fn out_of_range_indices_are_typed_errors() {
        let g = onnx::load("net.onnx", &tiny_network(0.9)).unwrap();
        let good = zsk::write(&g, Precision::F32).unwrap();
        let (mut delta, mut graph) = (0, 0);
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xff;
            match zsk::load("flip.zsk", &b) {
                Err(Error::DeltaOutOfRange { .. }) => delta += 1,
                Err(Error::BadModel { detail, .. }) if detail.contains("range") || detail.contains("node") => graph += 1,
                _ => {}
            }
        }
        assert!(delta > 0 && graph > 0, "delta errors {delta}, graph errors {graph}");
    }
}
