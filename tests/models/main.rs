//! The model tests in one binary: GGUF, tokenizer, llama forward, perplexity (their synthetic
//! cases run everywhere), and with `--features zoo` the real zoo models (`make test-models`).

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
mod gguf;
#[cfg(not(target_arch = "wasm32"))]
#[path = "../common/gpu_llm_model.rs"]
mod gpu_llm_cases;
mod llama;
#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod llama_gpu;
#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod onnx_ops;
mod ppl;
#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod prune_zoo;
mod tokenizer;
#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod zoo;
#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod zoo_tfjs;
#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod zoo_threads;
