#!/usr/bin/env node
// WebGPU benchmark driver: serves www/, runs gpu.html in headless Chromium with
// --enable-unsafe-webgpu (SwiftShader, a CPU emulation of a GPU), prints rows and ratios, and
// writes gpu.json (BENCH_FORMAT.md): rows with model = mobilenet_v2, variant = dense | p50 | s85 |
// s90, engine = zeroskip-webgpu (our plan) | zeroskip-webgpu-dense (dense plan) | ort-webgpu
// (onnxruntime-web's WebGPU EP) | zeroskip-simd128 (wasm: the reference the logits are checked
// against, timed for scale); top-level `ratios` per model/variant (e.g. "ort-webgpu/zeroskip-webgpu"),
// `ratio_medians` over variants, the WebGPU `adapter` (info, is_fallback_adapter) and ORT's node
// placement.
//
//   node bench/gpu.mjs [--quick] [--ort-only] [--isa simd128|relaxed] [--out bench/results/gpu.json]
//
// --ort-only times onnxruntime-web's WebGPU EP (and the wasm reference) alone: no zeroskip WebGPU
// API needed. A benchmark is not a test: it exits non-zero only when the page errored or the
// correctness guard failed (logits vs zeroskip wasm: www/gpu.js's MAX_DIFF for zeroskip-webgpu,
// 6e-6 vs SIMD128 and 5e-5 vs relaxed, and ORT_MAX_DIFF, 6e-5, for ort-webgpu, all measured on
// SwiftShader; equal top-1; ORT with no node on its WebGPU EP).

import path from 'node:path';
import { startServer } from '../tools/serve.mjs';
import {
  launchChromium, linkOrtRuntime, linkZooModels, machineDescription, runGpuPage, runIsaPage, textTable,
  writeJson, exitWith, ORT_WEBGPU_FILES, REPO, parseBenchArgs, num, times, timingColumns,
} from './lib.mjs';

const TIMEOUT_MS = 30 * 60 * 1000;

function parseArgs(argv) {
  const usage = 'usage: node bench/gpu.mjs [--quick] [--ort-only] [--isa simd128|relaxed] [--out FILE]';
  const { isas, ...opts } = parseBenchArgs(argv, {
    usage,
    defaults: { isas: ['simd128'], engines: 'all', out: path.join(REPO, 'bench/results/gpu.json') },
    flags: { '--ort-only': (o) => { o.engines = 'ort'; } },
  });
  if (isas.length !== 1) throw new Error(`${usage}: one build (--isa ${isas.join(',')})`);
  return { ...opts, isa: isas[0] };
}

// ---- printing ---------------------------------------------------------------------------------


const ROW_COLUMNS = [
  ...timingColumns(0, 1, [['backend', (r) => r.backend]]),
  ['max|d| vs wasm', (r) => (r.reference ? 'ref' : r.max_abs_diff_vs_ref.toExponential(1)), 'r'],
  ['bound', (r) => (r.reference ? '' : String(r.bound)), 'r'],
  ['top1', (r) => r.top1, 'r'],
  ['ok', (r) => (r.reference ? '' : r.within_bound ? 'ok' : 'FAIL')],
];

/** One table per kind of ratio (of medians; paired = median of per-round ratios), a row per variant. */
function ratioTable(summary, paired) {
  const keys = Object.keys(summary.ratio_medians);
  const lines = [
    ...summary.pairs.map((p) => ({ label: `${p.model} ${p.variant}`, r: paired ? p.paired : p.ratios })),
    { label: 'median', r: paired ? summary.paired_ratio_medians : summary.ratio_medians },
  ];
  return textTable([[paired ? 'paired' : 'ratio of medians', (l) => l.label], ...keys.map((k) => [k, (l) => times(l.r[k]), 'r'])], lines);
}

function adapterLine(a) {
  if (!a?.available) return `no WebGPU adapter (${a?.reason})`;
  const name = [a.info.vendor, a.info.architecture, a.info.device, a.info.description].filter(Boolean).join(' ');
  return `${name || 'unnamed adapter'}, isFallbackAdapter ${a.is_fallback_adapter}`;
}

function formatRun(result) {
  const placement = Object.entries(result.ort.placement)
    .map(([k, v]) => `${k}: ${Object.entries(v.nodes).map(([ep, n]) => `${ep} ${n}`).join(', ') || 'none found'}`);
  return [
    `== ${result.isa} build, ${result.mode} mode, engines ${result.engines}, onnxruntime-web ${result.ort.version} ` +
      `(${result.ort.bundle}), ${num(result.elapsed_s, 0)} s ==`,
    `adapter: ${adapterLine(result.adapter)}`,
    `ort: first session (wasm compile + GPU device) ${num(result.ort.first_session_ms, 0)} ms; node placement: ${placement.join('; ')}`,
    '',
    textTable(ROW_COLUMNS, result.rows),
    '',
    'A/B > 1: B is faster; paired = median over rounds of A/B within a round',
    ratioTable(result.summary, false),
    '',
    ratioTable(result.summary, true),
    ...result.guard_failures.map((g) => `CORRECTNESS GUARD FAILED: ${g}`),
    ...result.warnings.map((w) => `warning: ${w}`),
  ].join('\n');
}

// ---- run --------------------------------------------------------------------------------------

/** gpu.json: the BENCH_FORMAT header, the page's result (rows, ratios, adapter, ort), this machine. */
function toFile(result, machine) {
  const { machine: browserMachine, summary, rows, ...rest } = result;
  return {
    machine,
    browser: result.browser,
    date: result.date,
    ...rest,
    browser_machine: browserMachine,
    ratios: summary.ratios,
    ratio_medians: summary.ratio_medians,
    paired_ratios: summary.paired_ratios,
    paired_ratio_medians: summary.paired_ratio_medians,
    rows,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  linkOrtRuntime(REPO, ORT_WEBGPU_FILES);
  if (linkZooModels(REPO) === 0) throw new Error('no models in .cache/zoo: run make zoo first');
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  const browser = await launchChromium({ webgpu: true });
  let run;
  try {
    console.log(`WebGPU benchmark (${opts.mode}, engines ${opts.engines}) at ${url}, Chromium ${browser.version()}`);
    run = await runIsaPage(browser, url, {
      page: 'gpu.html',
      isa: opts.isa,
      mode: opts.mode,
      timeoutMs: TIMEOUT_MS,
      runPage: (b, u, o) => runGpuPage(b, u, { ...o, engines: opts.engines }),
      format: formatRun,
      failuresOf: (r) => r.guard_failures,
    });
  } finally {
    await browser.close();
    server.close();
  }
  if (run.result) {
    const data = toFile(run.result, machineDescription());
    writeJson(opts.out, data);
    const med = Object.entries(data.ratio_medians).map(([k, v]) => `${k} ${times(v)}`).join(', ');
    console.log(`median ratios over variants (same page, same adapter): ${med}`);
  }
  if (!run.ok) console.error('WebGPU benchmark FAILED: the page errored or the correctness guard failed');
  return run.ok ? 0 : 1;
}

exitWith(main);
