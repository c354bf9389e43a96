// The soak and fault page (tests/browser/soak.mjs drives it): the zeroskip package's public API
// used as an app would, for long enough to see leaks, races and deaths. Each phase is one function
// on window.__soak that the driver calls, so it can measure memory between phases; every phase
// returns what it saw and the driver asserts. Nothing here runs on its own.

import { load, ZeroskipError, decodeImage, preprocess, argmax } from './zeroskip/index.js';

const WORKER = Symbol.for('zeroskip.worker'); // the package's test-only handle on a model's worker
const DEADLINE_MS = 60_000; // one call; a hang becomes a failure, not a timed-out test
const IMAGES = 20;

// The three soak models: two classifiers and a raw session (EfficientNet-Lite0 has its own
// normalisation, models/efficientnet_lite0.json, applied here since a session takes tensors).
const CNN = {
  v2: { url: 'models/mobilenet_v2.onnx', kind: 'image-classifier' },
  s85: { url: 'models/mobilenet_v2_s85.onnx', kind: 'image-classifier' },
  eff: { url: 'models/efficientnet_lite0.onnx', kind: 'session', meta: 'models/efficientnet_lite0.json' },
};

const S = {
  images: [], // ImageData of the sample photos
  tensors: [], // [3, 224, 224] EfficientNet-Lite0 inputs of the same photos
  models: {}, // key → the loaded model
  ref: { v2: [], s85: [], eff: [] }, // key → per image: the first answer of the first load
  loads: { v2: 0, s85: 0, eff: 0 },
  counts: { v2: 0, s85: 0, eff: 0 },
  llm: null,
  llmFile: null,
};

function deadline(p, what, ms = DEADLINE_MS) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** `code` of a ZeroskipError, or a description of anything else (which the driver counts as a failure). */
function codeOf(err) {
  return err instanceof ZeroskipError ? err.code : `untyped ${err?.name}: ${err?.message ?? err}`;
}

const yieldTask = () => new Promise((r) => setTimeout(r, 0));

/** A comparable answer: classifiers' top-5 (index and float64 probability), sessions' logits bits. */
function answer(key, out) {
  if (key === 'eff') return { top1: argmax(out), bits: Array.from(new Uint32Array(out.buffer, out.byteOffset, out.length)).join(',') };
  return { top1: out.predictions[0].index, bits: out.predictions.map((p) => `${p.index}:${p.probability}`).join(' ') };
}

async function infer(key, model, img) {
  const out = key === 'eff' ? await model.run(S.tensors[img]) : await model.classify(S.images[img], { topK: 5 });
  return answer(key, out);
}

async function loadCnn(key) {
  const t0 = performance.now();
  S.models[key] = await deadline(load(CNN[key].url, { backend: 'wasm', kind: CNN[key].kind }), `load ${key}`);
  S.loads[key]++;
  return performance.now() - t0;
}

/**
 * Decodes the sample photos and makes EfficientNet's tensors: the test's own work on this thread
 * (the driver leaves it out of the long-task check).
 */
async function prepare({ images }) {
  const eff = await (await fetch(CNN.eff.meta)).json();
  for (const name of images) {
    const pixels = await decodeImage(await (await fetch(`models/images/${name}`)).blob());
    S.images.push(new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height));
    S.tensors.push(preprocess(pixels, { size: eff.size, mean: eff.mean, std: eff.std }).tensor);
    await yieldTask();
  }
  return S.images.length;
}

/** Loads the three models. */
async function setup() {
  const loadMs = {};
  for (const key of Object.keys(CNN)) loadMs[key] = await loadCnn(key);
  return { images: S.images.length, isa: S.models.v2.isa, loadMs };
}

/**
 * `n` inferences on model `key`, each compared bit for bit with the first answer its image got
 * (the first block sets those). Returns the mismatches, the typed errors and the top-1 per image.
 */
async function cnnBlock({ key, n }) {
  const model = S.models[key];
  const mismatches = [];
  const errors = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const img = S.counts[key] % IMAGES;
    S.counts[key]++;
    try {
      const got = await deadline(infer(key, model, img), `${key} inference`);
      const ref = S.ref[key][img];
      if (!ref) S.ref[key][img] = got;
      else if (got.bits !== ref.bits) mismatches.push({ img, load: S.loads[key], got: got.bits.slice(0, 120), ref: ref.bits.slice(0, 120) });
    } catch (err) {
      errors.push(codeOf(err));
    }
  }
  return { key, n, ms: performance.now() - t0, mismatches, errors, top1: S.ref[key].map((r) => r?.top1 ?? null) };
}

async function memory(key) {
  const m = key === 'llm' ? S.llm : S.models[key];
  return (await deadline(m.memory(), `memory ${key}`)).wasmBytes;
}

async function reload({ key }) {
  S.models[key].dispose();
  return loadCnn(key);
}

/**
 * 50 classify calls on one model at once (images 0..19 in turn): all must resolve, each equal to
 * the sequential answer for its image.
 */
async function concurrent({ key, n }) {
  const model = S.models[key];
  const t0 = performance.now();
  const calls = Array.from({ length: n }, (_, i) => deadline(infer(key, model, i % IMAGES), `concurrent ${i}`).then(
    (got) => ({ i, ok: got.bits === S.ref[key][i % IMAGES].bits }),
    (err) => ({ i, error: codeOf(err) }),
  ));
  const res = await Promise.all(calls);
  return {
    n, ms: performance.now() - t0, resolved: res.filter((r) => !r.error).length,
    equal: res.filter((r) => r.ok).length, errors: res.filter((r) => r.error).map((r) => r.error),
  };
}

// ---- the text generator ---------------------------------------------------------------------

async function llmLoad({ file }) {
  const t0 = performance.now();
  S.llmFile = file;
  S.llm = await deadline(load(`models/llm/${file}`), `load ${file}`, 120_000);
  return { ms: performance.now() - t0, kind: S.llm.kind, fromCache: S.llm.info.fromCache };
}

async function greedy({ prompt, maxTokens }) {
  const r = await deadline(S.llm.complete(prompt, { maxTokens, temperature: 0, stopAtEos: false }), 'greedy generation');
  return { tokens: r.tokens, text: r.text };
}

/** mulberry32: the storm's choices from one seed, so a failure replays. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` generations, each stopped at a random point: an AbortSignal on the k-th token ('token'),
 * after a random delay that may land in the queue or the prefill ('timer'), right after the call
 * ('now'), or by leaving the for-await after k tokens ('stop', the iterator's return: no error).
 * Greedy or sampled at random. An aborted generation must reject with code 'Aborted'; one that
 * ended first (EOS, maxTokens) may resolve.
 */
async function abortStorm({ seed, n, prompt, maxTokens }) {
  const rand = rng(seed);
  const modes = ['token', 'timer', 'now', 'stop'];
  const tally = { aborted: 0, stopped: 0, finished: 0, tokens: 0 };
  const byMode = Object.fromEntries(modes.map((m) => [m, 0]));
  const errors = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const mode = modes[Math.floor(rand() * modes.length)];
    const k = 1 + Math.floor(rand() * 12);
    const delay = rand() * 40;
    const sampled = rand() < 0.5;
    byMode[mode]++;
    const ac = new AbortController();
    const opts = { maxTokens, temperature: sampled ? 0.8 : 0, topK: 40, seed: i, signal: mode === 'stop' ? undefined : ac.signal };
    let seen = 0;
    if (mode === 'token') opts.onToken = () => ++seen === k && ac.abort();
    const g = S.llm.generate(prompt, opts);
    let timer;
    if (mode === 'timer') timer = setTimeout(() => ac.abort(), delay);
    if (mode === 'now') ac.abort();
    try {
      await deadline((async () => {
        let got = 0;
        for await (const _ of g) { // eslint-disable-line no-unused-vars
          if (mode === 'stop' && ++got === k) break;
        }
      })(), `storm ${i} (${mode})`);
      if (mode === 'stop' && g.tokens.length === k) tally.stopped++;
      else tally.finished++;
    } catch (err) {
      const code = codeOf(err);
      if (code === 'Aborted') tally.aborted++;
      else errors.push(`${i} ${mode}: ${code}`);
    } finally {
      clearTimeout(timer);
    }
    tally.tokens += g.tokens.length;
  }
  return { n, seed, ms: performance.now() - t0, byMode, ...tally, errors };
}

// ---- deaths -----------------------------------------------------------------------------------

/**
 * Kills a classifier's worker while its calls are in flight: three classify calls queued, the
 * worker terminated when the first answers (the second is then running). The pending calls and
 * a later call must reject with a ZeroskipError; then a fresh load answers as before.
 */
async function killClassify({ key }) {
  const model = S.models[key];
  const img = 0;
  const calls = [0, 1, 2].map(() => model.classify(S.images[img], { topK: 5 }));
  const settled = calls.map((p) => deadline(p, 'classify on a killed worker').then(() => 'resolved', codeOf));
  await calls[0].catch(() => {});
  model[WORKER].terminate();
  const outcomes = await Promise.all(settled);
  const later = await deadline(model.classify(S.images[img]), 'classify after the kill').then(() => 'resolved', codeOf);
  model.dispose(); // on a dead model: must not throw
  await loadCnn(key);
  const again = await infer(key, S.models[key], img);
  return { outcomes, later, top1: again.top1, equal: again.bits === S.ref[key][img].bits };
}

/** Kills the text generator's worker on the 3rd token of a long generation; then reloads it. */
async function killGenerate({ prompt, maxTokens, refTokens }) {
  const llm = S.llm;
  let tokens = 0;
  const g = llm.generate('Once upon a time, in a land far away,', { maxTokens: 200, onToken: () => ++tokens === 3 && llm[WORKER].terminate() });
  const outcome = await deadline((async () => {
    for await (const _ of g); // eslint-disable-line no-unused-vars
  })(), 'generation on a killed worker').then(() => 'resolved', codeOf);
  const later = await deadline(llm.complete(prompt, { maxTokens: 2 }), 'generate after the kill').then(() => 'resolved', codeOf);
  llm.dispose();
  const { ms } = await llmLoad({ file: S.llmFile });
  const again = await greedy({ prompt, maxTokens });
  return { outcome, tokensBeforeKill: tokens, later, reloadMs: ms, equal: again.tokens.join(',') === refTokens.join(','), text: again.text };
}

/**
 * The driver's negative control for its long-task check: a fixed amount of JavaScript on this
 * thread (`iterations`: about 1 ns each on this project's machine), in a task of its own (a timer:
 * the driver's evaluate() is not a task the observer reports).
 */
function busy({ iterations }) {
  return new Promise((resolve) =>
    setTimeout(() => {
      let x = 1;
      for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      resolve(x);
    }, 0));
}

/** Disposes everything: the driver then expects no zeroskip worker left. */
function disposeAll() {
  for (const m of Object.values(S.models)) m.dispose();
  S.llm?.dispose();
  return true;
}

window.__soak = { prepare, setup, cnnBlock, memory, reload, concurrent, llmLoad, greedy, abortStorm, killClassify, killGenerate, busy, disposeAll };
window.__soakReady = true;
