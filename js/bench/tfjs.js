// TensorFlow.js as the TF.js benchmark page runs it: the wasm backend (XNNPACK, SIMD) with
// setThreadsCount(1), a graph model loaded from the same model.json and weight shards zeroskip
// imports, model.execute() on every signature output. Shipped as zeroskip/bench/tfjs.js.

let loaded = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src} (run make wasm to fill www/vendor/tfjs)`));
    document.head.append(s);
  });
}

/**
 * TF.js from `dir` (a URL holding tf.min.js, tf-backend-wasm.min.js and the backend's .wasm
 * files; classic scripts: global `tf`, then `tf.wasm`) on its wasm backend with one thread, once
 * per page. `wasm` = 'simd' forces the non-threaded SIMD binary, 'auto' lets TF.js pick.
 * Returns {tf, version, backend, binary, threads, init_ms}.
 */
export async function loadTfjs(dir, { wasm = 'simd' } = {}) {
  if (loaded) return loaded;
  const base = new URL(dir, location.href).href.replace(/\/?$/, '/');
  const t0 = performance.now();
  await loadScript(`${base}tf.min.js`);
  await loadScript(`${base}tf-backend-wasm.min.js`);
  const tf = window.tf;
  if (!tf?.wasm?.setThreadsCount) throw new Error(`${base} did not define tf.wasm (tf-backend-wasm.min.js)`);
  tf.enableProdMode();
  tf.wasm.setWasmPaths(base);
  tf.wasm.setThreadsCount(1);
  if (wasm === 'simd') tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  else if (wasm !== 'auto') throw new Error(`unknown tfjsWasm '${wasm}': expected simd or auto`);
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js could not initialize its wasm backend');
  await tf.ready();
  const [simd, threads] = [await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')];
  const binary = simd && threads ? 'tfjs-backend-wasm-threaded-simd.wasm' : simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
  loaded = { tf, version: tf.version.tfjs, backend: tf.getBackend(), binary, threads: tf.wasm.getThreadsCount(), init_ms: performance.now() - t0 };
  return loaded;
}

/**
 * An engine over a TF.js graph model built from `files` ({jsonText, shards: [Uint8Array],
 * signature: {input, outputs}}) through an in-memory IOHandler: {name, load_ms, outputs (the
 * layout of `run`'s result, known after the first run), run(x) → every output concatenated in
 * signature order, time(x) → ms, free()}. x has the shape `inputDims`.
 */
export async function createTfjsEngine(tf, files, inputDims, { name }) {
  const json = JSON.parse(files.jsonText);
  const sig = files.signature;
  const handler = {
    load: async () =>
      tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const total = files.shards.reduce((n, s) => n + s.length, 0);
        const data = new Uint8Array(total);
        let at = 0;
        for (const s of files.shards) {
          data.set(s, at);
          at += s.length;
        }
        return [manifest.flatMap((g) => g.weights), data.buffer];
      }),
  };
  const t0 = performance.now();
  const model = await tf.loadGraphModel(handler);
  const load_ms = performance.now() - t0;
  let outputs = null;
  const run = (x) => {
    const xt = tf.tensor(x, inputDims, 'float32');
    const ys = model.execute({ [sig.input]: xt }, sig.outputs);
    const list = Array.isArray(ys) ? ys : [ys];
    const parts = list.map((t) => t.dataSync());
    if (!outputs) {
      let offset = 0;
      outputs = list.map((t, j) => {
        const o = { name: sig.outputs[j], dims: t.shape, offset, len: parts[j].length };
        offset += o.len;
        return o;
      });
    }
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.forEach((p, j) => out.set(p, outputs[j].offset));
    tf.dispose([xt, ...list]);
    return out;
  };
  return {
    name,
    load_ms,
    get outputs() {
      return outputs;
    },
    run,
    time: (x) => {
      const t = performance.now();
      run(x);
      return performance.now() - t;
    },
    free: () => model.dispose(),
  };
}
