//! LLM decoding on WebGPU: the whole llama forward pass resident on the GPU, one command buffer
//! and one small readback per token.
//!
//! Data flow mirrors the WASM path (`crate::llm`): the model's [`crate::llm::weights`] are
//! uploaded as the file stores them (`linear`: GGUF blocks and the sparse formats' arrays,
//! decoded in registers by the shaders), `ops` holds the other steps of the forward pass
//! (RMSNorm with the activation thresholds, RoPE and the KV-cache write, attention, SwiGLU,
//! sampling), and `model` records them once per session and runs them per token.
//!
//! Every dispatch follows one convention (`dispatch`):
//! - binding 0: `Params`, the step's static uniform words (at most [`PARAM_WORDS`]);
//! - binding 1: `State`, the per-call uniform ([`State`]: first position, tokens in the call,
//!   sampling parameters), written once before each command buffer;
//! - bindings 2..: storage buffers, in the order the op's constructor lists them.
//!
//! Each op constructor returns an [`OpSpec`] over the caller's buffer handles, so the same
//! constructors serve the session (its buffers) and the shader tests (`dispatch::run_specs`).

/// Declares shader files of `shaders/` (`ID = "stem";`) as `Shader` constants, and `SHADERS`,
/// the module's list for the naga validation test.
macro_rules! llm_shaders {
    ($($id:ident = $file:literal;)*) => {
        $(pub const $id: crate::gpu::shaders::Shader = crate::gpu::shaders::Shader {
            name: $file,
            source: include_str!(concat!("../../../shaders/", $file, ".wgsl")),
        };)*
        /// The shaders of this module, for the naga validation test.
        pub const SHADERS: &[crate::gpu::shaders::Shader] = &[$($id),*];
    };
}

pub mod dispatch;
pub mod generate;
pub mod linear;
pub mod model;
pub mod ops;

pub use dispatch::{run_specs, Init, OpSpec, State, STATE_WORDS};
pub use generate::Generator;
pub use linear::{compact, GpuLinear, LinearIo, LinearPart, RowSplit};
pub use model::{Draw, GpuLlm, Top};
pub use ops::{Dims, Thresh, TOPK_MAX};

/// Words of every step's static uniform block (each shader's `Params` is at most 16 scalars).
pub const PARAM_WORDS: usize = 16;
