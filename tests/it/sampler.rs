//! The sampler: greedy and its equivalents, distributions under temperature / top-k / top-p
//! with a fixed seed, determinism across targets (the same test runs natively and as wasm32
//! under Node against the same hard-coded draws), and typed errors for bad parameters.

use zeroskip::error::Error;
use zeroskip::llm::sampler::{argmax, exp, Sampler, SamplerConfig, SplitMix64};

fn cfg(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature,
        top_k,
        top_p,
        seed,
    }
}

/// Frequencies of `n` draws from `logits`.
fn histogram(c: SamplerConfig, logits: &[f32], n: usize) -> Vec<f64> {
    let mut s = Sampler::new(c).unwrap();
    let mut h = vec![0.0; logits.len()];
    for _ in 0..n {
        h[s.sample(logits).unwrap() as usize] += 1.0;
    }
    h.iter().map(|v| v / n as f64).collect()
}

/// softmax(logits / t) in f64.
fn softmax(logits: &[f32], t: f64) -> Vec<f64> {
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&l| ((l as f64 - m) / t).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|v| v / z).collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}: token {i}: {g:.4} vs {w:.4}");
    }
}

const LOGITS: [f32; 6] = [1.0, 3.0, -2.0, 2.5, 3.0, 0.0];

tests! {
    /// Greedy is argmax, the lowest id among ties; top-k = 1 and a tiny top-p give the same
    /// token at any temperature and seed.
    fn greedy_equivalents() {
        assert_eq!(argmax(&LOGITS), 1);
        let mut g = Sampler::greedy();
        for _ in 0..5 {
            assert_eq!(g.sample(&LOGITS).unwrap(), 1);
        }
        let mut rng = SplitMix64::new(3);
        for seed in 0..20 {
            let logits: Vec<f32> = (0..50).map(|_| rng.next_f64() as f32 * 8.0).collect();
            let best = argmax(&logits) as u32;
            for t in [0.3, 1.0, 5.0] {
                let mut k1 = Sampler::new(cfg(t, 1, 1.0, seed)).unwrap();
                let mut p0 = Sampler::new(cfg(t, 0, 1e-6, seed)).unwrap();
                for _ in 0..3 {
                    assert_eq!(k1.sample(&logits).unwrap(), best);
                    assert_eq!(p0.sample(&logits).unwrap(), best);
                }
            }
        }
        // ties under top-k = 1 and tiny top-p: the lowest id, as greedy
        assert_eq!(Sampler::new(cfg(1.0, 1, 1.0, 9)).unwrap().sample(&LOGITS).unwrap(), 1);
        assert_eq!(Sampler::new(cfg(1.0, 0, 1e-6, 9)).unwrap().sample(&LOGITS).unwrap(), 1);
    }

    /// Temperature 1, 0.5 and 2: draw frequencies follow softmax(l / T).
    fn temperature_distribution() {
        for t in [1.0f32, 0.5, 2.0] {
            let h = histogram(cfg(t, 0, 1.0, 42), &LOGITS, 40_000);
            // measured 2.6e-3 (max over the three temperatures and 6 ids; the seeded draws are
            // the same on every target), ≈ 1σ of a frequency over 40 000 draws
            assert_close(&h, &softmax(&LOGITS, t as f64), 0.01, &format!("T = {t}"));
        }
        // a very low temperature concentrates on the (tied) maxima
        let h = histogram(cfg(1e-3, 0, 1.0, 1), &LOGITS, 2_000);
        assert_eq!([h[0], h[2], h[3], h[5]], [0.0; 4], "{h:?}");
    }

    /// top-k keeps the k largest logits, renormalized.
    fn top_k_distribution() {
        let h = histogram(cfg(1.0, 3, 1.0, 5), &LOGITS, 40_000);
        // the three largest: ids 1, 4 (3.0) and 3 (2.5)
        let kept = [1usize, 3, 4];
        let p = softmax(&[LOGITS[1], LOGITS[3], LOGITS[4]], 1.0);
        let mut want = vec![0.0; LOGITS.len()];
        for (i, &id) in kept.iter().enumerate() {
            want[id] = p[i];
        }
        // measured 1.0e-3 on every target
        assert_close(&h, &want, 0.005, "top-k 3");
        // ties at the k-th place go to the lower id
        let h = histogram(cfg(1.0, 1, 1.0, 5), &[0.0, 2.0, 2.0], 100);
        assert_eq!(h, [0.0, 1.0, 0.0]);
    }

    /// top-p keeps the smallest most-likely set reaching p, renormalized.
    fn top_p_distribution() {
        let p = softmax(&LOGITS, 1.0);
        // p sorted: ids 1 and 4 (0.357 each), 3 (0.217), 0 (0.048), 5 (0.018), 2 (0.002)
        let h = histogram(cfg(1.0, 0, 0.8, 8), &LOGITS, 40_000);
        let z = p[1] + p[4] + p[3];
        let mut want = vec![0.0; 6];
        for id in [1, 3, 4] {
            want[id] = p[id] / z;
        }
        // measured 6.8e-3 on every target
        assert_close(&h, &want, 0.01, "top-p 0.8");
        // p = 0.7: ids 1 and 4 reach 0.715
        let h = histogram(cfg(1.0, 0, 0.7, 8), &LOGITS, 20_000);
        // measured 1.04e-2 on every target (20 000 draws: σ ≈ 3.5e-3)
        assert_close(&h, &[0.0, 0.5, 0.0, 0.0, 0.5, 0.0], 0.015, "top-p 0.7");
        // p = 0.3: id 1 alone (0.357), ahead of its tie 4 by id
        let h = histogram(cfg(1.0, 0, 0.3, 8), &LOGITS, 1_000);
        assert_eq!(h, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], "top-p 0.3");
        // top-k and top-p together: top-k 2 first, then p = 0.99 keeps both
        let h = histogram(cfg(1.0, 2, 0.99, 8), &LOGITS, 20_000);
        // measured 1.04e-2 on every target
        assert_close(&h, &[0.0, 0.5, 0.0, 0.0, 0.5, 0.0], 0.015, "top-k 2, top-p 0.99");
        // top-p below 1/k with tied candidates: llama2.c's cutoff passed them all (and the
        // draw indexed an empty list); the nucleus is the best token, the lower id
        let h = histogram(cfg(1.0, 2, 0.3, 8), &LOGITS, 100);
        assert_eq!(h, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], "top-k 2, top-p 0.3");
    }

    /// One seed, one sequence, on every target: these draws are hard-coded, so the wasm run
    /// of this test proves it draws what the native run does. Different seeds differ.
    fn seeded_draws_are_deterministic() {
        let logits: Vec<f32> = (0..1000).map(|i| ((i * 37 % 101) as f32 / 25.0).sin() * 4.0).collect();
        let draw = |c: SamplerConfig| -> Vec<u32> {
            let mut s = Sampler::new(c).unwrap();
            (0..12).map(|_| s.sample(&logits).unwrap()).collect()
        };
        let a = draw(cfg(0.8, 40, 0.95, 1234));
        assert_eq!(a, draw(cfg(0.8, 40, 0.95, 1234)));
        assert_ne!(a, draw(cfg(0.8, 40, 0.95, 1235)));
        assert_eq!(a, EXPECTED_TOPK_TOPP, "seeded draws changed (or differ on this target)");
        assert_eq!(draw(cfg(1.3, 0, 1.0, 7)), EXPECTED_TEMP, "seeded draws, temperature only");
        let mut r = SplitMix64::new(99);
        assert_eq!(r.next_u64(), EXPECTED_U64);
    }

    /// Our exp: within 1 ulp-ish of std's, bit-identical everywhere (it uses + − × only).
    fn exp_is_accurate() {
        for i in -7450..=7097 {
            let x = i as f64 / 10.0 + 0.0123;
            let (a, b) = (exp(x), x.exp());
            if b >= f64::MIN_POSITIVE {
                // measured 2.2e-16 (1 ε) natively and as wasm32 (SIMD128, relaxed)
                assert!(((a - b) / b).abs() <= 2.0 * f64::EPSILON, "exp({x}): {a} vs {b}");
            } else {
                // subnormal results: absolute precision of the last bits
                // measured 1 subnormal step natively (libm's exp), 0 as wasm32
                assert!((a - b).abs() <= 2.0 * f64::from_bits(1), "exp({x}): {a:e} vs {b:e}");
            }
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(1000.0).is_infinite());
        // deep in the subnormals: still std's value to a step
        let (a, b) = (exp(-744.0), (-744.0f64).exp());
        assert!(a > 0.0 && (a - b).abs() <= f64::from_bits(1), "exp(-744): {a:e} vs {b:e}");
    }

    /// `sample_top` on the true top 64 (what the GPU's top-k reads back) draws exactly what
    /// `sample` draws on the full logits, consuming the same random stream: for every top_k in
    /// 1..=64 (with and without top-p) over many seeds. With top_k = 0 it gives the same token
    /// or None, and None leaves the stream as it was.
    fn sample_top_matches_sample() {
        let mut rng = SplitMix64::new(11);
        // smooth logits, tied ones (a grid of 6 values), and peaked ones (a short nucleus)
        let smooth: Vec<f32> = (0..3000).map(|_| rng.next_f64() as f32 * 8.0).collect();
        let tied: Vec<f32> = (0..3000).map(|_| (rng.next_u64() % 6) as f32 * 0.75).collect();
        let mut peaked: Vec<f32> = (0..3000).map(|_| rng.next_f64() as f32 * 2.0).collect();
        for _ in 0..12 {
            peaked[(rng.next_u64() % 3000) as usize] += 14.0;
        }
        let (mut drawn, mut none) = (0, 0);
        for logits in [&smooth, &tied, &peaked] {
            let top = top_of(logits, 64);
            let total = total_of(logits, 1.0);
            for top_k in (0..=64).chain([100]) {
                for top_p in [1.0, 0.9, 0.3] {
                    for seed in 0..6 {
                        let c = cfg(1.0, top_k, top_p, seed * 7 + top_k as u64);
                        let (mut a, mut b) = (Sampler::new(c).unwrap(), Sampler::new(c).unwrap());
                        for _ in 0..4 {
                            let want = a.sample(logits).unwrap();
                            match b.sample_top(&top, total, logits.len()).unwrap() {
                                Some(got) => {
                                    assert_eq!(got, want, "{c:?}");
                                    drawn += 1;
                                }
                                None => {
                                    assert!(top_k == 0 || top_k > 64, "{c:?}: None");
                                    assert_eq!(b.sample(logits).unwrap(), want, "{c:?}: stream");
                                    none += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        // the nucleus of the peaked logits is inside the 64: top_k = 0 draws from the readback
        let top = top_of(&peaked, 64);
        let total = total_of(&peaked, 1.0);
        let mut s = Sampler::new(cfg(1.0, 0, 0.9, 3)).unwrap();
        let mut r = Sampler::new(cfg(1.0, 0, 0.9, 3)).unwrap();
        for _ in 0..20 {
            let got = s.sample_top(&top, total, peaked.len()).unwrap();
            assert_eq!(got, Some(r.sample(&peaked).unwrap()));
        }
        assert!(drawn > 10 * none, "{drawn} drawn, {none} None");
        // a whole small vocab in `top`: top_k = 0 is exact too
        let small = &tied[..40];
        let (top, total) = (top_of(small, 40), total_of(small, 0.7));
        for seed in 0..30 {
            let c = cfg(0.7, 0, 1.0, seed);
            let want = Sampler::new(c).unwrap().sample(small).unwrap();
            assert_eq!(Sampler::new(c).unwrap().sample_top(&top, total, 40).unwrap(), Some(want));
        }
        // bad candidates are typed errors
        let mut s = Sampler::new(cfg(1.0, 5, 1.0, 0)).unwrap();
        assert!(matches!(s.sample_top(&[], 1.0, 10), Err(Error::BadArgument { .. })));
        assert!(matches!(s.sample_top(&[(10, 1.0)], 1.0, 10), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(s.sample_top(&[(1, f32::NAN)], 1.0, 10), Err(Error::Numerical { .. })));
    }

    /// Bad parameters and bad logits are typed errors.
    fn bad_params_are_typed_errors() {
        for t in [-1.0, f32::NAN, f32::INFINITY] {
            assert!(matches!(Sampler::new(cfg(t, 0, 1.0, 0)), Err(Error::BadArgument { what, .. }) if what == "temperature"));
        }
        for p in [0.0, -0.5, 1.5, f32::NAN] {
            assert!(matches!(Sampler::new(cfg(1.0, 0, p, 0)), Err(Error::BadArgument { what, .. }) if what == "top-p"));
        }
        let mut s = Sampler::new(cfg(1.0, 0, 1.0, 0)).unwrap();
        assert!(matches!(s.sample(&[]), Err(Error::BadArgument { .. })));
        assert!(matches!(s.sample(&[0.0, f32::NAN]), Err(Error::Numerical { .. })));
        // infinities are not errors: +inf wins, all −inf picks the first
        assert_eq!(s.sample(&[0.0, f32::INFINITY, 1.0]).unwrap(), 1);
        assert_eq!(s.sample(&[f32::NEG_INFINITY; 3]).unwrap(), 0);
        assert_eq!(s.sample(&[f32::NEG_INFINITY, 0.0]).unwrap(), 1);
        // a top-k beyond the vocabulary is no limit
        let mut s = Sampler::new(cfg(1.0, 100, 1.0, 0)).unwrap();
        assert!(s.sample(&LOGITS).unwrap() < 6);
    }
}

/// The `k` largest (id, logit), by logit descending and id ascending (the GPU top-k's order).
fn top_of(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    ids.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    ids.iter()
        .take(k)
        .map(|&i| (i, logits[i as usize]))
        .collect()
}

/// Σ e^((l − max)/t) over the whole vocab, rounded to f32 as the GPU's is.
fn total_of(logits: &[f32], t: f64) -> f64 {
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    logits
        .iter()
        .map(|&l| ((l as f64 - m) / t).exp())
        .sum::<f64>() as f32 as f64
}

/// Recorded from a native run (x86_64); the wasm32 run must draw the same.
const EXPECTED_TOPK_TOPP: [u32; 12] = [779, 274, 749, 113, 779, 678, 820, 850, 315, 83, 345, 12];
const EXPECTED_TEMP: [u32; 12] = [389, 17, 899, 582, 451, 249, 468, 326, 134, 413, 102, 959];
const EXPECTED_U64: u64 = 4824385676517010403;
