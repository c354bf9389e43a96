pub mod onnx;
pub mod tfjs;
