#!/usr/bin/env node
// The ONNX operator suite as wasm (make test-npm): every single-op model of tools/zoo/onnx_ops.py
// (in .cache/zoo/onnx_ops, built by make zoo) loaded through the npm package in Node (the
// SIMD128 build, as kind 'session') and run on its input. Each case matches onnxruntime's output
// within the native suite's bound, or, when tests/onnx_ops_refused.json lists it, rejects with a
// BadModel ZeroskipError whose message names the file and says the op is not supported. The
// native side is tests/models/onnx_ops.rs.

import fs from 'node:fs';
import path from 'node:path';
import { REPO, emptyProjectWithPackage, runCheckScript } from './lib.mjs';

const t0 = Date.now();
const ops = path.join(REPO, '.cache/zoo/onnx_ops');
if (!fs.existsSync(path.join(ops, 'cases.json'))) {
  console.error('tests/npm/onnx_ops.mjs: .cache/zoo/onnx_ops/cases.json missing: run make zoo');
  process.exit(1);
}
const dir = emptyProjectWithPackage('onnx-ops');

const script = `
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { load, ZeroskipError } from 'zeroskip';
const ops = ${JSON.stringify(ops)};
const { cases, onnxruntime } = JSON.parse(fs.readFileSync(ops + '/cases.json', 'utf8'));
const refused = JSON.parse(fs.readFileSync(${JSON.stringify(path.join(REPO, 'tests/onnx_ops_refused.json'))}, 'utf8')).refused;
const f32 = (f) => { const b = fs.readFileSync(ops + '/' + f); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); };
// |got - want| <= TOL * max(|want|, 1): the native suite's bound (tests/models/onnx_ops.rs);
// measured here 2.0e-6 (resize_bilinear_asymmetric_x3), as natively
const TOL = 1.4e-5;
let matched = 0, rejected = 0, worst = 0;
const wrong = [];
for (const c of cases) {
  const file = ops + '/' + c.name + '.onnx';
  let model = null, err = null;
  try {
    model = await load(file, { kind: 'session' });
  } catch (e) {
    err = e;
  }
  if (refused.includes(c.name)) {
    if (model) { wrong.push(c.name + ': loads, but is listed as refused'); continue; }
    if (!(err instanceof ZeroskipError) || err.code !== 'BadModel' || !/is not supported/.test(err.message) || !err.message.includes(c.name + '.onnx')) {
      wrong.push(c.name + ': expected a BadModel "not supported" naming the file, got ' + err);
      continue;
    }
    console.log(c.name.padEnd(28), 'refused:', err.message);
    rejected++;
    continue;
  }
  if (!model) { wrong.push(c.name + ': ' + err); continue; }
  const want = f32(c.name + '.out.f32');
  const y = await model.run(f32(c.name + '.in.f32'));
  if (y.length !== want.length) { wrong.push(c.name + ': ' + y.length + ' outputs, onnxruntime has ' + want.length); continue; }
  let e = 0;
  for (let i = 0; i < y.length; i++) e = Math.max(e, Math.abs(y[i] - want[i]) / Math.max(Math.abs(want[i]), 1));
  console.log(c.name.padEnd(28), 'max rel err', e.toExponential(1), '(' + model.isa + ')');
  if (!(e <= TOL)) { wrong.push(c.name + ': error ' + e + ' over ' + TOL); continue; }
  worst = Math.max(worst, e);
  matched++;
  model.dispose?.();
}
assert.deepEqual(wrong, [], wrong.length + ' cases');
assert.equal(rejected, refused.length, 'every refused case is in cases.json');
console.log('onnx ops as wasm: ' + matched + ' of ' + cases.length + ' cases match onnxruntime ' + onnxruntime + ' (worst ' + worst.toExponential(1) + '), ' + rejected + ' refused by name');
console.log('ok');
`;
runCheckScript('tests/npm/onnx_ops.mjs', dir, script, t0);
