#!/usr/bin/env node
// The threaded builds (www/pkg/{simd128,relaxed}-threads) and the package's `threads` option in
// headless Chromium, through www/threads.html + www/threads.js:
//   1. both builds' raw engine (loadWasm(isa, {threads: 3}), on the page's thread): every zoo CNN
//      in www/models (each ONNX file, dense and pruned, plus the dense files on the dense plan),
//      every TF.js model in www/models/tfjs, and two LLMs (the demo's default and the Q4_0 GGUF:
//      prefill's logits and DECODE_STEPS greedy steps') give bit-identical float32 outputs at 1,
//      2 and 3 threads, setThreads granting each count. Which registry kernels those plans ran
//      is printed: KernelBench (the kernel benchmark's runner) calls a kernel on one thread, so
//      the models are what exercises the kernels under the pool's splits;
//   2. a page served without COOP/COEP: load() works on one thread, with a reason, no error;
//   3. stress in one isolated page through the package API: STRESS_N inferences taking two CNNs
//      and the default LLM in turn, each model disposed and reloaded after every RELOAD_EVERY of
//      its own; no timeout, no error, every answer identical to the first its input got, each
//      model life's WebAssembly memory (5 inferences in, and at its end) within 10% of its first
//      life's 5 inferences in, no thread worker left after
//      dispose, and no main-thread long task over 50 ms (tests/browser/pages.mjs: a task where the
//      thread had ≤ 50 ms of CPU was it waiting for a core, reported, not failed; a busy loop is
//      the negative control).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';
import { launchChromium, exitWith, textTable } from '../../bench/lib.mjs';
import { classifyLongTasks, linkSampleFiles, openWatchedPage, runPageChecks } from './pages.mjs';
import { stage } from '../../js/scripts/stage.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WWW = path.join(REPO, 'www');
const COUNTS = [1, 2, 3];
const DECODE_STEPS = 4;
const STRESS_N = 500;
const RELOAD_EVERY = 50;
const MEMORY_DRIFT = 0.1; // the issue's bound; measured 0.0% (76.0 / 93.8 / 331.3 MiB every life)
const LONG_TASK_MS = 50;
const BUDGET_MS = 240_000;
const LLM_DEFAULT = JSON.parse(fs.readFileSync(path.join(WWW, 'llm-models.json'), 'utf8')).models[0].file;
const LLM_Q4_0 = 'SmolLM2-135M-Instruct.Q4_0.gguf';
const NOT_ISOLATED = /not cross-origin isolated/;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}
const mib = (b) => (b / 2 ** 20).toFixed(1);

/** The zoo's files: ONNX CNNs (the dense ones also on the dense plan) and TF.js models. */
function zooSpec() {
  const onnx = [];
  for (const f of fs.readdirSync(path.join(WWW, 'models')).filter((f) => f.endsWith('.onnx')).sort()) {
    onnx.push({ file: f, dense: false });
    if (!f.includes('_')) onnx.push({ file: f, dense: true }); // mobilenet_v2.onnx, not mobilenet_v2_s85.onnx
  }
  const tfjs = fs.readdirSync(path.join(WWW, 'models/tfjs')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  return { onnx, tfjs };
}

async function identicalOutputs(browser, url, isa, spec) {
  const page = await browser.newPage();
  try {
    await page.goto(`${url}threads.html`);
    await page.waitForFunction(() => window.__threadsReady, null, { timeout: 30_000 });
    check(await page.evaluate(() => crossOriginIsolated), `${isa}: the page is not cross-origin isolated`);
    const r = await page.evaluate((a) => window.__threads.identical(a), { isa, counts: COUNTS, ...spec, llm: [LLM_DEFAULT, LLM_Q4_0], steps: DECODE_STEPS });
    check(r.threaded, `${isa}: loadWasm(…, {threads: 3}) gave a build without threads`);
    for (const m of r.results) {
      check(m.used.join() === COUNTS.join(), `${isa} ${m.name}: setThreads granted ${m.used.join(', ')} for ${COUNTS.join(', ')}`);
      check(m.mismatches.length === 0, `${isa} ${m.name}: outputs differ across thread counts: ${JSON.stringify(m.mismatches.slice(0, 3))}`);
    }
    const expected = spec.onnx.length + spec.tfjs.length + 2;
    check(r.results.length === expected, `${isa}: ${r.results.length} models checked, expected ${expected}`);
    console.log(`\n${isa}-threads: outputs at ${COUNTS.join(', ')} threads (ms: each count's runs, all outputs of the model)`);
    console.log(textTable(
      [
        ['model', (m) => m.name],
        ['outputs', (m) => m.outputs, 'r'],
        ['values', (m) => m.values, 'r'],
        ['threads', (m) => m.used.join('/'), 'r'],
        ['ms', (m) => m.ms.join(' / '), 'r'],
        ['identical', (m) => (m.mismatches.length ? 'NO' : 'yes')],
      ],
      r.results,
    ));
    // The plans' kernel column also names fused steps and views: only registry rows count.
    const ran = r.registry.filter((k) => r.kernels.includes(k));
    const byIsa = (list) => ['scalar', 'simd128', 'relaxed'].map((i) => `${list.filter((k) => k.endsWith(`__${i}`)).length} ${i}`).join(', ');
    console.log(`registry kernels these models ran under the pool: ${ran.length} of ${r.registry.length} (${byIsa(ran)}): ${ran.join(', ')}`);
    console.log(`not run by any plan: ${byIsa(r.registry.filter((k) => !ran.includes(k)))} (other ISAs' rows: the other build's, or the scalar fallbacks no plan here picks)`);
    return r;
  } finally {
    await page.close();
  }
}

async function notIsolated(browser, url) {
  const page = await browser.newPage();
  try {
    await page.goto(`${url}threads.html`);
    await page.waitForFunction(() => window.__threadsReady, null, { timeout: 30_000 });
    for (const threads of [undefined, 4]) {
      const r = await page.evaluate((a) => window.__threads.unisolated(a), { url: 'models/mobilenet_v2_s85.onnx', threads });
      const what = `not isolated, threads ${threads ?? 'default'}`;
      check(!r.crossOriginIsolated && !r.support.ok, `${what}: the page is cross-origin isolated (${JSON.stringify(r.support)})`);
      check(r.threads === 1 && r.outputs === 1000, `${what}: model.threads ${r.threads}, ${r.outputs} outputs`);
      check(NOT_ISOLATED.test(r.threadsReason ?? ''), `${what}: threadsReason ${JSON.stringify(r.threadsReason)}`);
      console.log(`${what}: threads ${r.threads}, threadsReason "${r.threadsReason}"`);
    }
  } finally {
    await page.close();
  }
}

async function stress(browser, url, errors) {
  const { ctx, page } = await openWatchedPage(browser, `${url}threads.html`, errors, '__threadsReady');
  const cdp = await browser.newBrowserCDPSession();
  const workers = async () => (await cdp.send('Target.getTargets')).targetInfos.filter((t) => t.type === 'worker' && /\/zeroskip\/(worker|thread)\.js$/.test(t.url)).map((t) => t.url.split('/').pop());
  const images = JSON.parse(fs.readFileSync(path.join(WWW, 'models/verify.json'), 'utf8')).models.mobilenet_v2.per_image.map((p) => p.image).slice(0, 8);
  await page.evaluate((a) => window.__threads.prepare(a), { images, effMeta: 'models/efficientnet_lite0.json' });
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const want = Math.min(4, cores);

  const windows = [];
  const call = async (fn, arg) => {
    const p0 = await page.evaluate(() => performance.now());
    const out = await page.evaluate(([f, a]) => window.__threads[f](a), [fn, arg]);
    windows.push({ fn, t0: p0, t1: await page.evaluate(() => performance.now()) });
    return out;
  };
  await browser.startTracing(page, { categories: ['toplevel', 'blink.user_timing'] });
  const clockMs = await page.evaluate(() => performance.mark('threads-clock').startTime);
  const spec = {
    s85: { url: 'models/mobilenet_v2_s85.onnx', kind: 'image-classifier' },
    eff: { url: 'models/efficientnet_lite0.onnx', kind: 'session' },
    llm: { url: `models/llm/${LLM_DEFAULT}`, kind: 'text-generator', threads: 2, maxTokens: 3, prompts: ['The capital of France is', 'Once upon a time', 'def fib(n):'] },
  };
  const setup = await call('setup', { spec });
  for (const [key, s] of Object.entries(setup)) {
    const asked = spec[key].threads ?? want;
    check(s.threads === asked && s.threadsReason === null, `${key}: threads ${s.threads} (reason ${JSON.stringify(s.threadsReason)}), expected ${asked} on ${cores} cores`);
  }
  const during = await workers();
  const threadWorkers = during.filter((w) => w === 'thread.js').length;
  const expectWorkers = Object.keys(spec).reduce((n, k) => n + (spec[k].threads ?? want) - 1, 0);
  check(threadWorkers === expectWorkers, `${threadWorkers} thread workers while 3 models are loaded, expected ${expectWorkers}`);
  const t0 = Date.now();
  const r = await call('stress', { n: STRESS_N, reloadEvery: RELOAD_EVERY });
  const stressMs = Date.now() - t0;
  check(r.errors.length === 0, `stress errors: ${JSON.stringify(r.errors.slice(0, 5))}`);
  check(r.mismatches.length === 0, `stress answers differ from the first: ${JSON.stringify(r.mismatches.slice(0, 3))}`);
  check(r.reloads.length >= 9, `${r.reloads.length} reloads, expected 3 per model`);
  await call('disposeAll');
  let left = await workers();
  for (let i = 0; i < 50 && left.length; i++) {
    await new Promise((res) => setTimeout(res, 100));
    left = await workers();
  }
  check(left.length === 0, `workers still alive after dispose: ${left.join(', ')}`);

  // Memory: each life of a model against its first life warm (a few inferences in): a life's end
  // shows a leak inside the life, a later life one across dispose and reload.
  const rows = [];
  for (const key of Object.keys(spec)) {
    const base = r.warm.find((w) => w.key === key && w.load === 1)?.wasmBytes;
    check(base > 0, `${key}: no warm memory reading`);
    for (const l of r.lives.filter((x) => x.key === key)) {
      const warmBytes = r.warm.find((w) => w.key === key && w.load === l.load)?.wasmBytes;
      for (const [what, bytes] of [['warm', warmBytes], ['end', l.wasmBytes]]) {
        const d = (bytes - base) / base;
        rows.push({ key, load: l.load, what, bytes, drift: d });
        check(Math.abs(d) <= MEMORY_DRIFT, `${key} life ${l.load} ${what}: wasm memory ${bytes} B vs ${base} B warm in its first life`);
      }
    }
  }
  console.log(`\nstress: ${r.n} inferences (${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${(stressMs / 1000).toFixed(1)} s, ` +
    `${r.reloads.length} reloads (median ${r.reloads.map((x) => x.ms).sort((a, b) => a - b)[r.reloads.length >> 1]} ms), threads ${r.threads.join(' ')}, ` +
    `${threadWorkers} thread workers + 3 model workers while loaded, ${left.length} left after dispose`);
  console.log(textTable(
    [
      ['model', (x) => x.key],
      ['life', (x) => x.load, 'r'],
      ['when', (x) => x.what],
      ['wasm MiB', (x) => mib(x.bytes), 'r'],
      ['vs first life warm', (x) => `${(100 * x.drift).toFixed(1)}%`, 'r'],
    ],
    rows,
  ));

  // Negative control, then the long tasks.
  await call('busy', { iterations: 2e8 });
  const seen = await page.waitForFunction((t) => window.__longTasks.some((x) => x.start + x.duration > t), windows.at(-1).t0, { timeout: 5000 }).catch(() => false);
  const trace = (await browser.stopTracing()).toString('utf8');
  const tasks = await page.evaluate(() => window.__longTasks);
  const all = classifyLongTasks(tasks, windows, trace, { mark: 'threads-clock', clockMs, limitMs: LONG_TASK_MS });
  const control = all.filter((t) => t.during.includes('busy'));
  check(seen && control.length === 1 && control[0].blocking && control[0].cpuMs > 100,
    `negative control: a busy loop on the main thread was seen as ${JSON.stringify(control)} (is the long-task observer or the trace working?)`);
  const long = all.filter((t) => !t.during.includes('busy'));
  const blocking = long.filter((t) => t.blocking);
  check(blocking.length === 0, `main thread blocked > ${LONG_TASK_MS} ms while the models worked: ${JSON.stringify(blocking)}`);
  console.log(`long tasks over ${LONG_TASK_MS} ms while the models worked: ${long.length} (blocking ${blocking.length}` +
    `${long.length ? `; the others: ${long.map((t) => `${t.duration.toFixed(0)} ms with ${t.cpuMs?.toFixed(0)} ms CPU`).join(', ')}` : ''}); control ${control[0]?.duration.toFixed(0)} ms`);
  await ctx.close();
}

async function main() {
  const t0 = Date.now();
  for (const f of ['www/pkg/simd128-threads/zeroskip_bg.wasm', 'www/pkg/relaxed-threads/zeroskip_bg.wasm', `www/models/llm/${LLM_DEFAULT}`, `www/models/llm/${LLM_Q4_0}`, 'www/models/tfjs/handlandmark-sparse.json', 'www/models/verify.json']) {
    if (!fs.existsSync(path.join(REPO, f))) throw new Error(`${f} missing: run make zoo and make wasm first`);
  }
  linkSampleFiles(REPO);
  stage('www');
  const isolated = await startServer({ port: 0, root: WWW });
  const plain = await startServer({ port: 0, root: WWW, isolated: false });
  const server = { close: () => (isolated.server.close(), plain.server.close()) };
  const errors = [];
  const browser = await launchChromium({ webgpu: false });
  const step = (what) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${what}`);
  return runPageChecks('tests/browser/threads.mjs', t0, { browser: () => browser, server, errors, failures }, async () => {
    const spec = zooSpec();
    for (const isa of ['simd128', 'relaxed']) {
      await identicalOutputs(browser, isolated.url, isa, spec);
      step(`${isa}-threads: ${spec.onnx.length} CNN plans, ${spec.tfjs.length} TF.js models, 2 LLMs checked`);
    }
    await notIsolated(browser, plain.url);
    step('not isolated: checked');
    await stress(browser, isolated.url, errors);
    step('stress: done');
    const totalMs = Date.now() - t0;
    check(totalMs <= BUDGET_MS, `the test took ${(totalMs / 1000).toFixed(0)} s, over its ${BUDGET_MS / 1000} s budget`);
  });
}

exitWith(main);
