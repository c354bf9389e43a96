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

/// A model compiled for this build's best ISA: import → graph → plan, once; `run` reuses one
/// arena and allocates nothing but the returned copy of the output.
#[wasm_bindgen]
pub struct Model {
    session: crate::graph::Session,
    load_ms: f64,
    /// TF.js models: the input's TF dims and where each TF output lies in `run`'s result.
    tfjs: Option<(
        crate::import::tfjs::Tensor,
        Vec<crate::import::tfjs::Output>,
    )>,
}

#[wasm_bindgen]
impl Model {
    /// Imports ONNX `bytes` (`name` labels errors). `dense = true` forces dense kernels for
    /// every 1x1 and FC layer (the baseline); otherwise the selector picks per layer.
    #[wasm_bindgen(js_name = fromOnnx)]
    pub fn from_onnx(name: &str, bytes: &[u8], dense: bool) -> Result<Model, JsError> {
        let t0 = js_sys::Date::now();
        let graph = crate::import::onnx::load(name, bytes)?;
        Self::planned(&graph, dense, t0)
    }

    /// `graph` planned (dense kernels forced when `dense`), timed from `t0`.
    fn planned(graph: &crate::graph::Graph, dense: bool, t0: f64) -> Result<Model, JsError> {
        let sparsity = if dense {
            crate::graph::Sparsity::Dense
        } else {
            crate::graph::Sparsity::Auto
        };
        let options = crate::graph::PlanOptions {
            sparsity,
            ..Default::default()
        };
        let plan = crate::graph::Plan::new(graph, options)?;
        Ok(Model {
            session: crate::graph::Session::new(plan),
            load_ms: js_sys::Date::now() - t0,
            tfjs: None,
        })
    }

    /// The weight shard paths a TF.js `model.json` names, in the order `fromTfjs` wants them.
    #[wasm_bindgen(js_name = tfjsShardPaths)]
    pub fn tfjs_shard_paths(model_json: &str) -> Result<Vec<String>, JsError> {
        Ok(crate::import::tfjs::shard_paths(
            "model.json",
            model_json.as_bytes(),
        )?)
    }

    /// Imports a TF.js graph model: its `model.json` text and its shards (`Uint8Array`s in
    /// `tfjsShardPaths` order). `run` then takes the TF input NHWC, like TF.js, and returns
    /// every output concatenated (see `outputs`). `dense` as in `fromOnnx`.
    #[wasm_bindgen(js_name = fromTfjs)]
    pub fn from_tfjs(
        name: &str,
        model_json: &str,
        shards: Vec<js_sys::Uint8Array>,
        dense: bool,
    ) -> Result<Model, JsError> {
        let t0 = js_sys::Date::now();
        let bytes: Vec<Vec<u8>> = shards.iter().map(|s| s.to_vec()).collect();
        let refs: Vec<&[u8]> = bytes.iter().map(|b| b.as_slice()).collect();
        let m = crate::import::tfjs::load(name, model_json.as_bytes(), &refs)?;
        let mut model = Self::planned(&m.graph, dense, t0)?;
        model.tfjs = Some((m.input, m.outputs));
        Ok(model)
    }

    /// TF.js models: `[{"name", "dims", "offset", "len"}, …]` (JSON), one entry per TF
    /// output, in the order `run` concatenates them; other models: one entry for the output.
    pub fn outputs(&self) -> String {
        let dims = |d: &[usize]| {
            d.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let entry = |name: &str, d: &[usize], offset: usize, len: usize| {
            format!(
                r#"{{"name":{},"dims":[{}],"offset":{offset},"len":{len}}}"#,
                json_str(name),
                dims(d)
            )
        };
        let rows: Vec<String> = match &self.tfjs {
            Some((_, outs)) => outs
                .iter()
                .map(|o| entry(&o.tensor.name, &o.tensor.dims, o.offset, o.len))
                .collect(),
            None => {
                let s = self.session.plan().output_shape();
                vec![entry("output", &[s.c, s.h, s.w], 0, s.len())]
            }
        };
        format!("[{}]", rows.join(","))
    }

    /// The input's dims as the model states them: TF.js `[1, H, W, C]`, else `[1, C, H, W]`.
    #[wasm_bindgen(js_name = inputDims)]
    pub fn input_dims(&self) -> Vec<u32> {
        match &self.tfjs {
            Some((t, _)) => t.dims.iter().map(|&d| d as u32).collect(),
            None => {
                let s = self.session.plan().input_shape();
                vec![1, s.c as u32, s.h as u32, s.w as u32]
            }
        }
    }

    /// Loads a `.zsk` (docs/zsk.md): the stored SpMM streams run as they are.
    #[wasm_bindgen(js_name = fromZsk)]
    pub fn from_zsk(name: &str, bytes: &[u8]) -> Result<Model, JsError> {
        let t0 = js_sys::Date::now();
        let m = crate::zsk::load(name, bytes)?;
        let plan = crate::graph::Plan::with_packed(&m.graph, Default::default(), &m.packed)?;
        let session = crate::graph::Session::new(plan);
        Ok(Model {
            session,
            load_ms: js_sys::Date::now() - t0,
            tfjs: None,
        })
    }

    /// `input (C, H, W)` float32 → output (e.g. logits).
    pub fn run(&mut self, input: &[f32]) -> Result<Vec<f32>, JsError> {
        Ok(self.session.run(input)?.to_vec())
    }

    /// `[C, H, W]` of the input.
    #[wasm_bindgen(js_name = inputShape)]
    pub fn input_shape(&self) -> Vec<u32> {
        let s = self.session.plan().input_shape();
        vec![s.c as u32, s.h as u32, s.w as u32]
    }

    /// Runs `input` once, timing every step with `performance.now()`: JSON
    /// `[{"kernel", "ms"}, …]` in execution order.
    pub fn profile(&mut self, input: &[f32]) -> Result<String, JsError> {
        let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .map_err(|_| JsError::new("no performance object"))?;
        let now: js_sys::Function = js_sys::Reflect::get(&perf, &"now".into())
            .map_err(|_| JsError::new("no performance.now"))?
            .into();
        let mut clock = || {
            now.call0(&perf)
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
        };
        let steps = self.session.profile(input, &mut clock)?;
        let rows: Vec<String> = steps
            .iter()
            .map(|(k, ms)| format!(r#"{{"kernel":{},"ms":{ms:.4}}}"#, json_str(k)))
            .collect();
        Ok(format!("[{}]", rows.join(",")))
    }

    /// Milliseconds spent importing and planning.
    #[wasm_bindgen(js_name = loadMs)]
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// Per layer: node, op, shapes, chosen kernel, sparsity and FLOPs, as JSON.
    pub fn report(&self) -> String {
        let rows: Vec<String> = self
            .session
            .plan()
            .report()
            .iter()
            .map(|r| {
                format!(
                    r#"{{"node":{},"op":"{}","input":[{},{},{}],"output":[{},{},{}],"kernel":{},"sparsity":{},"flops":{}}}"#,
                    json_str(&r.node),
                    r.op,
                    r.input.c,
                    r.input.h,
                    r.input.w,
                    r.output.c,
                    r.output.h,
                    r.output.w,
                    json_str(&r.kernel),
                    r.sparsity.map_or("null".into(), |s| format!("{s:.4}")),
                    r.flops
                )
            })
            .collect();
        format!("[{}]", rows.join(","))
    }
}

/// `s` as a JSON string literal (node names come from model files: escape everything needed).
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
