#!/usr/bin/env node
// Browser test (make test-browser): zeroskip's WebGPU backend and its fallback to wasm, in headless
// Chromium, through www/gpu.html's building blocks (window.gpuBench) and the async API
// `await Model.open(name, bytes, backend, dense)`, `m.backend()`, `m.fallback()`, `await m.runAsync(x)`.
//
// a. Chromium with --enable-unsafe-webgpu (a SwiftShader adapter, isFallbackAdapter true):
//    - backend 'webgpu' and 'auto' both run on WebGPU (m.backend() === 'webgpu', no fallback) on
//      mobilenet_v2 (dense) and mobilenet_v2_s85 (85% pruned), and the dense plan (dense = true)
//      on the pruned file too;
//    - their logits on verify images 0 and 1 (two runs of one model: no stale buffers) match
//      zeroskip wasm (Model.fromOnnx(...).run) on the same file: max |Δlogit| ≤ 6e-6, equal top-1.
// b. Chromium without --enable-unsafe-webgpu (navigator.gpu exists, requestAdapter() → null), and
//    a second page there with navigator.gpu removed altogether:
//    - 'auto' runs on wasm (m.backend() === 'wasm') and says why in m.fallback() (the missing
//      adapter / WebGPU), with logits equal to wasm's (exactly);
//    - explicit 'webgpu' returns a Promise (no synchronous throw) that rejects with an Error whose
//      message names WebGPU and the reason;
//    - the page stays usable: 'wasm' then opens and runs correctly, no page error, no unhandled
//      rejection, no Rust panic in the console.
// No speed is asserted (SwiftShader is a CPU emulation). Needs the zoo (`make zoo`) and `make wasm`.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';
import { launchChromium, linkOrtRuntime, linkZooModels, exitWith, testVerdict, ORT_WEBGPU_FILES } from '../../bench/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ISA = 'simd128';
const DENSE = 'mobilenet_v2';
const PRUNED = 'mobilenet_v2_s85';
const INPUTS = 'mobilenet_v2';
// WebGPU (SwiftShader) vs wasm (simd128) logits, max |Δ|: measured 1.9e-6 dense, 9.5e-7..1.4e-6 on
// the 85%-pruned file (either plan). On wasm ('auto' without an adapter, or 'wasm') the logits are
// the reference's exactly (measured 0): the same build runs the same plan.
const MAX_DIFF = 6e-6;
const PAGE_TIMEOUT_MS = 300_000;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}
const exp = (x) => (typeof x === 'number' ? x.toExponential(2) : String(x));

// ---- in the page ------------------------------------------------------------------------------

/** Opens `file` on `backend`, runs it on `images`, compares each against zeroskip wasm on the same file. */
async function openAndCompare({ file, inputs, backend, dense, images }) {
  const g = window.gpuBench;
  const zs = g.zeroskip();
  const bytes = await g.fetchBytes(`models/${file}.onnx`);
  const npy = g.parseNpy(await g.fetchBytes(`models/verify/${inputs}_inputs.npy`));
  const ref = zs.Model.fromOnnx(file, bytes, false);
  const out = { file, backend, dense, runs: [] };
  let m = null;
  try {
    const t0 = performance.now();
    m = await zs.Model.open(file, bytes, backend, dense);
    out.open_ms = performance.now() - t0;
    out.ran = m.backend();
    out.fallback = m.fallback() ?? null;
    for (const i of images) {
      const x = g.npyRow(npy, i);
      const want = ref.run(x);
      const t = performance.now();
      const got = await m.runAsync(x);
      out.runs.push({
        image: i, run_ms: performance.now() - t, float32: got instanceof Float32Array, len: got.length, want_len: want.length,
        diff: g.maxAbsDiff(got, want), top1: g.argmax(got), want_top1: g.argmax(want),
      });
    }
  } catch (err) {
    out.error = `${err?.name ?? 'Error'}: ${err?.message ?? err}`;
  } finally {
    ref.free();
    m?.free();
  }
  return out;
}

/** Without a WebGPU adapter: 'auto' falls back, explicit 'webgpu' rejects, 'wasm' still works. */
async function noAdapterChecks({ file, inputs }) {
  const g = window.gpuBench;
  const zs = g.zeroskip();
  const bytes = await g.fetchBytes(`models/${file}.onnx`);
  const x = g.npyRow(g.parseNpy(await g.fetchBytes(`models/verify/${inputs}_inputs.npy`)), 0);
  const ref = zs.Model.fromOnnx(file, bytes, false);
  const want = ref.run(x);
  ref.free();
  const out = { adapter: await g.webgpuAdapterInfo(), navigator_gpu: typeof navigator.gpu };
  const openRun = async (backend) => {
    const r = { backend };
    try {
      const m = await zs.Model.open(file, bytes, backend, false);
      r.ran = m.backend();
      r.fallback = m.fallback() ?? null;
      const got = await m.runAsync(x);
      r.diff = g.maxAbsDiff(got, want);
      r.top1 = g.argmax(got);
      r.want_top1 = g.argmax(want);
      m.free();
    } catch (err) {
      r.error = `${err?.name ?? 'Error'}: ${err?.message ?? err}`;
    }
    return r;
  };
  out.auto = await openRun('auto');

  const w = { sync_throw: false };
  let p = null;
  try {
    p = zs.Model.open(file, bytes, 'webgpu', false);
    w.is_promise = p instanceof Promise;
  } catch (err) {
    Object.assign(w, { sync_throw: true, name: err?.name, message: String(err?.message ?? err) });
  }
  if (p) {
    try {
      const m = await p;
      w.resolved = true;
      w.ran = m.backend();
      m.free();
    } catch (err) {
      Object.assign(w, {
        rejected: true, is_error: err instanceof Error, name: err?.name ?? null, ctor: err?.constructor?.name ?? null,
        message: String(err?.message ?? err),
      });
    }
  }
  out.webgpu = w;

  out.wasm = await openRun('wasm');
  out.auto_again = await openRun('auto');
  out.ui = { run_button: !!document.getElementById('run') && !document.getElementById('run').disabled, title: document.title };
  out.unhandled = window.__unhandled ?? [];
  return out;
}

// ---- driver -----------------------------------------------------------------------------------

async function openPage(browser, url, label, { removeGpu = false } = {}) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err}`));
  page.on('response', (res) => res.status() >= 400 && errors.push(`HTTP ${res.status()} for ${res.url()}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/panicked/.test(text)) errors.push(`Rust panic: ${text.slice(0, 300)}`);
    if (msg.type() === 'error') console.error(`[${label}] ${text.slice(0, 300)}`);
  });
  await page.addInitScript((remove) => {
    window.__unhandled = [];
    window.addEventListener('unhandledrejection', (e) => window.__unhandled.push(String(e.reason?.message ?? e.reason)));
    if (remove) delete Navigator.prototype.gpu;
  }, removeGpu);
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  await page.goto(`${url}gpu.html`);
  await page.waitForFunction(() => window.gpuBench !== undefined);
  await page.evaluate((isa) => window.gpuBench.loadZeroskip(isa), ISA);
  const missing = await page.evaluate(() => window.gpuBench.missingGpuApi());
  check(missing.length === 0, `${label}: the ${ISA} build has no ${missing.join(', ')} (src/web.rs's async backend API): run make wasm`);
  return { page, errors, ready: missing.length === 0 };
}

/** a. WebGPU on: both backends run on WebGPU and match wasm. */
async function checkWebgpu(url) {
  const browser = await launchChromium({ webgpu: true });
  const label = 'webgpu on';
  try {
    const { page, errors, ready } = await openPage(browser, url, label);
    const adapter = await page.evaluate(() => window.gpuBench.webgpuAdapterInfo());
    check(adapter.available, `${label}: no WebGPU adapter with --enable-unsafe-webgpu (${adapter.reason})`);
    console.log(`${label}: adapter ${JSON.stringify(adapter.info)}, isFallbackAdapter ${adapter.is_fallback_adapter}`);
    if (!ready || !adapter.available) return;
    const cases = [
      { file: DENSE, backend: 'webgpu', dense: false, images: [0, 1] },
      { file: DENSE, backend: 'auto', dense: false, images: [0] },
      { file: PRUNED, backend: 'webgpu', dense: false, images: [0, 1] },
      { file: PRUNED, backend: 'auto', dense: false, images: [0] },
      { file: PRUNED, backend: 'webgpu', dense: true, images: [0] },
    ];
    for (const c of cases) {
      const at = `${label}: ${c.file} backend '${c.backend}'${c.dense ? ' dense plan' : ''}`;
      const r = await page.evaluate(openAndCompare, { ...c, inputs: INPUTS });
      if (!check(!r.error, `${at}: ${r.error}`)) continue;
      check(r.ran === 'webgpu', `${at}: m.backend() is '${r.ran}', expected 'webgpu' (fallback: ${r.fallback})`);
      check(r.fallback === null, `${at}: m.fallback() is ${JSON.stringify(r.fallback)}, expected undefined`);
      for (const run of r.runs) {
        check(run.float32 && run.len === run.want_len, `${at} image ${run.image}: runAsync gave ${run.len} values (float32 ${run.float32}), wasm ${run.want_len}`);
        check(run.diff <= MAX_DIFF, `${at} image ${run.image}: max |Δlogit| vs wasm ${exp(run.diff)} > ${MAX_DIFF}`);
        check(run.top1 === run.want_top1, `${at} image ${run.image}: top-1 ${run.top1}, wasm ${run.want_top1}`);
      }
      console.log(`${at}: ran on ${r.ran}, open ${r.open_ms.toFixed(0)} ms; ` +
        r.runs.map((q) => `image ${q.image}: ${q.run_ms.toFixed(0)} ms, max |Δ| vs wasm ${exp(q.diff)}, top-1 ${q.top1}/${q.want_top1}`).join('; '));
    }
    const unhandled = await page.evaluate(() => window.__unhandled);
    check(unhandled.length === 0, `${label}: unhandled rejections: ${unhandled.join('; ')}`);
    check(errors.length === 0, `${label}: ${errors.join('; ')}`);
    await page.close();
  } catch (err) {
    check(false, `${label}: exception: ${err.message ?? err}`);
  } finally {
    await browser.close();
  }
}

/** b. WebGPU off: 'auto' falls back to wasm with a reason, 'webgpu' rejects, the page goes on. */
async function checkNoWebgpu(url) {
  const browser = await launchChromium({ webgpu: false });
  try {
    for (const removeGpu of [false, true]) {
      const label = removeGpu ? 'navigator.gpu removed' : 'webgpu off';
      try {
        const { page, errors, ready } = await openPage(browser, url, label, { removeGpu });
        if (!ready) {
          await page.close();
          continue;
        }
        const r = await page.evaluate(noAdapterChecks, { file: DENSE, inputs: INPUTS });
        const expectGpu = removeGpu ? 'undefined' : 'object';
        check(r.navigator_gpu === expectGpu, `${label}: typeof navigator.gpu is ${r.navigator_gpu}, expected ${expectGpu}`);
        check(!r.adapter.available, `${label}: an adapter came back without --enable-unsafe-webgpu (${JSON.stringify(r.adapter.info)})`);
        console.log(`${label}: typeof navigator.gpu ${r.navigator_gpu}; ${r.adapter.reason}`);
        const reason = removeGpu ? /webgpu|navigator\.gpu|adapter/i : /adapter/i;

        const a = r.auto;
        if (check(!a.error, `${label}: backend 'auto' failed: ${a.error}`)) {
          check(a.ran === 'wasm', `${label}: 'auto' ran on '${a.ran}', expected 'wasm'`);
          check(typeof a.fallback === 'string' && reason.test(a.fallback),
            `${label}: 'auto' m.fallback() is ${JSON.stringify(a.fallback)}, expected a reason matching ${reason}`);
          check(a.diff === 0, `${label}: 'auto' logits vs wasm: max |Δ| ${exp(a.diff)}, top-1 ${a.top1}/${a.want_top1}`);
          console.log(`${label}: 'auto' ran on ${a.ran}, fallback "${a.fallback}", max |Δ| vs wasm ${exp(a.diff)}`);
        }

        const w = r.webgpu;
        check(!w.sync_throw, `${label}: Model.open(..., 'webgpu') threw synchronously (${w.name}: ${w.message}), expected a rejected Promise`);
        check(w.sync_throw || w.is_promise, `${label}: Model.open(..., 'webgpu') did not return a Promise`);
        check(!w.resolved, `${label}: Model.open(..., 'webgpu') resolved (runs on ${w.ran}), expected a rejection`);
        if (w.rejected) {
          check(w.is_error, `${label}: 'webgpu' rejected with a non-Error (${w.ctor}: ${w.message})`);
          check(/webgpu/i.test(w.message) && reason.test(w.message),
            `${label}: 'webgpu' rejection message "${w.message}" should name WebGPU and the reason (${reason})`);
          console.log(`${label}: 'webgpu' rejected with ${w.ctor ?? w.name}: "${w.message}"`);
        }

        for (const [name, q, wantFallback] of [['wasm', r.wasm, false], ['auto again', r.auto_again, true]]) {
          if (!check(!q.error, `${label}: after the rejection, '${q.backend}' failed: ${q.error}`)) continue;
          check(q.ran === 'wasm', `${label}: ${name} ran on '${q.ran}', expected 'wasm'`);
          check(wantFallback ? typeof q.fallback === 'string' : q.fallback === null,
            `${label}: ${name} m.fallback() is ${JSON.stringify(q.fallback)}${wantFallback ? ', expected a reason' : ', expected undefined'}`);
          check(q.diff === 0, `${label}: ${name} logits vs wasm: max |Δ| ${exp(q.diff)}, top-1 ${q.top1}/${q.want_top1}`);
        }
        check(r.ui.run_button, `${label}: the page's Run button is gone or disabled`);
        check(r.unhandled.length === 0, `${label}: unhandled rejections: ${r.unhandled.join('; ')}`);
        check(errors.length === 0, `${label}: ${errors.join('; ')}`);
        console.log(`${label}: afterwards 'wasm' and 'auto' still open and run (max |Δ| ${exp(r.wasm.diff)}, ${exp(r.auto_again.diff)})`);
        await page.close();
      } catch (err) {
        check(false, `${label}: exception: ${err.message ?? err}`);
      }
    }
  } finally {
    await browser.close();
  }
}

async function main() {
  const t0 = Date.now();
  linkOrtRuntime(REPO, ORT_WEBGPU_FILES);
  if (linkZooModels(REPO) === 0 || !fs.existsSync(path.join(REPO, `www/models/${PRUNED}.onnx`))) {
    throw new Error('zoo models missing: run make zoo (tools/zoo/build.sh) first');
  }
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  try {
    await checkWebgpu(url);
    await checkNoWebgpu(url);
  } finally {
    server.close();
  }
  return testVerdict('tests/browser/gpu.mjs', failures, t0);
}

exitWith(main);
