// zeroskip hand-landmark demo: MediaPipe's hand-landmark model (a TF.js graph model) on a photo, a
// dropped file, the webcam or a sample, with the 21 landmarks drawn over the crop.
//
//   hand.html?model=sparse|full|lite&plan=sparse|dense&isa=relaxed|simd128&sample=N
//
// On load it picks the zeroskip build by feature detection (relaxed SIMD where available), fetches
// models/tfjs/<model>.json and its shards (streamed, one progress bar over all their bytes), builds
// the plan (Model.fromTfjs(name, json, shards, dense)) and runs sample N (default 0). After a model
// loads it also builds the other plan and times both on the current input a few rounds, one run at
// a time with the page free in between, for the "sparse kernels vs dense plan" readout.
//
// Model: input input_1:0 [1, 224, 224, 3] NHWC RGB in [0, 1]. Outputs, picked by name and length
// (the three models order and shape them differently): Identity:0 = 21 × (x, y, z), x and y in
// pixels of the 224×224 input; Identity_1:0 = hand presence (a sigmoid); Identity_2:0 =
// handedness (a sigmoid, > 0.5 = right hand in MediaPipe's convention, for a mirrored image).
// handlandmark-full and -lite also have Identity_3:0 (world landmarks), unused here.
//
// Every step that touches a model goes through one queue, so a click never overlaps a run.
// For tests and the console: window.handDemo = { ready, last, runImage(url|Blob), loadModel(name,
// dense), ... } (see the end of this file).

import { $, isNum, fmt, ratio, yieldToPage, el, median, planSummary } from './util.js';
import { UserError, mountDemo, taskQueue, setStatus, showErrorBox, clearError } from './demo-ui.js';
import { detectFeatures, loadWasm, fetchWithProgress } from './zeroskip/index.js';

const MODELS = {
  sparse: { file: 'handlandmark-sparse', title: 'handlandmark-sparse', blurb: '86% of the weights are zero' },
  full: { file: 'handlandmark-full', title: 'handlandmark-full', blurb: 'dense (36% zeros)' },
  lite: { file: 'handlandmark-lite', title: 'handlandmark-lite', blurb: 'dense, smaller (12% zeros)' },
};
const PLANS = ['sparse', 'dense'];
const ISAS = ['relaxed', 'simd128'];
const DIR = 'models/tfjs';
const HINT = 'run `make zoo` and `make wasm` (or just `make demo`) to fill www/models';
/** Outputs by name, with the length each must have. */
const OUTPUTS = { landmarks: ['Identity:0', 63], presence: ['Identity_1:0', 1], handedness: ['Identity_2:0', 1] };
const SAMPLES = [0, 3, 4, 8, 9, 12, 16, 19]; // indices into models/verify.json's 20 photos
const RECENT = 30; // latency samples kept per model and plan
const BG_ROUNDS = 6; // background rounds (one run of each plan) after a model loads
const BG_PAUSE_MS = 40; // the page's own time between two background runs
const PRESENT = 0.5;

// The hand skeleton: [from, to, group]; groups colour the lines.
const CONNECTIONS = [
  [0, 1, 'palm'], [1, 2, 'thumb'], [2, 3, 'thumb'], [3, 4, 'thumb'],
  [0, 5, 'palm'], [5, 6, 'index'], [6, 7, 'index'], [7, 8, 'index'],
  [5, 9, 'palm'], [9, 10, 'middle'], [10, 11, 'middle'], [11, 12, 'middle'],
  [9, 13, 'palm'], [13, 14, 'ring'], [14, 15, 'ring'], [15, 16, 'ring'],
  [13, 17, 'palm'], [0, 17, 'palm'], [17, 18, 'pinky'], [18, 19, 'pinky'], [19, 20, 'pinky'],
];
const GROUP_COLORS = { palm: '#f4f6f8', thumb: '#f28e2b', index: '#edc948', middle: '#59a14f', ring: '#4ea3e0', pinky: '#c28ad6' };
/** Every landmark is filled with this exact colour (tests look for it). */
const POINT_COLOR = [255, 45, 85];

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const planOf = (dense) => (dense ? 'dense' : 'sparse');

const HAS = detectFeatures();

// ---- state ------------------------------------------------------------------------------------

const state = {
  isa: null,
  zs: null, // the zeroskip module
  labels: null, // ImageNet class names (sample captions)
  images: null, // verify.json's photos: [{file, label, index}]
  files: {}, // model file → {jsonText, shards, bytes}
  built: {}, // `${file}|${plan}` → {model, outputs, pick, inputDims, loadMs, plan summary}
  current: null, // the built entry in use
  samples: {}, // `${file}|${plan}` → recent latencies (ms)
  downloads: {}, // model file → {received, total, done}
  measured: new Set(), // model files whose other plan was timed in the background
  family: null, // the model file whose plans are built (others are freed)
  shown: null, // what the stage shows: {source, w, h, mirror, name, kind}
  lastSource: null, // the last still image (re-run when the model or plan changes)
  last: null,
  runs: 0,
  frames: 0, // webcam frames run
  cam: null, // {stream, gen}
  camGen: 0,
};

// One queue for every step that touches a model: loads, runs, background timings (quiet).
const enqueue = taskQueue((busy) => ($('spinner').hidden = !busy));

function showError(err) {
  showErrorBox(err, window.handDemo.errors, 'hand demo');
  setStatus(state.current ? `ready: ${state.current.title}, ${state.current.plan} plan (the last action failed)` : 'failed', 'fail');
}

// ---- files ------------------------------------------------------------------------------------

/** GET `url` as bytes (the package's fetch, with progress); a missing file says how to make it. */
const fetchBytes = (url, options) =>
  fetchWithProgress(url, options).catch((err) => {
    throw /HTTP 404/.test(err.message) ? new UserError(`${url} not found: ${HINT}`) : err;
  });

/**
 * model.json and its weight shards (the order Model.tfjsShardPaths gives), downloaded once per
 * page with one progress bar over all their bytes (Content-Length of each response).
 */
async function modelFiles(file) {
  if (state.files[file]) return state.files[file];
  const bar = $('dl');
  const dl = { received: 0, total: 0, done: false };
  state.downloads[file] = dl;
  bar.hidden = false;
  bar.max = 1;
  bar.value = 0;
  const parts = new Map(); // url → [received, total]: the files download in parallel
  const get = (url) => fetchBytes(url, { onProgress: (received, total) => progress(url, received, total) });
  const progress = (url, received, total) => {
    parts.set(url, [received, total]);
    [dl.received, dl.total] = [0, 0];
    for (const [r, t] of parts.values()) [dl.received, dl.total] = [dl.received + r, dl.total + t];
    if (dl.total > 0) {
      bar.max = dl.total;
      bar.value = Math.min(dl.received, dl.total);
    } else bar.removeAttribute('value');
    const pct = dl.total > 0 ? ` (${Math.floor((100 * dl.received) / dl.total)}%)` : '';
    setStatus(`downloading ${file}: ${mb(dl.received)}${dl.total ? ` of ${mb(dl.total)}` : ''}${pct}`);
  };
  const jsonBytes = await get(`${DIR}/${file}.json`);
  const jsonText = new TextDecoder().decode(jsonBytes);
  let paths;
  try {
    paths = Array.from(state.zs.Model.tfjsShardPaths(jsonText));
  } catch (err) {
    throw new UserError(`${file}.json is not a TF.js graph model zeroskip can read: ${err.message ?? err}`);
  }
  const shards = await Promise.all(paths.map((p) => get(`${DIR}/${p}`)));
  dl.done = true;
  bar.hidden = true;
  const files = { jsonText, shards, paths, bytes: jsonBytes.length + shards.reduce((n, s) => n + s.length, 0) };
  state.files[file] = files;
  return files;
}

// ---- models -----------------------------------------------------------------------------------

async function loadZeroskip(isa) {
  const zs = await loadWasm(isa);
  if (typeof zs.Model?.fromTfjs !== 'function') throw new UserError(`the ${isa} build has no Model.fromTfjs: rebuild it with make wasm`);
  state.zs = zs;
  return zs;
}

/** Where each output we read lies in model.run's result, checked by name and length. */
function pickOutputs(file, outputs) {
  const pick = {};
  for (const [key, [name, len]] of Object.entries(OUTPUTS)) {
    const o = outputs.find((q) => q.name === name);
    if (!o) throw new UserError(`${file}: no output ${name} (outputs: ${outputs.map((q) => q.name).join(', ')})`);
    if (o.len !== len) throw new UserError(`${file}: output ${name} has ${o.len} values, expected ${len}`);
    pick[key] = o;
  }
  return pick;
}

/** Builds (once) the plan of `file`: dense = true forces every 1x1/FC layer dense. */
function buildPlan(file, dense) {
  const key = `${file}|${planOf(dense)}`;
  if (state.built[key]) return state.built[key];
  const files = state.files[file];
  const t0 = performance.now();
  let model;
  try {
    model = state.zs.Model.fromTfjs(file, files.jsonText, files.shards, dense);
  } catch (err) {
    throw new UserError(`zeroskip could not load ${file}: ${err.message ?? err}`);
  }
  const loadMs = performance.now() - t0;
  const outputs = JSON.parse(model.outputs());
  let pick;
  try {
    pick = pickOutputs(file, outputs);
  } catch (err) {
    model.free();
    throw err;
  }
  const inputDims = Array.from(model.inputDims());
  if (inputDims.length !== 4 || inputDims[0] !== 1 || inputDims[3] !== 3) {
    model.free();
    throw new UserError(`${file}: input dims ${JSON.stringify(inputDims)}, expected [1, H, W, 3]`);
  }
  const entry = {
    key, file, plan: planOf(dense), dense, title: file, model, outputs, pick, inputDims, loadMs,
    summary: planSummary(JSON.parse(model.report())),
  };
  state.built[key] = entry;
  return entry;
}

function freeOtherFamilies(file) {
  for (const [key, entry] of Object.entries(state.built)) {
    if (entry.file !== file) {
      entry.model.free();
      delete state.built[key];
    }
  }
}

function choice() {
  return { file: MODELS[$('model').value].file, dense: $('plan').value === 'dense' };
}

/** The selected model and plan, downloaded and built if needed. */
async function ensureModel() {
  const { file, dense } = choice();
  const key = `${file}|${planOf(dense)}`;
  if (state.current?.key === key) return state.current;
  const bar = $('dl');
  if (!state.files[file]) await modelFiles(file);
  bar.hidden = true;
  if (!state.built[key]) {
    setStatus(`building zeroskip's ${planOf(dense)} plan for ${file}…`);
    await yieldToPage();
  }
  const entry = buildPlan(file, dense);
  freeOtherFamilies(file);
  state.family = file;
  state.current = entry;
  renderModelInfo(entry);
  renderLatency();
  setStatus(`ready: ${file}, ${entry.plan} plan`, '');
  if (!state.measured.has(file)) {
    state.measured.add(file);
    measureOtherPlan(file); // not awaited: runs between the page's own work
  }
  return entry;
}

// ---- input ------------------------------------------------------------------------------------

/** A still image (URL or Blob) → a source for the stage and the model. */
async function imageSource(input) {
  let blob = input;
  let name;
  if (typeof input === 'string') {
    blob = new Blob([await fetchBytes(input)]);
    name = decodeURIComponent(input.split(/[?#]/)[0].split('/').pop());
  } else if (input instanceof Blob) name = input.name || 'your file';
  else throw new UserError('runImage takes an image URL or a Blob');
  if (blob.type && !blob.type.startsWith('image/')) {
    throw new UserError(`${name} is not an image (${blob.type}): choose a JPEG, PNG, WebP or GIF`);
  }
  let bmp;
  try {
    bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new UserError(`${name} could not be decoded as an image (${err.message ?? err}): choose a JPEG, PNG, WebP or GIF`);
  }
  return { kind: 'image', source: bmp, w: bmp.width, h: bmp.height, mirror: false, name };
}

/** The centered square of a w×h source (integer offsets, as tools/zoo/tfjs_inputs.py crops). */
function squareCrop(w, h) {
  const s = Math.min(w, h);
  return { sx: Math.floor((w - s) / 2), sy: Math.floor((h - s) / 2), s };
}

function drawCrop(ctx, src, size) {
  const { sx, sy, s } = squareCrop(src.w, src.h);
  ctx.save();
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  if (src.mirror) {
    ctx.translate(size, 0);
    ctx.scale(-1, 1);
  }
  ctx.drawImage(src.source, sx, sy, s, s, 0, 0, size, size);
  ctx.restore();
}

let inputCanvas = null;
/** The model's input: the crop drawn into an H×W canvas, RGB scaled to [0, 1], NHWC float32. */
function toTensor(src, [, h, w]) {
  if (!inputCanvas || inputCanvas.width !== w || inputCanvas.height !== h) {
    inputCanvas = document.createElement('canvas');
    [inputCanvas.width, inputCanvas.height] = [w, h];
  }
  const ctx = inputCanvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, w, h);
  drawCrop(ctx, src, w);
  const px = ctx.getImageData(0, 0, w, h).data;
  const x = new Float32Array(h * w * 3);
  for (let i = 0, j = 0; i < px.length; i += 4, j += 3) {
    x[j] = px[i] / 255;
    x[j + 1] = px[i + 1] / 255;
    x[j + 2] = px[i + 2] / 255;
  }
  return x;
}

// ---- inference --------------------------------------------------------------------------------

function recordSample(key, ms) {
  const s = (state.samples[key] ??= []);
  s.push(ms);
  if (s.length > RECENT) s.shift();
}

/** One timed run of `entry` on `x`. */
function timedRun(entry, x) {
  const t0 = performance.now();
  const out = entry.model.run(x);
  const ms = performance.now() - t0;
  recordSample(entry.key, ms);
  return { out, ms };
}

function readOutputs(entry, out) {
  const { landmarks: l, presence: p, handedness: h } = entry.pick;
  return {
    landmarks: Float32Array.from(out.subarray(l.offset, l.offset + l.len)),
    presence: out[p.offset],
    handedness: out[h.offset],
  };
}

/** Runs the current model on `src` (an image or a video frame) and shows the result. */
async function runSource(src) {
  clearError();
  const cur = await ensureModel();
  const x = toTensor(src, cur.inputDims.slice(0, 3));
  const { out, ms } = timedRun(cur, x);
  const r = readOutputs(cur, out);
  state.runs++;
  const size = cur.inputDims[1];
  state.shown = src;
  const drawn = drawStage(r.landmarks, size);
  state.last = {
    ...r, ms, model: cur.file, plan: cur.plan, isa: state.isa, source: src.name, kind: src.kind,
    input: x, inputSize: size, drawn: drawn.drawn, inView: drawn.inView, run: state.runs,
  };
  renderReadouts(state.last);
  renderLatency();
  if (src.kind === 'image') setStatus(`ready: ${cur.file}, ${cur.plan} plan · ${src.name} in ${fmt(ms, 1)} ms`, '');
  return state.last;
}

/**
 * After a model loads: build its other plan, then time both on the current input, a run at a
 * time with the page free in between (every run goes through the queue, so user actions wait for
 * at most one run). Stops when the user picks another model.
 */
async function measureOtherPlan(file) {
  const alive = () => state.family === file && state.files[file];
  await sleep(BG_PAUSE_MS);
  if (!alive()) return;
  try {
    await enqueue(async () => {
      if (!alive()) return;
      const other = !state.current.dense;
      if (!state.built[`${file}|${planOf(other)}`]) {
        $('speednote').textContent = `building the ${planOf(other)} plan to compare…`;
        await yieldToPage();
        if (alive()) buildPlan(file, other);
      }
    }, { quiet: true });
    for (let r = 0; r < BG_ROUNDS; r++) {
      await sleep(BG_PAUSE_MS);
      if (!alive()) return;
      for (const plan of r % 2 ? PLANS : [...PLANS].reverse()) {
        await enqueue(() => {
          const entry = state.built[`${file}|${plan}`];
          if (!alive() || !entry) return;
          const size = entry.inputDims[1];
          const x = state.last?.inputSize === size ? state.last.input : new Float32Array(size * size * 3).fill(0.5);
          timedRun(entry, x);
        }, { quiet: true });
        await sleep(BG_PAUSE_MS);
      }
      renderLatency();
    }
  } catch (err) {
    // A background comparison must not disturb the page: say it in the readout only.
    $('speednote').textContent = `comparison failed: ${err.message ?? err}`;
  }
}

// ---- drawing ----------------------------------------------------------------------------------

/** Sizes a canvas's backing store to its displayed size × devicePixelRatio; returns the width. */
function fitCanvas(canvas) {
  const css = canvas.getBoundingClientRect();
  const px = Math.max(1, Math.round(css.width * (window.devicePixelRatio || 1)));
  if (canvas.width !== px || canvas.height !== px) [canvas.width, canvas.height] = [px, px];
  return px;
}

/** The crop at display resolution, the skeleton and the 21 points over it. */
function drawStage(landmarks, inputSize) {
  const view = $('view');
  const overlay = $('overlay');
  $('placeholder').hidden = true;
  const W = fitCanvas(view);
  fitCanvas(overlay);
  const vctx = view.getContext('2d');
  vctx.fillStyle = '#10161c';
  vctx.fillRect(0, 0, W, W);
  if (state.shown) drawCrop(vctx, state.shown, W);
  const ctx = overlay.getContext('2d');
  ctx.clearRect(0, 0, W, W);
  if (!landmarks) return { drawn: 0, inView: 0 };
  const k = W / inputSize;
  const pt = (i) => [landmarks[3 * i] * k, landmarks[3 * i + 1] * k];
  const unit = W / 448;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  // Lines: a dark halo, then the finger colour.
  for (const pass of [0, 1]) {
    for (const [a, b, group] of CONNECTIONS) {
      const [[x0, y0], [x1, y1]] = [pt(a), pt(b)];
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.strokeStyle = pass ? GROUP_COLORS[group] : 'rgba(0, 0, 0, 0.45)';
      ctx.lineWidth = (pass ? 3 : 6) * unit;
      ctx.stroke();
    }
  }
  // Points: every white rim first, then every fill, so a neighbour's rim never covers a centre.
  const r = Math.max(3, 5 * unit);
  let inView = 0;
  for (const pass of [0, 1]) {
    for (let i = 0; i < 21; i++) {
      const [x, y] = pt(i);
      ctx.beginPath();
      ctx.arc(x, y, pass ? r : r + 1.6 * unit, 0, 2 * Math.PI);
      ctx.fillStyle = pass ? `rgb(${POINT_COLOR.join(',')})` : '#fff';
      ctx.fill();
      if (pass && x >= 0 && y >= 0 && x < W && y < W) inView++;
    }
  }
  return { drawn: 21, inView };
}

function redraw() {
  if (state.shown && state.last && state.shown.kind === state.last.kind) drawStage(state.last.landmarks, state.last.inputSize);
}

// ---- readouts ---------------------------------------------------------------------------------

function renderReadouts(r) {
  const present = r.presence >= PRESENT;
  $('presence').textContent = fmt(r.presence, 3);
  $('presencebar').style.width = `${(Math.min(1, Math.max(0, r.presence)) * 100).toFixed(1)}%`;
  $('presencebar').className = present ? 'on' : '';
  $('presencenote').textContent = present ? 'hand found (≥ 0.5)' : 'no hand (< 0.5)';
  $('presencenote').className = `stat-note ${present ? 'pass' : ''}`;
  const right = r.handedness > 0.5;
  $('handedness').textContent = fmt(r.handedness, 3);
  $('handbar').style.width = `${(Math.min(1, Math.max(0, r.handedness)) * 100).toFixed(1)}%`;
  $('handnote').textContent = `${right ? 'right' : 'left'} hand · > 0.5 = right${present ? '' : ' · no hand to judge'}`;
  $('handnote').title = "MediaPipe's convention: a score above 0.5 means a right hand, for a mirrored (selfie) image";
  const chip = $('handchip');
  chip.hidden = false;
  chip.textContent = present ? `${right ? 'right' : 'left'} hand · presence ${fmt(r.presence, 2)}` :
    `no hand · presence ${fmt(r.presence, 3)} · points are a guess`;
  chip.className = `stage-chip ${present ? 'found' : 'none'}`;
  $('caption').textContent = `${r.kind === 'video' ? 'webcam (mirrored)' : r.source}: center crop as the model sees it ` +
    `(${r.inputSize}×${r.inputSize}), ${r.drawn} landmarks drawn · ${r.model}, ${r.plan} plan, ${r.isa} build`;
}

/** Latency of the current model and plan, and the sparse-vs-dense comparison when both are timed. */
function renderLatency() {
  const cur = state.current;
  if (!cur) return;
  const mine = state.samples[cur.key] ?? [];
  const lastMs = state.last && state.last.model === cur.file && state.last.plan === cur.plan ? state.last.ms : mine.at(-1);
  $('latency').textContent = isNum(lastMs) ? `${fmt(lastMs, 1)} ms` : '—';
  $('latnote').textContent = mine.length ? `last run · median ${fmt(median(mine), 1)} ms of ${mine.length} (${cur.plan} plan)` : 'last run';
  const s = speedup(cur.file);
  const box = $('planbars');
  box.replaceChildren();
  if (!s) {
    $('speedup').textContent = '—';
    if (!/building|failed/.test($('speednote').textContent)) $('speednote').textContent = 'timing both plans…';
    return;
  }
  $('speedup').textContent = `${fmt(s.ratio, 2)}×`;
  $('speednote').textContent = s.ratio >= 1 ? 'faster than the dense plan' : 'the dense plan wins: too few zeros here';
  $('speednote').title = `medians: sparse kernels ${fmt(s.sparse, 2)} ms (${s.nSparse} runs), dense plan ${fmt(s.dense, 2)} ms (${s.nDense} runs)`;
  const max = Math.max(s.sparse, s.dense);
  for (const [plan, ms, n] of [['sparse kernels', s.sparse, s.nSparse], ['dense plan', s.dense, s.nDense]]) {
    const row = el('div', null, `bar-row ${plan === 'sparse kernels' ? 'hit' : ''}`);
    row.title = `${cur.file}, ${plan}: median of the last ${n} runs`;
    const track = el('span', null, 'bar-track');
    const fill = el('span', null, 'bar-fill');
    fill.style.width = `${((100 * ms) / max).toFixed(1)}%`;
    track.append(fill);
    row.append(el('span', plan, 'bar-label'), track, el('span', `${fmt(ms, 1)} ms`, 'bar-value'));
    box.append(row);
  }
}

/** {sparse, dense, ratio = dense / sparse} medians for `file`, or null until both are timed. */
function speedup(file) {
  const [a, b] = [state.samples[`${file}|sparse`] ?? [], state.samples[`${file}|dense`] ?? []];
  if (a.length < 2 || b.length < 2) return null;
  const [sparse, dense] = [median(a), median(b)];
  return { file, sparse, dense, ratio: ratio(dense, sparse), nSparse: a.length, nDense: b.length };
}

function renderModelInfo(entry) {
  const info = $('modelinfo');
  if (!entry) {
    info.textContent = '';
    return;
  }
  const files = state.files[entry.file];
  const s = entry.summary;
  const m = s.mflops;
  info.textContent = `${entry.file} (${Object.values(MODELS).find((q) => q.file === entry.file)?.blurb ?? ''}) · ` +
    `${mb(files.bytes)} · ${entry.plan} plan built in ${fmt(entry.loadMs, 0)} ms · ` +
    `${s.sparse_layers} of ${s.sparse_layers + s.dense_layers} 1x1/FC layers on sparse kernels · ` +
    `1x1/FC work ${fmt(m.conv1x1_fc_dense_equiv, 0)} MFLOPs dense-equivalent, ` +
    `${fmt(s.sparse_layers ? m.conv1x1_fc_nonzero : m.conv1x1_fc_dense_equiv, 0)} executed`;
}

// ---- webcam -----------------------------------------------------------------------------------

function camMessage(text, className = 'muted small') {
  $('cammsg').textContent = text;
  $('cammsg').className = className;
}

function cameraError(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was denied. Allow the camera for this page (address bar), or use a photo instead.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found on this device. Use a photo instead.';
    case 'NotReadableError':
      return 'The camera is busy in another application. Close it there, or use a photo instead.';
    default:
      return `The camera could not start (${err?.name ?? 'error'}: ${err?.message ?? err}). Use a photo instead.`;
  }
}

async function startCamera() {
  if (state.cam || state.camStarting) return;
  state.camStarting = true;
  try {
    await openCamera();
  } finally {
    state.camStarting = false;
  }
}

async function openCamera() {
  clearError();
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) {
    const why = window.isSecureContext ? 'this browser has no camera API (getUserMedia)' : 'the camera needs a secure page (https or localhost)';
    throw new UserError(`Webcam unavailable: ${why}. Use a photo instead.`);
  }
  camMessage('asking for the camera…');
  let stream;
  try {
    stream = await md.getUserMedia({ video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (err) {
    camMessage('');
    throw new UserError(cameraError(err));
  }
  const video = $('video');
  video.srcObject = stream;
  try {
    await video.play();
  } catch (err) {
    stream.getTracks().forEach((t) => t.stop());
    camMessage('');
    throw new UserError(`The camera stream would not play (${err.message ?? err}).`);
  }
  const gen = ++state.camGen;
  state.cam = { stream, gen };
  $('cam').textContent = 'Stop webcam';
  $('cam').classList.add('live');
  const track = stream.getVideoTracks()[0];
  camMessage(`live: ${track?.label || 'camera'}, ${video.videoWidth}×${video.videoHeight}, mirrored`, 'small');
  camLoop(gen);
}

function stopCamera() {
  if (!state.cam) return;
  state.cam.stream.getTracks().forEach((t) => t.stop());
  state.cam = null;
  state.camGen++;
  const video = $('video');
  video.pause();
  video.srcObject = null;
  $('cam').textContent = 'Start webcam';
  $('cam').classList.remove('live');
  if (state.shown?.kind === 'video') state.shown = null; // the stage keeps the last frame as drawn
  camMessage(`stopped after ${state.frames} frames`);
  if (state.current) setStatus(`ready: ${state.current.file}, ${state.current.plan} plan`, '');
}

/** The next animation frame (runs pause with the tab, and the hidden video needs no compositing). */
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));

/** One model run per new video frame while the camera is on; the queue keeps runs apart. */
async function camLoop(gen) {
  const video = $('video');
  while (state.cam?.gen === gen) {
    await nextFrame();
    if (state.cam?.gen !== gen) return;
    if (!video.videoWidth) continue;
    try {
      await enqueue(async () => {
        if (state.cam?.gen !== gen) return;
        await runSource({ kind: 'video', source: video, w: video.videoWidth, h: video.videoHeight, mirror: true, name: 'webcam' });
        state.frames++;
        setStatus(`webcam: ${state.current.file}, ${state.current.plan} plan, ${fmt(state.last.ms, 1)} ms per frame`, '');
      });
    } catch (err) {
      showError(err);
      stopCamera();
      return;
    }
    await sleep(0);
  }
}

// ---- page -------------------------------------------------------------------------------------

/** Runs a still image (URL or Blob) through the queue; rejects (and shows the error) on failure. */
function runImage(input) {
  stopCamera();
  return enqueue(async () => {
    clearError();
    const src = await imageSource(input);
    const prev = state.lastSource;
    state.lastSource = src;
    try {
      const out = await runSource(src);
      if (prev && prev !== src && prev !== state.shown) prev.source.close?.(); // free the old bitmap
      return out;
    } finally {
      markSamples();
    }
  }).catch((err) => {
    showError(err);
    throw err;
  });
}

/** Switches model and/or plan (keeps the pickers and the URL in step), re-running the last image. */
function loadModel(name = $('model').value, dense = $('plan').value === 'dense') {
  const key = Object.keys(MODELS).find((k) => k === name || MODELS[k].file === name);
  if (!key) return Promise.reject(new UserError(`unknown model ${name}: expected ${Object.keys(MODELS).join(', ')}`));
  $('model').value = key;
  $('plan').value = dense ? 'dense' : 'sparse';
  syncUrl();
  return enqueue(async () => {
    clearError();
    const cur = await ensureModel();
    if (state.lastSource && !state.cam) await runSource(state.lastSource);
    return { model: cur.file, plan: cur.plan, loadMs: cur.loadMs, outputs: cur.outputs, inputDims: cur.inputDims };
  }).catch((err) => {
    showError(err);
    // Back to what is loaded, so the pickers say what runs.
    if (state.current) {
      $('model').value = Object.keys(MODELS).find((k) => MODELS[k].file === state.current.file);
      $('plan').value = state.current.plan;
      syncUrl();
    }
    throw err;
  });
}

function syncUrl() {
  const q = new URLSearchParams(location.search);
  q.set('model', $('model').value);
  q.set('plan', $('plan').value);
  history.replaceState(null, '', `?${q}`);
}

function className(label) {
  return (state.labels?.[label] ?? `class ${label}`).split(',')[0];
}

async function loadSamples() {
  const [verify, labels] = await Promise.all([
    fetchBytes('models/verify.json').then((b) => JSON.parse(new TextDecoder().decode(b))),
    fetchBytes('models/labels.txt').then((b) => new TextDecoder().decode(b)).catch(() => ''),
  ]);
  state.labels = labels.split('\n').map((s) => s.trim()).filter(Boolean);
  state.images = verify.images.map((file, index) => ({ file, label: verify.labels[index], index }));
  const box = $('samples');
  for (const i of SAMPLES.filter((j) => j < state.images.length)) {
    const img = state.images[i];
    const b = el('button', null, 'thumb sample');
    b.type = 'button';
    b.dataset.index = String(i);
    b.dataset.file = img.file;
    b.title = `${state.labels[img.label] ?? ''} (${img.file}): no hand in this photo`;
    const pic = el('img');
    pic.src = `models/images/${img.file}`;
    pic.alt = className(img.label);
    pic.loading = 'lazy';
    b.append(pic, el('span', className(img.label)));
    b.addEventListener('click', () => runImage(`models/images/${img.file}`).catch(() => {}));
    box.append(b);
  }
}

function markSamples() {
  for (const b of document.querySelectorAll('.sample')) {
    b.classList.toggle('selected', state.lastSource?.name === b.dataset.file && !state.cam);
  }
}

function readParams() {
  const q = new URLSearchParams(location.search);
  const pick = (name, allowed, fallback) => (allowed.includes(q.get(name)) ? q.get(name) : fallback);
  const sample = Number(q.get('sample') ?? 0);
  return {
    model: pick('model', Object.keys(MODELS), 'sparse'),
    plan: pick('plan', PLANS, 'sparse'),
    isa: pick('isa', ISAS.filter((i) => HAS[i]), HAS.best ?? 'simd128'),
    sample: Number.isInteger(sample) && sample >= 0 ? sample : 0,
  };
}

function wireUp() {
  for (const id of ['model', 'plan']) {
    $(id).addEventListener('change', () => loadModel().catch(() => {}));
  }
  $('file').addEventListener('change', (ev) => {
    const f = ev.target.files[0];
    ev.target.value = '';
    if (f) runImage(f).catch(() => {});
  });
  $('cam').addEventListener('click', () => {
    if (state.cam) stopCamera();
    else startCamera().catch(showError);
  });
  // Drop an image anywhere on the page.
  let depth = 0;
  const stage = $('stage');
  document.addEventListener('dragenter', (ev) => {
    if (![...(ev.dataTransfer?.types ?? [])].includes('Files')) return;
    depth++;
    stage.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    if (depth > 0 && --depth === 0) stage.classList.remove('dragging');
  });
  document.addEventListener('dragover', (ev) => ev.preventDefault());
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    depth = 0;
    stage.classList.remove('dragging');
    const f = ev.dataTransfer?.files?.[0];
    if (f) runImage(f).catch(() => {});
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redraw, 100);
  });
  window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
}

async function main(params) {
  $('model').value = params.model;
  $('plan').value = params.plan;
  state.isa = params.isa;
  $('isa').textContent = params.isa === 'relaxed' ? 'relaxed SIMD' : 'SIMD128';
  $('isa').parentElement.title += HAS.relaxed ? ' (this browser: relaxed SIMD available)' : ' (this browser: no relaxed SIMD)';
  if (!HAS.simd128) {
    $('isa').textContent = 'none';
    throw new UserError('this browser has no WebAssembly SIMD; zeroskip needs at least SIMD128 (any current browser)');
  }
  wireUp();
  setStatus(`loading the ${params.isa} build…`);
  await loadZeroskip(params.isa);
  await loadSamples();
  const img = state.images[Math.min(params.sample, state.images.length - 1)];
  return runImage(`models/images/${img.file}`);
}

window.handDemo = {
  ready: null,
  get last() {
    return state.last;
  },
  runImage,
  loadModel,
  startCamera: () => startCamera().catch((err) => {
    showError(err);
    throw err;
  }),
  stopCamera,
  /** {sparse, dense, ratio} median ms of both plans of a model (name or file), once both are timed. */
  speedup: (name) => speedup(MODELS[name]?.file ?? name),
  get downloads() {
    return state.downloads;
  },
  get frames() {
    return state.frames;
  },
  get isa() {
    return state.isa;
  },
  get zeroskip() {
    return state.zs;
  },
  errors: [],
  state,
  POINT_COLOR,
  CONNECTIONS,
};

mountDemo({ title: 'hand landmarks', infoClass: 'muted small' });
const params = readParams();
window.handDemo.ready = main(params);
window.handDemo.ready.catch((err) => {
  if (!window.handDemo.errors.length) showError(err);
});
