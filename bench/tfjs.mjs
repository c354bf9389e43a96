#!/usr/bin/env node
// TF.js graph-model benchmark driver: serves www/, runs tfjs.html for each build in headless
// Chromium (one browser session, one build after the other; TF.js's wasm backend runs inside each
// page on the same model.json and shards), prints rows and ratios, and writes one tfjs.json
// (BENCH_FORMAT.md): rows with model = handlandmark, variant = the model's own name
// (handlandmark-sparse, -full, -lite), engine = zeroskip-simd128 | zeroskip-relaxed |
// zeroskip-dense-plan | tfjs-wasm-1t; top-level `ratios` (per model, median ratios of each pair
// measured in the same page, e.g. "tfjs-wasm-1t/zeroskip-simd128") and `ratio_medians` (over models).
//
//   node bench/tfjs.mjs [--isa simd128,relaxed] [--quick] [--tfjs-only] [--out bench/results/tfjs.json]
//
// --tfjs-only times TF.js alone (one page; no zeroskip build needed). A benchmark is not a test: it
// exits non-zero only when a page errored or the correctness guard (every output of zeroskip vs
// TF.js, and TF.js in the browser vs the stored Node reference, within the stated tolerance) failed.

import path from 'node:path';
import {
  linkTfjsModels, linkTfjsRuntime, machineDescription, runTfjsPage, textTable,
  writeJson, exitWith, combinedHeader, REPO, parseBenchArgs, isNum, num, times, timingColumns, runEachBuild,
} from './lib.mjs';

const MODELS = ['handlandmark-sparse', 'handlandmark-full', 'handlandmark-lite'];
const TIMEOUT_MS = 20 * 60 * 1000;

function parseArgs(argv) {
  const opts = parseBenchArgs(argv, {
    usage: 'usage: node bench/tfjs.mjs [--isa simd128,relaxed] [--quick] [--tfjs-only] [--out FILE]',
    defaults: { engines: 'all', out: path.join(REPO, 'bench/results/tfjs.json') },
    flags: { '--tfjs-only': (o) => { o.engines = 'tfjs'; } },
  });
  if (opts.engines === 'tfjs') opts.isas = opts.isas.slice(0, 1); // TF.js does not depend on the build
  return opts;
}

// ---- printing ---------------------------------------------------------------------------------


const ROW_COLUMNS = [
  ...timingColumns(1, 2),
  ['1x1/FC sp/dn', (r) => (r.sparse_layers === null ? '' : `${r.sparse_layers}/${r.dense_layers}`), 'r'],
  ['max|d| per output', (r) => r.outputs_vs.map((c) => (c.error ? 'LAYOUT' : c.max_abs_diff.toExponential(1))).join(' '), 'r'],
  ['vs', (r) => (r.engine === 'tfjs-wasm-1t' ? 'ref' : 'tfjs')],
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
  const { results, ok } = await runEachBuild(
    opts.isas,
    (url, version) => `TF.js benchmark (${opts.mode}${opts.engines === 'tfjs' ? ', TF.js only' : ''}) at ${url}, Chromium ${version}`,
    {
      page: 'tfjs.html', mode: opts.mode, timeoutMs: TIMEOUT_MS, format: formatRun,
      runPage: (b, u, o) => runTfjsPage(b, u, { ...o, engines: opts.engines }),
      failuresOf: (r) => r.guard_failures,
    },
  );
  if (results.length) {
    const data = combine(results, machineDescription());
    writeJson(opts.out, data);
    const lines = Object.entries(data.ratios).flatMap(([m, rs]) => Object.entries(rs).map(([k, v]) => `  ${m}: ${k} ${times(v)}`));
    if (lines.length) console.log(`\nmedian ratios (same page, same input):\n${lines.join('\n')}`);
  }
  if (!ok) console.error('TF.js benchmark FAILED: a page errored or the correctness guard failed');
  return ok ? 0 : 1;
}

exitWith(main);
