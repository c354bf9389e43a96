// Small helpers shared by the pages (bench.js, cnn.js, gpu.js, llm.js, tfjs.js, classify.js).

import { mountChrome } from './chrome.js';
import { median, ratio, sampleStats } from './zeroskip/bench/timing.js';
import { loadWasm, maxAbsDiff, argmax } from './zeroskip/index.js';
import { loadTfjs } from './zeroskip/bench/tfjs.js';

// median and ratio (the package's timing helpers), maxAbsDiff and argmax (the package's), for
// the pages that took them from here.
export { median, ratio, maxAbsDiff, argmax };

export const $ = (id) => document.getElementById(id);
export const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
/** `x` with `digits` decimals, or an em dash when it is not a finite number. */
export const fmt = (x, digits) => (isNum(x) ? x.toFixed(digits) : '—');
/** Lets the page repaint between measurements. */
export const yieldToPage = () => new Promise((resolve) => setTimeout(resolve, 0));

export function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** A result row's timing fields: sampleStats() with the protocol's warm-up count before mean_ms. */
export function rowStats(samples, { warmup }) {
  const { mean_ms, ...stats } = sampleStats(samples);
  return { ...stats, warmup, mean_ms };
}

// ---- the benchmark pages' layout (bench.html, cnn.html, gpu.html, llm.html, tfjs.html) ---------

/** The sections most benchmark pages share: [heading, inner HTML]; ids are what the pages and tests read. */
export const SECTIONS = {
  chart: ['Median latency (ms, lower is better)', '<div id="chart" class="chart"><p class="muted">Fills in as the run goes.</p></div>'],
  summary: ['Summary', '<div id="summary"><p class="muted">Appears when the run is done.</p></div>'],
  rows: ['Rows', '<div class="scroll"><table id="rows"></table></div>'],
  log: ['Log', '<pre id="log"></pre>'],
};

/** The build picker of the pages that time one wasm build at a time. */
export const ISA_CONTROL = ['build', 'isa', [['simd128', 'simd128'], ['relaxed', 'relaxed SIMD']]];

/**
 * A benchmark page: mountChrome({ title, intro }), then fills <main> with the controls bar and
 * the sections. `controls`: [label, id, [[value, text], …]] for a <select>, or [label, html] for
 * any other input; the bar ends with the #run button, the #progress bar (unless `progress` is
 * false) and the #status line. `sections`: [heading, inner HTML] (see SECTIONS).
 */
export function mountBenchPage({ title, intro, controls, sections, progress = true }) {
  mountChrome({ title, intro });
  const main = document.querySelector('main') ?? document.body.appendChild(document.createElement('main'));
  const bar = el('section', null, 'controls');
  for (const [label, idOrHtml, options] of controls) {
    const l = el('label', label);
    if (options) {
      const select = el('select');
      select.id = idOrHtml;
      for (const [value, text] of options) {
        const o = el('option', text);
        o.value = value;
        select.append(o);
      }
      l.append(' ', select);
    } else {
      l.insertAdjacentHTML('beforeend', ` ${idOrHtml}`);
    }
    bar.append(l);
  }
  const run = el('button', 'Run');
  [run.id, run.type] = ['run', 'button'];
  bar.append(run);
  if (progress) {
    const p = el('progress');
    [p.id, p.max, p.value] = ['progress', 1, 0];
    bar.append(p);
  }
  const status = el('span', 'idle');
  status.id = 'status';
  bar.append(status);
  main.append(bar);
  for (const [heading, html] of sections) {
    const s = el('section');
    s.append(el('h2', heading));
    s.insertAdjacentHTML('beforeend', html);
    main.append(s);
  }
}

// ---- model files and .npy arrays (cnn.js, tfjs.js) ----------------------------------------

/** GET `url` as bytes; a failed request throws with the status and how to fill www/models. */
export async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} (run make zoo, then make wasm, to fill www/models)`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A .npy file (little-endian float32, C order) → {shape, data: Float32Array}. */
export function parseNpy(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (!magic.every((b, i) => u8[i] === b)) throw new Error('not a .npy file');
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const major = u8[6];
  const [lenBytes, lenAt] = major === 1 ? [2, 8] : [4, 8];
  const headerLen = lenBytes === 2 ? dv.getUint16(lenAt, true) : dv.getUint32(lenAt, true);
  const start = lenAt + lenBytes;
  const header = new TextDecoder('latin1').decode(u8.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4') throw new Error(`.npy dtype ${descr}: only <f4 is supported`);
  if (fortran !== 'False') throw new Error('.npy in Fortran order is not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = u8.byteOffset + start + headerLen;
  if (u8.byteLength - start - headerLen < 4 * count) throw new Error('.npy data is truncated');
  const data = offset % 4 === 0
    ? new Float32Array(u8.buffer, offset, count)
    : new Float32Array(u8.slice(start + headerLen, start + headerLen + 4 * count).buffer);
  return { shape, data };
}

/** Row `i` of a [N, ...] array, as its own Float32Array. */
export function npyRow({ shape, data }, i) {
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  return data.slice(i * size, (i + 1) * size);
}

// ---- zeroskip plans, tables and charts (cnn.js, tfjs.js) -------------------------------------

/**
 * The 1x1/FC picture of a zeroskip plan (`JSON.parse(model.report())`): layers on sparse (spmm_*)
 * and dense (gemm_*) kernels, kernel counts, and MFLOPs (dense-equivalent and on nonzeros) by
 * kind of layer.
 */
export function planSummary(report) {
  const kernels = {};
  const mflops = { conv1x1_fc_dense_equiv: 0, conv1x1_fc_nonzero: 0, depthwise: 0, other_conv: 0 };
  let [sparse, dense] = [0, 0];
  for (const r of report) {
    if (!r.flops) continue;
    kernels[r.kernel] = (kernels[r.kernel] ?? 0) + 1;
    const mf = r.flops / 1e6;
    if (/^spmm_/.test(r.kernel) || /^gemm_/.test(r.kernel)) {
      if (/^spmm_/.test(r.kernel)) sparse++;
      else dense++;
      mflops.conv1x1_fc_dense_equiv += mf;
      mflops.conv1x1_fc_nonzero += mf * (1 - (r.sparsity ?? 0));
    } else if (/^dwconv_/.test(r.kernel)) mflops.depthwise += mf;
    else mflops.other_conv += mf;
  }
  for (const k of Object.keys(mflops)) mflops[k] = Math.round(mflops[k] * 10) / 10;
  return { sparse_layers: sparse, dense_layers: dense, kernels, mflops };
}

/** A <tr> of [text, className] cells (`cellTag` 'th' for a header). */
export function tableRow(cells, cellTag = 'td') {
  const tr = el('tr');
  for (const [text, className] of cells) tr.append(el(cellTag, text, className));
  return tr;
}

/**
 * A benchmark engine over the zeroskip CPU Model that `open()` returns (Model.fromOnnx,
 * Model.fromTfjs), its creation timed as load_ms: {name, model, load_ms, load_ms_internal, plan
 * (planSummary of its report), report, run(x) → output, time(x) → ms of one run, free()}.
 */
export function zeroskipEngine(name, open) {
  const t0 = performance.now();
  const model = open();
  const load_ms = performance.now() - t0;
  const report = JSON.parse(model.report());
  return {
    name,
    model,
    load_ms,
    load_ms_internal: model.loadMs(),
    plan: planSummary(report),
    report,
    run: (x) => model.run(x),
    time: (x) => {
      const t = performance.now();
      model.run(x);
      return performance.now() - t;
    },
    free: () => model.free(),
  };
}

/** The timing columns of the whole-model pages' row tables (load and first run, median/min/max, runs). */
export function timingColumns(loadDigits, msDigits) {
  return [
    ['load ms', (r) => fmt(r.load_ms, loadDigits), 'num'],
    ['first ms', (r) => fmt(r.first_ms, loadDigits), 'num'],
    ['median ms', (r) => fmt(r.median_ms, msDigits), 'num strong'],
    ['min ms', (r) => fmt(r.min_ms, msDigits), 'num'],
    ['max ms', (r) => fmt(r.max_ms, msDigits), 'num'],
    ['runs', (r) => String(r.runs), 'num'],
  ];
}

/**
 * SVG grouped bars of median_ms: one group per `groupOf(row)` (model and variant by default), one
 * bar per engine (colour from `colors`), linear ms scale.
 */
export function latencyChart(rows, colors, groupOf = (r) => `${r.model} ${r.variant}`) {
  if (!rows.length) return '<p class="muted">Fills in as the run goes.</p>';
  const color = (engine) => colors[engine] ?? '#59a14f';
  const groups = [...new Set(rows.map(groupOf))];
  const engines = [...new Set(rows.map((r) => r.engine))];
  const maxMs = Math.max(...rows.map((r) => r.median_ms).filter(isNum));
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500].find((s) => maxMs / s <= 8) ?? 1000;
  const top = Math.ceil(maxMs / step) * step;
  const [W, H, left, top0, bottom] = [900, 300, 44, 24, 96];
  const y = (v) => top0 + (1 - v / top) * (H - top0 - bottom);
  const groupW = (W - left - 10) / groups.length;
  const barW = Math.max(1, (groupW - 6) / engines.length);
  const parts = [];
  for (let v = 0; v <= top; v += step) {
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" class="${v === 0 ? 'axis' : 'grid'}"/>`,
      `<text x="${left - 4}" y="${y(v) + 4}" class="tick" text-anchor="end">${v}</text>`);
  }
  groups.forEach((g, i) => {
    const x0 = left + i * groupW + 3;
    engines.forEach((engine, j) => {
      const r = rows.find((q) => groupOf(q) === g && q.engine === engine);
      if (!r || !isNum(r.median_ms)) return;
      parts.push(`<rect x="${x0 + j * barW}" y="${y(r.median_ms)}" width="${barW - 0.5}" ` +
        `height="${Math.max(0.5, y(0) - y(r.median_ms))}" fill="${color(engine)}">` +
        `<title>${g} ${engine}: ${r.median_ms.toFixed(2)} ms</title></rect>`);
    });
    const lx = x0 + groupW / 2;
    parts.push(`<text x="${lx}" y="${H - bottom + 12}" class="tick" text-anchor="end" ` +
      `transform="rotate(-40 ${lx} ${H - bottom + 12})">${g}</text>`);
  });
  const legend = engines.map((e, j) => `<rect x="${left + j * 170}" y="4" width="10" height="10" fill="${color(e)}"/>` +
    `<text x="${left + 14 + j * 170}" y="13" class="tick">${e}</text>`).join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="median latency per model, variant and engine">` +
    `${legend}${parts.join('')}</svg>`;
}

// ---- WebGPU (gpu.js) --------------------------------------------------------------------------

/**
 * What this browser's WebGPU offers, without creating a device: `available` (an adapter came
 * back), `reason` when not ('navigator.gpu is undefined …' or 'requestAdapter() returned null …'),
 * and the adapter's `info` (vendor, architecture, device, description), `is_fallback_adapter`
 * (true for SwiftShader, Chromium's CPU emulation), sorted `features` and a few compute limits.
 */
export async function webgpuAdapterInfo(options = {}) {
  if (typeof navigator === 'undefined' || !navigator.gpu) {
    return { available: false, navigator_gpu: false, reason: 'navigator.gpu is undefined: this browser exposes no WebGPU' };
  }
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter(options);
  } catch (err) {
    return { available: false, navigator_gpu: true, reason: `navigator.gpu.requestAdapter() threw: ${err?.message ?? err}` };
  }
  if (!adapter) {
    return {
      available: false, navigator_gpu: true,
      reason: 'navigator.gpu.requestAdapter() returned null: no WebGPU adapter (in headless Chromium, --enable-unsafe-webgpu gives SwiftShader)',
    };
  }
  const info = adapter.info ?? {};
  const limits = {};
  for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage']) {
    limits[k] = adapter.limits?.[k] ?? null;
  }
  return {
    available: true,
    navigator_gpu: true,
    info: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' },
    is_fallback_adapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? null,
    features: [...(adapter.features ?? [])].sort(),
    limits,
  };
}

/** One line for an adapter from webgpuAdapterInfo(): "google swiftshader (fallback adapter)". */
export function describeAdapter(a) {
  if (!a?.available) return `no WebGPU adapter (${a?.reason ?? 'unknown'})`;
  const name = [a.info.vendor, a.info.architecture, a.info.device, a.info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return `${name}${a.is_fallback_adapter ? ' (fallback adapter: CPU emulation)' : ''}`;
}

/** The machine and browser a benchmark ran on (the header every bench/results file carries). */
export function environment() {
  const platform = navigator.userAgentData?.platform || navigator.platform || 'unknown platform';
  return {
    machine: `${navigator.hardwareConcurrency} logical cores, ${platform}`,
    browser: navigator.userAgent,
    date: new Date().toISOString(),
    cross_origin_isolated: self.crossOriginIsolated === true,
  };
}

/** Shows a benchmark page's failure and leaves it where its runner looks: window.__<key>Error, title 'error'. */
export function reportPageError(key, err) {
  console.error(`benchmark error: ${err?.stack ?? err}`);
  window[`__${key}Error`] = String(err?.message ?? err);
  document.title = 'error';
  $('status').textContent = `error: ${err?.message ?? err}`;
  $('status').className = 'fail';
}

/**
 * Runs a benchmark page's benchmark once (the #run button stays disabled meanwhile): `makeUi()`
 * builds the page's UI hooks, `run(ui)` measures, then `ui.finish(result)` renders. The result
 * goes to window.__<key>Result and the title to 'done', which bench/lib.mjs's runners wait for.
 */
export async function runPageBenchmark(key, label, makeUi, run) {
  const button = $('run');
  if (button.disabled) return;
  button.disabled = true;
  document.title = `running ${label}`;
  $('status').className = '';
  window[`__${key}Result`] = undefined;
  window[`__${key}Error`] = undefined;
  try {
    const ui = makeUi();
    const result = await run(ui);
    ui.finish(result);
    window[`__${key}Result`] = result;
    document.title = 'done';
  } catch (err) {
    reportPageError(key, err);
  } finally {
    button.disabled = false;
  }
}

/**
 * The #progress bar, the #status percentage and the #log lines of a benchmark page's UI;
 * `start(steps, …)` also calls `reset(…)` (the page clears its tables and charts).
 */
export function progressUi(reset = () => {}) {
  let [done, total] = [0, 1];
  const bar = $('progress');
  return {
    start(steps, ...args) {
      [done, total] = [0, steps];
      bar.max = total;
      bar.value = 0;
      reset(...args);
    },
    step() {
      bar.value = ++done;
      $('status').textContent = `${Math.round((100 * done) / total)}%`;
    },
    log(msg) {
      console.log(msg);
      $('log').textContent += msg + '\n';
    },
  };
}

/**
 * progressUi() for the whole-model pages (cnn, gpu, tfjs): a run starts with an empty rows
 * table (`renderRows([])`), an empty chart (`chartHtml([])`) and no summary.
 */
export const latencyPageUi = (renderRows, chartHtml) => progressUi(() => {
  renderRows([]);
  $('chart').innerHTML = chartHtml([]);
  $('summary').replaceChildren();
});

/**
 * A benchmark page's query: isa (default simd128), mode (full), autorun (=1), and what `more(q)`
 * reads from the same URLSearchParams (engines, models, …).
 */
export function readPageParams(more = () => ({})) {
  const q = new URLSearchParams(location.search);
  return { isa: q.get('isa') ?? 'simd128', mode: q.get('mode') ?? 'full', ...more(q), autorun: q.get('autorun') === '1' };
}

/** The #status line when a run is done: how long it took, and a failed correctness guard, in red. */
export function showDone({ elapsed_s, guard_failures: failures = [] }) {
  $('status').textContent = `done in ${fmt(elapsed_s, 0)} s` + (failures.length ? ', correctness guard FAILED' : '');
  if (failures.length) $('status').className = 'fail';
}

/** The correctness-guard failures and the warnings of a run, under its summary. */
export function appendGuardNotes(box, { guard_failures: failures = [], warnings = [] }) {
  for (const g of failures) box.append(el('p', `correctness guard FAILED: ${g}`, 'fail'));
  for (const w of warnings) box.append(el('p', `warning: ${w}`, 'muted'));
}

const ISAS = ['simd128', 'relaxed'];
let build = null; // {isa, threads, zs}: the one build a page times

/** {isa, threads, zs} of the build loadPageBuild() loaded, or null before. */
export const pageBuild = () => build;

/**
 * The page's `threads` query parameter: null (absent: the single-thread builds, every peer on
 * one thread, as before threads existed) or 1..16 (the threaded build and every peer on that
 * many threads). A thread pool is fixed per page load for the peers (ORT, TF.js), so a page
 * times one thread count; bench/*.mjs loads it once per count.
 */
export function pageThreads() {
  const v = new URLSearchParams(location.search).get('threads');
  if (v === null || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`threads must be an integer 1..16, not ${JSON.stringify(v)}`);
  return n;
}

/** A peer's engine name with its thread count: `ort-wasm-1t` → `ort-wasm-2t` on a threads=2 page. */
export const withThreads = (name, threads) => name.replace(/-1t$/, `-${threads ?? 1}t`);

/**
 * The zeroskip build `isa` (the package's loadWasm), once per page: the whole-model pages time
 * one build each, so asking for the other one throws (the page reloads for it). With `threads`
 * (pageThreads()), the threaded build with a pool of 2 (the machine's cores), set to `threads`:
 * the same build times 1 and 2 threads, so the 2t/1t ratio is the pool's alone.
 */
export async function loadPageBuild(isa, { threads = null } = {}) {
  if (!ISAS.includes(isa)) throw new Error(`unknown isa '${isa}': expected one of ${ISAS.join(', ')}`);
  if (build) {
    if (build.isa !== isa || build.threads !== threads) {
      throw new Error(`this page already loaded the ${build.isa} build (threads ${build.threads}); reload for ${isa} (threads ${threads})`);
    }
    return build.zs;
  }
  const zs = threads === null ? await loadWasm(isa) : await loadThreadedBuild(isa, threads);
  build = { isa, threads, zs };
  return zs;
}

/** The threaded build of `isa` with its pool set to `threads` (cross-origin isolation needed). */
export async function loadThreadedBuild(isa, threads) {
  if (!self.crossOriginIsolated) throw new Error('threads need a cross-origin isolated page (COOP/COEP: tools/serve.mjs sends them)');
  const zs = await loadWasm(isa, { threads: Math.max(2, threads) });
  if (typeof zs.setThreads !== 'function') {
    throw new Error(`loadWasm('${isa}', {threads}) returned no setThreads: the threaded builds (issue 14) are not in www/zeroskip yet (make wasm)`);
  }
  zs.setThreads(threads);
  if (zs.threads() !== threads) throw new Error(`zeroskip ${isa}: setThreads(${threads}) left threads() = ${zs.threads()}`);
  return zs;
}

/** onnxruntime-web on `threads` threads (the package's loadOrt pins 1): set before its first session, which starts its pool. */
export function setOrtThreads(ort, threads) {
  ort.env.wasm.numThreads = threads ?? 1;
  return ort;
}

/**
 * Makes TF.js's wasm backend use `threads` threads, called before tf.setBackend('wasm').
 * setThreadsCount(n) alone cannot: tfjs-backend-wasm 4.22's init_with_threads_count (cc/backend.cc)
 * caps the pool at num_cores = emscripten_num_logical_cores() / 2 = navigator.hardwareConcurrency / 2
 * (it assumes 2 hyperthreads per core), read once by a C++ global initializer when the wasm module
 * instantiates: 1 on a 2-core machine. So for threads > hardwareConcurrency / 2 this shadows
 * navigator.hardwareConcurrency with 2 × threads until `restore()` (call it after tf.ready()), and
 * the backend's pool gets `threads` (tf.wasm.getThreadsCount() says so). Returns {lifted, real, restore}.
 */
export function liftTfjsThreadCap(tf, threads) {
  const real = navigator.hardwareConcurrency;
  tf.wasm.setThreadsCount(threads);
  if (threads <= Math.floor(real / 2)) return { lifted: false, real, restore() {} };
  Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 2 * threads, configurable: true });
  return { lifted: true, real, restore: () => delete navigator.hardwareConcurrency };
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src} (run make wasm to fill www/vendor/tfjs)`));
    document.head.append(s);
  });
}

/**
 * TF.js on its wasm backend at its best on `threads` threads, once per page: null or 1, the
 * package's loadTfjs (zeroskip/bench/tfjs.js: the SIMD binary without threads, setThreadsCount(1));
 * 2+, the threaded SIMD binary with the pool cap lifted (liftTfjsThreadCap). The package's loadTfjs
 * pins one thread, so this loads the same two scripts itself for 2+ (until loadTfjs takes
 * {threads}). Returns loadTfjs's {tf, version, backend, binary, threads, init_ms} plus
 * thread_cap: how the cap was lifted (null on one thread). Throws when the pool is not `threads`.
 */
let tfjsLoaded = null;
export async function loadTfjsOnThreads(dir, { wasm = 'simd', threads = null } = {}) {
  if (tfjsLoaded) return tfjsLoaded;
  if (threads === null || threads === 1) {
    tfjsLoaded = { ...(await loadTfjs(dir, { wasm })), thread_cap: null };
    return tfjsLoaded;
  }
  if (!self.crossOriginIsolated) throw new Error('TF.js threads need a cross-origin isolated page');
  const base = new URL(dir, location.href).href.replace(/\/?$/, '/');
  const t0 = performance.now();
  await loadScript(`${base}tf.min.js`);
  await loadScript(`${base}tf-backend-wasm.min.js`);
  const tf = window.tf;
  tf.enableProdMode();
  tf.wasm.setWasmPaths(base);
  const cap = liftTfjsThreadCap(tf, threads);
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('TF.js could not initialize its wasm backend');
    await tf.ready();
  } finally {
    cap.restore();
  }
  const [simd, mt] = [await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')];
  const got = tf.wasm.getThreadsCount();
  if (!(simd && mt) || got !== threads) throw new Error(`TF.js wasm: SIMD ${simd}, threads support ${mt}, pool ${got} threads, wanted ${threads}`);
  tfjsLoaded = {
    tf, version: tf.version.tfjs, backend: tf.getBackend(), binary: 'tfjs-backend-wasm-threaded-simd.wasm', threads: got,
    init_ms: performance.now() - t0,
    thread_cap: cap.lifted
      ? `tfjs-backend-wasm ${tf.version.tfjs} caps its pool at navigator.hardwareConcurrency / 2 = ${Math.floor(cap.real / 2)} ` +
        `(cc/backend.cc init_with_threads_count, read when the wasm module instantiates): navigator.hardwareConcurrency ` +
        `was shadowed with ${2 * threads} during tf.setBackend('wasm') (then restored to ${cap.real}), ` +
        `setThreadsCount(${threads}); tf.wasm.getThreadsCount() = ${got}`
      : `setThreadsCount(${threads}) within the cap (hardwareConcurrency ${cap.real}); tf.wasm.getThreadsCount() = ${got}`,
  };
  return tfjsLoaded;
}

/**
 * On a threads page, each engine's `time` after a pause of `ms` and one untimed run of its own:
 * a pool that has just run (ORT's and XNNPACK's workers spin-wait after a job; so do ours, about
 * 1–2 ms) would otherwise take a core from the engine timed next in the round, and a pool that
 * has slept since its engine's last turn first has to wake its threads. On 2 cores the first
 * doubled a single-thread engine's time, and without the untimed run every engine's 2-thread
 * median sat near its 1-thread one while its fastest runs were 1.5–1.8× faster (zeroskip alone
 * in a page: MobileNetV2 14.3 → 7.5 ms). Engines on one thread (threads null or 1) are returned
 * as they are.
 */
export function settleBetweenEngines(engines, threads, ms = 40) {
  if (!(threads > 1)) return engines;
  return engines.map((e) => ({
    ...e,
    time: async (x) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      await e.run(x);
      return e.time(x);
    },
  }));
}
