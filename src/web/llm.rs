//! The JS API of small LLMs: `TextGenerator`, a llama GGUF or sparse `.zsk` (weights read in
//! place), its tokenizer and one conversation, on WASM or WebGPU ([`Generator`] holds the
//! backend policy and the move to WASM when the GPU fails).
//!
//! The asynchronous calls (`prefillAsync`, `stepAsync`, `logitsAsync`, `benchPrefillAsync`,
//! `generateGreedyAsync`) run on either backend. The synchronous ones (`prefillSample`,
//! `stepSample`, `prefill`, `step`, `benchPrefill`, `generateGreedy`, `logits`) run on WASM
//! and throw a `State` error on a WebGPU generator: a GPU readback cannot be waited for
//! synchronously.

use super::{gpu_context, json, now_ms};
use crate::gpu::llm::Generator;
use crate::gpu::Backend;
use crate::llm::llama::Llama;
use crate::llm::sampler::{argmax, Sampler, SamplerConfig};
use crate::llm::tokenizer::Tokenizer;
use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A language model and one conversation. Every time comes from `performance.now()`.
#[wasm_bindgen]
pub struct TextGenerator {
    tok: Tokenizer,
    /// Shared with the promises of the asynchronous calls, which hold it while they run.
    gen: Rc<RefCell<Generator>>,
    file_bytes: usize,
    load_ms: f64,
}

fn busy() -> crate::Error {
    crate::Error::State {
        detail: "the generator is busy: await the previous asynchronous call first".into(),
    }
}

/// Parses the file, returning the model, its tokenizer and the context to open.
fn parse(
    name: &str,
    bytes: Vec<u8>,
    ctx: Option<usize>,
) -> crate::Result<(Llama, Tokenizer, usize)> {
    let (llama, tok) = Llama::load_with(name, bytes, Tokenizer::from_gguf)?;
    let ctx = ctx.unwrap_or(llama.cfg.context_length.min(2048));
    Ok((llama, tok, ctx))
}

/// `[ms, …]` results as a JS array of numbers.
fn timed(ms: f64, ids: impl IntoIterator<Item = u32>) -> Vec<f64> {
    std::iter::once(ms)
        .chain(ids.into_iter().map(f64::from))
        .collect()
}

#[wasm_bindgen]
impl TextGenerator {
    /// Parses the GGUF `bytes` (named `name` in errors) and opens a WASM session of `ctx`
    /// positions (default: the model's trained context, at most 2048).
    pub fn load(name: &str, bytes: Vec<u8>, ctx: Option<usize>) -> Result<TextGenerator, JsValue> {
        let t0 = now_ms();
        let file_bytes = bytes.len();
        let (llama, tok, ctx) = parse(name, bytes, ctx)?;
        let gen = Generator::on_wasm(llama, ctx)?;
        Ok(TextGenerator::new(tok, gen, file_bytes, t0))
    }

    /// [`TextGenerator::load`] onto `backend`: `auto` (WebGPU when a real GPU adapter can run
    /// the model, else WASM, and `fallback()` says why), `webgpu` (rejects with the reason when
    /// it cannot) or `wasm`. Resolves to a `TextGenerator`.
    pub async fn open(
        name: String,
        bytes: Vec<u8>,
        ctx: Option<usize>,
        backend: String,
    ) -> Result<TextGenerator, JsValue> {
        let t0 = now_ms();
        let backend = Backend::parse(&backend)?;
        let file_bytes = bytes.len();
        let (llama, tok, ctx) = parse(&name, bytes, ctx)?;
        let gen = Generator::open(llama, ctx, backend, gpu_context()).await?;
        Ok(TextGenerator::new(tok, gen, file_bytes, t0))
    }

    fn new(tok: Tokenizer, gen: Generator, file_bytes: usize, t0: f64) -> TextGenerator {
        TextGenerator {
            tok,
            gen: Rc::new(RefCell::new(gen)),
            file_bytes,
            load_ms: now_ms() - t0,
        }
    }

    fn g(&self) -> Result<RefMut<'_, Generator>, JsValue> {
        self.gen.try_borrow_mut().map_err(|_| busy().into())
    }

    /// `webgpu` or `wasm`: the engine that runs the model now.
    pub fn backend(&self) -> String {
        self.gen
            .try_borrow()
            .map_or("webgpu", |g| g.backend().as_str())
            .into()
    }

    /// Why WebGPU was wanted and is not what runs (at load, or since the GPU failed during a
    /// generation), or `undefined`.
    pub fn fallback(&self) -> Option<String> {
        let g = self.gen.try_borrow().ok()?;
        g.fallback()
            .map(|f| format!("{}: {}", f.reason.as_str(), f.detail))
    }

    /// The GPU adapter's name while the model runs on WebGPU.
    pub fn adapter(&self) -> Option<String> {
        let g = self.gen.try_borrow().ok()?;
        g.gpu().map(|m| m.adapter())
    }

    /// Destroys the GPU device (a test hook: the next call finds it lost and moves to WASM).
    #[doc(hidden)]
    #[wasm_bindgen(js_name = destroyDevice)]
    pub fn destroy_device(&self) {
        if let Ok(g) = self.gen.try_borrow() {
            if let Some(m) = g.gpu() {
                m.context().device().destroy();
            }
        }
    }

    /// Sets what the sampling calls draw with: `temperature` (0 = greedy), `topK` (0 = no
    /// limit), `topP` in (0, 1] and the generator's `seed` (an integer below 2^53). Errors name
    /// the parameter that is out of range.
    #[wasm_bindgen(js_name = setSampling)]
    pub fn set_sampling(
        &mut self,
        temperature: f32,
        top_k: usize,
        top_p: f32,
        seed: f64,
    ) -> Result<(), JsValue> {
        let s = Sampler::new(SamplerConfig {
            temperature,
            top_k,
            top_p,
            seed: seed as u64,
        })?;
        self.g()?.set_sampler(s);
        Ok(())
    }

    /// Runs `ids` after what the session holds; resolves to the next token drawn by the
    /// sampler. On WebGPU only the sampler's candidates are read back.
    #[wasm_bindgen(js_name = prefillAsync)]
    pub fn prefill_async(&self, ids: Vec<u32>) -> js_sys::Promise {
        let gen = self.gen.clone();
        #[allow(clippy::await_holding_refcell_ref)]
        let run = async move {
            let mut g = gen.try_borrow_mut().map_err(|_| busy())?;
            let t = g.prefill(&ids).await?;
            Ok(JsValue::from(t))
        };
        wasm_bindgen_futures::future_to_promise(run)
    }

    /// Runs one token; resolves to the next token drawn by the sampler.
    #[wasm_bindgen(js_name = stepAsync)]
    pub fn step_async(&self, id: u32) -> js_sys::Promise {
        let gen = self.gen.clone();
        #[allow(clippy::await_holding_refcell_ref)]
        let run = async move {
            let mut g = gen.try_borrow_mut().map_err(|_| busy())?;
            let t = g.step(id).await?;
            Ok(JsValue::from(t))
        };
        wasm_bindgen_futures::future_to_promise(run)
    }

    /// Resolves to the logits of the last token run (on WebGPU, reads them all back: for
    /// tests).
    #[wasm_bindgen(js_name = logitsAsync)]
    pub fn logits_async(&self) -> js_sys::Promise {
        let gen = self.gen.clone();
        #[allow(clippy::await_holding_refcell_ref)]
        let run = async move {
            let mut g = gen.try_borrow_mut().map_err(|_| busy())?;
            let l = g.logits().await?;
            Ok(js_sys::Float32Array::from(&l[..]).into())
        };
        wasm_bindgen_futures::future_to_promise(run)
    }

    /// `prefillAsync` with the greedy sampler, timed: resolves to `[ms, next token]`.
    #[wasm_bindgen(js_name = benchPrefillAsync)]
    pub fn bench_prefill_async(&self, ids: Vec<u32>) -> js_sys::Promise {
        let gen = self.gen.clone();
        #[allow(clippy::await_holding_refcell_ref)]
        let run = async move {
            let mut g = gen.try_borrow_mut().map_err(|_| busy())?;
            let t0 = now_ms();
            let saved = g.swap_sampler(Sampler::greedy());
            let next = g.prefill(&ids).await;
            g.swap_sampler(saved);
            let next = next?;
            let out = timed(now_ms() - t0, [next]);
            Ok(js_sys::Float64Array::from(&out[..]).into())
        };
        wasm_bindgen_futures::future_to_promise(run)
    }

    /// Greedy decoding of `n` tokens starting by feeding `first`: resolves to
    /// `[ms, id_1, …, id_n]`. Stops at nothing (not even EOS).
    #[wasm_bindgen(js_name = generateGreedyAsync)]
    pub fn generate_greedy_async(&self, first: u32, n: usize) -> js_sys::Promise {
        let gen = self.gen.clone();
        #[allow(clippy::await_holding_refcell_ref)]
        let run = async move {
            let mut g = gen.try_borrow_mut().map_err(|_| busy())?;
            check_room(&g, n)?;
            let t0 = now_ms();
            let saved = g.swap_sampler(Sampler::greedy());
            let mut ids = Vec::with_capacity(n);
            let mut id = first;
            let mut failed = None;
            for _ in 0..n {
                match g.step(id).await {
                    Ok(t) => id = t,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                ids.push(id);
            }
            g.swap_sampler(saved);
            if let Some(e) = failed {
                return Err(e.into());
            }
            let out = timed(now_ms() - t0, ids);
            Ok(js_sys::Float64Array::from(&out[..]).into())
        };
        wasm_bindgen_futures::future_to_promise(run)
    }

    /// Runs `ids` after what the session holds (WASM); returns the next token drawn by the
    /// sampler.
    #[wasm_bindgen(js_name = prefillSample)]
    pub fn prefill_sample(&mut self, ids: &[u32]) -> Result<u32, JsValue> {
        let mut g = self.g()?;
        let (llama, s, sampler) = g.wasm_parts()?;
        let t = sampler.sample(llama.prefill(s, ids)?)?;
        g.note_fed(ids, true);
        Ok(t)
    }

    /// Runs one token (WASM); returns the next token drawn by the sampler.
    #[wasm_bindgen(js_name = stepSample)]
    pub fn step_sample(&mut self, id: u32) -> Result<u32, JsValue> {
        let mut g = self.g()?;
        let (llama, s, sampler) = g.wasm_parts()?;
        let t = sampler.sample(llama.decode(s, id)?)?;
        g.note_fed(&[id], false);
        Ok(t)
    }

    /// A copy of the logits of the last token run on WASM (zeros before any), for tests that
    /// compare runs bit for bit (tests/browser/threads.mjs).
    pub fn logits(&self) -> Result<Vec<f32>, JsValue> {
        Ok(self.g()?.wasm()?.logits().to_vec())
    }

    /// The file's chat template (ChatML) applied to one user message (after `system`, or the
    /// template's default system message), ending with the assistant's header: tokenize it
    /// with `encode(prompt, true)`.
    #[wasm_bindgen(js_name = chatPrompt)]
    pub fn chat_prompt(&self, user: &str, system: Option<String>) -> Result<String, JsValue> {
        use crate::llm::tokenizer::Message;
        // A file whose template cannot make this chat lacks a feature rather than being
        // corrupt: the code the npm API has always given this call.
        let template = self
            .tok
            .chat_template()
            .map_err(|e| super::js_error(&e, "Unsupported"))?;
        let mut messages = Vec::new();
        if let Some(system) = system {
            messages.push(Message::new("system", &system));
        }
        messages.push(Message::new("user", user));
        Ok(template.render(&messages, true))
    }

    /// Positions the session holds at most (`ctx` of `load`).
    pub fn ctx(&self) -> Result<usize, JsValue> {
        Ok(self.g()?.ctx_len())
    }

    /// Token ids of `text`; `special` also matches added/special tokens written in the text
    /// (e.g. `<|im_start|>`). No BOS is added.
    pub fn encode(&self, text: &str, special: bool) -> Vec<u32> {
        self.tok.encode(text, special)
    }

    /// The text of `ids` (invalid UTF-8 becomes U+FFFD).
    #[wasm_bindgen(js_name = decodeText)]
    pub fn decode_text(&self, ids: &[u32]) -> Result<String, JsValue> {
        Ok(self.tok.decode(ids)?)
    }

    /// The raw bytes of token `id`: feed them to a `TextDecoder` with `{stream: true}` to
    /// stream text (a character may span tokens).
    #[wasm_bindgen(js_name = tokenBytes)]
    pub fn token_bytes(&self, id: u32) -> Result<Vec<u8>, JsValue> {
        self.tok.token_bytes(id).map(<[u8]>::to_vec).ok_or_else(|| {
            crate::Error::BadArgument {
                what: "token id".into(),
                detail: format!("{id} is outside the vocabulary"),
            }
            .into()
        })
    }

    /// `tokenizer.ggml.bos_token_id` when the model wants prompts to start with it.
    #[wasm_bindgen(js_name = bosToAdd)]
    pub fn bos_to_add(&self) -> Option<u32> {
        self.tok.bos.filter(|_| self.tok.add_bos)
    }

    /// `tokenizer.ggml.eos_token_id`.
    pub fn eos(&self) -> Option<u32> {
        self.tok.eos
    }

    /// Forgets every token of the session (keeps its buffers).
    pub fn reset(&mut self) -> Result<(), JsValue> {
        self.g()?.reset();
        Ok(())
    }

    /// Tokens in the session.
    pub fn pos(&self) -> Result<usize, JsValue> {
        Ok(self.g()?.pos())
    }

    /// Runs `ids` after what the session holds (WASM); returns the greedy (argmax) next token.
    pub fn prefill(&mut self, ids: &[u32]) -> Result<u32, JsValue> {
        let mut g = self.g()?;
        let (llama, s, _) = g.wasm_parts()?;
        let t = argmax(llama.prefill(s, ids)?) as u32;
        g.note_fed(ids, true);
        Ok(t)
    }

    /// Runs one token (WASM); returns the greedy next token.
    pub fn step(&mut self, id: u32) -> Result<u32, JsValue> {
        let mut g = self.g()?;
        let (llama, s, _) = g.wasm_parts()?;
        let t = argmax(llama.decode(s, id)?) as u32;
        g.note_fed(&[id], false);
        Ok(t)
    }

    /// [`TextGenerator::prefill`], timed: `[ms, next token]`.
    #[wasm_bindgen(js_name = benchPrefill)]
    pub fn bench_prefill(&mut self, ids: &[u32]) -> Result<Vec<f64>, JsValue> {
        let t0 = now_ms();
        let next = self.prefill(ids)?;
        Ok(timed(now_ms() - t0, [next]))
    }

    /// Greedy decoding (WASM) of `n` tokens starting by feeding `first` (e.g. `benchPrefill`'s
    /// next token): `[ms, id_1, …, id_n]`, where `id_1` is what follows `first`. Stops at
    /// nothing (not even EOS), so every call decodes exactly `n` tokens.
    #[wasm_bindgen(js_name = generateGreedy)]
    pub fn generate_greedy(&mut self, first: u32, n: usize) -> Result<Vec<f64>, JsValue> {
        check_room(&*self.g()?, n)?;
        let t0 = now_ms();
        let mut ids = Vec::with_capacity(n);
        let mut id = first;
        for _ in 0..n {
            id = self.step(id)?;
            ids.push(id);
        }
        Ok(timed(now_ms() - t0, ids))
    }

    /// `{"gemv": {"q4_1": "linear_q4_1_r4t1__relaxed", …}, "matrices": N}`: the decode kernel
    /// each of the model's weight types runs on (WGSL pipelines on WebGPU).
    pub fn kernels(&self) -> Result<String, JsValue> {
        let g = self.g()?;
        Ok(match g.gpu() {
            Some(m) => {
                #[derive(serde::Serialize)]
                struct Report<'a> {
                    gemv: std::collections::BTreeMap<&'a str, &'a str>,
                    matrices: usize,
                }
                let gemv = m
                    .kernels()
                    .iter()
                    .map(|(t, k)| (t.as_str(), k.as_str()))
                    .collect();
                json(&Report {
                    gemv,
                    matrices: m.kernels().len(),
                })
            }
            None => json(&g.llama.kernel_report()),
        })
    }

    /// `{n_layers, dim, ffn_dim, n_heads, n_kv_heads, vocab_size, context_length, ctx}`.
    pub fn config(&self) -> Result<String, JsValue> {
        let g = self.g()?;
        Ok(json(&g.llama.cfg.report(g.ctx_len())))
    }

    /// Size of the GGUF file.
    #[wasm_bindgen(js_name = fileBytes)]
    pub fn file_bytes(&self) -> usize {
        self.file_bytes
    }

    /// Bytes of the session: the WASM KV cache and scratch, or on WebGPU the bytes uploaded.
    #[wasm_bindgen(js_name = sessionBytes)]
    pub fn session_bytes(&self) -> Result<f64, JsValue> {
        let mut g = self.g()?;
        if let Some(m) = g.gpu() {
            return Ok(m.weight_bytes() as f64);
        }
        Ok(g.wasm()?.bytes() as f64)
    }

    /// Time `load` took (parse, tokenizer, session; on WebGPU the upload and pipelines too).
    #[wasm_bindgen(js_name = loadMs)]
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// Fraction of the linear layers' weights that are not stored (0 for a dense GGUF; ≈ 0.5
    /// for a `g16-s50` sparse `.zsk`).
    pub fn sparsity(&self) -> Result<f64, JsValue> {
        Ok(self.g()?.llama.weights.sparsity())
    }

    /// The activation-sparsity method of the file's thresholds (`teal`, `wina` or `gate`), or
    /// `undefined` when decode keeps every input.
    #[wasm_bindgen(js_name = actMethod)]
    pub fn act_method(&self) -> Option<String> {
        let g = self.gen.try_borrow().ok()?;
        g.llama.act().map(|a| a.method.name().to_string())
    }

    /// The activation sparsity the thresholds were calibrated for (`undefined` without them).
    #[wasm_bindgen(js_name = actTarget)]
    pub fn act_target(&self) -> Option<f32> {
        let g = self.gen.try_borrow().ok()?;
        g.llama.act().map(|a| a.target)
    }

    /// The last decoded token's `[skipped, zero]`: the fraction of the linear layers'
    /// multiply-adds a kernel skipped (weight columns not read) and the fraction whose input
    /// was zero. `[0, 0]` without thresholds, and on WebGPU (not counted there).
    #[wasm_bindgen(js_name = actLast)]
    pub fn act_last(&self) -> Vec<f64> {
        let s = self.stats(|s| s.act_last());
        vec![s.skipped_fraction(), s.zero_fraction()]
    }

    /// `[tokens, skipped, zero]` over every token run on WASM with thresholds since the last
    /// `clearActStats` (fractions weighted by multiply-adds).
    #[wasm_bindgen(js_name = actTotal)]
    pub fn act_total(&self) -> Vec<f64> {
        let s = self.stats(|s| s.act_total());
        vec![s.tokens as f64, s.skipped_fraction(), s.zero_fraction()]
    }

    fn stats(
        &self,
        f: impl Fn(&crate::llm::llama::Session) -> crate::llm::act::ActStats,
    ) -> crate::llm::act::ActStats {
        match self.gen.try_borrow_mut() {
            Ok(mut g) => g.wasm().map(|s| f(s)).unwrap_or_default(),
            Err(_) => Default::default(),
        }
    }

    /// Zeroes `actLast` and `actTotal` (`reset` keeps them).
    #[wasm_bindgen(js_name = clearActStats)]
    pub fn clear_act_stats(&mut self) -> Result<(), JsValue> {
        if let Ok(s) = self.g()?.wasm() {
            s.clear_act_stats();
        }
        Ok(())
    }
}

/// Refuses `n` decode steps that do not fit the session, before anything is sized from `n`.
fn check_room(g: &Generator, n: usize) -> crate::Result<()> {
    let left = g.ctx_len() - g.pos();
    if n > left {
        return Err(crate::Error::BadArgument {
            what: "generateGreedy: n".into(),
            detail: format!("{n} tokens do not fit the {left} positions left in the session"),
        });
    }
    Ok(())
}
