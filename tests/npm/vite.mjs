#!/usr/bin/env node
// npm package in a bundled page (make test-npm): `npm pack`'s tarball installed into an empty
// project, a page that does `import { load } from 'zeroskip'` built by Vite (the repo's pinned
// devDependency, through its JS API), the build served with COOP/COEP and opened in headless
// Chromium: it classifies a sample photo with the zoo's MobileNetV2 (in the package's Web
// Worker, which Vite bundles from `new Worker(new URL('./worker.js', import.meta.url))`) and
// must get the label onnxruntime gives, as must decodeImage + preprocess + run() on the page's
// thread; loadWasm() gives the best build. The build must hold the worker, the pool's thread
// worker and the four .wasm builds (one-thread and threaded), and the isolated page's model must
// run on its default thread count (the bundled thread.js and threaded build at work).

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, emptyProjectWithPackage } from './lib.mjs';
import { startServer } from '../../tools/serve.mjs';
import { launchChromium, exitWith, testVerdict } from '../../bench/lib.mjs';

const failures = [];
const check = (ok, what) => ok || failures.push(what);

async function main() {
  const t0 = Date.now();
  const verify = JSON.parse(fs.readFileSync(path.join(REPO, 'www/models/verify.json'), 'utf8'));
  const image = verify.images[0];
  const want = verify.models.mobilenet_v2.per_image[0].top5_label[0];
  const dir = emptyProjectWithPackage('vite');
  console.log(`installed the tarball into ${dir}`);
  const pub = path.join(dir, 'public');
  fs.mkdirSync(pub);
  for (const [from, to] of [['www/models/mobilenet_v2.onnx', 'mobilenet_v2.onnx'], ['www/models/labels.txt', 'labels.txt'], [`www/models/images/${image}`, 'photo.jpg']]) {
    fs.copyFileSync(path.join(REPO, from), path.join(pub, to));
  }
  fs.writeFileSync(path.join(dir, 'index.html'), `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>zeroskip + vite</title></head>
<body><img id="photo" src="/photo.jpg" alt=""><pre id="out">…</pre><script type="module" src="/main.js"></script></body></html>
`);
  fs.writeFileSync(path.join(dir, 'main.js'), `import { load, detectFeatures, ZeroskipError, bestIsa, loadWasm, decodeImage, preprocess, argmax } from 'zeroskip';
const out = document.getElementById('out');
try {
  const clf = await load('/mobilenet_v2.onnx', { labels: '/labels.txt', backend: 'wasm' });
  const blob = await (await fetch('/photo.jpg')).blob();
  const r = await clf.classify(blob, { topK: 5 });
  const img = document.getElementById('photo');
  await img.decode();
  const r2 = await clf.classify(img, { topK: 1 });
  let bad = null;
  try { await clf.classify(new Blob(['nope'], { type: 'text/plain' })); } catch (e) { bad = (e instanceof ZeroskipError) + ':' + e.code; }
  // the building blocks, on the page's thread: decode + PIL-exact preprocess, then the raw build
  const { tensor } = preprocess(await decodeImage(blob), { size: 224 });
  const preTop = argmax(await clf.run(tensor));
  const wasmIsa = JSON.parse((await loadWasm(bestIsa())).buildInfo()).isa;
  window.__result = { top: r.predictions.map((p) => [p.index, p.label]), imgTop: r2.predictions[0].index, backend: r.backend, isa: r.isa, best: detectFeatures().best, bad, preTop, wasmIsa,
    threads: clf.threads, threadsReason: clf.threadsReason, cores: navigator.hardwareConcurrency,
    workers: performance.getEntriesByType('resource').map((e) => e.name).filter((n) => /worker/i.test(n)) };
  out.textContent = JSON.stringify(window.__result, null, 2);
} catch (e) {
  window.__error = String(e && e.stack || e);
  out.textContent = window.__error;
}
`);
  const vite = await import(pathToFileURL(path.join(REPO, 'node_modules/vite/dist/node/index.js')).href);
  await vite.build({ root: dir, logLevel: 'warn', build: { outDir: path.join(dir, 'dist'), emptyOutDir: true } });
  const assets = fs.readdirSync(path.join(dir, 'dist/assets'));
  console.log(`vite ${vite.version} built: ${assets.join(', ')}`);
  check(assets.filter((a) => a.endsWith('.wasm')).length === 4, `expected the four .wasm builds in dist/assets: ${assets}`);
  check(assets.some((a) => /^thread/.test(a)), `expected the pool's thread chunk in dist/assets: ${assets}`);
  check(assets.some((a) => /worker/i.test(a)), `expected a worker chunk in dist/assets: ${assets}`);

  const { server, url } = await startServer({ port: 0, root: path.join(dir, 'dist') });
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(url);
    await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 120_000 });
    const { result, error } = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
    console.log(JSON.stringify(result ?? error));
    check(!error, `page: ${error}`);
    if (result) {
      check(result.top[0][0] === want && /bull mastiff/.test(result.top[0][1]), `top-1 ${JSON.stringify(result.top[0])}, expected ${want}`);
      check(result.imgTop === want, `<img> top-1 ${result.imgTop}`);
      check(result.backend === 'wasm' && result.isa === result.best, `backend ${result.backend} ${result.isa} (best ${result.best})`);
      check(result.bad === 'true:BadImage', `non-image: ${result.bad}`);
      check(result.preTop === want, `decodeImage + preprocess + run(): top-1 ${result.preTop}, expected ${want}`);
      check(result.wasmIsa === result.best, `loadWasm(bestIsa()) is the ${result.wasmIsa} build, best is ${result.best}`);
      check(result.workers.length > 0, 'no worker script was loaded: inference ran on the main thread?');
      const threads = Math.min(4, result.cores);
      check(result.threads === threads && result.threadsReason === null, `the model runs on ${result.threads} threads (${result.threadsReason}), expected ${threads}`);
    }
    check(errors.length === 0, `page errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
    server.close();
  }
  if (!failures.length) fs.rmSync(dir, { recursive: true, force: true });
  else console.error(`project left in ${dir}`);
  return testVerdict('tests/npm/vite.mjs', failures, t0);
}

exitWith(main);
