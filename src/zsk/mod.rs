//! `.zsk`: zeroskip's own model file (format in docs/zsk.md). Compact and kernel-ready: the
//! graph plus, for every 1x1 conv / FC layer the selector runs sparse, the packed SpMM stream
//! itself (block width, counts, input-channel deltas, values with the bias), so loading skips
//! the selector and the packer. Values are f32 or f16. Every length and index is checked
//! against the bytes left before anything is allocated or indexed.

pub mod llm;
mod read;
mod write;

pub use read::{load, ZskModel};
pub use write::{write, Precision};

/// First 8 bytes of every `.zsk`.
pub const MAGIC: &[u8; 8] = b"ZEROSKIP";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;

// Op tags.
const OP_CONV: u8 = 1;
const OP_LINEAR: u8 = 2;
const OP_ACT: u8 = 3;
const OP_AFFINE: u8 = 4;
const OP_ADD: u8 = 5;
const OP_MUL: u8 = 6;
const OP_GAP: u8 = 7;
const OP_POOL: u8 = 8;
const OP_SOFTMAX: u8 = 9;
const OP_CONCAT: u8 = 10;
const OP_VIEW: u8 = 11;
const OP_PRELU: u8 = 12;
const OP_SUB: u8 = 13;
const OP_PAD: u8 = 14;
const OP_DEPTH_TO_SPACE: u8 = 15;
const OP_RESIZE_BILINEAR: u8 = 16;
const OP_SLICE: u8 = 17;
const OP_TO_HWC: u8 = 18;
const OP_FROM_HWC: u8 = 19;

// Activation tags.
const ACT_RELU: u8 = 1;
const ACT_CLIP: u8 = 2;
const ACT_HARDSIGMOID: u8 = 3;
const ACT_HARDSWISH: u8 = 4;
const ACT_SIGMOID: u8 = 5;
const ACT_TANH: u8 = 6;
const ACT_LEAKY_RELU: u8 = 7;

// ResizeBilinear flag bits; every other bit must be 0.
const RESIZE_ALIGN_CORNERS: u8 = 1;
const RESIZE_HALF_PIXEL: u8 = 2;

// Weight block kinds.
const WEIGHTS_DENSE: u8 = 0;
const WEIGHTS_SPMM: u8 = 1;

// Value precisions.
const DTYPE_F32: u8 = 0;
const DTYPE_F16: u8 = 1;
