#!/usr/bin/env node
// TF.js reference outputs for the zoo's TF.js graph models (called by tools/zoo/tfjs.sh).
//
//   node tools/zoo/tfjs_ref.mjs DIR NAME...
//
// For each NAME: loads DIR/NAME.json and its weight shards with @tensorflow/tfjs 4.22 (an
// in-memory IOHandler reading the files: no network), runs every row of
// DIR/verify/NAME_inputs.npy ((N, H, W, C) float32) through model.execute() asking for ALL the
// signature's outputs, and writes
//   DIR/verify/NAME_outputs.npy   float32 (N, total), row i = the outputs for input i, each
//                                 flattened row-major (TF order), concatenated in the order below
//   DIR/verify/NAME_outputs.json  {"model", "backend", "input": {"name", "dims"},
//                                  "outputs": [{"name", "dims", "offset", "len", "max_abs"}, ...]}
// (max_abs = the largest |value| of that output over all N inputs, its scale) with outputs sorted
// by tensor name (JS string order, i.e. by UTF-16 code unit; "Identity:0" <
// "Identity_1:0"). Backend: tfjs-backend-wasm (XNNPACK, SIMD, 1 thread) when it initializes in
// Node, else the pure-JS `cpu` backend; the log and the JSON say which. When wasm is used, input 0
// is also run on `cpu` and the largest |wasm - cpu| per output is recorded ("cpu_max_abs_diff"):
// how far two correct fp32 engines drift apart on these models.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');
const tfWasm = require('@tensorflow/tfjs-backend-wasm');

// ---- .npy (v1.0, '<f4', C order), the same layout src/prune/npy.rs reads and writes ----------

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const [hlen, start] = major === 1 ? [buf.readUInt16LE(8), 10] : [buf.readUInt32LE(8), 12];
  const header = buf.subarray(start, start + hlen).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: dtype must be '<f4': ${header}`);
  if (!/'fortran_order':\s*False/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start + hlen);
  if (body.length !== 4 * count) throw new Error(`${file}: shape ${shape} needs ${4 * count} bytes, has ${body.length}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = body.readFloatLE(4 * i);
  return { shape, data };
}

/** Bytes of a version-1.0 .npy file: header padded with spaces + '\n' to a multiple of 64. */
function npyBytes(shape, data) {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + 4 * data.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], 10 + header.length + 4 * i);
  return out;
}

function writeAtomic(file, bytes) {
  fs.writeFileSync(file + '.tmp', bytes);
  fs.renameSync(file + '.tmp', file);
}

// ---- the model ------------------------------------------------------------------------------

/** An IOHandler over DIR/NAME.json and its shards (manifest order, concatenated). */
function fileHandler(dir, modelJson) {
  return {
    load: async () =>
      tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = [];
        const parts = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
        }
        const all = Buffer.concat(parts);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
      }),
  };
}

/** The input tensor name and the output tensor names (sorted) from the signature. */
function signatureOf(name, modelJson) {
  const sig = modelJson.signature ?? modelJson.userDefinedMetadata?.signature;
  const inputs = Object.values(sig?.inputs ?? {});
  const outputs = Object.values(sig?.outputs ?? {}).map((o) => o.name).sort();
  if (inputs.length !== 1) throw new Error(`${name}.json: expected one signature input, got ${inputs.length}`);
  if (outputs.length === 0) throw new Error(`${name}.json: the signature lists no outputs`);
  return { input: inputs[0].name, outputs };
}

/** Runs one NHWC input; returns [{name, dims, data: Float32Array}] in `outputs` order. */
function runOnce(model, sig, x, dims) {
  const xt = tf.tensor(x, dims, 'float32');
  const ys = model.execute({ [sig.input]: xt }, sig.outputs);
  const list = Array.isArray(ys) ? ys : [ys];
  const res = list.map((t, i) => ({ name: sig.outputs[i], dims: t.shape, data: Float32Array.from(t.dataSync()) }));
  tf.dispose([xt, ...list]);
  return res;
}

async function loadModel(dir, name) {
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  const model = await tf.loadGraphModel(fileHandler(dir, modelJson));
  return { model, sig: signatureOf(name, modelJson) };
}

async function reference(dir, name, backend) {
  const t0 = performance.now();
  const { model, sig } = await loadModel(dir, name);
  const loadMs = performance.now() - t0;
  const inputs = readNpy(path.join(dir, 'verify', `${name}_inputs.npy`));
  const [n, ...dims] = inputs.shape;
  const rowLen = dims.reduce((a, b) => a * b, 1);
  const inDims = [1, ...dims];
  let layout = null;
  let out = null;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) {
    const res = runOnce(model, sig, inputs.data.subarray(i * rowLen, (i + 1) * rowLen), inDims);
    if (!layout) {
      let offset = 0;
      layout = res.map((r) => {
        const o = { name: r.name, dims: r.dims, offset, len: r.data.length };
        offset += r.data.length;
        return o;
      });
      out = new Float32Array(n * offset);
    }
    const total = out.length / n;
    res.forEach((r, j) => {
      if (JSON.stringify(r.dims) !== JSON.stringify(layout[j].dims)) throw new Error(`${name}: ${r.name} changed shape`);
      out.set(r.data, i * total + layout[j].offset);
    });
  }
  const runMs = (performance.now() - t1) / n;
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${name}: output value ${bad} is ${out[bad]}`);
  const total = out.length / n;
  for (const o of layout) {
    // The output's scale: the largest |value| over all inputs (tolerances are relative to it).
    let m = 0;
    for (let i = 0; i < n; i++) for (let k = 0; k < o.len; k++) m = Math.max(m, Math.abs(out[i * total + o.offset + k]));
    o.max_abs = m;
  }
  model.dispose();
  const meta = {
    model: name,
    backend,
    tfjs_version: tf.version.tfjs,
    input: { name: sig.input, dims: inDims },
    outputs: layout,
    rows: n,
    total,
  };
  console.log(`[zoo]   ${name}: ${n} inputs ${JSON.stringify(inDims)} -> ` +
    layout.map((o) => `${o.name} ${JSON.stringify(o.dims)}`).join(', ') +
    ` (${backend}: load ${loadMs.toFixed(0)} ms, ${runMs.toFixed(1)} ms per input)`);
  return { meta, out, inputs, rowLen, inDims };
}

async function initBackend() {
  tf.enableProdMode(); // no debug checks, and no "install tfjs-node" banner when cpu runs in Node
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  try {
    tfWasm.setWasmPaths(dist + path.sep);
    tfWasm.setThreadsCount(1);
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      console.log(`[zoo]   TF.js ${tf.version.tfjs} on the wasm backend (${simd ? 'SIMD' : 'no SIMD'}, ` +
        `${tfWasm.getThreadsCount()} thread) in Node ${process.version}`);
      return 'wasm';
    }
  } catch (err) {
    console.log(`[zoo]   tfjs-backend-wasm failed in Node: ${err?.message ?? err}`);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  console.log(`[zoo]   TF.js ${tf.version.tfjs} on the pure-JS cpu backend (wasm backend unavailable in Node)`);
  return 'cpu';
}

async function main() {
  const [dir, ...names] = process.argv.slice(2);
  if (!dir || names.length === 0) throw new Error('usage: node tools/zoo/tfjs_ref.mjs DIR NAME...');
  const backend = await initBackend();
  const done = [];
  for (const name of names) done.push(await reference(dir, name, backend));

  if (backend === 'wasm') {
    // Cross-check on input 0 with the cpu backend: informational, recorded per output.
    await tf.setBackend('cpu');
    for (const r of done) {
      const { model, sig } = await loadModel(dir, r.meta.model);
      const res = runOnce(model, sig, r.inputs.data.subarray(0, r.rowLen), r.inDims);
      model.dispose();
      res.forEach((o, j) => {
        const lay = r.meta.outputs[j];
        let m = 0;
        for (let k = 0; k < o.data.length; k++) m = Math.max(m, Math.abs(o.data[k] - r.out[lay.offset + k]));
        lay.cpu_max_abs_diff = m;
      });
      console.log(`[zoo]   ${r.meta.model}: max |wasm - cpu| on input 0: ` +
        r.meta.outputs.map((o) => `${o.name} ${o.cpu_max_abs_diff.toExponential(1)}`).join(', '));
    }
  }

  for (const { meta, out } of done) {
    const base = path.join(dir, 'verify', `${meta.model}_outputs`);
    writeAtomic(`${base}.npy`, npyBytes([meta.rows, meta.total], out));
    writeAtomic(`${base}.json`, JSON.stringify(meta, null, 1) + '\n');
  }
  console.log(`[zoo]   wrote ${done.length} x verify/<name>_outputs.{npy,json} (backend ${backend})`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[zoo] ERROR tfjs_ref.mjs: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
