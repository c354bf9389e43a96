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

import { $, isNum, fmt, yieldToPage, el, median, parseNpy } from './util.js';
import { UserError, mountDemo, taskQueue, setStatus, showErrorBox, clearError } from './demo-ui.js';
import {
  detectFeatures, loadWasm, fetchWithProgress, decodeImage, preprocess, maxAbsDiff, argmax, topK, softmax,
} from './zeroskip/index.js';
import { loadOrt, createOrtEngine } from './zeroskip/bench/ort.js';

const MODELS = {
  mobilenet_v2: 'MobileNetV2',
  mobilenet_v1: 'MobileNetV1',
  efficientnet_lite0: 'EfficientNet-Lite0',
};
const VARIANTS = ['dense', 'p50', 's70', 's80', 's85', 's90', 's90b4'];
const ISAS = ['relaxed', 'simd128'];
const WARMUP = 3;
const RESIZE_SHORTER = 256;
const HINT = 'models not built: run `make zoo` and `make wasm` (or just `make demo`)';

const fileOf = (model, variant) => (variant === 'dense' ? model : `${model}_${variant}`);
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

const HAS = detectFeatures();

// ---- fetching ---------------------------------------------------------------------------------

/** GET `url` as bytes (the package's fetch, with progress); a missing file says how to make it. */
async function fetchBytes(url, options) {
  try {
    return await fetchWithProgress(url, options);
  } catch (err) {
    if (err.code === 'Network' && /HTTP 404/.test(err.message)) throw new UserError(`${url} not found: ${HINT}`);
    throw err;
  }
}

async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

// ---- engines ----------------------------------------------------------------------------------

/** zeroskip's plan for the ONNX `bytes` as a timed engine: run(x) → logits (Float32Array). */
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

/** onnxruntime-web (wasm EP, SIMD, one thread) on the same bytes, as the benchmark pages run it. */
async function ortEngine(bytes, shape) {
  let ort;
  try {
    ort = await loadOrt(new URL('./vendor/ort/ort.wasm.min.mjs', import.meta.url));
  } catch (err) {
    throw new UserError(`onnxruntime-web missing from vendor/ort (${err.message}): run make wasm`);
  }
  const engine = await createOrtEngine(ort, bytes, shape, { name: 'onnxruntime-web' });
  return { ...engine, loadMs: engine.load_ms };
}

// ---- preprocessing: the package's PIL-exact resize ---------------------------------------------

/**
 * A photo (Blob) → {tensor: NCHW Float32Array [3, size, size], rgba: the crop}, as
 * tools/zoo/preprocess.py does: decode as RGB (no color management, like PIL), resize the
 * shorter side to 256 (longer side rounded), center-crop, (pixel/255 - mean) / std.
 */
async function preprocessPhoto(blob, meta) {
  const size = meta.size ?? 224;
  const pixels = await decodeImage(blob);
  const { tensor, crop } = preprocess(pixels, { size, resize: RESIZE_SHORTER, mean: meta.mean, std: meta.std });
  return { tensor, rgba: crop, size, from: `${pixels.width}×${pixels.height}` };
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

// One queue for every step that touches a model: loads, classifications, benchmarks. A failed
// step shows its error; an aborted one (a newer choice replaced it) does not.
const queue = taskQueue(setBusy);
const enqueue = (task) =>
  queue(task).catch((err) => {
    if (err?.name !== 'AbortError' && err?.code !== 'Aborted') showError(err);
  });

function setBusy(busy) {
  window.__demo.busy = busy;
  $('spinner').hidden = !busy;
}

function showError(err) {
  showErrorBox(err, window.__demo.errors, 'classifier');
  setStatus('failed', 'fail');
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
  const zs = await loadWasm(isa);
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
    const p = await preprocessPhoto(blob, cur.meta);
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
  const result = top5(logits, cur.meta, 5);
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
function top5(logits, meta, k) {
  const probs = softmax(logits);
  const offset = meta.label_offset ?? 0;
  return topK(probs, k).map((i) => ({ index: i, label: i - offset, name: className(i - offset), full: state.labels[i - offset] ?? 'background', p: probs[i] }));
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
      e.dense = zeroskipEngine(await loadWasm(cur.isa), 'zeroskip dense plan', cur.file, cur.bytes, true);
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
    isa: pick('isa', ISAS, HAS.best ?? 'simd128'),
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
    } else if (isa === HAS.best) opt.textContent += ' (recommended)';
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

window.demo = { preprocess: preprocessPhoto, parseNpy, fetchBytes, topK: top5, softmax, argmax, state, selectGallery, HAS };
mountDemo({ title: 'image classifier' });
main();
