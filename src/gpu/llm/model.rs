//! A llama model resident on the GPU: the weights uploaded once as the file stores them, a KV
//! cache and every scratch buffer sized once for the session's context, and the forward pass
//! recorded once as three lists of dispatches (decode body, prefill body, head) whose bind
//! groups never change. A call writes the per-call [`State`] and the token ids, records its
//! list into one command buffer, and reads back only the sampler's candidates.
//!
//! Per call of `t` tokens at positions `pos0..pos0 + t` (`t` = 1 at decode, ≤ 16 at prefill),
//! buffers `(C, …)` with C = [`PREFILL_CHUNK`]:
//!
//! ```text
//! x (C, dim) = token_embd[tokens]                                  gather
//! per layer l:
//!   xb = rmsnorm(x)·attn_norm, thresholded (decode)                norm
//!   [nz = nonzeros of xb]                                          compact (cm32 at decode)
//!   q (C, q_dim), k, v (C, kv_dim) = Wq xb, Wk xb, Wv xb            linear
//!   rope q, k; k, v -> kc[l], vc[l] (ctx, kv_dim) rows pos0..       rope_kv
//!   ao (C, q_dim) = attention(q, kc[l], vc[l]) [thresholded]        attention [threshold]
//!   x += Wo ao                                                      linear (acc)
//!   xb = rmsnorm(x)·ffn_norm, thresholded                           norm
//!   gate, up (C, ffn) = W_gate xb, W_up xb                          linear
//!   gate = silu(gate) ⊙ up [gate method, thresholded]               swiglu
//!   x += W_down gate                                                linear (acc)
//! head: xl (dim,) = rmsnorm(x[t − 1])·output_norm                   norm (last row)
//!       logits (vocab,) = lm_head xl                                linear
//!       out = top-k candidates of logits (+ Σ exp for sampling)     topk
//! ```
//!
//! Activation thresholds apply at decode only, as on WASM (`Llama::set_act_prefill` is a
//! perplexity switch of the CPU path). The RoPE angles come from a table computed once on the
//! CPU in f64, so both paths rotate by the same f32 cosines and sines.

use super::dispatch::{params_buffer, storage, OpSpec, State};
use super::linear::{compact, GpuLinear, LinearIo, RowSplit};
use super::ops::{self, Dims, Thresh};
use super::PARAM_WORDS;
use crate::error::{Error, GpuFailure, Result};
use crate::gpu::context::GpuContext;
use crate::llm::act::ActMethod;
use crate::llm::llama::{Llama, Site};
use crate::llm::prefill::PREFILL_CHUNK;
use crate::llm::weights::Linear;

/// A buffer while the passes are planned: an index into the session's buffers.
type B = usize;

/// One recorded dispatch.
#[derive(Debug)]
struct Step {
    /// The kernel, for `time_steps` (native only)
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    name: String,
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    groups: [u32; 3],
    per_token: Option<usize>,
}

impl Step {
    fn groups_for(&self, t: u32) -> [u32; 3] {
        let mut g = self.groups;
        if let Some(a) = self.per_token {
            g[a] *= t.max(1);
        }
        g
    }
}

/// What a buffer starts as.
#[derive(Debug)]
enum Content {
    /// Uploaded bytes (weights, tables), never written by a shader.
    Bytes(Vec<u8>),
    /// Zeroed scratch of this many bytes.
    Zeros(u64),
}

/// What a call's sampling pass found for its last token: `ops::topk`'s output words
/// (`topk_out_words`: (token, logit bits) pairs, largest logit first, ties lower id first; then
/// Σ exp((l − max)/temperature) over the vocabulary).
#[derive(Debug, Clone, PartialEq)]
pub struct Top(pub Vec<u32>);

impl Top {
    /// The best candidate: (token, logit).
    pub fn best(&self) -> (u32, f32) {
        (self.0[0], f32::from_bits(self.0[1]))
    }
}

/// How the next token is drawn: the candidates the GPU keeps and the temperature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// 1 = greedy, at most [`ops::TOPK_MAX`].
    pub top_k: u32,
    pub temperature: f32,
}

impl Draw {
    pub const GREEDY: Draw = Draw {
        top_k: 1,
        temperature: 0.0,
    };
}

/// Plans the passes: buffers by handle, and the dispatches of each list.
#[derive(Default)]
struct Planner {
    bufs: Vec<(String, Content)>,
    weight_bytes: u64,
}

impl Planner {
    fn upload(&mut self, label: impl Into<String>, bytes: Vec<u8>) -> B {
        self.weight_bytes += bytes.len() as u64;
        self.bufs.push((label.into(), Content::Bytes(bytes)));
        self.bufs.len() - 1
    }

    fn f32s(&mut self, label: impl Into<String>, v: &[f32]) -> B {
        self.upload(label, super::dispatch::f32_bytes(v))
    }

    /// Scratch of `n` words.
    fn scratch(&mut self, label: impl Into<String>, n: usize) -> B {
        self.bufs.push((label.into(), Content::Zeros(4 * n as u64)));
        self.bufs.len() - 1
    }
}

/// A linear layer's parts, each with its uploaded buffer.
struct Placed {
    lin: GpuLinear,
    bufs: Vec<B>,
}

impl Placed {
    fn new(p: &mut Planner, lin: GpuLinear) -> Placed {
        let bufs = lin
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| p.upload(format!("{} part {i}", lin.name), part.bytes.clone()))
            .collect();
        Placed { lin, bufs }
    }

    /// (storage type, decode pipeline) for reports.
    fn kernel(&self) -> (String, String) {
        let io = LinearIo {
            x_off: 0,
            x_stride: 0,
            y_off: 0,
            y_stride: 0,
            acc: false,
            tokens: None,
        };
        let skip = self.lin.skips_zero_inputs().then_some(0);
        let name = match self.lin.parts.first() {
            Some(part) => part.call(0, 0, 0, skip, io).pipeline.name,
            None => String::new(),
        };
        (self.lin.wtype.clone(), name)
    }

    /// Every part's dispatch of `x -> y`.
    fn calls(&self, x: B, y: B, nz: Option<B>, io: LinearIo) -> Vec<OpSpec<B>> {
        self.lin
            .parts
            .iter()
            .zip(&self.bufs)
            .map(|(part, &w)| part.call(x, w, y, nz, io))
            .collect()
    }
}

/// The session's scratch buffers.
struct Scratch {
    tokens: B,
    x: B,
    xb: B,
    q: B,
    k: B,
    v: B,
    ao: B,
    gate: B,
    up: B,
    att: B,
    xl: B,
    logits: B,
    partial: B,
    out: B,
    /// nonzero lists of the three input widths (dim, q_dim, ffn)
    nz_dim: B,
    nz_q: B,
    nz_ffn: B,
}

/// A llama model on a GPU with one conversation's state (see the module docs).
#[derive(Debug)]
pub struct GpuLlm {
    ctx: GpuContext,
    vocab: usize,
    ctx_len: usize,
    pos: usize,
    bufs: Vec<wgpu::Buffer>,
    state: wgpu::Buffer,
    tokens: B,
    logits: B,
    out: B,
    decode: Vec<Step>,
    prefill: Vec<Step>,
    head: Vec<Step>,
    /// MAP_READ copies of the sampler's output and of the logits
    out_staging: wgpu::Buffer,
    logits_staging: wgpu::Buffer,
    weight_bytes: u64,
    /// (storage type, pipeline) of every matrix's decode GEMV
    kernels: Vec<(String, String)>,
}

impl GpuLlm {
    /// Uploads `m` and plans its passes for a context of `ctx_len` positions. Typed errors,
    /// before anything is allocated on the device, for a weight format without a shader
    /// (`Error::Unsupported`) and sizes over the device's limits (`GpuFailure::Limit`).
    pub async fn new(ctx: &GpuContext, m: &Llama, ctx_len: usize) -> Result<GpuLlm> {
        ctx.check()?;
        let c = &m.cfg;
        if ctx_len == 0 || ctx_len > c.context_length {
            return Err(Error::DimOutOfRange {
                tensor: "KV cache".into(),
                what: "context length".into(),
                value: ctx_len as u64,
                limit: format!("1 to the model's {} tokens", c.context_length),
            });
        }
        let limits = ctx.limits();
        let max_binding = limits.max_storage_buffer_binding_size;
        let hd = c.head_dim();
        let (dim, q_dim, kv_dim, ffn) = (c.dim, c.n_heads * hd, c.n_kv_heads * hd, c.ffn_dim);
        let d = Dims {
            dim: dim as u32,
            n_heads: c.n_heads as u32,
            n_kv_heads: c.n_kv_heads as u32,
            head_dim: hd as u32,
            ffn: ffn as u32,
            ctx: ctx_len as u32,
            rope_dim: c.rope_dim as u32,
            vocab: c.vocab_size as u32,
        };
        d.check()?;
        let w = &m.weights;
        let file = w.file();
        let ch = PREFILL_CHUNK;
        debug_assert_eq!(ch, ops::MAX_TOKENS as usize);
        // Every binding of a scratch buffer must fit too: the attention scores are the largest.
        let att_words = d.att_len();
        for (what, bytes) in [
            ("attention scores", 4 * att_words as u64),
            ("KV cache layer", 4 * (ctx_len * kv_dim) as u64),
            ("FFN activations", 4 * (ch * ffn) as u64),
            ("logits", 4 * c.vocab_size as u64),
        ] {
            if bytes > max_binding {
                return Err(Error::Gpu {
                    kind: GpuFailure::Limit,
                    detail: format!(
                        "{what}: {bytes} bytes in one binding; the device allows \
                         {max_binding} (maxStorageBufferBindingSize)"
                    ),
                });
            }
        }

        let mut p = Planner::default();
        let s = Scratch {
            tokens: p.scratch("tokens", ch),
            x: p.scratch("x", ch * dim),
            xb: p.scratch("xb", ch * dim),
            q: p.scratch("q", ch * q_dim),
            k: p.scratch("k", ch * kv_dim),
            v: p.scratch("v", ch * kv_dim),
            ao: p.scratch("ao", ch * q_dim),
            gate: p.scratch("gate", ch * ffn),
            up: p.scratch("up", ch * ffn),
            att: p.scratch("att", att_words),
            xl: p.scratch("xl", dim),
            logits: p.scratch("logits", c.vocab_size),
            partial: p.scratch("top-k partial", ops::topk_partial_words(d.vocab)),
            out: p.scratch("top-k out", ops::topk_out_words()),
            nz_dim: p.scratch("nonzeros (dim)", dim + 1),
            nz_q: p.scratch("nonzeros (q_dim)", q_dim + 1),
            nz_ffn: p.scratch("nonzeros (ffn)", ffn + 1),
        };
        let rope = p.f32s(
            "rope table",
            &ops::rope_table(ctx_len, c.rope_dim, c.rope_freq_base),
        );
        let split = RowSplit::for_adapter(ctx);
        let embd = Placed::new(
            &mut p,
            GpuLinear::pack_dense(&w.token_embd, file, max_binding)?.split(split),
        );
        let head_own = match &w.output {
            Some(h) => Some(Placed::new(
                &mut p,
                GpuLinear::pack(h, file, max_binding)?.split(split),
            )),
            None => None,
        };
        let mut kernels = Vec::new();

        let act = m.act();
        let thresh = |l: usize, site: Site, decode: bool| -> Thresh {
            match act {
                Some(a) if decode && a.method != ActMethod::Gate => {
                    let t = a.threshold(l, site);
                    match (t > 0.0, a.method) {
                        (false, _) => Thresh::None,
                        (true, ActMethod::Wina) => Thresh::Scaled(t),
                        (true, _) => Thresh::Abs(t),
                    }
                }
                _ => Thresh::None,
            }
        };
        let mut decode = Vec::new();
        let mut prefill = Vec::new();
        let gather = embd
            .lin
            .parts
            .iter()
            .zip(&embd.bufs)
            .map(|(part, &b)| part.gather(s.tokens, b, s.x))
            .collect::<Result<Vec<_>>>()?;
        decode.extend(gather.iter().cloned());
        prefill.extend(gather);
        for (l, lw) in w.layers.iter().enumerate() {
            let attn_norm = p.f32s(format!("blk.{l}.attn_norm"), &lw.attn_norm);
            let ffn_norm = p.f32s(format!("blk.{l}.ffn_norm"), &lw.ffn_norm);
            let scales: Vec<Option<B>> = Site::ALL
                .iter()
                .map(|&site| match act {
                    Some(a) if a.method == ActMethod::Wina => Some(p.f32s(
                        format!("blk.{l} WINA scales {site:?}"),
                        &a.scales[l * 4 + site.index()],
                    )),
                    _ => None,
                })
                .collect();
            let kc = p.scratch(format!("blk.{l} K cache"), ctx_len * kv_dim);
            let vc = p.scratch(format!("blk.{l} V cache"), ctx_len * kv_dim);
            let mut place = |lin: &Linear| -> Result<Placed> {
                let g = GpuLinear::pack(lin, file, max_binding)?.split(split);
                Ok(Placed::new(&mut p, g))
            };
            let wq = place(&lw.wq)?;
            let wk = place(&lw.wk)?;
            let wv = place(&lw.wv)?;
            let wo = place(&lw.wo)?;
            let w_gate = place(&lw.w_gate)?;
            let w_up = place(&lw.w_up)?;
            let w_down = place(&lw.w_down)?;
            let gate_t = match act {
                Some(a) if a.method == ActMethod::Gate => a.threshold(l, Site::FfnMid),
                _ => 0.0,
            };
            for (decode_phase, list) in [(true, &mut decode), (false, &mut prefill)] {
                let th = |site: Site| thresh(l, site, decode_phase);
                let sc = |site: Site| scales[site.index()].filter(|_| decode_phase);
                let io = |n_in: usize, n_out: usize, acc: bool| LinearIo {
                    x_off: 0,
                    x_stride: n_in as u32,
                    y_off: 0,
                    y_stride: n_out as u32,
                    acc,
                    tokens: None,
                };
                // The nonzero list of an input, when a reader skips zero inputs (decode only).
                let nz_for =
                    |list: &mut Vec<OpSpec<B>>, x: B, n: usize, nz: B, readers: &[&Placed]| {
                        let skip =
                            decode_phase && readers.iter().any(|r| r.lin.skips_zero_inputs());
                        if skip {
                            list.push(compact(x, 0, n as u32, nz));
                            Some(nz)
                        } else {
                            None
                        }
                    };
                list.push(ops::rmsnorm(
                    s.x,
                    attn_norm,
                    s.xb,
                    sc(Site::AttnIn),
                    d.dim,
                    c.rms_eps,
                    th(Site::AttnIn),
                    false,
                ));
                let nz = nz_for(list, s.xb, dim, s.nz_dim, &[&wq, &wk, &wv]);
                list.extend(wq.calls(s.xb, s.q, nz, io(dim, q_dim, false)));
                list.extend(wk.calls(s.xb, s.k, nz, io(dim, kv_dim, false)));
                list.extend(wv.calls(s.xb, s.v, nz, io(dim, kv_dim, false)));
                list.push(ops::rope_kv(s.q, s.k, s.v, rope, kc, vc, &d));
                list.push(ops::attention(s.q, kc, vc, s.att, s.ao, &d));
                let t = th(Site::AttnOut);
                if !matches!(t, Thresh::None) {
                    list.push(ops::threshold(
                        s.ao,
                        sc(Site::AttnOut),
                        d.n_heads * d.head_dim,
                        t,
                    ));
                }
                let nz = nz_for(list, s.ao, q_dim, s.nz_q, &[&wo]);
                list.extend(wo.calls(s.ao, s.x, nz, io(q_dim, dim, true)));
                list.push(ops::rmsnorm(
                    s.x,
                    ffn_norm,
                    s.xb,
                    sc(Site::FfnIn),
                    d.dim,
                    c.rms_eps,
                    th(Site::FfnIn),
                    false,
                ));
                let nz = nz_for(list, s.xb, dim, s.nz_dim, &[&w_gate, &w_up]);
                list.extend(w_gate.calls(s.xb, s.gate, nz, io(dim, ffn, false)));
                list.extend(w_up.calls(s.xb, s.up, nz, io(dim, ffn, false)));
                list.push(ops::swiglu(
                    s.gate,
                    s.up,
                    sc(Site::FfnMid),
                    d.ffn,
                    if decode_phase { gate_t } else { 0.0 },
                    th(Site::FfnMid),
                ));
                let nz = nz_for(list, s.gate, ffn, s.nz_ffn, &[&w_down]);
                list.extend(w_down.calls(s.gate, s.x, nz, io(ffn, dim, true)));
            }
            for pl in [&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down] {
                kernels.push(pl.kernel());
            }
        }
        let output_norm = p.f32s("output_norm", &w.output_norm);
        let mut head = vec![ops::rmsnorm(
            s.x,
            output_norm,
            s.xl,
            None,
            d.dim,
            c.rms_eps,
            Thresh::None,
            true,
        )];
        let lm = head_own.as_ref().unwrap_or(&embd);
        kernels.insert(0, lm.kernel());
        let io = LinearIo {
            x_off: 0,
            x_stride: dim as u32,
            y_off: 0,
            y_stride: c.vocab_size as u32,
            acc: false,
            tokens: Some(1),
        };
        head.extend(lm.calls(s.xl, s.logits, None, io));
        head.extend(ops::topk(s.logits, s.partial, s.out, d.vocab));

        let what = format!("uploading the model to {}", ctx.adapter_info().name);
        let built = Built::new(ctx, p, [decode, prefill, head], &what).await?;
        let out_words = ops::topk_out_words();
        let staging = |label: &str, words: usize| {
            ctx.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 4 * words as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let (out_staging, logits_staging) = ctx
            .scoped(
                GpuFailure::Validation,
                "creating the readback buffers",
                || {
                    (
                        staging("top-k readback", out_words),
                        staging("logits readback", c.vocab_size),
                    )
                },
            )
            .await?;
        let [decode, prefill, head] = built.lists;
        Ok(GpuLlm {
            ctx: ctx.clone(),
            vocab: c.vocab_size,
            ctx_len,
            pos: 0,
            bufs: built.bufs,
            state: built.state,
            tokens: s.tokens,
            logits: s.logits,
            out: s.out,
            decode,
            prefill,
            head,
            out_staging,
            logits_staging,
            weight_bytes: built.weight_bytes,
            kernels,
        })
    }

    /// Tokens in the cache (the next token's position).
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn ctx_len(&self) -> usize {
        self.ctx_len
    }

    /// Forgets every token (keeps the buffers).
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Bytes of weights and tables uploaded.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    /// The adapter this runs on.
    pub fn adapter(&self) -> String {
        super::generate::adapter_name(&self.ctx)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// (storage type, pipeline) of the LM head and every linear matrix, in file order.
    pub fn kernels(&self) -> &[(String, String)] {
        &self.kernels
    }

    /// Dispatches of one decode step.
    pub fn dispatches(&self) -> usize {
        self.decode.len() + self.head.len()
    }

    fn check(&self, tokens: &[u32]) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::BadArgument {
                what: "prefill".into(),
                detail: "no tokens to run".into(),
            });
        }
        crate::llm::llama::check_feed(self.vocab, self.pos, self.ctx_len, tokens)
    }

    /// Runs the prompt `tokens` after what the cache holds and returns the candidates for the
    /// token after its last one.
    pub async fn prefill(&mut self, tokens: &[u32], draw: Draw) -> Result<Top> {
        self.check(tokens)?;
        let n = tokens.len().div_ceil(PREFILL_CHUNK);
        for (i, chunk) in tokens.chunks(PREFILL_CHUNK).enumerate() {
            self.submit(chunk, draw, false, i + 1 == n).await?;
        }
        self.read_top().await
    }

    /// Runs one token and returns the candidates for the next.
    pub async fn decode(&mut self, token: u32, draw: Draw) -> Result<Top> {
        self.check(&[token])?;
        self.submit(&[token], draw, true, true).await?;
        self.read_top().await
    }

    /// The logits `(vocab,)` of the last token run: reads back the whole vector, so only for
    /// tests and for a draw whose candidates fall outside the GPU's top-k.
    pub async fn logits(&self) -> Result<Vec<f32>> {
        let ctx = &self.ctx;
        let bytes = 4 * self.vocab as u64;
        ctx.scoped(GpuFailure::Validation, "reading the logits", || {
            let mut enc = ctx
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("logits readback"),
                });
            enc.copy_buffer_to_buffer(&self.bufs[self.logits], 0, &self.logits_staging, 0, bytes);
            ctx.queue().submit([enc.finish()]);
        })
        .await?;
        ctx.read_back(&self.logits_staging, self.vocab).await
    }

    /// One command buffer: `tokens` (one chunk) through the decode or prefill body, then the
    /// head when `last`, its candidates copied for readback.
    async fn submit(&mut self, tokens: &[u32], draw: Draw, decode: bool, last: bool) -> Result<()> {
        let t = tokens.len() as u32;
        let state = State {
            pos0: self.pos as u32,
            t,
            top_k: draw.top_k.clamp(1, ops::TOPK_MAX),
            temperature: draw.temperature,
        };
        let ctx = &self.ctx;
        let body = if decode { &self.decode } else { &self.prefill };
        let out_bytes = 4 * ops::topk_out_words() as u64;
        // (≤ 16,) token ids as bytes, on the stack: nothing is allocated per token
        let mut ids = [0u8; 4 * PREFILL_CHUNK];
        for (o, t) in ids.chunks_exact_mut(4).zip(tokens) {
            o.copy_from_slice(&t.to_le_bytes());
        }
        let ids = &ids[..4 * tokens.len()];
        ctx.scoped(GpuFailure::Validation, "running the model", || {
            ctx.queue().write_buffer(&self.bufs[self.tokens], 0, ids);
            ctx.queue().write_buffer(&self.state, 0, &state.bytes());
            let mut enc = ctx
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("llm step"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                let head: &[Step] = if last { &self.head } else { &[] };
                for st in body.iter().chain(head) {
                    pass.set_pipeline(&st.pipeline);
                    pass.set_bind_group(0, &st.group, &[]);
                    let [x, y, z] = st.groups_for(t);
                    pass.dispatch_workgroups(x, y, z);
                }
            }
            if last {
                enc.copy_buffer_to_buffer(&self.bufs[self.out], 0, &self.out_staging, 0, out_bytes);
            }
            ctx.queue().submit([enc.finish()]);
        })
        .await?;
        self.pos += tokens.len();
        Ok(())
    }

    /// Each dispatch of a decode step (the body, then the head) submitted and waited for on
    /// its own, `reps` times: per dispatch, its kernel and the fastest wall time in seconds.
    /// Decode state at the current position; the cache is not advanced. Native only (the
    /// browser cannot wait on the queue).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn time_steps(&self, reps: usize) -> Result<Vec<(String, f64)>> {
        let ctx = &self.ctx;
        let state = State {
            pos0: self.pos as u32,
            t: 1,
            top_k: 1,
            temperature: 0.0,
        };
        ctx.queue().write_buffer(&self.state, 0, &state.bytes());
        let mut out = Vec::with_capacity(self.decode.len() + self.head.len());
        for st in self.decode.iter().chain(&self.head) {
            let mut best = f64::MAX;
            for _ in 0..reps.max(1) {
                let mut enc =
                    ctx.device()
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("timed step"),
                        });
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    pass.set_pipeline(&st.pipeline);
                    pass.set_bind_group(0, &st.group, &[]);
                    let [x, y, z] = st.groups_for(1);
                    pass.dispatch_workgroups(x, y, z);
                }
                let t0 = std::time::Instant::now();
                ctx.queue().submit([enc.finish()]);
                ctx.device()
                    .poll(wgpu::PollType::Wait {
                        submission_index: None,
                        timeout: Some(std::time::Duration::from_secs(60)),
                    })
                    .map_err(|e| Error::Gpu {
                        kind: GpuFailure::Readback,
                        detail: format!("timing {}: {e}", st.name),
                    })?;
                best = best.min(t0.elapsed().as_secs_f64());
            }
            ctx.check()?;
            out.push((st.name.clone(), best));
        }
        Ok(out)
    }

    async fn read_top(&self) -> Result<Top> {
        let words = ops::topk_out_words();
        let v = self.ctx.read_back(&self.out_staging, words).await?;
        Ok(Top(v.into_iter().map(f32::to_bits).collect()))
    }
}

/// The device side of a plan: buffers, the state uniform, and the recorded lists.
struct Built {
    bufs: Vec<wgpu::Buffer>,
    state: wgpu::Buffer,
    lists: [Vec<Step>; 3],
    weight_bytes: u64,
}

impl Built {
    async fn new(
        ctx: &GpuContext,
        p: Planner,
        lists: [Vec<OpSpec<B>>; 3],
        what: &str,
    ) -> Result<Built> {
        for s in lists.iter().flatten() {
            super::dispatch::check_spec(s)?;
        }
        let mut pipelines = Vec::new();
        for l in &lists {
            let mut v = Vec::with_capacity(l.len());
            for s in l {
                v.push(ctx.pipeline(&s.pipeline).await?);
            }
            pipelines.push(v);
        }
        let dev = ctx.device();
        let stride = (4 * PARAM_WORDS as u64)
            .next_multiple_of(ctx.limits().min_uniform_buffer_offset_alignment as u64);
        let weight_bytes = p.weight_bytes;
        ctx.scoped(GpuFailure::Validation, what, || {
            let bufs: Vec<wgpu::Buffer> = p
                .bufs
                .iter()
                .map(|(label, c)| match c {
                    Content::Bytes(b) => storage(dev, label, b),
                    Content::Zeros(n) => dev.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(label),
                        size: n.next_multiple_of(4).max(16),
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_DST
                            | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    }),
                })
                .collect();
            let state = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("state"),
                size: 4 * super::STATE_WORDS as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut words = Vec::new();
            for s in lists.iter().flatten() {
                let at = words.len();
                words.extend_from_slice(&s.params);
                words.resize(at + (stride / 4) as usize, 0);
            }
            let params = params_buffer(dev, "step params", &words);
            let mut at = 0u64;
            let mut out: Vec<Vec<Step>> = Vec::new();
            for (l, ps) in lists.iter().zip(&pipelines) {
                let mut steps = Vec::with_capacity(l.len());
                for (s, pipeline) in l.iter().zip(ps) {
                    let mut entries = vec![
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &params,
                                offset: at,
                                size: wgpu::BufferSize::new(4 * PARAM_WORDS as u64),
                            }),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: state.as_entire_binding(),
                        },
                    ];
                    for (i, &b) in s.binds.iter().enumerate() {
                        entries.push(wgpu::BindGroupEntry {
                            binding: 2 + i as u32,
                            resource: bufs[b].as_entire_binding(),
                        });
                    }
                    let group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(&s.pipeline.name),
                        layout: &pipeline.get_bind_group_layout(0),
                        entries: &entries,
                    });
                    steps.push(Step {
                        name: s.pipeline.name.clone(),
                        pipeline: pipeline.clone(),
                        group,
                        groups: s.groups,
                        per_token: s.per_token,
                    });
                    at += stride;
                }
                out.push(steps);
            }
            let mut out = out.into_iter();
            let mut next = || out.next().unwrap_or_default();
            let lists = [next(), next(), next()];
            Built {
                bufs,
                state,
                lists,
                weight_bytes,
            }
        })
        .await
    }
}
