// Small helpers shared by the pages (bench.js, cnn.js, classify.js).

export const $ = (id) => document.getElementById(id);
export const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
/** `x` with `digits` decimals, or an em dash when it is not a finite number. */
export const fmt = (x, digits) => (isNum(x) ? x.toFixed(digits) : '—');
/** a / b, or null unless both are finite and b > 0. */
export const ratio = (a, b) => (isNum(a) && isNum(b) && b > 0 ? a / b : null);
/** Lets the page repaint between measurements. */
export const yieldToPage = () => new Promise((resolve) => setTimeout(resolve, 0));

export function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** Median of the finite values, or null. */
export function median(xs) {
  const s = xs.filter(isNum).sort((a, b) => a - b);
  if (!s.length) return null;
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export function argmax(xs) {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
