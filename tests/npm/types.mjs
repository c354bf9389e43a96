#!/usr/bin/env node
// The package's types (make test-npm): the packed tarball installed into an empty project, and a
// TypeScript file using the whole API type-checked against it with `tsc --strict` (TypeScript
// 5.9.3 from the dev dependencies). A second file holds mistakes each marked @ts-expect-error:
// tsc fails if any of them type-checks, so the types are checked to reject, not only to accept.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, emptyProjectWithPackage } from './lib.mjs';

const t0 = Date.now();
const dir = emptyProjectWithPackage('types');
const tsc = path.join(REPO, 'node_modules/.bin/tsc');
if (!fs.existsSync(tsc)) throw new Error('node_modules/.bin/tsc missing: run make setup (npm ci)');

fs.writeFileSync(path.join(dir, 'use.ts'), `
import { load, ZeroskipError, detectFeatures, threadSupport, clearCache, isCached, bestIsa, loadWasm,
  fetchWithProgress, decodeImage, preprocess, IMAGENET, maxAbsDiff, argmax, topK, softmax,
  type Model, type Classification, type LoadProgress, type ErrorCode,
  type ActSparsity, type GeneratedToken, type GenerationStats } from 'zeroskip';

async function main(img: ImageData, blob: Blob): Promise<string> {
  const f = detectFeatures();
  const best: 'relaxed' | 'simd128' | null = f.best;
  const clf = await load('models/mobilenet_v2.onnx', {
    kind: 'image-classifier', backend: 'auto', isa: 'auto',
    onProgress: (p: LoadProgress) => console.log(p.phase, p.loaded, p.total, p.fromCache),
  });
  const c: Classification = await clf.classify(img, { topK: 5 });
  const top: number = c.predictions[0].probability;
  const again = await clf.classify(blob);
  const y: Float32Array = await clf.run(new Float32Array(3 * 224 * 224));
  const gen = await load('models/llm/SmolLM2-135M-Instruct.Q4_1.gguf', { kind: 'text-generator' });
  const ctl = new AbortController();
  let text = '';
  const skipped: (number | null)[] = [];
  const g = gen.generate('The capital of France is', {
    maxTokens: 20, temperature: 0, topK: 40, topP: 0.95, seed: 0, signal: ctl.signal,
    onToken: (tk: GeneratedToken) => skipped.push(tk.actSkipped) });
  for await (const t of g) text += t + (g.token?.actZero ?? '');
  const act: ActSparsity | null = gen.act;
  const method: 'teal' | 'wina' | 'gate' | undefined = act?.method;
  const stats: GenerationStats = (await g.result).stats;
  text += String(method) + (act?.target ?? 0) + gen.weightSparsity + (stats.actSkipped ?? 0) + skipped.length;
  // where a text generator runs (WebGPU or WASM), per token and per generation
  const gpu = await load('models/llm/SmolLM2-135M-Instruct.Q4_1.gguf', { kind: 'text-generator', backend: 'webgpu' });
  const where: 'wasm' | 'webgpu' = gpu.backend;
  const adapter: string | null = gpu.adapter;
  const whyNot: string | null = gpu.fallback ?? gpu.info.fallback;
  const infoAdapter: string | null | undefined = gpu.info.adapter;
  const tokenBackend: 'wasm' | 'webgpu' | undefined = g.token?.backend;
  const moved: number | null = stats.switchedAt;
  const gpuSpeed: number | null | undefined = stats.byBackend.webgpu?.tokensPerSecond;
  const prefillOn: 'wasm' | 'webgpu' = stats.prefillBackend;
  text += where + String(adapter) + String(whyNot) + String(infoAdapter) + String(tokenBackend) + String(moved) + String(gpuSpeed) + prefillOn +
    stats.backend + String(stats.fallback) + String(stats.adapter);
  const any: Model = await load(new Uint8Array(8));
  if (any instanceof Object && 'classify' in any) await any.classify(img);
  try {
    await load('x.onnx', { backend: 'webgpu' });
  } catch (e) {
    if (e instanceof ZeroskipError) {
      const code: ErrorCode = e.code;
      console.log(code, e.message);
    }
  }
  const zs = await loadWasm(bestIsa());
  const info: string = zs.buildInfo();
  const bytes: Uint8Array = await fetchWithProgress('models/mobilenet_v2.onnx', { onProgress: (l: number, t: number) => console.log(l, t), cache: true, signal: ctl.signal });
  const px = await decodeImage(blob);
  const { tensor, crop } = preprocess(px, { size: 224, resize: 256, mean: IMAGENET.mean, std: IMAGENET.std });
  const close: boolean = maxAbsDiff(tensor, y) < 1e-3 && argmax(y) === topK(softmax(y), 1)[0];
  text += info + bytes.length + crop.length + close;
  await clearCache();
  const cached: boolean = await isCached('models/mobilenet_v2.onnx');
  const wasmBytes: number = (await clf.memory()).wasmBytes;
  text += wasmBytes;
  const threaded = await load('models/mobilenet_v2.onnx', { threads: 2 });
  const auto = await load('models/mobilenet_v2.onnx', { threads: 'auto' });
  const n: number = threaded.threads + auto.info.threads;
  const why: string | null = threaded.threadsReason ?? auto.info.threadsReason;
  const support = threadSupport();
  const ok: boolean = support.ok;
  const reason: string | null = support.reason;
  const pool = await loadWasm('simd128', { threads: 2 });
  const granted: number = pool.setThreads(1) + pool.threads();
  text += n + String(why) + ok + String(reason) + granted;
  clf.dispose();
  return text + top + again.predictions.length + y.length + String(best) + cached + clf.backend;
}
void main;
`);
fs.writeFileSync(path.join(dir, 'wrong.ts'), `
import { load, loadWasm } from 'zeroskip';
async function wrong(): Promise<void> {
  // @ts-expect-error: no such backend
  await load('m.onnx', { backend: 'cuda' });
  const gen = await load('m.gguf', { kind: 'text-generator' });
  // @ts-expect-error: maxTokens is a number
  gen.generate('hi', { maxTokens: 'twenty' });
  const clf = await load('m.onnx', { kind: 'image-classifier' });
  // @ts-expect-error: classify takes an image, not a string
  await clf.classify('cat.jpg');
  // @ts-expect-error: a text generator cannot classify
  await gen.classify(new ImageData(1, 1));
  // @ts-expect-error: loadWasm takes a concrete build, not 'auto'
  await loadWasm('auto');
  // @ts-expect-error: threads is a count or 'auto'
  await load('m.onnx', { threads: 'many' });
  // @ts-expect-error: a classifier has no GPU adapter property (text generators do)
  void clf.adapter;
}
void wrong;
`);
fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
  compilerOptions: {
    strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler',
    lib: ['es2022', 'dom', 'dom.iterable'], skipLibCheck: false,
  },
  files: ['use.ts', 'wrong.ts'],
}, null, 1));
try {
  execFileSync(tsc, ['-p', dir], { cwd: dir, stdio: 'pipe' });
} catch (e) {
  console.error(String(e.stdout ?? ''), String(e.stderr ?? ''));
  console.error('npm types test FAILED: tsc rejected the typed usage (or accepted a marked mistake)');
  process.exit(1);
}
console.log(`npm types test: tsc --strict accepts the API's typed use and rejects 7 mistakes (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
