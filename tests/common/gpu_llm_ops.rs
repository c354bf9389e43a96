//! The LLM forward pass's non-linear steps on WebGPU (src/gpu/llm/ops.rs) against the CPU
//! forward pass (`zeroskip::llm::llama`'s rmsnorm, rope, silu-and-thresholds, an f64
//! attention) and the sampler, shared by the native suite (tests/gpu/gpu_llm_ops.rs, Mesa
//! lavapipe) and the browser suite (tests/gpu_browser.rs, Chromium's SwiftShader).
//!
//! Sizes: SmolLM2-135M's (dim 576, 9 heads / 3 KV heads of 64, ffn 1536, vocab 49152) and odd
//! ones (head_dim 5, 8, 96, 256; rope_dim < head_dim; n_kv = n_heads; ctx 1, 300, 8192;
//! positions 0, 1, ctx − t; t = 1, 3, 16; vocab 1, 7, 1025, 16385; tied logits). Thresholds
//! none / TEAL / WINA / gate: an entry whose score is within 1e-5 of its threshold may land on
//! either side (the GPU's value differs from the CPU's by rounding), every other must match.
//!
//! Included with `#[path = "common/gpu_llm_ops.rs"] mod gpu_llm_ops;` by the two GPU suites.
#![allow(dead_code)]

use zeroskip::gpu::llm::ops::{self, Dims, Thresh, TOPK_MAX, TOPK_NONE};
use zeroskip::gpu::llm::{run_specs, Init, OpSpec, State};
use zeroskip::gpu::GpuContext;
use zeroskip::llm::llama::{kv_head, rmsnorm as cpu_rmsnorm, rope, rope_angles};
use zeroskip::llm::sampler::{Sampler, SamplerConfig};
use zeroskip::synth::Rng;

#[cfg(target_arch = "wasm32")]
macro_rules! log {
    ($($t:tt)*) => { wasm_bindgen_test::console_log!($($t)*) };
}
#[cfg(not(target_arch = "wasm32"))]
macro_rules! log {
    ($($t:tt)*) => { println!($($t)*) };
}

const BASE: f32 = 10000.0;

#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    js_sys::Date::now()
}
#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

fn f32s(w: &[u32], n: usize) -> Vec<f32> {
    w[..n].iter().map(|&b| f32::from_bits(b)).collect()
}

fn st(pos0: u32, t: u32) -> State {
    State {
        pos0,
        t,
        top_k: 1,
        temperature: 0.0,
    }
}

async fn run(
    ctx: &GpuContext,
    specs: &[OpSpec<usize>],
    init: &[Init],
    s: State,
    read: &[usize],
) -> Vec<Vec<u32>> {
    run_specs(ctx, specs, init, s, read)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", specs[0].pipeline.name))
}

/// Positive per-channel weights (WINA's column norms) in [0.25, 4).
fn scales(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| 2f32.powf(rng.uniform() * 2.0)).collect()
}

/// `v` after the threshold as the CPU applies it (`act.rs`: off at t = 0).
fn cpu_thresh(v: f32, j: usize, thresh: Thresh, sc: &[f32]) -> f32 {
    match thresh {
        Thresh::Abs(t) if t > 0.0 && v.abs() < t => 0.0,
        Thresh::Scaled(t) if t > 0.0 && v.abs() * sc[j] < t => 0.0,
        _ => v,
    }
}

/// The score an entry is thresholded on, and its threshold (None: no threshold).
fn score(v: f32, j: usize, thresh: Thresh, sc: &[f32]) -> Option<(f32, f32)> {
    match thresh {
        Thresh::Abs(t) => Some((v.abs(), t)),
        Thresh::Scaled(t) => Some((v.abs() * sc[j], t)),
        Thresh::None => None,
    }
}

/// Compares `got` with `want` (`pre`: the values before the threshold), entries equal up to
/// `tol · max(1, max |want|)`; an entry zeroed on one side only passes if its score is within
/// 1e-5 of the threshold. Returns the max error relative to that scale, and the flips.
#[allow(clippy::too_many_arguments)]
fn compare(
    got: &[f32],
    want: &[f32],
    pre: &[f32],
    n: usize,
    thresh: Thresh,
    sc: &[f32],
    tol: f32,
    what: &str,
) -> (f32, usize) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let (mut worst, mut flips) = (0.0f32, 0);
    for (e, (&g, &w)) in got.iter().zip(want).enumerate() {
        if (g == 0.0) != (w == 0.0) {
            let near = score(pre[e], e % n, thresh, sc)
                .is_some_and(|(s, t)| (s - t).abs() <= 1e-5 * t.max(1e-30));
            assert!(
                near,
                "{what}: entry {e}: got {g}, want {w} (before the threshold {})",
                pre[e]
            );
            flips += 1;
            continue;
        }
        let err = (g - w).abs() / scale;
        assert!(
            err <= tol,
            "{what}: entry {e}: got {g}, want {w} (error {err:.2e} > {tol:.0e})"
        );
        worst = worst.max(err);
    }
    (worst, flips)
}

/// The thresholds of a case: none, TEAL at 0 (off), TEAL and WINA at the median score (half
/// the entries drop).
fn thresholds(x: &[f32], sc: &[f32], n: usize) -> [Thresh; 4] {
    let mut a: Vec<f32> = x.iter().map(|v| v.abs()).collect();
    a.sort_by(f32::total_cmp);
    let mut s: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(e, v)| v.abs() * sc[e % n])
        .collect();
    s.sort_by(f32::total_cmp);
    [
        Thresh::None,
        Thresh::Abs(0.0), // a site left alone: nothing drops
        Thresh::Abs(a[a.len() / 2]),
        Thresh::Scaled(s[s.len() / 2]),
    ]
}

// ---- rmsnorm -----------------------------------------------------------------------------

/// RMSNorm (every row, and the last row alone) with none / TEAL / WINA thresholds, against
/// `llama::rmsnorm` (f64 sum of squares): n = 1, 7, 576, 1000, 4096; t = 1, 3, 16; an
/// all-zero row; rows of large values.
pub async fn rmsnorm(ctx: &GpuContext) {
    let mut rng = Rng::new(1);
    let (mut worst, mut flips, mut cases) = (0.0f32, 0, 0);
    for &(n, t) in &[
        (1usize, 1usize),
        (7, 3),
        (576, 1),
        (576, 16),
        (1000, 3),
        (4096, 2),
    ] {
        let mut x: Vec<f32> = (0..t * n).map(|_| rng.uniform() * 3.0).collect();
        if t > 1 {
            x[..n].fill(0.0); // an all-zero row: the output is 0, not NaN
        }
        if n == 1000 {
            for v in &mut x[n..2 * n] {
                *v *= 1e3;
            }
        }
        let w: Vec<f32> = (0..n).map(|_| 0.5 + rng.uniform()).collect();
        let sc = scales(&mut rng, n);
        let eps = 1e-5;
        let mut pre = vec![0.0; t * n];
        for r in 0..t {
            cpu_rmsnorm(&mut pre[r * n..][..n], &x[r * n..][..n], &w, eps);
        }
        for thresh in thresholds(&pre, &sc, n) {
            for last in [false, true] {
                let rows = if last { 1 } else { t };
                let spec = ops::rmsnorm(
                    0,
                    1,
                    2,
                    Some(3).filter(|_| matches!(thresh, Thresh::Scaled(_))),
                    n as u32,
                    eps,
                    thresh,
                    last,
                );
                let init = [
                    Init::f32(&x),
                    Init::f32(&w),
                    Init::zeros(rows * n),
                    Init::f32(&sc),
                ];
                let out = run(ctx, &[spec], &init, st(0, t as u32), &[2]).await;
                let got = f32s(&out[0], rows * n);
                let p = if last { &pre[(t - 1) * n..] } else { &pre[..] };
                let want: Vec<f32> = p
                    .iter()
                    .enumerate()
                    .map(|(e, &v)| cpu_thresh(v, e % n, thresh, &sc))
                    .collect();
                // measured 1.8e-7 on lavapipe and SwiftShader (the f32 tree vs the CPU's f64
                // sum of squares)
                let (e, f) = compare(
                    &got,
                    &want,
                    p,
                    n,
                    thresh,
                    &sc,
                    1.5e-6,
                    &format!("rmsnorm n={n} t={t} {thresh:?} last={last}"),
                );
                worst = worst.max(e);
                flips += f;
                cases += 1;
            }
        }
    }
    log!("rmsnorm: {cases} cases, max error {worst:.2e} of max(1, |y|), {flips} threshold flips");
}

// ---- rope and the KV cache ---------------------------------------------------------------

fn dims(n_heads: u32, n_kv: u32, hd: u32, rope_dim: u32, ctx: u32) -> Dims {
    Dims {
        dim: n_heads * hd,
        n_heads,
        n_kv_heads: n_kv,
        head_dim: hd,
        ffn: 4 * n_heads * hd,
        ctx,
        rope_dim,
        vocab: 7,
    }
}

/// The shapes of the rope and attention cases: SmolLM2's, odd head dims (5, 8, 96, 256),
/// rope_dim < head_dim, n_kv = n_heads, ctx 1 and 300.
fn shapes() -> Vec<Dims> {
    vec![
        dims(9, 3, 64, 64, 300),
        dims(4, 4, 8, 8, 300),
        dims(4, 2, 8, 4, 1),
        dims(3, 1, 5, 4, 17),
        dims(2, 1, 96, 32, 40),
        dims(2, 1, 256, 256, 20),
    ]
}

/// (pos0, t) of the calls: positions 0, 1 and the last ones; decode and prefill of 3 and 16.
fn calls(ctx: u32) -> Vec<(u32, u32)> {
    let mut c = vec![(0, 1), (ctx - 1, 1)];
    for &(p, t) in &[(1, 3), (0, 16), (1, 16), (ctx.saturating_sub(16), 16)] {
        if p + t <= ctx {
            c.push((p, t));
        }
    }
    c
}

/// RoPE on q in place and k into the cache, v into the cache, at rows pos0 + i; the rest of
/// the cache untouched; against `llama::rope` with `rope_angles`.
pub async fn rope_kv(ctx: &GpuContext) {
    let mut rng = Rng::new(2);
    let (mut worst, mut cases) = (0.0f32, 0);
    for d in shapes() {
        let (hd, qd, kvd) = (
            d.head_dim as usize,
            (d.n_heads * d.head_dim) as usize,
            (d.n_kv_heads * d.head_dim) as usize,
        );
        let c = d.ctx as usize;
        let table = ops::rope_table(c, d.rope_dim as usize, BASE);
        for (pos0, t) in calls(d.ctx) {
            let (p0, tt) = (pos0 as usize, t as usize);
            let q = rng.vec(tt * qd);
            let k = rng.vec(tt * kvd);
            let v = rng.vec(tt * kvd);
            let kc0 = rng.vec(c * kvd);
            let vc0 = rng.vec(c * kvd);
            let spec = ops::rope_kv(0, 1, 2, 3, 4, 5, &d);
            let init = [
                Init::f32(&q),
                Init::f32(&k),
                Init::f32(&v),
                Init::f32(&table),
                Init::f32(&kc0),
                Init::f32(&vc0),
            ];
            let out = run(ctx, &[spec], &init, st(pos0, t), &[0, 4, 5]).await;
            let (gq, gk, gv) = (
                f32s(&out[0], tt * qd),
                f32s(&out[1], c * kvd),
                f32s(&out[2], c * kvd),
            );
            let (mut wq, mut wk, mut wv) = (q.clone(), kc0.clone(), vc0.clone());
            for i in 0..tt {
                let (cs, sn) = rope_angles(p0 + i, BASE, d.rope_dim as usize);
                rope(&mut wq[i * qd..][..qd], hd, &cs, &sn);
                let row = (p0 + i) * kvd;
                wk[row..row + kvd].copy_from_slice(&k[i * kvd..][..kvd]);
                rope(&mut wk[row..row + kvd], hd, &cs, &sn);
                wv[row..row + kvd].copy_from_slice(&v[i * kvd..][..kvd]);
            }
            let what = format!("rope {d:?} pos0={pos0} t={t}");
            assert_eq!(gv, wv, "{what}: V cache");
            for (name, g, w) in [("q", &gq, &wq), ("K cache", &gk, &wk)] {
                for (e, (a, b)) in g.iter().zip(w.iter()).enumerate() {
                    // measured 0: the CPU's f32 products and difference, bit for bit on
                    // lavapipe and SwiftShader (a GPU that fused a·c − b·s into an FMA would
                    // differ by an ulp)
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "{what}: {name}[{e}] got {a} want {b}"
                    );
                    worst = worst.max((a - b).abs());
                }
            }
            cases += 1;
        }
    }
    log!("rope_kv: {cases} cases, max error {worst:.2e}");
}

// ---- attention ---------------------------------------------------------------------------

/// Attention of token i (position pos0 + i), all heads, in f64: (t, n_heads·hd).
fn attention_ref(d: &Dims, q: &[f32], kc: &[f32], vc: &[f32], pos0: usize, t: usize) -> Vec<f32> {
    let (nh, nkv, hd) = (
        d.n_heads as usize,
        d.n_kv_heads as usize,
        d.head_dim as usize,
    );
    let (qd, kvd) = (nh * hd, nkv * hd);
    let mut out = vec![0.0f32; t * qd];
    let scale = 1.0 / (hd as f64).sqrt();
    for i in 0..t {
        let n = pos0 + i + 1;
        for h in 0..nh {
            let kb = kv_head(h, nh, nkv) * hd;
            let qh = &q[i * qd + h * hd..][..hd];
            let s: Vec<f64> = (0..n)
                .map(|r| {
                    (0..hd)
                        .map(|x| qh[x] as f64 * kc[r * kvd + kb + x] as f64)
                        .sum::<f64>()
                        * scale
                })
                .collect();
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for x in 0..hd {
                let o: f64 = (0..n).map(|r| e[r] * vc[r * kvd + kb + x] as f64).sum();
                out[i * qd + h * hd + x] = (o / z) as f32;
            }
        }
    }
    out
}

async fn attention_case(
    ctx: &GpuContext,
    d: &Dims,
    pos0: u32,
    t: u32,
    rng: &mut Rng,
    sharp: f32,
) -> f32 {
    let (qd, kvd) = (
        (d.n_heads * d.head_dim) as usize,
        (d.n_kv_heads * d.head_dim) as usize,
    );
    let c = d.ctx as usize;
    let q: Vec<f32> = (0..t as usize * qd)
        .map(|_| rng.uniform() * sharp)
        .collect();
    let kc = rng.vec(c * kvd);
    let vc = rng.vec(c * kvd);
    let spec = ops::attention(0, 1, 2, 3, 4, d);
    let init = [
        Init::f32(&q),
        Init::f32(&kc),
        Init::f32(&vc),
        Init::zeros(d.att_len()),
        Init::zeros(t as usize * qd),
    ];
    let out = run(ctx, &[spec], &init, st(pos0, t), &[4]).await;
    let got = f32s(&out[0], t as usize * qd);
    let want = attention_ref(d, &q, &kc, &vc, pos0 as usize, t as usize);
    let what = format!("attention {d:?} pos0={pos0} t={t}");
    // |out| ≤ max |v| < 1: absolute error
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // measured 7.2e-7 on lavapipe and SwiftShader (|out| < 1, so absolute)
    assert!(worst <= 6e-6, "{what}: max error {worst:.2e}");
    worst
}

/// GQA attention over the cache rows 0..=pos0 + i against an f64 reference: every shape of
/// `shapes()` at positions 0, 1, ctx − 1 with t = 1, 3, 16, sharp scores (large q), and a
/// decode at position 8191 of an 8192-row context (scores far past workgroup memory).
pub async fn attention(ctx: &GpuContext) {
    let mut rng = Rng::new(3);
    let (mut worst, mut cases) = (0.0f32, 0);
    for d in shapes() {
        for (pos0, t) in calls(d.ctx) {
            worst = worst.max(attention_case(ctx, &d, pos0, t, &mut rng, 1.0).await);
            cases += 1;
        }
        // peaked softmax: scores up to ~|q|·|k|·√hd
        worst = worst.max(attention_case(ctx, &d, d.ctx - 1, 1, &mut rng, 8.0).await);
        cases += 1;
    }
    let long = dims(9, 3, 64, 64, 8192);
    worst = worst.max(attention_case(ctx, &long, 8191, 1, &mut rng, 1.0).await);
    worst = worst.max(attention_case(ctx, &long, 8176, 16, &mut rng, 1.0).await);
    cases += 2;
    log!("attention: {cases} cases, max error {worst:.2e}");

    // time: the best of 3 runs (upload, attention, readback) of one SmolLM2 layer's decode at
    // position 8191 of 8192, beside the same at position 0 (the runner's own cost)
    let (qd, kvd) = (576, 192);
    let init = [
        Init::f32(&rng.vec(qd)),
        Init::f32(&rng.vec(8192 * kvd)),
        Init::f32(&rng.vec(8192 * kvd)),
        Init::zeros(long.att_len()),
        Init::zeros(qd),
    ];
    let mut best = [f64::INFINITY; 2];
    for (b, pos) in best.iter_mut().zip([8191, 0]) {
        for _ in 0..3 {
            let t0 = now_ms();
            run(
                ctx,
                &[ops::attention(0, 1, 2, 3, 4, &long)],
                &init,
                st(pos, 1),
                &[4],
            )
            .await;
            *b = b.min(now_ms() - t0);
        }
    }
    log!(
        "attention decode: {:.1} ms at position 8191, {:.1} ms at 0",
        best[0],
        best[1]
    );
}

// ---- thresholds and SwiGLU ---------------------------------------------------------------

/// A threshold alone in place (none / TEAL / WINA), t = 1, 3, 16: the same comparisons as the
/// CPU on the same values, so exactly the CPU's result.
pub async fn threshold(ctx: &GpuContext) {
    let mut rng = Rng::new(4);
    let mut cases = 0;
    for &(n, t) in &[(1usize, 1usize), (7, 3), (576, 1), (1000, 16)] {
        let mut x = rng.vec(t * n);
        x[0] = 0.0;
        let sc = scales(&mut rng, n);
        for thresh in thresholds(&x, &sc, n) {
            let scaled = matches!(thresh, Thresh::Scaled(_));
            let spec = ops::threshold(0, Some(1).filter(|_| scaled), n as u32, thresh);
            let out = run(
                ctx,
                &[spec],
                &[Init::f32(&x), Init::f32(&sc)],
                st(0, t as u32),
                &[0],
            )
            .await;
            let want: Vec<f32> = x
                .iter()
                .enumerate()
                .map(|(e, &v)| cpu_thresh(v, e % n, thresh, &sc))
                .collect();
            assert_eq!(
                f32s(&out[0], t * n),
                want,
                "threshold n={n} t={t} {thresh:?}"
            );
            cases += 1;
        }
    }
    log!("threshold: {cases} cases, exact");
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// SwiGLU with the gate method's channel drop (gate_t > 0) and none / TEAL / WINA on the
/// product, ffn = 7, 300, 1536, t = 1, 3, 16, gates reaching ±20 (silu's saturated ends).
pub async fn swiglu(ctx: &GpuContext) {
    let mut rng = Rng::new(5);
    let (mut worst, mut flips, mut cases) = (0.0f32, 0, 0);
    for &(n, t) in &[(7usize, 1usize), (300, 3), (1536, 1), (1536, 16)] {
        let gate: Vec<f32> = (0..t * n)
            .map(|e| rng.uniform() * if e % 5 == 0 { 20.0 } else { 3.0 })
            .collect();
        let up = rng.vec(t * n);
        let sc = scales(&mut rng, n);
        let s: Vec<f32> = gate.iter().map(|&g| silu(g)).collect();
        let mut a: Vec<f32> = s.iter().map(|v| v.abs()).collect();
        a.sort_by(f32::total_cmp);
        for gate_t in [0.0, a[a.len() / 3]] {
            let pre: Vec<f32> = s
                .iter()
                .zip(&up)
                .map(|(&s, &u)| {
                    if gate_t > 0.0 && s.abs() < gate_t {
                        0.0
                    } else {
                        s * u
                    }
                })
                .collect();
            for thresh in thresholds(&pre, &sc, n) {
                let scaled = matches!(thresh, Thresh::Scaled(_));
                let spec = ops::swiglu(0, 1, Some(2).filter(|_| scaled), n as u32, gate_t, thresh);
                let out = run(
                    ctx,
                    &[spec],
                    &[Init::f32(&gate), Init::f32(&up), Init::f32(&sc)],
                    st(0, t as u32),
                    &[0],
                )
                .await;
                let got = f32s(&out[0], t * n);
                let want: Vec<f32> = pre
                    .iter()
                    .enumerate()
                    .map(|(e, &v)| cpu_thresh(v, e % n, thresh, &sc))
                    .collect();
                // gate-method flips: an |silu(g)| within 1e-5 of gate_t may land either side
                let (mut pre2, mut want2) = (pre.clone(), want.clone());
                for e in 0..t * n {
                    let near_gate = gate_t > 0.0 && (s[e].abs() - gate_t).abs() <= 1e-5 * gate_t;
                    if near_gate && (got[e] == 0.0) != (want[e] == 0.0) {
                        pre2[e] = got[e];
                        want2[e] = got[e];
                        flips += 1;
                    }
                }
                let what = format!("swiglu n={n} t={t} gate_t={gate_t} {thresh:?}");
                // measured 2.5e-8 on lavapipe and SwiftShader (silu's exp vs the CPU's)
                let (e, f) = compare(&got, &want2, &pre2, n, thresh, &sc, 2.4e-7, &what);
                worst = worst.max(e);
                flips += f;
                cases += 1;
            }
        }
    }
    log!("swiglu: {cases} cases, max error {worst:.2e}, {flips} threshold flips");
}

// ---- top-k -------------------------------------------------------------------------------

/// The k best (id, logit) by logit descending, lower id first among equals.
fn cpu_top(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    ids.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    ids.into_iter()
        .take(k)
        .map(|i| (i, logits[i as usize]))
        .collect()
}

async fn topk_case(
    ctx: &GpuContext,
    logits: &[f32],
    top_k: u32,
    temperature: f32,
    what: &str,
) -> (Vec<u32>, f64) {
    let vocab = logits.len() as u32;
    let specs = ops::topk(0, 1, 2, vocab);
    let init = [
        Init::f32(logits),
        Init::zeros(ops::topk_partial_words(vocab)),
        Init::zeros(ops::topk_out_words()),
    ];
    let s = State {
        pos0: 0,
        t: 1,
        top_k,
        temperature,
    };
    let out = run(ctx, &specs, &init, s, &[2]).await.remove(0);
    let n = if top_k == 1 { 1 } else { TOPK_MAX as usize };
    let want = cpu_top(logits, n);
    for j in 0..TOPK_MAX as usize {
        let (id, l) = (out[2 * j], f32::from_bits(out[2 * j + 1]));
        if j < want.len() {
            assert_eq!(
                (id, l.to_bits()),
                (want[j].0, want[j].1.to_bits()),
                "{what}: candidate {j}"
            );
        } else {
            assert_eq!(
                (id, l),
                (TOPK_NONE, f32::NEG_INFINITY),
                "{what}: empty slot {j}"
            );
        }
    }
    let z = f32::from_bits(out[2 * TOPK_MAX as usize]) as f64;
    let mut err = 0.0;
    if temperature > 0.0 {
        let m = want[0].1 as f64;
        let zr: f64 = logits
            .iter()
            .map(|&l| ((l as f64 - m) / temperature as f64).exp())
            .sum();
        err = ((z - zr) / zr).abs();
        // measured 1.5e-7 (lavapipe), 1.4e-7 (SwiftShader): exp in f32, then per-chunk and
        // tree sums
        assert!(
            err <= 1.5e-6,
            "{what}: Z {z} want {zr} (relative error {err:.2e})"
        );
    } else {
        assert_eq!(z, 0.0, "{what}: Z without temperature");
    }
    (out, err)
}

/// Top-k candidates and Z: vocab 1, 7, 1000, 1024, 1025, 16385 (two merge rounds), 49152;
/// greedy, k = 2, 40, 64; temperatures 0, 0.7, 1; heavy ties (logits on a grid of 8 values),
/// all equal, −∞ entries. Then the sampler on the readback draws what `Sampler::sample` draws
/// on the full logits (many seeds).
pub async fn topk(ctx: &GpuContext) {
    let mut rng = Rng::new(6);
    let (mut worst, mut cases) = (0.0f64, 0);
    for &vocab in &[1usize, 7, 1000, 1024, 1025, 16385, 49152] {
        let smooth: Vec<f32> = (0..vocab).map(|_| rng.uniform() * 10.0).collect();
        let tied: Vec<f32> = (0..vocab).map(|_| (rng.below(8) as f32) * 0.5).collect();
        let mut flat = vec![1.5f32; vocab];
        if vocab > 3 {
            flat[vocab - 1] = f32::NEG_INFINITY;
            flat[1] = f32::NEG_INFINITY;
        }
        for (name, logits) in [("smooth", &smooth), ("tied", &tied), ("flat", &flat)] {
            for &(k, temp) in &[(1u32, 0.0f32), (2, 0.7), (40, 1.0), (64, 0.7)] {
                let what = format!("topk vocab={vocab} {name} k={k} T={temp}");
                let (_, e) = topk_case(ctx, logits, k, temp, &what).await;
                worst = worst.max(e);
                cases += 1;
            }
        }
    }
    log!("topk: {cases} cases, Z max relative error {worst:.2e}");

    // time: the best of 3 runs (upload, both passes, readback) at vocab 49152, beside the
    // same at vocab 1 (the runner's own cost)
    let logits: Vec<f32> = (0..49152).map(|_| rng.uniform() * 6.0).collect();
    for (k, temp) in [(1u32, 0.0f32), (40, 0.8)] {
        let mut best = [f64::INFINITY; 2];
        for (b, l) in best.iter_mut().zip([&logits[..], &logits[..1]]) {
            let v = l.len() as u32;
            let init = [
                Init::f32(l),
                Init::zeros(ops::topk_partial_words(v)),
                Init::zeros(ops::topk_out_words()),
            ];
            let s = State {
                pos0: 0,
                t: 1,
                top_k: k,
                temperature: temp,
            };
            for _ in 0..3 {
                let t0 = now_ms();
                run(ctx, &ops::topk(0, 1, 2, v), &init, s, &[2]).await;
                *b = b.min(now_ms() - t0);
            }
        }
        log!(
            "topk k={k}: {:.1} ms at vocab 49152, {:.1} ms at vocab 1",
            best[0],
            best[1]
        );
    }

    // the sampler on the readback, against the sampler on the full logits
    // (smooth logits: a nucleus of thousands; peaked: a dozen tokens hold most of the mass,
    // so top_k = 0 with top-p draws from the readback too)
    let smooth: Vec<f32> = (0..49152).map(|_| rng.uniform() * 6.0).collect();
    let mut peaked: Vec<f32> = (0..49152).map(|_| rng.uniform() * 2.0).collect();
    for _ in 0..12 {
        peaked[rng.below(49152)] += 16.0;
    }
    let (mut drawn, mut fallbacks, mut nucleus) = (0, 0, 0);
    for (logits, top_k, top_p, temp) in [
        (&smooth, 40usize, 1.0f32, 0.8f32),
        (&smooth, 64, 0.9, 1.0),
        (&smooth, 0, 0.5, 0.3),
        (&smooth, 0, 1.0, 1.0),
        (&smooth, 1, 1.0, 1.0),
        (&smooth, 0, 1.0, 0.0),
        (&peaked, 0, 0.9, 1.0),
        (&peaked, 7, 0.8, 1.3),
    ] {
        let mut c = SamplerConfig {
            temperature: temp,
            top_k,
            top_p,
            seed: 0,
        };
        let (out, _) =
            topk_case(ctx, logits, ops::state_top_k(&c), temp, "topk for sampling").await;
        for seed in 0..40 {
            c.seed = seed;
            let mut gpu = Sampler::new(c).unwrap();
            let mut cpu = Sampler::new(c).unwrap();
            for _ in 0..3 {
                let want = cpu.sample(logits).unwrap();
                match ops::sample_topk(&mut gpu, &out, 49152).unwrap() {
                    Some(got) => {
                        assert_eq!(got, want, "{c:?}");
                        drawn += 1;
                        nucleus += (top_k == 0 && temp > 0.0) as usize;
                    }
                    None => {
                        assert!(top_k == 0 || top_k > TOPK_MAX as usize, "{c:?}: no token");
                        assert_eq!(gpu.sample(logits).unwrap(), want, "{c:?}: fallback");
                        fallbacks += 1;
                    }
                }
            }
        }
    }
    assert!(
        nucleus >= 100,
        "top_k = 0 with top-p drew {nucleus} tokens from the readback"
    );
    log!(
        "topk sampling: {drawn} tokens from the readback ({nucleus} with top_k = 0 and top-p), {fallbacks} \
         fallbacks to the full logits"
    );
}
