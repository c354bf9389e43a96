// The inference host: loads the wasm build, reads model files (Cache API, progress), runs
// classification (decode, PIL-exact resize, normalize, top-k), raw sessions and streamed text
// generation. It runs inside the package's Web Worker (worker.js) by default, or on the
// calling thread (`worker: false`, and always in Node). It speaks messages only:
//
//   in:  {id, op: 'load' | 'classify' | 'run' | 'generate' | 'memory', args}, {op: 'abort', target}
//   out: {id, type: 'progress' | 'token' | 'result' | 'error', ...}
//        (a token: {text, id, actSkipped, actZero, backend}, and `fallback` on the first one that
//        WASM produced after a GPU failure moved the generator there)
//
// Every op waits for the one before it (a model runs one thing at a time); 'abort' does not.

import { ZeroskipError, ERROR_CODES, serializeError, abortError } from './errors.js';
import { threadSupport } from './features.js';
import { loadWasm, resolveIsa } from './wasm.js';
import { fetchCached } from './fetch.js';
import { IMAGENET, checkPixels, decodeImage, preprocess } from './image.js';
import { probabilities, topK as topIndices } from './tensor.js';

const fail = (code, message) => new ZeroskipError(code, message);
const now = () => (typeof performance === 'object' ? performance.now() : Date.now());

/** Lets queued messages (an abort) in between two tokens, without the 4 ms timer clamp. */
const yieldTask =
  typeof setImmediate === 'function'
    ? () => new Promise((r) => setImmediate(r))
    : typeof MessageChannel === 'function'
      ? () =>
          new Promise((r) => {
            const ch = new MessageChannel();
            ch.port1.onmessage = () => {
              ch.port1.close();
              r();
            };
            ch.port2.postMessage(0);
          })
      : () => new Promise((r) => setTimeout(r, 0));

// ---- model files --------------------------------------------------------------------------------

function nameOf(url) {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop()) || url;
  } catch {
    return String(url);
  }
}

/** 'gguf' | 'llm-zsk' | 'zsk' | 'tfjs' | 'onnx' from the first bytes. */
function sniff(bytes) {
  const ascii = (n) => String.fromCharCode(...bytes.subarray(0, n));
  if (bytes.length >= 4 && ascii(4) === 'GGUF') return 'gguf';
  // a sparse LLM .zsk (docs/zsk.md): a header, then a GGUF
  if (bytes.length >= 8 && ascii(8) === 'ZSKLLM\0\0') return 'llm-zsk';
  if (bytes.length >= 8 && ascii(8) === 'ZEROSKIP') return 'zsk';
  let i = 0;
  while (i < bytes.length && i < 64 && /\s/.test(String.fromCharCode(bytes[i]))) i++;
  if (bytes[i] === 0x7b) return 'tfjs'; // '{': a model.json
  return 'onnx';
}

/**
 * The engine's error as a ZeroskipError. Errors from the wasm build carry their own `code` (one of
 * ERROR_CODES, set from the Rust error variant; 'NoWebGPU' when WebGPU was refused or lost):
 * that code wins. `code` is the fallback for errors without one (a wasm trap is 'Runtime').
 */
function engineError(err, code) {
  if (err instanceof ZeroskipError) return err;
  const message = String(err?.message ?? err);
  if (ERROR_CODES.includes(err?.code)) return fail(err.code, message);
  if (err instanceof WebAssembly.RuntimeError) return fail('Runtime', `the engine crashed (${message}): load the model again`);
  return fail(code, message);
}

// ---- images -------------------------------------------------------------------------------------

/** An image message → {data: RGBA bytes, width, height}. */
async function pixelsOf(image) {
  if (image.type === 'pixels') return checkPixels(image);
  if (image.type === 'blob') {
    // before decodeImage's runtime check: an empty file is the caller's mistake everywhere, even
    // where nothing could decode a real one (Node)
    if (!image.blob.size) throw fail('BadImage', 'the image file is empty');
    return decodeImage(image.blob);
  }
  try {
    return await decodeImage(image.bitmap);
  } finally {
    image.bitmap?.close?.(); // transferred or cloned to this thread: ours to free
  }
}

// ---- threads ------------------------------------------------------------------------------------

/**
 * The threads a model asks for: `threads` (an integer ≥ 1), or by default ('auto', undefined) the
 * logical cores, at most 4 (more rarely pays on the small steps of these models).
 */
function threadsWanted(threads) {
  if (threads !== undefined && threads !== null && threads !== 'auto') return threads;
  const cores = typeof navigator === 'object' ? Number(navigator?.hardwareConcurrency) || 1 : 1;
  return Math.max(1, Math.min(4, cores));
}

/**
 * The build of `isa` for `threads` (see threadsWanted): `{zs, threads, threadsReason}`, the count
 * calls use and, when it is below the count asked for (or the default), why. Never fails for want
 * of threads: a runtime without them, or a threaded build that does not start, runs the model on
 * one thread and says so.
 */
async function startBuild(isa, threads, wasmSource) {
  const want = threadsWanted(threads);
  const support = threadSupport();
  let zs;
  let why = null;
  if (want > 1 && !support.ok) why = support.reason;
  else if (want > 1) {
    try {
      zs = await loadWasm(isa, { wasmSource, threads: want });
    } catch (err) {
      if (!(err instanceof ZeroskipError) || err.code === 'BadInput') throw err;
      why = `the threaded build did not start (${err.message}), so the model runs on one thread`;
    }
  }
  zs ??= await loadWasm(isa, { wasmSource });
  const used = zs.threads();
  // Only a model on the calling thread (worker: false), sharing its build's pool with the models
  // before it, can get fewer than it asked for here: every model worker starts its own pool.
  if (!why && used < want) why = `the ${resolveIsa(isa)} build's pool in this context has ${used} thread${used > 1 ? 's' : ''}: it was started for fewer than ${want}`;
  return { zs, threads: used, threadsReason: why };
}

// ---- the host -----------------------------------------------------------------------------------

/**
 * A host that answers messages through `post(msg, transfer)`. `wasmSource(isa)`, when given,
 * returns the .wasm bytes (Node: read from disk); otherwise the build fetches its own file.
 */
export function createHost(post, { wasmSource } = {}) {
  let gpuName = null; // the adapter's name from navigator.gpu, where the engine gives none
  const whereGen = (gen) => where(gen, gpuName);
  let model = null; // {kind: 'image-classifier' | 'session' | 'text-generator', ...}
  let wasmMemory = null; // the build's WebAssembly.Memory, once load() started it
  let chain = Promise.resolve();
  const aborted = new Set();

  const ops = {
    async load(id, a) {
      if (model) throw fail('BadInput', 'this host already holds a model');
      const progress = (p) => post({ id, type: 'progress', progress: { ...p, url: a.url ?? null } });
      const { zs, threads, threadsReason } = await startBuild(a.isa, a.threads, wasmSource);
      wasmMemory = (await zs.default()).memory; // initialised already: default() returns its exports
      const isa = resolveIsa(a.isa);
      let bytes = a.bytes;
      let fromCache = false;
      let save = () => {};
      if (!bytes && a.blob) bytes = new Uint8Array(await a.blob.arrayBuffer());
      if (!bytes) {
        try {
          ({ bytes, fromCache, save } = await fetchCached(a.url, { cache: a.cache, onProgress: (loaded, total, cached) => progress({ phase: 'download', loaded, total, fromCache: cached }) }));
        } catch (err) {
          // A body cut short (the connection dropped mid-download) rejects with the runtime's own
          // error, "terminated" in Node: a network failure, and the message names the URL.
          if (err instanceof ZeroskipError) throw err;
          throw fail('Network', `could not download ${a.url}: ${String(err?.message ?? err)}`);
        }
      }
      const name = a.name ?? (a.url ? nameOf(a.url) : 'model');
      if (!bytes.length) throw fail('BadModel', `${name}: the file is empty`);
      const format = sniff(bytes);
      const fileBytes = bytes.length;
      progress({ phase: 'compile', loaded: fileBytes, total: fileBytes, fromCache });
      const t0 = now();
      const common = { name, isa, fileBytes, fromCache, format, threads, threadsReason };
      if (format === 'gguf' || format === 'llm-zsk') {
        if (a.kind !== 'auto' && a.kind !== 'text-generator') throw fail('BadInput', `${name} is a language model (${format}): kind must be 'text-generator'`);
        // 'webgpu' rejects (NoWebGPU) when WebGPU cannot run the model; 'auto' then runs WASM
        // and gen.fallback() says why (no adapter, a CPU-emulated one, its limits, the format)
        let gen;
        try {
          gen = await zs.TextGenerator.open(name, bytes, a.contextLength ?? undefined, a.backend ?? 'auto');
        } catch (err) {
          throw engineError(err, 'BadModel');
        }
        bytes = null;
        save();
        // the engine's adapter name can be empty in browsers (wgpu reads little of the adapter's
        // info there): navigator.gpu's own then names it
        if (gen.backend() === 'webgpu' && !gen.adapter()) gpuName = await browserAdapterName();
        model = { kind: 'text-generator', gen };
        const config = JSON.parse(gen.config());
        const actMethod = gen.actMethod();
        return {
          ...common, kind: 'text-generator', ...whereGen(gen),
          loadMs: now() - t0, config, kernels: JSON.parse(gen.kernels()), sessionBytes: gen.sessionBytes(),
          eos: gen.eos() ?? null, hasChatTemplate: hasChat(gen), weightSparsity: gen.sparsity(),
          act: actMethod === undefined ? null : { method: actMethod, target: Number(gen.actTarget().toFixed(6)) },
        };
      }
      if (format === 'tfjs') throw fail('BadModel', `${name}: a TF.js model.json; load() reads ONNX, GGUF and .zsk files (TF.js graph models: Model.fromTfjs in the wasm package)`);
      let m;
      try {
        if (format === 'zsk') {
          if (a.backend === 'webgpu') throw fail('NoWebGPU', `${name}: .zsk models run on WASM only; use backend 'auto' or 'wasm'`);
          m = zs.Model.fromZsk(name, bytes);
        } else {
          m = await zs.Model.open(name, bytes, a.backend, !!a.dense);
        }
      } catch (err) {
        throw engineError(err, 'BadModel');
      }
      save();
      const [c, hgt, wdt] = Array.from(m.inputShape());
      const outputs = JSON.parse(m.outputs());
      const classes = outputs[0]?.len ?? 0;
      const looksLikeClassifier = c === 3 && hgt === wdt && hgt > 0 && classes >= 2;
      let kind = a.kind === 'auto' ? (looksLikeClassifier && (classes === 1000 || classes === 1001 || a.labels) ? 'image-classifier' : 'session') : a.kind;
      if (kind === 'text-generator') throw fail('BadInput', `${name} is not a language model`);
      if (kind === 'image-classifier' && !looksLikeClassifier) {
        throw fail('BadInput', `${name}: input [${c}, ${hgt}, ${wdt}] is not a square RGB image; load it with kind 'session'`);
      }
      const layers = JSON.parse(m.report());
      const info = {
        ...common, kind, backend: m.backend(), fallback: m.fallback() ?? null, loadMs: now() - t0,
        inputShape: [c, hgt, wdt], outputs, layers, ...layerSummary(layers),
      };
      model = { kind, m, info };
      if (kind === 'image-classifier') {
        const pre = a.preprocess ?? {};
        const labels = await labelList(a.labels);
        const offset = a.labelOffset ?? (classes === 1001 ? 1 : 0);
        model.classifier = {
          size: pre.size ?? hgt,
          resize: pre.resize ?? Math.round((hgt * 256) / 224),
          mean: pre.mean ?? IMAGENET.mean,
          std: pre.std ?? IMAGENET.std,
          labels,
          offset,
        };
        info.classes = classes - offset;
        info.labels = labels ? labels.length : 0;
      }
      return info;
    },

    async memory() {
      return { wasmBytes: wasmMemory ? wasmMemory.buffer.byteLength : 0 };
    },

    async classify(id, a) {
      const { m, classifier: k } = need('image-classifier', 'classify');
      const topK = a.topK ?? 5;
      if (!(Number.isInteger(topK) && topK >= 1)) throw fail('BadInput', `topK must be an integer ≥ 1, not ${a.topK}`);
      const t0 = now();
      const pixels = await pixelsOf(a.image);
      const { tensor, crop } = preprocess(pixels, k);
      const t1 = now();
      let y;
      try {
        y = await m.runAsync(tensor);
      } catch (err) {
        throw engineError(err, 'Runtime');
      }
      const t2 = now();
      const p = probabilities(y);
      const predictions = topIndices(p, topK).map((i) => {
        const index = i - k.offset;
        const label = index < 0 ? 'background' : (k.labels?.[index] ?? `class ${index}`);
        return { index, label, probability: p[i] };
      });
      const result = {
        predictions, preprocessMs: t1 - t0, inferenceMs: t2 - t1, backend: m.backend(), fallback: m.fallback() ?? null,
        isa: model.info.isa, imageSize: [pixels.width, pixels.height],
      };
      if (a.crop) result.crop = { data: crop, width: k.size, height: k.size };
      return result;
    },

    async run(id, a) {
      const { m } = need('session', 'run');
      const want = model.info.inputShape.reduce((x, y) => x * y, 1);
      if (!(a.input instanceof Float32Array) || a.input.length !== want) {
        throw fail('BadInput', `input: expected a Float32Array of ${want} values (${model.info.inputShape.join('×')}), got ${a.input?.length ?? typeof a.input}`);
      }
      const t0 = now();
      let y;
      try {
        y = await m.runAsync(a.input);
      } catch (err) {
        throw engineError(err, 'Runtime');
      }
      return { output: y, ms: now() - t0, backend: m.backend(), fallback: m.fallback() ?? null };
    },

    async generate(id, a) {
      const { gen } = need('text-generator', 'generate');
      const o = a.options;
      const maxTokens = o.maxTokens ?? 128;
      if (!(Number.isInteger(maxTokens) && maxTokens >= 1)) throw fail('BadInput', `maxTokens must be an integer ≥ 1, not ${o.maxTokens}`);
      if (!(Number.isInteger(o.seed ?? 0) && (o.seed ?? 0) >= 0)) throw fail('BadInput', `seed must be an integer ≥ 0, not ${o.seed}`);
      if (!(Number.isInteger(o.topK ?? 0) && (o.topK ?? 0) >= 0)) throw fail('BadInput', `topK must be an integer ≥ 0 (0 = off), not ${o.topK}`);
      try {
        gen.setSampling(o.temperature ?? 0, o.topK ?? 0, o.topP ?? 1, o.seed ?? 0);
      } catch (err) {
        throw fail('BadInput', String(err?.message ?? err));
      }
      let text = String(a.prompt ?? '');
      try {
        if (o.chat) text = gen.chatPrompt(text, o.system ?? undefined);
      } catch (err) {
        throw fail('Unsupported', String(err?.message ?? err));
      }
      const bos = gen.bosToAdd();
      const ids = [...(bos === undefined ? [] : [bos]), ...gen.encode(text, !!o.chat)];
      if (ids.length === 0) throw fail('BadInput', 'the prompt is empty');
      const ctx = gen.ctx();
      if (ids.length >= ctx) throw fail('BadInput', `the prompt is ${ids.length} tokens; the context holds ${ctx}`);
      const budget = Math.min(maxTokens, ctx - ids.length);
      const eos = gen.eos();
      const decoder = new TextDecoder('utf-8');
      const stats = {
        promptTokens: ids.length, tokens: 0, prefillMs: 0, decodeMs: 0, finishReason: 'length', actSkipped: null, actZero: null,
        backend: null, fallback: null, adapter: null, prefillBackend: null, switchedAt: null, byBackend: {},
      };
      const check = () => {
        if (aborted.has(id)) throw abortError('generation');
      };
      // A test hook (not part of the typed API): destroy the GPU device just before the pass that
      // produces token `_loseDeviceAt` (0: before the prompt), as a lost device would.
      const loseAt = Number.isInteger(o._loseDeviceAt) ? o._loseDeviceAt : null;
      const maybeLose = () => {
        if (loseAt === stats.tokens && gen.backend() === 'webgpu') gen.destroyDevice();
      };
      // Decode steps per backend ({tokens, ms}): a step is counted on the backend that answered it
      // (a GPU failure mid-step re-runs the tokens so far on WASM: that step is WASM's, recovery
      // included).
      const perBackend = {};
      const tally = (backend, ms) => {
        const b = (perBackend[backend] ??= { tokens: 0, ms: 0 });
        b.tokens++;
        b.ms += ms;
      };
      try {
        gen.reset();
        gen.clearActStats();
        const started = gen.backend();
        maybeLose();
        let t0 = now();
        // prefillAsync / stepAsync never reject for a GPU failure: the generator moves to WASM,
        // re-runs the tokens so far and answers from there (backend() and fallback() say so)
        let next = await gen.prefillAsync(Uint32Array.from(ids));
        stats.prefillMs = now() - t0;
        let backend = gen.backend();
        stats.prefillBackend = backend;
        // the index of the first token WASM produced after WebGPU failed (0: during the prefill)
        if (backend !== started) stats.switchedAt = 0;
        // activation sparsity of the pass that produced `next`: null for prefill's token, and for
        // a WebGPU pass (not measured there)
        let [actSkipped, actZero] = [null, null];
        for (let i = 0; ; i++) {
          if (o.stopAtEos !== false && next === eos) {
            stats.finishReason = 'eos';
            break;
          }
          const piece = decoder.decode(gen.tokenBytes(next), { stream: true });
          stats.tokens++;
          const token = { text: piece, id: next, actSkipped, actZero, backend };
          // the first token after a move to WASM carries why (the page sees it before the end)
          if (stats.switchedAt === stats.tokens - 1) token.fallback = gen.fallback() ?? null;
          post({ id, type: 'token', token });
          if (i + 1 >= budget) break;
          await yieldTask();
          check();
          maybeLose();
          t0 = now();
          next = await gen.stepAsync(next);
          const ms = now() - t0;
          stats.decodeMs += ms;
          const was = backend;
          backend = gen.backend();
          if (backend !== was && stats.switchedAt === null) stats.switchedAt = stats.tokens;
          tally(backend, ms);
          [actSkipped, actZero] = backend === 'wasm' ? gen.actLast() : [null, null];
        }
        const rest = decoder.decode();
        if (rest) post({ id, type: 'token', token: { text: rest, id: null, actSkipped: null, actZero: null, backend } });
        // over the tokens WASM decoded (prefill is dense; WebGPU does not measure it): 0 without
        // thresholds, null when WASM decoded none
        const [actTokens, skipped, zero] = gen.actTotal();
        if (actTokens > 0 || perBackend.wasm) [stats.actSkipped, stats.actZero] = [skipped, zero];
        Object.assign(stats, whereGen(gen));
      } catch (err) {
        throw engineError(err, 'Runtime');
      } finally {
        aborted.delete(id);
      }
      const perSecond = (n, ms) => (ms > 0 && n > 0 ? (1000 * n) / ms : null);
      stats.prefillTokensPerSecond = perSecond(stats.promptTokens, stats.prefillMs);
      stats.tokensPerSecond = stats.tokens > 1 ? perSecond(stats.tokens - 1, stats.decodeMs) : null;
      for (const [b, x] of Object.entries(perBackend)) stats.byBackend[b] = { tokens: x.tokens, decodeMs: x.ms, tokensPerSecond: perSecond(x.tokens, x.ms) };
      return stats;
    },
  };

  function need(kind, op) {
    if (!model) throw fail('Disposed', 'no model is loaded');
    const ok = kind === 'session' ? model.kind === 'session' || model.kind === 'image-classifier' : model.kind === kind;
    if (!ok) throw fail('BadInput', `${op}() needs a ${kind} model; this one is a ${model.kind}`);
    return model;
  }

  async function labelList(labels) {
    if (!labels) return null;
    if (Array.isArray(labels)) return labels.map(String);
    const res = await fetch(labels).catch((err) => {
      throw fail('Network', `could not fetch the labels ${labels}: ${err?.message ?? err}`);
    });
    if (!res.ok) throw fail('Network', `could not fetch the labels ${labels}: HTTP ${res.status}`);
    return (await res.text()).split('\n').map((s) => s.trim()).filter(Boolean);
  }

  return function onMessage(msg) {
    if (msg.op === 'abort') {
      aborted.add(msg.target);
      return;
    }
    const { id, op, args } = msg;
    const run = async () => {
      if (!ops[op]) throw fail('BadInput', `unknown op ${op}`);
      if (aborted.has(id)) throw abortError(op);
      return ops[op](id, args ?? {});
    };
    chain = chain.then(run).then(
      (result) => post({ id, type: 'result', result }, transferables(result)),
      (err) => {
        aborted.delete(id);
        post({ id, type: 'error', error: serializeError(err) });
      },
    );
  };
}

function hasChat(gen) {
  try {
    gen.chatPrompt('x', undefined);
    return true;
  } catch {
    return false;
  }
}

/**
 * What runs a text generator now: `{backend, fallback, adapter}` ('webgpu' | 'wasm'; why WebGPU
 * was wanted and is not what runs, or null; the GPU adapter's name on WebGPU (the engine's, else
 * `name`), else null).
 */
function where(gen, name) {
  const backend = gen.backend();
  return { backend, fallback: gen.fallback() ?? null, adapter: backend === 'webgpu' ? gen.adapter() || name || null : null };
}

/** "google swiftshader": the vendor, architecture and description navigator.gpu gives, or null. */
async function browserAdapterName() {
  try {
    const a = await globalThis.navigator?.gpu?.requestAdapter();
    const i = a?.info ?? {};
    return [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || null;
  } catch {
    return null;
  }
}

/** `{sparseLayers, prunableLayers, flopsSkipped}` from a model's report. */
function layerSummary(layers) {
  let [sparse, prunable, flops, skipped] = [0, 0, 0, 0];
  for (const l of layers) {
    if (l.sparsity === null || l.sparsity === undefined) continue;
    prunable++;
    if (/^spmm|sparse|csr/i.test(l.kernel)) sparse++;
    if (l.flops) {
      flops += l.flops;
      skipped += l.flops * l.sparsity;
    }
  }
  return { sparseLayers: sparse, prunableLayers: prunable, flopsSkipped: flops ? skipped / flops : null };
}

function transferables(result) {
  const out = [];
  if (result?.output?.buffer instanceof ArrayBuffer) out.push(result.output.buffer);
  if (result?.crop?.data?.buffer instanceof ArrayBuffer) out.push(result.crop.data.buffer);
  return out;
}
