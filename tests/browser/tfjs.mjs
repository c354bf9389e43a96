#!/usr/bin/env node
// Browser test (make test-browser): the TF.js importer in both wasm builds, in headless Chromium,
// through www/tfjs.html's building blocks (window.tfjsBench), against TensorFlow.js itself.
//
// For each build (simd128, relaxed), for handlandmark-sparse, -full and -lite (the same
// model.json + shards TF.js loads, from .cache/zoo/tfjs via www/models/tfjs):
//  - Model.tfjsShardPaths matches the manifest; Model.fromTfjs loads it, with dense = false (our
//    plan) and dense = true (every 1x1/FC layer dense); input dims [1, 224, 224, 3]; outputs()
//    lists exactly the reference's outputs (names, dims, offsets, lengths, sorted by name);
//  - both plans, on all 4 verify inputs (real photos), match TF.js's stored outputs
//    (verify/<name>_outputs.npy, TF.js 4.22 wasm in Node) on every output within the bound
//    www/tfjs.js measured for it (MEASURED_TOL: ~3× the worst error, e.g. 2e-4..6e-4 px for the
//    landmarks; the sigmoid flags as logits, 6e-6..5e-5: handlandmark-sparse's hand flag is
//    ~1.9e-5 on every photo, where a bound on |Δp| could not fail);
//    TF.js in the page equals that reference exactly;
//  - on input 0 they also match live TF.js (wasm backend, 1 thread) in the same page;
//  - handlandmark-sparse's plan puts most 1x1/FC layers on sparse kernels, the dense plan none;
//  - the benchmark page's quick mode runs clean (its own guard included).
// Plus: tfjs.html with an unknown build fails visibly (title 'error'). No speed is asserted.
//
// Needs the zoo (.cache/zoo/tfjs, `make zoo`) and the wasm builds (`make wasm`).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';
import {
  launchChromium, linkTfjsModels, linkTfjsRuntime, runAutorunPage, runTfjsPage, exitWith, testVerdict,
} from '../../bench/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ISAS = ['simd128', 'relaxed'];
const MODELS = ['handlandmark-sparse', 'handlandmark-full', 'handlandmark-lite'];
const QUICK_MODELS = MODELS.slice(0, 2); // what tfjs.html's quick mode runs
const SPARSE_MODEL = 'handlandmark-sparse';
const MIN_SPARSE_SHARE = 0.5; // 86% zeros, its 1x1 convs 80–99.9%: most of them must go sparse
const PAGE_TIMEOUT_MS = 180_000;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

/** In the page: one model, both plans, every verify input vs the stored TF.js outputs, and live TF.js on input 0. */
async function checkModel({ name }) {
  const b = window.tfjsBench;
  const files = await b.loadFiles(name); // also checks Model.tfjsShardPaths against the manifest
  const verify = await b.loadVerify(name);
  const n = verify.inputs.shape[0];
  const dims = [1, ...verify.inputs.shape.slice(1)];
  const layout = verify.meta.outputs;
  const out = { name, n, dims, plans: {}, shard_paths: files.paths, measured: Object.keys(b.MEASURED_TOL[name] ?? {}) };
  let tfjs = null;
  try {
    tfjs = await b.createTfjs(files, dims);
    const x0 = b.npyRow(verify.inputs, 0);
    const live = Float32Array.from(tfjs.run(x0));
    const liveLayout = tfjs.outputs.map((o, j) => ({ ...o, max_abs: layout[j]?.max_abs }));
    out.tfjs_vs_reference = b.compareOutputs(name, layout, b.npyRow(verify.outputs, 0), tfjs.outputs, live);
    for (const dense of [false, true]) {
      const zs = b.createZeroskip('zeroskip', name, files, dense);
      const p = { dense, plan: zs.plan, inputDims: zs.inputDims, outputs: zs.outputs, worst: {}, bad: [] };
      try {
        for (let i = 0; i < n; i++) {
          const got = Float32Array.from(zs.run(b.npyRow(verify.inputs, i)));
          for (const c of b.compareOutputs(name, layout, b.npyRow(verify.outputs, i), zs.outputs, got)) {
            if (c.error) p.bad.push({ input: i, error: c.error });
            else {
              p.worst[c.name] = Math.max(p.worst[c.name] ?? 0, c.max_abs_diff);
              p.tol = { ...p.tol, [c.name]: c.tol };
              p.space = { ...p.space, [c.name]: c.space };
              if (!c.ok) p.bad.push({ input: i, output: c.name, diff: c.max_abs_diff, tol: c.tol });
            }
          }
          if (i === 0) p.vs_live = b.compareOutputs(name, liveLayout, live, zs.outputs, got);
        }
      } finally {
        zs.free();
      }
      out.plans[dense ? 'dense' : 'ours'] = p;
    }
  } finally {
    tfjs?.free();
  }
  return out;
}

const strip = (layout) => JSON.stringify(layout.map(({ name, dims, offset, len }) => ({ name, dims, offset, len })));
const fmtWorst = (p) => Object.entries(p.worst).map(([k, v]) => `${k} ${v.toExponential(1)}/${p.tol[k].toExponential(1)}${p.space[k] === 'logit' ? ' (logit)' : ''}`).join(', ');

async function checkIsa(browser, url, isa) {
  const at = (what) => `${isa}: ${what}`;
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => msg.type() === 'error' && console.error(`[${isa}] ${msg.text()}`));
  page.on('response', (res) => res.status() >= 400 && pageErrors.push(`HTTP ${res.status()} for ${res.url()}`));
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  try {
    await page.goto(`${url}tfjs.html?isa=${isa}`);
    await page.waitForFunction(() => window.tfjsBench !== undefined);
    const has = await page.evaluate(async (i) => {
      await window.tfjsBench.loadZeroskip(i);
      await window.tfjsBench.loadTfjs();
      return window.tfjsBench.hasTfjsImporter();
    }, isa);
    if (!check(has, at('this build has no Model.fromTfjs (the TF.js importer in src/web.rs): run make wasm'))) return;
    for (const name of MODELS) {
      const t0 = Date.now();
      const r = await page.evaluate(checkModel, { name });
      const ref = await page.evaluate(async (m) => (await window.tfjsBench.loadVerify(m)).meta.outputs, name);
      check(r.n === 4, at(`${name}: ${r.n} verify inputs, expected 4`));
      // The same TF.js wasm binary in Node and here: bit-identical (measured 0 on every output, both pages).
      check(r.tfjs_vs_reference.every((c) => c.max_abs_diff === 0),
        at(`${name}: TF.js in the page vs the Node reference: ${JSON.stringify(r.tfjs_vs_reference)}`));
      // Every output needs a measured bound: the fallback rule is loose (www/tfjs.js).
      check(JSON.stringify(r.measured) === JSON.stringify(ref.map((o) => o.name)),
        at(`${name}: MEASURED_TOL lists ${JSON.stringify(r.measured)}, the outputs are ${JSON.stringify(ref.map((o) => o.name))}`));
      console.log(`${isa}: ${name}: TF.js in the page vs the Node reference on input 0: max |Δ| ` +
        r.tfjs_vs_reference.map((c) => (c.error ? c.error : `${c.name} ${c.max_abs_diff.toExponential(1)}`)).join(', '));
      for (const [label, p] of Object.entries(r.plans)) {
        const what = `${name} (${label} plan)`;
        check(JSON.stringify(p.inputDims) === JSON.stringify(r.dims), at(`${what}: inputDims ${JSON.stringify(p.inputDims)}, expected ${JSON.stringify(r.dims)}`));
        check(strip(p.outputs) === strip(ref), at(`${what}: outputs() ${strip(p.outputs)}, expected ${strip(ref)}`));
        check(p.bad.length === 0, at(`${what}: ${p.bad.length} output(s) over tolerance vs the TF.js reference: ${JSON.stringify(p.bad.slice(0, 4))}`));
        check(p.vs_live.every((c) => c.ok), at(`${what}: vs live TF.js on input 0: ${JSON.stringify(p.vs_live)}`));
        console.log(`${isa}: ${what} on ${r.n} inputs: worst max |Δ| / tolerance vs TF.js: ${fmtWorst(p)}; ` +
          `vs live TF.js on input 0 ${p.vs_live.map((c) => (c.error ? c.error : c.max_abs_diff.toExponential(1))).join(' ')}; ` +
          `1x1/FC sparse ${p.plan.sparse_layers} / dense ${p.plan.dense_layers} ${JSON.stringify(p.plan.kernels)}`);
      }
      const ours = r.plans.ours.plan;
      const total = ours.sparse_layers + ours.dense_layers;
      if (name === SPARSE_MODEL) {
        check(total > 0 && ours.sparse_layers >= MIN_SPARSE_SHARE * total,
          at(`${name}: only ${ours.sparse_layers}/${total} 1x1/FC layers on sparse kernels (${JSON.stringify(ours.kernels)})`));
      }
      check(r.plans.dense.plan.sparse_layers === 0, at(`${name}: the dense plan runs ${r.plans.dense.plan.sparse_layers} sparse layers`));
      const sparseKernels = Object.keys(ours.kernels).filter((k) => k.startsWith('spmm_'));
      check(isa === 'relaxed' || sparseKernels.every((k) => !k.includes('relaxed')), at(`simd128 build runs ${sparseKernels}`));
      console.log(`${isa}: ${name} done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } catch (err) {
    check(false, at(`exception: ${err.message ?? err}`));
  } finally {
    await page.close();
  }
  check(pageErrors.length === 0, at(`page errors: ${pageErrors.join('; ')}`));
}

/** The benchmark page itself, quick mode: clean run, every row within tolerance, ratios present. */
async function checkQuickPage(browser, url, isa) {
  const t0 = Date.now();
  const run = await runTfjsPage(browser, url, { isa, mode: 'quick', timeoutMs: PAGE_TIMEOUT_MS });
  const r = run.result;
  check(r !== null && !run.error && run.pageErrors.length === 0,
    `${isa}: tfjs.html quick: ${run.error ?? ''} ${run.pageErrors.join('; ')}`);
  if (!r) return;
  check(r.guard_failures.length === 0, `${isa}: tfjs.html quick guard: ${r.guard_failures.join('; ')}`);
  const engines = new Set(r.rows.map((row) => row.engine));
  check(['zeroskip-' + isa, 'zeroskip-dense-plan', 'tfjs-wasm-1t'].every((e) => engines.has(e)), `${isa}: tfjs.html engines ${[...engines]}`);
  const key = `tfjs-wasm-1t/zeroskip-${isa}`;
  check(QUICK_MODELS.every((m) => r.summary.ratios[m]?.[key] > 0), `${isa}: tfjs.html ratios ${JSON.stringify(r.summary.ratios)}`);
  console.log(`${isa}: tfjs.html quick: ${r.rows.length} rows, ` +
    QUICK_MODELS.map((m) => `${m} ${key} ${r.summary.ratios[m]?.[key]?.toFixed(2)}x`).join(', ') +
    ` (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** A broken run must read as failed: an unknown build sets title 'error'. */
async function checkErrorPath(browser, url) {
  const run = await runAutorunPage(browser, `${url}tfjs.html?isa=bogus&mode=quick&autorun=1`, {
    resultVar: '__tfjsResult', errorVar: '__tfjsError', timeoutMs: 20_000,
  });
  check(run.result === null && /unknown isa/.test(run.error ?? ''), `error path: got ${run.error}`);
  console.log(`error path: tfjs.html?isa=bogus reports "${run.error}"`);
}

async function main() {
  const t0 = Date.now();
  linkTfjsRuntime(REPO);
  const have = linkTfjsModels(REPO);
  const missing = MODELS.filter((m) => !have.includes(m));
  if (missing.length) throw new Error(`TF.js models missing (${missing.join(', ')}): run make zoo (tools/zoo/tfjs.sh) first`);
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  const browser = await launchChromium();
  try {
    for (const isa of ISAS) {
      const before = failures.length;
      await checkIsa(browser, url, isa);
      if (failures.length === before) await checkQuickPage(browser, url, isa);
    }
    await checkErrorPath(browser, url);
  } finally {
    await browser.close();
    server.close();
  }
  return testVerdict('tests/browser/tfjs.mjs', failures, t0);
}

exitWith(main);
