// zeroskip vs TensorFlow.js on TF.js graph models: the same model.json and weight shards.
//
//   tfjs.html?isa=simd128|relaxed&mode=full|quick&engines=all|tfjs&autorun=1
//     [&models=a,b]           other models from models/tfjs (default: the mode's hand-landmark set)
//     [&threads=1|2]          issue 14: the threaded zeroskip build set to that many threads and
//                             TF.js on that many (2+: threaded-simd binary, pool cap lifted, see
//                             util.js liftTfjsThreadCap); engine tfjs-wasm-<n>t, rows carry threads;
//                             the models: handlandmark-sparse and -full (PROTOCOLS.threads)
//     [&tfjsWasm=simd|auto]   TF.js wasm binary: simd (default) = tfjs-backend-wasm-simd.wasm, no
//                             threads; auto = what TF.js picks itself (threaded-simd when the page
//                             is cross-origin isolated, still setThreadsCount(1))
//
// Per model it fetches models/tfjs/<name>.json and the shards its manifest names once (not timed)
// and hands the same bytes to three engines:
//   zeroskip-<isa>       Model.fromTfjs(name, json, shards, dense = false): our plan
//   zeroskip-dense-plan  Model.fromTfjs(..., dense = true): every 1x1/FC layer on dense kernels
//   tfjs-wasm-1t         TF.js 4.22, wasm backend (XNNPACK), setThreadsCount(1), model.execute()
// and times them interleaved (one run each per round, start engine rotating) on row 0 of
// models/tfjs/verify/<name>_inputs.npy (a real photo, NHWC in [0, 1]). engines=tfjs times TF.js
// alone (no zeroskip build needed).
//
// Correctness, every model: each zeroskip output against TF.js's on the same input, and TF.js in
// this page against the stored Node reference (<name>_outputs.npy, row 0). Both engines compute
// in fp32 from the same fp16-decoded weights, so they differ only by summation order (and fused
// multiply-adds in the relaxed build). Tolerance per output, for the hand models: MEASURED_TOL,
// ~3× the worst error measured over the 4 verify inputs, both builds and both plans (written beside
// each bound): landmarks on |Δ| in pixels, the two sigmoid flags on their logits. An absolute bound
// on a probability cannot serve: handlandmark-sparse's hand flag is ~1.9e-5 on every photo (none has
// a hand), so the old 1e-3 could never fail on it; as a logit (≈ -10.9) it carries the engines'
// error like any other value (measured 1.9e-6). Any other model (&models=) falls back to the loose,
// unmeasured rule |Δ| ≤ TOL_ABS + TOL_REL × scale, scale = max |value| of that output in the
// reference: a sanity guard against a wrong pad, layout or op, not a measured accuracy claim (the
// tests check only the measured models). TF.js's own wasm and cpu backends differ by about as much
// as we do (≤ 1.8e-4 px; tools/zoo/tfjs_ref.mjs records it in <name>_outputs.json).
//
// When done it leaves the result in window.__tfjsResult (rows per BENCH_FORMAT.md `tfjs.json`)
// and sets document.title = 'done' ('error' and window.__tfjsError when the page itself failed).
// A failed correctness guard does not stop the run: it is listed in result.guard_failures and
// bench/tfjs.mjs fails on it. window.tfjsBench exposes the building blocks (tests/browser/tfjs.mjs).

import { maxAbsDiff } from './zeroskip/index.js';
import { loadTfjs as loadTfjsBackend, createTfjsEngine } from './zeroskip/bench/tfjs.js';
import { firstRuns, timeInterleaved, pairedRatio } from './zeroskip/bench/timing.js';
import { settleBetweenEngines, pageThreads, withThreads, loadTfjsOnThreads } from './util.js';
import { $, isNum, fmt, ratio, yieldToPage, el, median, rowStats, fetchBytes, parseNpy, npyRow, planSummary, tableRow, latencyChart, environment, reportPageError, runPageBenchmark, showDone, readPageParams, latencyPageUi, loadPageBuild, pageBuild, timingColumns, zeroskipEngine, mountBenchPage, SECTIONS, ISA_CONTROL } from './util.js';

// ---- protocol ---------------------------------------------------------------------------------

const HAND_MODELS = ['handlandmark-sparse', 'handlandmark-full', 'handlandmark-lite'];
const PROTOCOLS = {
  full: { models: HAND_MODELS, warmup: 5, runs: 30 },
  quick: { models: ['handlandmark-sparse', 'handlandmark-full'], warmup: 2, runs: 5 },
};
// A threads=N page times the issue-14 pair at full mode's rounds (quick: quick's).
const THREAD_MODELS = ['handlandmark-sparse', 'handlandmark-full'];
const ISAS = ['simd128', 'relaxed'];
const ENGINE_SETS = ['all', 'tfjs'];
const THREADS = pageThreads(); // null: no threads parameter, the single-thread page as before
const TFJS = withThreads('tfjs-wasm-1t', THREADS);
const DENSE_PLAN = 'zeroskip-dense-plan';
const zsName = (isa) => `zeroskip-${isa}`;
const DIR = 'models/tfjs';

/**
 * Max |zeroskip - TF.js| per model output: ~3× the worst measured (4 verify inputs, simd128 and
 * relaxed, our plan and the dense plan; tests/browser/tfjs.mjs prints the measured values).
 * Landmarks are pixels on the 224×224 input, Identity_3:0 world landmarks (metres). Identity_1:0
 * (hand flag) and Identity_2:0 (handedness) are sigmoids, {logit: bound}: compared as logits,
 * ln(p / (1 - p)), so that a flag near 0 or 1 is held to the same relative precision as one near
 * 0.5 (on |Δp| the bound would be set by the least saturated photo and loose on the others).
 */
const MEASURED_TOL = {
  'handlandmark-sparse': {
    'Identity:0': 2e-4, //   measured 6.1e-5 simd128, 6.1e-5 relaxed (scale 202 px)
    'Identity_1:0': { logit: 6e-6 }, // measured 1.9e-6 simd128, 1.9e-6 relaxed (p ≈ 1.9e-5)
    'Identity_2:0': { logit: 6e-6 }, // measured 1.9e-6 simd128, 1.0e-6 relaxed
  },
  'handlandmark-full': {
    'Identity:0': 5e-4, //   measured 1.5e-4 simd128, 1.2e-4 relaxed (scale 194 px)
    'Identity_1:0': { logit: 4e-5 }, // measured 1.2e-5 simd128, 8.7e-6 relaxed
    'Identity_2:0': { logit: 4e-5 }, // measured 9.6e-6 simd128, 1.1e-5 relaxed
    'Identity_3:0': 1.5e-6, // measured 4.0e-7 simd128, 3.9e-7 relaxed
  },
  'handlandmark-lite': {
    'Identity:0': 6e-4, //   measured 1.8e-4 simd128, 2.3e-4 relaxed (scale 170 px)
    'Identity_1:0': { logit: 5e-5 }, // measured 6.2e-6 simd128, 1.5e-5 relaxed
    'Identity_2:0': { logit: 2.5e-5 }, // measured 1.0e-5 simd128, 2.8e-6 relaxed
    'Identity_3:0': 1e-6, // measured 3.1e-7 simd128, 3.2e-7 relaxed
  },
};
// The unmeasured fallback (other models): loose on purpose, see the header.
const TOL_ABS = 1e-3;
const TOL_REL = 2e-4;
/** Whether `output` of `model` is a sigmoid compared as logits (its MEASURED_TOL entry is {logit}). */
const isLogit = (model, output) => isNum(MEASURED_TOL[model]?.[output]?.logit);
/** The largest |zeroskip - TF.js| allowed for `output` of `model`, whose values reach `scale`. */
const tolerance = (model, output, scale) => {
  const t = MEASURED_TOL[model]?.[output];
  return isNum(t) ? t : (t?.logit ?? TOL_ABS + TOL_REL * scale);
};
/** max |logit(a) - logit(b)|, logit(p) = ln(p / (1 - p)); equal values count as 0 (also at p = 0 or 1). */
function maxLogitDiff(a, b) {
  const logit = (p) => Math.log(p) - Math.log1p(-p);
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length && m < Infinity; i++) {
    if (a[i] === b[i]) continue;
    const d = Math.abs(logit(a[i]) - logit(b[i]));
    m = Number.isFinite(d) ? Math.max(m, d) : Infinity;
  }
  return m;
}
const TOLERANCE_RULE = 'per output: max |Δ| ≤ the bound measured for it (www/tfjs.js MEASURED_TOL, ~3× the worst ' +
  'error over 4 photos and both builds: hand landmarks 2e-4..6e-4 px, world landmarks 1e-6..1.5e-6, sigmoid flags ' +
  'as logits 6e-6..5e-5); unmeasured models: ' +
  `${TOL_ABS} + ${TOL_REL} × scale, scale = max |value| of that output in the TF.js reference`;

/** `model` field of a row: the family (handlandmark-sparse → handlandmark); `variant` = the name. */
const familyOf = (name) => name.split('-')[0];

function describeProtocol(p, engines) {
  return `per model: fetch model.json + shards once (not timed), create the ` +
    `${engines === 'all' ? '3 engines' : 'TF.js engine'} from the same bytes (load_ms = model creation), ` +
    `1 first run each (first_ms, also the outputs compared), ${p.warmup} warm-up rounds, then ${p.runs} timed ` +
    `rounds; a round runs every engine once, starting engine rotating; input = row 0 of verify/<name>_inputs.npy; ` +
    `TF.js: wasm backend, ${THREADS > 1 ? `threaded-simd binary, setThreadsCount(${THREADS}) with its hardwareConcurrency/2 cap lifted ` +
      '(navigator.hardwareConcurrency shadowed while the backend initialises)' : 'SIMD binary, setThreadsCount(1)'}, model.execute() with every signature output, a run = input ` +
    `tensor + execute + dataSync of every output (zeroskip: Model.run, Float32Array in and out); ` +
    `guard: ${TOLERANCE_RULE}; main thread` +
    (THREADS === null ? '' : `; threads ${THREADS}: zeroskip's threaded build (pool of 2) with setThreads(${THREADS})` +
      (THREADS > 1 ? '; a 40 ms pause and one untimed run of the same engine before every timed run (util.js settleBetweenEngines: spinning pool workers of the engine before, sleeping ones of this engine)' : ''));
}

// ---- files ------------------------------------------------------------------------------------

/** The weight shard paths of a model.json, in manifest order. */
function manifestPaths(json) {
  return (json.weightsManifest ?? []).flatMap((g) => g.paths);
}

/** The signature's input tensor name and output tensor names, sorted (UTF-16 order). */
function signatureOf(name, json) {
  const sig = json.signature ?? json.userDefinedMetadata?.signature;
  const inputs = Object.values(sig?.inputs ?? {});
  const outputs = Object.values(sig?.outputs ?? {}).map((o) => o.name).sort();
  if (inputs.length !== 1 || outputs.length === 0) {
    throw new Error(`${name}.json: expected one signature input and some outputs, got ${inputs.length} / ${outputs.length}`);
  }
  return { input: inputs[0].name, outputs };
}

/** model.json (text and parsed) + its shards (manifest order), fetched once per model. */
async function loadFiles(name) {
  const jsonBytes = await fetchBytes(`${DIR}/${name}.json`);
  const jsonText = new TextDecoder().decode(jsonBytes);
  const json = JSON.parse(jsonText);
  const paths = manifestPaths(json);
  if (pageBuild()?.zs?.Model?.tfjsShardPaths) {
    const zsPaths = Array.from(pageBuild().zs.Model.tfjsShardPaths(jsonText));
    if (JSON.stringify(zsPaths) !== JSON.stringify(paths)) {
      throw new Error(`${name}.json: Model.tfjsShardPaths gives ${JSON.stringify(zsPaths)}, the manifest ${JSON.stringify(paths)}`);
    }
  }
  const shards = await Promise.all(paths.map((p) => fetchBytes(`${DIR}/${p}`)));
  const bytes = jsonBytes.length + shards.reduce((n, s) => n + s.length, 0);
  return { name, jsonText, json, paths, shards, bytes, signature: signatureOf(name, json) };
}

/** verify/<name>_inputs.npy, _outputs.npy and _outputs.json (the Node TF.js reference). */
async function loadVerify(name) {
  const [inputs, outputs, metaBytes] = await Promise.all([
    fetchBytes(`${DIR}/verify/${name}_inputs.npy`),
    fetchBytes(`${DIR}/verify/${name}_outputs.npy`),
    fetchBytes(`${DIR}/verify/${name}_outputs.json`),
  ]);
  return { inputs: parseNpy(inputs), outputs: parseNpy(outputs), meta: JSON.parse(new TextDecoder().decode(metaBytes)) };
}

/**
 * Per output of `model`'s `layout` ([{name, dims, offset, len, max_abs?}], the reference's): max
 * |got - want| (of the logits where `space` is 'logit'), its tolerance, and whether it holds.
 * `gotLayout` must list the same names and lengths (else one entry with `error`).
 */
function compareOutputs(model, layout, want, gotLayout, got) {
  const sig = (l) => l.map((o) => `${o.name}:${o.len}`).join(',');
  if (sig(layout) !== sig(gotLayout)) {
    return [{ name: '*', error: `outputs differ: expected [${sig(layout)}], got [${sig(gotLayout)}]`, ok: false }];
  }
  return layout.map((o, j) => {
    const g = got.subarray(gotLayout[j].offset, gotLayout[j].offset + o.len);
    const w = want.subarray(o.offset, o.offset + o.len);
    let scale = o.max_abs;
    if (!isNum(scale)) scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const logit = isLogit(model, o.name);
    const diff = logit ? maxLogitDiff(g, w) : maxAbsDiff(g, w);
    const tol = tolerance(model, o.name, scale);
    return { name: o.name, max_abs_diff: diff, space: logit ? 'logit' : 'value', scale, tol, ok: diff <= tol };
  });
}

// ---- engines ----------------------------------------------------------------------------------

let tfjsInfo = null;

/** Imports and instantiates the one zeroskip build this page times (util.js: once per page). */
const loadZeroskip = (isa) => loadPageBuild(isa, { threads: THREADS });

/** Whether the loaded zeroskip build has the TF.js importer (Model.fromTfjs). */
const hasTfjsImporter = () => typeof pageBuild()?.zs?.Model?.fromTfjs === 'function';

/** TF.js from vendor/tfjs on its wasm backend, once per page: one thread, or the page's `threads` (util.js). */
async function loadTfjs({ wasm = 'simd' } = {}) {
  tfjsInfo = THREADS === null ? await loadTfjsBackend('vendor/tfjs/', { wasm }) : await loadTfjsOnThreads('vendor/tfjs/', { wasm, threads: THREADS });
  return tfjsInfo;
}

/** A zeroskip engine over one model's files; `run(x)` returns every output, concatenated. */
function createZeroskip(name, label, files, dense) {
  const e = zeroskipEngine(name, () => pageBuild().zs.Model.fromTfjs(label, files.jsonText, files.shards, dense));
  return { ...e, outputs: JSON.parse(e.model.outputs()), inputDims: Array.from(e.model.inputDims()) };
}

/** A TF.js graph model over the same files (in-memory IOHandler); `run(x)` like zeroskip's. */
const createTfjs = (files, inputDims) => createTfjsEngine(tfjsInfo.tf, files, inputDims, { name: TFJS });

// ---- the run ----------------------------------------------------------------------------------

const fmtDiffs = (cmp) => cmp.map((c) => (c.error ? c.error : `${c.name} ${c.max_abs_diff.toExponential(1)}${c.space === 'logit' ? ' logit' : ''} (tol ${c.tol.toExponential(1)})`)).join(', ');

/** Creates the engines over one model's files, checks outputs, times them interleaved. */
async function measureModel(opts, name, proto, ui, state) {
  const { isa, engines: set } = opts;
  const files = await loadFiles(name);
  const verify = await loadVerify(name);
  const x = npyRow(verify.inputs, 0);
  const inputDims = [1, ...verify.inputs.shape.slice(1)];
  const refRow = npyRow(verify.outputs, 0);
  const layout = verify.meta.outputs;
  const engines = [];
  try {
    if (set === 'all') {
      engines.push(createZeroskip(zsName(isa), name, files, false));
      await yieldToPage();
      engines.push(createZeroskip(DENSE_PLAN, name, files, true));
      await yieldToPage();
      for (const e of engines) {
        if (JSON.stringify(e.inputDims) !== JSON.stringify(inputDims)) {
          state.guard_failures.push(`${name} ${e.name}: input dims ${JSON.stringify(e.inputDims)}, TF.js ${JSON.stringify(inputDims)}`);
        }
      }
    }
    engines.push(await createTfjs(files, inputDims));

    // First run of each: also the outputs the guard compares.
    const { outputs: got, first } = await firstRuns(engines, x);
    const tfjs = engines.find((e) => e.name === TFJS);
    const cmp = {};
    cmp[TFJS] = compareOutputs(name, layout, refRow, tfjs.outputs, got[TFJS]);
    for (const e of engines.filter((q) => q !== tfjs)) {
      // Against live TF.js, with the reference's scale (max_abs) for the tolerance.
      const live = tfjs.outputs.map((o, j) => ({ ...o, max_abs: layout[j]?.max_abs }));
      cmp[e.name] = compareOutputs(name, live, got[TFJS], e.outputs, got[e.name]);
    }
    for (const e of engines) {
      const what = e === tfjs ? `${name} ${e.name} (this page) vs the Node TF.js reference` : `${name} ${e.name} vs ${TFJS}`;
      const ok = cmp[e.name].every((c) => c.ok);
      if (!ok) state.guard_failures.push(`${what}: ${fmtDiffs(cmp[e.name])}`);
      ui.log(`  ${what}: max |Δ| ${fmtDiffs(cmp[e.name])}${ok ? '' : '  <-- OVER TOLERANCE'}`);
    }

    const samples = await timeInterleaved(settleBetweenEngines(engines, THREADS), x, proto, () => ui.step());

    const rows = engines.map((e) => {
      const s = samples[e.name];
      const c = cmp[e.name];
      const row = {
        model: familyOf(name), variant: name, engine: e.name, isa, threads: THREADS ?? 1,
        build: e === tfjs ? null : THREADS === null ? isa : `${isa}-threads`, file: `tfjs/${name}.json`,
        shards: files.paths, file_bytes: files.bytes,
        load_ms: e.load_ms, first_ms: first[e.name], ...rowStats(s, proto),
        compared_with: e === tfjs ? 'tfjs reference (node, row 0)' : TFJS,
        max_abs_diff: c.reduce((m, q) => Math.max(m, q.error ? Infinity : q.space === 'logit' ? 0 : q.max_abs_diff), 0), // values, not logits
        outputs_vs: c,
        within_tolerance: c.every((q) => q.ok),
        sparse_layers: e.plan?.sparse_layers ?? null,
        dense_layers: e.plan?.dense_layers ?? null,
      };
      if (e.plan) Object.assign(row, { load_ms_internal: e.load_ms_internal, kernels: e.plan.kernels, mflops: e.plan.mflops });
      if (e === tfjs) Object.assign(row, { tfjs_version: tfjsInfo.version, tfjs_binary: tfjsInfo.binary, tfjs_threads: tfjsInfo.threads });
      return row;
    });

    // Paired ratios: round by round, the same machine state.
    const pair = { model: familyOf(name), variant: name, isa, ratios: {}, paired: {}, median_ms: {} };
    for (const e of engines) pair.median_ms[e.name] = median(samples[e.name]);
    const zs = samples[zsName(isa)];
    if (zs) {
      for (const other of [TFJS, DENSE_PLAN]) {
        const key = `${other}/${zsName(isa)}`;
        pair.ratios[key] = ratio(pair.median_ms[other], pair.median_ms[zsName(isa)]);
        pair.paired[key] = pairedRatio(samples[other], zs);
      }
    }
    return { rows, pair };
  } finally {
    for (const e of engines) e.free();
  }
}

function summarize(pairs) {
  const keys = [...new Set(pairs.flatMap((p) => Object.keys(p.ratios)))];
  return {
    pairs,
    ratios: Object.fromEntries(pairs.map((p) => [p.variant, p.ratios])),
    paired_ratios: Object.fromEntries(pairs.map((p) => [p.variant, p.paired])),
    ratio_medians: Object.fromEntries(keys.map((k) => [k, median(pairs.map((p) => p.ratios[k]))])),
  };
}

async function runBenchmark(opts, ui) {
  const proto = PROTOCOLS[opts.mode];
  if (!proto) throw new Error(`unknown mode '${opts.mode}': expected ${Object.keys(PROTOCOLS).join(' or ')}`);
  if (!ISAS.includes(opts.isa)) throw new Error(`unknown isa '${opts.isa}': expected one of ${ISAS.join(', ')}`);
  if (!ENGINE_SETS.includes(opts.engines)) throw new Error(`unknown engines '${opts.engines}': expected all or tfjs`);
  const models = opts.models ?? (THREADS === null ? proto.models : THREAD_MODELS);
  const t0 = performance.now();
  let zeroskip_init_ms = null;
  if (opts.engines === 'all') {
    const t = performance.now();
    await loadZeroskip(opts.isa);
    zeroskip_init_ms = performance.now() - t;
    if (!hasTfjsImporter()) {
      throw new Error(`the ${opts.isa} zeroskip build has no Model.fromTfjs (the TF.js importer): rebuild with ` +
        'make wasm, or time TF.js alone with engines=tfjs');
    }
  }
  const tf = await loadTfjs({ wasm: opts.tfjsWasm });
  ui.start(models.length * (proto.warmup + proto.runs));
  ui.log(`${opts.engines === 'all' ? `zeroskip ${opts.isa} build, ` : ''}TF.js ${tf.version} ${tf.backend} ` +
    `(${tf.binary}, ${tf.threads} thread), ${opts.mode} mode, models ${models.join(', ')}`);
  const state = { guard_failures: [] };
  const rows = [];
  const pairs = [];
  for (const name of models) {
    ui.log(`${name} (${DIR}/${name}.json)`);
    const { rows: mr, pair } = await measureModel(opts, name, proto, ui, state);
    rows.push(...mr);
    pairs.push(pair);
    ui.model(mr, rows, pair);
  }
  return {
    ...environment(),
    isa: opts.isa,
    mode: opts.mode,
    engines: opts.engines,
    models,
    protocol: describeProtocol(proto, opts.engines),
    tfjs_version: tf.version,
    tfjs_binary: tf.binary,
    tfjs_threads: tf.threads,
    tfjs_thread_cap: tf.thread_cap ?? null,
    threads: THREADS ?? 1,
    zeroskip_build: opts.engines === 'all' ? (THREADS === null ? opts.isa : `${opts.isa}-threads`) : null,
    tfjs_init_ms: tf.init_ms,
    zeroskip_init_ms,
    tolerance: { measured: MEASURED_TOL, abs: TOL_ABS, rel: TOL_REL, rule: TOLERANCE_RULE },
    rows,
    summary: summarize(pairs),
    guard_failures: state.guard_failures,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

// ---- page -------------------------------------------------------------------------------------

const ENGINE_COLORS = { [TFJS]: '#9aa5b1', [DENSE_PLAN]: '#4e79a7', 'zeroskip-simd128': '#e15759', 'zeroskip-relaxed': '#f28e2b' };

const ROW_COLUMNS = [
  ['model', (r) => r.variant],
  ['engine', (r) => r.engine],
  ...timingColumns(1, 2),
  ['sparse/dense 1x1+FC', (r) => (r.sparse_layers === null ? '' : `${r.sparse_layers}/${r.dense_layers}`), 'num'],
  ['max |Δ| per output', (r) => r.outputs_vs.map((c) => (c.error ? 'layout!' : c.max_abs_diff.toExponential(1))).join(' '), 'num'],
  ['vs', (r) => (r.engine === TFJS ? 'reference' : 'TF.js')],
  ['ok', (r) => (r.within_tolerance ? 'yes' : 'NO'), ''],
];

function renderRowsTable(rows) {
  const table = $('rows');
  table.replaceChildren(el('thead'), el('tbody'));
  table.tHead.append(tableRow(ROW_COLUMNS.map(([h, , c]) => [h, c]), 'th'));
  for (const r of rows) {
    table.tBodies[0].append(tableRow(ROW_COLUMNS.map(([h, f, c]) => [f(r), h === 'ok' ? (r.within_tolerance ? 'pass' : 'fail') : c])));
  }
}

function renderSummary(result) {
  const s = result.summary;
  const box = $('summary');
  box.replaceChildren();
  box.append(el('p', `${result.engines === 'all' ? `${result.isa} build, ` : 'TF.js only, '}TF.js ${result.tfjs_version} ` +
    `(${result.tfjs_binary}, ${result.tfjs_threads} thread), ${result.mode} mode, ${fmt(result.elapsed_s, 0)} s; ` +
    `TF.js init ${fmt(result.tfjs_init_ms, 0)} ms` +
    (isNum(result.zeroskip_init_ms) ? `, zeroskip init ${fmt(result.zeroskip_init_ms, 0)} ms` : '')));
  const keys = Object.keys(s.ratio_medians);
  const short = (e) => e.replace(TFJS, 'TF.js').replace(DENSE_PLAN, 'dense plan').replace(/zeroskip-(simd128|relaxed)/, 'zeroskip');
  const t = el('table');
  const engines = [...new Set(s.pairs.flatMap((p) => Object.keys(p.median_ms)))];
  t.append(tableRow([['model'], ...engines.map((e) => [`${short(e)} ms`, 'num']), ...keys.map((k) => [short(k), 'num']),
    ...keys.map((k) => [`paired ${short(k)}`, 'num'])], 'th'));
  for (const p of s.pairs) {
    t.append(tableRow([[p.variant], ...engines.map((e) => [fmt(p.median_ms[e], 2), 'num']),
      ...keys.map((k) => [`${fmt(p.ratios[k], 2)}×`, 'num strong']), ...keys.map((k) => [`${fmt(p.paired[k], 2)}×`, 'num'])]));
  }
  const wrap = el('div', null, 'scroll');
  wrap.append(t);
  box.append(wrap);
  if (keys.length) box.append(el('p', `zeroskip = the ${result.isa} build with our plan; a ratio above 1× means zeroskip is faster; paired = median of the per-round ratios`, 'muted'));
  box.append(el('p', `tolerance ${result.tolerance.rule}`, 'muted'));
  for (const g of result.guard_failures) box.append(el('p', `correctness guard FAILED: ${g}`, 'fail'));
}

const chart = (rows) => latencyChart(rows, ENGINE_COLORS, (r) => r.variant);

function pageUi() {
  return {
    ...latencyPageUi(renderRowsTable, chart),
    model(mrows, rows, pair) {
      renderRowsTable(rows);
      $('chart').innerHTML = chart(rows);
      for (const r of mrows) {
        this.log(`  ${r.engine}: load ${fmt(r.load_ms, 1)} ms, first ${fmt(r.first_ms, 1)} ms, median ${fmt(r.median_ms, 2)} ms ` +
          `(min ${fmt(r.min_ms, 2)}, max ${fmt(r.max_ms, 2)}, ${r.runs} runs)` +
          (r.sparse_layers === null ? '' : `, 1x1/FC sparse ${r.sparse_layers} / dense ${r.dense_layers}`));
      }
      const ratios = Object.entries(pair.ratios).map(([k, v]) => `${k} ${fmt(v, 2)}×`).join(', ');
      if (ratios) this.log(`  ${ratios}`);
    },
    finish(result) {
      renderRowsTable(result.rows);
      $('chart').innerHTML = chart(result.rows);
      renderSummary(result);
      showDone(result);
    },
  };
}

function readParams() {
  return readPageParams((q) => ({
    engines: q.get('engines') ?? 'all',
    models: q.get('models') ? q.get('models').split(',').filter(Boolean) : null,
    tfjsWasm: q.get('tfjsWasm') ?? 'simd',
  }));
}

const reportError = (err) => reportPageError('tfjs', err);

async function start(opts) {
  await runPageBenchmark('tfjs', `${opts.isa} ${opts.mode}`, pageUi, (ui) => runBenchmark(opts, ui));
}

// Building blocks for tests/browser/tfjs.mjs (page.evaluate) and the console.
window.tfjsBench = {
  MEASURED_TOL, TOL_ABS, TOL_REL, tolerance, TFJS, DIR, loadZeroskip, hasTfjsImporter, loadTfjs, loadFiles, loadVerify,
  createZeroskip, createTfjs, compareOutputs, fetchBytes, parseNpy, npyRow, planSummary,
};

function main() {
  mountBenchPage({
    title: 'TF.js graph models',
    controls: [
      ISA_CONTROL,
      ['mode', 'mode', [['full', 'full (3 hand-landmark models, 30 runs)'], ['quick', 'quick (sparse + full, 5 runs)']]],
      ['engines', 'engines', [['all', 'zeroskip + TF.js'], ['tfjs', 'TF.js only']]],
    ],
    sections: [SECTIONS.chart, SECTIONS.summary, SECTIONS.rows, SECTIONS.log],
  });
  const params = readParams();
  $('isa').value = params.isa;
  $('mode').value = params.mode;
  $('engines').value = params.engines;
  $('run').addEventListener('click', () => {
    const opts = { ...params, isa: $('isa').value, mode: $('mode').value, engines: $('engines').value };
    if (pageBuild() && pageBuild().isa !== opts.isa) {
      // One zeroskip build per page.
      const q = new URLSearchParams({ isa: opts.isa, mode: opts.mode, engines: opts.engines, tfjsWasm: opts.tfjsWasm, autorun: '1' });
      if (opts.models) q.set('models', opts.models.join(','));
      location.search = `?${q}`;
      return;
    }
    start(opts);
  });
  window.addEventListener('unhandledrejection', (e) => reportError(e.reason));
  if (params.autorun) start(params);
}

main();
