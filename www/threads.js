// The threads test page (tests/browser/threads.mjs drives it): each check is one function on
// window.__threads that the driver calls and whose answer it asserts. Nothing runs on its own.
//   identical: the raw engine of one threaded build, every given model at 1, 2 and 3 threads,
//              outputs compared as float32 bits (and the plans' kernels, for coverage)
//   unisolated: load() on a page that is not cross-origin isolated (one thread, a reason)
//   stress:    the package API, three models in turn with reloads, memory and answers tracked

import { load, loadWasm, threadSupport, ZeroskipError, decodeImage, preprocess } from './zeroskip/index.js';

const DEADLINE_MS = 60_000; // one call; a hang becomes a failure, not a timed-out test

function deadline(p, what, ms = DEADLINE_MS) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

const bitsOf = (y) => new Uint32Array(y.buffer, y.byteOffset, y.length);
const yieldTask = () => new Promise((r) => setTimeout(r, 0));
const bytesOf = async (url) => {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
};

/** A fixed input of `n` values in [-1, 1] (no two models need the same one). */
function input(n) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.618 + 0.3);
  return x;
}

/** The first index where two bit arrays differ, or -1 (a length difference counts). */
function firstDiff(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Runs `outputs(t)` (the float32 outputs of one model at t threads) for every count and compares
 * each with the first count's, bit for bit. setThreads' answer is recorded: a count the pool
 * cannot give would make the check vacuous.
 */
function compareAcross(zs, counts, outputs) {
  const runs = counts.map((t) => {
    const used = zs.setThreads(t);
    const t0 = performance.now();
    const out = outputs(t).map((y) => Array.from(bitsOf(y)));
    return { t, used, ms: performance.now() - t0, out };
  });
  const ref = runs[0].out;
  const mismatches = [];
  for (const r of runs.slice(1)) {
    r.out.forEach((bits, k) => {
      const at = firstDiff(ref[k], bits);
      if (at >= 0) mismatches.push({ threads: r.t, output: k, at, want: ref[k][at], got: bits[at] });
    });
  }
  return { used: runs.map((r) => r.used), ms: runs.map((r) => Math.round(r.ms)), outputs: ref.length, values: ref.reduce((s, o) => s + o.length, 0), mismatches };
}

/** Every CNN, TF.js model and LLM of `spec` through the raw engine of build `isa`, threaded. */
async function identical({ isa, counts, onnx, tfjs, llm, steps }) {
  const zs = await loadWasm(isa, { threads: Math.max(...counts) });
  const info = JSON.parse(zs.buildInfo());
  const results = [];
  const kernels = new Set();
  const add = (name, fn) => results.push({ name, ...fn() });
  for (const { file, dense } of onnx) {
    const m = zs.Model.fromOnnx(file, await bytesOf(`models/${file}`), dense);
    for (const l of JSON.parse(m.report())) kernels.add(l.kernel);
    const x = input(Array.from(m.inputShape()).reduce((a, b) => a * b, 1));
    add(`${file}${dense ? ' (dense plan)' : ''}`, () => compareAcross(zs, counts, () => [m.run(x)]));
    m.free();
    await yieldTask();
  }
  for (const name of tfjs) {
    const json = await (await fetch(`models/tfjs/${name}.json`)).text();
    const shards = await Promise.all(Array.from(zs.Model.tfjsShardPaths(json)).map((p) => bytesOf(`models/tfjs/${p}`)));
    const m = zs.Model.fromTfjs(name, json, shards, false);
    for (const l of JSON.parse(m.report())) kernels.add(l.kernel);
    const x = input(Array.from(m.inputDims()).reduce((a, b) => a * b, 1));
    add(`tfjs/${name}`, () => compareAcross(zs, counts, () => [m.run(x)]));
    m.free();
    await yieldTask();
  }
  for (const file of llm) {
    const gen = zs.TextGenerator.load(file, await bytesOf(`models/llm/${file}`), 64);
    const names = (v) => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(names) : []);
    for (const k of names(JSON.parse(gen.kernels()))) kernels.add(k);
    const ids = Uint32Array.from([...(gen.bosToAdd() === undefined ? [] : [gen.bosToAdd()]), ...gen.encode('The capital of France is', false)]);
    // Prefill's logits, then `steps` greedy decode steps' (each fed the token before).
    add(`llm/${file}`, () =>
      compareAcross(zs, counts, () => {
        gen.reset();
        let next = gen.prefill(ids);
        const out = [gen.logits()];
        for (let i = 0; i < steps; i++) {
          next = gen.step(next);
          out.push(gen.logits());
        }
        return out;
      }),
    );
    gen.free();
    await yieldTask();
  }
  zs.setThreads(1);
  return { isa, threaded: info.threads, registry: info.kernels.map((k) => k.name), kernels: [...kernels].sort(), results };
}

/** load() on this page, whatever its isolation: what the model says about its threads. */
async function unisolated({ url, threads }) {
  const support = threadSupport();
  const out = { crossOriginIsolated: globalThis.crossOriginIsolated === true, support };
  const model = await deadline(load(url, { backend: 'wasm', kind: 'session', threads }), `load ${url}`);
  try {
    const y = await deadline(model.run(input(model.inputShape.reduce((a, b) => a * b, 1))), 'run');
    Object.assign(out, { threads: model.threads, threadsReason: model.threadsReason, outputs: y.length });
  } finally {
    model.dispose();
  }
  return out;
}

// ---- stress ----------------------------------------------------------------------------------

const S = { images: [], models: {}, ref: {}, loads: {}, counts: {}, spec: null };
const WARM = 5; // inferences into a model's life when its memory is first read

/** Decodes the sample photos (the test's own work on this thread, outside the long-task check). */
async function prepare({ images, effMeta }) {
  const eff = await (await fetch(effMeta)).json();
  S.tensors = [];
  for (const name of images) {
    const pixels = await decodeImage(await (await fetch(`models/images/${name}`)).blob());
    S.images.push(new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height));
    S.tensors.push(preprocess(pixels, { size: eff.size, mean: eff.mean, std: eff.std }).tensor);
    await yieldTask();
  }
  return S.images.length;
}

/** Loads model `key` of the stress spec: {url, kind, threads}. */
async function loadModel(key) {
  const m = S.spec[key];
  S.models[key] = await deadline(load(m.url, { backend: 'wasm', kind: m.kind, threads: m.threads ?? 'auto', contextLength: m.kind === 'text-generator' ? 256 : undefined }), `load ${key}`);
  S.loads[key] = (S.loads[key] ?? 0) + 1;
  return { threads: S.models[key].threads, threadsReason: S.models[key].threadsReason };
}

async function setup({ spec }) {
  S.spec = spec;
  const out = {};
  for (const key of Object.keys(spec)) {
    out[key] = await loadModel(key);
    S.ref[key] = [];
    S.counts[key] = 0;
  }
  return out;
}

/** One inference on `key`: a comparable answer (classify: top-5 with probabilities; run: logits bits; generate: token ids). */
async function infer(key) {
  const model = S.models[key];
  const i = S.counts[key]++;
  const kind = S.spec[key].kind;
  if (kind === 'image-classifier') {
    const img = i % S.images.length;
    const r = await model.classify(S.images[img], { topK: 5 });
    return { input: img, answer: r.predictions.map((p) => `${p.index}:${p.probability}`).join(' ') };
  }
  if (kind === 'session') {
    const img = i % S.tensors.length;
    return { input: img, answer: Array.from(bitsOf(await model.run(S.tensors[img]))).join(',') };
  }
  const prompts = S.spec[key].prompts;
  const p = i % prompts.length;
  const { tokens } = await model.complete(prompts[p], { maxTokens: S.spec[key].maxTokens });
  return { input: p, answer: tokens.join(',') };
}

/**
 * `n` inferences, taking the models in turn; a model is disposed and reloaded after every
 * `reloadEvery` of its own inferences; its WebAssembly memory is read WARM inferences into each
 * life and at its end. Every answer must equal the first its input got.
 */
async function stress({ n, reloadEvery }) {
  const keys = Object.keys(S.spec);
  const mismatches = [];
  const errors = [];
  const reloads = [];
  const lives = [];
  const warm = [];
  const threads = new Set();
  for (let i = 0; i < n; i++) {
    const key = keys[i % keys.length];
    try {
      const got = await deadline(infer(key), `${key} inference ${i}`);
      const ref = S.ref[key][got.input];
      if (ref === undefined) S.ref[key][got.input] = got.answer;
      else if (ref !== got.answer) mismatches.push({ key, i, input: got.input, load: S.loads[key], got: got.answer.slice(0, 100), want: ref.slice(0, 100) });
      // Warm: a few inferences into each life, the arena and caches in place.
      if (S.counts[key] % reloadEvery === WARM) warm.push({ key, load: S.loads[key], wasmBytes: (await deadline(S.models[key].memory(), `memory ${key}`)).wasmBytes });
      if (S.counts[key] % reloadEvery === 0) {
        // The memory a model's life ended with: every life runs the same inferences, so a leak
        // shows as a later life ending bigger than the first.
        lives.push({ key, load: S.loads[key], wasmBytes: (await deadline(S.models[key].memory(), `memory ${key}`)).wasmBytes });
        S.models[key].dispose();
        const t0 = performance.now();
        const r = await loadModel(key);
        threads.add(`${key}:${r.threads}`);
        reloads.push({ key, i, ms: Math.round(performance.now() - t0) });
      }
    } catch (err) {
      errors.push(err instanceof ZeroskipError ? `${key}: ${err.code}: ${err.message}` : `${key}: untyped ${err?.name}: ${err?.message ?? err}`);
    }
  }
  return { n, mismatches, errors, reloads, lives, warm, threads: [...threads], counts: { ...S.counts }, loads: { ...S.loads } };
}

/** Each model's WebAssembly memory in bytes now. */
async function memory() {
  const out = {};
  for (const [key, m] of Object.entries(S.models)) out[key] = (await deadline(m.memory(), `memory ${key}`)).wasmBytes;
  return out;
}

function disposeAll() {
  for (const m of Object.values(S.models)) m.dispose();
  S.models = {};
}

/**
 * The long-task check's negative control: `iterations` steps of JavaScript on this thread, in a
 * task of its own (a script the driver evaluates directly is not reported as a long task).
 */
function busy({ iterations }) {
  return new Promise((resolve) =>
    setTimeout(() => {
      let x = 1;
      for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      resolve(x);
    }, 0));
}

window.__threads = { identical, unisolated, prepare, setup, stress, memory, disposeAll, busy };
window.__threadsReady = true;
