#!/usr/bin/env node
// npm package in Node (make test-npm): `npm pack`'s tarball installed into an empty project,
// imported as 'zeroskip' (the "node" export: WASM, on the calling thread), then
//   - MobileNetV2 (the zoo's dense ONNX): run() on the reference tensor of photo 0 gives the
//     label onnxruntime gives, and classify() on RGBA pixels of that photo agrees;
//   - SmolLM2-135M (Q4_1 GGUF): 20 greedy tokens of "The capital of France is" contain "Paris",
//     and its activation sparsity reads as none (act null, 0 skipped per decoded token); Node has
//     no WebGPU: backend 'auto' runs WASM and says why (fallback), 'webgpu' rejects with NoWebGPU;
//   - a generator that moves from WebGPU to WASM mid-generation (TextGenerator.open mocked: a
//     WASM generator that reports 'webgpu' until its third decode step, as a lost device does):
//     the tokens say which backend produced them, the stats and the model show the move and
//     why, and the text is the plain WASM run's;
//   - typed errors: a corrupt model (BadModel), an aborted generation (Aborted);
//   - threads: asked for 4, the model runs on one, with Node's reason and no error;
//   - the pages' building blocks: preprocess() of those pixels gives the reference tensor back,
//     and the raw engine from loadWasm() computes what run() did; an engine error's own code
//     reaches the ZeroskipError.
// It runs a script inside the temp project, so 'zeroskip' resolves as it would for a user.

import fs from 'node:fs';
import path from 'node:path';
import { REPO, emptyProjectWithPackage, runCheckScript } from './lib.mjs';

const t0 = Date.now();
const dir = emptyProjectWithPackage('node');
const installed = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules/zeroskip/package.json'), 'utf8'));
console.log(`installed zeroskip ${installed.version} into ${dir}`);

const script = `
import assert from 'node:assert/strict';
import { load, ZeroskipError, detectFeatures, argmax, topK, maxAbsDiff, preprocess, loadWasm, bestIsa } from 'zeroskip';
import { readNpy } from ${JSON.stringify(path.join(REPO, 'tests/npm/lib.mjs'))};
const models = ${JSON.stringify(path.join(REPO, 'www/models'))};
const verify = JSON.parse(await (await import('node:fs/promises')).readFile(models + '/verify.json', 'utf8'));
const want = verify.models.mobilenet_v2.per_image[0].top5_label[0];
const f = detectFeatures();
console.log('features', JSON.stringify(f));

const clf = await load(models + '/mobilenet_v2.onnx', { labels: models + '/labels.txt', threads: 4 });
assert.equal(clf.kind, 'image-classifier');
assert.equal(clf.backend, 'wasm');
// Node has no thread pool: one thread, the reason given, no error (asked for 4 here).
assert.equal(clf.threads, 1);
assert.match(clf.threadsReason, /in Node zeroskip runs on one thread/);
const { data } = readNpy(models + '/verify/mobilenet_v2_inputs.npy');
const n = 3 * 224 * 224;
const x = data.slice(0, n);
const y = await clf.run(x);
assert.equal(argmax(y), want, 'run(): top-1 of the reference tensor');
assert.equal(topK(y, 5)[0], want);
// classify(): RGBA pixels of the same 224x224 crop (the tensor, de-normalized).
const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
const rgba = new Uint8ClampedArray(224 * 224 * 4);
for (let i = 0; i < 224 * 224; i++) {
  for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.round((x[c * 224 * 224 + i] * std[c] + mean[c]) * 255);
  rgba[i * 4 + 3] = 255;
}
const r = await clf.classify({ data: rgba, width: 224, height: 224 }, { topK: 5 });
assert.equal(r.predictions.length, 5);
assert.equal(r.predictions[0].index, want, 'classify(): top-1');
assert.match(r.predictions[0].label, /bull mastiff/);
console.log('classify:', r.predictions.slice(0, 3).map((p) => p.label.split(',')[0] + ' ' + (100 * p.probability).toFixed(1) + '%').join(', '),
  '| backend', r.backend, r.isa, r.inferenceMs.toFixed(1), 'ms');
// preprocess() at the crop's own size only normalises: the tensor back. The reference tensor holds
// whole pixel levels (PIL), so the rounding above recovers them exactly and only the normalisation's
// float rounding is left: measured 4.8e-7 (simd128; preprocess() is JS).
const pre = preprocess({ data: rgba, width: 224, height: 224 }, { size: 224, resize: 224 });
const dPre = maxAbsDiff(pre.tensor, x);
console.log('preprocess() vs the reference tensor: max |Δ|', dPre.toExponential(2));
assert.ok(dPre <= 2e-6, 'preprocess(): the reference tensor');
const zs = await loadWasm(bestIsa());
assert.equal(JSON.parse(zs.buildInfo()).isa, bestIsa());
const raw = zs.Model.fromOnnx('mobilenet_v2.onnx', await (await import('node:fs/promises')).readFile(models + '/mobilenet_v2.onnx'), false);
const dRaw = maxAbsDiff(raw.run(x), y);
console.log('loadWasm() raw Model vs run(): max |Δ|', dRaw);
assert.equal(dRaw, 0, 'loadWasm(): the raw Model computes what run() did (the same build: exactly, measured 0)');
raw.free();
// An engine error's own code (set from the Rust error variant) is the ZeroskipError's code; one
// without a code gets the operation's fallback (BadModel for load).
const open = zs.Model.open;
zs.Model.open = async () => { throw Object.assign(new Error('webgpu backend unavailable: no adapter'), { code: 'NoWebGPU' }); };
await assert.rejects(load(new Uint8Array(64), { backend: 'webgpu' }), (e) => e instanceof ZeroskipError && e.code === 'NoWebGPU');
zs.Model.open = async () => { throw new Error('no code'); };
await assert.rejects(load(new Uint8Array(64)), (e) => e instanceof ZeroskipError && e.code === 'BadModel');
zs.Model.open = open;
clf.dispose();

await assert.rejects(load(new Uint8Array(1000).fill(9), { name: 'corrupt.onnx' }), (e) => e instanceof ZeroskipError && e.code === 'BadModel' && /corrupt\\.onnx/.test(e.message));

const gguf = models + '/llm/SmolLM2-135M-Instruct.Q4_1.gguf';
const llm = await load(gguf);
assert.equal(llm.kind, 'text-generator');
// no WebGPU in Node: 'auto' runs WASM and says why; 'webgpu' is refused
assert.equal(llm.backend, 'wasm');
assert.equal(llm.adapter, null);
assert.match(llm.fallback ?? '', /WebGPU|adapter|navigator\.gpu/i, 'auto without WebGPU: the reason');
console.log('LLM backend auto in Node:', llm.backend, '| fallback:', llm.fallback);
await assert.rejects(load(gguf, { backend: 'webgpu' }), (e) => e instanceof ZeroskipError && e.code === 'NoWebGPU' && /WebGPU/i.test(e.message));
assert.equal(llm.act, null);
assert.equal(llm.weightSparsity, 0);
let text = '';
const skipped = [];
const backends = [];
const g = llm.generate('The capital of France is', { maxTokens: 20, temperature: 0, onToken: (t) => { skipped.push(t.actSkipped); backends.push(t.backend); } });
for await (const t of g) {
  text += t;
  assert.equal(g.token.text, t);
}
assert.match(text, /Paris/);
const { stats } = await g.result;
assert.equal(stats.tokens, 20);
// a dense GGUF skips nothing: null for prefill's token, then 0
assert.deepEqual(skipped, [null, ...new Array(19).fill(0)]);
assert.equal(stats.actSkipped, 0);
assert.deepEqual(backends, new Array(20).fill('wasm'));
assert.equal(stats.backend, 'wasm');
assert.equal(stats.prefillBackend, 'wasm');
assert.equal(stats.switchedAt, null);
assert.equal(stats.byBackend.wasm.tokens, 19);
assert.equal(stats.byBackend.webgpu, undefined);
console.log('generate:', JSON.stringify(text), stats.tokensPerSecond.toFixed(1), 'tok/s');
const ac = new AbortController();
let k = 0;
await assert.rejects((async () => { for await (const _ of llm.generate('Once upon a time', { maxTokens: 50, signal: ac.signal })) if (++k === 2) ac.abort(); })(),
  (e) => e instanceof ZeroskipError && e.code === 'Aborted');
llm.dispose();

// A move from WebGPU to WASM mid-generation, through the whole host and API: a WASM generator
// dressed as a WebGPU one until its third decode step (what a lost device does to a real one).
const realOpen = zs.TextGenerator.open;
const LOST = 'WebGPU: device lost (mocked in tests/npm/node.mjs); the tokens so far re-ran on WASM';
zs.TextGenerator.open = async (name, bytes, ctx) => {
  const gen = await realOpen.call(zs.TextGenerator, name, bytes, ctx, 'wasm');
  let where = 'webgpu';
  let why;
  let steps = 0;
  return new Proxy(gen, {
    get(t, k) {
      if (k === 'backend') return () => where;
      if (k === 'fallback') return () => why;
      if (k === 'adapter') return () => (where === 'webgpu' ? 'mock adapter' : undefined);
      if (k === 'reset') return () => { steps = 0; return t.reset(); };
      if (k === 'stepAsync') {
        return async (id) => {
          if (++steps === 3) [where, why] = ['wasm', LOST];
          return t.stepAsync(id);
        };
      }
      const v = t[k];
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
};
const moving = await load(gguf, { backend: 'webgpu' });
zs.TextGenerator.open = realOpen;
assert.equal(moving.backend, 'webgpu');
assert.equal(moving.adapter, 'mock adapter');
assert.equal(moving.fallback, null);
const seen = [];
const mg = moving.generate('The capital of France is', { maxTokens: 20, temperature: 0, onToken: (t) => seen.push([t.backend, t.actSkipped]) });
let moved = '';
for await (const t of mg) moved += t;
const ms = (await mg.result).stats;
assert.equal(moved, text, 'the moved generation continues the same greedy text');
// prefill's token and 2 decoded on "WebGPU" (activation sparsity not measured: null), then WASM
assert.deepEqual(seen.map(([b]) => b), [...new Array(3).fill('webgpu'), ...new Array(17).fill('wasm')]);
assert.deepEqual(seen.map(([, a]) => a), [null, null, null, ...new Array(17).fill(0)]);
assert.equal(ms.prefillBackend, 'webgpu');
assert.equal(ms.switchedAt, 3);
assert.equal(ms.backend, 'wasm');
assert.equal(ms.fallback, LOST);
assert.equal(ms.adapter, null);
assert.equal(ms.byBackend.webgpu.tokens, 2);
assert.equal(ms.byBackend.wasm.tokens, 17);
assert.equal(ms.actSkipped, 0);
assert.equal(moving.backend, 'wasm');
assert.equal(moving.fallback, LOST);
assert.equal(moving.adapter, null);
console.log('WebGPU → WASM mid-generation: switched at token', ms.switchedAt, '| fallback:', moving.fallback);
moving.dispose();
console.log('ok');
`;
runCheckScript('tests/npm/node.mjs', dir, script, t0);
