//! wasm-bindgen façade: camelCase names, `Error` → `JsError`. No logic of its own.

use crate::bench::LayerBench;
use crate::kernels::{registry, Isa};
use wasm_bindgen::prelude::*;

/// `{version, isa, kernels: [{name, op, mr, nr, isa}]}` as JSON.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> String {
    let kernels: Vec<String> = registry()
        .iter()
        .map(|k| {
            format!(
                r#"{{"name":"{}","op":"{:?}","mr":{},"nr":{},"isa":"{}"}}"#,
                k.name,
                k.op,
                k.mr,
                k.nr,
                k.isa.as_str()
            )
        })
        .collect();
    format!(
        r#"{{"version":"{}","isa":"{}","kernels":[{}]}}"#,
        env!("CARGO_PKG_VERSION"),
        Isa::best().as_str(),
        kernels.join(",")
    )
}

/// SIMD peak probe: `iters` rounds of `chains` independent f32x4 multiply-add chains with the
/// given ISA (`simd128` or `relaxed`). Flops done: `iters · chains · 8`. Returns a checksum.
#[wasm_bindgen(js_name = peakProbe)]
pub fn peak_probe(isa: &str, chains: u32, iters: u32) -> Result<f32, JsError> {
    crate::kernels::peak_probe(isa, chains, iters).map_err(JsError::from)
}

/// A synthetic 1x1 layer `W (cOut, cIn) @ X (cIn, hw)` for timing kernels from JS.
#[wasm_bindgen]
pub struct KernelBench(LayerBench);

#[wasm_bindgen]
impl KernelBench {
    /// `pattern`: `unstructured` or `Gx1`; `sparsity` in 0..1; `activation`: `none`, `relu` or
    /// `relu6` (the default).
    #[wasm_bindgen(constructor)]
    pub fn new(
        c_out: usize,
        c_in: usize,
        hw: usize,
        sparsity: f64,
        pattern: &str,
        seed: u32,
        activation: Option<String>,
    ) -> Result<KernelBench, JsError> {
        let act = activation.as_deref().unwrap_or("relu6");
        let layer = LayerBench::new(c_out, c_in, hw, sparsity, pattern, seed.into(), act)?;
        Ok(KernelBench(layer))
    }
    pub fn nonzeros(&self) -> usize {
        self.0.nonzeros()
    }
    /// Packs for `kernel`; returns how many weights it multiplies.
    pub fn prepare(&mut self, kernel: &str) -> Result<usize, JsError> {
        Ok(self.0.prepare(kernel)?)
    }
    pub fn run(&mut self, kernel: &str, iters: u32) -> Result<(), JsError> {
        Ok(self.0.run(kernel, iters)?)
    }
    #[wasm_bindgen(js_name = maxError)]
    pub fn max_error(&mut self, kernel: &str) -> Result<f32, JsError> {
        Ok(self.0.max_error(kernel)?)
    }
}
