// Shared by bench/run.mjs and tests/browser/kernels.mjs: drive www/bench.html in headless
// Chromium and print what it leaves in window.__benchResult. The page computes every number;
// this file only launches, waits, reads and formats.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../tools/serve.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--enable-unsafe-webgpu',
];

/**
 * Headless Chromium with the flags above. `{webgpu: false}` leaves out --enable-unsafe-webgpu:
 * navigator.gpu still exists there, but requestAdapter() resolves to null (no adapter).
 */
export function launchChromium({ webgpu = true } = {}) {
  const args = webgpu ? CHROMIUM_ARGS : CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/** "<CPU model name>, N cores" from /proc/cpuinfo (os.cpus() elsewhere). */
export function machineDescription() {
  let model = os.cpus()[0]?.model?.trim() || 'unknown CPU';
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) model = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  return `${model}, ${os.availableParallelism?.() ?? os.cpus().length} cores`;
}

// ---- command lines ----------------------------------------------------------------------------

/** The repository root, and the two wasm builds every driver runs (simd128 first: it heads each file). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ISAS = ['simd128', 'relaxed'];

/**
 * A bench driver's command line. Every driver takes --quick (mode 'quick'), --isa a,b (checked,
 * put in ISAS order) and --out FILE; `flags` are its argument-less flags ({'--x': (opts) => …})
 * and `options` its flags with a value ({'--x': (opts, value) => …}: returning false rejects
 * the value). Starts from `defaults` (isas ISAS, mode 'full' unless given); anything else throws
 * `${usage} (bad argument: …)`.
 */
export function parseBenchArgs(argv, { usage, defaults, flags = {}, options = {} }) {
  const opts = { isas: ISAS, mode: 'full', ...defaults };
  const withValue = {
    ...options,
    '--isa': (o, v) => { o.isas = v.split(','); },
    '--out': (o, v) => { o.out = path.resolve(v); },
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') opts.mode = 'quick';
    else if (flags[arg]) flags[arg](opts);
    else if (!(withValue[arg] && argv[i + 1] !== undefined && withValue[arg](opts, argv[++i]) !== false)) {
      throw new Error(`${usage} (bad argument: ${arg})`);
    }
  }
  const unknown = opts.isas.filter((isa) => !ISAS.includes(isa));
  if (unknown.length) throw new Error(`unknown --isa ${unknown.join(',')}: expected ${ISAS.join(',')}`);
  opts.isas = ISAS.filter((isa) => opts.isas.includes(isa));
  return opts;
}

/**
 * The head of a results file that combines the builds' pages: `machine` (this host, from
 * machineDescription()), then the first page's fields `keys` (browser, date, mode, protocol, …)
 * and `isas`, the builds in the file.
 */
export function combinedHeader(machine, results, keys) {
  const head = results[0];
  return { machine, ...Object.fromEntries(keys.map((k) => [k, head[k]])), isas: results.map((r) => r.isa) };
}

/**
 * Serves www/, opens one headless Chromium and runs each build's page in turn with runIsaPage
 * (`page`: its options but the isa), after printing `banner(url, chromiumVersion)`; with
 * `threads` (e.g. THREAD_COUNTS), once per thread count for each build (threads=N pages).
 * Returns {results (the pages' results), ok (every page clean)}.
 */
export async function runEachBuild(isas, banner, page, threads = [null]) {
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  const browser = await launchChromium();
  const results = [];
  let ok = true;
  try {
    console.log(banner(url, browser.version()));
    for (const isa of isas) {
      for (const t of threads) {
        const run = await runIsaPage(browser, url, { ...page, isa, threads: t });
        ok &&= run.ok;
        if (run.result) results.push(run.result);
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  return { results, ok };
}

// ---- formatting -------------------------------------------------------------------------------

export const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
/** `x` with `digits` decimals, '-' when it is not a finite number. */
export const num = (x, digits) => (isNum(x) ? x.toFixed(digits) : '-');
/** A ratio as '1.23x', '-' when it is not a finite number. */
export const times = (x) => (isNum(x) ? `${x.toFixed(2)}x` : '-');

/**
 * The columns every whole-model driver (cnn, tfjs, gpu) prints first: model, variant, engine,
 * then `middle` (e.g. gpu's backend), load and first-run ms with `loadDigits` decimals, the
 * median/min/max with `msDigits`, and the runs.
 */
export function timingColumns(loadDigits, msDigits, middle = []) {
  return [
    ['model', (r) => r.model],
    ['variant', (r) => r.variant],
    ['engine', (r) => r.engine],
    ...middle,
    ['load ms', (r) => num(r.load_ms, loadDigits), 'r'],
    ['first ms', (r) => num(r.first_ms, loadDigits), 'r'],
    ['median', (r) => num(r.median_ms, msDigits), 'r'],
    ['min', (r) => num(r.min_ms, msDigits), 'r'],
    ['max', (r) => num(r.max_ms, msDigits), 'r'],
    ['runs', (r) => r.runs, 'r'],
  ];
}

/** Fixed-width text table: columns = [[header, (row) => string, 'l'|'r']]. */
export function textTable(columns, rows) {
  const cells = rows.map((r) => columns.map(([, f]) => String(f(r))));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (vals) =>
    vals.map((v, i) => (columns[i][2] === 'r' ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  const header = line(columns.map(([h]) => h));
  return [header, '-'.repeat(header.length), ...cells.map(line)].join('\n');
}

const ROW_COLUMNS = [
  ['shape', (r) => `${r.c_out}x${r.c_in}x${r.hw}`],
  ['n', (r) => r.count, 'r'],
  ['sp%', (r) => Math.round(r.sparsity * 100), 'r'],
  ['pattern', (r) => r.pattern],
  ['dense kernel', (r) => r.dense_kernel ?? '-'],
  ['dense ms', (r) => num(r.dense_ms, 4), 'r'],
  ['GFLOP/s', (r) => num(r.dense_gflops, 1), 'r'],
  ['%pk', (r) => num(r.dense_pct_peak, 0), 'r'],
  ['sparse kernel', (r) => r.kernel ?? '-'],
  ['sparse ms', (r) => num(r.sparse_ms, 4), 'r'],
  ['speedup', (r) => num(r.speedup, 2), 'r'],
  ['eff GF/s', (r) => num(r.effective_gflops, 1), 'r'],
  ['nz GF/s', (r) => num(r.nonzero_gflops, 1), 'r'],
  ['nz %pk', (r) => num(r.nonzero_pct_peak, 0), 'r'],
  ['4x1/nr1', (r) => (r.pattern === 'unstructured' ? '' : num(r.block_speedup, 2)), 'r'],
  ['4x1/32x1u', (r) => (r.same_nnz ? num(r.same_nnz.speedup, 2) : ''), 'r'],
];

const pctOrNever = (s) => (isNum(s) ? `${(100 * s).toFixed(0)}%` : 'never');

function speedupGrid(summary) {
  const patterns = Object.keys(summary.median_speedup);
  const sparsities = Object.keys(summary.median_speedup[patterns[0]]);
  const columns = [
    ['speedup vs dense', (p) => p.label],
    ...sparsities.map((s) => [`${Math.round(s * 100)}%`, (p) => num(p.values[s], 2), 'r']),
    ['breakeven', (p) => p.breakeven, 'r'],
    ['tie density', (p) => p.density, 'r'],
  ];
  const lines = patterns.flatMap((p) => [
    {
      label: `${p} median`,
      values: summary.median_speedup[p],
      breakeven: pctOrNever(summary.breakeven_sparsity[p].median),
      density: num(summary.breakeven_density?.[p]?.median, 3),
    },
    { label: `${p} weighted`, values: summary.weighted_speedup[p], breakeven: '', density: '' },
  ]);
  return textTable(columns, lines);
}

function acceptanceTable(summary) {
  return textTable(
    [
      ['acceptance (informational)', (a) => a.name],
      ['value', (a) => num(a.value, 2), 'r'],
      ['target', (a) => a.target, 'r'],
      ['', (a) => (a.pass === null ? 'n/a (not measured in this mode)' : a.pass ? 'PASS' : 'FAIL')],
    ],
    summary.acceptance,
  );
}

/** The whole printed report of one build's run. */
export function formatRun(result) {
  const relaxed = isNum(result.peak_relaxed_gflops)
    ? `, relaxed peak ${num(result.peak_relaxed_gflops, 1)} (start ${num(result.peak_relaxed_start_gflops, 1)}, ` +
      `end ${num(result.peak_relaxed_end_gflops, 1)})`
    : '';
  return [
    `== ${result.isa} build, ${result.mode} mode, ${num(result.elapsed_s, 0)} s ==`,
    `peak ${num(result.peak_gflops, 1)} GFLOP/s (start ${num(result.peak_start_gflops, 1)}, ` +
      `end ${num(result.peak_end_gflops, 1)})${relaxed}; %pk is of ${result.pct_peak_of}`,
    '',
    textTable(ROW_COLUMNS, result.rows),
    '',
    speedupGrid(result.summary),
    '',
    acceptanceTable(result.summary),
    `4x1 kernel at 90% vs 32x1 on the same 4x1 matrix (not the same-nonzeros comparison above): ` +
      `median ${num(result.summary.block4_vs_32x1_median_s90, 2)}`,
    ...result.kernel_errors.map((e) => `KERNEL ERROR ${e.kernel} on ${e.c_out}x${e.c_in}x${e.hw} ${e.pattern} ${e.sparsity}: ${e.error}`),
  ].join('\n');
}

// ---- CNN benchmark page (www/cnn.html) --------------------------------------------------------

/**
 * Opens any page that follows the autorun protocol (title 'done' / 'error') and reads its result
 * globals. Returns {result, error, pageErrors} like runBenchPage; `result` is kept even when the
 * page also reported an error.
 */
export async function runAutorunPage(browser, pageUrl, { resultVar, errorVar, timeoutMs, onConsole = () => {} }) {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('console', (msg) => onConsole(msg.type(), msg.text()));
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('response', (res) => {
    if (res.status() >= 400) pageErrors.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  try {
    await page.goto(pageUrl);
    await page.waitForFunction(() => document.title === 'done' || document.title === 'error', null, {
      timeout: timeoutMs,
      polling: 500,
    });
    const { result, error } = await page.evaluate(
      ([r, e]) => ({ result: window[r] ?? null, error: window[e] ?? null }),
      [resultVar, errorVar],
    );
    return { result, error, pageErrors };
  } catch (err) {
    return { result: null, error: String(err), pageErrors };
  } finally {
    await page.close();
  }
}

/**
 * Opens bench.html for one build and waits for it to finish.
 * Returns {result, error, pageErrors}: result is window.__benchResult (null on error), error is
 * window.__benchError or a timeout/page-load message, pageErrors are uncaught page exceptions.
 */
export function runBenchPage(browser, baseUrl, { isa, mode, timeoutMs, onConsole }) {
  return runAutorunPage(browser, `${baseUrl}bench.html?isa=${isa}&mode=${mode}&autorun=1`, {
    resultVar: '__benchResult',
    errorVar: '__benchError',
    timeoutMs,
    onConsole,
  });
}

/** cnn.html for one build: {result, error, pageErrors}; result is window.__cnnResult. */
export function runCnnPage(browser, baseUrl, { isa, mode, threads = null, timeoutMs, onConsole }) {
  return runAutorunPage(browser, `${baseUrl}cnn.html?isa=${isa}&mode=${mode}${threadsQuery(threads)}&autorun=1`, {
    resultVar: '__cnnResult',
    errorVar: '__cnnError',
    timeoutMs,
    onConsole,
  });
}

/**
 * Makes `dst` the same file as `src`: a hard link (a copy across file systems), left alone when it
 * already is one. What `make wasm` does with `ln || cp`.
 */
export function hardLink(src, dst) {
  const [a, b] = [fs.statSync(src), fs.statSync(dst, { throwIfNoEntry: false })];
  if (b && a.ino === b.ino && a.dev === b.dev) return;
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

/**
 * Makes www/models mirror .cache/zoo's models (*.onnx, *.json) and verify/*.npy, by hard links
 * (copies across file systems), as `make wasm` does; returns how many .onnx files it holds.
 * Lets the CNN bench and browser test run after `make zoo` without another `make wasm`.
 */
export function linkZooModels(repo) {
  const zoo = path.join(repo, '.cache/zoo');
  const dest = path.join(repo, 'www/models');
  if (!fs.existsSync(zoo)) return 0;
  fs.mkdirSync(path.join(dest, 'verify'), { recursive: true });
  let onnx = 0;
  for (const f of fs.readdirSync(zoo)) {
    if (!/\.(onnx|json)$/.test(f)) continue;
    hardLink(path.join(zoo, f), path.join(dest, f));
    if (f.endsWith('.onnx')) onnx++;
  }
  const verify = path.join(zoo, 'verify');
  if (fs.existsSync(verify)) {
    for (const f of fs.readdirSync(verify)) if (f.endsWith('.npy')) hardLink(path.join(verify, f), path.join(dest, 'verify', f));
  }
  return onnx;
}

/** onnxruntime-web's runtime files the pages import from www/vendor/ort (as `make wasm` copies them). */
export const ORT_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

/**
 * onnxruntime-web's WebGPU build (www/gpu.js): the ESM bundle and the wasm it loads, which holds
 * ORT's native WebGPU execution provider (asyncify build; `ort.all`/`ort.min` use the JSEP one).
 */
export const ORT_WEBGPU_FILES = ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

/** Links `files` (the ORT_FILES by default) from node_modules into www/vendor/ort when missing or stale. */
export function linkOrtRuntime(repo, files = ORT_FILES) {
  linkVendorFiles(repo, 'onnxruntime-web/dist', 'ort', files);
}

/**
 * Hard-links `files` (paths under node_modules/`from`) into www/vendor/`to` under their base
 * names, as tools/stage_www.sh does; a missing one means npm ci has not run.
 */
function linkVendorFiles(repo, from, to, files) {
  const dest = path.join(repo, 'www/vendor', to);
  fs.mkdirSync(dest, { recursive: true });
  for (const f of files) {
    const a = path.join(repo, 'node_modules', from, f);
    if (!fs.existsSync(a)) throw new Error(`missing ${a}: run make setup (npm ci)`);
    hardLink(a, path.join(dest, path.basename(f)));
  }
}

// ---- TF.js graph models (www/tfjs.html) -------------------------------------------------------

/**
 * TF.js's runtime files the TF.js page loads from www/vendor/tfjs (as `make wasm` links them),
 * under node_modules/@tensorflow: the two UMD bundles (classic scripts: global `tf`, then
 * `tf.wasm`) and the wasm backend's three binaries (it picks one by SIMD / threads support).
 */
export const TFJS_FILES = [
  'tfjs/dist/tf.min.js',
  'tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  'tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
];

/** Links the TFJS_FILES from node_modules into www/vendor/tfjs when missing or stale. */
export function linkTfjsRuntime(repo) {
  linkVendorFiles(repo, '@tensorflow', 'tfjs', TFJS_FILES);
}

/**
 * Makes www/models/tfjs mirror .cache/zoo/tfjs (model.json files, their shards, verify/*), as
 * `make wasm` does; returns the names of the models (NAME for each NAME.json) it holds.
 */
export function linkTfjsModels(repo) {
  const zoo = path.join(repo, '.cache/zoo/tfjs');
  const dest = path.join(repo, 'www/models/tfjs');
  if (!fs.existsSync(zoo)) return [];
  fs.mkdirSync(path.join(dest, 'verify'), { recursive: true });
  const names = [];
  for (const f of fs.readdirSync(zoo)) {
    const src = path.join(zoo, f);
    if (!fs.statSync(src).isFile()) continue;
    hardLink(src, path.join(dest, f));
    if (f.endsWith('.json')) names.push(f.slice(0, -5));
  }
  const verify = path.join(zoo, 'verify');
  if (fs.existsSync(verify)) {
    for (const f of fs.readdirSync(verify)) if (!f.endsWith('.tmp')) hardLink(path.join(verify, f), path.join(dest, 'verify', f));
  }
  return names.sort();
}

/**
 * tfjs.html for one build (engines 'all') or TF.js alone ('tfjs'): {result, error, pageErrors};
 * result is window.__tfjsResult.
 */
export function runTfjsPage(browser, baseUrl, { isa, mode, engines = 'all', threads = null, timeoutMs, onConsole }) {
  return runAutorunPage(browser, `${baseUrl}tfjs.html?isa=${isa}&mode=${mode}&engines=${engines}${threadsQuery(threads)}&autorun=1`, {
    resultVar: '__tfjsResult',
    errorVar: '__tfjsError',
    timeoutMs,
    onConsole,
  });
}

// ---- WebGPU (www/gpu.html) --------------------------------------------------------------------

/**
 * gpu.html: {result, error, pageErrors}; result is window.__gpuResult. `engines` 'all' (zeroskip
 * WebGPU, both plans, + ort-webgpu) or 'ort' (ort-webgpu + the wasm reference only).
 */
export function runGpuPage(browser, baseUrl, { isa = 'simd128', mode, engines = 'all', timeoutMs, onConsole }) {
  return runAutorunPage(browser, `${baseUrl}gpu.html?isa=${isa}&mode=${mode}&engines=${engines}&autorun=1`, {
    resultVar: '__gpuResult',
    errorVar: '__gpuError',
    timeoutMs,
    onConsole,
  });
}

/** Writes `data` as indented JSON (creating the folder) and prints where. */
export function writeJson(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 1) + '\n');
  const rel = path.relative(process.cwd(), file);
  console.log(`wrote ${rel.startsWith('..') ? file : rel}`);
}

/**
 * Runs one build's benchmark page with `runPage` (runBenchPage, runCnnPage), forwards its
 * console, prints `format(result)`. `ok` is false when the page errored or `failuresOf(result)`
 * lists anything (kernel errors, correctness guards).
 */
export async function runIsaPage(browser, url, { page, isa, mode, threads = null, timeoutMs, runPage, format, failuresOf }) {
  const t0 = Date.now();
  const tag = threads === null ? isa : `${isa} ${threads}t`;
  console.log(`\n--- ${tag}: ${page}?isa=${isa}&mode=${mode}${threadsQuery(threads)} ---`);
  const { result, error, pageErrors } = await runPage(browser, url, {
    isa,
    mode,
    threads,
    timeoutMs,
    onConsole: (type, text) => console.log(`[${tag}${type === 'log' ? '' : ' ' + type}] ${text}`),
  });
  const problems = [...pageErrors, ...(error ? [error] : [])];
  problems.forEach((p) => console.error(`[${tag}] ERROR ${p}`));
  if (!result) return { result: null, ok: false };
  console.log(`\n${format(result)}\n(${tag}: ${((Date.now() - t0) / 1000).toFixed(0)} s wall)`);
  return { result, ok: problems.length === 0 && failuresOf(result).length === 0 };
}

/** Prints a browser test's verdict and returns its exit code. */
export function testVerdict(name, failures, t0) {
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (failures.length) {
    console.error(`\n${name}: ${failures.length} FAILED (${secs} s)`);
    failures.forEach((f) => console.error(`  FAIL ${f}`));
    return 1;
  }
  console.log(`${name}: passed (${secs} s)`);
  return 0;
}

/** Runs an async `main` returning an exit code; a throw exits 1 with its stack. */
export function exitWith(main) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err.stack ?? String(err));
      process.exit(1);
    },
  );
}

// ---- small LLMs (www/llm.html) ----------------------------------------------------------------

/** wllama's runtime files (under node_modules/@wllama/wllama/esm) that www/llm.js loads from www/vendor/wllama. */
export const WLLAMA_FILES = ['index.js', 'wasm/wllama.wasm'];

/** Links the WLLAMA_FILES into www/vendor/wllama when missing or stale; returns wllama's npm version. */
export function linkWllamaRuntime(repo) {
  linkVendorFiles(repo, '@wllama/wllama/esm', 'wllama', WLLAMA_FILES);
  return JSON.parse(fs.readFileSync(path.join(repo, 'node_modules/@wllama/wllama/package.json'), 'utf8')).version;
}

/** bench/llm_frontier.mjs's result, which the LLM page's chart draws (as models/llm/llm_frontier.json). */
export const LLM_FRONTIER_JSON = 'bench/results/llm_frontier.json';

/**
 * Makes www/models/llm hold .cache/zoo/llm's GGUF files, its sparse LLM variants (*.zsk) and
 * the prompt corpus (lee_background.cor as lee_background.txt), as `make wasm` does, plus the
 * frontier (LLM_FRONTIER_JSON as llm_frontier.json) for the LLM page's chart; returns the names
 * of the GGUF and .zsk files, sorted.
 */
export function linkLlmModels(repo) {
  const zoo = path.join(repo, '.cache/zoo/llm');
  const dest = path.join(repo, 'www/models/llm');
  if (!fs.existsSync(zoo)) return [];
  fs.mkdirSync(dest, { recursive: true });
  const names = [];
  for (const f of fs.readdirSync(zoo)) {
    if (!/\.(gguf|zsk)$/.test(f) || !fs.statSync(path.join(zoo, f)).isFile()) continue;
    hardLink(path.join(zoo, f), path.join(dest, f));
    names.push(f);
  }
  const corpus = path.join(zoo, 'lee_background.cor');
  if (fs.existsSync(corpus)) hardLink(corpus, path.join(dest, 'lee_background.txt'));
  const frontier = path.join(repo, LLM_FRONTIER_JSON);
  if (fs.existsSync(frontier)) hardLink(frontier, path.join(dest, 'llm_frontier.json'));
  return names.sort();
}

/** Makes www/models/llm hold `files` (paths anywhere, e.g. bench/tmp); returns their names. */
export function linkLlmFiles(repo, files) {
  const dest = path.join(repo, 'www/models/llm');
  fs.mkdirSync(dest, { recursive: true });
  return files.map((f) => {
    hardLink(f, path.join(dest, path.basename(f)));
    return path.basename(f);
  });
}

/**
 * The demo's LLM list (www/llm-models.json): {default: its first entry's file, quality: variant
 * → {ppl, ppl_ratio}} from its entries' measured numbers, overridden by the frontier's rows
 * (LLM_FRONTIER_JSON) where that file exists. Variants are named as the LLM page names them.
 */
export function llmQuality(repo) {
  const variantOf = (file) => /\.([^.]+)\.(gguf|zsk)$/.exec(file)?.[1]?.toLowerCase() ?? null;
  const read = (f) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(repo, f), 'utf8'));
    } catch {
      return null;
    }
  };
  const list = read('www/llm-models.json')?.models ?? [];
  const quality = {};
  for (const m of list) {
    if (typeof m.ppl === 'number' && !m.comment) quality[variantOf(m.file)] = { ppl: m.ppl, ppl_ratio: m.ppl_ratio ?? null };
  }
  for (const r of read(LLM_FRONTIER_JSON)?.rows ?? []) {
    if (typeof r.ppl === 'number' && r.engine !== 'wllama-1t') quality[r.variant] = { ppl: r.ppl, ppl_ratio: r.ppl_ratio ?? null };
  }
  return { default: list[0]?.file ?? null, quality };
}

/**
 * llm.html with the builds `isas` (one page, engines interleaved): {result, error, pageErrors};
 * result is window.__llmResult. `variants`: other files of the model (names under
 * www/models/llm: sparse .zsk, requantized GGUFs) that run on every zeroskip build next to the
 * dense `model`; `wllama`: the GGUFs wllama runs (default: `model`); `protocol`: {prompt, gen,
 * rounds} overriding the mode's; `reload`: load each variant only for its timed run; `webgpu`:
 * every file on zeroskip-webgpu too; `wllamaGpu`: wllama's GGUFs on its WebGPU backend too (both
 * need a browser with an adapter: runLlmBench's `webgpu`).
 */
export function runLlmPage(browser, baseUrl, {
  isas, mode, engines = 'all', model, variants = [], wllama = [], protocol = {}, reload = false, threads = null, webgpu = false, wllamaGpu = false,
  timeoutMs, onConsole,
}) {
  const q = new URLSearchParams({ isas: isas.join(','), mode, engines, autorun: '1' });
  if (threads !== null) q.set('threads', String(threads));
  if (webgpu) q.set('webgpu', '1');
  if (wllamaGpu) q.set('wllamaGpu', '1');
  if (model) q.set('model', model);
  if (variants.length) q.set('variants', variants.join(','));
  if (wllama.length) q.set('wllama', wllama.join(','));
  for (const [k, v] of Object.entries(protocol)) if (v) q.set(k, String(v));
  if (reload) q.set('reload', '1');
  return runAutorunPage(browser, `${baseUrl}llm.html?${q}`, {
    resultVar: '__llmResult',
    errorVar: '__llmError',
    timeoutMs,
    onConsole,
  });
}

/**
 * Serves www/ and runs llm.html once in a fresh headless Chromium with runLlmPage's `options`
 * (no WebGPU unless `options.webgpu` or `options.wllamaGpu`: then the --enable-unsafe-webgpu
 * flags, SwiftShader's adapter here), forwarding the page's console and printing its errors;
 * `announce(url, version)` says what runs first. Returns {result (window.__llmResult or null),
 * problems}.
 */
export async function runLlmBench(repo, options, announce = () => {}) {
  const { server, url } = await startServer({ port: 0, root: path.join(repo, 'www') });
  const browser = await launchChromium({ webgpu: !!(options.webgpu || options.wllamaGpu) });
  let run;
  try {
    announce(url, browser.version());
    run = await runLlmPage(browser, url, {
      onConsole: (type, text) => console.log(`[page${type === 'log' ? '' : ' ' + type}] ${text}`),
      ...options,
    });
  } finally {
    await browser.close();
    server.close();
  }
  const problems = [...run.pageErrors, ...(run.error ? [run.error] : [])];
  problems.forEach((p) => console.error(`ERROR ${p}`));
  return { result: run.result, problems };
}

// ---- threads (issue 14) -----------------------------------------------------------------------

/** The thread counts every driver measures (pages with threads=1 and threads=2). */
export const THREAD_COUNTS = [1, 2];
/** Thread counts reported as rows but not measured where the machine has fewer cores. */
export const MORE_THREADS = [4, 8];
/** The machine's cores (what decides which thread counts are measurable). */
export const CORES = os.availableParallelism?.() ?? os.cpus().length;

/** `&threads=N` for a page URL, '' for null (the single-thread page). */
export const threadsQuery = (threads) => (threads === null || threads === undefined ? '' : `&threads=${threads}`);

/** The threaded builds `make wasm` writes (www/pkg/<isa>-threads), of `isas`, that exist. */
export function threadedBuilds(isas) {
  return isas.filter((isa) => fs.existsSync(path.join(REPO, 'www/pkg', `${isa}-threads`)));
}

/**
 * A driver's --threads value: 'auto' (THREAD_COUNTS when the threaded builds exist, or when only
 * peers run), 'none', or a list '1,2'. Returns the counts to measure ([] = no threads pass).
 */
export function threadCounts(arg, { needsBuild = true, isas = ISAS } = {}) {
  if (arg === 'none') return [];
  if (arg === 'auto') return !needsBuild || threadedBuilds(isas).length === isas.length ? THREAD_COUNTS : [];
  const ts = arg.split(',').map(Number);
  if (!ts.length || ts.some((t) => !Number.isInteger(t) || t < 1 || t > 16)) throw new Error(`bad --threads ${arg}: expected auto, none or e.g. 1,2`);
  return ts;
}

/** An engine's name without its thread suffix: ort-wasm-2t → ort-wasm (zeroskip names have none). */
export const engineFamily = (engine) => engine.replace(/-\d+t$/, '');

/**
 * For each row group (same `keyOf(row)` and engine family) measured at 1 and at `n` threads:
 * {key…, engine (family), isa, one, many, threads_many, scaling}, scaling = how many times faster
 * on `n` threads (`faster(one, many)`: one/many for ms, many/one for tok/s).
 */
export function threadScaling(rows, { keyOf, value, faster, n = 2 }) {
  const groups = new Map();
  for (const r of rows) {
    const k = JSON.stringify([keyOf(r), engineFamily(r.engine), r.isa ?? null]);
    if (!groups.has(k)) groups.set(k, {});
    groups.get(k)[r.threads] = r;
  }
  const out = [];
  for (const [k, byT] of groups) {
    const [key, engine, isa] = JSON.parse(k);
    const [a, b] = [byT[1], byT[n]];
    if (!a || !b) continue;
    const [one, many] = [value(a), value(b)];
    out.push({ ...key, engine, isa, one, many, threads_many: n, scaling: isNum(one) && isNum(many) ? faster(one, many) : null });
  }
  return out;
}

/**
 * What every driver's `threads` section holds: the load average and its note, the rows with their
 * scaling, ratios and acceptance lines, and the thread counts left unmeasured.
 */
export function threadsCore({ load, rows, scaling, ratios, acceptance }) {
  return {
    load_average: load,
    load_note: busyMachineNote(load),
    rows,
    scaling,
    ratios,
    acceptance,
    unmeasured: unmeasuredThreadRows(rows, ['model', 'variant', 'isa']),
  };
}

/**
 * The `threads` section of an image benchmark's JSON (cnn, tfjs): the pages' thread counts, builds
 * and TF.js pools, the load average and its note, the rows with their scaling, ratios and
 * acceptance lines, the unmeasured thread counts, guard failures and each page's details.
 */
export function imageThreadsSection({ results, rows, load, scaling, ratios, acceptance }) {
  return {
    counts: [...new Set(rows.map((r) => r.threads))].sort(),
    builds: Object.fromEntries(results.map((r) => [r.isa, r.zeroskip_build])),
    protocol: results[0]?.protocol ?? null,
    tfjs: results.map((r) => ({ isa: r.isa, threads: r.threads, version: r.tfjs_version, binary: r.tfjs_binary, pool: r.tfjs_threads, thread_cap: r.tfjs_thread_cap })),
    ...threadsCore({ load, rows, scaling, ratios, acceptance }),
    guard_failures: results.flatMap((r) => r.guard_failures.map((g) => `${r.isa} ${r.threads}t: ${g}`)),
    runs: results.map(({ rows: _, ...rest }) => rest), // eslint-disable-line no-unused-vars
  };
}

/**
 * Rows for the thread counts this machine cannot measure (MORE_THREADS above CORES), one per
 * `base` row measured on THREAD_COUNTS' largest count: the row's `keep` fields, threads, and
 * status 'unmeasured (N-core machine)' — printed and written rather than left out.
 */
export function unmeasuredThreadRows(rows, keep) {
  const top = Math.max(...THREAD_COUNTS);
  const status = `unmeasured (${CORES}-core machine)`;
  return MORE_THREADS.filter((t) => t > CORES).flatMap((t) => rows.filter((r) => r.threads === top).map((r) => ({
    ...Object.fromEntries(keep.map((k) => [k, r[k]])), engine: engineFamily(r.engine) + (r.engine === engineFamily(r.engine) ? '' : `-${t}t`),
    threads: t, status,
  })));
}

/**
 * An acceptance line: {name, value, target, at_least, pass, value_by_min} (pass null when
 * unmeasured; `value` from medians, value_by_min the same figure from min times, not judged). The
 * benchmarks print these; they never fail a run on them.
 */
export function acceptanceLine(name, value, target, atLeast = true, byMin = null) {
  return {
    name, value: isNum(value) ? value : null, target, at_least: atLeast, pass: isNum(value) ? (atLeast ? value >= target : value <= target) : null,
    // the same figure from the fastest runs (ms pages): printed beside it, not judged
    value_by_min: isNum(byMin) ? byMin : null,
  };
}

/** The acceptance lines as a table (PASS / FAIL / n/a). */
export function acceptanceLines(title, lines) {
  return textTable(
    [
      [title, (a) => a.name],
      ['value', (a) => num(a.value, 2), 'r'],
      ['by min', (a) => num(a.value_by_min, 2), 'r'],
      // `strict`: the line asks for more than the target, not at least it
      ['target', (a) => `${a.at_least ? (a.strict ? '>' : '≥') : a.strict ? '<' : '≤'} ${a.target}`, 'r'],
      ['', (a) => (a.pass === null ? 'n/a (not measured)' : a.pass ? 'PASS' : 'FAIL')],
    ],
    lines,
  );
}

/**
 * A warning when the 1-minute load average around a threads pass (`load`: {before, after} from
 * os.loadavg()) reached CORES - 0.5: other processes then held a core for much of the pass, and a
 * 2-thread job whose second thread is descheduled waits at every barrier, so its medians say more
 * about the machine than about the engine. null on a quiet machine. Written beside the numbers.
 */
export function busyMachineNote(load) {
  const peak = Math.max(load.before[0], load.after[0]);
  if (peak < CORES - 0.5) return null;
  return `busy machine: 1-minute load average ${peak.toFixed(2)} on ${CORES} cores during the threads pass ` +
    '(other processes): 2-thread medians are unreliable here (a descheduled thread stalls the whole job); ' +
    'compare the 2t/1t ratios by min, and rerun on a quiet machine before quoting them';
}
