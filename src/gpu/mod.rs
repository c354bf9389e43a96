//! The WebGPU path: WGSL compute shaders (`shaders/*.wgsl`) for the sparse CNN ops, driven
//! through wgpu, with whole networks resident on the GPU.
//!
//! Data flow mirrors the CPU path: `Graph` → `lower` (kernel, packed weights and pooled buffer
//! per node, chosen once; the counterpart of `graph::plan`) → `GpuSession` (creates every
//! pipeline, buffer and bind group once, then each run is one command buffer and one
//! readback). `GpuContext` owns the device and turns wgpu's errors and device loss into
//! `Error::Gpu`; `backend::open` picks WASM or WebGPU for a model and says why it fell back, and
//! `backend::choose` / `recover` hold the JS API's fallback policy on top of it.
//!
//! Everything is async because the browser resolves device requests, error scopes and buffer
//! mapping from its event loop; natively, block on the futures (e.g. `pollster`).

pub mod backend;
pub mod context;
mod exec;
pub mod llm;
mod lower;
pub mod pack;
pub mod shaders;

pub use backend::{choose, open, recover, Backend, Engine, Fallback, FallbackReason, Opened};
pub use context::GpuContext;
pub use exec::GpuSession;
pub use lower::{GpuLayer, GpuOptions, Pointwise, SPARSE_MIN_ZEROS, SPMM_SHAPES};

/// Lowers `g` against WebGPU's default limits without a device and returns the dispatch
/// count: the WGSL fuzz target's entry (fuzz/), since lowering reads graphs imported from
/// untrusted files. Not part of the API.
#[doc(hidden)]
pub fn lower_for_fuzz(g: &crate::graph::Graph) -> crate::Result<usize> {
    let lim = lower::DeviceLimits::of(&wgpu::Limits::default());
    Ok(lower::lower(g, GpuOptions::default(), lim)?.steps.len())
}
