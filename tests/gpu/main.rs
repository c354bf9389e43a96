//! The WebGPU path natively (`make test-gpu`): every shader validated by naga, then run on a
//! wgpu device (Mesa lavapipe in CI). Native only.
#![cfg(not(target_arch = "wasm32"))]

/// Native tests that each block on one shared async case (tests/common/gpu_llm_*.rs) with the
/// shared device (`gpu_native::gpu`; no adapter skips).
macro_rules! gpu_case_tests {
    ($($(#[$m:meta])* $name:ident => $body:path;)*) => {$(
        $(#[$m])*
        #[test]
        fn $name() {
            let Some(ctx) = crate::gpu_native::gpu() else { return };
            pollster::block_on($body(ctx));
        }
    )*};
}

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
#[path = "../common/gpu.rs"]
mod gpu_cases;
mod gpu_llm;
#[path = "../common/gpu_llm_model.rs"]
mod gpu_llm_cases;
mod gpu_llm_linear;
#[path = "../common/gpu_llm_linear.rs"]
mod gpu_llm_linear_cases;
mod gpu_llm_ops;
#[path = "../common/gpu_llm_ops.rs"]
mod gpu_llm_ops_cases;
mod gpu_native;
mod gpu_shaders;
