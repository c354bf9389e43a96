#!/usr/bin/env node
// Browser test (make test-browser): both wasm builds run the real zoo models as wasm in headless
// Chromium, through www/cnn.html's building blocks (window.cnn), and match onnxruntime.
//
// For each build (simd128, relaxed):
//  - mobilenet_v2, mobilenet_v1, efficientnet_lite0 (Model.fromOnnx, dense = false) on all 20
//    verify images: max |logit - onnxruntime-python logit| ≤ the model's MAX_DIFF (7e-5..1.5e-4,
//    ~3× the measured error) and equal top-1, every image;
//  - mobilenet_v2_s90.onnx: the plan runs most 1x1/FC layers on sparse (spmm_*) kernels, and
//    its logits match onnxruntime-web's on the same file (≤ 1.2e-5, same top-1) on every image.
// Plus: cnn.html with an unknown build fails visibly (title 'error'). No speed is asserted.
//
// Needs the zoo (.cache/zoo, `make zoo`) and the wasm builds (`make wasm`).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';
import { launchChromium, linkOrtRuntime, linkZooModels, runAutorunPage, exitWith, testVerdict } from '../../bench/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ISAS = ['simd128', 'relaxed'];
const SPARSE_MODEL = 'mobilenet_v2_s90';
// Max |Δlogit| over the 20 verify images, ~3× the worst measured in either build: vs onnxruntime-
// python for the zoo models, vs onnxruntime-web on the same file for the pruned one.
const MAX_DIFF = {
  mobilenet_v2: 1e-4, //       measured 2.7e-5 simd128, 2.9e-5 relaxed
  mobilenet_v1: 1.5e-4, //     measured 4.0e-5 simd128, 5.1e-5 relaxed
  efficientnet_lite0: 7e-5, // measured 2.2e-5 simd128, 1.9e-5 relaxed
  [SPARSE_MODEL]: 1.2e-5, //   measured 2.9e-6 simd128, 3.8e-6 relaxed
};
const MODELS = ['mobilenet_v2', 'mobilenet_v1', 'efficientnet_lite0'];
const MIN_SPARSE_SHARE = 0.75; // "most" 1x1/FC layers of a 90%-pruned model go sparse
const PAGE_TIMEOUT_MS = 120_000;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

/** In the page: one model against onnxruntime-python's logits on every verify image. */
async function checkZooModel({ model, maxDiff }) {
  const c = window.cnn;
  const bytes = await c.fetchBytes(`models/${model}.onnx`);
  const inputs = c.parseNpy(await c.fetchBytes(`models/verify/${model}_inputs.npy`));
  const logits = c.parseNpy(await c.fetchBytes(`models/verify/${model}_logits.npy`));
  const zs = c.createZeroskip(`zeroskip`, model, bytes, false);
  const out = { model, images: inputs.shape[0], worst: 0, bad: [], plan: zs.plan, inputShape: zs.inputShape };
  try {
    for (let i = 0; i < inputs.shape[0]; i++) {
      const got = await zs.run(c.npyRow(inputs, i));
      const want = c.npyRow(logits, i);
      const diff = c.maxAbsDiff(got, want);
      const [top, wantTop] = [c.argmax(got), c.argmax(want)];
      out.worst = Math.max(out.worst, diff);
      if (!(diff <= maxDiff) || top !== wantTop) out.bad.push({ image: i, diff, top1: top, want_top1: wantTop, len: got.length });
    }
  } finally {
    zs.free();
  }
  return out;
}

/** In the page: a pruned model, our plan vs onnxruntime-web on the same bytes, every image. */
async function checkSparseModel({ model, base, maxDiff }) {
  const c = window.cnn;
  await c.loadOrt();
  const bytes = await c.fetchBytes(`models/${model}.onnx`);
  const inputs = c.parseNpy(await c.fetchBytes(`models/verify/${base}_inputs.npy`));
  const zs = c.createZeroskip('zeroskip', model, bytes, false);
  const ort = await c.createOrt(bytes, inputs.shape.slice(1));
  const out = { model, images: inputs.shape[0], worst: 0, bad: [], plan: zs.plan };
  try {
    for (let i = 0; i < inputs.shape[0]; i++) {
      const x = c.npyRow(inputs, i);
      const got = Float32Array.from(await zs.run(x));
      const want = Float32Array.from(await ort.run(x));
      const diff = c.maxAbsDiff(got, want);
      const [top, wantTop] = [c.argmax(got), c.argmax(want)];
      out.worst = Math.max(out.worst, diff);
      if (!(diff <= maxDiff) || top !== wantTop) out.bad.push({ image: i, diff, top1: top, want_top1: wantTop });
    }
  } finally {
    zs.free();
    ort.free();
  }
  return out;
}

async function checkIsa(browser, url, isa) {
  const at = (what) => `${isa}: ${what}`;
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => msg.type() === 'error' && console.error(`[${isa}] ${msg.text()}`));
  page.on('response', (res) => res.status() >= 400 && pageErrors.push(`HTTP ${res.status()} for ${res.url()}`));
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  try {
    await page.goto(`${url}cnn.html?isa=${isa}`);
    await page.waitForFunction(() => window.cnn !== undefined);
    await page.evaluate((i) => window.cnn.loadZeroskip(i), isa);
    for (const model of MODELS) {
      const t0 = Date.now();
      const r = await page.evaluate(checkZooModel, { model, maxDiff: MAX_DIFF[model] });
      check(r.images === 20, at(`${model}: ${r.images} verify images, expected 20`));
      check(r.bad.length === 0, at(`${model}: ${r.bad.length} image(s) off: ${JSON.stringify(r.bad.slice(0, 3))}`));
      console.log(`${isa}: ${model} on ${r.images} images: worst max |Δlogit| vs onnxruntime ${r.worst.toExponential(2)} (tol ${MAX_DIFF[model].toExponential(1)}), ` +
        `top-1 equal on ${r.images - r.bad.length}/${r.images}; plan 1x1/FC sparse ${r.plan.sparse_layers} / dense ` +
        `${r.plan.dense_layers} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    const t0 = Date.now();
    const s = await page.evaluate(checkSparseModel, { model: SPARSE_MODEL, base: 'mobilenet_v2', maxDiff: MAX_DIFF[SPARSE_MODEL] });
    const total = s.plan.sparse_layers + s.plan.dense_layers;
    check(total > 0 && s.plan.sparse_layers >= MIN_SPARSE_SHARE * total,
      at(`${SPARSE_MODEL}: only ${s.plan.sparse_layers}/${total} 1x1/FC layers on sparse kernels (${JSON.stringify(s.plan.kernels)})`));
    check(s.bad.length === 0, at(`${SPARSE_MODEL} vs ort-web: ${s.bad.length} image(s) off: ${JSON.stringify(s.bad.slice(0, 3))}`));
    const sparseKernels = Object.keys(s.plan.kernels).filter((k) => k.startsWith('spmm_'));
    check(isa === 'relaxed' || sparseKernels.every((k) => !k.includes('relaxed')), at(`simd128 build runs ${sparseKernels}`));
    console.log(`${isa}: ${SPARSE_MODEL}: 1x1/FC sparse ${s.plan.sparse_layers} / dense ${s.plan.dense_layers} ` +
      `(${sparseKernels.join(', ')}); vs onnxruntime-web on ${s.images} images: worst ${s.worst.toExponential(2)} (tol ${MAX_DIFF[SPARSE_MODEL].toExponential(1)}), ` +
      `top-1 equal on ${s.images - s.bad.length}/${s.images} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    check(false, at(`exception: ${err.message ?? err}`));
  } finally {
    await page.close();
  }
  check(pageErrors.length === 0, at(`page errors: ${pageErrors.join('; ')}`));
}

/** A broken run must read as failed: an unknown build sets title 'error'. */
async function checkErrorPath(browser, url) {
  const run = await runAutorunPage(browser, `${url}cnn.html?isa=bogus&mode=quick&autorun=1`, {
    resultVar: '__cnnResult', errorVar: '__cnnError', timeoutMs: 20_000,
  });
  check(run.result === null && /unknown isa/.test(run.error ?? ''), `error path: got ${run.error}`);
  console.log(`error path: cnn.html?isa=bogus reports "${run.error}"`);
}

async function main() {
  const t0 = Date.now();
  linkOrtRuntime(REPO);
  if (linkZooModels(REPO) === 0 || !fs.existsSync(path.join(REPO, `www/models/${SPARSE_MODEL}.onnx`))) {
    throw new Error('zoo models missing: run make zoo (tools/zoo/build.sh) first');
  }
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  const browser = await launchChromium();
  try {
    for (const isa of ISAS) await checkIsa(browser, url, isa);
    await checkErrorPath(browser, url);
  } finally {
    await browser.close();
    server.close();
  }
  return testVerdict('tests/browser/models.mjs', failures, t0);
}

exitWith(main);
