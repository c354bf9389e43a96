//! The wgpu device the WebGPU path runs on, and the two things every use of it needs: errors
//! that come back as `Error::Gpu` instead of wgpu's default panic, and a lost device that is
//! reported instead of hanging.
//!
//! - Every group of device calls runs inside error scopes (`scoped`): validation, internal and
//!   out-of-memory errors are popped and turned into typed errors naming what was being done.
//!   An uncaptured-error handler catches anything outside a scope (wgpu would otherwise panic
//!   natively) and the next call reports it.
//! - A device-lost callback records the loss; every entry point checks it first, and a
//!   readback whose device was lost fails instead of waiting forever (native: a bounded
//!   `poll`; in the browser a lost device rejects `mapAsync`).
//! - Pipelines are cached by kernel name (`gpu::shaders`: one name per shader and override
//!   constants), so a network with 50 layers of a dozen kinds compiles a dozen pipelines,
//!   once per context.

use super::shaders::Pipeline;
use crate::error::{Error, GpuFailure, Result};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// How long a native readback waits for the GPU before giving up (lavapipe runs
/// MobileNetV2 in about a second; a minute means something is wrong).
#[cfg(not(target_arch = "wasm32"))]
const NATIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Uncaptured errors kept for the next check: the first few say what went wrong, and a
/// runaway loop of errors must not grow memory without bound.
const MAX_UNCAPTURED: usize = 8;

/// What the device's callbacks report (they run outside any call of ours).
#[derive(Debug, Default)]
struct Watch {
    lost: Option<String>,
    uncaptured: Vec<String>,
}

/// Cache key: the pipeline's kernel name, which stands for its shader and constants.
type PipelineKey = String;

/// A wgpu device and queue with typed error handling and a pipeline cache. Cheap to clone
/// (handles); clones share the cache and the device state.
#[derive(Debug, Clone)]
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    watch: Arc<Mutex<Watch>>,
    pipelines: Arc<Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>>,
}

/// A poisoned lock only means a callback panicked mid-update; the data is still usable,
/// and a panic here would kill the page.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A wgpu error with its whole source chain: wgpu's own `Display` is often just
/// "Validation Error", and the compiler's message (file, line, what) is in the sources.
fn describe(e: &wgpu::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        src = s.source();
    }
    out
}

fn gpu_err(kind: GpuFailure, detail: impl Into<String>) -> Error {
    Error::Gpu {
        kind,
        detail: detail.into(),
    }
}

impl GpuContext {
    /// Requests an adapter and a device with WebGPU's default limits (what every browser
    /// grants without asking, and what the shaders are written for). In the browser this is
    /// `navigator.gpu`; natively Vulkan (`WGPU_BACKEND` overrides), e.g. Mesa lavapipe.
    pub async fn new() -> Result<GpuContext> {
        // In the browser, wgpu panics when `navigator.gpu` is unreachable (Node, a shared
        // worker); ask first.
        #[cfg(target_arch = "wasm32")]
        if !wgpu::util::is_browser_webgpu_supported().await {
            return Err(gpu_err(
                GpuFailure::NoAdapter,
                "navigator.gpu is missing or requestAdapter() returned null",
            ));
        }
        let backends = if cfg!(target_arch = "wasm32") {
            wgpu::Backends::BROWSER_WEBGPU
        } else {
            wgpu::Backends::VULKAN
        };
        let desc = wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        }
        .with_env();
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions::default())
            .await
            .map_err(|e| gpu_err(GpuFailure::NoAdapter, e.to_string()))?;
        let info = adapter.get_info();
        let want = wgpu::Limits::default();
        let have = adapter.limits();
        let mut short = Vec::new();
        want.check_limits_with_fail_fn(&have, false, |name, need, got| {
            short.push(format!("{name}: needs {need}, adapter has {got}"));
        });
        if !short.is_empty() {
            return Err(gpu_err(
                GpuFailure::Device,
                format!(
                    "adapter {} falls short of WebGPU's default limits: {}",
                    info.name,
                    short.join("; ")
                ),
            ));
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("zeroskip"),
                required_limits: want,
                ..Default::default()
            })
            .await
            .map_err(|e| gpu_err(GpuFailure::Device, format!("{}: {e}", info.name)))?;
        Ok(GpuContext::from_device(device, queue, info))
    }

    /// Wraps a device the caller created (tests inject one; a page may share its own). Takes
    /// over its uncaptured-error and device-lost callbacks.
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
    ) -> GpuContext {
        let watch = Arc::new(Mutex::new(Watch::default()));
        let w = watch.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut w = lock(&w);
            if w.uncaptured.len() < MAX_UNCAPTURED {
                w.uncaptured.push(describe(&e));
            }
        }));
        let w = watch.clone();
        device.set_device_lost_callback(move |reason, msg| {
            lock(&w).lost = Some(format!("{reason:?}: {msg}"));
        });
        GpuContext {
            device,
            queue,
            info,
            watch,
            pipelines: Arc::default(),
        }
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }
    pub fn limits(&self) -> wgpu::Limits {
        self.device.limits()
    }

    /// A CPU emulation (lavapipe, SwiftShader): correct, but slower than the WASM kernels.
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Fails if the device was lost, or reported an error outside any scope since the last
    /// check (which it then forgets).
    pub fn check(&self) -> Result<()> {
        let mut w = lock(&self.watch);
        if let Some(why) = &w.lost {
            return Err(gpu_err(GpuFailure::DeviceLost, why.clone()));
        }
        if !w.uncaptured.is_empty() {
            let all = std::mem::take(&mut w.uncaptured).join("; ");
            return Err(gpu_err(GpuFailure::Validation, all));
        }
        Ok(())
    }

    /// Runs `f` (device calls) inside validation, internal and out-of-memory error scopes
    /// and turns what they catch into `Error::Gpu` (`kind` for validation and internal
    /// errors; `what` says what was being done). A lost device wins over the errors it causes.
    pub(crate) async fn scoped<T>(
        &self,
        kind: GpuFailure,
        what: &str,
        f: impl FnOnce() -> T,
    ) -> Result<T> {
        self.check()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        // Popped innermost first, as scopes must be.
        let v = validation.pop().await;
        let i = internal.pop().await;
        let o = oom.pop().await;
        self.check()?;
        if let Some(e) = o {
            return Err(gpu_err(
                GpuFailure::OutOfMemory,
                format!("{what}: {}", describe(&e)),
            ));
        }
        if let Some(e) = v.or(i) {
            return Err(gpu_err(kind, format!("{what}: {}", describe(&e))));
        }
        Ok(out)
    }

    /// The compute pipeline of `p` (its shader specialised with its constants), compiled once
    /// per context. A shader that does not compile or validate, or constants it does not
    /// declare, give `GpuFailure::Shader` with the compiler's message.
    pub async fn pipeline(&self, p: &Pipeline) -> Result<wgpu::ComputePipeline> {
        let (shader, constants) = (&p.shader, &p.constants[..]);
        if let Some(c) = lock(&self.pipelines).get(&p.name) {
            return Ok(c.clone());
        }
        let what = format!("{} ({}.wgsl with {constants:?})", p.name, shader.name);
        let pipeline = self
            .scoped(GpuFailure::Shader, &what, || {
                let module = self
                    .device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(shader.name),
                        source: wgpu::ShaderSource::Wgsl(shader.source.into()),
                    });
                self.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(&p.name),
                        layout: None,
                        module: &module,
                        entry_point: Some("main"),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            constants,
                            // Every shader writes its workgroup memory before reading it.
                            zero_initialize_workgroup_memory: false,
                        },
                        cache: None,
                    })
            })
            .await?;
        lock(&self.pipelines).insert(p.name.clone(), pipeline.clone());
        Ok(pipeline)
    }

    /// Pipelines compiled so far (each kernel name once).
    pub fn cached_pipelines(&self) -> usize {
        lock(&self.pipelines).len()
    }

    /// Maps `staging` (MAP_READ, at least `len` floats) and copies `len` floats out.
    pub(crate) async fn read_back(&self, staging: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let bytes = 4 * len as u64;
        let slice = staging.slice(..bytes);
        let done = Arc::new(Mutex::new(MapState::default()));
        let d = done.clone();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let mut s = lock(&d);
            s.result = Some(r.map_err(|e| e.to_string()));
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        });
        // Natively the callback runs inside some thread's `poll`; a bounded wait turns a stuck
        // device into an error instead of a hang. When threads share the device, another
        // thread's poll may be delivering our callback just as ours returns, so poll again
        // until it has run or the time is up. In the browser `poll` is a no-op and the
        // callback comes from the event loop, so the future is awaited.
        #[cfg(not(target_arch = "wasm32"))]
        {
            let deadline = std::time::Instant::now() + NATIVE_WAIT;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let waited = self.device.poll(wgpu::PollType::Wait {
                    submission_index: None,
                    timeout: Some(left),
                });
                self.check()?;
                waited.map_err(|e| gpu_err(GpuFailure::Readback, e.to_string()))?;
                if lock(&done).result.is_some() {
                    break;
                }
                if left.is_zero() {
                    return Err(gpu_err(
                        GpuFailure::Readback,
                        format!("the output was not mapped within {NATIVE_WAIT:?}"),
                    ));
                }
                std::thread::yield_now();
            }
        }
        let mapped = MapFuture(done).await;
        self.check()?;
        mapped.map_err(|e| gpu_err(GpuFailure::Readback, e))?;
        let out = slice
            .get_mapped_range()
            .map(|view| {
                view.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .map_err(|e| gpu_err(GpuFailure::Readback, e.to_string()));
        // Unmapped whatever happened, or every later run would fail to map it again.
        staging.unmap();
        out
    }
}

/// The result of one `map_async`, filled by its callback.
#[derive(Debug, Default)]
struct MapState {
    result: Option<std::result::Result<(), String>>,
    waker: Option<Waker>,
}

/// Resolves when the `map_async` callback has run.
struct MapFuture(Arc<Mutex<MapState>>);

impl Future for MapFuture {
    type Output = std::result::Result<(), String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = lock(&self.0);
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
