//! Whole llama models on the GPU natively (lavapipe in CI): the cases of
//! tests/common/gpu_llm_model.rs (shared with the browser suite), and with `--features zoo`
//! SmolLM2-135M in every weight format the GPU runs against the WASM forward pass.
#![cfg(not(target_arch = "wasm32"))]

use crate::gpu_llm_cases as cases;
use crate::gpu_native::gpu;

macro_rules! need_gpu {
    () => {
        match gpu() {
            Some(c) => c,
            None => return,
        }
    };
}

/// F32, F16, Q4_0, Q4_1, Q8_0, the group, 2:4 and cm32 formats, and TEAL / WINA / gate
/// thresholds on tiny models: logits after a two-chunk prefill and 6 greedy steps.
#[test]
fn tiny_models_match_wasm() {
    let ctx = need_gpu!();
    pollster::block_on(cases::tiny_models_match_wasm(ctx));
}

/// Seeded top-k / top-p / temperature draws give the WASM sampler's tokens.
#[test]
fn sampling_matches_wasm() {
    let ctx = need_gpu!();
    pollster::block_on(cases::sampling_matches_wasm(ctx));
}

/// auto / webgpu / an unsupported format, with their reasons.
#[test]
fn backend_policy() {
    let ctx = need_gpu!();
    pollster::block_on(cases::backend_policy(ctx));
}

/// A destroyed device mid-generation: the generation finishes on WASM, same tokens.
#[test]
fn lost_device_finishes_on_wasm() {
    let ctx = need_gpu!();
    pollster::block_on(cases::lost_device_finishes_on_wasm(ctx));
}

/// SmolLM2-135M on the GPU against WASM, for every file of the zoo the GPU runs: logits within
/// 1e-3 of the logit range at 5 positions (after the prompt and 4 steps), and 32 greedy tokens
/// identical for 4 prompts on the dense Q4_0 file and the demo's default sparse one (8 tokens
/// of one prompt on the other files).
#[cfg(feature = "zoo")]
#[test]
fn smollm2_matches_wasm() {
    use zeroskip::llm::llama::Llama;
    use zeroskip::llm::tokenizer::Tokenizer;
    let ctx = need_gpu!();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/zoo/llm");
    let prompts = [
        "The capital of France is",
        "Once upon a time, there was a",
        "def fibonacci(n):",
        "The three primary colors are",
    ];
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
        let (m, tok) = Llama::load_with(file, bytes, Tokenizer::from_gguf).unwrap();
        for p in &prompts[..n_prompts] {
            let ids = tok.encode(p, false);
            let t = std::time::Instant::now();
            let (d, out) =
                pollster::block_on(cases::same_as_wasm(ctx, &m, &ids, steps, 1e-3, file));
            println!(
                "{file} {p:?}: max |Δlogit|/range {d:.2e}, {:?} ({:.1} s)",
                tok.decode(&out).unwrap(),
                t.elapsed().as_secs_f64()
            );
        }
    }
}
