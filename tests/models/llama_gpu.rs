//! SmolLM2-135M on the GPU natively (Mesa lavapipe in CI) against the WASM forward pass, in the
//! release model tests (`make test-models`), where the CPU reference runs at full speed.
//! No adapter → skipped with a message, unless `ZEROSKIP_REQUIRE_GPU=1` (set by the Makefile).

use crate::gpu_llm_cases::greedy_both;
use zeroskip::gpu::GpuContext;
use zeroskip::llm::llama::Llama;
use zeroskip::llm::sampler::argmax;
use zeroskip::llm::tokenizer::Tokenizer;

/// The device, or `None` (and a message) without an adapter.
fn gpu() -> Option<GpuContext> {
    match pollster::block_on(GpuContext::new()) {
        Ok(c) => Some(c),
        Err(e) => {
            let required = std::env::var("ZEROSKIP_REQUIRE_GPU").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "ZEROSKIP_REQUIRE_GPU=1 but no WebGPU device: {e}"
            );
            eprintln!("*** SKIPPED: no WebGPU adapter ({e})");
            None
        }
    }
}

const PROMPTS: [&str; 4] = [
    "The capital of France is",
    "Once upon a time, there was a",
    "def fibonacci(n):",
    "The three primary colors are",
];

/// Measured at most 2.2e-6 of the logit range over the first 5 positions of every file and
/// prompt (lavapipe); the issue asks for 1e-3.
const FIRST5_TOL: f32 = 2e-5;

/// Whether moving `m`'s activation thresholds by a relative `eps` (±1e-6, ±1e-5) makes the CPU
/// choose `token` at `step` after the same `tokens`: the divergence is then a threshold
/// knife-edge (an input within rounding of its threshold, zeroed on one path and kept on the
/// other), not a wrong kernel.
fn knife_edge(
    bytes: &[u8],
    file: &str,
    prompt: &[u32],
    tokens: &[u32],
    step: usize,
    token: u32,
) -> Option<f32> {
    for eps in [-1e-6f32, 1e-6, -1e-5, 1e-5] {
        let mut m = Llama::load(file, bytes.to_vec()).unwrap();
        let mut a = m.act().cloned()?;
        for t in a.thresholds.iter_mut().flatten() {
            *t *= 1.0 + eps;
        }
        m.set_act(Some(a)).unwrap();
        let mut s = m.session(prompt.len() + step + 1).unwrap();
        let mut l = m.prefill(&mut s, prompt).unwrap().to_vec();
        let mut same = true;
        for &t in &tokens[..step] {
            same &= argmax(&l) as u32 == t;
            l = m.decode(&mut s, t).unwrap().to_vec();
        }
        if same && argmax(&l) as u32 == token {
            return Some(eps);
        }
    }
    None
}

/// SmolLM2-135M on the GPU against WASM for every file of the zoo the GPU runs, each path
/// generating greedily from its own tokens:
/// - the logits of the first 5 positions (the prompt, then 4 steps) within [`FIRST5_TOL`] of the
///   logit range;
/// - 32 greedy tokens for 4 prompts on the dense Q4_0 file and on the demo's default sparse one
///   (8 tokens of one prompt on the others), identical on every weight-only file. The default
///   file's activation thresholds make a path's output turn on whether an input lies a rounding
///   error above or below its threshold (our two WASM builds, SIMD128 and relaxed, part on it
///   too). Where its two paths part — never within the first 5 positions — the test prints the
///   step, the two tokens and their logits, and whether the CPU with its thresholds moved by
///   1e-6 or 1e-5 makes the GPU's choice (a knife-edge reproduced).
#[test]
fn smollm2_matches_wasm() {
    let Some(ctx) = gpu() else { return };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/zoo/llm");
    let files = [
        ("SmolLM2-135M-Instruct.Q4_0.gguf", 4, 32),
        ("SmolLM2-135M-Instruct.act-teal-s40-cm32i8.zsk", 4, 32),
        ("SmolLM2-135M-Instruct.Q8_0.gguf", 1, 8),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", 1, 8),
        ("SmolLM2-135M-Instruct.g16-s50-int4.zsk", 1, 8),
        ("SmolLM2-135M-Instruct.nm24-s50-int8.zsk", 1, 8),
    ];
    for (file, n_prompts, steps) in files {
        let bytes = std::fs::read(root.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}; build the zoo first with `make zoo`"));
        let (m, tok) = Llama::load_with(file, bytes.clone(), Tokenizer::from_gguf).unwrap();
        for p in &PROMPTS[..n_prompts] {
            let ids = tok.encode(p, false);
            let t = std::time::Instant::now();
            let a = pollster::block_on(greedy_both(&ctx, &m, &ids, steps));
            println!(
                "{file} {p:?}: |Δlogit|/range {:.2e} (first 5), {:.2e} (all); GPU {:?} ({:.1} s)",
                a.first5,
                a.all,
                tok.decode(&a.gpu).unwrap(),
                t.elapsed().as_secs_f64()
            );
            assert!(a.first5 <= FIRST5_TOL, "{file} {p:?}: {:e}", a.first5);
            let Some((step, got, want, lg, lw, d)) = a.divergence else {
                continue;
            };
            println!(
                "  parts at step {step}: GPU {got} {:?} (WASM logit {lg}), WASM {want} {:?} ({lw});                  |Δlogit|/range there {d:.2e}; WASM goes on {:?}",
                tok.decode(&[got]).unwrap(),
                tok.decode(&[want]).unwrap(),
                tok.decode(&a.cpu[step..]).unwrap()
            );
            assert!(
                m.act().is_some(),
                "{file} {p:?}: a weight-only file parts at step {step}"
            );
            assert!(
                step >= 4,
                "{file} {p:?}: parts at step {step}, within the first 5"
            );
            match knife_edge(&bytes, file, &ids, &a.cpu, step, got) {
                Some(eps) => println!(
                    "  a threshold knife-edge: the CPU with its thresholds × (1 {eps:+e}) picks {got} too"
                ),
                None => println!(
                    "  moving every threshold one way by 1e-6 or 1e-5 does not reproduce it on the CPU \
                     (the inputs at the edge may lie on both sides)"
                ),
            }
        }
    }
}
