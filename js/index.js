// zeroskip: sparse neural networks in the browser (and Node), on WebAssembly SIMD or WebGPU.
//
//   import { load } from 'zeroskip';
//   const clf = await load('mobilenet_v2_s85.onnx', { backend: 'auto', labels: 'labels.txt' });
//   const { predictions } = await clf.classify(imageElement, { topK: 5 });
//
//   const llm = await load('SmolLM2-135M-Instruct.Q4_1.gguf', { onProgress: console.log });
//   for await (const token of llm.generate('The capital of France is', { maxTokens: 20 })) out += token;
//
// Every model runs in its own Web Worker by default (the page never blocks); `worker: false`
// runs it on the calling thread (Node always does). On a cross-origin-isolated page that worker
// also starts a pool of threads (Web Workers sharing its wasm memory: option `threads`, by default
// the logical cores up to 4); elsewhere the model runs on one thread and says why
// (model.threadsReason). Errors are ZeroskipErrors with a `code`.

import { ZeroskipError, deserializeError, abortError } from './errors.js';
import { detectFeatures } from './features.js';
import { CACHE_NAME } from './fetch.js';

export { ZeroskipError, ERROR_CODES } from './errors.js';
export { detectFeatures, bestIsa, threadSupport } from './features.js';
// What the pages (and apps doing their own inference loop) share with load():
export { CACHE_NAME, fetchWithProgress } from './fetch.js';
export { IMAGENET, decodeImage, preprocess } from './image.js';
export { maxAbsDiff, argmax, topK, softmax } from './tensor.js';

/**
 * The initialised wasm-bindgen module of build `isa` (default bestIsa()), for code that drives the
 * engine's classes itself. Imported on first use: a page that only calls load() never parses the
 * builds' glue on its own thread (the worker does).
 */
export const loadWasm = (isa, options) => import('./wasm.js').then((m) => m.loadWasm(isa, options));

export const VERSION = '0.1.0';
const BACKENDS = ['auto', 'wasm', 'webgpu'];
const ISAS = ['auto', 'relaxed', 'simd128'];
const KINDS = ['auto', 'image-classifier', 'text-generator', 'session'];
const noop = () => {};
const WORKER = Symbol.for('zeroskip.worker');

// ---- the channel to a host (a worker, or the engine on this thread) -----------------------------

class Channel {
  constructor() {
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject, onProgress, onToken}
    this.closed = null;
  }

  /** A worker-backed channel, resolved once the worker's module is running. */
  static async worker() {
    const ch = new Channel();
    let worker;
    try {
      worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'zeroskip' });
    } catch (err) {
      throw new ZeroskipError('Unsupported', `could not start the zeroskip worker: ${err?.message ?? err}`);
    }
    ch.send = (msg, transfer) => worker.postMessage(msg, transfer ?? []);
    ch.terminate = () => worker.terminate();
    ch.worker = worker;
    await new Promise((resolve, reject) => {
      worker.onmessage = (e) => {
        if (e.data?.type === 'ready') {
          worker.onmessage = (ev) => ch.receive(ev.data);
          if (e.data.lock) ch.watchLock(e.data.lock);
          resolve();
        }
      };
      worker.onerror = (e) => {
        e.preventDefault?.();
        const err = new ZeroskipError('Runtime', `the zeroskip worker failed: ${e.message || 'it could not load its script (is the package served with its worker.js and pkg/?)'}`);
        reject(err);
        ch.fail(err);
      };
    });
    return ch;
  }

  /** The engine on this thread (Node, or `worker: false`). */
  static async inline(hostOptions) {
    const { createHost } = await import('./engine.js');
    const ch = new Channel();
    const host = createHost((msg) => queueMicrotask(() => ch.receive(msg)), hostOptions);
    ch.send = (msg) => host(msg);
    ch.terminate = noop;
    return ch;
  }

  /**
   * The worker holds the Web Lock `name` while it lives (worker.js): when this page is granted it,
   * the worker has ended. Unless dispose() ended it, every pending call rejects (code 'Runtime')
   * rather than waiting for an answer that cannot come, and later calls reject the same way.
   */
  watchLock(name) {
    navigator.locks
      .request(name, () => {
        if (!this.closed) this.fail(new ZeroskipError('Runtime', 'the zeroskip worker stopped (it was terminated or crashed): load the model again'));
      })
      .catch(noop);
  }

  call(op, args, { transfer, onProgress, onToken } = {}) {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, onProgress, onToken }));
    p.id = id;
    this.send({ id, op, args }, transfer);
    return p;
  }

  abort(id) {
    if (!this.closed) this.send({ op: 'abort', target: id });
  }

  receive(msg) {
    const h = this.pending.get(msg.id);
    if (!h) return;
    if (msg.type === 'progress') return h.onProgress?.(msg.progress);
    if (msg.type === 'token') return h.onToken?.(msg.token);
    this.pending.delete(msg.id);
    if (msg.type === 'result') h.resolve(msg.result);
    else h.reject(deserializeError(msg.error));
  }

  fail(err) {
    this.closed = err;
    for (const h of this.pending.values()) h.reject(err);
    this.pending.clear();
  }

  close() {
    if (this.closed) return;
    this.fail(new ZeroskipError('Disposed', 'the model was disposed'));
    this.terminate();
  }
}

// ---- models -------------------------------------------------------------------------------------

/** What every loaded model has: its file, backend, and dispose(). */
class LoadedModel {
  constructor(channel, info) {
    this._ch = channel;
    this.info = info;
    this._backend = info.backend;
    this._fallback = info.fallback;
  }
  /** 'wasm' | 'webgpu': what runs the model now (a lost GPU device moves an 'auto' model to wasm). */
  get backend() {
    return this._backend;
  }
  /** 'relaxed' | 'simd128': the WebAssembly build in use. */
  get isa() {
    return this.info.isa;
  }
  /**
   * The threads the model's WebAssembly calls use: the `threads` option, by default the logical
   * cores up to 4; 1 where threads cannot run (threadsReason says why).
   */
  get threads() {
    return this.info.threads;
  }
  /** Why the model runs on fewer threads than asked for (or than the default), or null. */
  get threadsReason() {
    return this.info.threadsReason;
  }
  /** Why WebGPU was wanted and is not what runs, or null. */
  get fallback() {
    return this._fallback;
  }
  get kind() {
    return this.info.kind;
  }
  _track(r) {
    if (r?.backend) this._backend = r.backend;
    if (r && 'fallback' in r) this._fallback = r.fallback;
    if (r && 'adapter' in r) this._adapter = r.adapter;
    return r;
  }
  /**
   * What the model's engine holds now: `{wasmBytes}`, the size of its WebAssembly memory (which
   * only grows). It waits for the calls before it. On the calling thread (`worker: false`, Node)
   * that memory is shared by every model of the same build.
   */
  memory() {
    return this._ch.call('memory', {});
  }
  /** Frees the model and stops its worker; later calls reject with code 'Disposed'. */
  dispose() {
    this._ch.close();
  }
  /** For tests: the model's Web Worker (null on the calling thread). Not part of the typed API. */
  get [WORKER]() {
    return this._ch.worker ?? null;
  }
}

/** Any ONNX / .zsk model: run(input) on float32 tensors. */
export class Session extends LoadedModel {
  /** [C, H, W] of the input. */
  get inputShape() {
    return this.info.inputShape;
  }
  /**
   * Runs the model on a Float32Array of C·H·W values (NCHW, batch 1): resolves to the output
   * (a Float32Array) with the time the engine took.
   */
  async run(input, { signal } = {}) {
    if (signal?.aborted) throw abortError('run');
    const x = input instanceof Float32Array ? input : Float32Array.from(input ?? []);
    const r = this._track(await withSignal(this._ch, this._ch.call('run', { input: x }), signal, 'run'));
    return r.output;
  }
}

/** An ImageNet-style classifier. */
export class ImageClassifier extends Session {
  /**
   * Classifies an image (ImageData, ImageBitmap, HTMLImageElement, HTMLCanvasElement,
   * OffscreenCanvas, VideoFrame, Blob/File, or {data, width, height} RGBA): resolves to
   * `{predictions: [{index, label, probability}], inferenceMs, preprocessMs, backend, isa}`.
   */
  async classify(image, { topK = 5, signal, crop = false } = {}) {
    if (signal?.aborted) throw abortError('classify');
    const { msg, transfer } = await imageMessage(image);
    const call = this._ch.call('classify', { image: msg, topK, crop }, { transfer });
    return this._track(await withSignal(this._ch, call, signal, 'classify'));
  }
}

/**
 * A GGUF language model (or a sparse LLM .zsk), on WebGPU or WASM (`backend`, `fallback`,
 * `adapter`). A GPU failure during a generation (a lost device) does not fail it: the model
 * re-runs the tokens so far on WASM and goes on there; each token says which backend produced
 * it, and `backend` / `fallback` change with it.
 */
export class TextGenerator extends LoadedModel {
  constructor(channel, info) {
    super(channel, info);
    this._adapter = info.adapter ?? null;
  }
  /** The GPU adapter's name while the model runs on WebGPU, else null. */
  get adapter() {
    return this._adapter;
  }
  /**
   * The file's activation sparsity, `{method: 'teal' | 'wina' | 'gate', target}` (target: the fraction
   * of the linear layers' inputs its thresholds were calibrated to zero), or null.
   */
  get act() {
    return this.info.act ?? null;
  }
  /** Fraction of the linear layers' weights the file does not store (0 for a dense GGUF). */
  get weightSparsity() {
    return this.info.weightSparsity ?? 0;
  }
  /**
   * Streams the continuation of `prompt`, token by token: `for await (const t of gen) …`.
   * Options: maxTokens (128), temperature (0 = greedy), topK (0 = off), topP (1 = off), seed,
   * signal (an AbortSignal: the iterator rejects with code 'Aborted'), chat (wrap the prompt in
   * the model's chat template), stopAtEos (true), onToken (called with each token's
   * {text, id, actSkipped, actZero, backend} as it arrives). The returned object also has
   * `.text` (so far), `.token` (the last token yielded, with its activation sparsity and the
   * backend that produced it) and `.result` (a Promise of {text, tokens, stats}; stats.backend,
   * .fallback and .switchedAt show a move from WebGPU to WASM, stats.byBackend the decode speed
   * on each).
   */
  generate(prompt, options = {}) {
    return new Generation(this, prompt, options);
  }
  /** generate() collected: resolves to {text, stats}. */
  async complete(prompt, options = {}) {
    const g = this.generate(prompt, options);
    for await (const _ of g); // eslint-disable-line no-unused-vars
    return g.result;
  }
}

class Generation {
  constructor(model, prompt, options) {
    const { signal, onToken, ...opts } = options ?? {};
    this.text = '';
    this.tokens = [];
    this.token = null;
    this.stats = null;
    this._queue = [];
    this._waiter = null;
    this._error = null;
    this._done = false;
    let settle;
    this.result = new Promise((resolve, reject) => (settle = { resolve, reject }));
    this.result.catch(noop);
    const finish = (err, stats) => {
      if (this._done) return;
      this._done = true;
      this._error = err;
      this.stats = stats ?? null;
      if (err) settle.reject(err);
      else settle.resolve({ text: this.text, tokens: this.tokens, stats });
      this._wake();
    };
    if (signal?.aborted) {
      finish(abortError('generation'));
      return;
    }
    const ch = model._ch;
    const call = ch.call('generate', { prompt: String(prompt ?? ''), options: opts }, {
      onToken: (t) => {
        if (this._done) return;
        const token = { text: t.text, id: t.id, actSkipped: t.actSkipped ?? null, actZero: t.actZero ?? null, backend: t.backend ?? model.backend };
        if (token.backend !== model._backend || 'fallback' in t) model._track({ backend: token.backend, ...('fallback' in t ? { fallback: t.fallback, adapter: null } : {}) });
        this.text += token.text;
        if (token.id !== null) this.tokens.push(token.id);
        this._queue.push(token);
        this._wake();
        onToken?.(token);
      },
    });
    this._stop = (err) => {
      ch.abort(call.id);
      finish(err);
    };
    const onAbort = () => this._stop(abortError('generation'));
    signal?.addEventListener('abort', onAbort, { once: true });
    call.then(
      (stats) => finish(null, model._track(stats)),
      (err) => finish(err),
    ).finally(() => signal?.removeEventListener('abort', onAbort));
  }

  _wake() {
    const w = this._waiter;
    this._waiter = null;
    w?.();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next() {
    for (;;) {
      if (this._error) throw this._error;
      if (this._queue.length) {
        this.token = this._queue.shift();
        return { value: this.token.text, done: false };
      }
      if (this._done) return { value: undefined, done: true };
      await new Promise((r) => (this._waiter = r));
    }
  }

  /** Leaving a `for await` early stops the generation (no error). */
  async return() {
    if (!this._done) this._stop?.(null);
    this._queue.length = 0;
    return { value: undefined, done: true };
  }
}

function withSignal(ch, call, signal, what) {
  if (!signal) return call;
  // The signal may have fired while the caller awaited something before the call (decoding an
  // image, starting the worker): the 'abort' event is gone by then, so look at the flag.
  if (signal.aborted) {
    ch.abort(call.id);
    call.catch(() => {});
    return Promise.reject(abortError(what));
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      ch.abort(call.id);
      reject(abortError(what));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    call.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** An image → the message the host decodes, with what to transfer. */
async function imageMessage(image) {
  const g = globalThis;
  if (image == null) throw new ZeroskipError('BadImage', 'no image given');
  if (g.Blob && image instanceof g.Blob) return { msg: { type: 'blob', blob: image } };
  if (g.ImageData && image instanceof g.ImageData) return { msg: { type: 'pixels', data: image.data, width: image.width, height: image.height } };
  if (!(g.ImageBitmap && image instanceof g.ImageBitmap) && image.data && Number.isFinite(image.width) && Number.isFinite(image.height)) {
    return { msg: { type: 'pixels', data: image.data, width: image.width, height: image.height } };
  }
  if (g.ImageBitmap && image instanceof g.ImageBitmap) return { msg: { type: 'bitmap', bitmap: image } }; // cloned: the caller keeps it
  if (typeof g.createImageBitmap !== 'function') {
    throw new ZeroskipError('Unsupported', 'this runtime cannot read that image: pass {data, width, height} RGBA pixels');
  }
  if (g.HTMLImageElement && image instanceof g.HTMLImageElement) {
    if (!image.complete) await image.decode().catch(noop);
    if (!image.naturalWidth) throw new ZeroskipError('BadImage', `the <img> ${image.currentSrc || image.src || ''} did not load or is not an image`);
  }
  let bitmap;
  try {
    bitmap = await g.createImageBitmap(image, { colorSpaceConversion: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new ZeroskipError('BadImage', `could not read the image: ${err?.message ?? err}`);
  }
  return { msg: { type: 'bitmap', bitmap }, transfer: [bitmap] };
}

// ---- load ---------------------------------------------------------------------------------------

const WASM_SOURCE = Symbol.for('zeroskip.wasmSource');

/**
 * Loads a model: a URL (string or URL), bytes (ArrayBuffer, typed array) or a Blob/File.
 * Resolves to an ImageClassifier, a TextGenerator or a Session (see options.kind).
 */
export async function load(source, options = {}) {
  const o = { backend: 'auto', isa: 'auto', kind: 'auto', dense: false, cache: true, ...options };
  if (!BACKENDS.includes(o.backend)) throw new ZeroskipError('BadInput', `backend must be one of ${BACKENDS.join(', ')}, not ${JSON.stringify(o.backend)}`);
  if (!ISAS.includes(o.isa)) throw new ZeroskipError('BadInput', `isa must be one of ${ISAS.join(', ')}, not ${JSON.stringify(o.isa)}`);
  if (!KINDS.includes(o.kind)) throw new ZeroskipError('BadInput', `kind must be one of ${KINDS.join(', ')}, not ${JSON.stringify(o.kind)}`);
  if (!(o.threads === undefined || o.threads === 'auto' || (Number.isInteger(o.threads) && o.threads >= 1))) {
    throw new ZeroskipError('BadInput', `threads must be 'auto' or an integer ≥ 1, not ${JSON.stringify(o.threads)}`);
  }
  if (o.signal?.aborted) throw abortError('load');
  if (!detectFeatures().simd128) {
    throw new ZeroskipError('Unsupported', 'this browser has no WebAssembly SIMD128; zeroskip needs it (Chrome 91+, Firefox 89+, Safari 16.4+)');
  }
  const args = {
    backend: o.backend, isa: o.isa, kind: o.kind, dense: !!o.dense, cache: o.cache !== false, threads: o.threads ?? 'auto',
    name: o.name, contextLength: o.contextLength, preprocess: o.preprocess, labelOffset: o.labelOffset,
    labels: typeof o.labels === 'string' || o.labels instanceof URL ? absolute(o.labels) : o.labels,
  };
  const transfer = [];
  if (typeof source === 'string' || source instanceof URL) args.url = absolute(source);
  else if (globalThis.Blob && source instanceof Blob) {
    args.blob = source;
    args.name ??= source.name;
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const view = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    args.bytes = view.slice(); // a copy: the caller's buffer stays usable
    transfer.push(args.bytes.buffer);
  } else throw new ZeroskipError('BadInput', 'load() takes a URL, an ArrayBuffer / typed array, or a Blob');

  const useWorker = o.worker ?? typeof Worker === 'function';
  const ch = useWorker ? await Channel.worker() : await Channel.inline({ wasmSource: o[WASM_SOURCE] });
  try {
    const call = ch.call('load', args, { transfer, onProgress: o.onProgress });
    const info = await withSignal(ch, call, o.signal, 'load');
    if (info.kind === 'text-generator') return new TextGenerator(ch, info);
    if (info.kind === 'image-classifier') return new ImageClassifier(ch, info);
    return new Session(ch, info);
  } catch (err) {
    ch.close();
    throw err;
  }
}

function absolute(url) {
  const base = globalThis.location?.href;
  try {
    return base ? new URL(url, base).href : new URL(url).href;
  } catch {
    return String(url);
  }
}

/** Deletes the models cached by load() (the Cache API store CACHE_NAME). */
export async function clearCache() {
  if (typeof caches !== 'object' || !caches) return false;
  return caches.delete(CACHE_NAME);
}

/** Whether `url` is in load()'s cache. */
export async function isCached(url) {
  if (typeof caches !== 'object' || !caches) return false;
  const c = await caches.open(CACHE_NAME);
  return !!(await c.match(absolute(url)));
}
