// wllama (llama.cpp compiled to wasm) as the LLM benchmark page runs it: one thread, CPU only
// (or, with gpuLayers, its layers offloaded to ggml's WebGPU backend, which wllama 3.x's one
// wasm build carries), the model loaded from the same GGUF bytes zeroskip gets, greedy completions timed by
// llama-server's own timings. Shipped as zeroskip/bench/wllama.js; the page passes the URL of
// the wllama ESM bundle it serves (wllama.wasm next to it).

const quietLogger = { debug() {}, log() {}, warn: (...a) => console.warn('[wllama]', ...a), error: (...a) => console.error('[wllama]', ...a) };

/**
 * `bytes` as a File of the origin-private file system: disk-backed, where a File made from
 * memory (new File([bytes])) lives in Chromium's blob storage, which refused (NotReadableError)
 * a second or third ~100 MB model of the wllama list. The plain File where there is no OPFS.
 */
const opfsNames = new Set();
async function opfsFile(name, bytes, log) {
  try {
    const dir = await navigator.storage.getDirectory();
    const handle = await dir.getFileHandle(name, { create: true });
    opfsNames.add(name);
    const w = await handle.createWritable();
    await w.write(bytes);
    await w.close();
    return await handle.getFile();
  } catch (err) {
    log(`OPFS unavailable (${err?.message ?? err}): wllama reads ${name} from memory`);
    return new File([bytes], name);
  }
}

/** Deletes the OPFS copies loadWllama wrote (wllama read them while loading; llama.cpp holds the weights). */
export async function wllamaCleanup() {
  try {
    const dir = await navigator.storage.getDirectory();
    for (const name of opfsNames) await dir.removeEntry(name).catch(() => {});
  } catch {
    // no OPFS: nothing was written
  }
  opfsNames.clear();
}

/**
 * llama.cpp's log lines about where the weights went (its devices, offloaded layers, the model's
 * buffers: "load_tensors: CPU model buffer size = …" when no GPU device was registered), kept
 * from its native log.
 */
const GPU_LINE = /webgpu|wgpu|offload|buffer size|ggml_webgpu/i;

/**
 * wllama from the bundle at `bundle` (its index.js; wllama.wasm in the same folder) with `file`
 * loaded from `bytes`: one thread, `gpuLayers` layers offloaded to WebGPU (default 0: CPU
 * only), context `ctx`, one sequence. Returns {wl, Wllama, loadMs, fileBytes, llamaCppVersion,
 * multithread, threads, addBos, gpuLayers, gpuLog}; gpuLog: with gpuLayers, llama.cpp's native
 * log lines about the GPU (what it found and offloaded). `log` hears about an OPFS fallback.
 */
export async function loadWllama(bundle, file, bytes, { ctx, log = console.log, gpuLayers = 0 }) {
  const url = new URL(bundle, location.href);
  const { Wllama } = await import(url.href);
  const gpuLog = [];
  const keep = (...a) => {
    const line = a.map(String).join(' ');
    if (GPU_LINE.test(line) && gpuLog.length < 40) gpuLog.push(line.trim().slice(0, 300));
  };
  const logger = gpuLayers > 0 ? { ...quietLogger, debug: keep, log: keep, warn: (...a) => (keep(...a), quietLogger.warn(...a)) } : quietLogger;
  const wl = new Wllama({ default: new URL('wllama.wasm', url).href }, { logger, suppressNativeLog: gpuLayers === 0 });
  const blob = await opfsFile(file, bytes, log);
  const t0 = performance.now();
  await wl.loadModel([blob], { n_threads: 1, n_gpu_layers: gpuLayers, n_ctx: ctx, n_parallel: 1 });
  const loadMs = performance.now() - t0;
  return {
    wl,
    loadMs,
    fileBytes: bytes.length,
    llamaCppVersion: Wllama.getLibllamaVersion?.() ?? null,
    multithread: wl.isMultithread(),
    threads: wl.getNumThreads(),
    addBos: wl.mustAddBosToken(),
    gpuLayers,
    gpuLog,
  };
}

/**
 * One greedy completion of `gen` tokens after the prompt `text` via wllama's OAI-style
 * createCompletion (no prompt cache): {prompt_n, cache_n, prefill_ms, decode_ms, decode_n
 * (tokens after the first), predicted_n, predicted_per_second, wall_ms, text, tokens}.
 */
export async function runWllama({ wl }, text, gen) {
  const t0 = performance.now();
  const res = await wl.createCompletion({
    prompt: text, max_tokens: gen, temperature: 0, ignore_eos: true, cache_prompt: false, return_tokens: true, seed: 0,
  });
  const wallMs = performance.now() - t0;
  const t = res.timings;
  if (!t) throw new Error('wllama returned no timings');
  const tokens = res.tokens ?? res.choices?.[0]?.tokens ?? null;
  return {
    prompt_n: t.prompt_n,
    cache_n: t.cache_n,
    prefill_ms: t.prompt_ms,
    decode_ms: t.predicted_ms,
    decode_n: t.predicted_n - 1,
    predicted_n: t.predicted_n,
    predicted_per_second: t.predicted_per_second,
    wall_ms: wallMs,
    text: res.choices?.[0]?.text ?? '',
    tokens: Array.isArray(tokens) ? tokens : null,
  };
}
