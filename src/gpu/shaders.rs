//! The WGSL compute shaders of the WebGPU path, compiled into the crate. Each file in
//! `shaders/` is valid WGSL on its own and is specialised with `override` constants when its
//! pipeline is created (no string preprocessing), so what naga validates in the tests is
//! exactly what the device compiles.

/// One shader: its file stem (also the pipeline-cache key) and its source.
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
