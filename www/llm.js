// zeroskip vs wllama (llama.cpp in wasm) on a small LLM: the same GGUF bytes, prompt and greedy
// decoding, one thread each.
//
//   llm.html?isas=simd128,relaxed&mode=full|quick&engines=all|zeroskip|wllama&autorun=1
//     [&model=SmolLM2-135M-Instruct.Q4_1.gguf]   a GGUF under models/llm
//     [&variants=A.zsk,B.gguf]                   other files of the model under models/llm
//                                                (sparse .zsk, requantized GGUFs; zeroskip only)
//     [&wllama=A.gguf,B.gguf]                    the GGUFs wllama runs (default: the model)
//     [&prompt=128&gen=64&rounds=3]              override the mode's protocol
//     [&reload=1]                                load each variant for its timed run only, then
//                                                free it (bounded memory: many variants)
//     [&frontier=models/llm/llm_frontier.json]   the frontier chart's data (bench/llm_frontier.mjs)
//     [&webgpu=1]                                issue 15: the model and every variant also on
//                                                WebGPU (zeroskip-webgpu: TextGenerator.open(…,
//                                                'webgpu') in the first build of `isas`, timed
//                                                with benchPrefillAsync / generateGreedyAsync),
//                                                in the same rounds as the WASM builds; rows
//                                                carry backend and adapter
//     [&wllamaGpu=1]                             wllama-webgpu: wllama on each of its GGUFs with
//                                                every layer offloaded (n_gpu_layers 999: its
//                                                ggml-webgpu backend), beside wllama-1t; a load
//                                                that fails is recorded (wllama_webgpu), not fatal
//     [&threads=1|2]                             issue 14: every engine on that many threads: the
//                                                threaded zeroskip builds (a pool of 2 each,
//                                                setThreads(N)), wllama-<N>t (n_threads N: its
//                                                pthreads path, which needs isolation); rows
//                                                carry threads
//
// It fetches models/llm/<model> once (not timed) and hands the same bytes to
//   zeroskip-<isa>  TextGenerator.load (the package's loadWasm(isa), one per build in `isas`)
//   wllama-1t       @wllama/wllama (vendor/wllama), loadModel([Blob]) with n_threads 1,
//                   n_gpu_layers 0 (CPU), n_parallel 1 (one instance per file in `wllama`)
// and each variant (fetched once, loaded once per build, or per run with reload=1; wllama
// cannot read .zsk) to every zeroskip build. Each (file, engine) is one timed entry, labelled
// "<engine> <variant>" (e.g. "zeroskip-relaxed g16-s50-int4", "wllama-1t q4_1"); all entries
// share the rounds below. Ratios (median over rounds of the per-round ratio, "A / B" > 1 when A
// is faster): the dense model's engines against each other, and each variant vs the dense model
// on the same build and vs wllama on the model's GGUF (variant_ratios). Greedy outputs of the
// variants are recorded, not compared. Zeroskip rows also carry the activation sparsity the
// file's thresholds met during the timed decode (act_skipped: the fraction of the linear
// multiply-adds whose weight columns were skipped; act_zero: whose input was zero).
//
// The frontier chart (decode tok/s against held-out perplexity, one marker per point and build,
// wllama's formats apart, the 1.25x-ppl bound as a line) draws bench/results/llm_frontier.json
// (copied to models/llm/llm_frontier.json by the benchmark scripts) and, after a run here, this
// run's speeds with the perplexities of the same variants from that file.
// The prompt: the first `prompt` tokens of models/llm/lee_background.txt under zeroskip's
// tokenizer (the zoo's tokenizer tests check it against the reference); wllama gets the text of
// those tokens and tokenizes it itself (its prompt_n is recorded: it should match).
// Per round, in rotating engine order: a fresh context, prefill of the prompt (timed), then
// greedy decoding (argmax, EOS ignored) of `gen` tokens: the first comes from the prefill's
// logits, the other gen − 1 each cost one forward pass (timed). decode_tok_s = (gen − 1) / decode
// time for both engines (wllama: llama-server's predicted_ms, which spans the same gen − 1
// passes; its own predicted_per_second is kept too: the same number). Prefill uses wllama's
// prompt_ms (prompt_n tokens, one batch). Medians over rounds.
//
// When done it leaves the result in window.__llmResult (rows per BENCH_FORMAT.md `llm.json`)
// and sets document.title = 'done' ('error' and window.__llmError when the page failed).

import { loadWasm } from './zeroskip/index.js';
import { loadWllama as loadWllamaEngine, runWllama, wllamaCleanup } from './zeroskip/bench/wllama.js';
import { $, isNum, fmt, ratio, yieldToPage, el, median, fetchBytes, tableRow, mountBenchPage, SECTIONS } from './util.js';
import { pageThreads, withThreads, loadThreadedBuild, webgpuAdapterInfo, describeAdapter } from './util.js';

const PROTOCOLS = {
  full: { prompt: 128, gen: 128, rounds: 3 },
  quick: { prompt: 32, gen: 16, rounds: 1 },
};
const ISAS = ['simd128', 'relaxed'];
const ENGINE_SETS = ['all', 'zeroskip', 'wllama'];
const THREADS = pageThreads(); // null: no threads parameter, the single-thread page as before
const WLLAMA = withThreads('wllama-1t', THREADS);
const WLLAMA_BUNDLE = 'vendor/wllama/index.js';
/** Build `isa`: the single-thread one, or on a threads=N page the threaded one set to N threads. */
const buildOf = (isa) => (THREADS === null ? loadWasm(isa) : loadThreadedBuild(isa, THREADS));
const zsName = (isa) => `zeroskip-${isa}`;
/** The pseudo-build of the WebGPU entries: zeroskip-webgpu (its CPU side lives in the first build). */
const GPU = 'webgpu';
const WLLAMA_GPU = 'wllama-webgpu';
/** n_gpu_layers for wllama-webgpu: more than the model has, so every layer is offloaded. */
const WLLAMA_GPU_LAYERS = 999;
/** The build whose module hosts the WebGPU generators (set by runAll: the first of `isas`). */
let gpuHost = 'simd128';
const DIR = 'models/llm';
const DEFAULT_MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const DEFAULT_FRONTIER = `${DIR}/llm_frontier.json`;
const CTX = 1024;
const COMPARE_TOKENS = 20;
const WARMUP = { prompt: 8, gen: 4 };
// WebGPU's warm-up compiles the pipelines and touches every buffer: a shorter one does (SwiftShader
// decodes about 0.3 tokens/s here)
const GPU_WARMUP = { prompt: 4, gen: 2 };
const warmupOf = (z) => (z.gpu ? GPU_WARMUP : WARMUP);

const log = (msg) => {
  console.log(msg);
  const pre = $('log');
  if (pre) pre.textContent += `${msg}\n`;
};
const status = (msg) => {
  const s = $('status');
  if (s) s.textContent = msg;
};

/**
 * `SmolLM2-135M-Instruct.Q4_1.gguf` → {model: 'smollm2-135m-instruct', variant: 'q4_1'};
 * `SmolLM2-135M-Instruct.g16-s50-int4.zsk` → {…, variant: 'g16-s50-int4'}.
 */
function modelNames(file) {
  const base = file.replace(/\.(gguf|zsk)$/, '');
  const m = /^(.*)\.([^.]+)$/.exec(base);
  return m ? { model: m[1].toLowerCase(), variant: m[2].toLowerCase() } : { model: base.toLowerCase(), variant: 'unknown' };
}

// ---- engines ----------------------------------------------------------------------------------

/**
 * zeroskip's build `isa` with `file` (a GGUF or a sparse .zsk) loaded: {label, name, isa, file,
 * model, variant, dense, gen, loadMs, kernels, fileBytes, sparsity, act, config}. Every file of
 * a build lives in that build's one wasm instance (the module is imported once).
 */
async function loadZeroskip(isa, file, bytes) {
  const gpu = isa === GPU;
  const zs = await buildOf(gpu ? gpuHost : isa);
  const t0 = performance.now();
  // WebGPU: 'webgpu' rejects (NoWebGPU) rather than fall back, so a row is never WASM's in disguise
  const gen = gpu ? await zs.TextGenerator.open(file, bytes, CTX, 'webgpu') : zs.TextGenerator.load(file, bytes, CTX);
  const loadMs = performance.now() - t0;
  const { model, variant } = modelNames(file);
  const actMethod = typeof gen.actMethod === 'function' ? gen.actMethod() : undefined;
  return {
    label: `${zsName(isa)} ${variant}`,
    name: zsName(isa),
    isa,
    gpu,
    backend: gpu ? gen.backend() : 'wasm',
    adapter: gpu ? gen.adapter() || null : null,
    file,
    model,
    variant,
    dense: !file.endsWith('.zsk'),
    gen,
    loadMs,
    kernels: JSON.parse(gen.kernels()),
    fileBytes: gen.fileBytes(),
    sessionBytes: gen.sessionBytes(),
    sparsity: typeof gen.sparsity === 'function' ? gen.sparsity() : null,
    act: actMethod === undefined ? null : { method: actMethod, target: Number(gen.actTarget().toFixed(6)) },
    config: JSON.parse(gen.config()),
  };
}

/** Bytes of build `isa`'s wasm memory (every model loaded in it). */
async function wasmMemoryBytes(isa) {
  const zs = await buildOf(isa);
  const wasm = await zs.default(); // already initialised: wasm-bindgen hands back its exports
  return wasm?.memory?.buffer?.byteLength ?? null;
}

/**
 * One zeroskip round: {prompt_n, prefill_ms, decode_ms, decode_n, tokens, act_skipped,
 * act_zero} (the activation sparsity the decode met; prefill is dense; not measured on WebGPU:
 * null). A WebGPU generator runs the async twins (the GPU answers through a readback); one that
 * fell back to WASM mid-run (a lost device) is reported, not timed as WebGPU.
 */
async function runZeroskip(z, ids, gen) {
  z.gen.reset();
  z.gen.clearActStats?.();
  const prompt = Uint32Array.from(ids);
  const [prefillMs, first] = z.gpu ? await z.gen.benchPrefillAsync(prompt) : z.gen.benchPrefill(prompt);
  const out = gen <= 1 ? [0] : z.gpu ? await z.gen.generateGreedyAsync(first, gen - 1) : z.gen.generateGreedy(first, gen - 1);
  if (z.gpu && z.gen.backend() !== GPU) throw new Error(`${z.label}: moved to ${z.gen.backend()} during the run (${z.gen.fallback() ?? 'no reason given'})`);
  const act = z.gpu ? [0, null, null] : z.gen.actTotal ? Array.from(z.gen.actTotal()) : [0, null, null];
  return {
    prompt_n: ids.length,
    prefill_ms: prefillMs,
    decode_ms: out[0],
    decode_n: gen - 1,
    tokens: [first, ...Array.from(out.slice(1))],
    act_skipped: act[1],
    act_zero: act[2],
  };
}

/** wllama with the model loaded from the same bytes (one thread, CPU): zeroskip/bench/wllama.js. */
async function loadWllama(file, bytes, { gpu = false } = {}) {
  if (THREADS !== null) await wllamaThreads(THREADS);
  const w = await loadWllamaEngine(WLLAMA_BUNDLE, file, bytes, { ctx: CTX, log, gpuLayers: gpu ? WLLAMA_GPU_LAYERS : 0 });
  if (THREADS !== null && w.threads !== THREADS) throw new Error(`wllama ${file}: ${w.threads} threads (multithread ${w.multithread}), wanted ${THREADS}`);
  const { model, variant } = modelNames(file);
  const name = gpu ? WLLAMA_GPU : WLLAMA;
  return { name, label: `${name} ${variant}`, file, model, variant, gpu, ...w };
}

/**
 * Makes wllama's loadModel use `threads` threads: the package's loadWllama pins n_threads 1, and
 * wllama (3.8) takes n_threads as given (its own default is hardwareConcurrency / 2; 2+ runs its
 * pthreads build in a worker, which needs the page cross-origin isolated). Wraps loadModel of the
 * same module instance loadWllama imports, once per page (until loadWllama takes {threads}).
 */
let wllamaThreadsSet = null;
async function wllamaThreads(threads) {
  if (wllamaThreadsSet === threads) return;
  const { Wllama } = await import(new URL(WLLAMA_BUNDLE, location.href).href);
  const load = Wllama.prototype.loadModel;
  Wllama.prototype.loadModel = function loadModel(files, config = {}) {
    return load.call(this, files, { ...config, n_threads: threads });
  };
  wllamaThreadsSet = threads;
}

// ---- the run ----------------------------------------------------------------------------------

const tokS = (n, ms) => (isNum(ms) && ms > 0 ? (1000 * n) / ms : null);

/** Same first tokens and same leading characters of two greedy outputs. */
function agree(a, b) {
  let same = 0;
  while (same < COMPARE_TOKENS && a.first_ids[same] !== undefined && a.first_ids[same] === b.first_ids[same]) same++;
  let chars = 0;
  while (chars < a.text.length && a.text[chars] === b.text[chars]) chars++;
  return { same_first_tokens: same, of: Math.min(a.first_ids.length, b.first_ids.length), common_prefix_chars: chars };
}

/** Fetches a file once per run of consecutive requests for it (reload mode holds one file's bytes). */
function bytesOnce(first) {
  let held = first;
  return async (file) => {
    if (held?.file !== file) {
      held = null;
      held = { file, bytes: await fetchBytes(`${DIR}/${file}`) };
    }
    return held.bytes;
  };
}

async function runAll(opts) {
  const t0 = performance.now();
  const proto = { ...PROTOCOLS[opts.mode], ...opts.protocol };
  const { model } = modelNames(opts.model);
  const dense = modelNames(opts.model).variant;
  status('fetching the model');
  const bytes = await fetchBytes(`${DIR}/${opts.model}`);
  const corpus = new TextDecoder().decode(await fetchBytes(`${DIR}/lee_background.txt`));
  log(`${opts.model}: ${bytes.length} bytes; corpus ${corpus.length} chars`);

  // zeroskip builds (one is needed anyway: its tokenizer cuts the prompt), the dense model first
  const wasmIsas = opts.engines === 'wllama' ? opts.isas.slice(0, 1) : opts.isas;
  // WebGPU last: the first build's dense model is the tokenizer below
  const isas = [...wasmIsas, ...(opts.webgpu && opts.engines !== 'wllama' ? [GPU] : [])];
  gpuHost = wasmIsas[0];
  const adapter = opts.webgpu || opts.wllamaGpu ? await webgpuAdapterInfo() : null;
  if (adapter) log(`WebGPU adapter: ${describeAdapter(adapter)}`);
  const zs = [];
  for (const isa of isas) {
    status(`loading zeroskip ${isa}`);
    const z = await loadZeroskip(isa, opts.model, bytes);
    log(`${z.label}: load ${fmt(z.loadMs, 0)} ms, sparsity ${fmt(z.sparsity, 3)}, GEMV ${JSON.stringify(z.kernels.gemv)}`);
    zs.push(z);
    await yieldToPage();
  }
  // the variants: each file fetched once and loaded once per build, its bytes then dropped; with
  // reload, loaded (and freed) around each timed run instead, file by file
  const variants = opts.engines === 'wllama' ? [] : [...new Set(opts.variants)].filter((f) => f !== opts.model);
  if (opts.engines === 'wllama' && opts.variants.length) log(`variants ${opts.variants.join(',')} skipped: wllama cannot read .zsk`);
  const zv = []; // {label, isa, file, variant, z (loaded) | null, meta (the first load's z, without gen)}
  const fetchVariant = bytesOnce({ file: opts.model, bytes });
  for (const file of variants) {
    for (const isa of isas) {
      const { variant } = modelNames(file);
      zv.push({ label: `${zsName(isa)} ${variant}`, name: zsName(isa), isa, file, variant, dense: !file.endsWith('.zsk'), z: null, meta: null, loadMs: [] });
    }
  }
  const describe = (z) => `${z.label}: ${z.fileBytes} bytes, load ${fmt(z.loadMs, 0)} ms, sparsity ${fmt(z.sparsity, 3)}, ` +
    `act ${z.act ? `${z.act.method} ${fmt(z.act.target, 2)}` : 'none'}, GEMV ${JSON.stringify(z.kernels.gemv)}`;
  const open = async (v) => {
    const z = await loadZeroskip(v.isa, v.file, await fetchVariant(v.file));
    v.loadMs.push(z.loadMs);
    if (!v.meta) {
      const { gen, ...meta } = z; // eslint-disable-line no-unused-vars
      v.meta = meta;
      log(describe(z));
    }
    return z;
  };
  if (!opts.reload) {
    for (const v of zv) {
      status(`loading ${v.file} on zeroskip ${v.isa}`);
      v.z = await open(v);
      await yieldToPage();
    }
  }
  const memory = {};
  for (const isa of wasmIsas) memory[zsName(isa)] = await wasmMemoryBytes(isa);
  log(`wasm memory: ${Object.entries(memory).map(([k, v]) => `${k} ${fmt(v / 2 ** 20, 0)} MiB`).join(', ')}`);

  const tok = zs[0].gen;
  const bos = tok.bosToAdd();
  const textIds = Array.from(tok.encode(corpus, false)).slice(0, proto.prompt - (bos === undefined ? 0 : 1));
  const ids = bos === undefined ? textIds : [bos, ...textIds];
  const promptText = tok.decodeText(Uint32Array.from(textIds));
  const warmText = tok.decodeText(Uint32Array.from(textIds.slice(0, WARMUP.prompt)));
  log(`prompt: ${ids.length} tokens${bos === undefined ? '' : ' (BOS first)'}, ${promptText.length} chars`);

  // wllama: one instance per GGUF, each loaded once
  const ws = [];
  if (opts.engines !== 'zeroskip') {
    for (const file of [...new Set(opts.wllama.length ? opts.wllama : [opts.model])]) {
      status(`loading wllama ${file}`);
      const w = await loadWllama(file, file === opts.model ? bytes : await fetchBytes(`${DIR}/${file}`));
      log(`${w.label}: load ${fmt(w.loadMs, 0)} ms, llama.cpp ${w.llamaCppVersion}, multithread ${w.multithread}, threads ${w.threads}, add_bos ${w.addBos}`);
      ws.push(w);
    }
  }
  // wllama on WebGPU (its ggml-webgpu backend, every layer offloaded): recorded when it cannot
  const wllamaGpu = { requested: !!opts.wllamaGpu, gpu_layers: WLLAMA_GPU_LAYERS, loaded: [], failed: [] };
  if (opts.wllamaGpu && opts.engines !== 'zeroskip') {
    for (const file of [...new Set(opts.wllama.length ? opts.wllama : [opts.model])]) {
      status(`loading wllama ${file} on WebGPU`);
      try {
        const x = await loadWllama(file, file === opts.model ? bytes : await fetchBytes(`${DIR}/${file}`), { gpu: true });
        log(`${x.label}: load ${fmt(x.loadMs, 0)} ms; its log about the weights: ${x.gpuLog.join(' | ') || '(nothing)'}`);
        // on the GPU only when llama.cpp says so (a WebGPU buffer, or layers offloaded): a load
        // that registered no WebGPU device runs every layer on the CPU, and is not a GPU row
        const onGpu = x.gpuLog.some((l) => /webgpu.*buffer size|offloaded [1-9]\d*\/\d+ layers to GPU/i.test(l));
        if (onGpu) {
          wllamaGpu.loaded.push({ file, load_ms: x.loadMs, gpu_log: x.gpuLog });
          ws.push(x);
        } else {
          const f16 = adapter?.features?.includes('shader-f16');
          const why = `loaded with n_gpu_layers ${WLLAMA_GPU_LAYERS}, but llama.cpp registered no WebGPU device and kept every layer on the CPU ` +
            `(${x.gpuLog.filter((l) => /buffer size/i.test(l)).map((l) => l.replace(/\s+/g, ' ')).join('; ') || 'no buffer lines'}); this adapter ${f16 ? 'has' : 'lacks'} shader-f16` +
            (f16 ? '' : ', which ggml-webgpu is reported to require of its device (a llama.cpp issue; not confirmed in this build)');
          log(`wllama ${file} on WebGPU: ${why}`);
          wllamaGpu.failed.push({ file, error: why, gpu_log: x.gpuLog });
          await x.wl.exit?.();
        }
      } catch (err) {
        log(`wllama ${file} on WebGPU: did not load: ${err?.message ?? err}`);
        wllamaGpu.failed.push({ file, error: String(err?.message ?? err) });
      }
    }
  }
  await wllamaCleanup();
  // the wllama entry variants are compared with: the CPU one on the model's GGUF, else the first
  const w = ws.find((x) => !x.gpu && x.file === opts.model) ?? ws.find((x) => !x.gpu) ?? null;

  // every timed engine: the dense model on each build, each variant on each build (file by file),
  // then wllama on each GGUF
  const timed = [
    ...(opts.engines === 'wllama' ? [] : zs.map((z) => ({ label: z.label, z, run: async () => runZeroskip(z, ids, proto.gen) }))),
    ...zv.map((v) => ({
      label: v.label,
      v,
      run: async () => {
        if (!opts.reload) return runZeroskip(v.z, ids, proto.gen);
        const z = await open(v);
        try {
          await runZeroskip(z, ids.slice(0, warmupOf(z).prompt), warmupOf(z).gen);
          return await runZeroskip(z, ids, proto.gen);
        } finally {
          z.gen.free();
        }
      },
    })),
    ...ws.map((x) => ({ label: x.label, w: x, run: () => runWllama(x, promptText, proto.gen) })),
  ];

  // warm-up: a short prompt and a few tokens per engine (not recorded; reload runs warm up
  // after each load)
  for (const e of timed) {
    status(`warm-up ${e.label}`);
    if (e.z) await runZeroskip(e.z, ids.slice(0, warmupOf(e.z).prompt), warmupOf(e.z).gen);
    else if (e.v && !opts.reload) await runZeroskip(e.v.z, ids.slice(0, warmupOf(e.v.z).prompt), warmupOf(e.v.z).gen);
    else if (e.w) await runWllama(e.w, warmText, WARMUP.gen);
    await yieldToPage();
  }

  const runs = Object.fromEntries(timed.map((e) => [e.label, []]));
  for (let r = 0; r < proto.rounds; r++) {
    for (let j = 0; j < timed.length; j++) {
      const e = timed[(r + j) % timed.length];
      status(`round ${r + 1}/${proto.rounds}: ${e.label}`);
      await yieldToPage();
      const m = await e.run();
      m.prefill_tok_s = tokS(m.prompt_n, m.prefill_ms);
      m.decode_tok_s = tokS(m.decode_n, m.decode_ms);
      runs[e.label].push(m);
      const act = isNum(m.act_skipped) && m.act_zero > 0 ? `; act skipped ${fmt(m.act_skipped, 3)}, zero ${fmt(m.act_zero, 3)}` : '';
      log(`round ${r + 1} ${e.label}: prefill ${m.prompt_n} tok in ${fmt(m.prefill_ms, 0)} ms = ${fmt(m.prefill_tok_s, 1)} tok/s; ` +
        `decode ${m.decode_n} tok in ${fmt(m.decode_ms, 0)} ms = ${fmt(m.decode_tok_s, 1)} tok/s${act}`);
    }
  }
  // every variant is freed before the next file loads (reload), or stays loaded until the page
  // closes; the zeroskip entries' metadata
  const zMeta = (e) => e.z ?? e.v?.meta ?? null;

  // rows: one per (file, engine)
  const rows = timed.map((e) => {
    const rs = runs[e.label];
    const z = zMeta(e);
    const x = e.w;
    const row = {
      model: z ? z.model : x.model,
      variant: z ? z.variant : x.variant,
      engine: z ? z.name : x.name,
      backend: z ? z.backend : x.gpu ? GPU : 'wasm',
      prompt_tokens: median(rs.map((m) => m.prompt_n)),
      gen_tokens: proto.gen,
      prefill_tok_s: median(rs.map((m) => m.prefill_tok_s)),
      decode_tok_s: median(rs.map((m) => m.decode_tok_s)),
      file_bytes: z ? z.fileBytes : x.fileBytes,
      sparsity: z ? z.sparsity : null,
      file: z ? z.file : x.file,
      prefill_ms: median(rs.map((m) => m.prefill_ms)),
      decode_ms: median(rs.map((m) => m.decode_ms)),
      decode_steps: rs[0]?.decode_n ?? null,
      rounds: rs.length,
      prefill_tok_s_runs: rs.map((m) => m.prefill_tok_s),
      decode_tok_s_runs: rs.map((m) => m.decode_tok_s),
      load_ms: z ? (e.v?.loadMs.length ? median(e.v.loadMs) : z.loadMs) : x.loadMs,
      threads: THREADS ?? 1,
    };
    if (z) {
      Object.assign(row, { isa: z.isa, build: z.gpu ? `webgpu (host ${gpuHost})` : THREADS === null ? z.isa : `${z.isa}-threads`, gemv_kernels: z.kernels.gemv, session_bytes: z.sessionBytes });
      // the engine's adapter name, or navigator.gpu's (wgpu reads none in Chromium)
      if (z.gpu) Object.assign(row, { adapter: z.adapter || (adapter?.available ? describeAdapter(adapter) : null) });
      if (z.act) {
        Object.assign(row, {
          act_method: z.act.method,
          act_sparsity: z.act.target,
          act_skipped: median(rs.map((m) => m.act_skipped)),
          act_zero: median(rs.map((m) => m.act_zero)),
        });
      }
    } else {
      Object.assign(row, {
        sparsity: zs[0].sparsity,
        prompt_tokens_ours: ids.length,
        cache_n: rs.map((m) => m.cache_n),
        own_predicted_per_second: median(rs.map((m) => m.predicted_per_second)),
        wall_ms: median(rs.map((m) => m.wall_ms)),
        ...(x.gpu ? { gpu_layers: WLLAMA_GPU_LAYERS } : {}),
      });
    }
    return row;
  });

  // ratios: per round (same round, same page), then the median over rounds; "A / B" > 1: A faster
  const ratios = {};
  const pair = (a, b) => {
    if (!runs[a] || !runs[b]) return {};
    const out = {};
    for (const what of ['prefill', 'decode']) {
      const per = runs[a].map((m, i) => ratio(m[`${what}_tok_s`], runs[b][i]?.[`${what}_tok_s`]));
      out[what] = ratios[`${what}: ${a} / ${b}`] = median(per);
    }
    return out;
  };
  const zLabel = (isa, variant) => `${zsName(isa)} ${variant}`;
  for (const x of ws) for (const z of zs) pair(z.label, x.label);
  if (runs[zLabel('relaxed', dense)] && runs[zLabel('simd128', dense)]) pair(zLabel('relaxed', dense), zLabel('simd128', dense));
  // each variant vs our dense model on the same build, and vs wllama on the dense GGUF
  const variant_ratios = [];
  for (const v of zv) {
    const z = v.meta;
    const vsDense = pair(v.label, zLabel(v.isa, dense));
    const vsWllama = w ? pair(v.label, w.label) : {};
    const row = rows.find((q) => q.engine === v.name && q.variant === v.variant);
    variant_ratios.push({
      variant: v.variant,
      engine: v.name,
      file_bytes: z.fileBytes,
      sparsity: z.sparsity,
      act_method: z.act?.method ?? null,
      act_sparsity: z.act?.target ?? 0,
      act_skipped: row?.act_skipped ?? null,
      prefill_tok_s: row?.prefill_tok_s ?? null,
      decode_tok_s: row?.decode_tok_s ?? null,
      prefill_vs_dense: vsDense.prefill ?? null,
      decode_vs_dense: vsDense.decode ?? null,
      prefill_vs_wllama: vsWllama.prefill ?? null,
      decode_vs_wllama: vsWllama.decode ?? null,
    });
  }

  // greedy outputs: the first COMPARE_TOKENS tokens of each engine (last round); variants differ
  // from the dense model (they are other weights): recorded, not judged
  const greedy = {};
  for (const e of timed) {
    const m = runs[e.label].at(-1);
    let toks = m.tokens;
    let source = 'engine';
    if (!toks) {
      toks = Array.from(tok.encode(m.text, false));
      source = 'our tokenizer on its text';
    }
    const first = toks.slice(0, COMPARE_TOKENS);
    greedy[e.label] = {
      first_ids: first,
      first_text: tok.decodeText(Uint32Array.from(first)),
      text: e.w ? m.text : tok.decodeText(Uint32Array.from(toks)),
      ids_from: source,
    };
  }
  // agreement: every pair of engines on the dense model (wllama on the model's GGUF); each
  // variant vs the dense model on its build and vs itself on the other build
  const agreement = {};
  const denseLabels = [...(opts.engines === 'wllama' ? [] : zs.map((z) => z.label)), ...(w ? [w.label] : [])];
  for (let i = 0; i < denseLabels.length; i++) {
    for (let j = i + 1; j < denseLabels.length; j++) {
      agreement[`${denseLabels[i]} vs ${denseLabels[j]}`] = agree(greedy[denseLabels[i]], greedy[denseLabels[j]]);
    }
  }
  for (const v of zv) {
    const d = zLabel(v.isa, dense);
    if (greedy[v.label] && greedy[d]) agreement[`${v.label} vs ${d}`] = agree(greedy[v.label], greedy[d]);
    if (v.isa === 'relaxed' && greedy[zLabel('simd128', v.variant)]) {
      agreement[`${v.label} vs ${zLabel('simd128', v.variant)}`] = agree(greedy[v.label], greedy[zLabel('simd128', v.variant)]);
    }
  }
  // WebGPU vs WASM on the same file (greedy: the same tokens, or where they first part)
  const gpuAgreement = [];
  for (const e of timed.filter((x) => (x.z ?? x.v)?.isa === GPU)) {
    const variant = (e.z ?? e.v).variant;
    for (const isa of wasmIsas) {
      const other = zLabel(isa, variant);
      if (!greedy[e.label] || !greedy[other]) continue;
      const a = agree(greedy[e.label], greedy[other]);
      agreement[`${e.label} vs ${other}`] = a;
      gpuAgreement.push({ variant, file: (e.z ?? e.v).file, vs: other, ...a, match: a.same_first_tokens === a.of, first_divergence: a.same_first_tokens === a.of ? null : a.same_first_tokens });
    }
  }

  return {
    browser: navigator.userAgent,
    machine: `${navigator.hardwareConcurrency} logical cores (browser)`,
    date: new Date().toISOString(),
    mode: opts.mode,
    engines: opts.engines,
    isas: zs.map((z) => z.isa),
    threads: THREADS ?? 1,
    zeroskip_builds: zs.map((z) => (THREADS === null ? z.isa : `${z.isa}-threads`)),
    protocol: {
      ...proto, ctx: CTX, decoding: 'greedy (argmax), EOS ignored', prompt_source: 'lee_background.cor (gensim test data)',
      variants_loaded: opts.reload ? 'per timed run (reload), after a warm-up' : 'once, before the rounds',
    },
    model_file: opts.model,
    variant_files: variants,
    wllama_files: ws.map((x) => x.file),
    model_config: zs[0].config,
    wasm_memory_bytes: memory,
    cross_origin_isolated: self.crossOriginIsolated === true,
    wllama: w ? { llama_cpp: w.llamaCppVersion, multithread: w.multithread, threads: w.threads, add_bos: w.addBos, load_ms: w.loadMs } : null,
    webgpu: opts.webgpu || opts.wllamaGpu ? { adapter, host_build: gpuHost, agreement: gpuAgreement, wllama: wllamaGpu } : null,
    prompt: { tokens: ids.length, chars: promptText.length, head: promptText.slice(0, 120) },
    rows,
    ratios,
    variant_ratios,
    greedy,
    agreement,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

// ---- the frontier chart -------------------------------------------------------------------------

const KIND_COLORS = { dense: '#6b7280', weight: '#d97706', act: '#059669', wina: '#0891b2', gate: '#2563eb', combo: '#7c3aed', wllama: '#111827' };
const PPL_BOUND = 1.25;
const DEGRADED = 1.5;

/** What a frontier point is, for its colour: dense, weight(-sparse), act (TEAL), wina, gate, combo, wllama. */
function pointKind(p) {
  if (p.engine === WLLAMA) return 'wllama';
  const byMethod = () => (p.act_method === 'gate' || p.act_method === 'wina' ? p.act_method : 'act');
  if (p.kind) return p.kind === 'act' ? byMethod() : p.kind;
  const act = p.act_sparsity > 0 || (p.act_method && p.act_method !== 'none');
  const weight = p.weight_sparsity > 0 || p.sparsity > 0;
  if (act && weight) return 'combo';
  if (act) return byMethod();
  return weight ? 'weight' : 'dense';
}

/** Marker of an engine: circle (simd128), square (relaxed), cross (wllama). */
function marker(ctx, engine, x, y, color, hollow) {
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1.6;
  ctx.beginPath();
  if (engine === WLLAMA) {
    ctx.moveTo(x - 5, y - 5);
    ctx.lineTo(x + 5, y + 5);
    ctx.moveTo(x + 5, y - 5);
    ctx.lineTo(x - 5, y + 5);
    ctx.stroke();
    return;
  }
  if (engine === zsName('relaxed')) ctx.rect(x - 4.5, y - 4.5, 9, 9);
  else ctx.arc(x, y, 5, 0, 2 * Math.PI);
  if (hollow) ctx.stroke();
  else ctx.fill();
}

/**
 * Draws decode tok/s (x) against perplexity (y) on `canvas`: `points` ({variant, engine,
 * decode_tok_s, ppl, …} rows), `live` (this page's run, drawn hollow), the bound at
 * PPL_BOUND × `densePpl` as a line. Points above DEGRADED × densePpl sit in a band at the top.
 */
function drawFrontier(canvas, { points, live = [], densePpl }) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 900;
  const cssH = canvas.clientHeight || 460;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  ctx.font = '11px system-ui, sans-serif';
  const all = [...points, ...live].filter((p) => isNum(p.decode_tok_s) && isNum(p.ppl));
  if (!all.length || !isNum(densePpl)) {
    ctx.fillStyle = '#66707a';
    ctx.fillText('No frontier data: run node bench/llm_frontier.mjs (it writes bench/results/llm_frontier.json).', 20, 30);
    return;
  }
  const pad = { l: 92, r: 16, t: 48, b: 62 };
  const band = 26; // the off-scale band at the top
  const yMaxPpl = densePpl * DEGRADED * 1.02;
  const yMinPpl = Math.min(densePpl, ...all.map((p) => p.ppl)) * 0.97;
  const xMax = Math.max(...all.map((p) => p.decode_tok_s)) * 1.08;
  const X = (v) => pad.l + (v / xMax) * (cssW - pad.l - pad.r);
  const Y = (ppl) => (ppl > yMaxPpl ? pad.t - band / 2 : pad.t + (1 - (ppl - yMinPpl) / (yMaxPpl - yMinPpl)) * (cssH - pad.t - pad.b));
  // axes and grid
  ctx.strokeStyle = '#d9dee3';
  ctx.fillStyle = '#66707a';
  ctx.lineWidth = 1;
  const xStep = xMax > 80 ? 20 : xMax > 40 ? 10 : 5;
  for (let v = 0; v <= xMax; v += xStep) {
    ctx.beginPath();
    ctx.moveTo(X(v), pad.t);
    ctx.lineTo(X(v), cssH - pad.b);
    ctx.stroke();
    ctx.fillText(String(v), X(v) - 6, cssH - pad.b + 14);
  }
  for (const k of [1, 1.1, 1.2, 1.3, 1.4, 1.5]) {
    const ppl = densePpl * k;
    if (ppl < yMinPpl || ppl > yMaxPpl) continue;
    ctx.beginPath();
    ctx.moveTo(pad.l, Y(ppl));
    ctx.lineTo(cssW - pad.r, Y(ppl));
    ctx.stroke();
    ctx.fillText(`${ppl.toFixed(1)} (${k.toFixed(2)}×)`, 2, Y(ppl) + 4);
  }
  ctx.fillStyle = '#1d232a';
  ctx.fillText('decode tokens/s (one thread) →', cssW / 2 - 80, cssH - pad.b + 30);
  ctx.fillText('held-out perplexity (× dense Q4_1), lower is better', pad.l, 11);
  // the off-scale band
  ctx.fillStyle = '#fdf2f2';
  ctx.fillRect(pad.l, pad.t - band, cssW - pad.l - pad.r, band - 4);
  ctx.fillStyle = '#b91c1c';
  const bandText = `ppl > ${DEGRADED}× dense: degraded (no speed headline)`;
  ctx.fillText(bandText, pad.l + 4, pad.t - band + 12);
  // the quality bound
  ctx.strokeStyle = '#c62828';
  ctx.setLineDash([6, 4]);
  ctx.beginPath();
  ctx.moveTo(pad.l, Y(densePpl * PPL_BOUND));
  ctx.lineTo(cssW - pad.r, Y(densePpl * PPL_BOUND));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = '#c62828';
  const boundText = `${PPL_BOUND}× dense Q4_1 (quality bound)`;
  ctx.fillText(boundText, cssW - pad.r - ctx.measureText(boundText).width - 4, Y(densePpl * PPL_BOUND) - 4);
  // points: one label per variant, beside its fastest marker
  const labelled = new Map();
  for (const [list, hollow] of [[points, false], [live, true]]) {
    for (const p of list) {
      if (!isNum(p.decode_tok_s) || !isNum(p.ppl)) continue;
      const color = KIND_COLORS[pointKind(p)];
      marker(ctx, p.engine, X(p.decode_tok_s), Y(p.ppl), color, hollow);
      const key = `${p.engine === WLLAMA ? 'wllama ' : ''}${p.variant}${hollow ? ' (live)' : ''}`;
      const prev = labelled.get(key);
      if (!prev || prev.decode_tok_s < p.decode_tok_s) labelled.set(key, { ...p, hollow, color });
    }
  }
  for (const [key, p] of labelled) {
    ctx.fillStyle = p.color;
    const text = p.ppl > yMaxPpl ? `${key} ${fmt(p.ppl / densePpl, 0)}×` : key;
    const w = ctx.measureText(text).width;
    const x = X(p.decode_tok_s);
    ctx.fillText(text, x + 7 + w > cssW - 2 ? x - 7 - w : x + 7, Y(p.ppl) - 6);
  }
  // legend
  let lx = pad.l;
  const ly = cssH - 10;
  for (const [kind, label] of [['dense', 'dense'], ['weight', 'weight-sparse'], ['act', 'TEAL'], ['wina', 'WINA'], ['gate', 'gate (CATS)'],
    ['combo', 'weights + activations'], ['wllama', 'wllama (llama.cpp)']]) {
    ctx.fillStyle = KIND_COLORS[kind];
    ctx.fillRect(lx, ly - 8, 10, 10);
    ctx.fillText(label, lx + 13, ly + 1);
    lx += ctx.measureText(label).width + 30;
  }
  ctx.fillStyle = '#66707a';
  ctx.fillText('● simd128  ■ relaxed  ✕ wllama  (hollow: this page\'s run)', lx + 10, ly + 1);
}

/** The frontier file (bench/llm_frontier.mjs's JSON), or null when it is not there. */
async function loadFrontier(url) {
  try {
    const res = await fetch(url);
    if (!res.ok) return null;
    return await res.json();
  } catch {
    return null;
  }
}

/** This run's rows with the perplexity of the same variant in the frontier file. */
function livePoints(result, frontier) {
  if (!frontier) return [];
  const ppl = new Map();
  for (const r of frontier.rows ?? []) if (isNum(r.ppl)) ppl.set(r.variant, r);
  return result.rows
    .filter((r) => ppl.has(r.variant))
    .map((r) => ({ ...ppl.get(r.variant), ...r, ppl: ppl.get(r.variant).ppl, weight_sparsity: ppl.get(r.variant).weight_sparsity }));
}

let frontierData = null;

function renderFrontier(result = null) {
  const canvas = $('frontier');
  if (!canvas) return;
  const f = frontierData;
  const live = result ? livePoints(result, f) : [];
  drawFrontier(canvas, { points: f?.rows ?? [], live, densePpl: f?.dense_ppl?.q4_1 ?? null });
  const note = $('frontier-note');
  if (note) {
    note.textContent = f
      ? `${f.rows.length} rows from ${f.date?.slice(0, 10) ?? '?'} (${f.browser?.match(/Chrome\/[\d.]+/)?.[0] ?? f.browser ?? ''}); ` +
        `dense Q4_1 ppl ${fmt(f.dense_ppl?.q4_1, 2)}` + (live.length ? `; hollow markers: this page's run (${live.length} rows)` : '')
      : 'No frontier file yet (node bench/llm_frontier.mjs writes it).';
  }
  const table = $('frontier-rows');
  if (!table || !f) return;
  table.replaceChildren(tableRow([['variant'], ['engine'], ['format'], ['weights sp'], ['act'], ['act skipped'], ['MB'], ['ppl'], ['× dense'],
    ['decode tok/s'], ['vs our fastest dense'], ['vs wllama fastest'], ['quality']], 'th'));
  const rows = [...f.rows].sort((a, b) => (a.degraded - b.degraded) || (b.decode_tok_s ?? 0) - (a.decode_tok_s ?? 0));
  for (const r of rows) {
    table.append(tableRow([[r.variant + (r.default ? ' (default)' : '')], [r.engine], [r.format ?? ''], [fmt(r.weight_sparsity, 2), 'num'],
      [r.act_method && r.act_method !== 'none' ? `${r.act_method} ${fmt(r.act_sparsity, 2)}` : ''], [fmt(r.act_skipped, 2), 'num'],
      [fmt(r.file_bytes / 1e6, 1), 'num'], [fmt(r.ppl, 2), 'num'], [fmt(r.ppl_ratio, 2), 'num'], [fmt(r.decode_tok_s, 1), 'num'],
      [r.degraded ? 'degraded' : fmt(r.decode_vs_dense_best, 2), 'num'], [r.degraded ? '' : fmt(r.decode_vs_wllama_best, 2), 'num'],
      [r.degraded ? 'degraded (> 1.5×)' : r.quality_ok ? 'ok (≤ 1.25×)' : 'over 1.25×', r.quality_ok ? 'pass' : 'fail']]));
  }
}

// ---- page ---------------------------------------------------------------------------------------

function render(result) {
  const table = $('rows');
  table.replaceChildren(tableRow([['engine'], ['variant'], ['sparsity'], ['act'], ['act skipped'], ['MB'], ['prompt tok'], ['prefill tok/s'], ['gen tok'],
    ['decode tok/s'], ['load ms'], ['GEMV']], 'th'));
  for (const r of result.rows) {
    table.append(tableRow([[r.engine], [r.variant], [fmt(r.sparsity, 2), 'num'], [r.act_method ? `${r.act_method} ${fmt(r.act_sparsity, 2)}` : ''],
      [fmt(r.act_skipped, 2), 'num'], [fmt(r.file_bytes / 1e6, 1), 'num'], [String(r.prompt_tokens)],
      [fmt(r.prefill_tok_s, 1), 'num'], [String(r.gen_tokens)], [fmt(r.decode_tok_s, 1), 'num'], [fmt(r.load_ms, 0), 'num'],
      [r.gemv_kernels ? Object.values(r.gemv_kernels).join(', ') : '']]));
  }
  const vtable = $('variant-ratios');
  if (vtable) {
    vtable.replaceChildren();
    if (result.variant_ratios.length) {
      vtable.append(tableRow([['variant'], ['engine'], ['sparsity'], ['act skipped'], ['prefill vs dense'], ['decode vs dense'], ['prefill vs wllama'],
        ['decode vs wllama']], 'th'));
      for (const v of result.variant_ratios) {
        vtable.append(tableRow([[v.variant], [v.engine], [fmt(v.sparsity, 2), 'num'], [fmt(v.act_skipped, 2), 'num'], [fmt(v.prefill_vs_dense, 2), 'num'],
          [fmt(v.decode_vs_dense, 2), 'num'], [fmt(v.prefill_vs_wllama, 2), 'num'], [fmt(v.decode_vs_wllama, 2), 'num']]));
      }
    }
  }
  const texts = $('texts');
  texts.replaceChildren();
  for (const [k, v] of Object.entries(result.ratios)) texts.append(el('p', `${k}: ${fmt(v, 2)}x`));
  for (const [name, g] of Object.entries(result.greedy)) {
    texts.append(el('h3', name), el('pre', g.text));
  }
  for (const [k, v] of Object.entries(result.agreement)) texts.append(el('p', `${k}: first ${v.same_first_tokens}/${v.of} tokens equal, ${v.common_prefix_chars} chars in common`));
  renderFrontier(result);
}

const list = (s) => (s ?? '').split(',').map((v) => v.trim()).filter(Boolean);
const posInt = (s) => (/^\d+$/.test(s ?? '') && Number(s) > 0 ? Number(s) : undefined);

function readParams() {
  const q = new URLSearchParams(location.search);
  const isas = (q.get('isas') ?? q.get('isa') ?? ISAS.join(',')).split(',').filter((i) => ISAS.includes(i));
  const mode = PROTOCOLS[q.get('mode')] ? q.get('mode') : 'full';
  const engines = ENGINE_SETS.includes(q.get('engines')) ? q.get('engines') : 'all';
  const protocol = Object.fromEntries(['prompt', 'gen', 'rounds'].map((k) => [k, posInt(q.get(k))]).filter(([, v]) => v !== undefined));
  return {
    isas: isas.length ? isas : ['simd128'], mode, engines, model: q.get('model') ?? DEFAULT_MODEL, variants: list(q.get('variants')),
    wllama: list(q.get('wllama')), protocol, reload: q.get('reload') === '1', frontier: q.get('frontier') ?? DEFAULT_FRONTIER, frontierGiven: q.has('frontier'),
    webgpu: q.get('webgpu') === '1', wllamaGpu: q.get('wllamaGpu') === '1',
    autorun: q.get('autorun') === '1',
  };
}

async function start(opts) {
  document.title = `running ${opts.mode}`;
  window.__llmResult = undefined;
  window.__llmError = undefined;
  try {
    const result = await runAll(opts);
    window.__llmResult = result;
    render(result);
    status(`done in ${fmt(result.elapsed_s, 0)} s`);
    document.title = 'done';
  } catch (err) {
    console.error(err);
    log(`ERROR ${err?.stack ?? err}`);
    status('error');
    window.__llmError = String(err?.message ?? err);
    document.title = 'error';
  }
}

mountBenchPage({
  title: 'small LLM text generation',
  controls: [
    ['builds', 'isas', [['simd128,relaxed', 'simd128 + relaxed'], ['simd128', 'simd128'], ['relaxed', 'relaxed SIMD']]],
    ['mode', 'mode', [['full', 'full (128 + 128 tokens, 3 rounds)'], ['quick', 'quick (32 + 16 tokens, 1 round)']]],
    ['engines', 'engines', [['all', 'zeroskip + wllama'], ['zeroskip', 'zeroskip only'], ['wllama', 'wllama only']]],
    ['sparse variants', '<input id="variants" type="text" size="40" placeholder="SmolLM2-135M-Instruct.g16-s50-int4.zsk,…">'],
    ['wllama GGUFs', '<input id="wllama-files" type="text" size="40" placeholder="SmolLM2-135M-Instruct.Q4_0.gguf,…">'],
    ['WebGPU', '<label><input id="webgpu" type="checkbox"> every file on zeroskip-webgpu too</label>'],
  ],
  progress: false,
  sections: [
    ['Frontier: decode speed against perplexity', `<p class="muted">Every point of <code>bench/results/llm_frontier.json</code>
      (<code>node bench/llm_frontier.mjs</code>): held-out perplexity (lee_background.cor's last
      quarter, 4096 tokens, ctx 512) against decode tokens/s in one thread, per build; wllama's
      formats apart (its perplexity: our evaluation of the same GGUF). The dashed line is the
      quality bound, 1.25× dense Q4_1's perplexity; points past 1.5× are degraded and give no
      speed headline. After a run on this page its rows are added, hollow.</p>
      <canvas id="frontier" aria-label="decode tokens per second against perplexity"></canvas>
      <p class="muted" id="frontier-note"></p>
      <div class="scroll"><table id="frontier-rows"></table></div>`],
    ['Summary (tokens/s, higher is better)', SECTIONS.rows[1]],
    ['Sparse variants vs the dense model (× tokens/s, > 1 is faster)', '<div class="scroll"><table id="variant-ratios"></table></div>'],
    ['Greedy outputs', '<div id="texts"><p class="muted">Appear when the run is done.</p></div>'],
    SECTIONS.log,
  ],
});
const params = readParams();
window.addEventListener('DOMContentLoaded', () => {
  $('isas').value = params.isas.join(',');
  $('mode').value = params.mode;
  $('engines').value = params.engines;
  if ($('variants')) $('variants').value = params.variants.join(',');
  if ($('wllama-files')) $('wllama-files').value = params.wllama.join(',');
  if ($('webgpu')) $('webgpu').checked = params.webgpu;
  $('run').addEventListener('click', () => {
    const q = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries({ isas: $('isas').value, mode: $('mode').value, engines: $('engines').value, model: params.model, autorun: '1' })) q.set(k, v);
    if ($('webgpu')?.checked) q.set('webgpu', '1');
    else q.delete('webgpu');
    for (const [k, id] of [['variants', 'variants'], ['wllama', 'wllama-files']]) {
      const v = ($(id)?.value ?? '').trim();
      if (v) q.set(k, v);
      else q.delete(k);
    }
    location.search = q.toString();
  });
  // the chart does not wait for a run (a benchmark's autorun draws it only when told where the
  // file is: it may not exist yet, and a 404 counts as a page error there)
  if (!params.autorun || params.frontierGiven) {
    loadFrontier(params.frontier).then((f) => {
      frontierData = f;
      renderFrontier(window.__llmResult ?? null);
    });
  } else renderFrontier(null);
  window.addEventListener('resize', () => renderFrontier(window.__llmResult ?? null));
});
if (params.autorun) start(params);
