//! Text generation on whichever engine runs the model — the GPU ([`GpuLlm`]) or the WASM
//! kernels ([`crate::llm::llama::Session`]) — with the backend policy of the JS API and the
//! move to WASM when the GPU fails mid-generation. It lives here, not in the wasm binding, so
//! that the native tests check it (a destroyed device included).
//!
//! - `Wasm`: always the CPU.
//! - `WebGpu`: the GPU, or `Error::NoWebGpu` saying why it cannot run.
//! - `Auto`: the GPU when an adapter exists, is a real GPU and can run the model; else WASM,
//!   and [`Generator::fallback`] says why. A CPU-emulated adapter (SwiftShader, lavapipe) runs
//!   the model slower than the WASM kernels, so `Auto` leaves it alone (ask for `WebGpu`).
//!
//! A GPU failure during [`Generator::prefill`] or [`Generator::step`] (a lost device, an
//! out-of-memory, a failed readback) does not surface: the tokens fed so far are run again on
//! WASM and the call finishes there, so a generation goes on with the same context and the
//! same sampler state, and `fallback` says why. Only errors of the call itself (a token outside
//! the vocabulary, a full context) are returned.

use super::model::{Draw, GpuLlm};
use super::ops;
use crate::error::{Error, Result};
use crate::gpu::backend::{Backend, Fallback, FallbackReason};
use crate::gpu::context::GpuContext;
use crate::llm::llama::{Llama, Session};
use crate::llm::sampler::Sampler;
use std::future::Future;

/// The adapter's name, or its kind when the browser gives none (Chromium's SwiftShader).
pub fn adapter_name(c: &GpuContext) -> String {
    let i = c.adapter_info();
    if i.name.trim().is_empty() {
        format!("unnamed {:?} adapter", i.device_type)
    } else {
        i.name.clone()
    }
}

/// One call that fed tokens to the conversation.
#[derive(Debug, Clone)]
enum Fed {
    Prefill(Vec<u32>),
    Step(u32),
}

impl Fed {
    fn new(ids: &[u32], prefill: bool) -> Fed {
        match (prefill, ids) {
            (false, [id]) => Fed::Step(*id),
            _ => Fed::Prefill(ids.to_vec()),
        }
    }
}

/// A model, one conversation, and the engine it runs on.
#[derive(Debug)]
pub struct Generator {
    pub llama: Llama,
    ctx_len: usize,
    /// The WASM session: made when the model runs there (at open, or when the GPU fails).
    wasm: Option<Session>,
    gpu: Option<GpuLlm>,
    sampler: Sampler,
    /// Every call that fed the current conversation (the KV cache's contents), to rebuild it on
    /// WASM when the GPU fails: call by call, so that decode steps are replayed as decode steps
    /// (activation thresholds apply at decode, not at prefill).
    history: Vec<Fed>,
    fallback: Option<Fallback>,
}

impl Generator {
    /// Opens `llama` with a context of `ctx_len` positions on `backend`. `gpu` yields the page's
    /// device (awaited only when WebGPU is wanted).
    pub async fn open(
        llama: Llama,
        ctx_len: usize,
        backend: Backend,
        gpu: impl Future<Output = Result<GpuContext>>,
    ) -> Result<Generator> {
        if backend == Backend::Wasm {
            return Generator::on_wasm(llama, ctx_len);
        }
        let mut g = Generator::bare(llama, ctx_len);
        let tried = match gpu.await {
            Ok(c) if backend == Backend::Auto && c.is_cpu() => Err(Fallback {
                reason: FallbackReason::CpuAdapter,
                detail: format!(
                    "the WebGPU adapter ({}) is a CPU emulation, slower than the WASM kernels \
                     (ask for backend 'webgpu' to run on it anyway)",
                    adapter_name(&c)
                ),
            }),
            Ok(c) => GpuLlm::new(&c, &g.llama, ctx_len).await.map_err(|e| {
                // Sizes the model itself gets wrong are the caller's, on any backend.
                Fallback::from_error(&e)
            }),
            Err(e) => Err(Fallback::from_error(&e)),
        };
        match tried {
            Ok(m) => g.gpu = Some(m),
            Err(f) if backend == Backend::WebGpu => {
                return Err(Error::NoWebGpu { detail: f.detail });
            }
            Err(f) => {
                g.wasm = Some(g.llama.session(ctx_len)?);
                g.fallback = Some(f);
            }
        }
        Ok(g)
    }

    /// `llama` on the WASM kernels.
    pub fn on_wasm(llama: Llama, ctx_len: usize) -> Result<Generator> {
        let mut g = Generator::bare(llama, ctx_len);
        g.wasm = Some(g.llama.session(ctx_len)?);
        Ok(g)
    }

    fn bare(llama: Llama, ctx_len: usize) -> Generator {
        Generator {
            llama,
            ctx_len,
            wasm: None,
            gpu: None,
            sampler: Sampler::greedy(),
            history: Vec::new(),
            fallback: None,
        }
    }

    /// The engine that runs the model now.
    pub fn backend(&self) -> Backend {
        if self.gpu.is_some() {
            Backend::WebGpu
        } else {
            Backend::Wasm
        }
    }

    /// Why WebGPU was wanted and is not what runs (at open, or since the GPU failed).
    pub fn fallback(&self) -> Option<&Fallback> {
        self.fallback.as_ref()
    }

    /// The GPU model, when it runs there.
    pub fn gpu(&self) -> Option<&GpuLlm> {
        self.gpu.as_ref()
    }

    /// The WASM session, when the model runs there (the synchronous calls of the JS API).
    pub fn wasm(&mut self) -> Result<&mut Session> {
        self.wasm.as_mut().ok_or_else(|| Error::State {
            detail: "the model runs on WebGPU: use the asynchronous calls (prefillAsync, \
                     stepAsync)"
                .into(),
        })
    }

    /// The WASM session and the model, borrowed apart.
    pub fn wasm_parts(&mut self) -> Result<(&Llama, &mut Session, &mut Sampler)> {
        match self.wasm.as_mut() {
            Some(s) => Ok((&self.llama, s, &mut self.sampler)),
            None => Err(Error::State {
                detail: "the model runs on WebGPU: use the asynchronous calls".into(),
            }),
        }
    }

    pub fn set_sampler(&mut self, s: Sampler) {
        self.sampler = s;
    }

    /// Puts `s` in place of the sampler and returns the one it replaces (the greedy benchmark
    /// calls borrow the greedy sampler).
    pub fn swap_sampler(&mut self, s: Sampler) -> Sampler {
        std::mem::replace(&mut self.sampler, s)
    }

    pub fn ctx_len(&self) -> usize {
        self.ctx_len
    }

    /// Tokens in the conversation.
    pub fn pos(&self) -> usize {
        match (&self.gpu, &self.wasm) {
            (Some(g), _) => g.pos(),
            (None, Some(s)) => s.pos(),
            (None, None) => 0,
        }
    }

    /// Forgets every token (keeps the buffers).
    pub fn reset(&mut self) {
        self.history.clear();
        if let Some(g) = &mut self.gpu {
            g.reset();
        }
        if let Some(s) = &mut self.wasm {
            s.reset();
        }
    }

    /// Records what the WASM session ran (the synchronous calls: `prefill` or one decode
    /// `step`), so a later move keeps it.
    pub fn note_fed(&mut self, ids: &[u32], prefill: bool) {
        self.history.push(Fed::new(ids, prefill));
    }

    /// Runs `ids` after the conversation so far; the next token, drawn by the sampler.
    pub async fn prefill(&mut self, ids: &[u32]) -> Result<u32> {
        self.feed(ids, true).await
    }

    /// Runs one token; the next token.
    pub async fn step(&mut self, id: u32) -> Result<u32> {
        self.feed(&[id], false).await
    }

    /// The logits of the last token run (reads them all back from the GPU).
    pub async fn logits(&mut self) -> Result<Vec<f32>> {
        match (&self.gpu, &self.wasm) {
            (Some(g), _) => g.logits().await,
            (None, Some(s)) => Ok(s.logits().to_vec()),
            (None, None) => Ok(vec![0.0; self.llama.cfg.vocab_size]),
        }
    }

    async fn feed(&mut self, ids: &[u32], prefill: bool) -> Result<u32> {
        if self.gpu.is_some() {
            match self.feed_gpu(ids, prefill).await {
                Ok(t) => {
                    self.history.push(Fed::new(ids, prefill));
                    return Ok(t);
                }
                Err(e @ Error::Gpu { .. }) => self.move_to_wasm(&e)?,
                Err(e) => return Err(e),
            }
        }
        let (llama, session, sampler) = self.wasm_parts()?;
        let logits = if prefill {
            llama.prefill(session, ids)?
        } else {
            llama.decode(session, ids[0])?
        };
        let t = sampler.sample(logits)?;
        self.history.push(Fed::new(ids, prefill));
        Ok(t)
    }

    async fn feed_gpu(&mut self, ids: &[u32], prefill: bool) -> Result<u32> {
        let Some(g) = self.gpu.as_mut() else {
            return Err(Error::State {
                detail: "the model does not run on WebGPU".into(),
            });
        };
        let draw = Draw {
            top_k: ops::state_top_k(self.sampler.config()),
            temperature: self.sampler.config().temperature,
        };
        let top = if prefill {
            g.prefill(ids, draw).await?
        } else {
            g.decode(ids[0], draw).await?
        };
        let (best, logit) = top.best();
        if logit.is_nan() {
            return Err(Error::Numerical {
                layer: "logits".into(),
                detail: format!("logit {best} is NaN (on the GPU)"),
            });
        }
        if draw.top_k == 1 {
            return Ok(best);
        }
        let vocab = self.llama.cfg.vocab_size as u32;
        match ops::sample_topk(&mut self.sampler, &top.0, vocab)? {
            Some(t) => Ok(t),
            None => {
                let logits = g.logits().await?;
                self.sampler.sample(&logits)
            }
        }
    }

    /// After the GPU failed with `e`: the conversation so far is run on WASM, and the model
    /// stays there.
    fn move_to_wasm(&mut self, e: &Error) -> Result<()> {
        self.gpu = None;
        self.fallback = Some(Fallback::from_error(e));
        let mut s = self.llama.session(self.ctx_len)?;
        for f in &self.history {
            match f {
                Fed::Prefill(ids) => self.llama.prefill(&mut s, ids).map(drop)?,
                Fed::Step(id) => self.llama.decode(&mut s, *id).map(drop)?,
            }
        }
        self.wasm = Some(s);
        Ok(())
    }
}
