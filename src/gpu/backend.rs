//! Which engine runs a model: the WASM kernels (`graph::Session`) or the WebGPU path
//! (`GpuSession`), and why, when WebGPU was wanted but cannot run. The wasm binding maps
//! this onto its JS API; the rule lives here so native tests check it.
//!
//! - `Wasm`: always the CPU plan.
//! - `WebGpu`: the GPU, or a typed error saying why it cannot run.
//! - `Auto`: the GPU whenever an adapter exists and can run the graph, else the WASM kernels.
//!   Browsers expose a CPU-emulated adapter (SwiftShader) only behind a developer flag, so an
//!   adapter in a user's browser is a real GPU.
//!
//! Whenever WebGPU was wanted and is not used, `Opened::fallback` says why; a device lost
//! later, during `Engine::run`, comes back as `GpuFailure::DeviceLost`, which
//! `Fallback::from_error` classifies the same way so the caller can reopen with `Wasm`.

use super::context::GpuContext;
use super::exec::GpuSession;
use super::lower::GpuOptions;
use crate::error::{Error, GpuFailure, Result};
use crate::graph::{Graph, Plan, PlanOptions, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Auto,
    Wasm,
    WebGpu,
}

impl Backend {
    /// `auto`, `wasm` or `webgpu`.
    pub fn parse(s: &str) -> Result<Backend> {
        let all = [Backend::Auto, Backend::Wasm, Backend::WebGpu].map(|b| (b.as_str(), b));
        crate::error::one_of("backend", s, &all)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Wasm => "wasm",
            Backend::WebGpu => "webgpu",
        }
    }
}

/// Why WebGPU is not the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    /// No adapter, or no device with the limits the shaders need.
    NoAdapter,
    /// Only a CPU emulation of a GPU (SwiftShader, lavapipe), which `auto` leaves to WASM.
    CpuAdapter,
    DeviceLost,
    /// A shader or pipeline failed to compile, or the device reported a validation error.
    Pipeline,
    /// The graph has an op the GPU path does not implement.
    UnsupportedOp,
    /// A buffer or dispatch over the device's limits, or out of GPU memory.
    Limits,
    /// Anything else (e.g. a failed readback).
    Other,
}

impl FallbackReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackReason::NoAdapter => "no-adapter",
            FallbackReason::CpuAdapter => "cpu-adapter",
            FallbackReason::DeviceLost => "device-lost",
            FallbackReason::Pipeline => "pipeline",
            FallbackReason::UnsupportedOp => "unsupported-op",
            FallbackReason::Limits => "limits",
            FallbackReason::Other => "other",
        }
    }
}

/// Why WebGPU was wanted and is not used: the reason, and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub reason: FallbackReason,
    pub detail: String,
}

impl Fallback {
    /// Classifies an error of the WebGPU path.
    pub fn from_error(e: &Error) -> Fallback {
        let reason = match e {
            Error::Gpu { kind, .. } => match kind {
                GpuFailure::NoAdapter | GpuFailure::Device => FallbackReason::NoAdapter,
                GpuFailure::DeviceLost => FallbackReason::DeviceLost,
                GpuFailure::Shader | GpuFailure::Validation => FallbackReason::Pipeline,
                GpuFailure::Limit | GpuFailure::OutOfMemory => FallbackReason::Limits,
                GpuFailure::Readback => FallbackReason::Other,
            },
            // an op, or a weight format, without a shader
            Error::UnsupportedOp { .. } | Error::Unsupported { .. } => {
                FallbackReason::UnsupportedOp
            }
            _ => FallbackReason::Other,
        };
        Fallback {
            reason,
            detail: e.to_string(),
        }
    }
}

/// A model ready to run on one engine.
#[derive(Debug)]
pub enum Engine {
    Wasm(Session),
    /// Boxed: a session holds a few dozen handles, the CPU one a plan and an arena pointer.
    WebGpu(Box<GpuSession>),
}

impl Engine {
    pub fn backend(&self) -> Backend {
        match self {
            Engine::Wasm(_) => Backend::Wasm,
            Engine::WebGpu(_) => Backend::WebGpu,
        }
    }

    /// One inference: `input (C, H, W)` → output tensor.
    pub async fn run(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        match self {
            Engine::Wasm(s) => s.run(input).map(<[f32]>::to_vec),
            Engine::WebGpu(s) => s.run(input).await,
        }
    }
}

/// The engine that runs, and why WebGPU does not, if it was wanted and does not.
#[derive(Debug)]
pub struct Opened {
    pub engine: Engine,
    pub fallback: Option<Fallback>,
}

/// Opens `graph` on `backend`. `ctx` is a device to use (a page keeps one for all its
/// models); `None` requests one when WebGPU is wanted. Errors only when the WASM plan itself
/// fails (a graph no engine can run); every WebGPU failure becomes a fallback.
pub async fn open(
    graph: &Graph,
    backend: Backend,
    plan: PlanOptions,
    gpu: GpuOptions,
    ctx: Option<&GpuContext>,
) -> Result<Opened> {
    let fallback = match backend {
        Backend::Wasm => None,
        Backend::Auto | Backend::WebGpu => match try_gpu(graph, gpu, ctx).await {
            Ok(s) => {
                return Ok(Opened {
                    engine: Engine::WebGpu(Box::new(s)),
                    fallback: None,
                })
            }
            Err(f) => Some(f),
        },
    };
    Ok(Opened {
        engine: Engine::Wasm(Session::new(Plan::new(graph, plan)?)),
        fallback,
    })
}

/// The policy of the JS API on top of [`open`]. `ctx` yields the page's shared device (awaited
/// only when WebGPU is wanted). `Wasm` plans on the CPU; `Auto` falls back to the WASM
/// kernels, with the reason, whenever WebGPU cannot run the model; an explicit `WebGpu` is
/// refused with `Error::NoWebGpu` instead, so that the caller can tell its user.
pub async fn choose(
    graph: &Graph,
    backend: Backend,
    plan: PlanOptions,
    gpu: GpuOptions,
    ctx: impl std::future::Future<Output = Result<GpuContext>>,
) -> Result<Opened> {
    if backend == Backend::Wasm {
        return open(graph, backend, plan, gpu, None).await;
    }
    let unavailable = |f: Option<Fallback>| Error::NoWebGpu {
        detail: f.map(|f| f.detail).unwrap_or_default(),
    };
    let opened = match ctx.await {
        Ok(c) => open(graph, backend, plan, gpu, Some(&c)).await?,
        Err(e) if backend == Backend::WebGpu => {
            return Err(unavailable(Some(Fallback::from_error(&e))))
        }
        Err(e) => Opened {
            engine: Engine::Wasm(Session::new(Plan::new(graph, plan)?)),
            fallback: Some(Fallback::from_error(&e)),
        },
    };
    match opened.engine {
        Engine::Wasm(_) if backend == Backend::WebGpu => Err(unavailable(opened.fallback)),
        _ => Ok(opened),
    }
}

/// After `Engine::run` failed with `e`: a GPU failure of an `auto` model moves it to the WASM
/// kernels (`graph` planned with `plan`) and says why; any other error is the caller's.
pub fn recover(
    e: Error,
    auto: bool,
    graph: &Graph,
    plan: PlanOptions,
) -> Result<(Engine, Fallback)> {
    match e {
        Error::Gpu { .. } if auto => {
            let session = Session::new(Plan::new(graph, plan)?);
            Ok((Engine::Wasm(session), Fallback::from_error(&e)))
        }
        e => Err(e),
    }
}

async fn try_gpu(
    graph: &Graph,
    opts: GpuOptions,
    ctx: Option<&GpuContext>,
) -> std::result::Result<GpuSession, Fallback> {
    let owned;
    let ctx = match ctx {
        Some(c) => c,
        None => {
            owned = GpuContext::new()
                .await
                .map_err(|e| Fallback::from_error(&e))?;
            &owned
        }
    };
    GpuSession::new(ctx, graph, opts)
        .await
        .map_err(|e| Fallback::from_error(&e))
}
