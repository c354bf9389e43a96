#!/usr/bin/env node
// Small-LLM benchmark driver: serves www/, runs llm.html once in headless Chromium with both
// zeroskip builds and wllama (llama.cpp compiled to wasm) in the same page, interleaved, on the
// same GGUF bytes (the zoo's SmolLM2-135M-Instruct Q4_1), one thread each, and the zoo's sparse
// variants of that model (.zsk files, zeroskip only: wllama cannot read them) on each zeroskip
// build in the same rounds; prints a table and the greedy outputs, and writes llm.json
// (BENCH_FORMAT.md): rows, one per (file, engine), with model, variant (q4_1, g16-s50-int4, …),
// engine (zeroskip-simd128 | zeroskip-relaxed | wllama-1t), prompt_tokens, gen_tokens,
// prefill_tok_s, decode_tok_s, file_bytes, sparsity, gemv_kernels, the activation sparsity of
// files that have it (act_method, act_sparsity: the calibrated target, act_skipped / act_zero:
// what the timed decode met), ppl and ppl_ratio where known (bench/results/llm_frontier.json,
// else www/llm-models.json), default: true on the demo's default file; top-level `ratios`
// (median over rounds of each pair's per-round ratio of tokens/s, e.g. "decode:
// zeroskip-relaxed g16-s50-int4 / zeroskip-relaxed q4_1"; > 1 means the first is faster) and
// `variant_ratios` (each variant on each build vs the dense model on that build and vs wllama-1t
// on the model's GGUF).
//
//   node bench/llm.mjs [--isa simd128,relaxed] [--quick] [--engines all|zeroskip|wllama]
//                      [--model FILE.gguf] [--variants all|none|A.zsk,B.zsk]
//                      [--wllama model|all|A.gguf,B.gguf] [--out bench/results/llm.json]
//
// --variants all (the default): the model's other files in .cache/zoo/llm: its .zsk variants
// and the GGUFs requantized from it (zeroskip only). --wllama: the GGUFs wllama runs: the
// --model GGUF (default), or all of the model's GGUFs in .cache/zoo/llm (Q4_0, Q4_1, Q8_0).
// The speed-against-perplexity frontier is bench/llm_frontier.mjs.
//
// Full: a 128-token prompt, 128 greedy tokens, 3 rounds. --quick: 32 + 16 tokens, 1 round. A
// benchmark is not a test: it exits non-zero only when the page errored or produced no rows.
//
// Threads (issue 14; --threads auto|none|1,2, --threads-only): after the single-thread page, one
// llm.html?threads=N page per N = 1, 2 (a fresh browser each: wllama and both threaded zeroskip
// builds set to N threads): zeroskip on SmolLM2 Q4_0 (THREAD_MODEL) and the demo's default sparse
// file (www/llm-models.json's first entry), wllama-Nt on Q4_0 and Q8_0 (THREAD_WLLAMA: its fastest
// formats here; ggml's wasm build has no SIMD dot product for Q4_1), full mode with 64 greedy
// tokens (THREAD_PROTOCOL: wllama on two formats at 1 and 2 threads dominates the pass's time). Written under
// `threads` in llm.json: rows (with `threads`), `scaling` (decode and prefill tok/s, 2t over 1t),
// `ratios` (on 2 threads: zeroskip over wllama's fastest format, over each wllama format, and the
// sparse file over Q4_0 on zeroskip), `acceptance` (printed, never failing the run), `unmeasured`
// (4 and 8 threads on a 2-core machine), `load_average`. auto runs it when www/pkg/<isa>-threads exist.
//
// WebGPU (issue 15; --webgpu auto|none, --webgpu-only): one more llm.html page, in a Chromium with
// --enable-unsafe-webgpu (SwiftShader's adapter here: a CPU emulation, so compare ratios, not
// tokens/s), with SmolLM2 Q4_0 (GPU_MODEL, dense) and GPU_VARIANTS (the demo's default sparse
// file, g16-s50-int4, nm24-s50-int8) on zeroskip-webgpu and on the WASM builds in the same
// rounds, wllama-1t on Q4_0, and wllama-webgpu (wllama's ggml-webgpu backend, every layer
// offloaded) when it loads (else why: `wllama`); GPU_PROTOCOL keeps it short (SwiftShader is
// slow). Written under `webgpu` in llm.json: adapter, rows, `ratios` (per file: decode and
// prefill on the GPU over dense Q4_0 on the GPU, and WebGPU over each WASM build), `agreement`
// (greedy tokens of the GPU run vs the WASM run of the same file: match, or the first token
// where they part), `acceptance` (printed, never failing the run: default sparse > 1.0x dense
// Q4_0 on the GPU; g16-s50 ≥ 1.5x). auto runs it unless --engines wllama.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  threadsCore, threadCounts, threadScaling, acceptanceLine, acceptanceLines, engineFamily, times,
  linkLlmModels, linkWllamaRuntime, llmQuality, machineDescription, runLlmBench, textTable, writeJson, exitWith, REPO, parseBenchArgs, isNum, num,
} from './lib.mjs';

const ENGINES = ['all', 'zeroskip', 'wllama'];
const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const THREAD_MODEL = 'SmolLM2-135M-Instruct.Q4_0.gguf';
const THREAD_WLLAMA = ['SmolLM2-135M-Instruct.Q4_0.gguf', 'SmolLM2-135M-Instruct.Q8_0.gguf'];
// The threads pass's protocol over the mode's (full: 128-token prompt, 3 rounds): 64 greedy tokens.
const THREAD_PROTOCOL = { full: { gen: 64 }, quick: {} };
const TIMEOUT_MS = 30 * 60 * 1000;
// The WebGPU pass: the dense model, the sparse files beside it (the first is replaced by the
// demo's default sparse file when www/llm-models.json names another), and a short protocol.
const GPU_MODEL = 'SmolLM2-135M-Instruct.Q4_0.gguf';
const GPU_VARIANTS = ['SmolLM2-135M-Instruct.act-teal-s40-cm32i8.zsk', 'SmolLM2-135M-Instruct.g16-s50-int4.zsk', 'SmolLM2-135M-Instruct.nm24-s50-int8.zsk'];
const GPU_PROTOCOL = { full: { prompt: 16, gen: 16, rounds: 2 }, quick: { prompt: 16, gen: 8, rounds: 1 } };
const WLLAMA_VERSION_NOTE = (v) => `@wllama/wllama@${v} ships one build, esm/wasm/wllama.wasm (wasm64, llama.cpp with ggml's WebGPU backend compiled in: ` +
  'it imports wgpu* from its JS glue), loaded with n_gpu_layers > 0 for wllama-webgpu';

function parseArgs(argv) {
  const opts = parseBenchArgs(argv, {
    usage: 'usage: node bench/llm.mjs [--isa simd128,relaxed] [--quick] [--engines all|zeroskip|wllama] [--model FILE.gguf] ' +
      '[--variants all|none|A.zsk,B.zsk] [--wllama model|all|A.gguf,B.gguf] [--threads auto|none|1,2] [--threads-only] [--webgpu auto|none] [--webgpu-only] [--out FILE]',
    defaults: {
      engines: 'all', model: MODEL, variants: 'all', wllama: 'model', out: path.join(REPO, 'bench/results/llm.json'), threads: 'auto', single: true,
      webgpu: 'auto', threadsPass: true,
    },
    flags: {
      '--threads-only': (o) => { o.single = false; o.webgpu = 'none'; },
      '--webgpu-only': (o) => { o.single = false; o.threadsPass = false; o.webgpu = 'on'; },
    },
    options: Object.fromEntries(['engines', 'model', 'variants', 'wllama', 'threads', 'webgpu'].map((k) => [`--${k}`, (o, v) => { o[k] = v; }])),
  });
  if (!['auto', 'none', 'on'].includes(opts.webgpu)) throw new Error(`unknown --webgpu ${opts.webgpu}: expected auto|none`);
  if (!ENGINES.includes(opts.engines)) throw new Error(`unknown --engines ${opts.engines}: expected ${ENGINES.join('|')}`);
  return opts;
}


const ROW_COLUMNS = [
  ['engine', (r) => r.engine],
  ['variant', (r) => r.variant],
  ['sp%', (r) => (isNum(r.sparsity) ? (100 * r.sparsity).toFixed(1) : '-'), 'r'],
  ['act', (r) => (r.act_method ? `${r.act_method} ${num(r.act_sparsity, 2)}` : '')],
  ['skipped', (r) => num(r.act_skipped, 2), 'r'],
  ['MB', (r) => num(r.file_bytes / 1e6, 1), 'r'],
  ['ppl', (r) => num(r.ppl, 1), 'r'],
  ['prompt', (r) => r.prompt_tokens, 'r'],
  ['prefill tok/s', (r) => num(r.prefill_tok_s, 1), 'r'],
  ['gen', (r) => r.gen_tokens, 'r'],
  ['decode tok/s', (r) => num(r.decode_tok_s, 1), 'r'],
  ['prefill runs', (r) => r.prefill_tok_s_runs.map((x) => num(x, 1)).join(' ')],
  ['decode runs', (r) => r.decode_tok_s_runs.map((x) => num(x, 1)).join(' ')],
  ['load ms', (r) => num(r.load_ms, 0), 'r'],
  ['GEMV', (r) => (r.gemv_kernels ? Object.values(r.gemv_kernels).join(',') : '')],
];

function format(result, wllamaVersion) {
  const w = result.wllama;
  const x = (v) => (isNum(v) ? `${v.toFixed(2)}x` : '-');
  const VARIANT_COLUMNS = [
    ['variant', (v) => v.variant],
    ['engine', (v) => v.engine],
    ['sp%', (v) => (isNum(v.sparsity) ? (100 * v.sparsity).toFixed(1) : '-'), 'r'],
    ['MB', (v) => num(v.file_bytes / 1e6, 1), 'r'],
    ['prefill tok/s', (v) => num(v.prefill_tok_s, 1), 'r'],
    ['decode tok/s', (v) => num(v.decode_tok_s, 1), 'r'],
    ['prefill/dense', (v) => x(v.prefill_vs_dense), 'r'],
    ['decode/dense', (v) => x(v.decode_vs_dense), 'r'],
    ['prefill/wllama', (v) => x(v.prefill_vs_wllama), 'r'],
    ['decode/wllama', (v) => x(v.decode_vs_wllama), 'r'],
  ];
  const variantRatios = result.variant_ratios ?? [];
  const lines = [
    `== ${result.mode} mode: prompt ${result.protocol.prompt} tokens, ${result.protocol.gen} greedy tokens, ` +
      `${result.protocol.rounds} round(s), ${num(result.elapsed_s, 0)} s ==`,
    w ? `wllama ${wllamaVersion} (llama.cpp ${w.llama_cpp}) on ${result.wllama_files.join(', ')}: multithread ${w.multithread}, ` +
      `threads ${w.threads}, add_bos ${w.add_bos}` : 'wllama not run',
    '',
    textTable(ROW_COLUMNS, result.rows),
    '',
    ...(variantRatios.length
      ? ['sparse variants vs the dense model on the same build (/dense) and vs wllama-1t on the dense GGUF (/wllama), ' +
        'median over rounds of per-round ratios, > 1 = faster:', textTable(VARIANT_COLUMNS, variantRatios), '']
      : ['no sparse variants run', '']),
    `wasm memory after loading: ${Object.entries(result.wasm_memory_bytes ?? {}).map(([k, v]) => `${k} ${num(v / 2 ** 20, 0)} MiB`).join(', ')}`,
    ...Object.entries(result.ratios).map(([k, v]) => `  ${k} = ${isNum(v) ? v.toFixed(2) + 'x' : '-'}`),
    '',
    `prompt: ${result.prompt.tokens} tokens, "${result.prompt.head.replace(/\n/g, ' ')}…"`,
    ...Object.entries(result.greedy).map(([e, g]) => `greedy ${e}, first ${g.first_ids.length} tokens: ${JSON.stringify(g.first_text)}\n  ids ${g.first_ids.join(' ')} (${g.ids_from})`),
    ...Object.entries(result.agreement).map(([k, a]) => `  ${k}: ${a.same_first_tokens}/${a.of} first tokens equal, ${a.common_prefix_chars} chars in common`),
  ];
  return lines.join('\n');
}

// ---- threads ----------------------------------------------------------------------------------

const THREAD_ROW_COLUMNS = [
  ['engine', (r) => r.engine], ['variant', (r) => r.variant], ['threads', (r) => r.threads, 'r'],
  ['prefill tok/s', (r) => num(r.prefill_tok_s, 1), 'r'], ['decode tok/s', (r) => num(r.decode_tok_s, 1), 'r'],
  ['prefill runs', (r) => r.prefill_tok_s_runs.map((x) => num(x, 1)).join(' ')], ['decode runs', (r) => r.decode_tok_s_runs.map((x) => num(x, 1)).join(' ')],
  ['ppl', (r) => num(r.ppl, 1), 'r'], ['load ms', (r) => num(r.load_ms, 0), 'r'],
];

/** The threads section: rows, decode/prefill 2t/1t scaling, 2t ratios against wllama and the dense file, acceptance, unmeasured. */
function combineThreads(results, { load, sparse }) {
  const rows = results.flatMap((r) => r.rows);
  const keyOf = (r) => ({ model: r.model, variant: r.variant });
  const scaling = [
    ...threadScaling(rows, { keyOf, value: (r) => r.decode_tok_s, faster: (a, b) => b / a }).map((x) => ({ ...x, metric: 'decode_tok_s' })),
    ...threadScaling(rows, { keyOf, value: (r) => r.prefill_tok_s, faster: (a, b) => b / a }).map((x) => ({ ...x, metric: 'prefill_tok_s' })),
  ];
  const at2 = rows.filter((r) => r.threads === 2);
  const wl = at2.filter((r) => engineFamily(r.engine) === 'wllama');
  const best = wl.reduce((b, r) => (!b || r.decode_tok_s > b.decode_tok_s ? r : b), null);
  const zsRows = at2.filter((r) => r.engine.startsWith('zeroskip'));
  const dense = (r) => zsRows.find((q) => q.engine === r.engine && q.variant === 'q4_0');
  const over = (a, b) => (isNum(a) && isNum(b) && b > 0 ? a / b : null);
  const ratios = zsRows.map((r) => ({
    engine: r.engine, variant: r.variant, threads: 2, decode_tok_s: r.decode_tok_s, prefill_tok_s: r.prefill_tok_s,
    wllama_fastest: best ? `${best.engine} ${best.variant}` : null,
    decode_over_wllama_fastest: over(r.decode_tok_s, best?.decode_tok_s),
    prefill_over_wllama_fastest: over(r.prefill_tok_s, best?.prefill_tok_s),
    ...Object.fromEntries(wl.map((w) => [`decode_over_${w.engine}_${w.variant}`, over(r.decode_tok_s, w.decode_tok_s)])),
    decode_over_dense_q4_0: r.variant === 'q4_0' ? null : over(r.decode_tok_s, dense(r)?.decode_tok_s),
    prefill_over_dense_q4_0: r.variant === 'q4_0' ? null : over(r.prefill_tok_s, dense(r)?.prefill_tok_s),
  }));
  const isas = [...new Set(zsRows.map((r) => r.isa))];
  const sc = (isa, metric) => scaling.find((x) => x.engine === `zeroskip-${isa}` && x.variant === 'q4_0' && x.metric === metric)?.scaling;
  const acceptance = isas.flatMap((isa) => [
    acceptanceLine(`${isa}: SmolLM2 Q4_0 decode 2t/1t speedup`, sc(isa, 'decode_tok_s'), 1.5),
    acceptanceLine(`${isa}: SmolLM2 Q4_0 prefill 2t/1t speedup`, sc(isa, 'prefill_tok_s'), 1.7),
    acceptanceLine(`${isa}: SmolLM2 Q4_0 decode, 2t: zeroskip / wllama's fastest (${best ? best.variant : '-'})`,
      ratios.find((r) => r.engine === `zeroskip-${isa}` && r.variant === 'q4_0')?.decode_over_wllama_fastest, 1.5),
  ].map((a) => ({ ...a, isa })));
  return {
    counts: [...new Set(rows.map((r) => r.threads))].sort(),
    builds: results[0]?.zeroskip_builds ?? null,
    model_file: THREAD_MODEL,
    sparse_file: sparse,
    wllama_files: THREAD_WLLAMA,
    protocol: results[0]?.protocol ?? null,
    wllama: results.map((r) => ({ threads: r.threads, ...r.wllama })),
    ...threadsCore({ load, rows, scaling, ratios, acceptance }),
    greedy: Object.fromEntries(results.map((r) => [`${r.threads}t`, r.greedy])),
    agreement: Object.fromEntries(results.map((r) => [`${r.threads}t`, r.agreement])),
    elapsed_s: results.map((r) => r.elapsed_s),
  };
}

function formatThreads(t) {
  return [
    `== threads: ${t.counts.join(', ')} (builds ${(t.builds ?? []).join(', ')}), ${t.model_file} + ${t.sparse_file ?? 'no sparse file'}, ` +
      `wllama on ${t.wllama_files.join(', ')}; load average before ${t.load_average.before.map((v) => v.toFixed(2)).join(' ')}, ` +
      `after ${t.load_average.after.map((v) => v.toFixed(2)).join(' ')} ==`,
    ...t.wllama.map((w) => `wllama ${w.threads}t: multithread ${w.multithread}, threads ${w.threads}, llama.cpp ${w.llama_cpp}`),
    ...(t.load_note ? [`WARNING: ${t.load_note}`] : []),
    '',
    textTable(THREAD_ROW_COLUMNS, t.rows),
    ...t.unmeasured.map((u) => `${u.engine} ${u.variant} ${u.threads} threads: ${u.status}`),
    '',
    textTable([
      ['engine', (x) => x.engine], ['variant', (x) => x.variant], ['metric', (x) => x.metric],
      ['1t tok/s', (x) => num(x.one, 1), 'r'], ['2t tok/s', (x) => num(x.many, 1), 'r'], ['2t/1t', (x) => times(x.scaling), 'r'],
    ], t.scaling),
    '',
    textTable([
      ['2 threads', (r) => `${r.engine} ${r.variant}`], ['decode tok/s', (r) => num(r.decode_tok_s, 1), 'r'],
      ['decode / wllama best', (r) => times(r.decode_over_wllama_fastest), 'r'], ['prefill / wllama best', (r) => times(r.prefill_over_wllama_fastest), 'r'],
      ['decode / dense q4_0', (r) => times(r.decode_over_dense_q4_0), 'r'], ['prefill / dense q4_0', (r) => times(r.prefill_over_dense_q4_0), 'r'],
    ], t.ratios),
    `(wllama's fastest on 2 threads: ${t.ratios[0]?.wllama_fastest ?? '-'})`,
    '',
    acceptanceLines('acceptance, issue 14 (informational: never fails the run)', t.acceptance),
    ...Object.entries(t.agreement).flatMap(([k, ag]) => Object.entries(ag ?? {}).map(([p, a]) => `  ${k} ${p}: ${a.same_first_tokens}/${a.of} first tokens equal`)),
  ].join('\n');
}

/** The threads pass: one fresh page per thread count. Returns {section, ok}. */
async function runThreads(opts, threads, models) {
  const { default: sparse, quality } = llmQuality(REPO);
  const missing = [THREAD_MODEL, ...THREAD_WLLAMA].filter((f) => !models.includes(f));
  if (missing.length) throw new Error(`threads pass: no ${missing.join(', ')} in .cache/zoo/llm`);
  const variants = sparse && models.includes(sparse) && sparse !== THREAD_MODEL ? [sparse] : [];
  const before = os.loadavg();
  const results = [];
  let ok = true;
  for (const t of threads) {
    const { result, problems } = await runLlmBench(REPO, {
      isas: opts.isas, mode: opts.mode, engines: 'all', model: THREAD_MODEL, variants, wllama: THREAD_WLLAMA, threads: t, timeoutMs: TIMEOUT_MS,
      protocol: THREAD_PROTOCOL[opts.mode],
    }, (url, version) => console.log(`\nLLM benchmark, ${t} thread(s) (${opts.mode}) at ${url}, Chromium ${version}`));
    if (!result?.rows?.length) {
      ok = false;
      continue;
    }
    ok &&= problems.length === 0;
    for (const r of result.rows) {
      const q = r.engine.startsWith('zeroskip') ? quality[r.variant] : null;
      if (q) Object.assign(r, q);
    }
    results.push(result);
  }
  if (!results.length) return { section: null, ok: false };
  return { section: combineThreads(results, { load: { before, after: os.loadavg() }, sparse: variants[0] ?? null }), ok };
}

// ---- WebGPU (issue 15) ------------------------------------------------------------------------

const GPU_ROW_COLUMNS = [
  ['engine', (r) => r.engine], ['variant', (r) => r.variant], ['backend', (r) => r.backend],
  ['prefill tok/s', (r) => num(r.prefill_tok_s, 2), 'r'], ['decode tok/s', (r) => num(r.decode_tok_s, 2), 'r'],
  ['prefill runs', (r) => r.prefill_tok_s_runs.map((x) => num(x, 2)).join(' ')], ['decode runs', (r) => r.decode_tok_s_runs.map((x) => num(x, 2)).join(' ')],
  ['MB', (r) => num(r.file_bytes / 1e6, 1), 'r'], ['load ms', (r) => num(r.load_ms, 0), 'r'],
];

/** The webgpu section of llm.json from the page's result: rows, ratios, agreement, acceptance, wllama. */
function webgpuSection(result, { model, variants, defaultSparse, wllamaVersion, load }) {
  const rows = result.rows;
  const dense = modelVariant(model);
  const row = (engine, variant) => rows.find((r) => r.engine === engine && r.variant === variant) ?? null;
  const over = (a, b) => (isNum(a) && isNum(b) && b > 0 ? a / b : null);
  // per round, then the median (the page's own ratios: same round, same page)
  const pageRatio = (what, a, b) => result.ratios[`${what}: ${a} / ${b}`] ?? null;
  const wasm = result.zeroskip_builds.filter((b) => b !== 'webgpu' && !b.startsWith('webgpu'));
  const gpuRows = rows.filter((r) => r.engine === 'zeroskip-webgpu');
  const ratios = gpuRows.map((r) => {
    const out = {
      variant: r.variant, file: r.file, sparsity: r.sparsity, decode_tok_s: r.decode_tok_s, prefill_tok_s: r.prefill_tok_s,
      decode_over_dense_q4_0: r.variant === dense ? null : pageRatio('decode', `zeroskip-webgpu ${r.variant}`, `zeroskip-webgpu ${dense}`) ?? over(r.decode_tok_s, row('zeroskip-webgpu', dense)?.decode_tok_s),
      prefill_over_dense_q4_0: r.variant === dense ? null : pageRatio('prefill', `zeroskip-webgpu ${r.variant}`, `zeroskip-webgpu ${dense}`) ?? over(r.prefill_tok_s, row('zeroskip-webgpu', dense)?.prefill_tok_s),
    };
    for (const isa of wasm) {
      const w = row(`zeroskip-${isa}`, r.variant);
      out[`decode_over_wasm_${isa}`] = over(r.decode_tok_s, w?.decode_tok_s);
      out[`prefill_over_wasm_${isa}`] = over(r.prefill_tok_s, w?.prefill_tok_s);
      // the same ratio (sparse over dense Q4_0) on that WASM build, for comparison
      const wd = row(`zeroskip-${isa}`, dense);
      out[`wasm_${isa}_decode_over_dense_q4_0`] = r.variant === dense ? null : over(w?.decode_tok_s, wd?.decode_tok_s);
    }
    return out;
  });
  const ratioOf = (variant) => ratios.find((x) => x.variant === variant)?.decode_over_dense_q4_0;
  const sparseVariant = defaultSparse ? modelVariant(defaultSparse) : null;
  const gt = (name, value, target) => ({ ...acceptanceLine(name, value, target), pass: isNum(value) ? value > target : null, strict: true });
  const acceptance = [
    gt(`default sparse (${sparseVariant ?? 'none'}) decode / dense Q4_0, both on WebGPU`, sparseVariant ? ratioOf(sparseVariant) : null, 1.0),
    acceptanceLine('g16-s50-int4 decode / dense Q4_0, both on WebGPU', ratioOf('g16-s50-int4'), 1.5),
  ];
  const agreement = result.webgpu?.agreement ?? [];
  const wl = result.webgpu?.wllama ?? { loaded: [], failed: [] };
  const wlRows = rows.filter((r) => r.engine === 'wllama-webgpu');
  const offloaded = wl.loaded.map((x) => x.gpu_log.find((l) => /offloaded \d+\/\d+ layers to GPU/i.test(l)) ?? null);
  const wllama = {
    package: WLLAMA_VERSION_NOTE(wllamaVersion),
    status: wlRows.length ? 'ran on WebGPU' : wl.failed.length ? 'did not run on WebGPU' : 'not run',
    why: wlRows.length ? null : wl.failed.map((f) => `${f.file}: ${f.error}`).join('; ') || 'not requested',
    offloaded: offloaded.filter(Boolean),
    gpu_log: wl.loaded.flatMap((x) => x.gpu_log),
    rows: wlRows.map((r) => ({ variant: r.variant, decode_tok_s: r.decode_tok_s, prefill_tok_s: r.prefill_tok_s })),
    zeroskip_over_wllama_webgpu: wlRows.map((w) => ({
      variant: w.variant,
      decode: over(row('zeroskip-webgpu', w.variant)?.decode_tok_s, w.decode_tok_s),
      prefill: over(row('zeroskip-webgpu', w.variant)?.prefill_tok_s, w.prefill_tok_s),
    })),
  };
  return {
    adapter: result.webgpu?.adapter ?? null,
    adapter_note: result.webgpu?.adapter?.is_fallback_adapter
      ? 'a fallback adapter (SwiftShader: WebGPU emulated on the CPU): compare the ratios, not tokens/s' : null,
    host_build: result.webgpu?.host_build ?? null,
    browser: result.browser,
    date: result.date,
    protocol: result.protocol,
    model_file: model,
    variant_files: variants,
    default_sparse_file: defaultSparse,
    wasm_builds: wasm,
    rows,
    ratios,
    agreement,
    acceptance,
    wllama,
    load_average: load,
    elapsed_s: result.elapsed_s,
  };
}

const modelVariant = (file) => /\.([^.]+)\.(gguf|zsk)$/.exec(file)?.[1]?.toLowerCase() ?? file;

function formatWebgpu(g) {
  const a = g.adapter;
  const wasmCols = g.wasm_builds.flatMap((isa) => [[`decode gpu/${isa}`, (r) => times(r[`decode_over_wasm_${isa}`]), 'r'], [`${isa} sparse/dense`, (r) => times(r[`wasm_${isa}_decode_over_dense_q4_0`]), 'r']]);
  return [
    `== WebGPU: ${g.model_file} + ${g.variant_files.join(', ')}; prompt ${g.protocol?.prompt} tokens, ${g.protocol?.gen} greedy tokens, ` +
      `${g.protocol?.rounds} round(s); adapter ${a?.available ? `${[a.info?.vendor, a.info?.architecture, a.info?.device, a.info?.description].filter(Boolean).join(' ') || 'unnamed'}${a.is_fallback_adapter ? ' (fallback adapter: CPU emulation)' : ''}` : `none (${a?.reason ?? '?'})`}; ` +
      `${num(g.elapsed_s, 0)} s ==`,
    ...(g.adapter_note ? [g.adapter_note] : []),
    '',
    textTable(GPU_ROW_COLUMNS, g.rows),
    '',
    'sparse over dense Q4_0, both on WebGPU (median over rounds of the per-round ratio; > 1 = faster), and WebGPU over each WASM build:',
    textTable([
      ['variant', (r) => r.variant], ['decode tok/s', (r) => num(r.decode_tok_s, 2), 'r'], ['prefill tok/s', (r) => num(r.prefill_tok_s, 2), 'r'],
      ['decode / dense', (r) => times(r.decode_over_dense_q4_0), 'r'], ['prefill / dense', (r) => times(r.prefill_over_dense_q4_0), 'r'], ...wasmCols,
    ], g.ratios),
    '',
    'greedy tokens, WebGPU vs WASM on the same file:',
    ...g.agreement.map((x) => `  ${x.variant} vs ${x.vs}: ${x.match ? `match (${x.same_first_tokens}/${x.of} tokens)` : `first divergence at token ${x.first_divergence} of ${x.of}`}`),
    '',
    `wllama on WebGPU: ${g.wllama.status}${g.wllama.why ? ` (${g.wllama.why})` : ''}; ${g.wllama.package}`,
    ...g.wllama.offloaded.map((l) => `  ${l}`),
    ...g.wllama.zeroskip_over_wllama_webgpu.map((x) => `  zeroskip-webgpu / wllama-webgpu ${x.variant}: decode ${times(x.decode)}, prefill ${times(x.prefill)}`),
    '',
    acceptanceLines('acceptance, issue 15 (informational: never fails the run)', g.acceptance),
  ].join('\n');
}

/** The WebGPU pass: one page in a Chromium with an adapter. Returns {section, ok}. */
async function runWebgpu(opts, models, wllamaVersion) {
  const { default: demoDefault } = llmQuality(REPO);
  const defaultSparse = demoDefault && demoDefault.endsWith('.zsk') ? demoDefault : GPU_VARIANTS[0];
  const variants = [...new Set([defaultSparse, ...GPU_VARIANTS.slice(1)])];
  const missing = [GPU_MODEL, ...variants].filter((f) => !models.includes(f));
  if (missing.length) throw new Error(`WebGPU pass: no ${missing.join(', ')} in .cache/zoo/llm`);
  const before = os.loadavg();
  const { result, problems } = await runLlmBench(REPO, {
    isas: opts.isas, mode: opts.mode, engines: 'all', model: GPU_MODEL, variants, wllama: [GPU_MODEL], reload: true,
    webgpu: true, wllamaGpu: true, protocol: GPU_PROTOCOL[opts.mode], timeoutMs: TIMEOUT_MS,
  }, (url, version) => console.log(`\nLLM benchmark, WebGPU (${opts.mode}) at ${url}, Chromium ${version}`));
  if (!result?.rows?.length) return { section: null, ok: false };
  return {
    section: webgpuSection(result, { model: GPU_MODEL, variants, defaultSparse, wllamaVersion, load: { before, after: os.loadavg() } }),
    ok: problems.length === 0,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const wllamaVersion = linkWllamaRuntime(REPO);
  const models = linkLlmModels(REPO);
  if (!models.includes(opts.model)) throw new Error(`no ${opts.model} in .cache/zoo/llm: run make zoo (tools/zoo/llm.sh) first`);
  const zsk = models.filter((f) => f.endsWith('.zsk'));
  // the model's other files: its sparse .zsk variants and requantized GGUFs (Q8_0)
  const prefix = opts.model.slice(0, opts.model.indexOf('.') + 1);
  const siblings = models.filter((f) => f !== opts.model && f.startsWith(prefix));
  let variants;
  if (opts.variants === 'all') variants = siblings;
  else if (opts.variants === 'none') variants = [];
  else {
    variants = opts.variants.split(',').map((v) => v.trim()).filter(Boolean);
    const missing = variants.filter((v) => !models.includes(v));
    if (missing.length) throw new Error(`no ${missing.join(', ')} in .cache/zoo/llm (it holds ${zsk.join(', ') || 'no .zsk'})`);
  }
  if (opts.engines === 'wllama' && variants.length) {
    console.log('--engines wllama: the sparse variants are skipped (wllama cannot read .zsk)');
    variants = [];
  }
  let wllama = [opts.model];
  if (opts.wllama === 'all') wllama = [opts.model, ...siblings.filter((f) => f.endsWith('.gguf'))].sort();
  else if (opts.wllama !== 'model') {
    wllama = opts.wllama.split(',').map((v) => v.trim()).filter(Boolean);
    const missing = wllama.filter((v) => !models.includes(v) || !v.endsWith('.gguf'));
    if (missing.length) throw new Error(`--wllama ${missing.join(', ')}: not a GGUF in .cache/zoo/llm`);
  }
  const t0 = Date.now();
  const threads = threadCounts(opts.threads, { isas: opts.isas, needsBuild: opts.engines !== 'wllama' });
  if (opts.threads === 'auto' && !threads.length) console.log('no threaded builds in www/pkg (make wasm): the threads pass is skipped');
  const gpuPass = opts.webgpu !== 'none' && opts.engines !== 'wllama';
  if (!opts.single) {
    const thr = opts.threadsPass ? await runThreads(opts, threads, models) : { section: null, ok: true };
    const gpu = gpuPass ? await runWebgpu(opts, models, wllamaVersion) : { section: null, ok: true };
    if (thr.section || gpu.section) {
      const data = fs.existsSync(opts.out) ? JSON.parse(fs.readFileSync(opts.out, 'utf8')) : { machine: machineDescription() };
      writeJson(opts.out, { ...data, ...(thr.section ? { threads: thr.section } : {}), ...(gpu.section ? { webgpu: gpu.section } : {}) });
      if (thr.section) console.log(`\n${formatThreads(thr.section)}`);
      if (gpu.section) console.log(`\n${formatWebgpu(gpu.section)}`);
    }
    console.log(`\nllm.mjs: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return thr.ok && gpu.ok ? 0 : 1;
  }
  const { result, problems } = await runLlmBench(REPO, {
    isas: opts.isas,
    mode: opts.mode,
    engines: opts.engines,
    model: opts.model,
    variants,
    wllama,
    timeoutMs: TIMEOUT_MS,
  }, (url, version) => console.log(`LLM benchmark (${opts.mode}, builds ${opts.isas.join(',')}, engines ${opts.engines}, ` +
    `variants ${variants.join(',') || 'none'}) at ${url}, Chromium ${version}`));
  if (!result?.rows?.length) {
    console.error('LLM benchmark FAILED: the page produced no rows');
    return 1;
  }
  // perplexity (a property of the file, measured natively) and the demo's default
  const { default: demoDefault, quality } = llmQuality(REPO);
  for (const r of result.rows) {
    const q = r.engine.startsWith('zeroskip') ? quality[r.variant] : null;
    if (q) Object.assign(r, q);
    if (r.file === demoDefault && r.engine.startsWith('zeroskip')) r.default = true;
  }
  console.log(`\n${format(result, wllamaVersion)}\n(${((Date.now() - t0) / 1000).toFixed(0)} s wall)`);
  const thr = threads.length ? await runThreads(opts, threads, models) : { section: null, ok: true };
  const gpu = gpuPass ? await runWebgpu(opts, models, wllamaVersion) : { section: null, ok: true };
  const { machine: browserMachine, ...rest } = result;
  writeJson(opts.out, {
    machine: machineDescription(),
    browser: rest.browser,
    date: rest.date,
    ...rest,
    browser_machine: browserMachine,
    wllama: rest.wllama ? { npm: `@wllama/wllama@${wllamaVersion}`, wasm: 'esm/wasm/wllama.wasm', ...rest.wllama } : null,
    ...(thr.section ? { threads: thr.section } : {}),
    ...(gpu.section ? { webgpu: gpu.section } : {}),
  });
  if (thr.section) console.log(`\n${formatThreads(thr.section)}`);
  if (gpu.section) console.log(`\n${formatWebgpu(gpu.section)}`);
  console.log(`\nllm.mjs: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (problems.length) console.error('LLM benchmark: the page reported errors (above)');
  return problems.length || !thr.ok || !gpu.ok ? 1 : 0;
}

exitWith(main);
