// The WebAssembly builds of the engine and the choice between them: pkg/simd128 and pkg/relaxed
// (one thread), pkg/simd128-threads and pkg/relaxed-threads (+atomics on a shared memory, with a
// pool of Web Workers: thread.js). load() runs models through them; benchmark pages that time the
// raw engine classes (Model, TextGenerator, KernelBench, buildInfo, peakProbe…) take the
// initialised module from loadWasm(). Static imports, so bundlers see and emit every build; the
// package's index.js imports this module only when loadWasm() is called (the worker runs load()).

import * as simd128 from './pkg/simd128/zeroskip.js';
import * as relaxed from './pkg/relaxed/zeroskip.js';
import * as simd128Threads from './pkg/simd128-threads/zeroskip.js';
import * as relaxedThreads from './pkg/relaxed-threads/zeroskip.js';
import { ZeroskipError } from './errors.js';
import { detectFeatures, bestIsa, threadSupport } from './features.js';

const BUILDS = { simd128, relaxed };
const THREADED = { simd128: simd128Threads, relaxed: relaxedThreads };
// `new URL(literal, import.meta.url)`: the form bundlers rewrite to the emitted file.
const THREADED_WASM = {
  simd128: () => new URL('./pkg/simd128-threads/zeroskip_bg.wasm', import.meta.url),
  relaxed: () => new URL('./pkg/relaxed-threads/zeroskip_bg.wasm', import.meta.url),
};
/** The most threads the pool takes, the caller included (src/par's MAX_THREADS). */
const MAX_THREADS = 16;
/** How long the pool's workers may take to start (fetch thread.js and the glue, instantiate). */
const THREAD_START_MS = 30_000;

const ready = {}; // isa → Promise of the initialised one-thread module
const threaded = {}; // isa → Promise of {m, memory, spawned}: one pool per build and realm

/** 'auto' | 'relaxed' | 'simd128' → the build to use here, or a ZeroskipError saying why none. */
export function resolveIsa(isa) {
  const want = isa === 'auto' || !isa ? bestIsa() : isa;
  if (!BUILDS[want]) throw new ZeroskipError('BadInput', `isa must be 'auto', 'relaxed' or 'simd128', not ${JSON.stringify(isa)}`);
  if (!detectFeatures()[want]) throw new ZeroskipError('Unsupported', `this runtime does not support the ${want} build's WebAssembly features (relaxed SIMD: Chrome/Edge 114+)`);
  return want;
}

/**
 * The initialised wasm-bindgen module of the `isa` build (default: bestIsa()).
 *
 * `threads` (default 1): with more than one, and where threadSupport() is ok, the `<isa>-threads`
 * build on a shared memory, with `threads − 1` Web Workers in its pool, and its default thread
 * count set to `threads` (the module's setThreads(n) changes it later, threads() reads it). The
 * pool is started once per build in this realm (page or worker) and lives as long as the realm:
 * a later call gets the same module, and one asking for more threads than were started gets the
 * threads that exist (setThreads returns the count it will use). Where threads are unavailable
 * (not cross-origin isolated, Node…), it returns the one-thread build, does not throw:
 * threadSupport().reason says why, and the module's threads() is 1.
 *
 * `wasmSource(build)`, when given, returns the .wasm bytes of `build` ('simd128', 'relaxed',
 * 'simd128-threads' or 'relaxed-threads'; Node reads them from disk); otherwise the module
 * fetches pkg/<build>/zeroskip_bg.wasm next to its own file.
 */
export async function loadWasm(isa = bestIsa(), { wasmSource, threads = 1 } = {}) {
  const want = resolveIsa(isa);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new ZeroskipError('BadInput', `threads must be an integer ≥ 1, not ${JSON.stringify(threads)}`);
  if (threads > 1 && threadSupport().ok) {
    const pool = await startPool(want, Math.min(threads, MAX_THREADS), wasmSource);
    pool.m.setThreads(threads);
    return pool.m;
  }
  ready[want] ??= (async () => {
    const m = BUILDS[want];
    const source = wasmSource ? await wasmSource(want) : undefined;
    await m.default(source === undefined ? undefined : { module_or_path: source });
    return m;
  })().catch((err) => {
    delete ready[want]; // a later call tries again
    throw new ZeroskipError('Unsupported', `could not start the ${want} WebAssembly build (pkg/${want}/zeroskip_bg.wasm; in the zeroskip repository, run make wasm): ${err?.message ?? err}`);
  });
  return ready[want];
}

/** The threaded build of `isa` with its pool: started on the first call, with `threads − 1` workers. */
function startPool(isa, threads, wasmSource) {
  threaded[isa] ??= (async () => {
    const build = `${isa}-threads`;
    const m = THREADED[isa];
    let module;
    try {
      module = wasmSource
        ? await WebAssembly.compile(await wasmSource(build))
        : await WebAssembly.compileStreaming(fetch(THREADED_WASM[isa]()));
      // No memory given: the glue makes the shared memory the module declares (its initial size,
      // the 4 GiB maximum it was linked with); the workers get that one.
      await m.default({ module_or_path: module });
    } catch (err) {
      throw new ZeroskipError('Unsupported', `could not start the ${build} WebAssembly build (pkg/${build}/zeroskip_bg.wasm; in the zeroskip repository, run make wasm): ${err?.message ?? err}`);
    }
    const memory = (await m.default()).memory; // initialised: default() returns the exports
    const spawned = threads - 1;
    await Promise.all(Array.from({ length: spawned }, (_, i) => startThread(isa, module, memory, i)));
    // A worker registers with the pool right after 'ready' (poolWorker's first step): wait until
    // every one has, so that the count asked for is the count the first call gets.
    m.setThreads(threads);
    const t0 = Date.now();
    while (m.threads() < threads) {
      if (Date.now() - t0 > THREAD_START_MS) throw new ZeroskipError('Runtime', `only ${m.threads()} of ${threads} threads joined the ${build} pool in ${THREAD_START_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return { m, memory, spawned };
  })().catch((err) => {
    delete threaded[isa]; // a later call tries again (the workers that did start stay idle)
    throw err;
  });
  return threaded[isa];
}

/** One pool worker (thread.js) on `module` and `memory`: resolves once it is ready. */
function startThread(isa, module, memory, i) {
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(new URL('./thread.js', import.meta.url), { type: 'module', name: `zeroskip-thread-${i + 1}` });
    } catch (err) {
      reject(new ZeroskipError('Unsupported', `could not start a zeroskip thread worker: ${err?.message ?? err}`));
      return;
    }
    const fail = (message) => {
      clearTimeout(timer);
      worker.terminate();
      reject(new ZeroskipError('Runtime', `zeroskip thread ${i + 1} (${isa}-threads) did not start: ${message}`));
    };
    const timer = setTimeout(() => fail(`no answer in ${THREAD_START_MS / 1000} s`), THREAD_START_MS);
    worker.onmessage = ({ data }) => {
      if (data?.type === 'ready') {
        clearTimeout(timer);
        worker.onmessage = null;
        worker.onerror = null;
        resolve(worker);
      } else fail(data?.message ?? 'an unexpected message');
    };
    worker.onerror = (e) => {
      e.preventDefault?.();
      fail(e.message || 'it could not load thread.js or its build (is the package served with its pkg/?)');
    };
    worker.postMessage({ isa, module, memory });
  });
}
