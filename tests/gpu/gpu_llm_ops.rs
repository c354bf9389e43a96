//! The LLM forward pass's non-linear steps and the GPU top-k natively (Mesa lavapipe in CI),
//! against the CPU forward pass and sampler: the cases live in tests/common/gpu_llm_ops.rs,
//! shared with the browser suite (tests/gpu_browser.rs).
//!
//! No adapter → each test prints why and SKIPS, unless `ZEROSKIP_REQUIRE_GPU=1`.
#![cfg(not(target_arch = "wasm32"))]

use crate::gpu_llm_ops_cases as cases;

gpu_case_tests! {
    /// RMSNorm with none / TEAL / WINA thresholds, every row and the last alone.
    llm_rmsnorm_matches_the_cpu => cases::rmsnorm;
    /// RoPE on q and k, and the KV-cache write at rows pos0 + i.
    llm_rope_kv_matches_the_cpu => cases::rope_kv;
    /// GQA attention against an f64 reference, ctx 1 to 8192, t = 1 to 16.
    llm_attention_matches_f64 => cases::attention;
    /// A threshold alone, exactly the CPU's.
    llm_threshold_matches_the_cpu => cases::threshold;
    /// SwiGLU with the gate method and the W_down input's thresholds.
    llm_swiglu_matches_the_cpu => cases::swiglu;
    /// Top-k candidates and Z, and the sampler on them against the sampler on all logits.
    llm_topk_matches_the_cpu_sampler => cases::topk;
}
