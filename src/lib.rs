//! zeroskip: an in-browser inference engine for sparse neural networks.
//!
//! The Rust core compiles to WebAssembly SIMD128 (and a relaxed-SIMD build). Data flows one
//! way: import → graph → plan → exec → bindings. This crate currently holds the foundation:
//! weight formats (`sparse`, `dense`), the CHW 1x1 kernels with their registry and selector
//! (`kernels`), and the wasm façade used by the benchmark page (`web`).

// Kernel signatures spell out every pointer and dim (shape comments beside them) rather than
// hiding them in ad-hoc structs, and tile loops index several same-sized arrays in lockstep.
#![allow(clippy::too_many_arguments, clippy::needless_range_loop)]
// The threaded wasm builds (nightly, `+atomics`): the pool's workers sleep with
// `memory.atomic.wait32`, whose intrinsic is still unstable (src/par/wait.rs).
#![cfg_attr(
    all(target_arch = "wasm32", target_feature = "atomics"),
    feature(stdarch_wasm_atomic_wait)
)]

pub mod bench;
pub mod dense;
pub mod error;
pub mod export;
pub mod gpu;
pub mod graph;
pub mod import;
pub mod kernels;
pub mod limits;
pub mod llm;
pub mod par;
pub mod prune;
pub mod sparse;
pub mod synth;
pub mod tensor;
pub mod web;
pub mod zsk;

pub use error::{Error, Result};
