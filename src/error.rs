//! The one error type of zeroskip. Every fallible path returns `Result<T>`; nothing panics on
//! bad input, because in wasm a panic kills the page.

use thiserror::Error;

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    // ---- sparse weight formats -------------------------------------------------------------
    /// A dense weight or bias handed to the packer does not match the dims it was given.
    #[error("{tensor}: expected {expected} values for {what}, got {got}")]
    ShapeMismatch {
        tensor: String,
        what: String,
        expected: usize,
        got: usize,
    },

    /// A packed sparse stream is internally inconsistent (counts, value lengths, deltas).
    #[error("{tensor}: malformed packed sparse stream: {detail}")]
    MalformedSparse { tensor: String, detail: String },

    /// A delta in a packed stream would move the input pointer outside the input tensor.
    #[error("{tensor}: nonzero #{index} reads input channel {channel}, outside 0..{c_in}")]
    DeltaOutOfRange {
        tensor: String,
        index: usize,
        channel: i64,
        c_in: usize,
    },

    /// A size or dimension that is zero, absurd or would overflow address arithmetic.
    #[error("{tensor}: {what} = {value} is out of range ({limit})")]
    DimOutOfRange {
        tensor: String,
        what: String,
        value: u64,
        limit: String,
    },

    /// A block size or tile that the packer or a kernel does not support.
    #[error("{what}: unsupported value {value}, expected one of {expected}")]
    Unsupported {
        what: String,
        value: String,
        expected: String,
    },

    // ---- model import and graph ------------------------------------------------------------
    /// The file is not a decodable model of the expected kind (truncated, corrupt, wrong format).
    #[error("{file}: not a valid {format} model: {detail}")]
    BadModel {
        file: String,
        format: String,
        detail: String,
    },

    /// A node uses an op (or an op variant) that zeroskip does not implement.
    #[error("{file}: node {node}: op {op} is not supported{detail}")]
    UnsupportedOp {
        file: String,
        node: String,
        op: String,
        detail: String,
    },

    /// A node's attributes or inputs are inconsistent (bad shapes, missing inputs, bad values).
    #[error("{file}: node {node} ({op}): {detail}")]
    BadNode {
        file: String,
        node: String,
        op: String,
        detail: String,
    },

    /// A file claims something larger than zeroskip can hold (a cap of `crate::limits`, all
    /// tied to wasm32's 4 GiB memory and the browser's 2 GiB ArrayBuffer): refused before
    /// anything is allocated for it. Its own code, so a page can say "too large for a browser"
    /// instead of "corrupt"; `bytes` and `limit` let it say by how much.
    #[error("{file}: {tensor}: {detail}: {bytes} bytes claimed, the limit is {limit}")]
    TooLarge {
        file: String,
        tensor: String,
        bytes: u64,
        limit: u64,
        detail: String,
    },

    /// A weight tensor's data does not match its declared type and dims.
    #[error("{file}: tensor {tensor}: {detail}")]
    BadTensor {
        file: String,
        tensor: String,
        detail: String,
    },

    // ---- kernels ---------------------------------------------------------------------------
    /// A buffer handed to a kernel is shorter than the layer's shape requires.
    #[error("kernel {kernel}: buffer {buffer} holds {got} floats, needs {expected}")]
    BufferTooSmall {
        kernel: String,
        buffer: String,
        expected: usize,
        got: usize,
    },

    /// A kernel name that the registry does not list, or not for this build's ISA.
    #[error("kernel {name} is not in this build's registry")]
    UnknownKernel { name: String },

    // ---- pruning, calibration and export ---------------------------------------------------
    /// A pruning or export option with a value outside what it accepts.
    #[error("{what}: {detail}")]
    BadArgument { what: String, detail: String },

    /// Calibration data that cannot drive the model (none, or not the model's input size).
    #[error("calibration: {detail}")]
    BadCalibration { detail: String },

    /// A layer's numerics broke down (e.g. its Hessian is not positive definite even after
    /// extra dampening); the message names the layer.
    #[error("layer {layer}: {detail}")]
    Numerical { layer: String, detail: String },

    /// A file could not be read, parsed (e.g. a `.npy` array) or written.
    #[error("{file}: {detail}")]
    Io { file: String, detail: String },

    // ---- WebGPU ----------------------------------------------------------------------------
    /// The WebGPU path cannot run (or stopped running); `kind` says why, so a caller can fall
    /// back to the WASM kernels and tell the user. Unsupported ops are `UnsupportedOp`.
    #[error("WebGPU: {kind}: {detail}")]
    Gpu { kind: GpuFailure, detail: String },

    /// Backend `webgpu` was asked for explicitly and cannot run the model here (no adapter, an
    /// op the GPU path lacks…): `detail` is the fallback's reason. `auto` falls back instead.
    #[error("webgpu backend unavailable: {detail}")]
    NoWebGpu { detail: String },

    // ---- the JS façade -----------------------------------------------------------------------
    /// A call the object cannot serve in its present state (a run already in flight, a
    /// synchronous call on a WebGPU model).
    #[error("{detail}")]
    State { detail: String },

    /// The JS runtime lacks something the call needs (e.g. `performance.now`).
    #[error("this runtime has no {what}")]
    Unavailable { what: String },
}

/// The value named `value` among `choices` (an option's spellings, as a CLI flag or the JS API
/// gives them), or a `BadArgument` for `what` that lists them.
pub fn one_of<T: Copy>(what: &str, value: &str, choices: &[(&str, T)]) -> Result<T> {
    if let Some(&(_, v)) = choices.iter().find(|(name, _)| *name == value) {
        return Ok(v);
    }
    let names: Vec<&str> = choices.iter().map(|&(name, _)| name).collect();
    let expected = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "nothing".into(),
    };
    Err(Error::BadArgument {
        what: what.into(),
        detail: format!("unknown value {value:?}, expected {expected}"),
    })
}

/// `impl FromStr` for an option enum from its accepted spellings, through [`one_of`]:
/// `parse_names!(Method, "method", ["magnitude" => Method::Magnitude, …]);`
#[macro_export]
macro_rules! parse_names {
    ($ty:ty, $what:literal, [$($name:literal => $value:expr),+ $(,)?]) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<$ty> {
                $crate::error::one_of($what, s, &[$(($name, $value)),+])
            }
        }
    };
}

impl Error {
    /// The stable code the JS API carries on a rejected call (`ERROR_CODES` in js/errors.js):
    /// programs switch on it instead of parsing the message.
    /// - `BadModel`: what a model file holds is corrupt, truncated, malformed or unsupported.
    /// - `TooLarge`: the file claims a tensor, array or cache larger than a cap of
    ///   `crate::limits` (the file may be fine, but not here).
    /// - `BadInput`: an argument out of range (buffer length, kernel name, sampling option…).
    /// - `NoWebGPU`: WebGPU was required and has no adapter or device, or lost it.
    /// - `Unsupported`: the runtime lacks a feature the call needs.
    /// - `Runtime`: anything else that fails while running.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ShapeMismatch { .. }
            | Error::MalformedSparse { .. }
            | Error::DeltaOutOfRange { .. }
            | Error::DimOutOfRange { .. }
            | Error::Unsupported { .. }
            | Error::BadModel { .. }
            | Error::UnsupportedOp { .. }
            | Error::BadNode { .. }
            | Error::BadTensor { .. }
            | Error::Io { .. } => "BadModel",
            Error::TooLarge { .. } => "TooLarge",
            Error::BufferTooSmall { .. }
            | Error::UnknownKernel { .. }
            | Error::BadArgument { .. }
            | Error::BadCalibration { .. } => "BadInput",
            Error::NoWebGpu { .. }
            | Error::Gpu {
                kind: GpuFailure::NoAdapter | GpuFailure::Device | GpuFailure::DeviceLost,
                ..
            } => "NoWebGPU",
            Error::Unavailable { .. } => "Unsupported",
            Error::Gpu { .. } | Error::Numerical { .. } | Error::State { .. } => "Runtime",
        }
    }
}

/// What went wrong on the WebGPU path (`Error::Gpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuFailure {
    /// No WebGPU adapter: the browser lacks WebGPU, or natively no Vulkan driver.
    NoAdapter,
    /// The adapter refused a device, or falls short of the limits the shaders need.
    Device,
    /// The device was lost (driver reset, `destroy()`, tab in the background too long).
    DeviceLost,
    /// A shader or compute pipeline did not compile or validate.
    Shader,
    /// Any other validation error the device reported while running.
    Validation,
    /// The device ran out of memory.
    OutOfMemory,
    /// A buffer or dispatch is larger than the device's limits allow.
    Limit,
    /// Reading the output back from the GPU failed.
    Readback,
}

impl std::fmt::Display for GpuFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GpuFailure::NoAdapter => "no adapter",
            GpuFailure::Device => "no device",
            GpuFailure::DeviceLost => "device lost",
            GpuFailure::Shader => "shader/pipeline failed",
            GpuFailure::Validation => "validation error",
            GpuFailure::OutOfMemory => "out of memory",
            GpuFailure::Limit => "over the device limits",
            GpuFailure::Readback => "readback failed",
        })
    }
}
