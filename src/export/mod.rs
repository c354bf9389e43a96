//! Writing a `Graph` back out as a standard model file, so a model pruned by zeroskip runs in
//! any runtime (onnxruntime, ORT Web, TF.js via converters) as well as in zeroskip.

pub mod gguf;
pub mod onnx;
