#!/usr/bin/env node
// TF.js graph-model benchmark driver: serves www/, runs tfjs.html for each build in headless
// Chromium (one browser session, one build after the other; TF.js's wasm backend runs inside each
// page on the same model.json and shards), prints rows and ratios, and writes one tfjs.json
// (BENCH_FORMAT.md): rows with model = handlandmark, variant = the model's own name
// (handlandmark-sparse, -full, -lite), engine = zeroskip-simd128 | zeroskip-relaxed |
// zeroskip-dense-plan | tfjs-wasm-1t; top-level `ratios` (per model, median ratios of each pair
// measured in the same page, e.g. "tfjs-wasm-1t/zeroskip-simd128") and `ratio_medians` (over models).
//
//   node bench/tfjs.mjs [--isa simd128,relaxed] [--quick] [--tfjs-only] [--threads auto|none|1,2]
//                       [--threads-only] [--out bench/results/tfjs.json]
//
// Threads (issue 14): after the single-thread pages, each build's tfjs.html?threads=N for N = 1, 2
// (handlandmark-sparse and -full; zeroskip's threaded build set to N threads, TF.js tfjs-wasm-Nt:
// on 2 threads its threaded-simd binary with the pool cap of hardwareConcurrency / 2 lifted, see
// www/util.js liftTfjsThreadCap; one page load per N), written under `threads` in tfjs.json: rows
// (with `threads`), `scaling` (1t ms / 2t ms per engine, by median and by min), `ratios` (on 2 threads, TF.js and the
// dense plan over zeroskip), `acceptance` (printed, never failing the run), `unmeasured` (4 and
// 8 threads on a 2-core machine), `load_average`, `tfjs` (binary, pool size and how the cap was
// lifted, per page). --threads auto (default) runs it when www/pkg/<isa>-threads exist.
//
// --tfjs-only times TF.js alone (one page; no zeroskip build needed). A benchmark is not a test: it
// exits non-zero only when a page errored or the correctness guard (every output of zeroskip vs
// TF.js, and TF.js in the browser vs the stored Node reference, within the stated tolerance) failed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  imageThreadsSection,
  threadCounts, threadScaling, acceptanceLine, acceptanceLines, engineFamily,
  linkTfjsModels, linkTfjsRuntime, machineDescription, runTfjsPage, textTable,
  writeJson, exitWith, combinedHeader, REPO, parseBenchArgs, isNum, num, times, timingColumns, runEachBuild,
} from './lib.mjs';

const MODELS = ['handlandmark-sparse', 'handlandmark-full', 'handlandmark-lite'];
const TIMEOUT_MS = 20 * 60 * 1000;

function parseArgs(argv) {
  const opts = parseBenchArgs(argv, {
    usage: 'usage: node bench/tfjs.mjs [--isa simd128,relaxed] [--quick] [--tfjs-only] [--threads auto|none|1,2] [--threads-only] [--out FILE]',
    defaults: { engines: 'all', out: path.join(REPO, 'bench/results/tfjs.json'), threads: 'auto', single: true },
    flags: { '--tfjs-only': (o) => { o.engines = 'tfjs'; }, '--threads-only': (o) => { o.single = false; } },
    options: { '--threads': (o, v) => { o.threads = v; } },
  });
  if (opts.engines === 'tfjs') opts.isas = opts.isas.slice(0, 1); // TF.js does not depend on the build
  return opts;
}

// ---- printing ---------------------------------------------------------------------------------


const ROW_COLUMNS = [
  ...timingColumns(1, 2),
  ['1x1/FC sp/dn', (r) => (r.sparse_layers === null ? '' : `${r.sparse_layers}/${r.dense_layers}`), 'r'],
  ['max|d| per output', (r) => r.outputs_vs.map((c) => (c.error ? 'LAYOUT' : c.max_abs_diff.toExponential(1))).join(' '), 'r'],
  ['vs', (r) => (r.engine.startsWith('tfjs-wasm') ? 'ref' : 'tfjs')],
  ['ok', (r) => (r.within_tolerance ? 'ok' : 'FAIL')],
];

function pairTable(summary) {
  const keys = Object.keys(summary.ratio_medians);
  const engines = [...new Set(summary.pairs.flatMap((p) => Object.keys(p.median_ms)))];
  return textTable(
    [
      ['model', (p) => p.variant],
      ...engines.map((e) => [`${e} ms`, (p) => num(p.median_ms[e], 2), 'r']),
      ...keys.map((k) => [k, (p) => times(p.ratios[k]), 'r']),
      ...keys.map((k) => [`paired ${k}`, (p) => times(p.paired[k]), 'r']),
    ],
    summary.pairs,
  );
}

function formatRun(result) {
  return [
    `== ${result.engines === 'all' ? `${result.isa} build` : 'TF.js only'}, ${result.mode} mode, TF.js ${result.tfjs_version} ` +
      `(${result.tfjs_binary}, ${result.tfjs_threads} thread), ${num(result.elapsed_s, 0)} s ==`,
    `TF.js init ${num(result.tfjs_init_ms, 0)} ms` +
      (isNum(result.zeroskip_init_ms) ? `; zeroskip init ${num(result.zeroskip_init_ms, 0)} ms` : ''),
    `tolerance ${result.tolerance.rule}`,
    '',
    textTable(ROW_COLUMNS, result.rows),
    '',
    pairTable(result.summary),
    ...result.guard_failures.map((g) => `CORRECTNESS GUARD FAILED: ${g}`),
  ].join('\n');
}

// ---- threads ----------------------------------------------------------------------------------

const THREAD_ROW_COLUMNS = [...timingColumns(1, 2).slice(0, 3), ['threads', (r) => r.threads, 'r'], ...timingColumns(1, 2).slice(3),
  ['ok', (r) => (r.within_tolerance ? 'ok' : 'FAIL')]];

/** The threads section (bench/cnn.mjs's shape): rows, 2t/1t scaling, 2t ratios, acceptance, unmeasured. */
function combineThreads(results, load) {
  const rows = results.flatMap((r) => r.rows);
  const ms = (isa, variant, engine, t, key = 'median_ms') =>
    rows.find((r) => r.isa === isa && r.variant === variant && engineFamily(r.engine) === engine && r.threads === t)?.[key] ?? null;
  const scalingOf = (value) => threadScaling(rows, { keyOf: (r) => ({ model: r.model, variant: r.variant }), value, faster: (a, b) => a / b });
  // the fastest runs' ratio beside the medians': on a shared 2-core machine another process
  // descheduling one of two threads stalls the whole job, which the median shows and the min less
  const byMin = scalingOf((r) => r.min_ms);
  const scaling = scalingOf((r) => r.median_ms).map((x, i) => ({ ...x, min_one: byMin[i].one, min_many: byMin[i].many, scaling_min: byMin[i].scaling }));
  const isas = [...new Set(results.map((r) => r.isa))];
  const variants = [...new Set(rows.map((r) => r.variant))];
  const ratios = isas.flatMap((isa) => variants.map((variant) => {
    const zs = ms(isa, variant, `zeroskip-${isa}`, 2);
    const over = (e) => { const x = ms(isa, variant, e, 2); return isNum(x) && isNum(zs) ? x / zs : null; };
    return { isa, variant, threads: 2, zeroskip_ms: zs, 'tfjs-wasm-2t/zeroskip': over('tfjs-wasm'), 'dense-plan-2t/zeroskip': over('zeroskip-dense-plan') };
  }));
  const scale = (isa, variant, key = 'scaling') => scaling.find((x) => x.isa === isa && x.variant === variant && x.engine === `zeroskip-${isa}`)?.[key];
  const vsTfjsMin = (isa, variant) => {
    const [t, z] = [ms(isa, variant, 'tfjs-wasm', 2, 'min_ms'), ms(isa, variant, `zeroskip-${isa}`, 2, 'min_ms')];
    return isNum(t) && isNum(z) ? t / z : null;
  };
  const acceptance = isas.flatMap((isa) => [
    acceptanceLine(`${isa}: handlandmark-sparse zeroskip 2t/1t speedup`, scale(isa, 'handlandmark-sparse'), 1.5, true,
      scale(isa, 'handlandmark-sparse', 'scaling_min')),
    acceptanceLine(`${isa}: handlandmark-sparse, 2t: TF.js ms / zeroskip ms`,
      ratios.find((r) => r.isa === isa && r.variant === 'handlandmark-sparse')?.['tfjs-wasm-2t/zeroskip'], 3, true, vsTfjsMin(isa, 'handlandmark-sparse')),
  ].map((a) => ({ ...a, isa })));
  return imageThreadsSection({ results, rows, load, scaling, ratios, acceptance });
}

function formatThreads(t) {
  return [
    `== threads: ${t.counts.join(', ')} (builds ${Object.values(t.builds).join(', ')}), load average before ${t.load_average.before.map((v) => v.toFixed(2)).join(' ')}, ` +
      `after ${t.load_average.after.map((v) => v.toFixed(2)).join(' ')} ==`,
    ...t.tfjs.map((q) => `TF.js ${q.threads}t (${q.isa} page): ${q.binary}, pool ${q.pool}${q.thread_cap ? `; ${q.thread_cap}` : ''}`),
    ...(t.load_note ? [`WARNING: ${t.load_note}`] : []),
    '',
    textTable(THREAD_ROW_COLUMNS, t.rows),
    ...t.unmeasured.map((u) => `${u.variant} ${u.engine} (${u.isa} page) ${u.threads} threads: ${u.status}`),
    '',
    textTable([
      ['model', (x) => x.variant], ['engine', (x) => x.engine], ['page', (x) => x.isa],
      ['1t ms', (x) => num(x.one, 2), 'r'], ['2t ms', (x) => num(x.many, 2), 'r'], ['2t/1t speedup', (x) => times(x.scaling), 'r'],
      ['1t min', (x) => num(x.min_one, 2), 'r'], ['2t min', (x) => num(x.min_many, 2), 'r'], ['2t/1t by min', (x) => times(x.scaling_min), 'r'],
    ], t.scaling),
    '',
    textTable([
      ['2 threads', (r) => r.variant], ['build', (r) => r.isa], ['zeroskip ms', (r) => num(r.zeroskip_ms, 2), 'r'],
      ['tfjs/zs', (r) => times(r['tfjs-wasm-2t/zeroskip']), 'r'], ['dense plan/zs', (r) => times(r['dense-plan-2t/zeroskip']), 'r'],
    ], t.ratios),
    '',
    acceptanceLines('acceptance, issue 14 (informational: never fails the run)', t.acceptance),
    ...t.guard_failures.map((g) => `CORRECTNESS GUARD FAILED: ${g}`),
  ].join('\n');
}

// ---- run --------------------------------------------------------------------------------------

/**
 * One file: header, every build's rows, and `ratios` per model: every pair measured in a page
 * (TF.js and the dense plan over that page's zeroskip build), plus their medians over models.
 */
function combine(results, machine) {
  const ratios = {};
  const paired = {};
  for (const r of results) {
    for (const [model, rs] of Object.entries(r.summary.ratios)) Object.assign((ratios[model] ??= {}), rs);
    for (const [model, rs] of Object.entries(r.summary.paired_ratios)) Object.assign((paired[model] ??= {}), rs);
  }
  const ratio_medians = Object.assign({}, ...results.map((r) => r.summary.ratio_medians));
  return {
    ...combinedHeader(machine, results, ['browser', 'date', 'mode', 'engines', 'protocol', 'tfjs_version', 'tfjs_binary', 'tfjs_threads', 'tolerance']),
    ratios,
    ratio_medians,
    paired_ratios: paired,
    guard_failures: results.flatMap((r) => r.guard_failures.map((g) => `${r.isa}: ${g}`)),
    rows: results.flatMap((r) => r.rows),
    runs: Object.fromEntries(results.map(({ rows, ...rest }) => [rest.isa, { ...rest, browser_machine: rest.machine, machine }])),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  linkTfjsRuntime(REPO);
  const have = linkTfjsModels(REPO);
  const missing = MODELS.filter((m) => !have.includes(m));
  if (missing.length) throw new Error(`no ${missing.join(', ')} in .cache/zoo/tfjs: run make zoo (tools/zoo/tfjs.sh) first`);
  const t0 = Date.now();
  const threads = threadCounts(opts.threads, { isas: opts.isas, needsBuild: opts.engines === 'all' });
  if (opts.threads === 'auto' && !threads.length) console.log('no threaded builds in www/pkg (make wasm): the threads pass is skipped');
  const { results, ok } = !opts.single ? { results: [], ok: true } : await runEachBuild(
    opts.isas,
    (url, version) => `TF.js benchmark (${opts.mode}${opts.engines === 'tfjs' ? ', TF.js only' : ''}) at ${url}, Chromium ${version}`,
    {
      page: 'tfjs.html', mode: opts.mode, timeoutMs: TIMEOUT_MS, format: formatRun,
      runPage: (b, u, o) => runTfjsPage(b, u, { ...o, engines: opts.engines }),
      failuresOf: (r) => r.guard_failures,
    },
  );
  let thr = null;
  let thrOk = true;
  if (threads.length) {
    const before = os.loadavg();
    const run = await runEachBuild(
      opts.isas,
      (url, version) => `TF.js benchmark, threads ${threads.join(',')} (${opts.mode}) at ${url}, Chromium ${version}`,
      {
        page: 'tfjs.html', mode: opts.mode, timeoutMs: TIMEOUT_MS, format: formatRun,
        runPage: (b, u, o) => runTfjsPage(b, u, { ...o, engines: opts.engines }),
        failuresOf: (r) => r.guard_failures,
      },
      threads,
    );
    thrOk = run.ok;
    if (run.results.length) thr = combineThreads(run.results, { before, after: os.loadavg() });
  }
  if (!results.length && thr) {
    // --threads-only: the file's single-thread part stays from its last full run
    const data = fs.existsSync(opts.out) ? JSON.parse(fs.readFileSync(opts.out, 'utf8')) : { machine: machineDescription() };
    writeJson(opts.out, { ...data, threads: thr });
  }
  if (results.length) {
    const data = combine(results, machineDescription());
    if (thr) data.threads = thr;
    writeJson(opts.out, data);
    const lines = Object.entries(data.ratios).flatMap(([m, rs]) => Object.entries(rs).map(([k, v]) => `  ${m}: ${k} ${times(v)}`));
    if (lines.length) console.log(`\nmedian ratios (same page, same input):\n${lines.join('\n')}`);
  }
  if (thr) console.log(`\n${formatThreads(thr)}`);
  console.log(`\ntfjs.mjs: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (!(ok && thrOk)) console.error('TF.js benchmark FAILED: a page errored or the correctness guard failed');
  return ok && thrOk ? 0 : 1;
}

exitWith(main);
