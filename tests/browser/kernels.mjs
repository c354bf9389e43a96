#!/usr/bin/env node
// Browser test (make test-browser): both wasm builds run their kernels as real wasm in headless
// Chromium, through the benchmark page in quick mode, and every kernel matches the naive
// reference. Also checks the static server the page is served by. No speed is asserted.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';
import { launchChromium, runBenchPage, exitWith, testVerdict } from '../../bench/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ISAS = ['simd128', 'relaxed'];
// Max |kernel − naive reference| per kernel ISA in quick mode (K ≤ 160): simd128 kernels sum in the
// reference's order without fused multiply-adds, so they match it exactly (measured 0); relaxed
// kernels fuse, measured 4.1e-6 (3.8e-6..4.1e-6 over the 14 kernels). The page's own guard is the
// same per ISA (www/bench.js PROTOCOLS; full mode, K up to 960: measured 1.9e-5 relaxed).
const MAX_ERROR = { simd128: 0, relaxed: 1.2e-5 };
const PAGE_TIMEOUT_MS = 90_000;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

/** GET with the path sent exactly as written (fetch would normalize `..` away). */
function rawGet(url, rawPath) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    http
      .get({ hostname, port, path: rawPath }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      })
      .on('error', reject);
  });
}

async function checkServer(url) {
  const expect = [
    ['/bench.html', 200, 'text/html'],
    ['/bench.js', 200, 'text/javascript'],
    ['/pkg/simd128/zeroskip_bg.wasm', 200, 'application/wasm'],
    ['/no-such-file', 404],
    ['/../Cargo.toml', 403],
    ['/..%2f..%2fetc/passwd', 403],
  ];
  for (const [p, status, type] of expect) {
    const res = await rawGet(url, p);
    check(res.statusCode === status, `server: GET ${p} gave ${res.statusCode}, expected ${status}`);
    if (type) check(res.headers['content-type']?.startsWith(type), `server: ${p} has Content-Type ${res.headers['content-type']}`);
    check(res.headers['cross-origin-opener-policy'] === 'same-origin', `server: ${p} lacks COOP same-origin`);
    check(res.headers['cross-origin-embedder-policy'] === 'require-corp', `server: ${p} lacks COEP require-corp`);
  }
  console.log(`server: ${expect.length} requests checked`);
}

/** Everything asserted about one build's quick run. */
function checkRun(isa, { result, error, pageErrors }) {
  const at = (what) => `${isa}: ${what}`;
  check(!error, at(`page error: ${error}`));
  check(pageErrors.length === 0, at(`uncaught page errors: ${pageErrors.join('; ')}`));
  if (!check(result !== null, at('no window.__benchResult'))) return;

  check(result.isa === isa && result.build.isa === isa, at(`build.isa is ${result.build.isa}`));
  check(result.cross_origin_isolated === true, at('page is not cross-origin isolated (COOP/COEP)'));
  const kernelIsas = new Set(result.build.kernels.map((k) => k.isa));
  check(kernelIsas.has('simd128'), at('build lists no simd128 kernels'));

  const checked = result.checked;
  const bad = checked.filter((c) => !(typeof c.maxError === 'number' && c.maxError <= (MAX_ERROR[c.isa] ?? 0)));
  check(bad.length === 0, at(`kernels over maxError ${JSON.stringify(MAX_ERROR)}: ${bad.map((c) => `${c.kernel}=${c.maxError}`).join(', ')}`));
  check(result.kernel_errors.length === 0, at(`kernel errors: ${JSON.stringify(result.kernel_errors)}`));
  const checkedIsas = new Set(checked.map((c) => c.isa));
  check(checkedIsas.has(isa), at(`no ${isa} kernel was checked against the reference`));
  for (const op of ['gemm', 'spmm']) {
    check(checked.some((c) => c.isa === isa && c.op === op), at(`no ${isa} ${op} kernel was checked`));
  }

  if (isa === 'relaxed') {
    check(kernelIsas.has('relaxed'), at('relaxed build lists no relaxed kernels'));
    const probes = result.peak_probes.filter((p) => p.isa === 'relaxed');
    check(probes.length > 0 && probes.every((p) => p.gflops > 0), at('the relaxed peak probe did not run'));
  }

  const positive = (x) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  check(result.rows.length > 0, at('no rows'));
  for (const r of result.rows) {
    const name = `${r.c_out}x${r.c_in}x${r.hw} ${r.pattern} ${r.sparsity}`;
    check(positive(r.dense_ms) && positive(r.sparse_ms), at(`row ${name}: dense_ms ${r.dense_ms}, sparse_ms ${r.sparse_ms}`));
  }
  // The same-nonzeros comparison (4x1 block kernel vs 32x1 on an unstructured matrix) is
  // measured for every 90% 4x1 row, on two matrices whose nonzero counts agree to rounding.
  const blockRows = result.rows.filter((r) => r.pattern === '4x1' && r.sparsity === 0.9);
  check(blockRows.length > 0, at('no 4x1 rows at 90%'));
  for (const r of blockRows) {
    const name = `${r.c_out}x${r.c_in}x${r.hw} 4x1 0.9`;
    const q = r.same_nnz;
    if (!check(q, at(`row ${name}: no same-nonzeros comparison`))) continue;
    check(
      positive(q.unstructured_ms) && positive(q.block_ms) && positive(q.speedup),
      at(`row ${name}: same_nnz ${JSON.stringify(q)}`),
    );
    check(q.block_kernel === r.nr4_kernel && q.unstructured_kernel === `spmm_f32_32x1__${isa}`, at(`row ${name}: same_nnz kernels`));
    const gap = Math.abs(q.unstructured_nonzeros - q.block_nonzeros) / q.block_nonzeros;
    check(gap <= 0.05, at(`row ${name}: nonzeros ${q.unstructured_nonzeros} vs ${q.block_nonzeros}`));
  }
  check(positive(result.summary.block4_vs_32x1_same_nnz_median_s90), at('summary lacks the same-nonzeros median'));

  const worst = Math.max(...checked.map((c) => c.maxError));
  console.log(
    `${isa}: ${checked.length} kernels checked (${checked.filter((c) => c.isa === isa).length} ${isa}), ` +
      `${sum(checked.map((c) => c.checks))} checks, worst maxError ${worst.toExponential(2)} (bound ${MAX_ERROR[isa]}), ` +
      `${result.rows.length} rows, ${result.elapsed_s.toFixed(1)} s`,
  );
}

/** The harness must see a failing page as failed: an unknown build sets title 'error'. */
async function checkErrorPath(browser, url) {
  const run = await runBenchPage(browser, url, { isa: 'bogus', mode: 'quick', timeoutMs: 20_000 });
  check(run.result === null && /unknown isa/.test(run.error ?? ''), `error path: got ${run.error}`);
  console.log(`error path: bench.html?isa=bogus reports "${run.error}"`);
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

async function main() {
  const t0 = Date.now();
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  const browser = await launchChromium();
  try {
    await checkServer(url);
    for (const isa of ISAS) {
      const run = await runBenchPage(browser, url, {
        isa,
        mode: 'quick',
        timeoutMs: PAGE_TIMEOUT_MS,
        onConsole: (type, text) => type === 'error' && console.error(`[${isa}] ${text}`),
      });
      checkRun(isa, run);
    }
    await checkErrorPath(browser, url);
  } finally {
    await browser.close();
    server.close();
  }
  return testVerdict('tests/browser/kernels.mjs', failures, t0);
}

exitWith(main);
