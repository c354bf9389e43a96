// zeroskip vs wllama (llama.cpp in wasm) on a small LLM: the same GGUF bytes, prompt and greedy
// decoding, one thread each.
//
//   llm.html?isas=simd128,relaxed&mode=full|quick&engines=all|zeroskip|wllama&autorun=1
//     [&model=SmolLM2-135M-Instruct.Q4_1.gguf]   a GGUF under models/llm
//     [&variants=A.zsk,B.zsk]                    sparse LLM files under models/llm (zeroskip only)
//
// It fetches models/llm/<model> once (not timed) and hands the same bytes to
//   zeroskip-<isa>  TextGenerator.load (pkg/<isa>/zeroskip.js, one per build in `isas`)
//   wllama-1t       @wllama/wllama (vendor/wllama), loadModel([Blob]) with n_threads 1,
//                   n_gpu_layers 0 (CPU), n_parallel 1
// and each variant (fetched once, loaded once per build; wllama cannot read .zsk) to every
// zeroskip build. Each (file, engine) is one timed entry, labelled "<engine> <variant>" (e.g.
// "zeroskip-relaxed g16-s50-int4", "wllama-1t q4_1"); all entries share the rounds below. Ratios
// (median over rounds of the per-round ratio, "A / B" > 1 when A is faster): the dense model's
// engines against each other, and each variant vs the dense model on the same build and vs
// wllama (variant_ratios). Greedy outputs of the variants are recorded, not compared.
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

import { $, isNum, fmt, ratio, yieldToPage, el, median, fetchBytes, tableRow } from './util.js';

const PROTOCOLS = {
  full: { prompt: 128, gen: 128, rounds: 3 },
  quick: { prompt: 32, gen: 16, rounds: 1 },
};
const ISAS = ['simd128', 'relaxed'];
const ENGINE_SETS = ['all', 'zeroskip', 'wllama'];
const WLLAMA = 'wllama-1t';
const zsName = (isa) => `zeroskip-${isa}`;
const DIR = 'models/llm';
const DEFAULT_MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const CTX = 1024;
const COMPARE_TOKENS = 20;

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
 * model, variant, dense, gen, loadMs, kernels, fileBytes, sparsity, config}. Every file of a build
 * lives in that build's one wasm instance (the module is imported once).
 */
async function loadZeroskip(isa, file, bytes) {
  const zs = await import(`./pkg/${isa}/zeroskip.js`);
  await zs.default();
  const t0 = performance.now();
  const gen = zs.TextGenerator.load(file, bytes, CTX);
  const loadMs = performance.now() - t0;
  const { model, variant } = modelNames(file);
  return {
    label: `${zsName(isa)} ${variant}`,
    name: zsName(isa),
    isa,
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
    config: JSON.parse(gen.config()),
  };
}

/** Bytes of build `isa`'s wasm memory (every model loaded in it). */
async function wasmMemoryBytes(isa) {
  const zs = await import(`./pkg/${isa}/zeroskip.js`);
  const wasm = await zs.default();
  return wasm?.memory?.buffer?.byteLength ?? null;
}

/** One zeroskip round: {prompt_n, prefill_ms, decode_ms, decode_n, tokens}. */
function runZeroskip(z, ids, gen) {
  z.gen.reset();
  const [prefillMs, first] = z.gen.benchPrefill(Uint32Array.from(ids));
  const out = gen > 1 ? z.gen.generateGreedy(first, gen - 1) : [0];
  return {
    prompt_n: ids.length,
    prefill_ms: prefillMs,
    decode_ms: out[0],
    decode_n: gen - 1,
    tokens: [first, ...Array.from(out.slice(1))],
  };
}

const quietLogger = { debug() {}, log() {}, warn: (...a) => console.warn('[wllama]', ...a), error: (...a) => console.error('[wllama]', ...a) };

/** wllama with the model loaded from a Blob of the same bytes (one thread, CPU). */
async function loadWllama(file, bytes) {
  const { Wllama } = await import('./vendor/wllama/index.js');
  const wl = new Wllama({ default: new URL('vendor/wllama/wllama.wasm', location.href).href }, { logger: quietLogger, suppressNativeLog: true });
  const t0 = performance.now();
  await wl.loadModel([new File([bytes], file)], { n_threads: 1, n_gpu_layers: 0, n_ctx: CTX, n_parallel: 1 });
  const loadMs = performance.now() - t0;
  return {
    name: WLLAMA,
    wl,
    loadMs,
    llamaCppVersion: Wllama.getLibllamaVersion?.() ?? null,
    multithread: wl.isMultithread(),
    threads: wl.getNumThreads(),
    addBos: wl.mustAddBosToken(),
  };
}

/** One wllama round via its OAI-style completion (llama-server's timings). */
async function runWllama(w, text, gen) {
  const t0 = performance.now();
  const res = await w.wl.createCompletion({
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

async function runAll(opts) {
  const t0 = performance.now();
  const proto = PROTOCOLS[opts.mode];
  const { model } = modelNames(opts.model);
  const dense = modelNames(opts.model).variant;
  status('fetching the model');
  const bytes = await fetchBytes(`${DIR}/${opts.model}`);
  const corpus = new TextDecoder().decode(await fetchBytes(`${DIR}/lee_background.txt`));
  log(`${opts.model}: ${bytes.length} bytes; corpus ${corpus.length} chars`);

  // zeroskip builds (one is needed anyway: its tokenizer cuts the prompt), the dense model first
  const isas = opts.engines === 'wllama' ? opts.isas.slice(0, 1) : opts.isas;
  const zs = [];
  for (const isa of isas) {
    status(`loading zeroskip ${isa}`);
    const z = await loadZeroskip(isa, opts.model, bytes);
    log(`${z.label}: load ${fmt(z.loadMs, 0)} ms, sparsity ${fmt(z.sparsity, 3)}, GEMV ${JSON.stringify(z.kernels.gemv)}`);
    zs.push(z);
    await yieldToPage();
  }
  // the sparse variants: each file fetched once, loaded once per build, its bytes then dropped
  const variants = opts.engines === 'wllama' ? [] : [...new Set(opts.variants)].filter((f) => f !== opts.model);
  if (opts.engines === 'wllama' && opts.variants.length) log(`variants ${opts.variants.join(',')} skipped: wllama cannot read .zsk`);
  const zv = [];
  for (const file of variants) {
    status(`fetching ${file}`);
    const vb = await fetchBytes(`${DIR}/${file}`);
    for (const isa of isas) {
      status(`loading ${file} on zeroskip ${isa}`);
      const z = await loadZeroskip(isa, file, vb);
      log(`${z.label}: ${vb.length} bytes, load ${fmt(z.loadMs, 0)} ms, sparsity ${fmt(z.sparsity, 3)}, GEMV ${JSON.stringify(z.kernels.gemv)}`);
      zv.push(z);
      await yieldToPage();
    }
  }
  const memory = {};
  for (const isa of isas) memory[zsName(isa)] = await wasmMemoryBytes(isa);
  log(`wasm memory: ${Object.entries(memory).map(([k, v]) => `${k} ${fmt(v / 2 ** 20, 0)} MiB`).join(', ')}`);

  const tok = zs[0].gen;
  const bos = tok.bosToAdd();
  const textIds = Array.from(tok.encode(corpus, false)).slice(0, proto.prompt - (bos === undefined ? 0 : 1));
  const ids = bos === undefined ? textIds : [bos, ...textIds];
  const promptText = tok.decodeText(Uint32Array.from(textIds));
  log(`prompt: ${ids.length} tokens${bos === undefined ? '' : ' (BOS first)'}, ${promptText.length} chars`);

  let w = null;
  if (opts.engines !== 'zeroskip') {
    status('loading wllama');
    w = await loadWllama(opts.model, bytes);
    w.label = `${WLLAMA} ${dense}`;
    log(`${w.label}: load ${fmt(w.loadMs, 0)} ms, llama.cpp ${w.llamaCppVersion}, multithread ${w.multithread}, threads ${w.threads}, add_bos ${w.addBos}`);
  }
  // every timed engine: the dense model and each variant on each build, then wllama on the GGUF
  const allZ = [...zs, ...zv];
  const timed = [...(opts.engines === 'wllama' ? [] : allZ.map((z) => ({ label: z.label, z, run: async () => runZeroskip(z, ids, proto.gen) }))),
    ...(w ? [{ label: w.label, run: () => runWllama(w, promptText, proto.gen) }] : [])];

  // warm-up: a short prompt and a few tokens per engine (not recorded)
  for (const e of timed) {
    status(`warm-up ${e.label}`);
    if (e.z) runZeroskip(e.z, ids.slice(0, 8), 4);
    else await runWllama(w, tok.decodeText(Uint32Array.from(textIds.slice(0, 8))), 4);
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
      log(`round ${r + 1} ${e.label}: prefill ${m.prompt_n} tok in ${fmt(m.prefill_ms, 0)} ms = ${fmt(m.prefill_tok_s, 1)} tok/s; ` +
        `decode ${m.decode_n} tok in ${fmt(m.decode_ms, 0)} ms = ${fmt(m.decode_tok_s, 1)} tok/s`);
    }
  }

  // rows: one per (file, engine)
  const rows = timed.map((e) => {
    const rs = runs[e.label];
    const z = e.z;
    const row = {
      model: z ? z.model : model,
      variant: z ? z.variant : dense,
      engine: z ? z.name : WLLAMA,
      prompt_tokens: median(rs.map((m) => m.prompt_n)),
      gen_tokens: proto.gen,
      prefill_tok_s: median(rs.map((m) => m.prefill_tok_s)),
      decode_tok_s: median(rs.map((m) => m.decode_tok_s)),
      file_bytes: z ? z.fileBytes : bytes.length,
      sparsity: z ? z.sparsity : zs[0].sparsity,
      file: z ? z.file : opts.model,
      prefill_ms: median(rs.map((m) => m.prefill_ms)),
      decode_ms: median(rs.map((m) => m.decode_ms)),
      decode_steps: rs[0]?.decode_n ?? null,
      rounds: rs.length,
      prefill_tok_s_runs: rs.map((m) => m.prefill_tok_s),
      decode_tok_s_runs: rs.map((m) => m.decode_tok_s),
      load_ms: z ? z.loadMs : w.loadMs,
      threads: 1,
    };
    if (z) Object.assign(row, { isa: z.isa, gemv_kernels: z.kernels.gemv, session_bytes: z.sessionBytes });
    else {
      Object.assign(row, {
        prompt_tokens_ours: ids.length,
        cache_n: rs.map((m) => m.cache_n),
        own_predicted_per_second: median(rs.map((m) => m.predicted_per_second)),
        wall_ms: median(rs.map((m) => m.wall_ms)),
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
  if (w) for (const z of zs) pair(z.label, w.label);
  if (zs.length === 2) pair(zLabel('relaxed', dense), zLabel('simd128', dense));
  // each variant vs our dense model on the same build, and vs wllama on the dense GGUF
  const variant_ratios = [];
  for (const z of zv) {
    const vsDense = pair(z.label, zLabel(z.isa, dense));
    const vsWllama = w ? pair(z.label, w.label) : {};
    const row = rows.find((q) => q.engine === z.name && q.variant === z.variant);
    variant_ratios.push({
      variant: z.variant,
      engine: z.name,
      file_bytes: z.fileBytes,
      sparsity: z.sparsity,
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
      text: e.z ? tok.decodeText(Uint32Array.from(toks)) : m.text,
      ids_from: source,
    };
  }
  // agreement: every pair of engines on the dense model; each variant vs the dense model on its
  // build and vs itself on the other build
  const agreement = {};
  const denseLabels = timed.filter((e) => !e.z || e.z.dense).map((e) => e.label);
  for (let i = 0; i < denseLabels.length; i++) {
    for (let j = i + 1; j < denseLabels.length; j++) {
      agreement[`${denseLabels[i]} vs ${denseLabels[j]}`] = agree(greedy[denseLabels[i]], greedy[denseLabels[j]]);
    }
  }
  for (const z of zv) {
    const d = zLabel(z.isa, dense);
    if (greedy[z.label] && greedy[d]) agreement[`${z.label} vs ${d}`] = agree(greedy[z.label], greedy[d]);
    if (z.isa === 'relaxed' && greedy[zLabel('simd128', z.variant)]) {
      agreement[`${z.label} vs ${zLabel('simd128', z.variant)}`] = agree(greedy[z.label], greedy[zLabel('simd128', z.variant)]);
    }
  }

  return {
    browser: navigator.userAgent,
    machine: `${navigator.hardwareConcurrency} logical cores (browser)`,
    date: new Date().toISOString(),
    mode: opts.mode,
    engines: opts.engines,
    isas: zs.map((z) => z.isa),
    protocol: { ...proto, ctx: CTX, decoding: 'greedy (argmax), EOS ignored', prompt_source: 'lee_background.cor (gensim test data)' },
    model_file: opts.model,
    variant_files: variants,
    model_config: zs[0].config,
    wasm_memory_bytes: memory,
    cross_origin_isolated: self.crossOriginIsolated === true,
    wllama: w ? { llama_cpp: w.llamaCppVersion, multithread: w.multithread, threads: w.threads, add_bos: w.addBos, load_ms: w.loadMs } : null,
    prompt: { tokens: ids.length, chars: promptText.length, head: promptText.slice(0, 120) },
    rows,
    ratios,
    variant_ratios,
    greedy,
    agreement,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

// ---- page ---------------------------------------------------------------------------------------

function render(result) {
  const table = $('rows');
  table.replaceChildren(tableRow([['engine'], ['variant'], ['sparsity'], ['MB'], ['prompt tok'], ['prefill tok/s'], ['gen tok'], ['decode tok/s'],
    ['load ms'], ['GEMV']], 'th'));
  for (const r of result.rows) {
    table.append(tableRow([[r.engine], [r.variant], [fmt(r.sparsity, 2), 'num'], [fmt(r.file_bytes / 1e6, 1), 'num'], [String(r.prompt_tokens)],
      [fmt(r.prefill_tok_s, 1), 'num'], [String(r.gen_tokens)], [fmt(r.decode_tok_s, 1), 'num'], [fmt(r.load_ms, 0), 'num'],
      [r.gemv_kernels ? Object.values(r.gemv_kernels).join(', ') : '']]));
  }
  const vtable = $('variant-ratios');
  if (vtable) {
    vtable.replaceChildren();
    if (result.variant_ratios.length) {
      vtable.append(tableRow([['variant'], ['engine'], ['sparsity'], ['prefill vs dense'], ['decode vs dense'], ['prefill vs wllama'],
        ['decode vs wllama']], 'th'));
      for (const v of result.variant_ratios) {
        vtable.append(tableRow([[v.variant], [v.engine], [fmt(v.sparsity, 2), 'num'], [fmt(v.prefill_vs_dense, 2), 'num'],
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
}

function readParams() {
  const q = new URLSearchParams(location.search);
  const isas = (q.get('isas') ?? q.get('isa') ?? ISAS.join(',')).split(',').filter((i) => ISAS.includes(i));
  const mode = PROTOCOLS[q.get('mode')] ? q.get('mode') : 'full';
  const engines = ENGINE_SETS.includes(q.get('engines')) ? q.get('engines') : 'all';
  const variants = (q.get('variants') ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  return {
    isas: isas.length ? isas : ['simd128'], mode, engines, model: q.get('model') ?? DEFAULT_MODEL, variants, autorun: q.get('autorun') === '1',
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

const params = readParams();
window.addEventListener('DOMContentLoaded', () => {
  $('isas').value = params.isas.join(',');
  $('mode').value = params.mode;
  $('engines').value = params.engines;
  if ($('variants')) $('variants').value = params.variants.join(',');
  $('run').addEventListener('click', () => {
    const q = new URLSearchParams({ isas: $('isas').value, mode: $('mode').value, engines: $('engines').value, model: params.model, autorun: '1' });
    const variants = ($('variants')?.value ?? '').trim();
    if (variants) q.set('variants', variants);
    location.search = q.toString();
  });
});
if (params.autorun) start(params);
