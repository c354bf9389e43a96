//! wasm-bindgen façade: camelCase names; errors thrown as JS `Error`s with a `code` (`js_error`).
//! No logic of its own.

use crate::bench::LayerBench;
use crate::kernels::{table, Isa};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// What `buildInfo()` returns (as JSON): the crate version, the best ISA of this build, and
/// every row of the kernel table.
#[derive(serde::Serialize)]
struct BuildInfo {
    version: &'static str,
    isa: Isa,
    /// Built with `+atomics` on shared memory: the pool can take workers.
    threads: bool,
    kernels: Vec<KernelRow>,
}

/// One table row: the name and its parsed parts (`tile` as the name spells it, `window` as
/// `[k, s]` or null).
#[derive(serde::Serialize)]
struct KernelRow {
    name: &'static str,
    op: &'static str,
    wtype: &'static str,
    tile: String,
    window: Option<(usize, usize)>,
    isa: Isa,
}

/// `{version, isa, kernels: [{name, op, wtype, tile, window, isa}]}` as JSON.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> String {
    let info = BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        isa: Isa::best(),
        threads: crate::par::ENABLED,
        kernels: table()
            .iter()
            .map(|k| KernelRow {
                name: k.name,
                op: k.op.as_str(),
                wtype: k.wtype.as_str(),
                tile: k.tile.to_string(),
                window: k.window,
                isa: k.isa,
            })
            .collect(),
    };
    json(&info)
}

/// A pool worker's life (`js/thread.js` calls it in each Web Worker it starts, after
/// instantiating this module on the shared memory): takes tasks until the worker is
/// terminated. Never returns. In a build without atomics it returns at once: no pool.
#[wasm_bindgen(js_name = poolWorker)]
pub fn pool_worker() {
    if crate::par::ENABLED {
        crate::par::worker_main()
    }
}

/// Sets the threads every later call uses (the caller + registered pool workers, at most
/// `n`) and returns that count. 1 in a build without atomics.
#[wasm_bindgen(js_name = setThreads)]
pub fn set_threads(n: u32) -> u32 {
    crate::par::set_threads(n as usize) as u32
}

/// The threads calls use now ([`set_threads`]'s count, capped by the registered workers).
#[wasm_bindgen(js_name = threads)]
pub fn threads() -> u32 {
    crate::par::threads() as u32
}

/// Multiply-adds per task under which a kernel call stays on one thread (default
/// `graph::split::MIN_TASK_MACS`); the benchmark's threshold sweep sets it. Never changes results.
#[wasm_bindgen(js_name = setMinTaskMacs)]
pub fn set_min_task_macs(macs: u32) {
    crate::graph::split::set_min_task_macs(macs as usize)
}

/// SIMD peak probe: `iters` rounds of `chains` independent f32x4 multiply-add chains with the
/// given ISA (`simd128` or `relaxed`). Flops done: `iters · chains · 8`. Returns a checksum.
#[wasm_bindgen(js_name = peakProbe)]
pub fn peak_probe(isa: &str, chains: u32, iters: u32) -> Result<f32, JsValue> {
    Ok(crate::kernels::peak_probe(isa, chains, iters)?)
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
    ) -> Result<KernelBench, JsValue> {
        let act = activation.as_deref().unwrap_or("relu6");
        let layer = LayerBench::new(c_out, c_in, hw, sparsity, pattern, seed.into(), act)?;
        Ok(KernelBench(layer))
    }
    pub fn nonzeros(&self) -> usize {
        self.0.nonzeros()
    }
    /// Packs for `kernel`; returns how many weights it multiplies.
    pub fn prepare(&mut self, kernel: &str) -> Result<usize, JsValue> {
        Ok(self.0.prepare(kernel)?)
    }
    pub fn run(&mut self, kernel: &str, iters: u32) -> Result<(), JsValue> {
        Ok(self.0.run(kernel, iters)?)
    }
    #[wasm_bindgen(js_name = maxError)]
    pub fn max_error(&mut self, kernel: &str) -> Result<f32, JsValue> {
        Ok(self.0.max_error(kernel)?)
    }
}

// ---- errors and reports as JS sees them -------------------------------------------------------

/// A Rust error as this API throws it: a real JS `Error` (so it keeps its stack) whose `message`
/// is the error's text and whose own property `code` is one of the npm package's `ERROR_CODES`
/// (js/errors.js), so that JS switches on the code instead of matching the text. `code` is
/// [`crate::Error::code`] except where a call knows better what its failure means to the user.
fn js_error(e: &crate::Error, code: &str) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    // Defining a property on a fresh Error cannot fail (it is neither frozen nor a proxy).
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

/// Lets `?` turn a crate error into the thrown JS value in every `Result<_, JsValue>` below.
impl From<crate::Error> for JsValue {
    fn from(e: crate::Error) -> JsValue {
        js_error(&e, e.code())
    }
}

/// A report as the JSON string the JS side parses.
fn json(report: &impl serde::Serialize) -> String {
    // Only maps with non-string keys fail to serialise, and no report has one.
    serde_json::to_string(report).unwrap_or_default()
}

/// Fractions and times reported to 4 decimals, as they always have been.
fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// One entry of `Model.outputs()`.
#[derive(serde::Serialize)]
struct OutputEntry<'a> {
    name: &'a str,
    dims: &'a [usize],
    offset: usize,
    len: usize,
}

/// One step of `Model.profile()`.
#[derive(serde::Serialize)]
struct ProfileStep<'a> {
    kernel: &'a str,
    ms: f64,
}

/// One layer of `Model.report()`. The WebGPU lowering carries no shapes or FLOPs, so a WebGPU
/// model's rows leave them out.
#[derive(serde::Serialize)]
struct LayerEntry<'a> {
    node: &'a str,
    op: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<[usize; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<[usize; 3]>,
    kernel: &'a str,
    sparsity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flops: Option<u64>,
}

impl<'a> LayerEntry<'a> {
    fn cpu(r: &'a crate::graph::LayerReport) -> Self {
        let chw = |s: crate::graph::Shape| Some([s.c, s.h, s.w]);
        LayerEntry {
            input: chw(r.input),
            output: chw(r.output),
            flops: Some(r.flops),
            ..LayerEntry::gpu_row(&r.node, r.op, &r.kernel, r.sparsity)
        }
    }

    fn gpu(l: &'a crate::gpu::GpuLayer) -> Self {
        LayerEntry::gpu_row(&l.node, l.op, &l.kernel, l.sparsity)
    }

    fn gpu_row(node: &'a str, op: &'a str, kernel: &'a str, sparsity: Option<f64>) -> Self {
        LayerEntry {
            node,
            op,
            input: None,
            output: None,
            kernel,
            sparsity: sparsity.map(round4),
            flops: None,
        }
    }
}

/// `(performance, performance.now)`, where the runtime has them.
fn performance() -> Option<(JsValue, js_sys::Function)> {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok()?;
    let now = js_sys::Reflect::get(&perf, &"now".into()).ok()?;
    Some((perf, now.dyn_into().ok()?))
}

/// `performance.now()` (`Date.now()` where there is no `performance`).
fn now_ms() -> f64 {
    performance()
        .and_then(|(p, now)| now.call0(&p).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or_else(js_sys::Date::now)
}

/// The CPU plan's options: dense kernels forced for every 1x1 and FC layer when `dense`.
fn plan_options(dense: bool) -> crate::graph::PlanOptions {
    crate::graph::PlanOptions {
        sparsity: if dense {
            crate::graph::Sparsity::Dense
        } else {
            crate::graph::Sparsity::Auto
        },
        ..Default::default()
    }
}

/// A model compiled for this build's best ISA (or for WebGPU, through `Model.open`):
/// import → graph → plan, once; `run` reuses one arena and allocates nothing but the
/// returned copy of the output.
#[wasm_bindgen]
pub struct Model {
    runner: Runner,
    input: crate::graph::Shape,
    output: crate::graph::Shape,
    load_ms: f64,
    /// Why WebGPU was asked for (`auto`) and not used when the model opened.
    fallback: Option<String>,
    /// TF.js models: the input's TF dims and where each TF output lies in `run`'s result.
    tfjs: Option<(
        crate::import::tfjs::Tensor,
        Vec<crate::import::tfjs::Output>,
    )>,
}

/// What runs a model's inferences.
enum Runner {
    Wasm(crate::graph::Session),
    /// Shared with the `runAsync` futures in flight.
    Gpu(Rc<GpuModel>),
}

/// A model on WebGPU, with what it needs to move to WASM if the device is lost mid-run.
struct GpuModel {
    engine: RefCell<crate::gpu::Engine>,
    graph: crate::graph::Graph,
    plan: crate::graph::PlanOptions,
    /// `auto` falls back to WASM on a GPU failure; an explicit `webgpu` reports it.
    auto: bool,
    fallback: RefCell<Option<String>>,
}

thread_local! {
    /// The page's WebGPU device, shared by all its models (a device request is slow).
    static GPU: RefCell<Option<crate::gpu::GpuContext>> = const { RefCell::new(None) };
}

/// The shared device, requested on first use and again after it is lost.
async fn gpu_context() -> crate::Result<crate::gpu::GpuContext> {
    if let Some(c) = GPU.with(|g| g.borrow().clone()) {
        if c.check().is_ok() {
            return Ok(c);
        }
    }
    let c = crate::gpu::GpuContext::new().await?;
    GPU.with(|g| *g.borrow_mut() = Some(c.clone()));
    Ok(c)
}

#[wasm_bindgen]
impl Model {
    /// Imports ONNX `bytes` (`name` labels errors). `dense = true` forces dense kernels for
    /// every 1x1 and FC layer (the baseline); otherwise the selector picks per layer.
    #[wasm_bindgen(js_name = fromOnnx)]
    pub fn from_onnx(name: &str, bytes: &[u8], dense: bool) -> Result<Model, JsValue> {
        let t0 = js_sys::Date::now();
        let graph = crate::import::onnx::load(name, bytes)?;
        Self::planned(&graph, dense, t0)
    }

    /// `graph` planned (dense kernels forced when `dense`), timed from `t0`.
    fn planned(graph: &crate::graph::Graph, dense: bool, t0: f64) -> Result<Model, JsValue> {
        let plan = crate::graph::Plan::new(graph, plan_options(dense))?;
        Ok(Model::wasm(crate::graph::Session::new(plan), t0))
    }

    fn wasm(session: crate::graph::Session, t0: f64) -> Model {
        let (input, output) = (session.plan().input_shape(), session.plan().output_shape());
        Model {
            runner: Runner::Wasm(session),
            input,
            output,
            load_ms: js_sys::Date::now() - t0,
            fallback: None,
            tfjs: None,
        }
    }

    /// Imports ONNX `bytes` onto a backend: `auto` (WebGPU when an adapter exists and can
    /// run the model, else WASM, and `fallback()` says why), `webgpu` (rejects when it
    /// cannot) or `wasm`. `dense` as in `fromOnnx`. Resolves to a `Model`; see `backend()`.
    pub async fn open(
        name: String,
        bytes: Vec<u8>,
        backend: String,
        dense: bool,
    ) -> Result<Model, JsValue> {
        use crate::gpu::{Backend, Engine, GpuOptions, Pointwise};
        let t0 = js_sys::Date::now();
        let backend = Backend::parse(&backend)?;
        let graph = crate::import::onnx::load(&name, &bytes)?;
        drop(bytes);
        let plan = plan_options(dense);
        let gpu = GpuOptions {
            pointwise: if dense {
                Pointwise::Dense
            } else {
                Pointwise::Auto
            },
        };
        let opened = crate::gpu::choose(&graph, backend, plan, gpu, gpu_context()).await?;
        Ok(match opened.engine {
            Engine::Wasm(session) => Model {
                fallback: opened.fallback.map(|f| f.detail),
                ..Model::wasm(session, t0)
            },
            engine @ Engine::WebGpu(_) => Model {
                runner: Runner::Gpu(Rc::new(GpuModel {
                    engine: RefCell::new(engine),
                    plan,
                    auto: backend == Backend::Auto,
                    fallback: RefCell::new(None),
                    graph,
                })),
                input: crate::graph::Shape::new(0, 0, 0),
                output: crate::graph::Shape::new(0, 0, 0),
                load_ms: js_sys::Date::now() - t0,
                fallback: None,
                tfjs: None,
            }
            .with_gpu_shapes(),
        })
    }

    /// `webgpu` or `wasm`: the engine that runs this model now.
    pub fn backend(&self) -> String {
        match &self.runner {
            Runner::Wasm(_) => "wasm".into(),
            Runner::Gpu(g) => g
                .engine
                .try_borrow()
                .map_or("webgpu", |e| e.backend().as_str())
                .into(),
        }
    }

    /// Why WebGPU was wanted and is not what runs (no adapter, device lost, an op it lacks…),
    /// or `undefined`.
    pub fn fallback(&self) -> Option<String> {
        match &self.runner {
            Runner::Gpu(g) => g.fallback.borrow().clone(),
            Runner::Wasm(_) => self.fallback.clone(),
        }
    }

    /// `input (C, H, W)` → a Promise of the output, on whichever backend runs the model. An
    /// `auto` model whose GPU fails mid-run (device lost) moves to WASM, answers from there,
    /// and says so in `fallback()`.
    #[wasm_bindgen(js_name = runAsync)]
    pub fn run_async(&mut self, input: Vec<f32>) -> js_sys::Promise {
        let g = match &mut self.runner {
            Runner::Wasm(s) => {
                return match s.run(&input) {
                    Ok(y) => {
                        let y = JsValue::from(js_sys::Float32Array::from(y));
                        js_sys::Promise::resolve(&y)
                    }
                    Err(e) => js_sys::Promise::reject(&e.into()),
                }
            }
            Runner::Gpu(g) => g.clone(),
        };
        // The engine stays borrowed across the GPU readback on purpose: a second runAsync, or
        // report()/backend() meanwhile, sees the borrow (every access is try_borrow) and gets
        // a "busy" error or a default, instead of touching a session mid-run.
        #[allow(clippy::await_holding_refcell_ref)]
        let run = async move {
            let busy = || crate::Error::State {
                detail: "the model is already running: await the previous runAsync first".into(),
            };
            let first = {
                let mut engine = g.engine.try_borrow_mut().map_err(|_| busy())?;
                engine.run(&input).await
            };
            let y = match first {
                Ok(y) => y,
                Err(e) => {
                    let (wasm, why) = crate::gpu::recover(e, g.auto, &g.graph, g.plan)?;
                    let mut engine = g.engine.try_borrow_mut().map_err(|_| busy())?;
                    *engine = wasm;
                    *g.fallback.borrow_mut() = Some(why.detail);
                    engine.run(&input).await?
                }
            };
            Ok(js_sys::Float32Array::from(&y[..]).into())
        };
        wasm_bindgen_futures::future_to_promise(run)
    }

    /// The weight shard paths a TF.js `model.json` names, in the order `fromTfjs` wants them.
    #[wasm_bindgen(js_name = tfjsShardPaths)]
    pub fn tfjs_shard_paths(model_json: &str) -> Result<Vec<String>, JsValue> {
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
    ) -> Result<Model, JsValue> {
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
        let s = self.output;
        let dims = [s.c, s.h, s.w];
        let entries: Vec<OutputEntry> = match &self.tfjs {
            Some((_, outs)) => outs
                .iter()
                .map(|o| OutputEntry {
                    name: &o.tensor.name,
                    dims: &o.tensor.dims,
                    offset: o.offset,
                    len: o.len,
                })
                .collect(),
            None => vec![OutputEntry {
                name: "output",
                dims: &dims,
                offset: 0,
                len: s.len(),
            }],
        };
        json(&entries)
    }

    /// The input's dims as the model states them: TF.js `[1, H, W, C]`, else `[1, C, H, W]`.
    #[wasm_bindgen(js_name = inputDims)]
    pub fn input_dims(&self) -> Vec<u32> {
        match &self.tfjs {
            Some((t, _)) => t.dims.iter().map(|&d| d as u32).collect(),
            None => {
                let s = self.input;
                vec![1, s.c as u32, s.h as u32, s.w as u32]
            }
        }
    }

    /// Loads a `.zsk` (docs/zsk.md): the stored SpMM streams run as they are.
    #[wasm_bindgen(js_name = fromZsk)]
    pub fn from_zsk(name: &str, bytes: &[u8]) -> Result<Model, JsValue> {
        let t0 = js_sys::Date::now();
        let m = crate::zsk::load(name, bytes)?;
        let plan = crate::graph::Plan::with_packed(&m.graph, Default::default(), &m.packed)?;
        Ok(Model::wasm(crate::graph::Session::new(plan), t0))
    }

    /// `input (C, H, W)` float32 → output (e.g. logits), synchronously: WASM models only
    /// (a WebGPU model answers through `runAsync`).
    pub fn run(&mut self, input: &[f32]) -> Result<Vec<f32>, JsValue> {
        Ok(self.session()?.run(input)?.to_vec())
    }

    /// `[C, H, W]` of the input.
    #[wasm_bindgen(js_name = inputShape)]
    pub fn input_shape(&self) -> Vec<u32> {
        let s = self.input;
        vec![s.c as u32, s.h as u32, s.w as u32]
    }

    /// Runs `input` once, timing every step with `performance.now()`: JSON
    /// `[{"kernel", "ms"}, …]` in execution order.
    pub fn profile(&mut self, input: &[f32]) -> Result<String, JsValue> {
        let (perf, now) = performance().ok_or_else(|| crate::Error::Unavailable {
            what: "performance.now".into(),
        })?;
        let mut clock = || {
            now.call0(&perf)
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
        };
        let steps = self.session()?.profile(input, &mut clock)?;
        let rows: Vec<ProfileStep> = steps
            .iter()
            .map(|(kernel, ms)| ProfileStep {
                kernel,
                ms: round4(*ms),
            })
            .collect();
        Ok(json(&rows))
    }

    /// Milliseconds spent importing and planning.
    #[wasm_bindgen(js_name = loadMs)]
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// Per layer: node, op, shapes, chosen kernel, sparsity and FLOPs, as JSON.
    pub fn report(&self) -> String {
        let gpu_engine = match &self.runner {
            Runner::Gpu(g) => g.engine.try_borrow().ok(),
            Runner::Wasm(_) => None,
        };
        if let Some(crate::gpu::Engine::WebGpu(s)) = gpu_engine.as_deref() {
            return json(&s.report().iter().map(LayerEntry::gpu).collect::<Vec<_>>());
        }
        let plan = match (&self.runner, gpu_engine.as_deref()) {
            (Runner::Wasm(s), _) => s.plan(),
            (_, Some(crate::gpu::Engine::Wasm(s))) => s.plan(),
            _ => return "[]".into(),
        };
        json(
            &plan
                .report()
                .iter()
                .map(LayerEntry::cpu)
                .collect::<Vec<_>>(),
        )
    }

    /// The WASM session, or why there is none (a WebGPU model runs through `runAsync`).
    fn session(&mut self) -> crate::Result<&mut crate::graph::Session> {
        match &mut self.runner {
            Runner::Wasm(s) => Ok(s),
            Runner::Gpu(_) => Err(crate::Error::State {
                detail: "this model runs on WebGPU: use runAsync (run and profile are WASM only)"
                    .into(),
            }),
        }
    }

    /// Fills in the input/output shapes of a WebGPU model from its session.
    fn with_gpu_shapes(mut self) -> Model {
        if let Runner::Gpu(g) = &self.runner {
            if let Ok(crate::gpu::Engine::WebGpu(s)) = g.engine.try_borrow().as_deref() {
                self.input = s.input_shape();
                self.output = s.output_shape();
            }
        }
        self
    }
}

// ---- small LLMs: `llm.rs` ----------------------------------------------------------------

mod llm;
pub use llm::TextGenerator;
