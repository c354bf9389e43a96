//! The WebGPU shader and op cases, shared by the native suite (tests/gpu/gpu_native.rs, Mesa
//! lavapipe) and the browser suite (tests/gpu_browser.rs, Chromium's SwiftShader adapter), so
//! both check the same cases against the same oracles with the same tolerances.
//!
//! Each `pub async fn` here is one test body over a `GpuContext`: native tests block on it
//! (`pollster`), browser tests await it. Each also asserts that every kernel specialisation it
//! is meant to reach (SpMM workgroup shapes, depthwise sizes and strides, every activation and
//! binary op, ...) was actually run, read from the sessions' reports.
//!
//! Included with `#[path = "common/gpu.rs"] mod gpu_cases;` by the two GPU suites only.
#![allow(dead_code)]

use std::collections::BTreeSet;
use zeroskip::gpu::{GpuContext, GpuOptions, GpuSession, Pointwise, SPMM_SHAPES};
use zeroskip::graph::{
    reference, Activation, Conv, Graph, Linear, Op, Plan, PlanOptions, Pool, PoolKind, Session,
    Shape, ValueId,
};
use zeroskip::synth::{sparse_weights, Pattern, Rng};
use zeroskip::Error;

/// `println!` natively; the browser console (which wasm-bindgen-test captures) in wasm32.
#[cfg(target_arch = "wasm32")]
macro_rules! log {
    ($($t:tt)*) => { wasm_bindgen_test::console_log!($($t)*) };
}
#[cfg(not(target_arch = "wasm32"))]
macro_rules! log {
    ($($t:tt)*) => { println!($($t)*) };
}

// ---- graphs ------------------------------------------------------------------------------

/// Builds a graph node by node, inferring every shape like the importers do.
pub struct G(Graph);

impl G {
    pub fn new(input: Shape) -> G {
        G(Graph::new("test", input))
    }
    pub fn node(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.0.push(op, inputs).unwrap_or_else(|e| panic!("{e}"))
    }
    pub fn graph(self) -> Graph {
        self.0
    }
}

pub async fn run_gpu(
    ctx: &GpuContext,
    g: &Graph,
    opts: GpuOptions,
    x: &[f32],
) -> Result<Vec<f32>, Error> {
    let mut s = GpuSession::new(ctx, g, opts).await?;
    s.run(x).await
}

pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output lengths");
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs() / (1.0 + q.abs()))
        .fold(0.0, f32::max)
}

/// Largest absolute difference (for logits).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output lengths");
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
}

/// Index of the largest value (the lowest among equals); only the browser suite uses it.
#[allow(unused_imports)]
pub use zeroskip::llm::sampler::argmax;

/// The GPU executor agrees with the naive interpreter on `g` (relative-ish tolerance: f32
/// sums in another order, and the device's own exp/tanh), and fuses and views exactly the
/// nodes the CPU plan does (both read one `graph::analysis`). Returns the kernels the session
/// ran (its report), for the coverage checks.
pub async fn check(ctx: &GpuContext, g: &Graph, opts: GpuOptions, what: &str) -> Vec<String> {
    let mut rng = Rng::new(7);
    let x = rng.vec(g.input_shape().len());
    let want = reference::run(g, &x).unwrap();
    let mut s = GpuSession::new(ctx, g, opts)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = s.run(&x).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let d = max_diff(&got, &want);
    // measured 5.6e-7 over every graph, on lavapipe and on SwiftShader (the browser suite)
    let bound = 3e-6;
    assert!(d <= bound, "{what}: max |Δ|/(1+|ref|) = {d:e}");
    let plan = Plan::new(g, PlanOptions::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let shared = |k: &str| k.starts_with("fused into") || k == "view";
    let cpu: Vec<(&str, bool)> = plan
        .report()
        .iter()
        .map(|l| (l.node.as_str(), shared(&l.kernel)))
        .collect();
    let gpu: Vec<(&str, bool)> = s
        .report()
        .iter()
        .map(|l| (l.node.as_str(), shared(&l.kernel)))
        .collect();
    assert_eq!(gpu, cpu, "{what}: the nodes fused or viewed");
    s.report().iter().map(|l| l.kernel.clone()).collect()
}

/// Every kernel in `want` is in `seen`.
fn assert_covered(what: &str, seen: &BTreeSet<String>, want: &[String]) {
    let missing: Vec<&String> = want.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{what}: never ran {missing:?} (ran {seen:?})"
    );
}

pub fn weights(rng: &mut Rng, n: usize) -> Vec<f32> {
    rng.vec(n).into_iter().map(|v| 0.5 * v).collect()
}

pub fn conv(c_in: usize, c_out: usize, k: [usize; 2], groups: usize, rng: &mut Rng) -> Conv {
    let mut c = Conv::new(c_out, c_in, groups, k);
    c.weight = weights(rng, c.weight.len());
    c.bias = weights(rng, c_out);
    c
}

pub const CLAMPS: [Option<Activation>; 3] = [
    None,
    Some(Activation::Relu),
    Some(Activation::Clip { min: 0.0, max: 6.0 }),
];

// ---- 1x1 conv / FC: sparse CSR and dense GEMM ----------------------------------------------

/// Every (shape, sparsity, clamp), through both kernels: odd sizes, 1 pixel (FC), k = 1,
/// m and n not multiples of the tiles, sparsity 0 / 50 / 90 / 100%, and all-zero rows; pixel
/// counts that pick each of the `SPMM_SHAPES` workgroup shapes. Returns the number of cases.
pub async fn pointwise(ctx: &GpuContext) -> usize {
    let shapes = [
        (1, 1, 1),
        (1000, 37, 1),
        (7, 13, 1),
        (17, 1, 49),
        (24, 16, 196),
        (65, 33, 63),
        (3, 70, 257),
        (40, 24, 784),
        // One per remaining SPMM shape: n = 6 → 2x32, 13 → 4x16, 30 → 8x8, 100 → 32x2.
        (5, 9, 6),
        (9, 12, 13),
        (33, 20, 30),
        (70, 8, 100),
    ];
    let mut rng = Rng::new(1);
    let mut cases = 0;
    let mut seen = BTreeSet::new();
    for &(m, k, n) in &shapes {
        for sparsity in [0.0, 0.5, 0.9, 1.0] {
            for act in CLAMPS {
                let mut w = sparse_weights(&mut rng, m, k, sparsity, Pattern::Unstructured);
                // Some all-zero rows, whatever the sparsity.
                for r in (0..m).step_by(3) {
                    w[r * k..(r + 1) * k].fill(0.0);
                }
                let bias = weights(&mut rng, m);
                let (op, input) = if n == 1 {
                    let op = Op::Linear(Linear {
                        c_out: m,
                        c_in: k,
                        weight: w,
                        bias,
                    });
                    (op, Shape::vector(k))
                } else {
                    let c = Conv {
                        weight: w,
                        bias,
                        ..conv(k, m, [1, 1], 1, &mut rng)
                    };
                    (Op::Conv(c), Shape::new(k, 1, n))
                };
                let mut g = G::new(input);
                let y = g.node(op, &[0]);
                if let Some(a) = act {
                    g.node(Op::Act(a), &[y]);
                }
                let g = g.graph();
                for pw in [Pointwise::Sparse, Pointwise::Dense] {
                    let what =
                        format!("({m}, {k}) @ ({k}, {n}), {sparsity} sparse, {act:?}, {pw:?}");
                    seen.extend(check(ctx, &g, GpuOptions { pointwise: pw }, &what).await);
                    cases += 1;
                }
            }
        }
    }
    let mut want: Vec<String> = SPMM_SHAPES
        .iter()
        .map(|(l, r)| format!("spmm_f32_{}x{r}__wgsl", 4 * l))
        .collect();
    want.push("gemm_f32_64x64__wgsl".into());
    assert_covered("pointwise", &seen, &want);
    log!("{cases} pointwise cases");
    cases
}

/// Auto picks sparse above `SPARSE_MIN_ZEROS` and dense below; the report says which.
pub async fn auto_picks_sparse(ctx: &GpuContext) {
    let mut rng = Rng::new(2);
    for (sparsity, want) in [(0.0, "gemm"), (0.3, "gemm"), (0.9, "spmm")] {
        let w = sparse_weights(&mut rng, 32, 16, sparsity, Pattern::Unstructured);
        let c = Conv {
            weight: w,
            ..conv(16, 32, [1, 1], 1, &mut rng)
        };
        let mut g = G::new(Shape::new(16, 5, 5));
        g.node(Op::Conv(c), &[0]);
        let g = g.graph();
        let s = GpuSession::new(ctx, &g, GpuOptions::default())
            .await
            .unwrap();
        let k = &s.report()[0].kernel;
        assert!(k.starts_with(want), "{sparsity}: {k}");
    }
}

// ---- depthwise and full convs ---------------------------------------------------------------

/// 3x3 and 5x5, stride 1 and 2, symmetric, asymmetric (TF SAME) and no pads, odd planes,
/// 1x1 planes, planes smaller than the kernel, dilation, fused clamps. Returns the number of
/// cases.
pub async fn dwconv(ctx: &GpuContext) -> usize {
    let mut rng = Rng::new(3);
    let planes = [(1, 1), (2, 3), (7, 9), (14, 14), (15, 8)];
    let mut cases = 0;
    let mut seen = BTreeSet::new();
    for k in [3, 5] {
        for s in [1, 2] {
            for pads in [[0, 0, 0, 0], [k / 2; 4], [0, 0, 1, 1], [1, 0, 2, 1]] {
                for &(h, w) in &planes {
                    for (ai, act) in CLAMPS.iter().enumerate() {
                        for dil in [1, 2] {
                            if (dil == 2 && (ai > 0 || k == 5)) || (ai > 0 && h != 7) {
                                continue; // keep the count reasonable
                            }
                            let mut c = conv(6, 6, [k, k], 6, &mut rng);
                            c.stride = [s, s];
                            c.pads = pads;
                            c.dilation = [dil, dil];
                            let ok = |n: usize, a: usize, b: usize| {
                                let ext = (k - 1) * dil + 1;
                                n + a + b >= ext && a < ext && b < ext
                            };
                            if !ok(h, pads[0], pads[2]) || !ok(w, pads[1], pads[3]) {
                                continue;
                            }
                            let mut g = G::new(Shape::new(6, h, w));
                            let y = g.node(Op::Conv(c), &[0]);
                            if let Some(a) = act {
                                g.node(Op::Act(*a), &[y]);
                            }
                            let what =
                                format!("dw {k}x{k} s{s} pads {pads:?} {h}x{w} d{dil} {act:?}");
                            let ran = check(ctx, &g.graph(), GpuOptions::default(), &what).await;
                            seen.extend(ran);
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    let want: Vec<String> = [(3, 1), (3, 2), (5, 1), (5, 2)]
        .iter()
        .map(|(k, s)| format!("dwconv_f32_64x1_{k}x{k}s{s}__wgsl"))
        .collect();
    assert_covered("depthwise", &seen, &want);
    log!("{cases} depthwise cases");
    cases
}

/// The stem (3x3 stride 2 over RGB, SAME and symmetric pads), a 1x1 stride-2 conv (not
/// pointwise, so the general shader), a non-square window, and a clamp.
pub async fn full_conv(ctx: &GpuContext) {
    let mut rng = Rng::new(4);
    // (c_in, c_out, kernel, stride, pads [top, left, bottom, right], (H, W))
    type Case = (
        usize,
        usize,
        [usize; 2],
        [usize; 2],
        [usize; 4],
        (usize, usize),
    );
    let cases: [Case; 5] = [
        (3, 8, [3, 3], [2, 2], [0, 0, 1, 1], (15, 17)),
        (3, 8, [3, 3], [2, 2], [1, 1, 1, 1], (16, 16)),
        (4, 5, [1, 1], [2, 2], [0, 0, 0, 0], (9, 7)),
        (2, 3, [2, 3], [1, 2], [1, 0, 0, 2], (5, 6)),
        (1, 2, [3, 3], [1, 1], [1, 1, 1, 1], (1, 1)),
    ];
    for (c_in, c_out, k, s, pads, (h, w)) in cases {
        for act in CLAMPS {
            let mut c = conv(c_in, c_out, k, 1, &mut rng);
            c.stride = s;
            c.pads = pads;
            let mut g = G::new(Shape::new(c_in, h, w));
            let y = g.node(Op::Conv(c), &[0]);
            if let Some(a) = act {
                g.node(Op::Act(a), &[y]);
            }
            let what = format!("conv {c_in}->{c_out} {k:?} s{s:?} pads {pads:?} {h}x{w} {act:?}");
            let ran = check(ctx, &g.graph(), GpuOptions::default(), &what).await;
            // One pipeline for every window (the 1x1 stride 2 too: it is no pointwise conv).
            assert_eq!(ran[0], "conv_f32_64x1__wgsl", "{what}");
        }
    }
}

// ---- pools, elementwise, softmax, layout ----------------------------------------------------

pub async fn pools(ctx: &GpuContext) {
    let mut seen = BTreeSet::new();
    for kind in [PoolKind::Average, PoolKind::Max] {
        for (k, s, pads, (h, w)) in [
            (7, 1, [0; 4], (7, 7)),
            (3, 2, [1, 1, 1, 1], (9, 8)),
            (2, 2, [0, 0, 1, 1], (5, 5)),
            (3, 1, [2, 0, 0, 2], (1, 4)),
        ] {
            let mut g = G::new(Shape::new(5, h, w));
            g.node(
                Op::Pool(Pool {
                    kind,
                    kh: k,
                    kw: k,
                    stride: [s, s],
                    pads,
                }),
                &[0],
            );
            let what = format!("{kind:?} pool {k}x{k} s{s} pads {pads:?} {h}x{w}");
            seen.extend(check(ctx, &g.graph(), GpuOptions::default(), &what).await);
        }
    }
    for (c, h, w) in [(1, 1, 1), (7, 1, 1), (13, 7, 9), (3, 1, 1000), (64, 14, 14)] {
        let mut g = G::new(Shape::new(c, h, w));
        g.node(Op::GlobalAvgPool, &[0]);
        let what = format!("gap {c}x{h}x{w}");
        seen.extend(check(ctx, &g.graph(), GpuOptions::default(), &what).await);
    }
    let want = [
        "avgpool_f32_64x1__wgsl",
        "maxpool_f32_64x1__wgsl",
        "gavgpool_f32_64x1__wgsl",
    ];
    assert_covered("pools", &seen, &want.map(String::from));
}

/// Add (with fused ReLU / ReLU6), Sub, Mul, the SE channel Mul, every activation over a range
/// that reaches the saturated ends, channel affine and PReLU.
pub async fn elementwise(ctx: &GpuContext) {
    let mut rng = Rng::new(5);
    let mut seen = BTreeSet::new();
    let xs = Shape::new(5, 7, 3);
    for op in [Op::Add, Op::Sub, Op::Mul] {
        for act in CLAMPS {
            let mut g = G::new(xs);
            let t = g.node(Op::Act(Activation::Tanh), &[0]);
            let y = g.node(op.clone(), &[0, t]);
            if let Some(a) = act {
                g.node(Op::Act(a), &[y]);
            }
            let what = format!("{op:?} {act:?}");
            seen.extend(check(ctx, &g.graph(), GpuOptions::default(), &what).await);
        }
    }
    // Squeeze-and-excitation: x · sigmoid(gap(x)), per channel.
    let mut g = G::new(xs);
    let s = g.node(Op::GlobalAvgPool, &[0]);
    let s = g.node(Op::Act(Activation::Sigmoid), &[s]);
    g.node(Op::Mul, &[0, s]);
    seen.extend(check(ctx, &g.graph(), GpuOptions::default(), "channel mul").await);

    let acts = [
        Activation::Relu,
        Activation::Clip {
            min: -0.3,
            max: 0.4,
        },
        Activation::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        },
        Activation::HardSwish,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::LeakyRelu { alpha: 0.1 },
    ];
    for a in acts {
        // ×120 via an affine first: inputs up to ±120, past every saturation point.
        let mut g = G::new(xs);
        let big = g.node(
            Op::ChannelAffine {
                scale: vec![120.0, 10.0, 3.0, 1.0, -7.0],
                shift: vec![0.0, 1.0, -2.0, 0.5, 0.0],
            },
            &[0],
        );
        g.node(Op::Act(a), &[big]);
        let what = format!("{a:?}");
        seen.extend(check(ctx, &g.graph(), GpuOptions::default(), &what).await);
    }
    let mut g = G::new(xs);
    g.node(
        Op::Prelu {
            slope: weights(&mut rng, 5),
        },
        &[0],
    );
    seen.extend(check(ctx, &g.graph(), GpuOptions::default(), "prelu").await);
    let want = [
        "add_f32_256x1__wgsl",
        "sub_f32_256x1__wgsl",
        "mul_f32_256x1__wgsl",
        "chmul_f32_256x1__wgsl",
        // ReLU and Clip both run as clamp (ReLU: bounds 0, ∞).
        "clamp_f32_256x1__wgsl",
        "hardsigmoid_f32_256x1__wgsl",
        "hardswish_f32_256x1__wgsl",
        "sigmoid_f32_256x1__wgsl",
        "tanh_f32_256x1__wgsl",
        "leakyrelu_f32_256x1__wgsl",
        "affine_f32_256x1__wgsl",
        "prelu_f32_256x1__wgsl",
    ];
    assert_covered("elementwise", &seen, &want.map(String::from));
}

pub async fn softmax(ctx: &GpuContext) {
    for n in [1, 5, 255, 256, 257, 1000, 4099] {
        let mut g = G::new(Shape::vector(n));
        // Scaled logits up to ±50: exp would overflow without the max subtraction.
        let big = g.node(
            Op::ChannelAffine {
                scale: vec![50.0; n],
                shift: vec![0.0; n],
            },
            &[0],
        );
        g.node(Op::Softmax, &[big]);
        let what = format!("softmax {n}");
        check(ctx, &g.graph(), GpuOptions::default(), &what).await;
    }
}

/// Concat of three parts (one a view), a view chain, and HWC re-layouts that are views.
pub async fn concat_and_views(ctx: &GpuContext) {
    let mut g = G::new(Shape::new(3, 4, 5));
    let a = g.node(Op::Act(Activation::Relu), &[0]);
    let b = g.node(Op::Act(Activation::Tanh), &[0]);
    let c = g.node(Op::Concat, &[a, 0, b]);
    let p = g.node(Op::GlobalAvgPool, &[c]);
    let v = g.node(Op::View(Shape::new(9, 1, 1)), &[p]);
    let h = g.node(Op::ToHwc, &[v]);
    g.node(Op::Act(Activation::Sigmoid), &[h]);
    let ran = check(ctx, &g.graph(), GpuOptions::default(), "concat + views").await;
    assert!(ran.iter().any(|k| k.starts_with("copy")), "{ran:?}");
    assert!(ran.iter().any(|k| k == "view"), "{ran:?}");
}

/// A small MobileNetV2-like network (stem, inverted residuals with fused ReLU6, a residual
/// add, pool, FC, softmax): the GPU agrees with the CPU `Session`, and liveness reuse keeps
/// the buffer count below the value count.
pub async fn small_network(ctx: &GpuContext) {
    let mut rng = Rng::new(6);
    let relu6 = Op::Act(Activation::Clip { min: 0.0, max: 6.0 });
    let mut g = G::new(Shape::new(3, 32, 32));
    let mut stem = conv(3, 16, [3, 3], 1, &mut rng);
    stem.stride = [2, 2];
    stem.pads = [0, 0, 1, 1];
    let x = g.node(Op::Conv(stem), &[0]);
    let mut x = g.node(relu6.clone(), &[x]);
    for (c_exp, sparsity) in [(48, 0.0), (64, 0.9), (48, 0.7)] {
        let mut expand = conv(16, c_exp, [1, 1], 1, &mut rng);
        expand.weight = sparse_weights(&mut rng, c_exp, 16, sparsity, Pattern::Unstructured);
        let e = g.node(Op::Conv(expand), &[x]);
        let e = g.node(relu6.clone(), &[e]);
        let mut dw = conv(c_exp, c_exp, [3, 3], c_exp, &mut rng);
        dw.pads = [1; 4];
        let d = g.node(Op::Conv(dw), &[e]);
        let d = g.node(relu6.clone(), &[d]);
        let mut project = conv(c_exp, 16, [1, 1], 1, &mut rng);
        project.weight = sparse_weights(&mut rng, 16, c_exp, sparsity, Pattern::Unstructured);
        let p = g.node(Op::Conv(project), &[d]);
        x = g.node(Op::Add, &[x, p]);
    }
    let p = g.node(Op::GlobalAvgPool, &[x]);
    let f = g.node(Op::View(Shape::vector(16)), &[p]);
    let fc = Op::Linear(Linear {
        c_out: 10,
        c_in: 16,
        weight: weights(&mut rng, 160),
        bias: weights(&mut rng, 10),
    });
    let l = g.node(fc, &[f]);
    g.node(Op::Softmax, &[l]);
    let g = g.graph();
    let x = rng.vec(g.input_shape().len());
    let mut cpu = Session::new(Plan::new(&g, PlanOptions::default()).unwrap());
    let want = cpu.run(&x).unwrap().to_vec();
    let mut s = GpuSession::new(ctx, &g, GpuOptions::default())
        .await
        .unwrap();
    for round in 0..2 {
        let got = s.run(&x).await.unwrap();
        let d = max_diff(&got, &want);
        // measured 3.7e-8 on lavapipe, 1.5e-7 on SwiftShader (the browser suite)
        let bound = if cfg!(target_arch = "wasm32") {
            8e-7
        } else {
            2e-7
        };
        assert!(d <= bound, "round {round}: {d:e}");
    }
    let (buffers, bytes) = s.buffers();
    log!(
        "{} nodes → {} dispatches, {buffers} activation buffers ({bytes} bytes)",
        g.nodes.len(),
        s.dispatches()
    );
    assert!(
        buffers <= 4,
        "{buffers} buffers for a chain with one skip connection"
    );
    let kernels: Vec<&str> = s.report().iter().map(|l| l.kernel.as_str()).collect();
    assert!(kernels.iter().any(|k| k.starts_with("spmm")), "{kernels:?}");
    assert!(
        kernels.iter().any(|k| k.starts_with("fused into")),
        "{kernels:?}"
    );
}
