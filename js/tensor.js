// Small array helpers the engine and the pages share: comparing outputs (maxAbsDiff), reading a
// classifier's output (argmax, topK, probabilities). Plain loops over any array-like of numbers.

/** max |a[i] - b[i]|; Infinity when the lengths differ or a difference is NaN (never "close"). */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** The index of the largest value (the first one on ties); -1 for an empty array. */
export function argmax(xs) {
  if (!xs.length) return -1;
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** The indices of the `k` largest values, largest first; ties keep the lower index first. */
export function topK(xs, k) {
  return Array.from({ length: xs.length }, (_, i) => i)
    .sort((i, j) => xs[j] - xs[i] || i - j)
    .slice(0, Math.max(0, k));
}

/** softmax(y) in float64, computed from y - max(y) so large logits do not overflow. */
export function softmax(y) {
  let max = -Infinity;
  for (const v of y) max = Math.max(max, v);
  const p = new Float64Array(y.length);
  let total = 0;
  for (let i = 0; i < y.length; i++) total += p[i] = Math.exp(y[i] - max);
  for (let i = 0; i < y.length; i++) p[i] /= total;
  return p;
}

/** Probabilities: the outputs themselves when they already are a distribution, else softmax. */
export function probabilities(y) {
  let [sum, min] = [0, Infinity];
  for (const v of y) {
    sum += v;
    min = Math.min(min, v);
  }
  return min >= 0 && Math.abs(sum - 1) < 1e-3 ? Float64Array.from(y) : softmax(y);
}
