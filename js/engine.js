// The inference host: loads the wasm build, reads model files (Cache API, progress), runs
// classification (decode, PIL-exact resize, normalize, top-k), raw sessions and streamed text
// generation. It runs inside the package's Web Worker (worker.js) by default, or on the
// calling thread (`worker: false`, and always in Node). It speaks messages only:
//
//   in:  {id, op: 'load' | 'classify' | 'run' | 'generate' | 'info', args}, {op: 'abort', target}
//   out: {id, type: 'progress' | 'token' | 'result' | 'error', ...}
//
// Every op waits for the one before it (a model runs one thing at a time); 'abort' does not.

import * as simd128 from './pkg/simd128/zeroskip.js';
import * as relaxed from './pkg/relaxed/zeroskip.js';
import { ZeroskipError, serializeError, abortError } from './errors.js';
import { detectFeatures } from './features.js';

export const CACHE_NAME = 'zeroskip-models-v1';
const BUILDS = { simd128, relaxed };
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const MAX_DECODE_SHORTER = 1024; // photos larger than this are first scaled by the browser

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

// ---- wasm ---------------------------------------------------------------------------------------

const ready = {};

/** The build for `isa` ('auto' | 'relaxed' | 'simd128'), initialized once per thread. */
async function wasmBuild(isa, wasmSource) {
  const f = detectFeatures();
  const want = isa === 'auto' || !isa ? f.best : isa;
  if (!want) throw fail('Unsupported', 'this runtime has no WebAssembly SIMD128; zeroskip needs it (Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)');
  if (!BUILDS[want]) throw fail('BadInput', `isa must be 'auto', 'relaxed' or 'simd128', not ${JSON.stringify(isa)}`);
  if (!f[want]) throw fail('Unsupported', `this runtime does not support the ${want} build's WebAssembly features (relaxed SIMD: Chrome/Edge 114+)`);
  ready[want] ??= (async () => {
    const m = BUILDS[want];
    const source = wasmSource ? await wasmSource(want) : undefined;
    await m.default(source === undefined ? undefined : { module_or_path: source });
    return m;
  })().catch((err) => {
    delete ready[want];
    throw fail('Unsupported', `could not start the ${want} WebAssembly build: ${err?.message ?? err}`);
  });
  return { isa: want, zs: await ready[want] };
}

// ---- model files --------------------------------------------------------------------------------

/** Reads a Response body with progress callbacks. */
async function readBody(res, total, onProgress) {
  if (!res.body || typeof res.body.getReader !== 'function') {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress(b.length, b.length);
    return b;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(total || 1 << 20);
  let received = 0;
  onProgress(0, total);
  let last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, received + value.length));
      bigger.set(buf.subarray(0, received));
      buf = bigger;
    }
    buf.set(value, received);
    received += value.length;
    const t = now();
    if (t - last > 50) {
      last = t;
      onProgress(received, total);
    }
  }
  onProgress(received, total || received);
  return received === buf.length ? buf : buf.slice(0, received);
}

async function openCache(enabled) {
  if (!enabled || typeof caches !== 'object' || !caches) return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // opaque origins, private modes: no cache
  }
}

/** `{bytes, fromCache, save()}` for a URL: the Cache API first, then the network. */
async function fetchModel(url, { cache: useCache, onProgress }) {
  const cache = await openCache(useCache);
  let res = null;
  if (cache) res = (await cache.match(url).catch(() => null)) ?? null;
  const fromCache = !!res;
  if (!res) {
    try {
      res = await fetch(url);
    } catch (err) {
      throw fail('Network', `could not fetch ${url}: ${err?.message ?? err}`);
    }
    if (!res.ok) throw fail('Network', `could not fetch ${url}: HTTP ${res.status}${res.status === 404 ? ' (not found)' : ''}`);
  }
  const total = Number(res.headers.get('Content-Length')) || 0;
  const bytes = await readBody(res, total, (loaded, t) => onProgress({ phase: 'download', loaded, total: t, fromCache }));
  const save = () => {
    if (!cache || fromCache) return;
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) };
    cache.put(url, new Response(bytes, { headers })).catch(() => {});
  };
  return { bytes, fromCache, save };
}

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

/** The engine's error as a ZeroskipError: 'NoWebGPU' when WebGPU was refused, else `code`. */
function engineError(err, code) {
  if (err instanceof ZeroskipError) return err;
  const message = String(err?.message ?? err);
  if (/webgpu backend unavailable/i.test(message)) return fail('NoWebGPU', message);
  if (err instanceof WebAssembly.RuntimeError) return fail('Runtime', `the engine crashed (${message}): load the model again`);
  return fail(code, message);
}

// ---- images -------------------------------------------------------------------------------------

const PRECISION_BITS = 22; // PIL: 32 - 8 - 2
/** PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter. */
function pilCoeffs(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale; // bilinear support 1.0
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const clip8 = (ss) => (ss >= 255 << PRECISION_BITS ? 255 : ss <= 0 ? 0 : Math.floor(ss / (1 << PRECISION_BITS)));

/** RGB(A) uint8 [h, w, 4] → resized RGB(A) [outH, outW, 4]: horizontal pass, then vertical. */
function pilResize(src, w, h, outW, outH) {
  let cur = src;
  let cw = w;
  if (outW !== w) {
    const { ksize, bounds, kk } = pilCoeffs(w, outW);
    const dst = new Uint8ClampedArray(outW * h * 4);
    for (let y = 0; y < h; y++) {
      const row = y * w * 4;
      for (let xx = 0; xx < outW; xx++) {
        const [xmin, xmax] = [bounds[2 * xx], bounds[2 * xx + 1]];
        const kb = xx * ksize;
        let [r, g, b] = [1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1)];
        for (let x = 0; x < xmax; x++) {
          const p = row + (x + xmin) * 4;
          const c = kk[kb + x];
          r += cur[p] * c;
          g += cur[p + 1] * c;
          b += cur[p + 2] * c;
        }
        const o = (y * outW + xx) * 4;
        dst[o] = clip8(r);
        dst[o + 1] = clip8(g);
        dst[o + 2] = clip8(b);
        dst[o + 3] = 255;
      }
    }
    cur = dst;
    cw = outW;
  }
  if (outH !== h) {
    const { ksize, bounds, kk } = pilCoeffs(h, outH);
    const dst = new Uint8ClampedArray(cw * outH * 4);
    for (let yy = 0; yy < outH; yy++) {
      const [ymin, ymax] = [bounds[2 * yy], bounds[2 * yy + 1]];
      const kb = yy * ksize;
      for (let x = 0; x < cw; x++) {
        let [r, g, b] = [1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1)];
        for (let y = 0; y < ymax; y++) {
          const p = ((y + ymin) * cw + x) * 4;
          const c = kk[kb + y];
          r += cur[p] * c;
          g += cur[p + 1] * c;
          b += cur[p + 2] * c;
        }
        const o = (yy * cw + x) * 4;
        dst[o] = clip8(r);
        dst[o + 1] = clip8(g);
        dst[o + 2] = clip8(b);
        dst[o + 3] = 255;
      }
    }
    cur = dst;
  }
  return cur;
}

/** An image message → {data: RGBA bytes, width, height}. */
async function pixelsOf(image) {
  if (image.type === 'pixels') {
    const { data, width, height } = image;
    if (!(width > 0 && height > 0) || !data || data.length !== width * height * 4) {
      throw fail('BadImage', `pixels: ${data?.length ?? 0} bytes for ${width}×${height} RGBA (expected ${width * height * 4})`);
    }
    return { data, width, height };
  }
  if (typeof OffscreenCanvas !== 'function' || typeof createImageBitmap !== 'function') {
    throw fail('Unsupported', 'this runtime cannot decode images (no OffscreenCanvas/createImageBitmap): pass ImageData-like {data, width, height} RGBA pixels');
  }
  let bmp = image.bitmap;
  if (image.type === 'blob') {
    const blob = image.blob;
    if (!blob.size) throw fail('BadImage', 'the image file is empty');
    try {
      bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', imageOrientation: 'from-image' });
    } catch (err) {
      const what = blob.type ? `${blob.type}, ` : '';
      throw fail('BadImage', `could not decode the image (${what}${blob.size} bytes): ${String(err?.message ?? err).replace(/\.$/, '')}. Use a JPEG, PNG, WebP or GIF.`);
    }
  }
  if (!bmp || !(bmp.width > 0 && bmp.height > 0)) throw fail('BadImage', 'the image has no pixels (not loaded yet, or 0×0)');
  let [w, h] = [bmp.width, bmp.height];
  if (Math.min(w, h) > MAX_DECODE_SHORTER) {
    const s = MAX_DECODE_SHORTER / Math.min(w, h);
    const small = await createImageBitmap(bmp, { resizeWidth: Math.round(w * s), resizeHeight: Math.round(h * s), resizeQuality: 'high' });
    bmp.close?.();
    bmp = small;
    [w, h] = [bmp.width, bmp.height];
  }
  const ctx = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  bmp.close?.();
  return { data: ctx.getImageData(0, 0, w, h).data, width: w, height: h };
}

/**
 * RGBA pixels → NCHW float32 [3, size, size] as torchvision/PIL do it: resize the shorter side
 * to `resize` (antialiased bilinear, longer side rounded), center-crop `size`, then
 * (pixel/255 − mean) / std. Also returns the crop as RGBA (for previews).
 */
export function preprocess({ data, width: w, height: h }, { size, resize, mean, std }) {
  const scale = resize / Math.min(w, h);
  const nw = w <= h ? resize : Math.max(resize, Math.round(w * scale));
  const nh = w <= h ? Math.max(resize, Math.round(h * scale)) : resize;
  const resized = pilResize(data, w, h, nw, nh);
  const left = Math.round((nw - size) / 2);
  const top = Math.round((nh - size) / 2);
  const plane = size * size;
  const tensor = new Float32Array(3 * plane);
  const crop = new Uint8ClampedArray(plane * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = ((y + top) * nw + (x + left)) * 4;
      const i = y * size + x;
      for (let c = 0; c < 3; c++) {
        crop[i * 4 + c] = resized[p + c];
        tensor[c * plane + i] = (resized[p + c] / 255 - mean[c]) / std[c];
      }
      crop[i * 4 + 3] = 255;
    }
  }
  return { tensor, crop };
}

/** Probabilities: the outputs themselves when they already are a distribution, else softmax. */
function probabilities(y) {
  let [sum, min, max] = [0, Infinity, -Infinity];
  for (const v of y) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  if (min >= 0 && Math.abs(sum - 1) < 1e-3) return Float64Array.from(y);
  const p = new Float64Array(y.length);
  let total = 0;
  for (let i = 0; i < y.length; i++) total += p[i] = Math.exp(y[i] - max);
  for (let i = 0; i < y.length; i++) p[i] /= total;
  return p;
}

// ---- the host -----------------------------------------------------------------------------------

/**
 * A host that answers messages through `post(msg, transfer)`. `wasmSource(isa)`, when given,
 * returns the .wasm bytes (Node: read from disk); otherwise the build fetches its own file.
 */
export function createHost(post, { wasmSource } = {}) {
  let model = null; // {kind: 'image-classifier' | 'session' | 'text-generator', ...}
  let chain = Promise.resolve();
  const aborted = new Set();

  const ops = {
    async load(id, a) {
      if (model) throw fail('BadInput', 'this host already holds a model');
      const progress = (p) => post({ id, type: 'progress', progress: { ...p, url: a.url ?? null } });
      const { isa, zs } = await wasmBuild(a.isa, wasmSource);
      let bytes = a.bytes;
      let fromCache = false;
      let save = () => {};
      if (!bytes && a.blob) bytes = new Uint8Array(await a.blob.arrayBuffer());
      if (!bytes) ({ bytes, fromCache, save } = await fetchModel(a.url, { cache: a.cache, onProgress: progress }));
      const name = a.name ?? (a.url ? nameOf(a.url) : 'model');
      if (!bytes.length) throw fail('BadModel', `${name}: the file is empty`);
      const format = sniff(bytes);
      const fileBytes = bytes.length;
      progress({ phase: 'compile', loaded: fileBytes, total: fileBytes, fromCache });
      const t0 = now();
      const common = { name, isa, fileBytes, fromCache, format };
      if (format === 'gguf' || format === 'llm-zsk') {
        if (a.kind !== 'auto' && a.kind !== 'text-generator') throw fail('BadInput', `${name} is a language model (${format}): kind must be 'text-generator'`);
        if (a.backend === 'webgpu') throw fail('NoWebGPU', `${name}: language models run on WASM only (the WebGPU backend runs CNNs); use backend 'auto' or 'wasm'`);
        let gen;
        try {
          gen = zs.TextGenerator.load(name, bytes, a.contextLength ?? undefined);
        } catch (err) {
          throw engineError(err, 'BadModel');
        }
        bytes = null;
        save();
        model = { kind: 'text-generator', gen };
        const config = JSON.parse(gen.config());
        const actMethod = gen.actMethod();
        return {
          ...common, kind: 'text-generator', backend: 'wasm',
          fallback: a.backend === 'auto' && detectFeatures().webgpu ? 'language models run on WASM only' : null,
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
      const order = Array.from(p.keys()).sort((i, j) => p[j] - p[i] || i - j).slice(0, topK);
      const predictions = order.map((i) => {
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
      const stats = { promptTokens: ids.length, tokens: 0, prefillMs: 0, decodeMs: 0, finishReason: 'length', actSkipped: null, actZero: null };
      const check = () => {
        if (aborted.has(id)) throw abortError('generation');
      };
      try {
        gen.reset();
        gen.clearActStats();
        let t0 = now();
        let next = gen.prefillSample(Uint32Array.from(ids));
        stats.prefillMs = now() - t0;
        // activation sparsity of the pass that produced `next` (null for prefill's token)
        let [actSkipped, actZero] = [null, null];
        for (let i = 0; ; i++) {
          if (o.stopAtEos !== false && next === eos) {
            stats.finishReason = 'eos';
            break;
          }
          const piece = decoder.decode(gen.tokenBytes(next), { stream: true });
          stats.tokens++;
          post({ id, type: 'token', token: { text: piece, id: next, actSkipped, actZero } });
          if (i + 1 >= budget) break;
          await yieldTask();
          check();
          t0 = now();
          next = gen.stepSample(next);
          stats.decodeMs += now() - t0;
          [actSkipped, actZero] = gen.actLast();
        }
        const rest = decoder.decode();
        if (rest) post({ id, type: 'token', token: { text: rest, id: null, actSkipped: null, actZero: null } });
        // over the decoded tokens (prefill is dense): 0 without thresholds
        const [actTokens, skipped, zero] = gen.actTotal();
        if (actTokens > 0 || stats.tokens > 1) [stats.actSkipped, stats.actZero] = [skipped, zero];
      } catch (err) {
        throw engineError(err, 'Runtime');
      } finally {
        aborted.delete(id);
      }
      stats.prefillTokensPerSecond = stats.prefillMs > 0 ? (1000 * stats.promptTokens) / stats.prefillMs : null;
      stats.tokensPerSecond = stats.decodeMs > 0 && stats.tokens > 1 ? (1000 * (stats.tokens - 1)) / stats.decodeMs : null;
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
