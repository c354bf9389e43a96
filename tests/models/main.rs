//! The model tests in one binary: GGUF, tokenizer, llama forward, perplexity (their synthetic
//! cases run everywhere), and with `--features zoo` the real zoo models (`make test-models`).

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
mod gguf;
mod llama;
mod ppl;
#[cfg(feature = "zoo")]
mod prune_zoo;
mod tokenizer;
#[cfg(feature = "zoo")]
mod zoo;
#[cfg(feature = "zoo")]
mod zoo_tfjs;
