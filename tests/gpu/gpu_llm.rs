//! Whole llama models on the GPU natively (lavapipe in CI): the cases of
//! tests/common/gpu_llm_model.rs (shared with the browser suite). SmolLM2 itself runs in the
//! release model tests (tests/models/llama_gpu.rs), where the CPU reference is fast enough.
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
