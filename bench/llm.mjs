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

import path from 'node:path';
import {
  linkLlmModels, linkWllamaRuntime, llmQuality, machineDescription, runLlmBench, textTable, writeJson, exitWith, REPO, parseBenchArgs, isNum, num,
} from './lib.mjs';

const ENGINES = ['all', 'zeroskip', 'wllama'];
const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const TIMEOUT_MS = 30 * 60 * 1000;

function parseArgs(argv) {
  const opts = parseBenchArgs(argv, {
    usage: 'usage: node bench/llm.mjs [--isa simd128,relaxed] [--quick] [--engines all|zeroskip|wllama] [--model FILE.gguf] ' +
      '[--variants all|none|A.zsk,B.zsk] [--wllama model|all|A.gguf,B.gguf] [--out FILE]',
    defaults: { engines: 'all', model: MODEL, variants: 'all', wllama: 'model', out: path.join(REPO, 'bench/results/llm.json') },
    options: Object.fromEntries(['engines', 'model', 'variants', 'wllama'].map((k) => [`--${k}`, (o, v) => { o[k] = v; }])),
  });
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
  const { machine: browserMachine, ...rest } = result;
  writeJson(opts.out, {
    machine: machineDescription(),
    browser: rest.browser,
    date: rest.date,
    ...rest,
    browser_machine: browserMachine,
    wllama: rest.wllama ? { npm: `@wllama/wllama@${wllamaVersion}`, wasm: 'esm/wasm/wllama.wasm', ...rest.wllama } : null,
  });
  if (problems.length) console.error('LLM benchmark: the page reported errors (above)');
  return problems.length ? 1 : 0;
}

exitWith(main);
