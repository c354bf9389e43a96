//! LLM pruning (`zeroskip::prune::llm`): the LLM patterns' masks, SparseGPT against magnitude
//! on the layer-wise objective, calibration (Gram matrices and their cache), and the whole
//! path on a tiny random llama: calibrate, prune, pack, write a `.zsk`, load and run it.
//! Native only: pruning is a CLI job (it runs matrices on two threads).
#![cfg(not(target_arch = "wasm32"))]

use zeroskip::import::gguf::Gguf;
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::llama::{Llama, Site};
use zeroskip::llm::synth::{llama_gguf, llama_tensors, tiny_config};
use zeroskip::prune::llm::{linears, prune, Calibration, LlmConfig};
use zeroskip::prune::{Method, Pattern};
use zeroskip::sparse::llm::SparseFormat;
use zeroskip::synth::Rng;

fn tiny() -> (zeroskip::llm::LlamaConfig, Vec<u8>) {
    let cfg = tiny_config(2, 32, 4, 2, 40);
    (
        cfg.clone(),
        llama_gguf(&cfg, llama_tensors(&cfg, WeightType::Q8_0, 11)),
    )
}

fn tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.below(vocab) as u32).collect()
}

/// Every pruned matrix of a result, decoded, with its shape.
fn decoded(
    out: &[(
        zeroskip::sparse::llm::SparseMatrix,
        zeroskip::prune::llm::MatrixReport,
    )],
) -> Vec<(Vec<f32>, usize, usize)> {
    out.iter()
        .map(|(m, _)| (m.decode(), m.rows, m.cols))
        .collect()
}

#[test]
fn masks_follow_the_pattern() {
    let (cfg, bytes) = tiny();
    let g = Gguf::parse("tiny.gguf", &bytes).unwrap();
    let model = Llama::load("tiny.gguf", bytes.clone()).unwrap();
    let calib = Calibration::collect(&model, &tokens(96, cfg.vocab_size, 1), 32, |_| ()).unwrap();
    for method in [Method::Magnitude, Method::Wanda, Method::SparseGpt] {
        // 1×16 at 50 %: every row drops exactly half its aligned 16-column groups.
        let pc = LlmConfig::new(
            method,
            Pattern::ColGroups(16),
            0.5,
            SparseFormat::Group { g: 16, bits: 8 },
        );
        let out = prune(&g, &cfg, Some(&calib), &pc, |_| ()).unwrap();
        for (w, rows, cols) in decoded(&out) {
            for r in 0..rows {
                let row = &w[r * cols..(r + 1) * cols];
                let zero_groups = row
                    .chunks(16)
                    .filter(|grp| grp.iter().all(|&v| v == 0.0))
                    .count();
                assert_eq!(
                    zero_groups,
                    cols / 32,
                    "{method:?} 1x16: row {r} of {cols} columns"
                );
            }
        }
        // 2:4: at most 2 nonzeros in every aligned run of 4.
        let pc = LlmConfig::new(method, Pattern::NofM(2, 4), 0.0, SparseFormat::TwoFour);
        assert_eq!(pc.sparsity, 0.5);
        let out = prune(&g, &cfg, Some(&calib), &pc, |_| ()).unwrap();
        for (w, _, _) in decoded(&out) {
            for run in w.chunks(4) {
                assert!(
                    run.iter().filter(|&&v| v != 0.0).count() <= 2,
                    "{method:?} 2:4: {run:?}"
                );
            }
        }
        // Unstructured 30 %: round(0.3 · cols) zeros per row (a kept weight may quantize to 0).
        let pc = LlmConfig::new(method, Pattern::Unstructured, 0.3, SparseFormat::Csr8);
        let out = prune(&g, &cfg, Some(&calib), &pc, |_| ()).unwrap();
        for ((w, rows, cols), (_, rep)) in decoded(&out).into_iter().zip(&out) {
            let want = (0.3 * cols as f32).round() as usize;
            for r in 0..rows {
                let zeros = w[r * cols..(r + 1) * cols]
                    .iter()
                    .filter(|&&v| v == 0.0)
                    .count();
                assert!(
                    zeros >= want,
                    "{method:?} unstructured: row {r}: {zeros} < {want}"
                );
            }
            assert!(rep.sparsity == want as f32 / cols as f32, "{}", rep.name);
        }
    }
}

#[test]
fn bad_configs_are_refused() {
    let (cfg, bytes) = tiny();
    let g = Gguf::parse("tiny.gguf", &bytes).unwrap();
    // A pattern the format cannot hold.
    let pc = LlmConfig::new(
        Method::Magnitude,
        Pattern::Unstructured,
        0.5,
        SparseFormat::TwoFour,
    );
    let e = prune(&g, &cfg, None, &pc, |_| ()).unwrap_err();
    assert!(e.to_string().contains("cannot be stored"), "{e}");
    // Wanda without calibration.
    let pc = LlmConfig::new(
        Method::Wanda,
        Pattern::ColGroups(8),
        0.5,
        SparseFormat::Group { g: 8, bits: 4 },
    );
    assert!(prune(&g, &cfg, None, &pc, |_| ()).is_err());
    // Sparsity out of range; an LLM pattern on a CNN config.
    let pc = LlmConfig::new(
        Method::Magnitude,
        Pattern::ColGroups(8),
        1.5,
        SparseFormat::Group { g: 8, bits: 4 },
    );
    assert!(prune(&g, &cfg, None, &pc, |_| ()).is_err());
    assert!("1x16".parse::<Pattern>().is_ok() && "3x3".parse::<Pattern>().is_err());
}

#[test]
fn calibration_grams_match_a_direct_sum() {
    // The tap sees each site's input; H must equal Σ x xᵀ over exactly those vectors.
    struct Keep(Vec<Vec<f32>>);
    impl zeroskip::llm::llama::Tap for Keep {
        fn see(&mut self, layer: usize, site: Site, x: &[f32]) {
            if layer == 1 && site == Site::FfnMid {
                self.0.push(x.to_vec());
            }
        }
    }
    let (cfg, bytes) = tiny();
    let model = Llama::load("tiny.gguf", bytes).unwrap();
    // 150 tokens: two full 64-token chunks and a partial one; sequences of 50.
    let ids = tokens(150, cfg.vocab_size, 2);
    let calib = Calibration::collect(&model, &ids, 50, |_| ()).unwrap();
    assert_eq!((calib.tokens, calib.sequences), (150, 3));
    let mut keep = Keep(Vec::new());
    for seq in ids.chunks(50) {
        let mut s = model.session(50).unwrap();
        model.prefill_tapped(&mut s, seq, &mut keep).unwrap();
    }
    let gram = calib.gram(1, Site::FfnMid);
    assert_eq!((gram.n, gram.tokens), (cfg.ffn_dim, 150));
    let n = gram.n;
    for i in (0..n).step_by(7) {
        for j in (0..n).step_by(5) {
            let want: f64 = keep.0.iter().map(|x| x[i] as f64 * x[j] as f64).sum();
            let got = gram.h[i * n + j];
            assert!(
                // measured 1.4e-7 · max(|H|, 1) natively (the test is native only)
                (got - want).abs() <= 5e-7 * want.abs().max(1.0),
                "H[{i},{j}] {got} vs {want}"
            );
        }
    }

    // The cache: same key round-trips exactly, another key or a missing file is a miss,
    // a truncated file an error.
    let dir = std::env::temp_dir().join(format!("zeroskip-calib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("calib.bin");
    calib.save(&p, "key A").unwrap();
    let back = Calibration::load(&p, "key A").unwrap().unwrap();
    assert_eq!(back.gram(1, Site::FfnMid).h, gram.h);
    assert_eq!(back.tokens, 150);
    assert!(Calibration::load(&p, "key B").unwrap().is_none());
    assert!(Calibration::load(&dir.join("missing"), "key A")
        .unwrap()
        .is_none());
    let full = std::fs::read(&p).unwrap();
    std::fs::write(&p, &full[..full.len() - 9]).unwrap();
    assert!(Calibration::load(&p, "key A").is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// ‖(W − Ŵ) X‖² summed over the calibration inputs, as H gives it: tr((W − Ŵ) H (W − Ŵ)ᵀ).
fn layer_error(w: &[f32], wp: &[f32], h: &[f64], rows: usize, n: usize) -> f64 {
    let mut total = 0.0;
    for r in 0..rows {
        let d: Vec<f64> = (0..n)
            .map(|j| (w[r * n + j] - wp[r * n + j]) as f64)
            .collect();
        for i in 0..n {
            let hi = &h[i * n..(i + 1) * n];
            total += d[i] * hi.iter().zip(&d).map(|(a, b)| a * b).sum::<f64>();
        }
    }
    total
}

#[test]
fn sparsegpt_beats_wanda_beats_magnitude_on_the_layer_objective() {
    let (cfg, bytes) = tiny();
    let g = Gguf::parse("tiny.gguf", &bytes).unwrap();
    let model = Llama::load("tiny.gguf", bytes.clone()).unwrap();
    let calib = Calibration::collect(&model, &tokens(256, cfg.vocab_size, 5), 64, |_| ()).unwrap();
    let names = linears(&cfg);
    for (pattern, format) in [
        (Pattern::ColGroups(8), SparseFormat::Group { g: 8, bits: 8 }),
        (Pattern::NofM(2, 4), SparseFormat::TwoFour),
        (Pattern::Unstructured, SparseFormat::Csr8),
    ] {
        let mut err = Vec::new();
        for method in [Method::Magnitude, Method::Wanda, Method::SparseGpt] {
            let pc = LlmConfig::new(method, pattern, 0.5, format);
            let out = prune(&g, &cfg, Some(&calib), &pc, |_| ()).unwrap();
            let mut total = 0.0;
            for ((m, _), lin) in out.iter().zip(&names) {
                let dense = g.tensor(&lin.name).unwrap().dequantize().unwrap();
                let gram = calib.gram(lin.layer, lin.site);
                total += layer_error(&dense, &m.decode(), &gram.h, m.rows, m.cols);
            }
            err.push(total);
        }
        assert!(
            err[2] < err[1] && err[2] < err[0],
            "{}: errors (mag, wanda, sgpt) {err:?}",
            pattern.name()
        );
        assert!(
            err[1] < err[0] * 1.05,
            "{}: wanda {} vs magnitude {}",
            pattern.name(),
            err[1],
            err[0]
        );
    }
}

#[test]
fn pruned_model_round_trips_through_zsk() {
    let (cfg, bytes) = tiny();
    let g = Gguf::parse("tiny.gguf", &bytes).unwrap();
    let model = Llama::load("tiny.gguf", bytes.clone()).unwrap();
    let calib = Calibration::collect(&model, &tokens(128, cfg.vocab_size, 9), 64, |_| ()).unwrap();
    let pc = LlmConfig::new(
        Method::SparseGpt,
        Pattern::ColGroups(16),
        0.5,
        SparseFormat::Group { g: 16, bits: 4 },
    );
    let done = std::sync::atomic::AtomicUsize::new(0);
    let out = prune(&g, &cfg, Some(&calib), &pc, |_| {
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(done.into_inner(), linears(&cfg).len());
    let matrices: Vec<_> = out.into_iter().map(|(m, _)| m).collect();
    let file = zeroskip::zsk::llm::write(&g, &matrices, &[]).unwrap();
    let sparse = Llama::load("tiny.zsk", file).unwrap();
    assert!(
        sparse.weights.sparsity() == 0.5,
        "{}",
        sparse.weights.sparsity()
    );
    // Same prompt through both: the pruned model's logits stay finite and near the dense ones.
    let ids = tokens(12, cfg.vocab_size, 4);
    let (mut a, mut b) = (sparse.session(16).unwrap(), model.session(16).unwrap());
    let la = sparse.prefill(&mut a, &ids).unwrap().to_vec();
    let lb = model.prefill(&mut b, &ids).unwrap();
    assert!(la.iter().all(|v| v.is_finite()));
    let diff: f32 = la.iter().zip(lb).map(|(x, y)| (x - y).abs()).sum::<f32>() / la.len() as f32;
    let mag: f32 = lb.iter().map(|y| y.abs()).sum::<f32>() / lb.len() as f32;
    assert!(
        diff < mag,
        "pruned logits too far: mean |Δ| {diff} vs mean |logit| {mag}"
    );
}

#[test]
fn ffn_reordering_keeps_the_function() {
    // At 0 % sparsity with int8 groups, the reordered FFN (gate/up rows and down columns moved
    // alike) must compute what the dense model computes, up to int8 rounding.
    let (cfg, bytes) = tiny();
    let g = Gguf::parse("tiny.gguf", &bytes).unwrap();
    let model = Llama::load("tiny.gguf", bytes.clone()).unwrap();
    let calib = Calibration::collect(&model, &tokens(64, cfg.vocab_size, 3), 32, |_| ()).unwrap();
    let order = zeroskip::prune::llm::ffn_order(calib.gram(0, Site::FfnMid));
    assert_ne!(
        order,
        (0..cfg.ffn_dim).collect::<Vec<_>>(),
        "a random model's order is not the identity"
    );
    let mut logits = Vec::new();
    for permute in [true, false] {
        let mut pc = LlmConfig::new(
            Method::Wanda,
            Pattern::ColGroups(8),
            0.0,
            SparseFormat::Group { g: 8, bits: 8 },
        );
        pc.permute = permute;
        let out = prune(&g, &cfg, Some(&calib), &pc, |_| ()).unwrap();
        let matrices: Vec<_> = out.into_iter().map(|(m, _)| m).collect();
        let m = Llama::load(
            "p.zsk",
            zeroskip::zsk::llm::write(&g, &matrices, &[]).unwrap(),
        )
        .unwrap();
        let mut s = m.session(16).unwrap();
        logits.push(
            m.prefill(&mut s, &tokens(10, cfg.vocab_size, 8))
                .unwrap()
                .to_vec(),
        );
    }
    let mut s = model.session(16).unwrap();
    let dense = model
        .prefill(&mut s, &tokens(10, cfg.vocab_size, 8))
        .unwrap();
    let scale = dense.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (l, what) in logits.iter().zip(["reordered", "file order"]) {
        let err = l
            .iter()
            .zip(dense)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // measured 7.6e-3 · scale natively (the test is native only)
        assert!(
            err < 0.02 * scale,
            "{what}: max |diff| {err} (scale {scale})"
        );
    }
    // --only leaves the other kinds dense
    let mut pc = LlmConfig::new(
        Method::Magnitude,
        Pattern::ColGroups(8),
        0.5,
        SparseFormat::Group { g: 8, bits: 4 },
    );
    pc.only = vec!["ffn_down".into()];
    let out = prune(&g, &cfg, None, &pc, |_| ()).unwrap();
    assert_eq!(out.len(), cfg.n_layers);
    assert!(out.iter().all(|(m, _)| m.name.ends_with("ffn_down.weight")));
    pc.only = vec!["ffn_sideways".into()];
    assert!(prune(&g, &cfg, None, &pc, |_| ()).is_err());
}
