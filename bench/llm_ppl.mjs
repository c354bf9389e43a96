// The pruning study of issue 5: SmolLM2-135M-Instruct (the zoo's Q4_1 GGUF) pruned by our CLI
// with each method (magnitude, Wanda, SparseGPT) and pattern (unstructured at 20/30/40/50 %,
// 1x16 groups at 5/10/20/30/40/50 %, 2:4 at its fixed 50 %), quantized into its sparse format, then
// evaluated by `zeroskip eval --ppl` on the held-out quarter of lee_background.cor. The
// calibration (the dense model's Gram matrices on the first 4096 tokens of the other three
// quarters) is computed once and cached (shared with tools/zoo/llm_pruned.sh). Prints a table,
// writes bench/results/llm_ppl.json.
//
//   node bench/llm_ppl.mjs [--quick] [--tokens N]
//
// Native CLI (target/release/zeroskip, `make cli`): perplexity is a property of the weights,
// not of the ISA; the browser benchmark (bench/llm.mjs) measures speed.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineDescription, textTable, writeJson } from './lib.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const tokArg = args.indexOf('--tokens');
const evalTokens = tokArg >= 0 ? Number(args[tokArg + 1]) : 4096;
const cli = path.join(repo, 'target/release/zeroskip');
const llm = path.join(repo, '.cache/zoo/llm');
const gguf = path.join(llm, 'SmolLM2-135M-Instruct.Q4_1.gguf');
const text = path.join(llm, 'lee_background.cor');
const work = path.join(repo, 'bench/tmp/llm_ppl');
fs.mkdirSync(work, { recursive: true });
for (const f of [cli, gguf, text]) {
  if (!fs.existsSync(f)) throw new Error(`missing ${f}: run make cli zoo first`);
}

const PATTERNS = [
  { pattern: 'unstructured', format: 'csr8', levels: [0.2, 0.3, 0.4, 0.5] },
  { pattern: '1x16', format: 'g16i4', levels: [0.03, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5] },
  { pattern: '2:4', format: 'nm24i8', levels: [0.5] },
];
const METHODS = quick ? ['wanda', 'sparsegpt'] : ['magnitude', 'wanda', 'sparsegpt'];

function run(argv) {
  return execFileSync(cli, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function ppl(model) {
  // --densify: the pruned, quantized values on the dense kernels (the same weights; the portable
  // sparse kernels of the native build are slower). Perplexity does not depend on the kernel.
  const out = run(['eval', model, '--ppl', text, '--max-tokens', String(evalTokens), '--ctx', '512',
    '--stride', '512', '--densify', '--json']);
  return JSON.parse(out.trim().split('\n').pop());
}

const t0 = Date.now();
const dense = ppl(gguf);
console.log(`dense Q4_1: ppl ${dense.ppl.toFixed(3)} on ${dense.tokens} held-out tokens (${dense.seconds} s)`);
const rows = [{ method: 'dense', pattern: 'dense', format: 'q4_1', sparsity: 0, ppl: dense.ppl,
  ratio: 1, file_bytes: fs.statSync(gguf).size, tokens: dense.tokens }];
for (const { pattern, format, levels } of PATTERNS) {
  for (const method of METHODS) {
    for (const s of levels) {
      const name = `smollm2-${method}-${pattern.replace(':', 'of')}-s${Math.round(s * 100)}-${format}.zsk`;
      const out = path.join(work, name);
      const t = Date.now();
      run(['prune', gguf, '--calib', text, '--method', method, '--pattern', pattern, '--sparsity', String(s),
        '--format', format, '--calib-tokens', '4096', '--calib-cache', path.join(llm, 'calib.bin'), '-o', out]);
      const pruneS = (Date.now() - t) / 1000;
      const r = ppl(out);
      const row = { method, pattern, format, sparsity: s, ppl: r.ppl, ratio: r.ppl / dense.ppl,
        file_bytes: fs.statSync(out).size, tokens: r.tokens, prune_s: pruneS, eval_s: r.seconds };
      rows.push(row);
      console.log(`${method} ${pattern} ${format} s${s}: ppl ${r.ppl.toFixed(2)} (${row.ratio.toFixed(2)}x dense), ` +
        `${(row.file_bytes / 1e6).toFixed(1)} MB, prune ${pruneS.toFixed(0)} s, eval ${r.seconds} s`);
      fs.rmSync(out);
    }
  }
}

const cols = [
  ['method', (r) => r.method], ['pattern', (r) => r.pattern], ['format', (r) => r.format],
  ['sparsity', (r) => r.sparsity.toFixed(2), 'r'], ['ppl', (r) => r.ppl.toFixed(2), 'r'],
  ['x dense', (r) => r.ratio.toFixed(2), 'r'], ['MB', (r) => (r.file_bytes / 1e6).toFixed(1), 'r'],
];
console.log(textTable(cols, rows));
writeJson(path.join(repo, 'bench/results/llm_ppl.json'), {
  machine: machineDescription(),
  browser: 'native CLI',
  date: new Date().toISOString(),
  model: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  protocol: {
    text: 'lee_background.cor (gensim test data); held-out: the last 25 % of lines, calibration: the rest',
    eval_tokens: evalTokens, ctx: 512, stride: 512,
    calibration: '4096 tokens of the calibration split, sequences of 512, dense-model Gram matrices',
    quantization: 'kept weights re-quantized from the dequantized Q4_1 values into the format',
  },
  dense_ppl: dense.ppl,
  seconds: (Date.now() - t0) / 1000,
  rows,
});
