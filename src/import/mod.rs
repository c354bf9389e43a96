pub mod gguf;
pub mod onnx;
pub mod tfjs;
