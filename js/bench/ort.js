// onnxruntime-web as the benchmark pages run it, at its best here: one thread (the pages time
// every engine single-threaded), no proxy worker, graphOptimizationLevel 'all'; the wasm EP (ORT's
// SIMD build) by default, or the WebGPU EP. Shipped as zeroskip/bench/ort.js; the page passes the
// URL of the ORT bundle it serves (its .wasm files next to it) or an already imported module.

const modules = new Map(); // bundle URL → the configured ort module

/**
 * Imports onnxruntime-web's ESM bundle at `bundle` (a URL: ort.wasm.min.mjs for the wasm EP,
 * ort.webgpu.min.mjs for WebGPU) once and configures it: numThreads 1, proxy off, its wasm files
 * from the bundle's folder, log level 'warning'. An imported module is configured the same way.
 */
export async function loadOrt(bundle) {
  const url = typeof bundle === 'string' || bundle instanceof URL ? new URL(bundle, location.href).href : null;
  if (url && modules.has(url)) return modules.get(url);
  const ort = url ? await import(url) : bundle;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  if (url) ort.env.wasm.wasmPaths = new URL('./', url).href;
  ort.env.logLevel = 'warning';
  if (url) modules.set(url, ort);
  return ort;
}

/**
 * An engine over an ORT session created from `bytes` (the same bytes zeroskip gets): {name,
 * backend, load_ms, session, run(x) → output data, time(x) → ms, free()}; x is fed as
 * float32 [1, ...shape] to the first input, the first output is read back (on the CPU: with the
 * WebGPU EP `run` checks that the output came back to the CPU, as a page reading logits does).
 * `ep`: 'wasm' or 'webgpu'; `sessionOptions` are added to the session's options.
 */
export async function createOrtEngine(ort, bytes, shape, { name, ep = 'wasm', sessionOptions = {} } = {}) {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    ...sessionOptions,
  });
  const load_ms = performance.now() - t0;
  const [inName, outName] = [session.inputNames[0], session.outputNames[0]];
  let tensor = null;
  let tensorData = null;
  // One ort.Tensor per input array, so `time` measures session.run alone.
  const feeds = (x) => {
    if (tensorData !== x) [tensor, tensorData] = [new ort.Tensor('float32', x, [1, ...shape]), x];
    return { [inName]: tensor };
  };
  return {
    name,
    backend: ep,
    load_ms,
    session,
    run: async (x) => {
      const out = (await session.run(feeds(x)))[outName];
      if (ep !== 'wasm' && out.location !== 'cpu') throw new Error(`ort output location ${out.location}, expected cpu`);
      return out.data;
    },
    time: async (x) => {
      const f = feeds(x);
      const t = performance.now();
      await session.run(f);
      return performance.now() - t;
    },
    free: () => session.release(),
  };
}
