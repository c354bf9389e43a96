#!/usr/bin/env node
// Kernel benchmark driver: serves www/, runs bench.html for each build in headless Chromium
// (one browser session, one build after the other), prints the page's results as tables and
// writes one kernels.json (contract: BENCH_FORMAT.md).
//
//   node bench/run.mjs [--isa simd128,relaxed] [--quick] [--out bench/results/kernels.json]
//
// A benchmark is not a test: it exits 0 even when acceptance targets fail, and non-zero only
// when a page errored or a kernel failed its correctness check.

import path from 'node:path';
import { formatRun, machineDescription, runBenchPage, writeJson, combinedHeader, REPO, parseBenchArgs, runEachBuild, exitWith } from './lib.mjs';

const TIMEOUT_MS = 20 * 60 * 1000;

function parseArgs(argv) {
  return parseBenchArgs(argv, {
    usage: 'usage: node bench/run.mjs [--isa simd128,relaxed] [--quick] [--out FILE]',
    defaults: { out: path.join(REPO, 'bench/results/kernels.json') },
  });
}

/** One file: the first build's header, every build's rows, and per-build details under `runs`. */
function combine(results, machine) {
  const runs = Object.fromEntries(
    results.map(({ rows, ...rest }) => [rest.isa, { ...rest, machine, browser_machine: rest.machine }]),
  );
  return {
    ...combinedHeader(machine, results, ['browser', 'date', 'mode', 'protocol', 'peak_gflops']),
    ratio_medians: {
      'speedup = dense_ms / sparse_ms, median over shapes, by isa / pattern / sparsity': Object.fromEntries(
        results.map((r) => [r.isa, r.summary.median_speedup]),
      ),
    },
    rows: results.flatMap((r) => r.rows),
    runs,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { results, ok } = await runEachBuild(
    opts.isas,
    (url, version) => `kernel benchmark (${opts.mode}) at ${url}, ${version}`,
    {
      page: 'bench.html', mode: opts.mode, timeoutMs: TIMEOUT_MS, runPage: runBenchPage, format: formatRun,
      failuresOf: (r) => r.kernel_errors,
    },
  );
  if (results.length) writeJson(opts.out, combine(results, machineDescription()));
  if (!ok) console.error('benchmark FAILED: a page errored or a kernel failed its maxError check');
  return ok ? 0 : 1;
}

exitWith(main);
