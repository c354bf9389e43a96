// zeroskip CNN benchmark: whole models end to end, zeroskip vs onnxruntime-web, same ONNX bytes.
//
//   cnn.html?isa=simd128|relaxed&mode=full|quick[&threads=1|2]&autorun=1
//
// threads=N (issue 14): MobileNetV2 dense and s85 only, every engine on N threads: zeroskip's
// threaded build (a pool of 2, setThreads(N)) for both zeroskip engines, ort-wasm-<N>t
// (numThreads N) and a fourth engine, tfjs-wasm-<N>t: TF.js 4.22's wasm backend running the same
// ONNX file (onnx_tfjs.js: BN folded, conv + ReLU6 fused, as TF.js's converter emits), its
// thread cap lifted for N > hardwareConcurrency / 2 (util.js liftTfjsThreadCap). Rows carry
// `threads`; bench/cnn.mjs loads the page once per N and builds the 2t/1t and 2t-vs-peer ratios.
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

import { maxAbsDiff, argmax } from './zeroskip/index.js';
import { loadOrt as loadOrtBundle, createOrtEngine } from './zeroskip/bench/ort.js';
import { firstRuns, timeInterleaved, pairedRatio } from './zeroskip/bench/timing.js';
import { settleBetweenEngines, pageThreads, withThreads, setOrtThreads, loadTfjsOnThreads } from './util.js';
import { createOnnxTfjsEngine } from './onnx_tfjs.js';
import { $, isNum, fmt, ratio, yieldToPage, el, median, rowStats, fetchBytes, parseNpy, npyRow, planSummary, tableRow, latencyChart, environment, reportPageError, runPageBenchmark, showDone, readPageParams, latencyPageUi, appendGuardNotes, loadPageBuild, pageBuild, timingColumns, zeroskipEngine, mountBenchPage, SECTIONS, ISA_CONTROL } from './util.js';

// ---- protocol ---------------------------------------------------------------------------------

const MODELS = ['mobilenet_v1', 'mobilenet_v2', 'efficientnet_lite0'];
const VARIANTS = ['dense', 'p50', 's70', 's80', 's85', 's90', 's90b4'];
const PROTOCOLS = {
  full: { plan: MODELS.map((m) => [m, VARIANTS]), warmup: 5, runs: 30 },
  quick: { plan: [['mobilenet_v2', ['dense', 's90']]], warmup: 3, runs: 10 },
};
// A threads=N page: the issue-14 pair, at full mode's rounds (quick: quick's).
const THREAD_PLAN = [['mobilenet_v2', ['dense', 's85']]];
const THREADS = pageThreads(); // null: no threads parameter, the single-thread page as before
const ORT = withThreads('ort-wasm-1t', THREADS);
const TFJS = THREADS === null ? null : withThreads('tfjs-wasm-1t', THREADS);
const DENSE_PLAN = 'zeroskip-dense-plan';
const zsName = (isa) => `zeroskip-${isa}`;
// zeroskip vs onnxruntime-web (wasm) logits on image 0, max |Δ|, ~3× the worst measured in full
// mode over the 3 models and every variant, both builds: 2.5e-5 dense (MobileNetV1, relaxed;
// MobileNetV2 1.7e-5, EfficientNet-Lite0 7.6e-6), 2.8e-5 pruned (MobileNetV1 p50, SIMD128). Over it:
// a guard failure on a dense variant, a warning on a pruned one.
const MAX_DIFF = 8e-5;

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
    `verify/<model>_inputs.npy; ort: wasm EP, numThreads ${THREADS ?? 1}, proxy off, graphOptimizationLevel all; ` +
    `guard: dense variant zeroskip vs ort max |Δlogit| ≤ ${MAX_DIFF} and equal top-1; main thread` +
    (THREADS === null ? '' : `; threads ${THREADS}: zeroskip's threaded build (pool of 2) with setThreads(${THREADS}); ` +
      (THREADS > 1 ? 'a 40 ms pause and one untimed run of the same engine before every timed run (util.js settleBetweenEngines: spinning pool workers of the engine before, sleeping ones of this engine); ' : '') +
      `a 4th engine ${TFJS}: TF.js wasm backend (${THREADS > 1 ? `threaded-simd binary, setThreadsCount(${THREADS}), its ` +
      'hardwareConcurrency/2 cap lifted by shadowing navigator.hardwareConcurrency while the backend initialises' : 'SIMD binary, 1 thread'}) ` +
      'on the same ONNX bytes (BN folded, conv+ReLU6 fused, NHWC; input transposed outside the timing), ' +
      'top-1 and max |Δlogit| vs ort recorded, not guarded');
}

const fileOf = (model, variant) => `models/${variant === 'dense' ? model : `${model}_${variant}`}.onnx`;

// ---- engines ----------------------------------------------------------------------------------

let ortModule = null;

/** Imports and instantiates the one zeroskip build this page times (util.js: once per page). */
const loadZeroskip = (isa) => loadPageBuild(isa, { threads: THREADS });
let tfjsInfo = null;

/** onnxruntime-web's wasm-only ESM bundle, served from vendor/ort (no network), one thread. */
async function loadOrt() {
  // the package's loadOrt pins numThreads 1; a threads=N page sets N before the first session
  ortModule = setOrtThreads(await loadOrtBundle('vendor/ort/ort.wasm.min.mjs'), THREADS);
  return ortModule;
}

/** A zeroskip engine over `bytes` (util.js zeroskipEngine); `run(x)` returns the logits. */
function createZeroskip(name, label, bytes, dense) {
  const e = zeroskipEngine(name, () => pageBuild().zs.Model.fromOnnx(label, bytes, dense));
  return { ...e, inputShape: Array.from(e.model.inputShape()) };
}

/** An onnxruntime-web session over `bytes` (wasm EP, 1 thread); input [1, ...shape]. */
const createOrt = (bytes, shape) => createOrtEngine(ortModule, bytes, shape, { name: ORT });

// ---- the run ----------------------------------------------------------------------------------

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
    if (TFJS) engines.push(createOnnxTfjsEngine(tfjsInfo.tf, bytes, shape, { name: TFJS }));

    // First run of each (also the logits the guard compares).
    const { outputs, first } = await firstRuns(engines, input);

    const samples = await timeInterleaved(settleBetweenEngines(engines, THREADS), input, proto, () => ui.step());

    const ortOut = outputs[ORT];
    const ortTop1 = argmax(ortOut);
    const rows = engines.map((e) => {
      const s = samples[e.name];
      const row = {
        model, variant, engine: e.name, isa, threads: THREADS ?? 1,
        build: e.plan ? (THREADS === null ? isa : `${isa}-threads`) : null, file: file.replace(/^models\//, ''), file_bytes: bytes.length,
        load_ms: e.load_ms, first_ms: first[e.name], ...rowStats(s, proto),
        top1: argmax(outputs[e.name]),
        max_abs_diff_vs_ort: e.name === ORT ? 0 : maxAbsDiff(outputs[e.name], ortOut),
        sparse_layers: e.plan?.sparse_layers ?? null,
        dense_layers: e.plan?.dense_layers ?? null,
      };
      if (e.plan) Object.assign(row, { load_ms_internal: e.load_ms_internal, kernels: e.plan.kernels, mflops: e.plan.mflops });
      row.top1_equal_ort = row.top1 === ortTop1;
      return row;
    });

    for (const row of rows.filter((r) => r.engine !== ORT && r.engine !== TFJS)) {
      const what = `${model} ${variant} ${row.engine}: max |Δlogit| vs ort ${row.max_abs_diff_vs_ort.toExponential(2)}, ` +
        `top-1 ${row.top1} vs ort ${ortTop1}`;
      const diffOk = row.max_abs_diff_vs_ort <= MAX_DIFF;
      if (variant === 'dense' && !(diffOk && row.top1_equal_ort)) state.guard_failures.push(what);
      else if (!diffOk) state.warnings.push(what);
      ui.log(`  ${what}${diffOk ? '' : '  <-- over ' + MAX_DIFF}`);
    }

    // Paired ratios: round by round, the same machine state.
    const zs = samples[zsName(isa)];
    const paired = (other) => pairedRatio(samples[other], zs);
    const pair = pairSummary(model, variant, isa, rows);
    pair.paired_ort_over_zeroskip = paired(ORT);
    pair.paired_dense_plan_over_zeroskip = paired(DENSE_PLAN);
    if (TFJS) pair.paired_tfjs_over_zeroskip = paired(TFJS);
    return { rows, pair };
  } finally {
    for (const e of engines) e.free();
  }
}

function pairSummary(model, variant, isa, rows) {
  const med = (engine) => rows.find((r) => r.model === model && r.variant === variant && r.engine === engine)?.median_ms ?? null;
  const [zs, dense, ort, tfjs] = [med(zsName(isa)), med(DENSE_PLAN), med(ORT), TFJS ? med(TFJS) : null];
  return {
    model, variant, isa, threads: THREADS ?? 1,
    zeroskip_median_ms: zs, dense_plan_median_ms: dense, ort_median_ms: ort,
    ...(TFJS ? { tfjs_median_ms: tfjs, tfjs_over_zeroskip: ratio(tfjs, zs) } : {}),
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
  if (TFJS) tfjsInfo = await loadTfjsOnThreads('vendor/tfjs/', { threads: THREADS });
  const plan = THREADS === null ? proto.plan : THREAD_PLAN;

  const total = plan.reduce((n, [, vs]) => n + vs.length, 0) * (proto.warmup + proto.runs);
  ui.start(total);
  const state = { guard_failures: [], warnings: [] };
  const rows = [];
  const pairs = [];
  let ort_init_ms = null;
  ui.log(`zeroskip ${isa} build, onnxruntime-web ${ort.env.versions?.web ?? '?'}, ${mode} mode`);
  for (const [model, variants] of plan) {
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
    threads: THREADS ?? 1,
    zeroskip_build: THREADS === null ? isa : `${isa}-threads`,
    ort_threads: ort.env.wasm.numThreads,
    ...(tfjsInfo ? { tfjs_version: tfjsInfo.version, tfjs_binary: tfjsInfo.binary, tfjs_threads: tfjsInfo.threads, tfjs_thread_cap: tfjsInfo.thread_cap } : {}),
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

const ENGINE_COLORS = { [ORT]: '#9aa5b1', ...(TFJS ? { [TFJS]: '#76b7b2' } : {}), [DENSE_PLAN]: '#4e79a7', 'zeroskip-simd128': '#e15759', 'zeroskip-relaxed': '#f28e2b' };
const passLabel = (pass) => (pass === null ? ['n/a', 'muted'] : pass ? ['PASS', 'pass'] : ['FAIL', 'fail']);

const ROW_COLUMNS = [
  ['model', (r) => r.model],
  ['variant', (r) => r.variant],
  ['engine', (r) => r.engine],
  ...timingColumns(1, 2),
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
  appendGuardNotes(box, result);
}

function pageUi() {
  return {
    ...latencyPageUi(renderRowsTable, (rows) => latencyChart(rows, ENGINE_COLORS)),
    variant(vrows, rows, pair) {
      renderRowsTable(rows);
      $('chart').innerHTML = latencyChart(rows, ENGINE_COLORS);
      for (const r of vrows) {
        this.log(`  ${r.engine}: load ${fmt(r.load_ms, 1)} ms, first ${fmt(r.first_ms, 1)} ms, median ${fmt(r.median_ms, 2)} ms ` +
          `(min ${fmt(r.min_ms, 2)}, max ${fmt(r.max_ms, 2)}, ${r.runs} runs)` +
          (r.sparse_layers === null ? '' : `, 1x1/FC sparse ${r.sparse_layers} / dense ${r.dense_layers}`));
      }
      this.log(`  ort / zeroskip ${fmt(pair.ort_over_zeroskip, 2)}×, dense plan / zeroskip ${fmt(pair.dense_plan_over_zeroskip, 2)}×`);
    },
    finish(result) {
      renderRowsTable(result.rows);
      $('chart').innerHTML = latencyChart(result.rows, ENGINE_COLORS);
      renderSummary(result);
      showDone(result);
    },
  };
}

const readParams = () => readPageParams();

const reportError = (err) => reportPageError('cnn', err);

async function start(opts) {
  await runPageBenchmark('cnn', `${opts.isa} ${opts.mode}`, pageUi, (ui) => runBenchmark(opts, ui));
}

// Building blocks for tests/browser/models.mjs (page.evaluate) and the console.
window.cnn = {
  MAX_DIFF, fileOf, loadZeroskip, loadOrt, fetchBytes, parseNpy, npyRow, createZeroskip, createOrt,
  planSummary, maxAbsDiff, argmax,
};

function main() {
  mountBenchPage({
    title: 'CNN benchmark',
    controls: [ISA_CONTROL, ['mode', 'mode', [['full', 'full (3 models × 6 variants, 30 runs)'], ['quick', 'quick (MobileNetV2 dense + s90, 10 runs)']]]],
    sections: [SECTIONS.chart, SECTIONS.summary, SECTIONS.rows, SECTIONS.log],
  });
  const params = readParams();
  $('isa').value = params.isa;
  $('mode').value = params.mode;
  $('run').addEventListener('click', () => {
    const opts = { isa: $('isa').value, mode: $('mode').value };
    if (pageBuild() && pageBuild().isa !== opts.isa) {
      location.search = `?isa=${opts.isa}&mode=${opts.mode}&autorun=1`; // one build per page
      return;
    }
    start(opts);
  });
  window.addEventListener('unhandledrejection', (e) => reportError(e.reason));
  if (params.autorun) start(params);
}

main();
