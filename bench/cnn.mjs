#!/usr/bin/env node
// CNN benchmark driver: serves www/, runs cnn.html for each build in headless Chromium (one
// browser session, one build after the other; onnxruntime-web runs inside each page too, on the
// same files), prints rows, ratios and acceptance, and writes one cnn.json (BENCH_FORMAT.md).
//
//   node bench/cnn.mjs [--isa simd128,relaxed] [--quick] [--out bench/results/cnn.json]
//
// A benchmark is not a test: it exits 0 even when acceptance targets fail, and non-zero only
// when a page errored or the correctness guard (zeroskip vs ort logits, dense variants) failed.

import path from 'node:path';
import {
  linkOrtRuntime, linkZooModels, machineDescription, runCnnPage,
  textTable, writeJson, combinedHeader, REPO, parseBenchArgs, num, times, timingColumns, runEachBuild, exitWith,
} from './lib.mjs';

const TIMEOUT_MS = 40 * 60 * 1000;

function parseArgs(argv) {
  return parseBenchArgs(argv, {
    usage: 'usage: node bench/cnn.mjs [--isa simd128,relaxed] [--quick] [--out FILE]',
    defaults: { out: path.join(REPO, 'bench/results/cnn.json') },
  });
}

// ---- printing ---------------------------------------------------------------------------------


const ROW_COLUMNS = [
  ...timingColumns(1, 2),
  ['1x1/FC sp/dn', (r) => (r.sparse_layers === null ? '' : `${r.sparse_layers}/${r.dense_layers}`), 'r'],
  ['max|d| vs ort', (r) => (r.engine.startsWith('ort') ? '' : r.max_abs_diff_vs_ort.toExponential(1)), 'r'],
  ['top1', (r) => r.top1, 'r'],
];

const PAIR_COLUMNS = [
  ['model', (p) => p.model],
  ['variant', (p) => p.variant],
  ['zeroskip ms', (p) => num(p.zeroskip_median_ms, 2), 'r'],
  ['dense-plan ms', (p) => num(p.dense_plan_median_ms, 2), 'r'],
  ['ort ms', (p) => num(p.ort_median_ms, 2), 'r'],
  ['ort/zs', (p) => times(p.ort_over_zeroskip), 'r'],
  ['dense-plan/zs', (p) => times(p.dense_plan_over_zeroskip), 'r'],
  ['paired ort/zs', (p) => times(p.paired_ort_over_zeroskip), 'r'],
];

function acceptanceTable(acceptance) {
  return textTable(
    [
      ['acceptance (informational, simd128 build)', (a) => a.name],
      ['value', (a) => num(a.value, 2), 'r'],
      ['target', (a) => a.target, 'r'],
      ['', (a) => (a.pass === null ? 'n/a (not measured in this mode)' : a.pass ? 'PASS' : 'FAIL')],
    ],
    acceptance,
  );
}

function ratioLines(summary) {
  return Object.entries(summary.ratio_medians).map(([name, { all, by_variant }]) =>
    `median ${name}: ${times(all)}  (by variant: ${Object.entries(by_variant).map(([v, x]) => `${v} ${times(x)}`).join(', ')})`);
}

function formatRun(result) {
  return [
    `== ${result.isa} build, ${result.mode} mode, onnxruntime-web ${result.ort_version}, ${num(result.elapsed_s, 0)} s ==`,
    `zeroskip init ${num(result.zeroskip_init_ms, 0)} ms; ort import ${num(result.ort_import_ms, 0)} ms, ` +
      `first session (wasm compile included, not in load_ms) ${num(result.ort_first_session_ms, 0)} ms`,
    '',
    textTable(ROW_COLUMNS, result.rows),
    '',
    textTable(PAIR_COLUMNS, result.summary.pairs),
    '',
    ...ratioLines(result.summary),
    '',
    acceptanceTable(result.summary.acceptance) + (result.isa === 'simd128' ? '' : `\n(targets are set for simd128; shown for ${result.isa})`),
    ...result.guard_failures.map((g) => `CORRECTNESS GUARD FAILED: ${g}`),
    ...result.warnings.map((w) => `warning (pruned variant over the guard's bound, www/cnn.js MAX_DIFF): ${w}`),
  ].join('\n');
}

// ---- run --------------------------------------------------------------------------------------

/** One file: header, every build's rows, ratio medians and acceptance by build, details under `runs`. */
function combine(results, machine) {
  const byIsa = (f) => Object.fromEntries(results.map((r) => [r.isa, f(r)]));
  return {
    ...combinedHeader(machine, results, ['browser', 'date', 'mode', 'protocol', 'ort_version']),
    ratio_medians: byIsa((r) => r.summary.ratio_medians),
    acceptance: results.find((r) => r.isa === 'simd128')?.summary.acceptance ?? null,
    guard_failures: results.flatMap((r) => r.guard_failures.map((g) => `${r.isa}: ${g}`)),
    rows: results.flatMap((r) => r.rows),
    runs: byIsa(({ rows, ...rest }) => ({ ...rest, browser_machine: rest.machine, machine })),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  linkOrtRuntime(REPO);
  if (linkZooModels(REPO) === 0) throw new Error('no models in .cache/zoo: run make zoo first');
  const { results, ok } = await runEachBuild(
    opts.isas,
    (url, version) => `CNN benchmark (${opts.mode}) at ${url}, Chromium ${version}`,
    {
      page: 'cnn.html', mode: opts.mode, timeoutMs: TIMEOUT_MS, runPage: runCnnPage, format: formatRun,
      failuresOf: (r) => r.guard_failures,
    },
  );
  if (results.length) {
    const data = combine(results, machineDescription());
    writeJson(opts.out, data);
    if (data.acceptance) console.log(`\n${acceptanceTable(data.acceptance)}`);
  }
  if (!ok) console.error('CNN benchmark FAILED: a page errored or the correctness guard failed');
  return ok ? 0 : 1;
}

exitWith(main);
