// Which WebAssembly binary this runtime can run: relaxed SIMD (fused multiply-add) or plain
// SIMD128. Each check validates a tiny module `() -> v128` whose body uses the feature.

import { ZeroskipError } from './errors.js';

function simdModule(code) {
  const body = [0x00, ...code, 0x0b]; // no locals, code, end
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section
  ]);
}
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)]; // v128.const 0
const F32X4_RELAXED_MADD = [0xfd, 0x85, 0x02]; // f32x4.relaxed_madd (0xfd 0x105)

function validate(bytes) {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

let cached = null;

/** `{simd128, relaxed, webgpu, best}`: webgpu only says navigator.gpu exists (an adapter may not). */
export function detectFeatures() {
  if (!cached) {
    const simd128 = validate(simdModule(V128_ZERO));
    const relaxed = simd128 && validate(simdModule([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, ...F32X4_RELAXED_MADD]));
    const webgpu = typeof navigator === 'object' && navigator !== null && 'gpu' in navigator && !!navigator.gpu;
    cached = Object.freeze({ simd128, relaxed, webgpu, best: relaxed ? 'relaxed' : simd128 ? 'simd128' : null });
  }
  return cached;
}

/** The fastest build this runtime runs: 'relaxed' (relaxed SIMD, Chrome 114+) or 'simd128'. */
export function bestIsa() {
  const best = detectFeatures().best;
  if (!best) throw new ZeroskipError('Unsupported', 'this runtime has no WebAssembly SIMD128; zeroskip needs it (Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)');
  return best;
}

const IN_NODE = typeof process === 'object' && process !== null && !!process.versions?.node && typeof window === 'undefined' && typeof WorkerGlobalScope === 'undefined';

let threadCache = null;

/**
 * Whether this runtime can run the threaded builds (a pool of Web Workers sharing the wasm
 * memory): `{ok: true, reason: null}`, or `{ok: false, reason}` with a sentence saying what is
 * missing. Without it, loadWasm() and load() run on one thread; they do not fail.
 */
export function threadSupport() {
  if (!threadCache) threadCache = Object.freeze(checkThreads());
  return threadCache;
}

function checkThreads() {
  const no = (reason) => ({ ok: false, reason });
  if (IN_NODE) return no('in Node zeroskip runs on one thread (no worker_threads pool yet)');
  // Both checks: a page served without the headers has neither (browsers hide SharedArrayBuffer
  // there), but a browser may also lack it for other reasons (an old Safari, a flag).
  if (globalThis.crossOriginIsolated !== true) {
    return no('the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer and wasm threads are unavailable');
  }
  if (typeof SharedArrayBuffer !== 'function') return no('this browser has no SharedArrayBuffer, so wasm threads are unavailable');
  if (typeof Worker !== 'function') return no('this context cannot start Web Workers (the threads run in workers)');
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(m.buffer instanceof SharedArrayBuffer)) return no('this browser cannot share WebAssembly memory between threads');
  } catch {
    return no('this browser cannot share WebAssembly memory between threads');
  }
  return { ok: true, reason: null };
}
