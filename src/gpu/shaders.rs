//! The WGSL compute shaders of the WebGPU path, compiled into the crate, and the pipelines
//! made from them. Each file in `shaders/` is valid WGSL on its own, one op family per file
//! with one entry point `main`, and is specialised with `override` constants when its
//! pipeline is created (no string preprocessing), so what naga validates in the tests is
//! exactly what the device compiles.
//!
//! A pipeline (a shader with its constants) is named in the CPU kernel table's grammar,
//! `<op>_<wtype>_<tile>[_<KH>x<KW>s<S>]__wgsl`, e.g. `spmm_f32_64x4__wgsl` or
//! `dwconv_f32_64x1_3x3s2__wgsl`:
//! - `op` is the CPU table's token (`spmm`, `gemm` for W·X, `dwconv`, `conv`, `gavgpool`,
//!   `avgpool`, `maxpool`, `add`, `sub`, `mul`, `chmul`, `affine`, `prelu`, `softmax`,
//!   `copy`, and the activations `clamp`, `hardsigmoid`, `hardswish`, `sigmoid`, `tanh`,
//!   `leakyrelu`);
//! - `wtype` is `f32` (every shader);
//! - `tile` is the outputs one workgroup covers per pass over its invocations,
//!   `<along pixels or elements>x<along channels>` (e.g. `spmm`: LANES × 4 pixels of ROWS
//!   channels; `gavgpool`: 64 pixels of one channel, looped until the plane is summed);
//! - the window appears only where it is specialised by overrides (`dwconv`); a stride that
//!   differs between H and W is written `s<SH>x<SW>`.
//!
//! The constructors below build each name from the same values they pass as constants, so a
//! name stands for exactly one specialisation: `GpuContext` caches pipelines by name, and the
//! GPU reports name their dispatches with it.

use crate::kernels::cnn::ActKind;

/// One shader file: its stem and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

macro_rules! shaders {
    ($($id:ident = $file:literal;)*) => {
        $(pub const $id: Shader = Shader {
            name: $file,
            source: include_str!(concat!("../../shaders/", $file, ".wgsl")),
        };)*
        /// Every shader, for validation in the tests.
        pub const ALL: &[Shader] = &[$($id),*];
    };
}

shaders! {
    SPMM = "spmm";
    GEMM = "gemm";
    DWCONV = "dwconv";
    CONV = "conv";
    POOL = "pool";
    GLOBAL_AVG_POOL = "global_avg_pool";
    BINARY = "binary";
    UNARY = "unary";
    CHANNEL = "channel";
    SOFTMAX = "softmax";
    COPY = "copy";
}

/// A shader specialised by override constants, under its kernel name.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// `<op>_f32_<tile>[_<window>]__wgsl`: the cache key and the reported kernel.
    pub name: String,
    pub shader: Shader,
    /// (override name, value)
    pub constants: Vec<(&'static str, f64)>,
}

impl Pipeline {
    /// A pipeline named in the grammar above by its caller (the LLM shaders: `src/gpu/llm`),
    /// `<op>_<wtype>_<tile>[_<variant>]__wgsl`, from the same values it passes as `constants`.
    pub fn named(name: String, shader: Shader, constants: Vec<(&'static str, f64)>) -> Pipeline {
        Pipeline {
            name,
            shader,
            constants,
        }
    }

    fn new(
        op: &str,
        tile: (u32, u32),
        window: Option<String>,
        shader: Shader,
        constants: Vec<(&'static str, f64)>,
    ) -> Pipeline {
        let window = window.map(|w| format!("_{w}")).unwrap_or_default();
        Pipeline {
            name: format!("{op}_f32_{}x{}{window}__wgsl", tile.0, tile.1),
            shader,
            constants,
        }
    }
}

/// Outputs per workgroup of the one-invocation-per-element shaders (256 invocations).
const ELEMENTWISE: (u32, u32) = (256, 1);
/// Output pixels × channels per workgroup of the spatial shaders (64 invocations, one channel).
const SPATIAL: (u32, u32) = (64, 1);

/// CSR SpMM `W (m, k) @ X (k, n)`: LANES invocations × 4 pixels along the pixels of ROWS
/// output channels.
pub fn spmm(lanes: u32, rows: u32) -> Pipeline {
    let consts = vec![("LANES", lanes as f64), ("ROWS", rows as f64)];
    Pipeline::new("spmm", (4 * lanes, rows), None, SPMM, consts)
}

/// Dense tiled GEMM `W (m, k) @ X (k, n)`: 64 pixels × 64 output channels per workgroup.
pub fn gemm() -> Pipeline {
    Pipeline::new("gemm", (64, 64), None, GEMM, vec![])
}

/// Depthwise conv, its window (kh × kw, strides sh, sw) specialised so loops unroll.
pub fn dwconv(kh: usize, kw: usize, sh: usize, sw: usize) -> Pipeline {
    let stride = if sh == sw {
        format!("{sh}")
    } else {
        format!("{sh}x{sw}")
    };
    let consts = [("KH", kh), ("KW", kw), ("SH", sh), ("SW", sw)]
        .map(|(k, v)| (k, v as f64))
        .to_vec();
    let window = Some(format!("{kh}x{kw}s{stride}"));
    Pipeline::new("dwconv", SPATIAL, window, DWCONV, consts)
}

/// Full (ungrouped) conv, any window.
pub fn conv() -> Pipeline {
    Pipeline::new("conv", SPATIAL, None, CONV, vec![])
}

/// A shader with one boolean override `flag`: op token `ops[1]` when set, `ops[0]` if not.
fn switched(
    shader: Shader,
    flag: &'static str,
    on: bool,
    ops: [&str; 2],
    tile: (u32, u32),
) -> Pipeline {
    let consts = vec![(flag, if on { 1.0 } else { 0.0 })];
    Pipeline::new(ops[on as usize], tile, None, shader, consts)
}

/// Max or average pooling, any window.
pub fn pool(max: bool) -> Pipeline {
    switched(POOL, "MAX", max, ["avgpool", "maxpool"], SPATIAL)
}

/// Global average pool: one workgroup of 64 per channel, striding over its pixels.
pub fn gavgpool() -> Pipeline {
    Pipeline::new("gavgpool", SPATIAL, None, GLOBAL_AVG_POOL, vec![])
}

/// The ops of `binary.wgsl`, in the order of its `OP` constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `clamp(a + b)` (a fused ReLU / ReLU6)
    Add,
    Sub,
    /// Same shapes.
    Mul,
    /// `a (C, H·W) · b (C)`
    ChMul,
}

impl Binary {
    pub const ALL: [Binary; 4] = [Binary::Add, Binary::Sub, Binary::Mul, Binary::ChMul];
}

pub fn binary(op: Binary) -> Pipeline {
    let name = ["add", "sub", "mul", "chmul"][op as usize];
    let consts = vec![("OP", op as u32 as f64)];
    Pipeline::new(name, ELEMENTWISE, None, BINARY, consts)
}

/// An activation of `unary.wgsl`; its `ACT` constant counts in `ActKind`'s order (ReLU is
/// `Clamp` with bounds (0, ∞), as on the CPU).
pub fn unary(act: ActKind) -> Pipeline {
    let (name, code) = match act {
        ActKind::Clamp => ("clamp", 0),
        ActKind::HardSigmoid => ("hardsigmoid", 1),
        ActKind::HardSwish => ("hardswish", 2),
        ActKind::Sigmoid => ("sigmoid", 3),
        ActKind::Tanh => ("tanh", 4),
        ActKind::LeakyRelu => ("leakyrelu", 5),
    };
    Pipeline::new(name, ELEMENTWISE, None, UNARY, vec![("ACT", code as f64)])
}

/// Per-channel `x · scale + shift`, or PRelu `x ≥ 0 ? x : slope[c]·x`.
pub fn channel(prelu: bool) -> Pipeline {
    switched(CHANNEL, "PRELU", prelu, ["affine", "prelu"], ELEMENTWISE)
}

/// Softmax over a vector: one workgroup of 256.
pub fn softmax() -> Pipeline {
    Pipeline::new("softmax", ELEMENTWISE, None, SOFTMAX, vec![])
}

/// A copy into an offset of the output (a Concat part).
pub fn copy() -> Pipeline {
    Pipeline::new("copy", ELEMENTWISE, None, COPY, vec![])
}
