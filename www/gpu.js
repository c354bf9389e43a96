// zeroskip WebGPU benchmark: zeroskip's WebGPU backend (our plan and the dense plan) next to
// onnxruntime-web's WebGPU execution provider, on the same ONNX bytes, in the same tab.
//
//   gpu.html?mode=full|quick&engines=all|ort&autorun=1
//     [&isa=simd128|relaxed]     the zeroskip build (default simd128)
//     [&model=mobilenet_v2]      another zoo model
//     [&variants=dense,s85]      other variants of it (default: the mode's)
//
// Per variant it fetches models/<model>[_<variant>].onnx once (not timed) and hands the same bytes to:
//   zeroskip-<isa>          Model.fromOnnx(..., dense = false) on wasm: the CPU reference every
//                           other engine's logits are checked against (timed too, for scale)
//   zeroskip-webgpu         await Model.open(name, bytes, 'webgpu', false): our plan on WebGPU
//   zeroskip-webgpu-dense   await Model.open(name, bytes, 'webgpu', true): every 1x1/FC dense
//   ort-webgpu              onnxruntime-web's WebGPU bundle (ort.webgpu.min.mjs, its native
//                           WebGPU EP in ort-wasm-simd-threaded.asyncify.wasm), executionProviders
//                           ['webgpu'], numThreads 1
// A run is one inference with the logits read back to the CPU (zeroskip: await runAsync(x);
// ort: await session.run(feeds), output location 'cpu'). After one first run each (first_ms, also
// the logits checked), the engines run `runs` timed rounds, one run each per round, the starting
// engine rotating. engines=ort leaves out the two zeroskip WebGPU engines (no Model.open needed).
//
// In headless Chromium, --enable-unsafe-webgpu gives SwiftShader (isFallbackAdapter: true), a
// CPU emulation of a GPU about 100× slower than wasm: hence few runs, and results quoted as
// ratios between engines on the same adapter. The adapter's info is part of the result.
//
// ORT really on WebGPU: once per file, before the timed session, a probe session is created with
// ORT's verbose log (logSeverityLevel 0) captured from the console; ORT's graph partitioner lists
// which execution provider got how many nodes ("All nodes placed on [WebGpuExecutionProvider]").
// No node on WebGPU, or no placement line, fails the guard; nodes on the CPU EP are a warning.
//
// Correctness (the guard), every variant, every engine against zeroskip wasm on the same input:
// zeroskip-webgpu and -dense: max |Δlogit| ≤ MAX_DIFF[isa] (6e-6 vs SIMD128, 5e-5 vs relaxed) and
// equal top-1; ort-webgpu: max |Δlogit| ≤ ORT_MAX_DIFF (6e-5) and equal top-1 (another engine,
// another summation order, on a GPU).
//
// When done it leaves the result in window.__gpuResult (rows per BENCH_FORMAT.md `gpu.json`) and
// sets document.title = 'done' ('error' and window.__gpuError when the page itself failed). A
// failed guard does not stop the run: it is listed in result.guard_failures and bench/gpu.mjs
// fails on it. window.gpuBench exposes the building blocks (tests/browser/gpu.mjs).

import { maxAbsDiff, argmax } from './zeroskip/index.js';
import { loadOrt as loadOrtBundle, createOrtEngine } from './zeroskip/bench/ort.js';
import { firstRuns, timeInterleaved, pairedRatio } from './zeroskip/bench/timing.js';
import { $, isNum, fmt, ratio, yieldToPage, el, median, rowStats, fetchBytes, parseNpy, npyRow, planSummary, tableRow, latencyChart, webgpuAdapterInfo, describeAdapter, environment, reportPageError, runPageBenchmark, showDone, readPageParams, latencyPageUi, appendGuardNotes, loadPageBuild, pageBuild, timingColumns, zeroskipEngine, mountBenchPage, SECTIONS } from './util.js';

// ---- protocol ---------------------------------------------------------------------------------

const PROTOCOLS = {
  full: { model: 'mobilenet_v2', variants: ['dense', 'p50', 's85', 's90'], warmup: 0, runs: 5 },
  quick: { model: 'mobilenet_v2', variants: ['dense', 's85'], warmup: 0, runs: 2 },
};
const ENGINE_SETS = ['all', 'ort'];
const ZS_GPU = 'zeroskip-webgpu';
const ZS_GPU_DENSE = 'zeroskip-webgpu-dense';
const ORT = 'ort-webgpu';
const refName = (isa) => `zeroskip-${isa}`;

/**
 * Max |Δlogit| vs the wasm reference of the page's build, ~3× the worst measured on SwiftShader
 * over the 4 variants (full mode). zeroskip on WebGPU (either plan) sums like the SIMD128 build
 * (no fused multiply-add) but in another order; the relaxed reference fuses. onnxruntime-web folds
 * and fuses the graph its own way. A real GPU may round differently: if the guard trips there, the
 * row says by how much.
 */
const MAX_DIFF = {
  simd128: 6e-6, // measured 1.9e-6 (dense; p50 9.5e-7, s85 9.5e-7, s90 1.2e-6)
  relaxed: 5e-5, // measured 1.5e-5 (dense; p50 7.6e-6, s85 1.9e-6, s90 1.4e-6)
};
const ORT_MAX_DIFF = {
  simd128: 6e-5, // measured 2.0e-5 (dense; p50 1.0e-5, s85 3.1e-6, s90 1.7e-6)
  relaxed: 6e-5, // measured 1.6e-5 (dense; p50 9.5e-6, s85 3.3e-6, s90 1.9e-6)
};
const boundsFor = (isa) => ({ [ZS_GPU]: MAX_DIFF[isa], [ZS_GPU_DENSE]: MAX_DIFF[isa], [ORT]: ORT_MAX_DIFF[isa] });

const ORT_BUNDLE = 'ort.webgpu.min.mjs';
const ORT_WASM = 'ort-wasm-simd-threaded.asyncify.wasm';
const WEBGPU_EP = 'WebGpuExecutionProvider';

function describeProtocol(p, set, isa) {
  const engines = set === 'all' ? `${refName(isa)} (wasm reference), ${ZS_GPU}, ${ZS_GPU_DENSE}, ${ORT}` : `${refName(isa)} (wasm reference), ${ORT}`;
  return `per variant: fetch the ONNX file once (not timed), create ${engines} from the same bytes ` +
    `(load_ms = model/session creation; ort's first session, which compiles its wasm, is kept out), ` +
    `1 first run each (first_ms, also the logits checked), ${p.warmup} warm-up rounds, then ${p.runs} timed ` +
    `rounds; a round runs every engine once, starting engine rotating; a run = one inference with the logits ` +
    `read back to the CPU; input = image 0 of verify/<model>_inputs.npy; ort: ${ORT_BUNDLE}, executionProviders ` +
    `['webgpu'], numThreads 1, proxy off, graphOptimizationLevel all, node placement read from a verbose probe ` +
    `session per file; guard vs the wasm reference: zeroskip-webgpu(-dense) max |Δlogit| ≤ ${MAX_DIFF[isa]}, ` +
    `ort-webgpu ≤ ${ORT_MAX_DIFF[isa]}, top-1 equal; main thread`;
}

const fileOf = (model, variant) => `models/${variant === 'dense' ? model : `${model}_${variant}`}.onnx`;

// ---- zeroskip ---------------------------------------------------------------------------------

let ortModule = null;

/** Imports and instantiates the one zeroskip build this page times (util.js: once per page). */
const loadZeroskip = (isa = 'simd128') => loadPageBuild(isa);

/** What the loaded build lacks of the async backend API (Model.open, backend, fallback, runAsync). */
function missingGpuApi(zs = pageBuild()?.zs) {
  const M = zs?.Model;
  if (!M) return ['Model'];
  const missing = typeof M.open === 'function' ? [] : ['Model.open'];
  for (const m of ['backend', 'fallback', 'runAsync']) if (typeof M.prototype?.[m] !== 'function') missing.push(`Model#${m}`);
  return missing;
}

/** Plan summary of a zeroskip model, or null when its report is not the CPU plan's. */
function planOf(model) {
  try {
    const report = JSON.parse(model.report());
    return Array.isArray(report) ? planSummary(report) : null;
  } catch {
    return null;
  }
}

/** The wasm reference: Model.fromOnnx + the synchronous run (the CPU engine, as cnn.js uses it). */
function createReference(isa, label, bytes) {
  const e = zeroskipEngine(refName(isa), () => pageBuild().zs.Model.fromOnnx(label, bytes, false));
  return { ...e, backend: 'wasm', reference: true, plan: planOf(e.model), fallback: null };
}

/**
 * A zeroskip engine through the async API: `await Model.open(label, bytes, backend, dense)`.
 * With backend 'webgpu' it checks that WebGPU is what runs.
 */
async function createZeroskip(name, label, bytes, { backend = 'webgpu', dense = false } = {}) {
  const missing = missingGpuApi();
  if (missing.length) {
    throw new Error(`this zeroskip build has no ${missing.join(', ')} (the WebGPU API in src/web.rs): rebuild with make wasm, ` +
      'or time onnxruntime-web alone with engines=ort (bench/gpu.mjs --ort-only)');
  }
  const t0 = performance.now();
  const model = await pageBuild().zs.Model.open(label, bytes, backend, dense);
  const load_ms = performance.now() - t0;
  const ran = model.backend();
  const fallback = model.fallback() ?? null;
  if (backend === 'webgpu' && ran !== 'webgpu') {
    model.free();
    throw new Error(`${name}: Model.open(..., 'webgpu') resolved but runs on ${ran}${fallback ? ` (${fallback})` : ''}`);
  }
  return {
    name,
    backend: ran,
    reference: false,
    load_ms,
    load_ms_internal: model.loadMs(),
    plan: planOf(model),
    fallback,
    run: (x) => model.runAsync(x),
    time: async (x) => {
      const t = performance.now();
      await model.runAsync(x);
      return performance.now() - t;
    },
    free: () => model.free(),
  };
}

// ---- onnxruntime-web, WebGPU EP ---------------------------------------------------------------

/** onnxruntime-web's WebGPU ESM bundle, served from vendor/ort (no network), one thread. */
async function loadOrt() {
  ortModule = await loadOrtBundle(`vendor/ort/${ORT_BUNDLE}`);
  return ortModule;
}

/**
 * ORT's wasm prints its log through console methods it binds when it instantiates, so a capture
 * has to be in place before that: this tap wraps the console once, when this module loads (before
 * ORT is imported), forwarding everything unless `tap.lines` is an array, which then collects.
 */
const consoleTap = (() => {
  const tap = { lines: null };
  for (const k of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[k].bind(console);
    console[k] = (...args) => (tap.lines ? tap.lines.push(args.map(String).join(' ')) : original(...args));
  }
  return tap;
})();

const PLACEMENT = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/;

/**
 * Where ORT puts the nodes of `bytes` with executionProviders ['webgpu']: creates a probe session
 * with ORT's verbose log captured from the console, reads the graph partitioner's placement lines,
 * releases it. Returns {nodes: {EP: count}, webgpu_nodes, other_nodes, lines, create_ms}.
 */
async function ortPlacement(bytes) {
  const ort = await loadOrt();
  const captured = [];
  let session = null;
  const t0 = performance.now();
  consoleTap.lines = captured;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 0,
      logVerbosityLevel: 0,
    });
  } finally {
    consoleTap.lines = null;
  }
  const create_ms = performance.now() - t0;
  await session.release();
  const nodes = {};
  const lines = [];
  for (const line of captured) {
    const m = PLACEMENT.exec(line);
    if (m) {
      nodes[m[1]] = (nodes[m[1]] ?? 0) + Number(m[2]);
      lines.push(line.slice(line.indexOf(m[0])));
    } else if (/not assigned to the preferred execution providers/.test(line)) {
      lines.push(line.replace(/^.*?\] /, ''));
    }
  }
  const webgpu_nodes = nodes[WEBGPU_EP] ?? 0;
  const other_nodes = Object.entries(nodes).filter(([ep]) => ep !== WEBGPU_EP).reduce((n, [, c]) => n + c, 0);
  return { nodes, webgpu_nodes, other_nodes, lines, create_ms, log_lines: captured.length };
}

/** The GPUDevice ORT runs on (ort.env.webgpu.device once a WebGPU session exists), described. */
function ortDevice() {
  let device = null;
  try {
    device = ortModule?.env?.webgpu?.device ?? null;
  } catch {
    device = null;
  }
  const isDevice = typeof GPUDevice !== 'undefined' && device instanceof GPUDevice;
  const info = isDevice ? device.adapterInfo : null;
  return {
    is_gpu_device: isDevice,
    adapter_info: info ? { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      is_fallback_adapter: info.isFallbackAdapter ?? null } : null,
  };
}

/** An onnxruntime-web WebGPU session over `bytes`; input [1, ...shape]; logits back on the CPU. */
async function createOrt(bytes, shape) {
  const engine = await createOrtEngine(await loadOrt(), bytes, shape, { name: ORT, ep: 'webgpu' });
  return { ...engine, reference: false, plan: null, fallback: null };
}

// ---- the run ----------------------------------------------------------------------------------

/** One engine's logits vs the reference's: the diff, both top-1s, and the verdict under `bound`. */
function compare(got, ref, bound) {
  const diff = maxAbsDiff(got, ref);
  const [top1, refTop1] = [argmax(got), argmax(ref)];
  return { max_abs_diff_vs_ref: diff, top1, ref_top1: refTop1, bound, ok: diff <= bound && top1 === refTop1 };
}

/** Creates the engines over one file, checks their logits, times them interleaved. */
async function measureVariant(opts, variant, input, shape, proto, ui, state) {
  const { isa, model, engines: set } = opts;
  const file = fileOf(model, variant);
  const bytes = await fetchBytes(file);
  const label = `${model}_${variant}`;
  const engines = [];
  try {
    engines.push(createReference(isa, label, bytes));
    await yieldToPage();
    if (set === 'all') {
      engines.push(await createZeroskip(ZS_GPU, label, bytes, { dense: false }));
      engines.push(await createZeroskip(ZS_GPU_DENSE, label, bytes, { dense: true }));
    }
    const placement = await ortPlacement(bytes);
    engines.push(await createOrt(bytes, shape));
    const device = ortDevice();
    const placementNote = `${Object.entries(placement.nodes).map(([ep, n]) => `${ep} ${n}`).join(', ') || 'no placement line'}`;
    ui.log(`  ort node placement: ${placementNote}`);
    if (placement.webgpu_nodes === 0) state.guard_failures.push(`${label} ort-webgpu: no node on ${WEBGPU_EP} (${placementNote})`);
    else if (placement.other_nodes > 0) state.warnings.push(`${label} ort-webgpu: ${placement.other_nodes} node(s) off WebGPU (${placementNote})`);
    if (!device.is_gpu_device) state.guard_failures.push(`${label} ort-webgpu: ort.env.webgpu.device is not a GPUDevice`);

    const { outputs, first } = await firstRuns(engines, input, (e, ms) => ui.log(`  ${e.name}: first run ${fmt(ms, 0)} ms`));

    const samples = await timeInterleaved(engines, input, proto, () => ui.step());

    const ref = engines[0];
    const refOut = outputs[ref.name];
    const rows = engines.map((e) => {
      const s = samples[e.name];
      const cmp = e.reference ? { max_abs_diff_vs_ref: 0, top1: argmax(refOut), ref_top1: argmax(refOut), bound: 0, ok: true }
        : compare(outputs[e.name], refOut, boundsFor(isa)[e.name]);
      const row = {
        model, variant, engine: e.name, backend: e.backend, reference: e.reference,
        file: file.replace(/^models\//, ''), file_bytes: bytes.length,
        load_ms: e.load_ms, first_ms: first[e.name], ...rowStats(s, proto), samples_ms: s,
        max_abs_diff_vs_ref: cmp.max_abs_diff_vs_ref, bound: cmp.bound, top1: cmp.top1, ref_top1: cmp.ref_top1,
        within_bound: cmp.ok, vs: ref.name,
        sparse_layers: e.plan?.sparse_layers ?? null,
        dense_layers: e.plan?.dense_layers ?? null,
        fallback: e.fallback,
      };
      if (e.name === ORT) Object.assign(row, { ort_nodes: placement.nodes, ort_device: device.adapter_info });
      if (isNum(e.load_ms_internal)) row.load_ms_internal = e.load_ms_internal;
      if (e.plan) Object.assign(row, { kernels: e.plan.kernels });
      return row;
    });
    for (const row of rows.filter((r) => !r.reference)) {
      const what = `${label} ${row.engine}: max |Δlogit| vs ${ref.name} ${row.max_abs_diff_vs_ref.toExponential(2)} ` +
        `(bound ${row.bound}), top-1 ${row.top1} vs ${row.ref_top1}`;
      if (!row.within_bound) state.guard_failures.push(what);
      ui.log(`  ${what}${row.within_bound ? '' : '  <-- FAILED'}`);
    }

    const pair = { model, variant, median_ms: {}, ratios: {}, paired: {} };
    for (const e of engines) pair.median_ms[e.name] = median(samples[e.name]);
    for (const [a, b] of ratioPairs(set, isa)) {
      if (!samples[a] || !samples[b]) continue;
      pair.ratios[`${a}/${b}`] = ratio(pair.median_ms[a], pair.median_ms[b]);
      pair.paired[`${a}/${b}`] = pairedRatio(samples[a], samples[b]);
    }
    return { rows, pair, placement };
  } finally {
    for (const e of engines) e.free();
  }
}

/** The pairs whose ratios the result reports (numerator / denominator; > 1: the denominator is faster). */
function ratioPairs(set, isa) {
  return set === 'all'
    ? [[ORT, ZS_GPU], [ZS_GPU_DENSE, ZS_GPU], [ZS_GPU, refName(isa)], [ORT, refName(isa)]]
    : [[ORT, refName(isa)]];
}

function summarize(pairs) {
  const keys = [...new Set(pairs.flatMap((p) => Object.keys(p.ratios)))];
  const ratios = {};
  const paired = {};
  for (const p of pairs) {
    ratios[`${p.model} ${p.variant}`] = p.ratios;
    paired[`${p.model} ${p.variant}`] = p.paired;
  }
  return {
    pairs,
    ratios,
    paired_ratios: paired,
    ratio_medians: Object.fromEntries(keys.map((k) => [k, median(pairs.map((p) => p.ratios[k]))])),
    paired_ratio_medians: Object.fromEntries(keys.map((k) => [k, median(pairs.map((p) => p.paired[k]))])),
  };
}

async function runBenchmark(opts, ui) {
  const proto = { ...PROTOCOLS[opts.mode] };
  if (!PROTOCOLS[opts.mode]) throw new Error(`unknown mode '${opts.mode}': expected full or quick`);
  if (!ENGINE_SETS.includes(opts.engines)) throw new Error(`unknown engines '${opts.engines}': expected ${ENGINE_SETS.join(' or ')}`);
  const model = opts.model ?? proto.model;
  const variants = opts.variants ?? proto.variants;
  const t0 = performance.now();

  const adapter = await webgpuAdapterInfo();
  ui.log(`WebGPU adapter: ${describeAdapter(adapter)}`);
  ui.adapter(adapter);
  if (!adapter.available) throw new Error(`no WebGPU here: ${adapter.reason}`);

  let t = performance.now();
  await loadZeroskip(opts.isa);
  const zeroskip_init_ms = performance.now() - t;
  const missing = missingGpuApi();
  if (opts.engines === 'all' && missing.length) {
    throw new Error(`this zeroskip build has no ${missing.join(', ')} (the WebGPU API in src/web.rs): rebuild with make wasm, ` +
      'or time onnxruntime-web alone with engines=ort (bench/gpu.mjs --ort-only)');
  }
  t = performance.now();
  const ort = await loadOrt();
  const ort_import_ms = performance.now() - t;

  const npy = parseNpy(await fetchBytes(`models/verify/${model}_inputs.npy`));
  const input = npyRow(npy, 0);
  const shape = npy.shape.slice(1);

  // ort compiles its 27 MB wasm and creates its GPUDevice on the first session: not in load_ms.
  t = performance.now();
  const warm = await createOrt(await fetchBytes(fileOf(model, variants[0])), shape);
  const ort_first_session_ms = performance.now() - t;
  await warm.free();

  ui.start(variants.length * (proto.warmup + proto.runs));
  ui.log(`zeroskip ${opts.isa} build, onnxruntime-web ${ort.env.versions?.web ?? '?'} (${ORT_BUNDLE}), ${opts.mode} mode, engines ${opts.engines}`);
  const state = { guard_failures: [], warnings: [] };
  const rows = [];
  const pairs = [];
  const placements = {};
  for (const variant of variants) {
    ui.log(`${model} ${variant} (${fileOf(model, variant)})`);
    const { rows: vr, pair, placement } = await measureVariant({ ...opts, model }, variant, input, shape, proto, ui, state);
    rows.push(...vr);
    pairs.push(pair);
    placements[`${model} ${variant}`] = placement;
    ui.variant(vr, rows, pair);
  }
  return {
    ...environment(),
    isa: opts.isa,
    mode: opts.mode,
    engines: opts.engines,
    protocol: describeProtocol(proto, opts.engines, opts.isa),
    model,
    variants,
    adapter,
    zeroskip_init_ms,
    zeroskip_gpu_api_missing: missing,
    ort: {
      version: ort.env.versions?.web ?? null,
      bundle: ORT_BUNDLE,
      wasm: ORT_WASM,
      execution_providers: ['webgpu'],
      num_threads: ort.env.wasm.numThreads,
      import_ms: ort_import_ms,
      first_session_ms: ort_first_session_ms,
      device: ortDevice(),
      placement: placements,
    },
    bounds: { ...boundsFor(opts.isa), vs: refName(opts.isa), top1: 'equal' },
    rows,
    summary: summarize(pairs),
    guard_failures: state.guard_failures,
    warnings: state.warnings,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

// ---- page -------------------------------------------------------------------------------------

const ENGINE_COLORS = {
  [ORT]: '#9aa5b1', [ZS_GPU_DENSE]: '#4e79a7', [ZS_GPU]: '#e15759', 'zeroskip-simd128': '#59a14f', 'zeroskip-relaxed': '#59a14f',
};

const ROW_COLUMNS = [
  ['model', (r) => r.model],
  ['variant', (r) => r.variant],
  ['engine', (r) => r.engine],
  ['backend', (r) => r.backend],
  ...timingColumns(0, 1),
  ['max |Δ| vs wasm', (r) => (r.reference ? 'ref' : r.max_abs_diff_vs_ref.toExponential(1)), 'num'],
  ['top-1', (r) => String(r.top1), 'num'],
  ['', (r) => (r.reference ? '' : r.within_bound ? 'ok' : 'FAIL'), ''],
];

function renderRowsTable(rows) {
  const table = $('rows');
  table.replaceChildren(el('thead'), el('tbody'));
  table.tHead.append(tableRow(ROW_COLUMNS.map(([h, , c]) => [h, c]), 'th'));
  for (const r of rows) table.tBodies[0].append(tableRow(ROW_COLUMNS.map(([, f, c]) => [f(r), c])));
}

function renderAdapter(adapter, result) {
  const box = $('adapter');
  box.replaceChildren(el('p', describeAdapter(adapter), adapter.available ? '' : 'fail'));
  if (adapter.available && adapter.is_fallback_adapter) {
    box.append(el('p', 'A fallback adapter is a CPU emulation (SwiftShader): compare engines by their ratios on it, not by milliseconds.', 'note'));
  }
  if (result?.ort) {
    const p = Object.entries(result.ort.placement).map(([k, v]) => `${k}: ${Object.entries(v.nodes).map(([ep, n]) => `${ep} ${n}`).join(', ')}`);
    box.append(el('p', `onnxruntime-web ${result.ort.version} (${result.ort.bundle}), node placement — ${p.join('; ')}`, 'muted small'));
  }
}

function renderSummary(result) {
  const s = result.summary;
  const box = $('summary');
  box.replaceChildren(el('p', `${result.isa} build, onnxruntime-web ${result.ort.version}, ${result.mode} mode, engines ${result.engines}, ` +
    `${fmt(result.elapsed_s, 0)} s; ort first session (wasm compile + device) ${fmt(result.ort.first_session_ms, 0)} ms`));
  // A row per ratio, a column per variant: "ratio of medians (median of per-round ratios)".
  const cell = (r, q) => [`${fmt(r, 2)}× (${fmt(q, 2)}×)`, 'num'];
  const table = el('table');
  table.append(tableRow([['A / B'], ...s.pairs.map((p) => [`${p.model} ${p.variant}`, 'num']), ['median', 'num']], 'th'));
  for (const k of Object.keys(s.ratio_medians)) {
    table.append(tableRow([[k.replace('/', ' / ')], ...s.pairs.map((p) => cell(p.ratios[k], p.paired[k])),
      [...cell(s.ratio_medians[k], s.paired_ratio_medians[k]).slice(0, 1), 'num strong']]));
  }
  box.append(table);
  box.append(el('p', 'A / B above 1×: B is faster. In brackets: the median of the per-round ratios (both engines in the same round).', 'muted small'));
  appendGuardNotes(box, result);
}

function pageUi() {
  return {
    ...latencyPageUi(renderRowsTable, (rows) => latencyChart(rows, ENGINE_COLORS)),
    adapter(a) {
      renderAdapter(a);
    },
    variant(vrows, rows, pair) {
      renderRowsTable(rows);
      $('chart').innerHTML = latencyChart(rows, ENGINE_COLORS);
      for (const r of vrows) {
        this.log(`  ${r.engine} (${r.backend}): load ${fmt(r.load_ms, 0)} ms, first ${fmt(r.first_ms, 0)} ms, median ${fmt(r.median_ms, 1)} ms ` +
          `(min ${fmt(r.min_ms, 1)}, max ${fmt(r.max_ms, 1)}, ${r.runs} runs)`);
      }
      this.log(`  ${Object.entries(pair.ratios).map(([k, v]) => `${k} ${fmt(v, 2)}×`).join(', ')}`);
    },
    finish(result) {
      renderRowsTable(result.rows);
      $('chart').innerHTML = latencyChart(result.rows, ENGINE_COLORS);
      renderAdapter(result.adapter, result);
      renderSummary(result);
      showDone(result);
    },
  };
}

function readParams() {
  return readPageParams((q) => ({
    engines: q.get('engines') ?? 'all',
    model: q.get('model') ?? undefined,
    variants: q.get('variants') ? q.get('variants').split(',').map((s) => s.trim()).filter(Boolean) : undefined,
  }));
}

const reportError = (err) => reportPageError('gpu', err);

async function start(opts) {
  await runPageBenchmark('gpu', `${opts.mode} ${opts.engines}`, pageUi, (ui) => runBenchmark(opts, ui));
}

// Building blocks for tests/browser/gpu.mjs (page.evaluate) and the console.
window.gpuBench = {
  MAX_DIFF, ORT_MAX_DIFF, fileOf, loadZeroskip, missingGpuApi, createReference, createZeroskip, loadOrt, createOrt,
  ortPlacement, ortDevice, webgpuAdapterInfo, fetchBytes, parseNpy, npyRow, maxAbsDiff, argmax, compare,
  zeroskip: () => pageBuild()?.zs,
};

async function main() {
  mountBenchPage({
    title: 'WebGPU benchmark',
    controls: [
      ['mode', 'mode', [['full', 'full (MobileNetV2 dense, p50, s85, s90; 5 runs)'], ['quick', 'quick (MobileNetV2 dense + s85, 2 runs)']]],
      ['engines', 'engines', [['all', 'zeroskip WebGPU (both plans) + onnxruntime-web WebGPU'], ['ort', 'onnxruntime-web WebGPU only (+ the wasm reference)']]],
    ],
    sections: [
      ['Adapter', '<div id="adapter"><p class="muted">Asking navigator.gpu for an adapter…</p></div>'],
      SECTIONS.chart, ['Ratios', '<div id="summary"><p class="muted">Appear when the run is done.</p></div>'], SECTIONS.rows, SECTIONS.log,
    ],
  });
  const params = readParams();
  $('mode').value = params.mode;
  $('engines').value = params.engines;
  $('run').addEventListener('click', () => {
    start({ ...params, mode: $('mode').value, engines: $('engines').value });
  });
  window.addEventListener('unhandledrejection', (e) => {
    if ($('run').disabled) reportError(e.reason);
  });
  if (params.autorun) {
    start(params);
  } else {
    const adapter = await webgpuAdapterInfo();
    renderAdapter(adapter);
  }
}

main();
