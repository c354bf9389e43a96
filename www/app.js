// zeroskip product demo (index.html): an image classifier and a text generator, both through
// the zeroskip package's public API (./zeroskip/index.js is js/, copied by `make wasm`): load(),
// classify(), generate(). Every model runs in its own Web Worker, so this thread only draws.
//
//   index.html?model=mobilenet_v2&variant=s85&backend=relaxed|wasm|webgpu&image=3
//             &threads=auto|1|2|4 (both panels' thread pickers)
//             &autoload=0 (no first classification) &inline=1 (run on the main thread: a
//             negative control for the long-task test) &llm=<file under models/llm>
//             &llmBackend=auto|webgpu|wasm (the LLM panel's backend picker)
// The LLM list is data: llm-models.json ({models: [{file, label, bytes, sparsity, act_sparsity,
// act_method, ppl, ppl_ratio}]}); the picker shows each file's size, weight and activation
// sparsity and perplexity. While generating, the panel shows the fraction of the linear layers'
// weight columns each token's pass skipped (activation sparsity), with a bar per token. The
// panel's backend picker (auto / WebGPU / WASM) loads the model there; the pill and the note say
// what runs (backend, GPU adapter, why not WebGPU), each generation's decode tok/s is kept per
// backend, and a move to WASM mid-generation (a lost GPU device) shows at the token it happened.
//
// For tests and the console: window.__app (state: image.last, llm.last, errors…) and
// window.__app.actions (selectImage, selectFile, generate, stop, …).

import { load, detectFeatures, clearCache, ZeroskipError, IMAGENET } from './zeroskip/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const INLINE = params.get('inline') === '1';
const DEFAULT_LLMS = [
  { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', label: 'SmolLM2-135M-Instruct · Q4_1', bytes: 98362432, sparsity: 0, act_sparsity: 0, act_method: null },
];
const SPARK_TOKENS = 64; // tokens the skipped-columns chart shows
const BACKENDS = {
  relaxed: { backend: 'wasm', isa: 'relaxed', label: 'WASM relaxed SIMD' },
  wasm: { backend: 'wasm', isa: 'simd128', label: 'WASM SIMD128' },
  webgpu: { backend: 'webgpu', isa: 'auto', label: 'WebGPU' },
};
const FRIENDLY = {
  BadModel: 'This model file could not be read',
  TooLarge: 'This model is too large to load in a browser tab',
  BadImage: 'That file is not an image zeroskip can read',
  BadInput: 'Invalid input',
  NoWebGPU: 'WebGPU is not available here',
  Unsupported: 'Not supported in this browser',
  Network: 'Download failed',
  Disposed: 'The model was unloaded',
  Runtime: 'The engine failed',
  Aborted: 'Stopped',
};
const HINTS = { TooLarge: 'The message says how much it asks for and the limit.', NoWebGPU: 'Pick a WASM backend: the page keeps working.', Network: 'Is the demo server (make demo) still running?' };
const MAX_RUNS = 40;

const features = detectFeatures();
const app = {
  ready: false,
  features,
  image: { busy: false, loaded: null, last: null, runs: [], errors: [], current: null },
  llm: { busy: false, loaded: null, last: null, errors: [], text: '', speeds: {} },
};
window.__app = app;

const mb = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${Math.round(b / 1e3)} kB`);
const fmtMs = (ms) => (ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);
/** A threads picker's value as load() takes it: 'auto' or a count. */
const threadsPick = (id) => ($(id).value === 'auto' ? 'auto' : Number($(id).value));
/** "2 threads", or "1 thread (why)" when the model runs on fewer than asked for or the default. */
const threadsText = (m) => `${m.threads} thread${m.threads === 1 ? '' : 's'}${m.threadsReason ? ` (${m.threadsReason})` : ''}`;
const threadsShort = (m) => `${m.threads} thread${m.threads === 1 ? '' : 's'}`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/** One queue per panel: a click never overlaps a load or a run. */
function queue() {
  let tail = Promise.resolve();
  return (task) => (tail = tail.then(task, task));
}
const imageQueue = queue();

function showError(panel, err) {
  const box = $(`${panel}-error`);
  const code = err instanceof ZeroskipError ? err.code : 'Runtime';
  const message = err?.message ?? String(err);
  box.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = `${FRIENDLY[code] ?? 'Error'} `;
  const codeEl = document.createElement('code');
  codeEl.textContent = code;
  box.append(strong, codeEl, document.createTextNode(`: ${message}`));
  if (HINTS[code]) box.append(document.createElement('br'), document.createTextNode(HINTS[code]));
  box.hidden = false;
  app[panel === 'img' ? 'image' : 'llm'].errors.push({ code, message });
  console.warn(`[${panel}] ${code}: ${message}`);
}
const clearError = (panel) => ($(`${panel}-error`).hidden = true);

function progressUi(panel) {
  const bar = $(`${panel}-progress`);
  const text = $(`${panel}-progress-text`);
  return {
    start() {
      $(`${panel}-load`).hidden = false;
      bar.removeAttribute('value');
      text.textContent = 'starting…';
    },
    on(p) {
      if (p.phase === 'download') {
        if (p.total) bar.value = p.loaded / p.total;
        else bar.removeAttribute('value');
        const src = p.fromCache ? 'from cache' : 'downloading';
        text.textContent = `${src} ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''}`;
      } else {
        bar.value = 1;
        text.textContent = 'compiling the plan…';
      }
    },
    done() {
      $(`${panel}-load`).hidden = true;
    },
  };
}

// ---- header chips ---------------------------------------------------------------------------------

function chips() {
  const simd = $('chip-simd');
  simd.textContent = features.relaxed ? 'WASM relaxed SIMD ✓' : features.simd128 ? 'WASM SIMD128 ✓' : 'no WASM SIMD';
  simd.className = `chip ${features.simd128 ? 'ok' : 'warn'}`;
  const iso = $('chip-iso');
  iso.textContent = crossOriginIsolated ? 'cross-origin isolated ✓' : 'not isolated';
  iso.className = `chip ${crossOriginIsolated ? 'ok' : 'warn'}`;
  const gpu = $('chip-gpu');
  if (!features.webgpu) {
    gpu.textContent = 'no WebGPU';
    gpu.className = 'chip warn';
    return;
  }
  navigator.gpu.requestAdapter().then(
    (a) => {
      app.gpuAdapter = a ? { fallback: !!a.info?.isFallbackAdapter, vendor: a.info?.vendor ?? '' } : null;
      gpu.textContent = !a ? 'WebGPU: no adapter' : a.info?.isFallbackAdapter ? 'WebGPU: CPU emulation' : `WebGPU ✓ ${a.info?.vendor ?? ''}`;
      gpu.className = `chip ${a ? 'ok' : 'warn'}`;
    },
    () => {
      gpu.textContent = 'WebGPU: no adapter';
      gpu.className = 'chip warn';
    },
  );
}

// ---- image panel ----------------------------------------------------------------------------------

let labels = [];
let samples = []; // [{file, label}]
const metaCache = {};
let classifier = null;
let baseline = null; // the dense plan of the same weights, for the speedup readout
let loadedKey = null;
let modelLine = ''; // the loaded model, for the status line

function choice() {
  return { model: $('img-model').value, variant: $('img-variant').value, backend: $('img-backend-pick').value, threads: threadsPick('img-threads') };
}
let customModel = null; // a File from "Your own model file…"
const fileOf = ({ model, variant }) =>
  model === '__file' ? customModel : `models/${variant === 'dense' ? model : `${model}_${variant}`}.onnx`;
const IMAGENET_META = { size: 224, ...IMAGENET };

async function meta(model) {
  if (model === '__file') return IMAGENET_META;
  metaCache[model] ??= fetch(`models/${model}.json`).then((r) => {
    if (!r.ok) throw new ZeroskipError('Network', `models/${model}.json: HTTP ${r.status} (run make demo to build the zoo)`);
    return r.json();
  });
  return metaCache[model];
}

function loadOptions(c, m, extra = {}) {
  const b = BACKENDS[c.backend];
  return {
    backend: b.backend, isa: b.isa, threads: c.threads, worker: !INLINE, labels, labelOffset: m.label_offset,
    preprocess: { size: m.size ?? 224, mean: m.mean, std: m.std }, kind: 'image-classifier', ...extra,
  };
}

function disposeModels() {
  classifier?.dispose();
  baseline?.dispose();
  classifier = baseline = null;
  loadedKey = null;
  app.image.loaded = null;
}

async function ensureClassifier() {
  const c = choice();
  const key = c.model === '__file'
    ? `file:${customModel?.name}:${customModel?.size}:${customModel?.lastModified}|${c.backend}|${c.threads}`
    : `${c.model}|${c.variant}|${c.backend}|${c.threads}`;
  if (classifier && loadedKey === key) return classifier;
  disposeModels();
  app.image.runs = [];
  drawChart();
  const url = fileOf(c);
  if (!url) throw new ZeroskipError('BadInput', 'choose a model file first');
  const ui = progressUi('img');
  ui.start();
  $('img-status').textContent = `Loading ${typeof url === 'string' ? url.split('/').pop() : url.name} on ${BACKENDS[c.backend].label}…`;
  try {
    const m = await meta(c.model);
    classifier = await load(url, loadOptions(c, m, { onProgress: ui.on }));
    await warmUp(classifier);
  } finally {
    ui.done();
  }
  loadedKey = key;
  const i = classifier.info;
  app.image.loaded = {
    key, ...c, backend: classifier.backend, isa: classifier.isa, fallback: classifier.fallback, fromCache: i.fromCache, fileBytes: i.fileBytes,
    threads: classifier.threads, threadsReason: classifier.threadsReason,
  };
  const where = classifier.backend === 'webgpu' ? 'WebGPU' : `WASM ${classifier.isa}`;
  const sparse = i.prunableLayers ? ` · ${i.sparseLayers}/${i.prunableLayers} layers on sparse kernels` : '';
  const skipped = i.flopsSkipped ? ` · ${(100 * i.flopsSkipped).toFixed(0)}% of their FLOPs skipped` : '';
  modelLine = `${i.name} · ${mb(i.fileBytes)}${i.fromCache ? ' (cached)' : ''} · planned in ${fmtMs(i.loadMs)} on ${where} · ${threadsText(classifier)}${sparse}${skipped}`;
  $('img-status').textContent = modelLine;
  const note = $('img-note');
  const notes = [];
  if (/^s\d/.test(c.variant)) notes.push('Magnitude-pruned without retraining: here to measure speed; its labels are not meaningful. The 50% SparseGPT variant keeps accuracy.');
  if (classifier.fallback) notes.push(`WebGPU not used: ${classifier.fallback}`);
  if (classifier.backend === 'webgpu' && app.gpuAdapter?.fallback) notes.push('This WebGPU adapter is a CPU emulation (SwiftShader), far slower than WASM: compare ratios, not milliseconds.');
  note.textContent = notes.join(' ');
  note.hidden = !notes.length;
  return classifier;
}

async function ensureBaseline() {
  if (baseline || !classifier) return baseline;
  const c = choice();
  const m = await meta(c.model);
  baseline = await load(fileOf(c), loadOptions(c, m, { dense: true }));
  await warmUp(baseline);
  return baseline;
}

/** One untimed run on WASM (the first touches every page of the arena); WebGPU runs are slow here. */
async function warmUp(model) {
  if (model.backend === 'wasm') await model.run(new Float32Array(model.inputShape.reduce((a, b) => a * b, 1)));
}

function setImageBusy(b) {
  app.image.busy = b;
  $('img-repeat').disabled = b;
  document.body.classList.toggle('img-busy', b);
}

async function classifyCurrent({ withBaseline = true } = {}) {
  const cur = app.image.current;
  if (!cur) return;
  setImageBusy(true);
  clearError('img');
  try {
    const model = await ensureClassifier();
    const t0 = performance.now();
    const r = await model.classify(cur.blob, { topK: 5 });
    const wall = performance.now() - t0;
    renderTop5(r);
    $('img-status').textContent = modelLine;
    const c = choice();
    const last = {
      model: c.model, variant: c.variant, pick: c.backend, backend: r.backend, isa: r.isa, threads: model.threads, threadsReason: model.threadsReason,
      image: cur.name, truth: cur.truth,
      top1: r.predictions[0].index, top1Label: r.predictions[0].label, ms: r.inferenceMs, wallMs: wall,
      top5: r.predictions.map((p) => ({ index: p.index, label: p.label, p: p.probability })), denseTop1: null, agree: null,
    };
    $('img-backend').textContent = r.backend === 'webgpu' ? 'ran on WebGPU' : `ran on WASM · ${r.isa} · ${threadsShort(model)}`;
    $('img-backend').className = `pill ${r.backend === 'webgpu' ? 'gpu' : ''}`;
    $('img-caption').textContent = `${cur.name}${cur.truth !== null ? ` · true label: ${labels[cur.truth]?.split(',')[0]}` : ''} · ${fmtMs(r.inferenceMs)} on ${threadsText(model)}`;
    // The dense plan of the same weights: automatic on WASM (milliseconds), on demand on WebGPU.
    if (withBaseline && (r.backend === 'wasm' || baseline)) {
      const d = await (await ensureBaseline()).classify(cur.blob, { topK: 1 });
      last.denseTop1 = d.predictions[0].index;
      last.denseMs = d.inferenceMs;
      last.agree = last.denseTop1 === last.top1;
      app.image.runs.push({ ms: r.inferenceMs, dense: d.inferenceMs });
    } else app.image.runs.push({ ms: r.inferenceMs, dense: null });
    app.image.runs = app.image.runs.slice(-MAX_RUNS);
    const agree = $('top5').querySelector('.agree');
    if (agree && last.agree !== null) agree.textContent = last.agree ? '✓ the dense plan of these weights gives the same top-1' : `✗ the dense plan says ${labels[last.denseTop1] ?? last.denseTop1}`;
    drawChart();
    app.image.last = last;
  } catch (err) {
    if (err?.code === 'BadModel' || err?.code === 'TooLarge' || err?.code === 'NoWebGPU' || err?.code === 'Network') disposeModels();
    showError('img', err);
    $('img-status').textContent = 'Ready: pick another model, backend or image.';
  } finally {
    setImageBusy(false);
  }
}

function renderTop5(r) {
  const box = $('top5');
  box.replaceChildren();
  for (const p of r.predictions) {
    const row = document.createElement('div');
    row.className = 'bar';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = p.label.split(',')[0];
    name.title = p.label;
    const pct = document.createElement('span');
    pct.className = 'pct';
    pct.textContent = `${(100 * p.probability).toFixed(1)}%`;
    const track = document.createElement('div');
    track.className = 'track';
    const fill = document.createElement('div');
    fill.className = 'fill';
    fill.style.width = `${Math.max(0.5, 100 * p.probability)}%`;
    track.append(fill);
    row.append(name, pct, track);
    box.append(row);
  }
  const agree = document.createElement('p');
  agree.className = 'agree';
  box.append(agree);
}

function drawChart() {
  const svg = $('chart');
  const runs = app.image.runs;
  const [W, H, pad] = [360, 120, 8];
  const all = runs.flatMap((r) => [r.ms, r.dense]).filter((x) => x !== null && Number.isFinite(x));
  const max = Math.max(1, ...all) * 1.1;
  const x = (i) => pad + (runs.length > 1 ? (i * (W - 2 * pad)) / (runs.length - 1) : (W - 2 * pad) / 2);
  const y = (v) => H - pad - (v / max) * (H - 2 * pad);
  const line = (key, color) => {
    const pts = runs.map((r, i) => (r[key] === null ? null : `${x(i).toFixed(1)},${y(r[key]).toFixed(1)}`)).filter(Boolean);
    if (!pts.length) return '';
    const dots = pts.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.2" fill="${color}"/>`).join('');
    return `<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2" vector-effect="non-scaling-stroke"/>${dots}`;
  };
  svg.innerHTML = `<text x="${W - pad}" y="14" text-anchor="end" font-size="10" fill="#6b7280">${runs.length ? `max ${fmtMs(max / 1.1)}` : 'no runs yet'}</text>` +
    line('dense', '#9ca3af') + line('ms', '#059669');
  const sparse = median(runs.map((r) => r.ms));
  const denseRuns = runs.filter((r) => r.dense !== null);
  const dense = median(denseRuns.map((r) => r.dense));
  const speedup = denseRuns.length ? dense / median(denseRuns.map((r) => r.ms)) : NaN;
  $('speedup').textContent = Number.isFinite(speedup) ? `${speedup.toFixed(2)}×` : '—';
  $('speedup').classList.toggle('slower', Number.isFinite(speedup) && speedup < 0.95);
  $('latency-text').textContent = runs.length
    ? `median ${fmtMs(sparse)}${denseRuns.length ? ` vs ${fmtMs(dense)} dense` : ''} · ${runs.length} run${runs.length > 1 ? 's' : ''}`
    : '';
  app.image.speedup = Number.isFinite(speedup) ? speedup : null;
}

function buildStrip() {
  const strip = $('strip');
  samples.forEach((s, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'thumb';
    b.dataset.index = String(i);
    b.title = labels[s.label] ?? s.file;
    const img = document.createElement('img');
    img.src = `models/images/${s.file}`;
    img.alt = labels[s.label]?.split(',')[0] ?? s.file;
    img.decoding = 'async';
    b.append(img);
    b.addEventListener('click', () => selectImage(i));
    strip.append(b);
  });
}

function markSelected(i) {
  for (const t of document.querySelectorAll('.strip .thumb')) t.classList.toggle('selected', Number(t.dataset.index) === i);
}

async function selectImage(i) {
  const s = samples[i];
  markSelected(i);
  const url = `models/images/${s.file}`;
  $('img-preview').src = url;
  return imageQueue(async () => {
    const blob = await (await fetch(url)).blob();
    app.image.current = { blob, name: s.file, truth: s.label, index: i };
    await classifyCurrent();
  });
}

let previewUrl = null;
function selectFile(file) {
  markSelected(-1);
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  $('img-preview').src = previewUrl;
  app.image.current = { blob: file, name: file.name || 'your image', truth: null, index: null };
  return imageQueue(() => classifyCurrent());
}

async function repeatRuns(n = 10) {
  return imageQueue(async () => {
    if (!app.image.current) return;
    try {
      await ensureClassifier();
      await ensureBaseline();
    } catch (err) {
      showError('img', err);
      return;
    }
    for (let i = 0; i < n; i++) await classifyCurrent();
  });
}

function onPickerChange() {
  const c = choice();
  const u = new URL(location.href);
  if (c.model !== '__file') u.searchParams.set('model', c.model);
  u.searchParams.set('variant', c.variant);
  u.searchParams.set('backend', c.backend);
  u.searchParams.set('threads', String(c.threads));
  history.replaceState(null, '', u);
  if (app.image.current) return imageQueue(() => classifyCurrent());
  return imageQueue(() => ensureClassifier().catch((err) => showError('img', err)));
}

function wireDrop() {
  const drop = $('drop');
  $('img-file').addEventListener('change', (e) => {
    const f = e.target.files?.[0];
    if (f) selectFile(f);
    e.target.value = '';
  });
  let depth = 0;
  document.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    if (--depth <= 0) document.body.classList.remove('dragging');
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove('dragging');
    const f = e.dataTransfer?.files?.[0];
    if (f) selectFile(f);
  });
  drop.addEventListener('keydown', (e) => e.key === 'Enter' && $('img-file').click());
}

async function initImagePanel() {
  const backendPick = $('img-backend-pick');
  if (!features.relaxed) {
    const opt = backendPick.querySelector('option[value=relaxed]');
    opt.disabled = true;
    opt.textContent += ' (unsupported here)';
  }
  if (!features.webgpu) backendPick.querySelector('option[value=webgpu]').textContent += ' (unavailable)';
  const want = {
    model: params.get('model'), variant: params.get('variant'),
    backend: params.get('backend') ?? (features.relaxed ? 'relaxed' : 'wasm'),
  };
  for (const [id, v] of [['img-model', want.model], ['img-variant', want.variant], ['img-backend-pick', want.backend], ['img-threads', params.get('threads')]]) {
    if (v && [...$(id).options].some((o) => o.value === v && !o.disabled)) $(id).value = v;
  }
  for (const id of ['img-variant', 'img-backend-pick', 'img-threads']) $(id).addEventListener('change', onPickerChange);
  let previousModel = $('img-model').value;
  $('img-model').addEventListener('change', () => {
    const v = $('img-model').value;
    if (v === '__file') {
      $('img-model').value = previousModel; // until a file is chosen
      $('model-file').click();
      return;
    }
    previousModel = v;
    $('img-variant').disabled = false;
    onPickerChange();
  });
  $('model-file').addEventListener('change', (e) => {
    const f = e.target.files?.[0];
    e.target.value = '';
    if (!f) return;
    customModel = f;
    previousModel = '__file';
    $('img-model').value = '__file';
    $('img-model').querySelector('option[value=__file]').textContent = `Your file: ${f.name}`;
    $('img-variant').disabled = true;
    onPickerChange();
  });
  $('img-repeat').addEventListener('click', () => repeatRuns(10));
  wireDrop();
  try {
    const [l, v] = await Promise.all([
      fetch('models/labels.txt').then((r) => (r.ok ? r.text() : Promise.reject(new Error(`labels.txt: HTTP ${r.status}`)))),
      fetch('models/verify.json').then((r) => (r.ok ? r.json() : Promise.reject(new Error(`verify.json: HTTP ${r.status}`)))),
    ]);
    labels = l.split('\n').map((s) => s.trim()).filter(Boolean);
    samples = v.images.map((file, i) => ({ file, label: v.labels[i] }));
  } catch (err) {
    $('nomodels').hidden = false;
    $('img-status').textContent = `The model zoo is missing (${err.message}).`;
    return;
  }
  buildStrip();
  if (params.get('autoload') === '0') {
    $('img-status').textContent = 'Pick an image.';
    return;
  }
  await selectImage(Math.min(samples.length - 1, Math.max(0, Number(params.get('image') ?? 0) || 0)));
}

// ---- LLM panel ------------------------------------------------------------------------------------

let llmModels = DEFAULT_LLMS;
let generator = null;
let generatorFile = null;
let generatorThreads = null; // the threads option it was loaded with
let generatorPick = null; // the backend picker's value it was loaded with
const LLM_BACKENDS = ['auto', 'webgpu', 'wasm'];
const BACKEND_NAMES = { webgpu: 'WebGPU', wasm: 'WASM' };
let controller = null;

async function llmManifest() {
  try {
    const r = await fetch('llm-models.json');
    if (!r.ok) return DEFAULT_LLMS;
    const j = await r.json();
    const list = (Array.isArray(j) ? j : j.models ?? []).filter((m) => m && typeof m.file === 'string');
    return list.length ? list : DEFAULT_LLMS;
  } catch {
    return DEFAULT_LLMS;
  }
}

function llmEntry() {
  return llmModels.find((m) => m.file === $('llm-model').value) ?? llmModels[0];
}

const pct = (x, digits = 0) => `${(100 * x).toFixed(digits)}%`;

/** An entry's size, weight sparsity, activation sparsity and perplexity, as short phrases. */
function llmFacts(m) {
  const sp = Number(m.sparsity) || 0;
  const act = Number(m.act_sparsity) || 0;
  const ppl = Number(m.ppl);
  const ratio = Number(m.ppl_ratio);
  return [
    m.bytes ? mb(m.bytes) : null,
    sp > 0 ? `weights ${pct(sp, sp < 0.1 ? 1 : 0)} sparse` : 'dense weights',
    act > 0 ? `activations ${pct(act)} sparse (${m.act_method ?? '?'})` : 'dense activations',
    ppl > 0 ? `ppl ${ppl.toFixed(1)}${ratio > 0 ? ` (${ratio.toFixed(2)}× dense)` : ''}` : 'ppl not measured',
  ].filter(Boolean);
}

/** The same facts, short, for the picker's options. */
function llmBrief(m) {
  const sp = Number(m.sparsity) || 0;
  const act = Number(m.act_sparsity) || 0;
  const ratio = Number(m.ppl_ratio);
  return [
    m.bytes ? mb(m.bytes) : null,
    `weights ${pct(sp, sp > 0 && sp < 0.1 ? 1 : 0)}`,
    act > 0 ? `act ${pct(act)} ${m.act_method ?? ''}`.trim() : 'act 0%',
    ratio > 0 ? `ppl ${ratio.toFixed(2)}×` : 'ppl —',
  ].filter(Boolean).join(' · ');
}

function describeLlm() {
  const m = llmEntry();
  const parts = llmFacts(m);
  if (generator && generatorFile === m.file) {
    const c = generator.info.config;
    const kern = [...new Set(Object.values(generator.info.kernels?.gemv ?? {}))].join(', ');
    parts.push(`${c.n_layers} layers · dim ${c.dim}`, kern ? `GEMV ${kern}` : null);
  }
  $('llm-meta').textContent = parts.filter(Boolean).join(' · ');
}

async function ensureGenerator() {
  const m = llmEntry();
  const threads = threadsPick('llm-threads');
  const pick = $('llm-backend-pick').value;
  if (generator && generatorFile === m.file && generatorThreads === threads && generatorPick === pick) return generator;
  generator?.dispose();
  generator = null;
  app.llm.loaded = null;
  const ui = progressUi('llm');
  ui.start();
  $('llm-status').textContent = `Loading ${m.label ?? m.file} (backend ${pick})…`;
  try {
    generator = await load(`models/llm/${m.file}`, { backend: pick, worker: !INLINE, threads, onProgress: ui.on, contextLength: 1024 });
  } finally {
    ui.done();
  }
  generatorFile = m.file;
  generatorThreads = threads;
  generatorPick = pick;
  const i = generator.info;
  app.llm.loaded = {
    file: m.file, pick, backend: generator.backend, adapter: generator.adapter, fallback: generator.fallback, isa: generator.isa,
    fromCache: i.fromCache, fileBytes: i.fileBytes, threads: generator.threads, threadsReason: generator.threadsReason,
  };
  showLlmBackend(generator);
  $('llm-status').textContent = `${m.label ?? m.file} ready on ${whereLlm(generator)} · ${mb(i.fileBytes)}${i.fromCache ? ' (cached)' : ''} · loaded in ${fmtMs(i.loadMs)}`;
  $('chat').disabled = !i.hasChatTemplate;
  describeLlm();
  return generator;
}

/** "WebGPU (adapter)" or "WASM relaxed, 2 threads (why)". */
function whereLlm(gen, backend = gen.backend) {
  if (backend === 'webgpu') return `WebGPU${gen.adapter ? ` (${gen.adapter})` : ''}`;
  return `WASM ${gen.isa}, ${threadsText(gen)}`;
}

/**
 * The pill (what ran the last token) and the note: why WebGPU is not what runs, a CPU-emulated
 * adapter, a move to WASM mid-generation (`switchedAt`: the first token WASM produced).
 */
function showLlmBackend(gen, { backend = gen.backend, switchedAt = null } = {}) {
  const pill = $('llm-backend');
  pill.textContent = backend === 'webgpu' ? `WebGPU${gen.adapter ? ` · ${gen.adapter}` : ''}` : `WASM · ${gen.isa} · ${threadsShort(gen)}`;
  pill.className = `pill ${backend === 'webgpu' ? 'gpu' : ''}`;
  pill.title = `what ran the last token${gen.adapter ? `; GPU adapter: ${gen.adapter}` : ''}`;
  const notes = [];
  if (switchedAt !== null) notes.push(`WebGPU failed during this generation: from token ${switchedAt + 1} on, the tokens came from WASM (the conversation so far re-ran there). ${gen.fallback ?? ''}`);
  else if (gen.fallback) notes.push(`WebGPU not used: ${gen.fallback}`);
  if (backend === 'webgpu' && (app.gpuAdapter?.fallback || /swiftshader/i.test(gen.adapter ?? ''))) {
    notes.push('This WebGPU adapter is a CPU emulation (SwiftShader), far slower than WASM: compare ratios, not tokens/s.');
  }
  const note = $('llm-note');
  note.textContent = notes.join(' ');
  note.hidden = !notes.length;
}

/** The last generation's decode speed on each backend, as the panel keeps them. */
function showSpeeds() {
  const parts = Object.entries(app.llm.speeds).map(([b, x]) => `${BACKEND_NAMES[b] ?? b} ${x.tokensPerSecond.toFixed(1)} tok/s (${x.file.replace(/^SmolLM2-135M-Instruct\./, '')})`);
  $('llm-speeds').textContent = parts.length ? `decode speed, last run per backend: ${parts.join(' · ')}` : '';
}

function setLlmBusy(b) {
  app.llm.busy = b;
  $('generate').disabled = b;
  $('stop').disabled = !b;
  $('llm-model').disabled = b;
  $('llm-backend-pick').disabled = b;
  $('llm-threads').disabled = b;
  $('cursor').hidden = !b;
}

async function generate(overrides = {}) {
  if (app.llm.busy) return;
  setLlmBusy(true);
  clearError('llm');
  const prompt = overrides.prompt ?? $('prompt').value;
  const num = (id) => Number($(id).value);
  const opts = {
    maxTokens: overrides.maxTokens ?? num('max-tokens'),
    temperature: overrides.temperature ?? num('temperature'),
    topK: overrides.topK ?? num('top-k'),
    topP: overrides.topP ?? num('top-p'),
    seed: overrides.seed ?? num('seed'),
    chat: overrides.chat ?? $('chat').checked,
    // tests only: the engine destroys the GPU device before this token (a lost device)
    ...(overrides._loseDeviceAt !== undefined ? { _loseDeviceAt: overrides._loseDeviceAt } : {}),
  };
  const completion = $('completion');
  completion.textContent = '';
  $('prompt-echo').textContent = opts.chat ? '' : prompt;
  $('tok-s').textContent = '—';
  $('act-skip').textContent = '—';
  $('gen-stats').textContent = '';
  const skipped = [];
  drawSkipped(skipped);
  app.llm.text = '';
  app.llm.seq = (app.llm.seq ?? 0) + 1;
  const last = {
    seq: app.llm.seq, prompt, options: opts, text: '', tokens: 0, ids: [], stats: null, aborted: false, error: null, done: false, actSkipped: skipped,
    pick: $('llm-backend-pick').value, backend: null, backends: [], switchedAt: null, fallback: null, adapter: null,
  };
  app.llm.last = last;
  try {
    const gen = await ensureGenerator();
    controller = new AbortController();
    $('llm-status').textContent = 'Reading the prompt…';
    last.backend = gen.backend;
    last.adapter = gen.adapter;
    last.fallback = gen.fallback;
    $('tok-s-backend').textContent = ` on ${BACKEND_NAMES[gen.backend]}`;
    const g = gen.generate(prompt, { ...opts, signal: controller.signal });
    // tok/s of the backend now running: restarts when a GPU failure moves the generation to WASM
    let first = 0;
    let since = 0;
    for await (const piece of g) {
      last.tokens++;
      const b = g.token?.backend ?? gen.backend;
      if (g.token?.id !== null && g.token?.id !== undefined) last.ids.push(g.token.id);
      last.backends.push(b);
      if (b !== last.backend) {
        // a move mid-generation (WebGPU → WASM): the token it happened at, and why
        last.switchedAt ??= last.tokens - 1;
        last.backend = b;
        last.fallback = gen.fallback;
        $('tok-s-backend').textContent = ` on ${BACKEND_NAMES[b]}`;
        showLlmBackend(gen, { backend: b, switchedAt: last.switchedAt });
        first = performance.now();
        since = last.tokens;
      }
      if (last.tokens === 1) {
        first = performance.now();
        since = 1;
        $('llm-status').textContent = `Generating on ${whereLlm(gen, b)}…`;
      } else if (last.tokens > since) {
        $('tok-s').textContent = ((1000 * (last.tokens - since)) / (performance.now() - first)).toFixed(1);
      }
      const skip = g.token?.actSkipped;
      if (typeof skip === 'number') {
        skipped.push(skip);
        $('act-skip').textContent = pct(skip);
        drawSkipped(skipped);
      }
      completion.append(piece);
      last.text += piece;
      app.llm.text = last.text;
      const out = $('output');
      if (out.scrollHeight - out.scrollTop - out.clientHeight < 40) out.scrollTop = out.scrollHeight;
    }
    const s = g.stats;
    last.stats = s;
    last.backend = s.backend;
    last.fallback = s.fallback;
    last.adapter = s.adapter;
    last.switchedAt = s.switchedAt;
    // the speed of the backend that finished the generation (its own decode steps only)
    const finished = s.byBackend?.[s.backend];
    if (finished?.tokensPerSecond) $('tok-s').textContent = finished.tokensPerSecond.toFixed(1);
    else if (s?.tokensPerSecond) $('tok-s').textContent = s.tokensPerSecond.toFixed(1);
    for (const [b, x] of Object.entries(s.byBackend ?? {})) {
      if (x.tokensPerSecond) app.llm.speeds[b] = { tokensPerSecond: x.tokensPerSecond, tokens: x.tokens, file: generatorFile };
    }
    showSpeeds();
    showLlmBackend(gen, { backend: s.backend, switchedAt: s.switchedAt });
    if (typeof s?.actSkipped === 'number') $('act-skip').textContent = pct(s.actSkipped);
    const on = s.backend === 'webgpu' ? 'WebGPU' : threadsShort(gen);
    $('gen-stats').textContent = `${s.tokens} tokens on ${on} · prompt ${s.promptTokens} tok at ${s.prefillTokensPerSecond?.toFixed(0) ?? '—'} tok/s` +
      (s.prefillBackend !== s.backend ? ` (on ${BACKEND_NAMES[s.prefillBackend]})` : '') +
      (typeof s.actZero === 'number' && s.actZero > 0 ? ` · ${pct(s.actZero)} of the inputs zero` : '') +
      (s.finishReason === 'eos' ? ' · ended by the model' : '');
    $('llm-status').textContent = s.switchedAt !== null
      ? `Done: WebGPU for ${s.switchedAt} token${s.switchedAt === 1 ? '' : 's'}, then ${whereLlm(gen, 'wasm')}.`
      : `Done on ${whereLlm(gen, s.backend)}.`;
  } catch (err) {
    if (err instanceof ZeroskipError && err.code === 'Aborted') {
      last.aborted = true;
      $('llm-status').textContent = `Stopped after ${last.tokens} tokens.`;
    } else {
      last.error = { code: err?.code ?? 'Runtime', message: err?.message ?? String(err) };
      if (err?.code === 'BadModel' || err?.code === 'TooLarge' || err?.code === 'Network' || err?.code === 'NoWebGPU') {
        generator?.dispose();
        generator = null;
        generatorFile = null;
      }
      if (!generator) {
        $('llm-backend').textContent = '—';
        $('llm-backend').className = 'pill';
        $('llm-note').hidden = true;
      }
      showError('llm', err);
      $('llm-status').textContent = 'Ready.';
    }
  } finally {
    controller = null;
    last.done = true;
    setLlmBusy(false);
  }
  return last;
}

function stop() {
  controller?.abort();
}

/** One bar per decoded token (the last SPARK_TOKENS): the fraction of weight columns skipped. */
function drawSkipped(values) {
  const c = $('act-spark');
  const ctx = c.getContext('2d');
  const [w, h] = [c.width, c.height];
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#e5e7eb';
  ctx.fillRect(0, h - 1, w, 1);
  const shown = values.slice(-SPARK_TOKENS);
  const bw = w / SPARK_TOKENS;
  ctx.fillStyle = '#059669';
  shown.forEach((v, i) => {
    const bh = Math.max(1, Math.round(Math.min(1, Math.max(0, v)) * (h - 1)));
    ctx.fillRect(i * bw, h - 1 - bh, Math.max(1, bw - 1), bh);
  });
}

async function initLlmPanel() {
  llmModels = await llmManifest();
  const sel = $('llm-model');
  for (const m of llmModels) {
    const o = document.createElement('option');
    o.value = m.file;
    o.textContent = `${m.label ?? m.file} — ${llmBrief(m)}`;
    o.title = llmFacts(m).join(' · ');
    sel.append(o);
  }
  const want = params.get('llm');
  if (want && llmModels.some((m) => m.file === want)) sel.value = want;
  const threads = params.get('threads');
  if (threads && [...$('llm-threads').options].some((o) => o.value === threads)) $('llm-threads').value = threads;
  const backendPick = $('llm-backend-pick');
  if (!features.webgpu) backendPick.querySelector('option[value=webgpu]').textContent += ' (unavailable)';
  const wantBackend = params.get('llmBackend');
  if (LLM_BACKENDS.includes(wantBackend)) backendPick.value = wantBackend;
  backendPick.addEventListener('change', () => {
    const u = new URL(location.href);
    u.searchParams.set('llmBackend', backendPick.value);
    history.replaceState(null, '', u);
    $('llm-status').textContent = `Backend ${backendPick.value}: the model loads there when you press Generate.`;
  });
  sel.addEventListener('change', describeLlm);
  describeLlm();
  $('generate').addEventListener('click', () => generate());
  $('stop').addEventListener('click', stop);
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) generate();
  });
}

// ---- start ----------------------------------------------------------------------------------------

app.actions = {
  selectImage, selectFile, repeatRuns, generate, stop,
  ensureBaseline: () => imageQueue(() => ensureBaseline()),
  idle: () => imageQueue(() => undefined),
};

$('clear-cache').addEventListener('click', async () => {
  await clearCache();
  $('clear-cache').textContent = 'Cache cleared';
});
chips();
await initLlmPanel();
app.ready = true;
await initImagePanel();
