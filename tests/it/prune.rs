//! One-shot pruning on small in-memory graphs: exact sparsity per layer and pattern, shared
//! group masks, SparseGPT's reconstruction advantage, re-estimation, schedules, typed errors.
//! Natively and as wasm32 under Node.

use crate::graphs;
use graphs::{inputs, three_layers, Builder};
use zeroskip::graph::{reference, Graph, Linear, Op, Shape};
use zeroskip::prune::{self, Config, Layer, Method, Pattern, Schedule};
use zeroskip::synth::Rng;
use zeroskip::Error;

const METHODS: [Method; 3] = [Method::Magnitude, Method::Wanda, Method::SparseGpt];
const PATTERNS: [Pattern; 4] = [
    Pattern::Unstructured,
    Pattern::Groups(2),
    Pattern::Groups(4),
    Pattern::Groups(8),
];

/// `W (c_out, c_in)` of every prunable layer.
fn weights(g: &Graph) -> Vec<(Vec<f32>, usize, usize)> {
    prune::layers(g)
        .iter()
        .map(|l| match &g.nodes[l.node].op {
            Op::Conv(c) => (c.weight.clone(), c.c_out, c.c_in),
            Op::Linear(Linear { weight, .. }) => (weight.clone(), l.c_out, l.c_in),
            _ => unreachable!(),
        })
        .collect()
}

fn pruned(g: &Graph, calib: &[Vec<f32>], config: &Config) -> (Graph, Vec<prune::LayerReport>) {
    let mut g = g.clone();
    let reports = prune::prune(&mut g, calib, config, &mut |_| {}).unwrap();
    (g, reports)
}

/// The output of node `k` on `x`, from a copy of the graph cut after it.
fn node_output(g: &Graph, k: usize, x: &[f32]) -> Vec<f32> {
    // Run a truncated copy of the graph whose output is node k's.
    let mut t = g.clone();
    t.nodes.truncate(k + 1);
    t.output = t.nodes[k].output;
    reference::run(&t, x).unwrap()
}

/// ‖Y_dense − Y_pruned‖² of the single layer of `g` over `calib`.
fn recon_error(dense: &Graph, pruned: &Graph, calib: &[Vec<f32>]) -> f64 {
    calib
        .iter()
        .map(|x| {
            let (a, b) = (
                reference::run(dense, x).unwrap(),
                reference::run(pruned, x).unwrap(),
            );
            a.iter()
                .zip(&b)
                .map(|(p, q)| ((p - q) as f64).powi(2))
                .sum::<f64>()
        })
        .sum()
}

/// One 1x1 conv `W (24, 32)` on inputs with strongly correlated channels (x = A z), the
/// setting where reconstruction matters.
fn correlated_layer() -> (Graph, Vec<Vec<f32>>) {
    let (c_in, c_out, hw) = (32, 24, 36);
    let mut rng = Rng::new(7);
    let mut b = Builder::new(Shape::new(c_in, 6, 6));
    let y = b.push(graphs::conv(&mut rng, c_out, c_in, 1, 1, 1, 0), &[0]);
    let g = b.finish(y);
    // A (c_in, 8): 32 channels mixing 8 latent sources, plus a little noise
    let a = rng.vec(c_in * 8);
    let calib = (0..8)
        .map(|_| {
            let z = rng.vec(8 * hw);
            let mut x = vec![0.0f32; c_in * hw];
            for i in 0..c_in {
                for p in 0..hw {
                    x[i * hw + p] = (0..8).map(|k| a[i * 8 + k] * z[k * hw + p]).sum::<f32>()
                        + 0.05 * rng.vec(1)[0];
                }
            }
            x
        })
        .collect();
    (g, calib)
}

tests! {
    /// Every row (unstructured) or group loses exactly round(s · c_in) weights, for every
    /// method and pattern, and the reports say so.
    fn exact_sparsity_per_layer_and_pattern() {
        let g = three_layers(1);
        let calib = inputs(&g, 4, 2);
        for method in METHODS {
            for pattern in PATTERNS {
                for s in [0.25f32, 0.5, 0.75] {
                    let mut config = Config::new(method, pattern, s);
                    config.block = 5; // several SparseGPT blocks per row, uneven last one
                    let (p, reports) = pruned(&g, &calib, &config);
                    for ((w, c_out, c_in), r) in weights(&p).iter().zip(&reports) {
                        let k = (s * *c_in as f32).round() as usize;
                        for (o, row) in w.chunks(*c_in).enumerate() {
                            let zeros = row.iter().filter(|&&v| v == 0.0).count();
                            assert_eq!(
                                zeros, k,
                                "{method:?} {pattern:?} s={s} {}: row {o} of {c_out}",
                                r.name
                            );
                        }
                        assert_eq!(r.achieved, (k * c_out) as f32 / (c_out * c_in) as f32);
                        assert_eq!(r.target, s);
                    }
                }
            }
        }
    }

    /// G×1 groups: the G rows of a group (the last one may be shorter) share one mask.
    fn group_masks_are_shared() {
        let g = three_layers(3);
        let calib = inputs(&g, 4, 4);
        for method in METHODS {
            for gsize in [2, 4, 8] {
                let config = Config::new(method, Pattern::Groups(gsize), 0.5);
                let (p, _) = pruned(&g, &calib, &config);
                for (w, c_out, c_in) in weights(&p) {
                    let mask = |o: usize| {
                        w[o * c_in..(o + 1) * c_in].iter().map(|&v| v == 0.0).collect::<Vec<_>>()
                    };
                    for o in 0..c_out {
                        let lead = o - o % gsize;
                        assert_eq!(mask(o), mask(lead), "{method:?} {gsize}x1: row {o} vs {lead}");
                    }
                }
            }
        }
    }

    /// SparseGPT's reconstruction beats magnitude (and Wanda) at the same sparsity on a layer
    /// with correlated inputs, in both patterns.
    fn sparsegpt_reconstructs_better_than_magnitude() {
        let (g, calib) = correlated_layer();
        for pattern in [Pattern::Unstructured, Pattern::Groups(4)] {
            let err = |method| {
                let mut config = Config::new(method, pattern, 0.5);
                config.reestimate = false;
                recon_error(&g, &pruned(&g, &calib, &config).0, &calib)
            };
            let (m, w, s) = (err(Method::Magnitude), err(Method::Wanda), err(Method::SparseGpt));
            assert!(
                s < 0.5 * m && s < w,
                "{pattern:?}: sparsegpt {s:.3} magnitude {m:.3} wanda {w:.3}"
            );
        }
    }

    /// Re-estimation gives each pruned channel the dense network's mean and std again.
    fn reestimation_restores_channel_statistics() {
        let (g, calib) = correlated_layer();
        let mut config = Config::new(Method::Magnitude, Pattern::Unstructured, 0.8);
        let stats = |g: &Graph| {
            let c = g.output_shape().c;
            let hw = g.output_shape().hw();
            let ys: Vec<Vec<f32>> = calib.iter().map(|x| node_output(g, 0, x)).collect();
            (0..c)
                .map(|ch| {
                    let v: Vec<f64> = ys
                        .iter()
                        .flat_map(|y| y[ch * hw..(ch + 1) * hw].iter().map(|&v| v as f64))
                        .collect();
                    let m = v.iter().sum::<f64>() / v.len() as f64;
                    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
                    (m, var.sqrt())
                })
                .collect::<Vec<_>>()
        };
        let dense = stats(&g);
        config.reestimate = false;
        let raw = stats(&pruned(&g, &calib, &config).0);
        config.reestimate = true;
        let fixed = stats(&pruned(&g, &calib, &config).0);
        let worst = |s: &[(f64, f64)]| {
            s.iter()
                .zip(&dense)
                .map(|(a, d)| (a.0 - d.0).abs().max((a.1 - d.1).abs() / d.1))
                .fold(0.0, f64::max)
        };
        // measured 5.5e-8 on every build
        assert!(worst(&fixed) <= 3e-7, "re-estimated: worst deviation {}", worst(&fixed));
        assert!(worst(&raw) > 100.0 * worst(&fixed), "pruning alone already matched?");
    }

    /// `ProtectSmall` hits the global target over all weights, prunes small layers less than
    /// large ones, and `prune` achieves it.
    fn protect_small_schedule_hits_global_target() {
        let layers: Vec<Layer> = [(16, 32), (96, 16), (24, 96), (384, 64), (960, 160), (1000, 1280)]
            .iter()
            .enumerate()
            .map(|(i, &(c_out, c_in))| Layer { node: i, name: format!("l{i}"), c_out, c_in })
            .collect();
        for target in [0.3f32, 0.5, 0.7, 0.9] {
            let s = Schedule::ProtectSmall.sparsities(&layers, target).unwrap();
            let n: Vec<f64> = layers.iter().map(|l| l.weights() as f64).collect();
            let kept: f64 = s.iter().zip(&n).map(|(s, n)| *s as f64 * n).sum();
            let global = kept / n.iter().sum::<f64>();
            // measured 2.5e-8 (the f32 sparsities) on every build
            assert!((global - target as f64).abs() <= 1e-7, "target {target}: global {global}");
            assert!(s[0] < target && s[5] > target, "target {target}: {s:?}");
            assert!(s.iter().all(|&v| (0.0..1.0).contains(&v)), "{s:?}");
        }
        let g = three_layers(5);
        let mut config = Config::new(Method::Wanda, Pattern::Unstructured, 0.5);
        config.schedule = Schedule::ProtectSmall;
        let (_, reports) = pruned(&g, &inputs(&g, 3, 6), &config);
        let got = prune::global_sparsity(&reports);
        // whole weights per row: measured exactly 0.5 on every build
        assert_eq!(got, 0.5, "global sparsity {got}");
    }

    /// An explicit map overrides the named layers only.
    fn per_layer_map_overrides_named_layers() {
        let g = three_layers(8);
        let name = prune::layers(&g)[1].name.clone();
        let mut config = Config::new(Method::Magnitude, Pattern::Unstructured, 0.5);
        config.schedule = Schedule::PerLayer([(name, 0.25)].into_iter().collect());
        let (_, r) = pruned(&g, &inputs(&g, 2, 9), &config);
        assert_eq!(r.iter().map(|r| r.target).collect::<Vec<_>>(), [0.5, 0.25, 0.5]);
    }

    /// Pruning nothing changes nothing (re-estimation included), bit for bit.
    fn zero_sparsity_keeps_outputs() {
        let g = three_layers(10);
        let calib = inputs(&g, 3, 11);
        let config = Config::new(Method::SparseGpt, Pattern::Unstructured, 0.0);
        let (p, _) = pruned(&g, &calib, &config);
        for x in &calib {
            let (a, b) = (reference::run(&g, x).unwrap(), reference::run(&p, x).unwrap());
            let d = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            // measured 0 on every build: nothing pruned, nothing re-estimated
            assert_eq!(d, 0.0, "max |Δ| {d}");
        }
    }

    /// Bad arguments are typed errors, never panics.
    fn bad_arguments_are_typed_errors() {
        let g = three_layers(12);
        let calib = inputs(&g, 2, 13);
        fn is_bad_arg<T>(r: Result<T, Error>) -> bool {
            matches!(r, Err(Error::BadArgument { .. }))
        }
        for s in [1.0f32, 1.5, -0.1, f32::NAN] {
            let mut p = g.clone();
            let config = Config::new(Method::Wanda, Pattern::Unstructured, s);
            let r = prune::prune(&mut p, &calib, &config, &mut |_| {});
            assert!(is_bad_arg(r), "sparsity {s}");
        }
        assert!(is_bad_arg("3x1".parse::<Pattern>()));
        assert!(is_bad_arg("obs".parse::<Method>()));
        assert_eq!("4x1".parse::<Pattern>().unwrap(), Pattern::Groups(4));
        let mut p = g.clone();
        let config = Config::new(Method::Magnitude, Pattern::Groups(3), 0.5);
        let r = prune::prune(&mut p, &calib, &config, &mut |_| {});
        assert!(is_bad_arg(r), "group of 3");
        let mut config = Config::new(Method::Magnitude, Pattern::Unstructured, 0.5);
        config.schedule = Schedule::PerLayer([("nope".to_string(), 0.5)].into_iter().collect());
        assert!(is_bad_arg(prune::prune(&mut p, &calib, &config, &mut |_| {})), "unknown layer");
        let first = prune::layers(&g)[0].name.clone();
        config.schedule = Schedule::PerLayer([(first, 2.0)].into_iter().collect());
        assert!(is_bad_arg(prune::prune(&mut p, &calib, &config, &mut |_| {})), "layer sparsity 2");
        // Calibration: none at all, or inputs of the wrong size.
        let c = Config::new(Method::Wanda, Pattern::Unstructured, 0.5);
        for calib in [vec![], vec![vec![0.0; 3]]] {
            let r = prune::prune(&mut p, &calib, &c, &mut |_| {});
            assert!(matches!(r, Err(Error::BadCalibration { .. })), "{r:?}");
        }
        // Magnitude without re-estimation needs no data.
        let mut c = Config::new(Method::Magnitude, Pattern::Unstructured, 0.5);
        c.reestimate = false;
        assert!(prune::prune(&mut p, &[], &c, &mut |_| {}).is_ok());
    }

    /// .npy arrays round-trip; malformed ones are typed errors.
    fn npy_round_trip_and_errors() {
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
        let bytes = prune::npy::write_f32(&[2, 3, 4], &data);
        assert_eq!(prune::npy::read_f32("a.npy", &bytes).unwrap(), (vec![2, 3, 4], data));
        for bad in [&bytes[..bytes.len() - 4], &bytes[..20], b"not numpy at all".as_slice()] {
            assert!(matches!(prune::npy::read_f32("a.npy", bad), Err(Error::Io { .. })));
        }
    }

    /// Progress reports every stage up to completion.
    fn progress_reaches_the_end() {
        let g = three_layers(14);
        let mut seen = vec![];
        let mut p = g.clone();
        let config = Config::new(Method::SparseGpt, Pattern::Unstructured, 0.5);
        prune::prune(&mut p, &inputs(&g, 3, 15), &config, &mut |pr| {
            seen.push((pr.stage, pr.done, pr.total))
        })
        .unwrap();
        assert_eq!(seen.last(), Some(&(prune::Stage::Prune, 3, 3)));
        assert!(seen.contains(&(prune::Stage::DenseStats, 3, 3)));
    }
}
