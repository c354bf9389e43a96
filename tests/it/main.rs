//! The unit-level integration tests in one binary (one link per build: native, wasm32
//! SIMD128 debug and release, relaxed): kernels against their oracles, formats, import,
//! planning, pruning, export, the LLM pieces. Each module is one former tests/<name>.rs.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
mod bad_input;
#[path = "../common/cnn.rs"]
mod cnn;
mod export;
mod formats;
mod fuzz_regressions;
mod graph_ops;
#[path = "../graphs/mod.rs"]
mod graphs;
mod kernel_table;
mod kernels;
mod kernels_cnn;
mod kernels_prop;
#[path = "../common/llm.rs"]
mod llm;
mod llm_act;
mod llm_kernels;
mod llm_prune;
mod llm_threads;
mod llm_zsk;
mod onnx_fuzz;
mod onnx_import;
// the pool needs threads: native, or a wasm build with atomics
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod par;
mod plan;
mod prune;
mod sampler;
mod selector;
mod tfjs_import;
mod threads;
mod web_errors;
mod zsk;
