// zeroskip CNN benchmark: whole models end to end, zeroskip vs onnxruntime-web, same ONNX bytes.
//
//   cnn.html?isa=simd128|relaxed&mode=full|quick&autorun=1
//
// Per model and variant (dense and magnitude-pruned copies of the same model) it loads one ONNX
// file once and hands the same bytes to three engines:
//   zeroskip-<isa>       Model.fromOnnx(..., dense = false): our plan, sparse kernels where chosen
//   zeroskip-dense-plan  Model.fromOnnx(..., dense = true): every 1x1/FC layer dense (baseline)
//   ort-wasm-1t          onnxruntime-web, wasm EP, SIMD, numThreads = 1
// and times them interleaved (one run each per round, start engine rotating) on the first image
// of verify/<model>_inputs.npy. In the same run it checks zeroskip's logits against ort's.
//
// When done it leaves the result in window.__cnnResult (rows per BENCH_FORMAT.md `cnn.json`) and
// sets document.title = 'done' ('error' and window.__cnnError when the page itself failed).
// A failed correctness guard does not stop the run: it is listed in result.guard_failures and
// bench/cnn.mjs fails on it. window.cnn exposes the building blocks (tests/browser/models.mjs).

import { $, isNum, fmt, ratio, yieldToPage, el, median, argmax } from './util.js';

// ---- protocol ---------------------------------------------------------------------------------

const MODELS = ['mobilenet_v1', 'mobilenet_v2', 'efficientnet_lite0'];
const VARIANTS = ['dense', 'p50', 's70', 's80', 's85', 's90', 's90b4'];
const PROTOCOLS = {
  full: { plan: MODELS.map((m) => [m, VARIANTS]), warmup: 5, runs: 30 },
  quick: { plan: [['mobilenet_v2', ['dense', 's90']]], warmup: 3, runs: 10 },
};
const ISAS = ['simd128', 'relaxed'];
const ORT = 'ort-wasm-1t';
const DENSE_PLAN = 'zeroskip-dense-plan';
const zsName = (isa) => `zeroskip-${isa}`;
const MAX_DIFF = 1e-3;

/** Informational targets (the SIMD128 build is the one they are set for). */
const ACCEPTANCE = [
  { name: 'MobileNetV2 s85: ort / zeroskip ≥ 2', model: 'mobilenet_v2', variant: 's85', key: 'ort_over_zeroskip', target: 2, atLeast: true },
  { name: 'MobileNetV1 s90: ort / zeroskip ≥ 2.5', model: 'mobilenet_v1', variant: 's90', key: 'ort_over_zeroskip', target: 2.5, atLeast: true },
  ...MODELS.map((model) => ({
    name: `${model} dense: zeroskip / ort ≤ 1.25`, model, variant: 'dense', key: 'zeroskip_over_ort', target: 1.25, atLeast: false,
  })),
];

function describeProtocol(p) {
  return `per model/variant: fetch the ONNX file once (not timed), create the 3 engines from the same bytes ` +
    `(load_ms = model/session creation), 1 first run each (first_ms), ${p.warmup} warm-up rounds, then ` +
    `${p.runs} timed rounds; a round runs every engine once, starting engine rotating; input = image 0 of ` +
    `verify/<model>_inputs.npy; ort: wasm EP, numThreads 1, proxy off, graphOptimizationLevel all; ` +
    `guard: dense variant zeroskip vs ort max |Δlogit| ≤ ${MAX_DIFF} and equal top-1; main thread`;
}

const fileOf = (model, variant) => `models/${variant === 'dense' ? model : `${model}_${variant}`}.onnx`;

// ---- small helpers ----------------------------------------------------------------------------


function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}


async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} (run make zoo, then make wasm, to fill www/models)`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A .npy file (little-endian float32, C order) → {shape, data: Float32Array}. */
function parseNpy(bytes) {
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
function npyRow({ shape, data }, i) {
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  return data.slice(i * size, (i + 1) * size);
}

// ---- engines ----------------------------------------------------------------------------------

let zsModule = null;
let zsIsa = null;
let ortModule = null;

/** Imports and instantiates one zeroskip build (once per page). */
async function loadZeroskip(isa) {
  if (!ISAS.includes(isa)) throw new Error(`unknown isa '${isa}': expected one of ${ISAS.join(', ')}`);
  if (zsModule) {
    if (zsIsa !== isa) throw new Error(`this page already loaded the ${zsIsa} build; reload for ${isa}`);
    return zsModule;
  }
  const zs = await import(`./pkg/${isa}/zeroskip.js`);
  await zs.default();
  [zsModule, zsIsa] = [zs, isa];
  return zs;
}

/** onnxruntime-web's wasm-only ESM bundle, served from vendor/ort (no network). */
async function loadOrt() {
  if (ortModule) return ortModule;
  const ort = await import('./vendor/ort/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('./vendor/ort/', import.meta.url).href;
  ort.env.logLevel = 'warning';
  ortModule = ort;
  return ort;
}

/**
 * The 1x1/FC picture of a zeroskip plan: layers on sparse (spmm_*) and dense (gemm_*) kernels,
 * kernel counts, and MFLOPs (dense-equivalent and on nonzeros) by kind of layer.
 */
function planSummary(report) {
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

/** A zeroskip engine over `bytes`; `time(x)` is synchronous, `run(x)` returns the logits. */
function createZeroskip(name, label, bytes, dense) {
  const zs = zsModule;
  const t0 = performance.now();
  const model = zs.Model.fromOnnx(label, bytes, dense);
  const load_ms = performance.now() - t0;
  const report = JSON.parse(model.report());
  return {
    name,
    load_ms,
    load_ms_internal: model.loadMs(),
    plan: planSummary(report),
    report,
    inputShape: Array.from(model.inputShape()),
    run: async (x) => model.run(x),
    time: async (x) => {
      const t = performance.now();
      model.run(x);
      return performance.now() - t;
    },
    free: () => model.free(),
  };
}

/** An onnxruntime-web session over `bytes` (wasm EP, 1 thread); input [1, ...shape]. */
async function createOrt(bytes, shape) {
  const ort = ortModule;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const load_ms = performance.now() - t0;
  const [inName, outName] = [session.inputNames[0], session.outputNames[0]];
  let tensor = null;
  let tensorData = null;
  const feeds = (x) => {
    if (tensorData !== x) [tensor, tensorData] = [new ort.Tensor('float32', x, [1, ...shape]), x];
    return { [inName]: tensor };
  };
  return {
    name: ORT,
    load_ms,
    run: async (x) => (await session.run(feeds(x)))[outName].data,
    time: async (x) => {
      const f = feeds(x);
      const t = performance.now();
      await session.run(f);
      return performance.now() - t;
    },
    free: () => session.release(),
  };
}

// ---- the run ----------------------------------------------------------------------------------

function environment() {
  const platform = navigator.userAgentData?.platform || navigator.platform || 'unknown platform';
  return {
    machine: `${navigator.hardwareConcurrency} logical cores, ${platform}`,
    browser: navigator.userAgent,
    date: new Date().toISOString(),
    cross_origin_isolated: self.crossOriginIsolated === true,
  };
}

/** Creates the three engines over one file, runs the correctness guard, times them interleaved. */
async function measureVariant(isa, model, variant, input, shape, proto, ui, state) {
  const file = fileOf(model, variant);
  const bytes = await fetchBytes(file);
  const label = `${model}_${variant}`;
  const engines = [];
  try {
    engines.push(createZeroskip(zsName(isa), label, bytes, false));
    await yieldToPage();
    engines.push(createZeroskip(DENSE_PLAN, label, bytes, true));
    await yieldToPage();
    engines.push(await createOrt(bytes, shape));

    // First run of each (also the logits the guard compares).
    const outputs = {};
    const first = {};
    for (const e of engines) {
      const t = performance.now();
      outputs[e.name] = Float32Array.from(await e.run(input));
      first[e.name] = performance.now() - t;
      await yieldToPage();
    }

    const samples = Object.fromEntries(engines.map((e) => [e.name, []]));
    const rounds = proto.warmup + proto.runs;
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < engines.length; j++) {
        const e = engines[(r + j) % engines.length];
        const ms = await e.time(input);
        if (r >= proto.warmup) samples[e.name].push(ms);
      }
      ui.step();
      await yieldToPage();
    }

    const ortOut = outputs[ORT];
    const ortTop1 = argmax(ortOut);
    const rows = engines.map((e) => {
      const s = samples[e.name];
      const row = {
        model, variant, engine: e.name, isa, file: file.replace(/^models\//, ''), file_bytes: bytes.length,
        load_ms: e.load_ms, first_ms: first[e.name],
        median_ms: median(s), min_ms: Math.min(...s), max_ms: Math.max(...s), runs: s.length,
        warmup: proto.warmup,
        mean_ms: s.reduce((a, b) => a + b, 0) / s.length,
        top1: argmax(outputs[e.name]),
        max_abs_diff_vs_ort: e.name === ORT ? 0 : maxAbsDiff(outputs[e.name], ortOut),
        sparse_layers: e.plan?.sparse_layers ?? null,
        dense_layers: e.plan?.dense_layers ?? null,
      };
      if (e.plan) Object.assign(row, { load_ms_internal: e.load_ms_internal, kernels: e.plan.kernels, mflops: e.plan.mflops });
      row.top1_equal_ort = row.top1 === ortTop1;
      return row;
    });

    for (const row of rows.filter((r) => r.engine !== ORT)) {
      const what = `${model} ${variant} ${row.engine}: max |Δlogit| vs ort ${row.max_abs_diff_vs_ort.toExponential(2)}, ` +
        `top-1 ${row.top1} vs ort ${ortTop1}`;
      const diffOk = row.max_abs_diff_vs_ort <= MAX_DIFF;
      if (variant === 'dense' && !(diffOk && row.top1_equal_ort)) state.guard_failures.push(what);
      else if (!diffOk) state.warnings.push(what);
      ui.log(`  ${what}${diffOk ? '' : '  <-- over ' + MAX_DIFF}`);
    }

    // Paired ratios: round by round, the same machine state.
    const zs = samples[zsName(isa)];
    const paired = (other) => median(samples[other].map((ms, i) => ratio(ms, zs[i])));
    const pair = pairSummary(model, variant, isa, rows);
    pair.paired_ort_over_zeroskip = paired(ORT);
    pair.paired_dense_plan_over_zeroskip = paired(DENSE_PLAN);
    return { rows, pair };
  } finally {
    for (const e of engines) e.free();
  }
}

function pairSummary(model, variant, isa, rows) {
  const med = (engine) => rows.find((r) => r.model === model && r.variant === variant && r.engine === engine)?.median_ms ?? null;
  const [zs, dense, ort] = [med(zsName(isa)), med(DENSE_PLAN), med(ORT)];
  return {
    model, variant, isa,
    zeroskip_median_ms: zs, dense_plan_median_ms: dense, ort_median_ms: ort,
    ort_over_zeroskip: ratio(ort, zs),
    dense_plan_over_zeroskip: ratio(dense, zs),
    zeroskip_over_ort: ratio(zs, ort),
  };
}

function summarize(pairs, isa) {
  const variants = [...new Set(pairs.map((p) => p.variant))];
  const byVariant = (key) => Object.fromEntries(variants.map((v) => [v, median(pairs.filter((p) => p.variant === v).map((p) => p[key]))]));
  const acceptance = ACCEPTANCE.map((a) => {
    const p = pairs.find((q) => q.model === a.model && q.variant === a.variant);
    const value = p ? p[a.key] : null;
    const pass = isNum(value) ? (a.atLeast ? value >= a.target : value <= a.target) : null;
    return { name: a.name, model: a.model, variant: a.variant, value, target: a.target, pass, applies_to: 'simd128', isa };
  });
  return {
    pairs,
    ratio_medians: {
      'ort_median / zeroskip_median': { all: median(pairs.map((p) => p.ort_over_zeroskip)), by_variant: byVariant('ort_over_zeroskip') },
      'dense_plan_median / zeroskip_median': {
        all: median(pairs.map((p) => p.dense_plan_over_zeroskip)), by_variant: byVariant('dense_plan_over_zeroskip'),
      },
      'paired per-round ort / zeroskip': { all: median(pairs.map((p) => p.paired_ort_over_zeroskip)), by_variant: byVariant('paired_ort_over_zeroskip') },
    },
    acceptance,
  };
}

async function runBenchmark({ isa, mode }, ui) {
  const proto = PROTOCOLS[mode];
  if (!proto) throw new Error(`unknown mode '${mode}': expected full or quick`);
  const t0 = performance.now();
  let t = performance.now();
  await loadZeroskip(isa);
  const zeroskip_init_ms = performance.now() - t;
  t = performance.now();
  const ort = await loadOrt();
  const ort_import_ms = performance.now() - t;

  const total = proto.plan.reduce((n, [, vs]) => n + vs.length, 0) * (proto.warmup + proto.runs);
  ui.start(total);
  const state = { guard_failures: [], warnings: [] };
  const rows = [];
  const pairs = [];
  let ort_init_ms = null;
  ui.log(`zeroskip ${isa} build, onnxruntime-web ${ort.env.versions?.web ?? '?'}, ${mode} mode`);
  for (const [model, variants] of proto.plan) {
    const npy = parseNpy(await fetchBytes(`models/verify/${model}_inputs.npy`));
    const input = npyRow(npy, 0);
    const shape = npy.shape.slice(1);
    if (ort_init_ms === null) {
      // ort compiles and instantiates its wasm on the first session: keep that out of load_ms.
      const bytes = await fetchBytes(fileOf(model, variants[0]));
      t = performance.now();
      const s = await createOrt(bytes, shape);
      ort_init_ms = performance.now() - t;
      s.free();
    }
    for (const variant of variants) {
      ui.log(`${model} ${variant} (${fileOf(model, variant)})`);
      const { rows: vr, pair } = await measureVariant(isa, model, variant, input, shape, proto, ui, state);
      rows.push(...vr);
      pairs.push(pair);
      ui.variant(vr, rows, pair);
    }
  }
  return {
    ...environment(),
    isa,
    mode,
    protocol: describeProtocol(proto),
    ort_version: ort.env.versions?.web ?? null,
    zeroskip_init_ms,
    ort_import_ms,
    ort_first_session_ms: ort_init_ms,
    max_abs_diff_limit: MAX_DIFF,
    rows,
    summary: summarize(pairs, isa),
    guard_failures: state.guard_failures,
    warnings: state.warnings,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

// ---- page -------------------------------------------------------------------------------------

const ENGINE_COLORS = { [ORT]: '#9aa5b1', [DENSE_PLAN]: '#4e79a7', 'zeroskip-simd128': '#e15759', 'zeroskip-relaxed': '#f28e2b' };
const passLabel = (pass) => (pass === null ? ['n/a', 'muted'] : pass ? ['PASS', 'pass'] : ['FAIL', 'fail']);

function tableRow(cells, cellTag = 'td') {
  const tr = el('tr');
  for (const [text, className] of cells) tr.append(el(cellTag, text, className));
  return tr;
}

const ROW_COLUMNS = [
  ['model', (r) => r.model],
  ['variant', (r) => r.variant],
  ['engine', (r) => r.engine],
  ['load ms', (r) => fmt(r.load_ms, 1), 'num'],
  ['first ms', (r) => fmt(r.first_ms, 1), 'num'],
  ['median ms', (r) => fmt(r.median_ms, 2), 'num strong'],
  ['min ms', (r) => fmt(r.min_ms, 2), 'num'],
  ['max ms', (r) => fmt(r.max_ms, 2), 'num'],
  ['runs', (r) => String(r.runs), 'num'],
  ['sparse/dense 1x1+FC', (r) => (r.sparse_layers === null ? '' : `${r.sparse_layers}/${r.dense_layers}`), 'num'],
  ['max |Δ| vs ort', (r) => (r.engine === ORT ? '' : r.max_abs_diff_vs_ort.toExponential(1)), 'num'],
  ['top-1', (r) => String(r.top1), 'num'],
];

function renderRowsTable(rows) {
  const table = $('rows');
  table.replaceChildren(el('thead'), el('tbody'));
  table.tHead.append(tableRow(ROW_COLUMNS.map(([h, , c]) => [h, c]), 'th'));
  for (const r of rows) table.tBodies[0].append(tableRow(ROW_COLUMNS.map(([, f, c]) => [f(r), c])));
}

/** Grouped bars: one group per model/variant, one bar per engine, linear ms scale. */
function latencyChart(rows) {
  if (!rows.length) return '<p class="muted">Fills in as the run goes.</p>';
  const groups = [...new Map(rows.map((r) => [`${r.model} ${r.variant}`, r])).keys()];
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
      const r = rows.find((q) => `${q.model} ${q.variant}` === g && q.engine === engine);
      if (!r || !isNum(r.median_ms)) return;
      parts.push(`<rect x="${x0 + j * barW}" y="${y(r.median_ms)}" width="${barW - 0.5}" ` +
        `height="${Math.max(0.5, y(0) - y(r.median_ms))}" fill="${ENGINE_COLORS[engine] ?? '#59a14f'}">` +
        `<title>${g} ${engine}: ${r.median_ms.toFixed(2)} ms</title></rect>`);
    });
    const lx = x0 + groupW / 2;
    parts.push(`<text x="${lx}" y="${H - bottom + 12}" class="tick" text-anchor="end" ` +
      `transform="rotate(-40 ${lx} ${H - bottom + 12})">${g}</text>`);
  });
  const legend = engines.map((e, j) => `<rect x="${left + j * 170}" y="4" width="10" height="10" fill="${ENGINE_COLORS[e] ?? '#59a14f'}"/>` +
    `<text x="${left + 14 + j * 170}" y="13" class="tick">${e}</text>`).join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="median latency per model, variant and engine">` +
    `${legend}${parts.join('')}</svg>`;
}

function renderSummary(result) {
  const s = result.summary;
  const box = $('summary');
  box.replaceChildren();
  box.append(el('p', `${result.isa} build, onnxruntime-web ${result.ort_version}, ${result.mode} mode, ` +
    `${fmt(result.elapsed_s, 0)} s; zeroskip init ${fmt(result.zeroskip_init_ms, 0)} ms, ort first session ` +
    `(wasm compile included) ${fmt(result.ort_first_session_ms, 0)} ms`));
  const pairs = el('table');
  pairs.append(tableRow([['model'], ['variant'], ['zeroskip ms', 'num'], ['dense plan ms', 'num'], ['ort ms', 'num'],
    ['ort / zeroskip', 'num'], ['dense plan / zeroskip', 'num'], ['paired ort / zs', 'num']], 'th'));
  for (const p of s.pairs) {
    pairs.append(tableRow([[p.model], [p.variant], [fmt(p.zeroskip_median_ms, 2), 'num'], [fmt(p.dense_plan_median_ms, 2), 'num'],
      [fmt(p.ort_median_ms, 2), 'num'], [`${fmt(p.ort_over_zeroskip, 2)}×`, 'num strong'],
      [`${fmt(p.dense_plan_over_zeroskip, 2)}×`, 'num'], [`${fmt(p.paired_ort_over_zeroskip, 2)}×`, 'num']]));
  }
  box.append(pairs);
  const acc = el('table');
  acc.append(tableRow([[`acceptance (informational, set for simd128; this is ${result.isa})`], ['value', 'num'], ['target', 'num'], ['']], 'th'));
  for (const a of s.acceptance) acc.append(tableRow([[a.name], [fmt(a.value, 2), 'num'], [String(a.target), 'num'], passLabel(a.pass)]));
  box.append(acc);
  for (const g of result.guard_failures) box.append(el('p', `correctness guard FAILED: ${g}`, 'fail'));
  for (const w of result.warnings) box.append(el('p', `warning: ${w}`, 'muted'));
}

function pageUi() {
  let [done, total] = [0, 1];
  const bar = $('progress');
  return {
    start(steps) {
      [done, total] = [0, steps];
      bar.max = total;
      bar.value = 0;
      renderRowsTable([]);
      $('chart').innerHTML = latencyChart([]);
      $('summary').replaceChildren();
    },
    step() {
      bar.value = ++done;
      $('status').textContent = `${Math.round((100 * done) / total)}%`;
    },
    log(msg) {
      console.log(msg);
      $('log').textContent += msg + '\n';
    },
    variant(vrows, rows, pair) {
      renderRowsTable(rows);
      $('chart').innerHTML = latencyChart(rows);
      for (const r of vrows) {
        this.log(`  ${r.engine}: load ${fmt(r.load_ms, 1)} ms, first ${fmt(r.first_ms, 1)} ms, median ${fmt(r.median_ms, 2)} ms ` +
          `(min ${fmt(r.min_ms, 2)}, max ${fmt(r.max_ms, 2)}, ${r.runs} runs)` +
          (r.sparse_layers === null ? '' : `, 1x1/FC sparse ${r.sparse_layers} / dense ${r.dense_layers}`));
      }
      this.log(`  ort / zeroskip ${fmt(pair.ort_over_zeroskip, 2)}×, dense plan / zeroskip ${fmt(pair.dense_plan_over_zeroskip, 2)}×`);
    },
    finish(result) {
      renderRowsTable(result.rows);
      $('chart').innerHTML = latencyChart(result.rows);
      renderSummary(result);
      $('status').textContent = `done in ${fmt(result.elapsed_s, 0)} s` + (result.guard_failures.length ? ', correctness guard FAILED' : '');
      if (result.guard_failures.length) $('status').className = 'fail';
    },
  };
}

function readParams() {
  const q = new URLSearchParams(location.search);
  return { isa: q.get('isa') ?? 'simd128', mode: q.get('mode') ?? 'full', autorun: q.get('autorun') === '1' };
}

function reportError(err) {
  console.error(`benchmark error: ${err?.stack ?? err}`);
  window.__cnnError = String(err?.message ?? err);
  document.title = 'error';
  $('status').textContent = `error: ${err?.message ?? err}`;
  $('status').className = 'fail';
}

async function start(opts) {
  const button = $('run');
  button.disabled = true;
  document.title = `running ${opts.isa} ${opts.mode}`;
  $('status').className = '';
  window.__cnnResult = undefined;
  window.__cnnError = undefined;
  try {
    const ui = pageUi();
    const result = await runBenchmark(opts, ui);
    ui.finish(result);
    window.__cnnResult = result;
    document.title = 'done';
  } catch (err) {
    reportError(err);
  } finally {
    button.disabled = false;
  }
}

// Building blocks for tests/browser/models.mjs (page.evaluate) and the console.
window.cnn = {
  MAX_DIFF, fileOf, loadZeroskip, loadOrt, fetchBytes, parseNpy, npyRow, createZeroskip, createOrt,
  planSummary, maxAbsDiff, argmax,
};

function main() {
  const params = readParams();
  $('isa').value = params.isa;
  $('mode').value = params.mode;
  $('run').addEventListener('click', () => {
    const opts = { isa: $('isa').value, mode: $('mode').value };
    if (zsIsa && zsIsa !== opts.isa) {
      location.search = `?isa=${opts.isa}&mode=${opts.mode}&autorun=1`; // one build per page
      return;
    }
    start(opts);
  });
  window.addEventListener('unhandledrejection', (e) => reportError(e.reason));
  if (params.autorun) start(params);
}

main();
