//! Whole llama models on the GPU natively (lavapipe in CI): the cases of
//! tests/common/gpu_llm_model.rs (shared with the browser suite). SmolLM2 itself runs in the
//! release model tests (tests/models/llama_gpu.rs), where the CPU reference is fast enough.
#![cfg(not(target_arch = "wasm32"))]

use crate::gpu_llm_cases as cases;

gpu_case_tests! {
    /// F32, F16, Q4_0, Q4_1, Q8_0, the group, 2:4 and cm32 formats, and TEAL / WINA / gate
    /// thresholds on tiny models: logits after a two-chunk prefill and 6 greedy steps.
    tiny_models_match_wasm => cases::tiny_models_match_wasm;
    /// Seeded top-k / top-p / temperature draws give the WASM sampler's tokens.
    sampling_matches_wasm => cases::sampling_matches_wasm;
    /// auto / webgpu / an unsupported format, with their reasons.
    backend_policy => cases::backend_policy;
    /// A destroyed device mid-generation: the generation finishes on WASM, same tokens.
    lost_device_finishes_on_wasm => cases::lost_device_finishes_on_wasm;
}
