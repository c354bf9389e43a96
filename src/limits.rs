//! Every size cap of zeroskip, with why it is that number. zeroskip reads untrusted files in a
//! browser tab, where a failed allocation aborts the page: so nothing is sized from a header
//! until that size passed one of these caps (→ [`Error::TooLarge`]) and, where the bytes come
//! from the file, until the file was seen to hold them (→ a `BadModel` "truncated" error).
//!
//! Two facts of the browser set the numbers:
//! - wasm32 linear memory is addressed by 32-bit pointers: at most [`WASM32_MEMORY`] (4 GiB),
//!   holding the file's bytes, the decoded weights, the packed copies and the activations at
//!   once. A usize there is 32 bits, so every u64 from a header is compared as u64 before it
//!   becomes a usize or is multiplied.
//! - A model reaches the engine as one ArrayBuffer, at most [`ARRAY_BUFFER`] (2 GiB in Chrome
//!   and Firefox): no tensor of a loadable file can be larger than that.
//!
//! Natively the same caps apply (one code path, one answer per file); they are far above every
//! model this engine targets (SmolLM2-135M is a 98 MB GGUF, MobileNetV2 a 14 MB ONNX).
//! The CNN kernels' own dimension caps stay beside their parameter checks
//! (`kernels::cnn::params::{MAX_DIM, MAX_ELEMS}`, 2^15 and 2^28).

use crate::error::Error;

/// wasm32's addressable memory, in bytes (32-bit pointers).
pub const WASM32_MEMORY: u64 = 1 << 32;
/// Largest ArrayBuffer a browser hands over (2 GiB): the largest model file in one piece.
pub const ARRAY_BUFFER: u64 = 1 << 31;

/// Largest decoded weight tensor of a CNN format (ONNX initializer, TF.js manifest entry,
/// `.zsk` CNN value block), in elements: 2^28 f32 = 1 GiB, a quarter of wasm32 memory, so the
/// file's copy, the decoded tensor and a packed copy still fit beside each other.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 28;
/// Largest `c_out · c_in` of one 1x1 / FC weight the packers take: the same 1 GiB of f32.
pub const MAX_WEIGHTS: u64 = 1 << 28;
/// Elements all sparse weights of one model may densify to (2^26 f32 = 256 MiB): ONNX's sparse
/// initializers, and `.zsk` CNN's packed 1x1 / FC streams (dense `c_out · c_in` each), however
/// few values the file stores. Densifying is the one place a small file becomes a large
/// allocation, so it gets a budget of its own (the fuzz targets' malloc limit sits just above).
pub const MAX_DENSIFIED: usize = 1 << 26;
/// Largest `.npy` array (calibration images, logits) in elements: 2^28 f32 = 1 GiB.
pub const MAX_NPY_ELEMENTS: usize = 1 << 28;
/// Largest dim of a `.zsk` CNN shape (2^24): a header field, far above any image side or
/// channel count; the activation cap below bounds their product.
pub const MAX_ZSK_DIM: usize = 1 << 24;
/// Most nodes of a TF.js graph (2^16): hand-landmark models have a few hundred.
pub const MAX_TFJS_NODES: usize = 1 << 16;

/// Largest activation of a CNN graph, in floats (2^26 = 256 MiB): far above any CNN this
/// engine targets, below what would exhaust a browser tab.
pub const MAX_ACTIVATION: usize = 1 << 26;
/// Most floats one CNN inference's arena may hold (2^27 = 512 MiB): refused at plan time
/// rather than failing an allocation, which would abort the page in wasm.
pub const MAX_ARENA: usize = 1 << 27;

/// Largest GGUF tensor, in bytes as stored (2^31 = 2 GiB, [`ARRAY_BUFFER`]): a larger one
/// cannot come from a file the browser can hand over.
pub const MAX_GGUF_TENSOR_BYTES: u64 = ARRAY_BUFFER;
/// Most elements of a GGUF tensor or a sparse LLM matrix (2^29): dequantized to f32 that is
/// 2 GiB, half of wasm32 memory, and every f32 byte offset into it fits a 32-bit usize.
/// Llama-3.2-1B's largest tensor (its 128256 × 2048 embedding) is 2^28.
pub const MAX_LLM_TENSOR_ELEMENTS: u64 = 1 << 29;
/// Longest GGUF metadata string (2^24 = 16 MiB): chat templates and licenses are kilobytes.
pub const MAX_GGUF_STRING_BYTES: usize = 1 << 24;
/// Longest GGUF metadata array (2^24 elements): the largest vocabularies (Gemma's 262k
/// tokens, their merges) are well under a million.
pub const MAX_GGUF_ARRAY_LEN: u64 = 1 << 24;
// The GGUF spec's own maximums: exceeding them is a malformed file (`BadModel`), not a
// memory claim.
/// Longest GGUF metadata key the spec allows.
pub const MAX_GGUF_KEY_BYTES: usize = 65_535;
/// Longest GGUF tensor name the spec allows.
pub const MAX_GGUF_NAME_BYTES: usize = 64;
/// ggml tensors have at most 4 dims.
pub const MAX_GGUF_DIMS: usize = 4;
/// Largest `general.alignment` accepted (a page is 4 KiB; anything far beyond is corrupt).
pub const MAX_GGUF_ALIGNMENT: u64 = 1 << 16;

/// Largest LLM width or head count read from a file (2^16; SmolLM2-135M: 576).
pub const MAX_LLM_DIM: usize = 1 << 16;
/// Most LLM layers read from a file (2^10; SmolLM2-135M: 30).
pub const MAX_LLM_LAYERS: usize = 1 << 10;
/// Longest trained context read from a file (2^24 tokens); the session's KV cache is then
/// bounded by [`MAX_KV_BYTES`], not by this.
pub const MAX_LLM_CONTEXT: usize = 1 << 24;
/// Largest KV cache (K and V together): 2 GiB, half of wasm32 memory, leaving the rest for
/// the weights (SmolLM2-135M's full 8192 positions take 377 MB).
pub const MAX_KV_BYTES: usize = 1 << 31;

/// The error for a claim of `bytes` (`None`: it overflowed u64) over `limit` bytes.
pub fn too_large(
    file: &str,
    tensor: &str,
    bytes: Option<u64>,
    limit: u64,
    detail: impl Into<String>,
) -> Error {
    Error::TooLarge {
        file: file.into(),
        tensor: tensor.into(),
        bytes: bytes.unwrap_or(u64::MAX),
        limit,
        detail: detail.into(),
    }
}

/// `count` elements of `size` bytes each, if that is at most `max_count` elements; else the
/// [`Error::TooLarge`] naming `file`, `tensor` and the sizes in bytes. Checked in u64 before
/// anything becomes a usize, so a 32-bit build cannot wrap.
pub fn check_count(
    file: &str,
    tensor: &str,
    count: Option<u64>,
    size: u64,
    max_count: u64,
    detail: impl FnOnce() -> String,
) -> crate::Result<usize> {
    match count {
        Some(n) if n <= max_count => usize::try_from(n)
            .map_err(|_| too_large(file, tensor, n.checked_mul(size), WASM32_MEMORY, detail())),
        _ => Err(too_large(
            file,
            tensor,
            count.and_then(|n| n.checked_mul(size)),
            max_count.saturating_mul(size),
            detail(),
        )),
    }
}
