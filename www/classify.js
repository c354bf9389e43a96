// zeroskip image classifier demo: real zoo models, one thread, in this tab.
//
//   classify.html?model=mobilenet_v2&variant=s90&isa=relaxed&image=0&ref=1&runs=20&autorun=1
//
// On load it fetches the chosen ONNX file (streamed, with a progress bar), builds zeroskip's plan
// (Model.fromOnnx(..., dense = false)) and classifies one of the 20 labeled photos. Clicking a
// photo (or dropping a file) classifies it; "Benchmark" times zeroskip's plan, zeroskip's dense
// plan and onnxruntime-web on the same bytes. Every step runs on one queue, so a click never
// overlaps a run, and every step ends by clearing the spinner, with an error box when it failed.
//
// For tests and the console: window.demo (building blocks) and window.__demo (state: ready,
// busy, last classification, last benchmark, errors). With autorun=1 the page also runs the
// benchmark once and sets document.title to 'done' (or 'error').

import { $, isNum, fmt, yieldToPage, el, median, argmax } from './util.js';

const MODELS = {
  mobilenet_v2: 'MobileNetV2',
  mobilenet_v1: 'MobileNetV1',
  efficientnet_lite0: 'EfficientNet-Lite0',
};
const VARIANTS = ['dense', 'p50', 's70', 's80', 's85', 's90', 's90b4'];
const ISAS = ['relaxed', 'simd128'];
const WARMUP = 3;
const RESIZE_SHORTER = 256;
const MAX_DECODE_SHORTER = 1024; // user photos larger than this are first scaled by the browser
const HINT = 'models not built: run `make zoo` and `make wasm` (or just `make demo`)';

const fileOf = (model, variant) => (variant === 'dense' ? model : `${model}_${variant}`);
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---- feature detection (as index.html) --------------------------------------------------------

function simdModule(code) {
  const body = [0x00, ...code, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
    0x03, 0x02, 0x01, 0x00,
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
const F32X4_RELAXED_MADD = [0xfd, 0x85, 0x02];
const HAS = {
  simd128: WebAssembly.validate(simdModule(V128_ZERO)),
  relaxed: WebAssembly.validate(simdModule([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, ...F32X4_RELAXED_MADD])),
};

// ---- fetching ---------------------------------------------------------------------------------

class UserError extends Error {}

/** GET `url` as bytes, streamed; `onProgress(received, total)` (total 0 when unknown). */
async function fetchBytes(url, { signal, onProgress } = {}) {
  let res;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new UserError(`GET ${url} failed (${err.message}): is the demo server (make demo) still running?`);
  }
  if (res.status === 404) throw new UserError(`${url} not found: ${HINT}`);
  if (!res.ok) throw new UserError(`GET ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get('Content-Length')) || 0;
  if (!res.body || !onProgress) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  let buf = new Uint8Array(total || 1 << 20);
  let received = 0;
  onProgress(0, total);
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
    onProgress(received, total);
  }
  return received === buf.length ? buf : buf.slice(0, received);
}

async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

/** A .npy file (little-endian float32, C order) → {shape, data}. */
function parseNpy(bytes) {
  const u8 = bytes;
  if (!(u8[0] === 0x93 && u8[1] === 0x4e && u8[2] === 0x55)) throw new UserError('not a .npy file');
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLen = u8[6] === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = u8[6] === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(u8.subarray(start, start + headerLen));
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new UserError(`.npy: only little-endian float32 in C order is supported (${header.trim()})`);
  }
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(u8.slice(start + headerLen, start + headerLen + 4 * count).buffer);
  if (data.length !== count) throw new UserError('.npy data is truncated');
  return { shape, data };
}

// ---- engines ----------------------------------------------------------------------------------

const zsModules = {};
let ortModule = null;

async function loadZeroskip(isa) {
  if (zsModules[isa]) return zsModules[isa];
  if (!HAS[isa]) throw new UserError(`this browser does not support the ${isa} build's WebAssembly features`);
  let zs;
  try {
    zs = await import(`./pkg/${isa}/zeroskip.js`);
  } catch (err) {
    throw new UserError(`wasm package pkg/${isa}/zeroskip.js missing (${err.message}): run make wasm`);
  }
  await zs.default();
  zsModules[isa] = zs;
  return zs;
}

async function loadOrt() {
  if (ortModule) return ortModule;
  let ort;
  try {
    ort = await import('./vendor/ort/ort.wasm.min.mjs');
  } catch (err) {
    throw new UserError(`onnxruntime-web missing from vendor/ort (${err.message}): run make wasm`);
  }
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('./vendor/ort/', import.meta.url).href;
  ort.env.logLevel = 'error';
  ortModule = ort;
  return ort;
}

/** A timed engine: run(x) → logits (Float32Array). */
function zeroskipEngine(zs, name, label, bytes, dense) {
  const t0 = performance.now();
  let model;
  try {
    model = zs.Model.fromOnnx(label, bytes, dense);
  } catch (err) {
    throw new UserError(`zeroskip could not load ${label}: ${err.message ?? err}`);
  }
  return {
    name,
    model,
    loadMs: performance.now() - t0,
    run: async (x) => model.run(x),
    free: () => model.free(),
  };
}

async function ortEngine(bytes, shape) {
  const ort = await loadOrt();
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const loadMs = performance.now() - t0;
  const [inName, outName] = [session.inputNames[0], session.outputNames[0]];
  let cached = [null, null];
  return {
    name: 'onnxruntime-web',
    loadMs,
    run: async (x) => {
      if (cached[0] !== x) cached = [x, new ort.Tensor('float32', x, [1, ...shape])];
      const out = await session.run({ [inName]: cached[1] });
      return out[outName].data;
    },
    free: () => session.release(),
  };
}

// ---- preprocessing: PIL's antialiased bilinear resize, in JS ----------------------------------

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

/**
 * A photo (Blob) → {tensor: NCHW Float32Array [3, size, size], rgba: the 224x224 crop}, as
 * tools/zoo/preprocess.py does: decode as RGB (no color management, like PIL), resize the
 * shorter side to 256 (longer side rounded), center-crop, (pixel/255 - mean) / std.
 */
async function preprocess(blob, meta) {
  const size = meta.size ?? 224;
  let bmp;
  try {
    bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new UserError(`could not decode this image (${err.message ?? err}): try a JPEG or PNG`);
  }
  let [w, h] = [bmp.width, bmp.height];
  if (Math.min(w, h) > MAX_DECODE_SHORTER) {
    // Huge photos: let the browser take them down to 1024 first (keeps the JS resize quick).
    const s = MAX_DECODE_SHORTER / Math.min(w, h);
    const small = await createImageBitmap(bmp, { resizeWidth: Math.round(w * s), resizeHeight: Math.round(h * s), resizeQuality: 'high' });
    bmp.close();
    bmp = small;
    [w, h] = [bmp.width, bmp.height];
  }
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const src = ctx.getImageData(0, 0, w, h).data;

  const scale = RESIZE_SHORTER / Math.min(w, h);
  const nw = w <= h ? RESIZE_SHORTER : Math.max(RESIZE_SHORTER, Math.round(w * scale));
  const nh = w <= h ? Math.max(RESIZE_SHORTER, Math.round(h * scale)) : RESIZE_SHORTER;
  const resized = pilResize(src, w, h, nw, nh);
  const left = Math.round((nw - size) / 2);
  const top = Math.round((nh - size) / 2);

  const rgba = new Uint8ClampedArray(size * size * 4);
  const tensor = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = ((y + top) * nw + (x + left)) * 4;
      const i = y * size + x;
      for (let c = 0; c < 3; c++) {
        rgba[i * 4 + c] = resized[p + c];
        tensor[c * plane + i] = (resized[p + c] / 255 - meta.mean[c]) / meta.std[c];
      }
      rgba[i * 4 + 3] = 255;
    }
  }
  return { tensor, rgba, size, from: `${w}×${h}` };
}

/** A normalized NCHW tensor back to RGBA pixels, to show what the model sees. */
function tensorToRgba(tensor, meta, size) {
  const rgba = new Uint8ClampedArray(size * size * 4);
  const plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.round((tensor[c * plane + i] * meta.std[c] + meta.mean[c]) * 255);
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

function softmax(logits) {
  const m = Math.max(...logits);
  const e = Float64Array.from(logits, (x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

// ---- state ------------------------------------------------------------------------------------

const state = {
  labels: null, // 1000 ImageNet class names
  images: null, // [{file, label, index}]
  metas: {}, // model → preprocessing json
  npys: {}, // model → verify inputs {shape, data}
  current: null, // loaded model: {key, model, variant, isa, file, bytes, zs, report, meta, engines}
  selection: { kind: 'gallery', index: 0 },
  input: null, // {tensor, rgba, key} of the selection, for the current model
  loadAbort: null,
  benchStop: false,
  benchRunning: false,
};
window.__demo = { ready: false, busy: false, last: null, bench: null, errors: [] };

// One queue for every step that touches a model: loads, classifications, benchmarks.
let chain = Promise.resolve();
let pending = 0;
function enqueue(task) {
  pending++;
  setBusy(true);
  const p = chain.then(task);
  chain = p.catch(() => {}).finally(() => {
    if (--pending === 0) setBusy(false);
  });
  return p.catch((err) => {
    if (err?.name !== 'AbortError') showError(err);
  });
}

function setBusy(busy) {
  window.__demo.busy = busy;
  $('spinner').hidden = !busy;
}

function setStatus(text, className = 'muted') {
  $('status').textContent = text;
  $('status').className = className;
}

function showError(err) {
  const msg = err instanceof UserError ? err.message : `${err?.message ?? err}`;
  console.warn(`classifier: ${err?.stack ?? err}`);
  window.__demo.errors.push(msg);
  const box = $('error');
  box.replaceChildren(el('strong', 'Error: '), document.createTextNode(msg));
  box.hidden = false;
  $('dl').hidden = true;
  setStatus('failed', 'fail');
}

function clearError() {
  $('error').hidden = true;
}

// ---- model loading ----------------------------------------------------------------------------

function choice() {
  return { model: $('model').value, variant: $('variant').value, isa: $('isa').value };
}

function syncUrl() {
  const c = choice();
  const q = new URLSearchParams(location.search);
  q.set('model', c.model);
  q.set('variant', c.variant);
  q.set('isa', c.isa);
  if (state.selection.kind === 'gallery') q.set('image', String(state.selection.index));
  else q.delete('image');
  q.set('ref', $('ref').checked ? '1' : '0');
  q.delete('autorun');
  history.replaceState(null, '', `?${q}`);
}

async function ensureCommon() {
  if (!state.labels) {
    const text = new TextDecoder().decode(await fetchBytes('models/labels.txt'));
    state.labels = text.split('\n').map((s) => s.trim()).filter(Boolean);
  }
  if (!state.images) {
    const v = await fetchJson('models/verify.json');
    state.images = v.images.map((file, index) => ({ file, label: v.labels[index], index }));
  }
}

async function ensureMeta(model) {
  if (!state.metas[model]) state.metas[model] = await fetchJson(`models/${model}.json`);
  return state.metas[model];
}

function freeCurrent() {
  const cur = state.current;
  if (!cur) return;
  for (const e of Object.values(cur.engines)) e?.free();
  state.current = null;
}

/** Loads the selected model/variant/build unless it is the one loaded. */
async function ensureModel() {
  const { model, variant, isa } = choice();
  const file = `${fileOf(model, variant)}.onnx`;
  const key = `${isa}/${file}`;
  if (state.current?.key === key) return state.current;
  freeCurrent();
  state.input = null;
  renderBench(null);
  $('modelinfo').textContent = '';
  state.loadAbort = new AbortController();
  const signal = state.loadAbort.signal;

  const bar = $('dl');
  bar.hidden = false;
  bar.value = 0;
  setStatus(`loading the ${isa} build…`);
  const zs = await loadZeroskip(isa);
  await ensureCommon();
  const meta = await ensureMeta(model);
  const t0 = performance.now();
  const bytes = await fetchBytes(`models/${file}`, {
    signal,
    onProgress: (got, total) => {
      if (total) {
        bar.max = total;
        bar.value = got;
      } else bar.removeAttribute('value');
      setStatus(`downloading ${file}: ${mb(got)}${total ? ` of ${mb(total)}` : ''}`);
    },
  });
  const fetchMs = performance.now() - t0;
  bar.hidden = true;
  setStatus(`building zeroskip's plan for ${file}…`);
  await yieldToPage();
  const engine = zeroskipEngine(zs, `zeroskip ${isa}`, fileOf(model, variant), bytes, false);
  const report = JSON.parse(engine.model.report());
  state.current = {
    key, model, variant, isa, file, bytes, meta, report, fetchMs,
    loadMsInternal: engine.model.loadMs(),
    inputShape: Array.from(engine.model.inputShape()),
    engines: { zs: engine, dense: null, ort: null },
  };
  const s = layerStats(report);
  $('modelinfo').textContent = `${MODELS[model]} ${variant === 'dense' ? 'dense' : variant} · ${file} · ${mb(bytes.length)} ` +
    `· downloaded in ${fmt(fetchMs, 0)} ms · zeroskip ${isa} plan built in ${fmt(engine.loadMs, 0)} ms ` +
    `· ${s.sparse} of ${s.sparse + s.dense} 1x1/FC layers on sparse kernels`;
  $('prunednote').hidden = variant === 'dense' || variant === 'p50';
  $('p50note').hidden = variant !== 'p50';
  renderLayers(report);
  setStatus(`ready: ${MODELS[model]} ${variant}`, '');
  return state.current;
}

// ---- classification ---------------------------------------------------------------------------

async function ensureNpy(model) {
  if (!state.npys[model]) {
    setStatus(`downloading verify/${model}_inputs.npy (reference tensors)…`);
    state.npys[model] = parseNpy(await fetchBytes(`models/verify/${model}_inputs.npy`));
  }
  return state.npys[model];
}

async function galleryBlob(index) {
  const file = state.images[index].file;
  const res = await fetch(`models/images/${file}`);
  if (!res.ok) throw new UserError(`models/images/${file}: HTTP ${res.status}: ${HINT}`);
  return res.blob();
}

/** The input tensor for the current selection and model: {tensor, rgba, source}. */
async function currentInput(cur) {
  const sel = state.selection;
  const useRef = sel.kind === 'gallery' && $('ref').checked;
  const key = `${cur.model}|${sel.kind}|${sel.index ?? sel.name}|${useRef}`;
  if (state.input?.key === key) return state.input;
  const size = cur.inputShape[1];
  let input;
  if (useRef) {
    const npy = await ensureNpy(cur.model);
    const n = npy.shape.slice(1).reduce((a, b) => a * b, 1);
    const tensor = npy.data.slice(sel.index * n, (sel.index + 1) * n);
    input = { tensor, rgba: tensorToRgba(tensor, cur.meta, size), source: `reference tensor (verify/${cur.model}_inputs.npy row ${sel.index})` };
  } else {
    const blob = sel.kind === 'gallery' ? await galleryBlob(sel.index) : sel.blob;
    const p = await preprocess(blob, cur.meta);
    input = { tensor: p.tensor, rgba: p.rgba, source: `preprocessed in JS from the ${p.from} photo` };
  }
  if (input.tensor.length !== cur.inputShape.reduce((a, b) => a * b, 1)) {
    throw new UserError(`input has ${input.tensor.length} values, the model wants ${cur.inputShape.join('×')}`);
  }
  input.key = key;
  state.input = input;
  return input;
}

async function classify() {
  clearError();
  const cur = await ensureModel();
  const input = await currentInput(cur);
  const size = cur.inputShape[1];
  const ctx = $('preview').getContext('2d');
  ctx.putImageData(new ImageData(input.rgba, size, size), 0, 0);
  $('previewcap').textContent = `model input: ${input.source}`;

  setStatus('running…');
  await yieldToPage();
  const t0 = performance.now();
  const logits = Float32Array.from(await cur.engines.zs.run(input.tensor));
  const ms = performance.now() - t0;
  const result = topK(logits, cur.meta, 5);
  const sel = state.selection;
  const truth = sel.kind === 'gallery' ? state.images[sel.index].label : null;
  const out = {
    model: cur.model, variant: cur.variant, isa: cur.isa,
    image: sel.kind === 'gallery' ? state.images[sel.index].file : sel.name,
    reference: input.source.startsWith('reference'),
    truth, truthName: truth === null ? null : className(truth),
    top5: result, top1: result[0].label, correct: truth === null ? null : result[0].label === truth,
    ms,
  };
  renderPrediction(out);
  setStatus(`ready: ${MODELS[cur.model]} ${cur.variant}`, '');
  window.__demo.last = out;
  return out;
}

function className(label) {
  if (label < 0) return 'background';
  return (state.labels[label] ?? `class ${label}`).split(',')[0];
}

/** Top-k over the softmax; `label` is the ImageNet index (output index minus label_offset). */
function topK(logits, meta, k) {
  const probs = softmax(logits);
  const offset = meta.label_offset ?? 0;
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]).slice(0, k);
  return order.map((i) => ({ index: i, label: i - offset, name: className(i - offset), full: state.labels[i - offset] ?? 'background', p: probs[i] }));
}

function renderPrediction(r) {
  const truth = $('truth');
  truth.replaceChildren();
  if (r.truth !== null) {
    truth.append('true label: ', el('strong', r.truthName), ' ');
    truth.append(r.correct ? el('span', '✓ top-1', 'pass') : el('span', `✗ (top-1 is ${r.top5[0].name})`, 'fail'));
  } else truth.append(el('span', `your image: ${r.image}`, 'muted'));
  const box = $('top5');
  box.replaceChildren();
  for (const t of r.top5) {
    const row = el('div', null, 'bar-row');
    row.title = `${t.full} (ImageNet class ${t.label})`;
    if (r.truth !== null && t.label === r.truth) row.classList.add('hit');
    const name = el('span', t.name, 'bar-label');
    const track = el('span', null, 'bar-track');
    const fill = el('span', null, 'bar-fill');
    fill.style.width = `${Math.max(0.5, t.p * 100).toFixed(1)}%`;
    track.append(fill);
    row.append(name, track, el('span', `${(t.p * 100).toFixed(1)}%`, 'bar-value'));
    box.append(row);
  }
  $('infer').textContent = `${MODELS[r.model]} ${r.variant}, zeroskip ${r.isa}: ${fmt(r.ms, 1)} ms for this inference`;
}

// ---- benchmark --------------------------------------------------------------------------------

async function benchmark(runs) {
  clearError();
  const cur = await ensureModel();
  if (!state.input || !state.input.key.startsWith(`${cur.model}|`)) await classify();
  const x = state.input.tensor;
  const e = cur.engines;
  state.benchStop = false;
  state.benchRunning = true;
  $('bench').textContent = 'Stop';
  const bar = $('benchprogress');
  try {
    if (!e.dense) {
      $('benchstatus').textContent = "building zeroskip's dense plan…";
      await yieldToPage();
      e.dense = zeroskipEngine(zsModules[cur.isa], 'zeroskip dense plan', cur.file, cur.bytes, true);
    }
    if (!e.ort) {
      $('benchstatus').textContent = 'creating the onnxruntime-web session…';
      await yieldToPage();
      e.ort = await ortEngine(cur.bytes, cur.inputShape);
    }
    const engines = [e.zs, e.dense, e.ort];
    const samples = engines.map(() => []);
    const outputs = [];
    for (const eng of engines) {
      outputs.push(Float32Array.from(await eng.run(x)));
      await yieldToPage();
    }
    const total = WARMUP + runs;
    bar.hidden = false;
    bar.max = total;
    const rowsOf = () => engines.map((eng, i) => ({
      engine: eng.name,
      loadMs: eng.loadMs,
      samples: samples[i],
      median: median(samples[i]),
      min: samples[i].length ? Math.min(...samples[i]) : null,
      top1: argmax(outputs[i]) - (cur.meta.label_offset ?? 0),
      diffVsOrt: i === 2 ? 0 : maxAbsDiff(outputs[i], outputs[2]),
    }));
    for (let r = 0; r < total && !state.benchStop; r++) {
      for (let j = 0; j < engines.length; j++) {
        const i = (r + j) % engines.length;
        const t0 = performance.now();
        await engines[i].run(x);
        const ms = performance.now() - t0;
        if (r >= WARMUP) samples[i].push(ms);
        await yieldToPage(); // keep the page responsive between runs
      }
      bar.value = r + 1;
      $('benchstatus').textContent = r < WARMUP ? `warm-up ${r + 1}/${WARMUP}` : `run ${r + 1 - WARMUP}/${runs}`;
      if (r >= WARMUP && ((r - WARMUP) % 5 === 4 || r === total - 1)) renderBench({ rows: rowsOf(), cur });
    }
    const result = { model: cur.model, variant: cur.variant, isa: cur.isa, runs: samples[0].length, rows: rowsOf(), stopped: state.benchStop };
    renderBench({ rows: result.rows, cur });
    $('benchstatus').textContent = `${result.runs} runs per engine${result.stopped ? ' (stopped)' : ''}, after ${WARMUP} warm-up rounds`;
    window.__demo.bench = result;
    return result;
  } finally {
    state.benchRunning = false;
    bar.hidden = true;
    $('bench').textContent = 'Benchmark';
  }
}

const ENGINE_COLORS = ['#e15759', '#4e79a7', '#9aa5b1'];

function sparkline(samples, maxMs, color) {
  const [W, H] = [160, 28];
  if (!samples.length) return '';
  const bw = W / samples.length;
  const bars = samples.map((ms, i) => {
    const h = Math.max(1, (ms / maxMs) * (H - 2));
    return `<rect x="${(i * bw).toFixed(2)}" y="${(H - h).toFixed(2)}" width="${Math.max(0.5, bw - 1).toFixed(2)}" height="${h.toFixed(2)}" fill="${color}"><title>run ${i + 1}: ${ms.toFixed(2)} ms</title></rect>`;
  }).join('');
  return `<svg class="spark" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="latency per run">${bars}</svg>`;
}

function renderBench(b) {
  const table = $('benchtable');
  const head = $('benchheadline');
  if (!b) {
    table.replaceChildren();
    head.textContent = '';
    return;
  }
  const { rows, cur } = b;
  const zs = rows[0].median;
  const maxMed = Math.max(...rows.map((r) => r.median ?? 0));
  const maxAll = Math.max(...rows.flatMap((r) => r.samples));
  table.innerHTML = '';
  const thead = el('thead');
  const tr = el('tr');
  for (const [h, c] of [['engine'], ['load ms', 'num'], ['median ms', 'num'], ['min ms', 'num'], ['× zeroskip', 'num'],
    ['median'], ['every run'], ['top-1'], ['max |Δ| vs ort', 'num']]) tr.append(el('th', h, c));
  thead.append(tr);
  const tbody = el('tbody');
  rows.forEach((r, i) => {
    const row = el('tr');
    const ratio = isNum(r.median) && isNum(zs) && zs > 0 ? r.median / zs : null;
    const name = el('td');
    name.append(el('span', null, 'swatch'), r.engine);
    name.firstChild.style.background = ENGINE_COLORS[i];
    row.append(name, el('td', fmt(r.loadMs, 0), 'num'), el('td', fmt(r.median, 2), 'num strong'), el('td', fmt(r.min, 2), 'num'),
      el('td', i === 0 ? '1.00×' : `${fmt(ratio, 2)}×`, 'num'));
    const barCell = el('td', null, 'medbar');
    const fill = el('span', null, 'medbar-fill');
    fill.style.width = `${isNum(r.median) && maxMed > 0 ? (100 * r.median) / maxMed : 0}%`;
    fill.style.background = ENGINE_COLORS[i];
    barCell.append(fill);
    const spark = el('td');
    spark.innerHTML = sparkline(r.samples, maxAll, ENGINE_COLORS[i]);
    row.append(barCell, spark, el('td', className(r.top1)), el('td', i === 2 ? '' : r.diffVsOrt.toExponential(1), 'num'));
    tbody.append(row);
  });
  table.append(thead, tbody);
  const [dense, ort] = [rows[1].median, rows[2].median];
  head.replaceChildren();
  if (isNum(zs) && isNum(dense) && isNum(ort)) {
    const say = (other, what) => {
      const r = other / zs;
      return r >= 1 ? [el('strong', `${r.toFixed(2)}× faster`), ` than ${what}`] : [el('strong', `${(1 / r).toFixed(2)}× slower`), ` than ${what}`];
    };
    head.append(`${MODELS[cur.model]} ${cur.variant}: zeroskip's plan (${fmt(zs, 1)} ms) is `, ...say(ort, 'onnxruntime-web'),
      ' and ', ...say(dense, 'its own dense plan'), ' on this file.');
  }
}

// ---- layers -----------------------------------------------------------------------------------

const isSparseKernel = (k) => /^spmm_/.test(k);
const isFused = (k) => /^fused into/.test(k);

function layerStats(report) {
  let [sparse, dense, flops, effective] = [0, 0, 0, 0];
  for (const r of report) {
    if (isSparseKernel(r.kernel)) sparse++;
    else if (/^gemm_/.test(r.kernel)) dense++;
    flops += r.flops;
    effective += isSparseKernel(r.kernel) ? r.flops * (1 - (r.sparsity ?? 0)) : r.flops;
  }
  return { sparse, dense, flops, effective };
}

function renderLayers(report) {
  const hideFused = $('hidefused').checked;
  const s = layerStats(report);
  const summary = $('layersummary');
  summary.className = '';
  summary.replaceChildren(`${report.length} layers; 1x1/FC layers: `, el('strong', `${s.sparse} on sparse kernels`),
    ` (spmm_*), ${s.dense} dense (gemm_*). ${fmt(s.flops / 1e6, 0)} MFLOPs dense-equivalent → `,
    el('strong', `${fmt(s.effective / 1e6, 0)} MFLOPs executed`), ` (${fmt(s.flops / s.effective, 2)}× less work).`);
  const table = $('layers');
  table.innerHTML = '';
  const thead = el('thead');
  const hr = el('tr');
  for (const [h, c] of [['#', 'num'], ['node'], ['op'], ['output', 'num'], ['kernel'], ['sparsity', 'num'], ['MFLOPs', 'num'], ['executed', 'num']]) hr.append(el('th', h, c));
  thead.append(hr);
  const tbody = el('tbody');
  report.forEach((r, i) => {
    if (hideFused && isFused(r.kernel)) return;
    const tr = el('tr', null, isFused(r.kernel) ? 'muted' : '');
    const eff = isSparseKernel(r.kernel) ? r.flops * (1 - (r.sparsity ?? 0)) : r.flops;
    tr.append(el('td', String(i), 'num'), el('td', r.node), el('td', r.op), el('td', r.output.join('×'), 'num'),
      el('td', r.kernel, isSparseKernel(r.kernel) ? 'kernel sparse' : 'kernel'),
      el('td', r.sparsity === null ? '' : `${(r.sparsity * 100).toFixed(0)}%`, 'num'),
      el('td', r.flops ? fmt(r.flops / 1e6, 2) : '', 'num'), el('td', r.flops ? fmt(eff / 1e6, 2) : '', 'num'));
    tbody.append(tr);
  });
  const tfoot = el('tfoot');
  const fr = el('tr');
  fr.append(el('td'), el('td', 'total'), el('td'), el('td'), el('td', `${s.sparse} sparse, ${s.dense} dense 1x1/FC`), el('td'),
    el('td', fmt(s.flops / 1e6, 1), 'num strong'), el('td', fmt(s.effective / 1e6, 1), 'num strong'));
  tfoot.append(fr);
  table.append(thead, tbody, tfoot);
}

// ---- page -------------------------------------------------------------------------------------

function buildGallery() {
  const gallery = $('gallery');
  const drop = $('drop');
  for (const img of state.images) {
    const b = el('button', null, 'thumb');
    b.type = 'button';
    b.dataset.index = String(img.index);
    b.title = `${state.labels[img.label]} (${img.file})`;
    const i = el('img');
    i.src = `models/images/${img.file}`;
    i.alt = className(img.label);
    i.loading = 'lazy';
    i.decoding = 'async';
    b.append(i, el('span', className(img.label)));
    b.addEventListener('click', () => selectGallery(img.index));
    gallery.insertBefore(b, drop);
  }
  markSelection();
}

function markSelection() {
  for (const b of document.querySelectorAll('.thumb')) {
    const sel = state.selection;
    const on = b.id === 'drop' ? sel.kind === 'file' : sel.kind === 'gallery' && Number(b.dataset.index) === sel.index;
    b.classList.toggle('selected', on);
  }
}

function selectGallery(index) {
  state.selection = { kind: 'gallery', index };
  state.input = null;
  markSelection();
  syncUrl();
  return enqueue(classify);
}

function selectFile(file) {
  if (!file) return;
  if (!file.type.startsWith('image/')) {
    showError(new UserError(`${file.name} is not an image (${file.type || 'unknown type'})`));
    return;
  }
  state.selection = { kind: 'file', name: file.name, blob: file };
  state.input = null;
  const thumb = $('userthumb');
  if (thumb.src) URL.revokeObjectURL(thumb.src);
  thumb.src = URL.createObjectURL(file);
  thumb.hidden = false;
  $('drop').classList.add('has-image');
  markSelection();
  syncUrl();
  return enqueue(classify);
}

function onModelChange() {
  state.benchStop = true;
  state.loadAbort?.abort();
  syncUrl();
  return enqueue(classify);
}

function readParams() {
  const q = new URLSearchParams(location.search);
  const pick = (name, allowed, fallback) => (allowed.includes(q.get(name)) ? q.get(name) : fallback);
  const image = Number(q.get('image') ?? 0);
  return {
    model: pick('model', Object.keys(MODELS), 'mobilenet_v2'),
    variant: pick('variant', VARIANTS, 'dense'),
    isa: pick('isa', ISAS, HAS.relaxed ? 'relaxed' : 'simd128'),
    image: Number.isInteger(image) && image >= 0 && image < 20 ? image : 0,
    ref: q.get('ref') === '1',
    runs: Math.max(1, Math.min(500, Number(q.get('runs')) || 20)),
    autorun: q.get('autorun') === '1',
  };
}

async function main() {
  const params = readParams();
  $('model').value = params.model;
  $('variant').value = params.variant;
  $('isa').value = params.isa;
  $('ref').checked = params.ref;
  $('runs').value = String(params.runs);
  for (const isa of ISAS) {
    const opt = $('isa').querySelector(`option[value="${isa}"]`);
    if (!HAS[isa]) {
      opt.disabled = true;
      opt.textContent += ' (not supported here)';
    } else if (isa === (HAS.relaxed ? 'relaxed' : 'simd128')) opt.textContent += ' (recommended)';
  }
  if (!HAS.simd128) {
    showError(new UserError('this browser has no WebAssembly SIMD; zeroskip needs at least SIMD128 (any current browser)'));
    document.title = 'error';
    return;
  }
  state.selection = { kind: 'gallery', index: params.image };

  for (const id of ['model', 'variant', 'isa']) $(id).addEventListener('change', onModelChange);
  $('ref').addEventListener('change', () => {
    state.input = null;
    syncUrl();
    enqueue(classify);
  });
  $('hidefused').addEventListener('change', () => state.current && renderLayers(state.current.report));
  $('file').addEventListener('change', (ev) => selectFile(ev.target.files[0]));
  const gallery = $('gallery');
  gallery.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    gallery.classList.add('dragging');
  });
  gallery.addEventListener('dragleave', () => gallery.classList.remove('dragging'));
  gallery.addEventListener('drop', (ev) => {
    ev.preventDefault();
    gallery.classList.remove('dragging');
    selectFile(ev.dataTransfer.files[0]);
  });
  $('bench').addEventListener('click', () => {
    if (state.benchRunning) {
      state.benchStop = true;
      return;
    }
    const runs = Math.max(1, Math.min(500, Math.round(Number($('runs').value) || 20)));
    enqueue(() => benchmark(runs));
  });
  window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

  try {
    setStatus('loading labels and images…');
    await ensureCommon();
    buildGallery();
  } catch (err) {
    showError(err);
    document.title = 'error';
    return;
  }
  await enqueue(classify);
  window.__demo.ready = true;
  if (params.autorun) {
    await enqueue(() => benchmark(params.runs));
    document.title = window.__demo.errors.length ? 'error' : 'done';
  }
}

window.demo = { preprocess, parseNpy, fetchBytes, pilResize, topK, softmax, argmax, state, selectGallery, HAS };
main();
