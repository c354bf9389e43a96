#!/usr/bin/env node
// The package's typed errors in Node (make test-npm): `npm pack`'s tarball installed into an empty
// project, imported as 'zeroskip', and every check of the JS API that has no other test driven
// with a bad argument. Each case asserts the ZeroskipError's `code` and the part of its message
// that says what was wrong; the messages are printed (the README's bad-input table quotes them).
//   - load(): an empty file, a TF.js model.json, an unknown kind, the wrong kind for the file (a
//     GGUF and a sparse LLM .zsk as a session/classifier, an ONNX CNN as a text generator), and
//     a model whose input is not a square RGB image as a classifier (a one-node ONNX file written
//     here), an AbortSignal that is already aborted, and network failures against a local
//     server (a 404 for a GGUF, a download cut short, an abort mid-download, a refused connection);
//   - MobileNetV2 (the zoo's ONNX): run() with a Float32Array of the wrong length, classify() with
//     topK < 1 or not an integer, no image, zero-sized pixels, an empty image file, an image file
//     in a runtime that cannot decode images (Node), an already-aborted signal for classify/run,
//     and generate() sent to it (the host's kind check, through the model's channel: the public
//     ImageClassifier has no generate method);
//   - SmolLM2-135M (Q4_1 GGUF, a 16-token context): a prompt longer than the context, an empty
//     prompt, bad maxTokens / seed / topK / topP, an already-aborted signal, classify() and run()
//     sent to it; and afterwards it still generates (no error left it broken).

import fs from 'node:fs';
import path from 'node:path';
import { REPO, emptyProjectWithPackage, runCheckScript } from './lib.mjs';

const t0 = Date.now();
const zoo = path.join(REPO, '.cache/zoo');
for (const f of ['mobilenet_v2.onnx', 'labels.txt', 'llm/SmolLM2-135M-Instruct.Q4_1.gguf', 'llm/SmolLM2-135M-Instruct.nm24-s50-int8.zsk']) {
  if (!fs.existsSync(path.join(zoo, f))) {
    console.error(`tests/npm/errors.mjs: .cache/zoo/${f} missing: run make zoo`);
    process.exit(1);
  }
}
const dir = emptyProjectWithPackage('errors');

const script = `
import assert from 'node:assert/strict';
import http from 'node:http';
import { load, ZeroskipError } from 'zeroskip';
const zoo = ${JSON.stringify(zoo)};
const onnx = zoo + '/mobilenet_v2.onnx';
const gguf = zoo + '/llm/SmolLM2-135M-Instruct.Q4_1.gguf';
const llmZsk = zoo + '/llm/SmolLM2-135M-Instruct.nm24-s50-int8.zsk';
let cases = 0;
/** Awaits a promise (or calls a function returning one) that must reject with this code and a message matching re. */
async function rejects(what, p, code, re) {
  let err = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err, what + ': resolved, expected a ' + code + ' rejection');
  assert.ok(err instanceof ZeroskipError, what + ': not a ZeroskipError: ' + err);
  assert.equal(err.code, code, what + ': code (message: ' + err.message + ')');
  assert.match(err.message, re, what + ': message');
  cases++;
  console.log(what.padEnd(34), code.padEnd(12), err.message);
}
const aborted = () => {
  const ac = new AbortController();
  ac.abort();
  return ac.signal;
};

// ---- load() --------------------------------------------------------------------------------------
await rejects('load: empty file', load(new Uint8Array(0), { name: 'empty.onnx' }), 'BadModel', /^empty\\.onnx: the file is empty$/);
await rejects('load: TF.js model.json', load(new TextEncoder().encode('{"format": "graph-model"}'), { name: 'model.json' }), 'BadModel', /^model\\.json: a TF\\.js model\\.json; load\\(\\) reads ONNX, GGUF and \\.zsk/);
await rejects('load: unknown kind', load(onnx, { kind: 'detector' }), 'BadInput', /^kind must be one of .*'?session'?.*, not "detector"$/);
await rejects('load: GGUF as a session', load(gguf, { kind: 'session' }), 'BadInput', /^SmolLM2-135M-Instruct\\.Q4_1\\.gguf is a language model \\(gguf\\): kind must be 'text-generator'$/);
await rejects('load: LLM .zsk as a classifier', load(llmZsk, { kind: 'image-classifier' }), 'BadInput', /nm24-s50-int8\\.zsk is a language model \\(llm-zsk\\): kind must be 'text-generator'$/);
await rejects('load: ONNX as a text generator', load(onnx, { kind: 'text-generator' }), 'BadInput', /^mobilenet_v2\\.onnx is not a language model$/);
await rejects('load: signal already aborted', load(onnx, { signal: aborted() }), 'Aborted', /^load was aborted$/);

// A model whose input is not a square RGB image, as a classifier: a one-node ONNX file (Relu)
// written here, protobuf by hand (onnx.proto field numbers).
const varint = (n) => { const b = []; for (; n > 127; n >>>= 7) b.push((n & 127) | 128); b.push(n); return b; };
const field = (no, bytes) => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
const num = (no, n) => [...varint(no << 3), ...varint(n)];
const str = (no, s) => field(no, [...new TextEncoder().encode(s)]);
// ValueInfoProto {name 1, type 2: TypeProto {tensor_type 1: {elem_type 1 (FLOAT), shape 2: {dim 1: {dim_value 1}}}}}
const valueInfo = (name, dims) => [...str(1, name), ...field(2, field(1, [...num(1, 1), ...field(2, dims.flatMap((d) => field(1, num(1, d))))]))];
const reluOnnx = (dims) => Uint8Array.from([
  ...num(1, 8), // ir_version
  ...field(8, num(2, 13)), // opset_import {version 13}
  // graph {node 1: {input 1, output 2, name 3, op_type 4}, name 2, input 11, output 12}
  ...field(7, [...field(1, [...str(1, 'input'), ...str(2, 'out'), ...str(3, 'r'), ...str(4, 'Relu')]), ...str(2, 'g'),
    ...field(11, valueInfo('input', dims)), ...field(12, valueInfo('out', []))]),
]);
const sq = await load(reluOnnx([1, 3, 8, 8]), { name: 'ok.onnx', kind: 'session' });
assert.deepEqual(sq.inputShape, [3, 8, 8], 'the hand-written ONNX file loads');
sq.dispose();
await rejects('load: gray model as a classifier', load(reluOnnx([1, 1, 8, 8]), { name: 'gray.onnx', kind: 'image-classifier' }), 'BadInput', /^gray\\.onnx: input \\[1, 8, 8\\] is not a square RGB image; load it with kind 'session'$/);
await rejects('load: 8×6 model as a classifier', load(reluOnnx([1, 3, 8, 6]), { name: 'wide.onnx', kind: 'image-classifier' }), 'BadInput', /^wide\\.onnx: input \\[3, 8, 6\\] is not a square RGB image/);

// Network failures against a local server: a 404 for a GGUF, a body cut short (Content-Length
// 1000, 10 bytes sent, then the connection dropped), an abort while the download stalls, and a
// refused connection once the server is gone.
const server = http.createServer((req, res) => {
  if (req.url === '/short.gguf') {
    res.writeHead(200, { 'Content-Length': '1000' });
    res.write(Buffer.from('GGUF012345'));
    setTimeout(() => res.socket.destroy(), 50);
  } else if (req.url === '/stall.onnx') {
    res.writeHead(200, { 'Content-Length': '1000' });
    res.write(Buffer.alloc(10));
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = 'http://127.0.0.1:' + server.address().port;
await rejects('load: GGUF URL that 404s', load(base + '/nope.gguf'), 'Network', /^could not fetch http:\\/\\/127\\.0\\.0\\.1:\\d+\\/nope\\.gguf: HTTP 404 \\(not found\\)$/);
await rejects('load: download cut short', load(base + '/short.gguf'), 'Network', /^could not download http:\\/\\/127\\.0\\.0\\.1:\\d+\\/short\\.gguf: \\w+/);
const ac = new AbortController();
const onProgress = (p) => p.phase === 'download' && p.loaded > 0 && ac.abort();
await rejects('load: aborted while downloading', load(base + '/stall.onnx', { signal: ac.signal, onProgress }), 'Aborted', /^load was aborted$/);
server.closeAllConnections();
await new Promise((r) => server.close(r));
await rejects('load: connection refused', load(base + '/gone.onnx'), 'Network', /^could not fetch http:\\/\\/127\\.0\\.0\\.1:\\d+\\/gone\\.onnx: \\w+/);

// ---- an image classifier ----------------------------------------------------------------------------
const clf = await load(onnx, { labels: zoo + '/labels.txt' });
assert.equal(clf.kind, 'image-classifier');
const n = 3 * 224 * 224;
await rejects('run: 7 floats', clf.run(new Float32Array(7)), 'BadInput', /^input: expected a Float32Array of 150528 values \\(3×224×224\\), got 7$/);
await rejects('run: n + 1 floats', clf.run(new Float32Array(n + 1)), 'BadInput', /of 150528 values .*, got 150529$/);
const px = { data: new Uint8ClampedArray(8 * 8 * 4).fill(128), width: 8, height: 8 };
await rejects('classify: topK 0', clf.classify(px, { topK: 0 }), 'BadInput', /^topK must be an integer ≥ 1, not 0$/);
await rejects('classify: topK 1.5', clf.classify(px, { topK: 1.5 }), 'BadInput', /^topK must be an integer ≥ 1, not 1\\.5$/);
await rejects('classify: no image', clf.classify(null), 'BadImage', /^no image given$/);
await rejects('classify: 0×0 pixels', clf.classify({ data: new Uint8ClampedArray(0), width: 0, height: 0 }), 'BadImage', /^pixels: 0 bytes for 0×0 RGBA/);
await rejects('classify: pixels of the wrong size', clf.classify({ data: new Uint8ClampedArray(10), width: 8, height: 8 }), 'BadImage', /^pixels: 10 bytes for 8×8 RGBA \\(expected 256\\)$/);
await rejects('classify: empty image file', clf.classify(new Blob([], { type: 'image/png' })), 'BadImage', /^the image file is empty$/);
await rejects('classify: a file in Node', clf.classify(new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' })), 'Unsupported', /^this runtime cannot decode images \\(no OffscreenCanvas\\/createImageBitmap\\)/);
await rejects('classify: signal already aborted', clf.classify(px, { signal: aborted() }), 'Aborted', /^classify was aborted$/);
await rejects('run: signal already aborted', clf.run(new Float32Array(n), { signal: aborted() }), 'Aborted', /^run was aborted$/);
// Aborted right after the call, while classify still awaits the image (the abort event fires
// before the call listens for it): was ignored, resolving with predictions.
{
  const ac = new AbortController();
  const p = clf.classify(px, { signal: ac.signal });
  ac.abort();
  await rejects('classify: aborted right after the call', p, 'Aborted', /^classify was aborted$/);
}
await rejects('generate sent to a classifier', clf._ch.call('generate', { prompt: 'hi', options: {} }), 'BadInput', /^generate\\(\\) needs a text-generator model; this one is a image-classifier$/);
// none of these broke it
const r = await clf.classify(px, { topK: 1 });
assert.equal(r.predictions.length, 1);
clf.dispose();

// ---- a text generator -----------------------------------------------------------------------------
const llm = await load(gguf, { contextLength: 16 });
assert.equal(llm.kind, 'text-generator');
const gen = (prompt, o) => llm.complete(prompt, o);
await rejects('generate: prompt over the context', gen('one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen'), 'BadInput', /^the prompt is \\d+ tokens; the context holds 16$/);
await rejects('generate: empty prompt', gen(''), 'BadInput', /^the prompt is empty$/);
for (const v of [0, -1, 1.5]) await rejects('generate: maxTokens ' + v, gen('Hi', { maxTokens: v }), 'BadInput', new RegExp('^maxTokens must be an integer ≥ 1, not ' + String(v).replace('.', '\\\\.') + '$'));
for (const v of [-1, 0.5]) await rejects('generate: seed ' + v, gen('Hi', { seed: v }), 'BadInput', new RegExp('^seed must be an integer ≥ 0, not ' + String(v).replace('.', '\\\\.') + '$'));
for (const v of [-1, 2.5]) await rejects('generate: topK ' + v, gen('Hi', { topK: v }), 'BadInput', new RegExp('^topK must be an integer ≥ 0 \\\\(0 = off\\\\), not ' + String(v).replace('.', '\\\\.') + '$'));
await rejects('generate: topP 1.5', gen('Hi', { topP: 1.5 }), 'BadInput', /top-p: 1\\.5 is not in \\(0, 1\\]/);
await rejects('generate: signal already aborted', gen('Hi', { signal: aborted() }), 'Aborted', /^generation was aborted$/);
await rejects('classify sent to a text generator', llm._ch.call('classify', { image: { type: 'pixels', ...px }, topK: 1 }), 'BadInput', /^classify\\(\\) needs a image-classifier model; this one is a text-generator$/);
await rejects('run sent to a text generator', llm._ch.call('run', { input: new Float32Array(7) }), 'BadInput', /^run\\(\\) needs a session model; this one is a text-generator$/);
const { stats } = await gen('Hi', { maxTokens: 2 });
assert.equal(stats.tokens, 2, 'still generates after the errors');
llm.dispose();
console.log(cases + ' cases');
console.log('ok');
`;
runCheckScript('tests/npm/errors.mjs', dir, script, t0);
