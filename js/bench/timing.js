// Timing for the benchmark pages and bench/*.mjs: engines timed interleaved (one run each per
// round, the starting engine rotating, so drift and thermal state hit every engine alike),
// medians, and per-round ratios. Shipped as zeroskip/bench/timing.js.

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
/** Lets a page repaint between rounds (a macrotask, not a microtask). */
const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Median of the finite values, or null. */
export function median(xs) {
  const s = xs.filter(isNum).sort((a, b) => a - b);
  if (!s.length) return null;
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** a / b, or null unless both are finite and b > 0. */
export const ratio = (a, b) => (isNum(a) && isNum(b) && b > 0 ? a / b : null);

/** Median of the per-round ratios `num[i] / den[i]`: both sampled in the same round. */
export const pairedRatio = (num, den) => median(num.map((ms, i) => ratio(ms, den[i])));

/** {median_ms, min_ms, max_ms, runs, mean_ms} of one engine's samples (ms). */
export function sampleStats(s) {
  return {
    median_ms: median(s), min_ms: Math.min(...s), max_ms: Math.max(...s), runs: s.length,
    mean_ms: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

/**
 * Runs each engine once on `input` (its first run: the output the correctness checks compare,
 * and first_ms), yielding between engines. `engines`: [{name, run(x) → output}].
 * Returns {outputs: {name: Float32Array}, first: {name: ms}}.
 */
export async function firstRuns(engines, input, onRun = () => {}) {
  const outputs = {};
  const first = {};
  for (const e of engines) {
    const t = performance.now();
    outputs[e.name] = Float32Array.from(await e.run(input));
    first[e.name] = performance.now() - t;
    onRun(e, first[e.name]);
    await yieldToEventLoop();
  }
  return { outputs, first };
}

/**
 * `warmup + runs` rounds; round r times every engine once (`await e.time(input)` → ms), starting
 * with engine r mod n. Warm-up rounds are not kept. `onRound()` runs after every round, then the
 * page gets to repaint. Returns {name: [ms, …]} (runs samples each).
 */
export async function timeInterleaved(engines, input, { warmup, runs }, onRound = () => {}) {
  const samples = Object.fromEntries(engines.map((e) => [e.name, []]));
  for (let r = 0; r < warmup + runs; r++) {
    for (let j = 0; j < engines.length; j++) {
      const e = engines[(r + j) % engines.length];
      const ms = await e.time(input);
      if (r >= warmup) samples[e.name].push(ms);
    }
    onRound(r);
    await yieldToEventLoop();
  }
  return samples;
}

/** `fn()`'s result and its wall time: {value, ms}. */
export async function timed(fn) {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}
