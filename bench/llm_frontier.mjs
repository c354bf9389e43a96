#!/usr/bin/env node
// The honest LLM frontier (issue 13): decode speed against held-out perplexity for
// SmolLM2-135M-Instruct, every speed quoted next to its perplexity, against our fastest dense
// format and against llama.cpp's (wllama's) fastest format.
//
//   node bench/llm_frontier.mjs [--quick] [--skip-build] [--points a,b] [--isa simd128,relaxed]
//                               [--engines all|zeroskip] [--act-allocation uniform|greedy] [--out FILE]
//
// 1. Builds (native CLI, target/release/zeroskip, `make cli`) into bench/tmp/llm_frontier/ the
//    activation-sparse variants of the zoo's Q4_1 GGUF, one calibration per method
//    (--act-calib-cache), thresholds allocated --act-allocation (uniform by default, as the zoo's
//    act-teal-s40-cm32i8; greedy builds are named …-greedy): TEAL at 0 (the cm32i8 kernel
//    alone), 25, 40, 50, 60 % (cm32i8); gate
//    (CATS-style |silu(gate)|, ffn_down only) at 25, 40, 50, 60 % (cm32i8); TEAL 40 / 50 with
//    cm32i4; SparseGPT unstructured 20 % weights + TEAL 40; Wanda 1x16 3 % (g16i4, row-major:
//    it cannot skip, measured to show that) + TEAL 40. The dense Q4_0 / Q8_0 GGUFs come from
//    the zoo, else `zeroskip convert`. A zoo file of the same name is used instead of a build
//    (it is what the demo serves; a warning says when its recorded settings differ), and the
//    zoo's other .zsk files are points too. A file is rebuilt when its arguments or the CLI
//    change. SparseGPT / Wanda reuse the zoo's Gram-matrix cache (calib.bin) when its key names
//    the same files (the CLI keys it by the paths it is given), else keep their own.
// 2. Perplexity of every point: `zeroskip eval FILE --ppl lee_background.cor --max-tokens 4096
//    --ctx 512 --stride 512 --json` (the held-out quarter, bench/llm_ppl.mjs's protocol; the
//    thresholds apply to every token), with the activation sparsity it met (act_zero,
//    act_skipped); plus dense Q4_0, Q4_1, Q8_0 and the zoo's weight-sparse .zsk variants.
//    Cached per file (bench/tmp/llm_frontier/ppl.json) while the file and the CLI are unchanged.
// 3. Speed of every point in headless Chromium through www/llm.html: both builds (simd128,
//    relaxed), one thread, a 128-token prompt, 64 greedy tokens, 3 interleaved rounds (each
//    variant loaded for its timed run, after a warm-up), and wllama (llama.cpp in wasm) on the
//    Q4_0, Q4_1 and Q8_0 GGUFs in the same rounds.
// 4. Prints the table (degraded points, ppl > 1.5x dense Q4_1, apart: no speed headline comes
//    from them) and writes bench/results/llm_frontier.json (BENCH_FORMAT.md), also linked as
//    www/models/llm/llm_frontier.json for the LLM page's chart: one row per (file, build) and
//    per wllama format, with variant, engine, isa, threads, kind, format, weight_sparsity,
//    act_method, act_sparsity (the calibrated target), act_zero / act_skipped (what eval met),
//    act_skipped_browser (what the timed decode met), file_bytes, ppl, ppl_ratio (÷ dense Q4_1),
//    prefill_tok_s, decode_tok_s, decode_vs_dense_best (÷ our fastest dense format on that
//    build in this run), decode_vs_q4_0, decode_vs_wllama_best (÷ wllama's fastest format), all
//    ratios medians over rounds of per-round ratios; quality_ok (ppl ≤ 1.25x), degraded
//    (ppl > 1.5x), default (the demo's default file). Top level: dense_ppl, dense_fastest,
//    wllama_fastest, best (the fastest quality_ok point per build), acceptance (the demo
//    default against issue 13's bars: informational), points (how each file was made).
//
// --quick: a smoke run: 2 points (dense Q4_1 and TEAL 40 cm32i8), ppl on 512 tokens, 32 + 16
// tokens, 1 round, wllama on Q4_1 only; writes bench/tmp/llm_frontier/llm_frontier.quick.json.
// --skip-build: build nothing (points whose file is missing are left out). --points a,b: only
// these variants (plus the three dense formats and wllama, always measured); their rows replace
// the same variants' rows in the existing output, other rows are kept with their `session`.
// A benchmark is not a test: it exits non-zero only when a step failed or no rows came back.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  LLM_FRONTIER_JSON, exitWith, hardLink, linkLlmFiles, linkLlmModels, linkWllamaRuntime, machineDescription, runLlmBench,
  textTable, writeJson, REPO, parseBenchArgs, isNum, num,
} from './lib.mjs';
import { pairedRatio } from '../js/bench/timing.js';

const PREFIX = 'SmolLM2-135M-Instruct';
const WORK = path.join(REPO, 'bench/tmp/llm_frontier');
const CLI = path.join(REPO, 'target/release/zeroskip');
const WLLAMA = 'wllama-1t';
const QUALITY_BOUND = 1.25;
const DEGRADED_BOUND = 1.5;
const CALIB_TOKENS = 4096;
const SEQ_LEN = 512;
const PROTOCOLS = {
  full: { prompt: 128, gen: 64, rounds: 2, pplTokens: 4096 },
  quick: { prompt: 32, gen: 16, rounds: 1, pplTokens: 512 },
};
const DENSE = ['q4_0', 'q4_1', 'q8_0'];
const QUICK_POINTS = ['q4_1', 'act-teal-s40-cm32i8'];
const PAGE_TIMEOUT_MS = 90 * 60 * 1000;

const fileOf = (variant, ext = 'zsk') => `${PREFIX}.${variant}.${ext}`;

function parseArgs(argv) {
  const opts = parseBenchArgs(argv, {
    usage: 'usage: node bench/llm_frontier.mjs [--quick] [--skip-build] [--points a,b] [--isa simd128,relaxed] ' +
      '[--engines all|zeroskip] [--act-allocation uniform|greedy] [--out FILE]',
    defaults: { build: true, points: null, engines: 'all', allocation: 'uniform', out: null },
    flags: { '--skip-build': (o) => { o.build = false; } },
    options: {
      '--points': (o, v) => { o.points = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean); },
      '--engines': (o, v) => ['all', 'zeroskip'].includes(v) && ((o.engines = v), true),
      '--act-allocation': (o, v) => ['uniform', 'greedy'].includes(v) && ((o.allocation = v), true),
    },
  });
  opts.out ??= opts.mode === 'quick' ? path.join(WORK, 'llm_frontier.quick.json') : path.join(REPO, LLM_FRONTIER_JSON);
  return opts;
}

// ---- the points ---------------------------------------------------------------------------------

/**
 * Every point: {variant, kind: dense | weight | act | combo, file (absolute), source: zoo |
 * converted | built, format, weight_target, act_method, act_target, act_allocation, args (CLI,
 * for built ones)}. `zoo`: .cache/zoo/llm in the form the CLI is given it (the calibration
 * caches' keys hold those paths); `allocation`: --act-allocation of the built points.
 */
function definePoints(zoo, allocation, calibCache) {
  const gguf = path.join(zoo, fileOf('Q4_1', 'gguf'));
  const text = path.join(zoo, 'lee_background.cor');
  const actCache = (method) => path.join(WORK, `act-calib-${method}.bin`);
  const suffix = allocation === 'uniform' ? '' : `-${allocation}`;
  const prune = (extra, method) => ['prune', gguf, '--calib', text, '--calib-tokens', String(CALIB_TOKENS), ...extra,
    '--act-allocation', allocation, '--act-calib-cache', actCache(method)];
  const act = (method, pct, format) => ({
    variant: `act-${method}-s${String(pct).padStart(2, '0')}-${format}${suffix}`, kind: 'act', format, weight_target: 0,
    act_method: method, act_target: pct / 100, act_allocation: allocation, only: method === 'gate' ? ['ffn_down'] : null,
    // the LM head (21% of decode's multiply-adds) as an untied cm32i8 copy: it never skips,
    // but cm32i8's dense GEMV is faster than the embeddings' Q4_1 blocks
    args: prune(['--act-sparsity', String(pct / 100), '--act-method', method, '--format', format, '--lm-head', 'cm32i8'],
      method),
  });
  const points = [];
  // dense: the zoo's GGUFs, or converted from Q4_1
  for (const [variant, q] of [['q4_0', 'Q4_0'], ['q4_1', 'Q4_1'], ['q8_0', 'Q8_0']]) {
    const inZoo = path.join(zoo, fileOf(q, 'gguf'));
    const p = { variant, kind: 'dense', format: variant, weight_target: 0, act_method: null, act_target: 0 };
    if (fs.existsSync(inZoo)) points.push({ ...p, file: inZoo, source: 'zoo' });
    else points.push({ ...p, file: path.join(WORK, fileOf(q, 'gguf')), source: 'converted', args: ['convert', gguf, '--to', variant] });
  }
  // the zoo's weight-sparse variants (and any activation-sparse file not defined below)
  const defined = [
    ...[0, 25, 35, 40, 45, 50, 60].map((s) => act('teal', s, 'cm32i8')),
    ...[25, 40, 50, 60].map((s) => act('gate', s, 'cm32i8')),
    act('teal', 40, 'cm32i4'),
    {
      variant: `sgpt-u20-act-teal-s40-cm32i8${suffix}`, kind: 'combo', format: 'cm32i8', weight_target: 0.2, act_method: 'teal', act_target: 0.4,
      act_allocation: allocation,
      weights: 'SparseGPT, unstructured, 20 %',
      args: prune(['--sparsity', '0.2', '--pattern', 'unstructured', '--method', 'sparsegpt', '--calib-cache', calibCache,
        '--act-sparsity', '0.4', '--act-method', 'teal', '--format', 'cm32i8', '--lm-head', 'cm32i8'], 'teal'),
    },
    {
      variant: `wanda-g16-s03-act-teal-s40-g16i4${suffix}`, kind: 'combo', format: 'g16i4', weight_target: 0.03, act_method: 'teal', act_target: 0.4,
      act_allocation: allocation,
      weights: 'Wanda, 1x16 groups, 3 %', note: 'row-major g16i4 cannot skip zero inputs: its zeros are counted, not skipped',
      args: prune(['--sparsity', '0.03', '--pattern', '1x16', '--method', 'wanda', '--calib-cache', calibCache,
        '--act-sparsity', '0.4', '--act-method', 'teal', '--format', 'g16i4'], 'teal'),
    },
  ];
  const names = new Set(defined.map((p) => p.variant));
  for (const f of fs.readdirSync(zoo).sort()) {
    const m = new RegExp(`^${PREFIX.replace(/[.]/g, '\\.')}\\.(.+)\\.zsk$`).exec(f);
    if (!m || names.has(m[1].toLowerCase())) continue;
    const variant = m[1].toLowerCase();
    const a = /^act-(teal|gate|wina)-s(\d+)-([a-z0-9]+)/.exec(variant);
    points.push({
      variant, kind: a ? 'act' : 'weight', file: path.join(zoo, f), source: 'zoo', format: a?.[3] ?? null, weight_target: null,
      act_method: a?.[1] ?? null, act_target: a ? Number(a[2]) / 100 : 0,
    });
  }
  for (const p of defined) {
    const inZoo = path.join(zoo, fileOf(p.variant));
    if (fs.existsSync(inZoo)) points.push({ ...p, file: inZoo, source: 'zoo', args: undefined, instead_of: p.args });
    else points.push({ ...p, file: path.join(WORK, fileOf(p.variant)), source: 'built' });
  }
  return points;
}

/** Warns when a zoo file used instead of a build records other activation settings. */
function checkZooSettings(p) {
  if (p.source !== 'zoo' || !p.instead_of || !p.act_method) return;
  const recorded = p.meta['zeroskip.prune.act'];
  const want = `${p.act_method} ${p.act_allocation} ${p.act_target}`;
  if (recorded && recorded !== want) {
    console.log(`warning: the zoo's ${path.basename(p.file)} was made with activation settings "${recorded}", ` +
      `the frontier's own points with "${want}": it is measured as the zoo made it (the demo serves it)`);
  }
}

/**
 * The Gram-matrix calibration cache SparseGPT / Wanda need, and the form of the zoo's path to
 * give the CLI: the zoo's calib.bin when its key (which holds the model's and the text's paths
 * as the CLI was given them) names our files under one of `dirs` (read-only use: the CLI
 * rewrites a cache whose key differs, and the zoo's is shared), else one of our own in
 * bench/tmp with the first of `dirs`. Returns {zoo (the path form), path, shared}.
 */
function chooseCalibCache(dirs) {
  const keyOf = (dir) => {
    const gguf = path.join(dir, fileOf('Q4_1', 'gguf'));
    const text = path.join(dir, 'lee_background.cor');
    return `${gguf} ${fs.statSync(gguf).size} bytes | ${text} ${fs.statSync(text).size} bytes | ${CALIB_TOKENS} tokens | seq ${SEQ_LEN}`;
  };
  let key = null;
  try {
    const fd = fs.openSync(path.join(dirs[0], 'calib.bin'), 'r');
    const b = Buffer.alloc(1 << 16);
    fs.readSync(fd, b, 0, b.length, 0);
    fs.closeSync(fd);
    if (b.toString('latin1', 0, 8) === 'ZSKCAL01') key = b.toString('utf8', 16, 16 + Math.min(Number(b.readBigUInt64LE(8)), b.length - 16));
  } catch {
    key = null;
  }
  const dir = dirs.find((d) => keyOf(d) === key);
  return dir ? { zoo: dir, path: path.join(dir, 'calib.bin'), shared: true } : { zoo: dirs[0], path: path.join(WORK, 'calib.bin'), shared: false };
}

/** The GGUF metadata of a GGUF or sparse LLM .zsk (scalars and strings; arrays skipped). */
function ggufMeta(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(Math.min(fs.fstatSync(fd).size, 32 << 20));
  fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  const out = {};
  let at = buf.toString('latin1', 0, 8) === 'ZSKLLM\0\0' ? 16 : 0;
  if (buf.toString('latin1', at, at + 4) !== 'GGUF') return out;
  const SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const u64 = () => {
    const v = Number(buf.readBigUInt64LE(at));
    at += 8;
    return v;
  };
  const str = () => {
    const n = u64();
    at += n;
    return buf.toString('utf8', at - n, at);
  };
  const scalar = (t) => {
    const r = { 0: () => buf.readUInt8(at), 1: () => buf.readInt8(at), 2: () => buf.readUInt16LE(at), 3: () => buf.readInt16LE(at),
      4: () => buf.readUInt32LE(at), 5: () => buf.readInt32LE(at), 6: () => buf.readFloatLE(at), 7: () => buf.readUInt8(at) !== 0,
      10: () => Number(buf.readBigUInt64LE(at)), 11: () => Number(buf.readBigInt64LE(at)), 12: () => buf.readDoubleLE(at) }[t];
    if (!r) throw new Error(`GGUF value type ${t}`);
    const v = r();
    at += SIZE[t];
    return v;
  };
  try {
    at += 8; // version, then counts
    u64(); // tensors
    const nkv = u64();
    for (let i = 0; i < nkv; i++) {
      const key = str();
      const t = buf.readUInt32LE(at);
      at += 4;
      if (t === 8) out[key] = str();
      else if (t === 9) {
        const et = buf.readUInt32LE(at);
        at += 4;
        const n = u64();
        if (et === 8) for (let k = 0; k < n; k++) str();
        else at += n * SIZE[et];
      } else out[key] = scalar(t);
    }
  } catch {
    // past the bytes read, or a type we do not know: what was read so far
  }
  return out;
}

// ---- steps --------------------------------------------------------------------------------------

function cli(args, { quiet = false } = {}) {
  return execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'], maxBuffer: 64 << 20 });
}

/** A JSON file of cached results under WORK. */
function store(name) {
  const file = path.join(WORK, name);
  let data = {};
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    data = {};
  }
  return { data, save: () => fs.writeFileSync(file, JSON.stringify(data, null, 1) + '\n') };
}

const stamp = (f) => {
  const s = fs.statSync(f);
  return `${s.size}:${Math.round(s.mtimeMs)}`;
};

/** Builds the points that need it (missing, or made with other arguments or another CLI). */
function build(points, stamps) {
  const cliStamp = stamp(CLI);
  for (const p of points.filter((q) => q.args && q.source !== 'zoo')) {
    const args = [...p.args, '-o', p.file];
    const want = `${args.join(' ')} | cli ${cliStamp}`;
    if (fs.existsSync(p.file) && stamps.data[p.variant] === want) {
      console.log(`[build] ${path.basename(p.file)}: up to date`);
      continue;
    }
    const t0 = Date.now();
    console.log(`[build] ${path.basename(p.file)}: zeroskip ${args.map((a) => (a.startsWith(REPO + path.sep) ? path.relative(REPO, a) : a)).join(' ')}`);
    process.stdout.write(cli(args));
    p.build_s = (Date.now() - t0) / 1000;
    stamps.data[p.variant] = want;
    stamps.save();
  }
}

/** Perplexity of every point (cached while its file and the CLI are unchanged). */
function perplexities(points, text, tokens, cache) {
  const cliStamp = stamp(CLI);
  for (const p of points) {
    const key = `${path.basename(p.file)} ${stamp(p.file)} | ${tokens} tokens | cli ${cliStamp}`;
    let r = cache.data[key];
    if (!r) {
      const t0 = Date.now();
      const out = cli(['eval', p.file, '--ppl', text, '--max-tokens', String(tokens), '--ctx', '512', '--stride', '512', '--json'], { quiet: true });
      r = JSON.parse(out.trim().split('\n').pop());
      r.wall_s = (Date.now() - t0) / 1000;
      cache.data[key] = r;
      cache.save();
    }
    p.eval = r;
    console.log(`[ppl] ${p.variant.padEnd(34)} ppl ${num(r.ppl, 3).padStart(9)} on ${r.tokens} tokens; act ${r.act_method}: ` +
      `zero ${num(r.act_zero, 3)}, skipped ${num(r.act_skipped, 3)} (${num(r.seconds, 0)} s)`);
  }
}

// ---- rows ---------------------------------------------------------------------------------------

/** Median over rounds of a / b per round (the runs are in round order on both). */
function perRound(a, b) {
  if (!a || !b) return null;
  return pairedRatio(a.decode_tok_s_runs, b.decode_tok_s_runs);
}

function assemble(points, page, demoDefault, session) {
  const byVariant = new Map(points.map((p) => [p.variant, p]));
  const densePpl = Object.fromEntries(DENSE.map((v) => [v, byVariant.get(v)?.eval?.ppl ?? null]));
  const base = densePpl.q4_1;
  const fastest = (rows) => rows.filter((r) => isNum(r.decode_tok_s)).sort((a, b) => b.decode_tok_s - a.decode_tok_s)[0] ?? null;
  const pageRows = page.rows;
  const wllamaRows = pageRows.filter((r) => r.engine === WLLAMA);
  const wBest = fastest(wllamaRows);
  const rows = [];
  for (const r of pageRows) {
    const p = byVariant.get(r.variant);
    if (!p) continue;
    const isW = r.engine === WLLAMA;
    const ppl = p.eval?.ppl ?? null;
    const ratio = isNum(ppl) && isNum(base) ? ppl / base : null;
    const dBest = isW ? null : fastest(pageRows.filter((q) => q.engine === r.engine && DENSE.includes(q.variant)));
    const q40 = pageRows.find((q) => q.engine === r.engine && q.variant === 'q4_0');
    const meta = p.meta ?? {};
    // the file's own record of its activation settings, where it has one
    const actRecord = (meta['zeroskip.prune.act'] ?? '').split(' ');
    const row = {
      model: r.model,
      variant: r.variant,
      engine: r.engine,
      isa: r.isa ?? null,
      threads: r.threads ?? 1,
      kind: p.kind,
      format: p.format ?? meta['zeroskip.prune.format'] ?? null,
      weight_sparsity: isW ? 0 : (r.sparsity ?? null),
      act_method: meta['zeroskip.act.method'] ?? p.act_method ?? null,
      act_sparsity: isNum(meta['zeroskip.act.target']) ? Number(meta['zeroskip.act.target'].toFixed(6)) : (p.act_target ?? 0),
      act_allocation: p.act_allocation ?? (actRecord.length === 3 ? actRecord[1] : null),
      act_zero: p.eval?.act_zero ?? null,
      act_skipped: isW ? 0 : (p.eval?.act_skipped ?? null),
      act_skipped_browser: isW ? null : (r.act_skipped ?? (p.act_method ? null : 0)),
      file: path.basename(p.file),
      file_bytes: r.file_bytes,
      ppl,
      ppl_ratio: ratio,
      ppl_tokens: p.eval?.tokens ?? null,
      prompt_tokens: r.prompt_tokens,
      gen_tokens: r.gen_tokens,
      prefill_tok_s: r.prefill_tok_s,
      decode_tok_s: r.decode_tok_s,
      prefill_tok_s_runs: r.prefill_tok_s_runs,
      decode_tok_s_runs: r.decode_tok_s_runs,
      dense_best: dBest?.variant ?? null,
      decode_vs_dense_best: isW ? null : perRound(r, dBest),
      decode_vs_q4_0: isW ? null : perRound(r, q40),
      wllama_best: wBest?.variant ?? null,
      decode_vs_wllama_best: perRound(r, wBest),
      quality_ok: isNum(ratio) ? ratio <= QUALITY_BOUND : null,
      degraded: isNum(ratio) ? ratio > DEGRADED_BOUND : null,
      load_ms: r.load_ms,
      session,
    };
    if (isW) {
      row.ppl_source = `zeroskip eval of the same GGUF (${path.basename(p.file)})`;
      row.own_predicted_per_second = r.own_predicted_per_second;
    } else {
      row.gemv_kernels = r.gemv_kernels;
      if (path.basename(p.file) === demoDefault) row.default = true;
    }
    if (p.note) row.note = p.note;
    rows.push(row);
  }
  return { rows, densePpl };
}

/** Top-level summaries over `rows` (all sessions). */
function summarize(rows, isas) {
  const fastest = (rs) => rs.filter((r) => isNum(r.decode_tok_s)).sort((a, b) => b.decode_tok_s - a.decode_tok_s)[0] ?? null;
  const brief = (r, extra = []) => (r ? Object.fromEntries(['variant', 'engine', 'decode_tok_s', 'prefill_tok_s', 'ppl', 'ppl_ratio', ...extra]
    .map((k) => [k, r[k] ?? null])) : null);
  const ratios = ['decode_vs_dense_best', 'dense_best', 'decode_vs_q4_0', 'decode_vs_wllama_best', 'wllama_best', 'act_skipped', 'session'];
  const out = { dense_fastest: {}, best: {} };
  for (const isa of isas) {
    const mine = rows.filter((r) => r.engine === `zeroskip-${isa}`);
    out.dense_fastest[isa] = brief(fastest(mine.filter((r) => r.kind === 'dense')));
    out.best[isa] = brief(fastest(mine.filter((r) => r.quality_ok === true)), ratios);
  }
  out.wllama_fastest = brief(fastest(rows.filter((r) => r.engine === WLLAMA)));
  // the demo's default against issue 13's bars (informational: a benchmark is not a test)
  out.acceptance = isas.map((isa) => {
    const d = rows.find((r) => r.default && r.engine === `zeroskip-${isa}`);
    return {
      isa,
      variant: d?.variant ?? null,
      ppl_ratio: d?.ppl_ratio ?? null,
      decode_vs_q4_0: d?.decode_vs_q4_0 ?? null,
      decode_vs_wllama_best: d?.decode_vs_wllama_best ?? null,
      pass: d && [d.ppl_ratio, d.decode_vs_q4_0, d.decode_vs_wllama_best].every(isNum)
        ? d.ppl_ratio <= QUALITY_BOUND && d.decode_vs_q4_0 >= 1.35 && d.decode_vs_wllama_best >= 2 : null,
      bars: 'ppl ≤ 1.25x dense Q4_1, decode ≥ 1.35x our Q4_0 (goal 1.6x), ≥ 2.0x wllama\'s fastest format',
    };
  });
  return out;
}

const COLUMNS = [
  ['variant', (r) => r.variant + (r.default ? ' *' : '')],
  ['engine', (r) => r.engine],
  ['format', (r) => r.format ?? ''],
  ['w sp', (r) => num(r.weight_sparsity, 2), 'r'],
  ['act', (r) => (r.act_method ? `${r.act_method} ${num(r.act_sparsity, 2)}` : '')],
  ['zero', (r) => num(r.act_zero, 2), 'r'],
  ['skip', (r) => num(r.act_skipped, 2), 'r'],
  ['MB', (r) => num(r.file_bytes / 1e6, 1), 'r'],
  ['ppl', (r) => num(r.ppl, 2), 'r'],
  ['x dense', (r) => num(r.ppl_ratio, 3), 'r'],
  ['prefill', (r) => num(r.prefill_tok_s, 1), 'r'],
  ['decode', (r) => num(r.decode_tok_s, 1), 'r'],
  ['/dense best', (r) => (r.engine === WLLAMA ? '' : `${num(r.decode_vs_dense_best, 2)} (${r.dense_best ?? '-'})`), 'r'],
  ['/q4_0', (r) => num(r.decode_vs_q4_0, 2), 'r'],
  ['/wllama best', (r) => num(r.decode_vs_wllama_best, 2), 'r'],
  ['ok', (r) => (r.quality_ok ? 'yes' : r.quality_ok === false ? 'no' : '-')],
];
const DEGRADED_COLUMNS = COLUMNS.filter(([h]) => !['prefill', 'decode', '/dense best', '/q4_0', '/wllama best', 'ok'].includes(h));

function report(json) {
  const order = (a, b) => (a.engine < b.engine ? -1 : a.engine > b.engine ? 1 : (b.decode_tok_s ?? 0) - (a.decode_tok_s ?? 0));
  const fine = json.rows.filter((r) => !r.degraded && r.engine !== WLLAMA).sort(order);
  const bad = json.rows.filter((r) => r.degraded && r.engine !== WLLAMA).sort(order);
  const w = json.rows.filter((r) => r.engine === WLLAMA).sort(order);
  const b = (isa) => json.best[isa];
  return [
    `== LLM frontier (${json.mode}): prompt ${json.protocol.speed.prompt} tokens, ${json.protocol.speed.gen} greedy tokens, ` +
      `${json.protocol.speed.rounds} round(s); ppl on ${json.protocol.ppl.tokens} held-out tokens; dense Q4_1 ppl ${num(json.dense_ppl.q4_1, 3)} ==`,
    '',
    `points within ${DEGRADED_BOUND}x dense Q4_1's perplexity (speed ratios: median over rounds of per-round ratios; * = the demo's default):`,
    textTable(COLUMNS, fine),
    '',
    `wllama (llama.cpp in wasm, one thread; ppl: our eval of the same GGUF):`,
    textTable(COLUMNS, w),
    '',
    `degraded (ppl > ${DEGRADED_BOUND}x dense Q4_1): no speed headline, speeds kept in the JSON only:`,
    bad.length ? textTable(DEGRADED_COLUMNS, bad) : '  none',
    '',
    ...json.isas.map((isa) => `best on ${isa} (fastest with ppl ≤ ${QUALITY_BOUND}x): ` + (b(isa)
      ? `${b(isa).variant} ${num(b(isa).decode_tok_s, 1)} tok/s, ppl ${num(b(isa).ppl_ratio, 3)}x, ${num(b(isa).decode_vs_dense_best, 2)}x our fastest dense ` +
        `(${b(isa).dense_best}), ${num(b(isa).decode_vs_q4_0, 2)}x our Q4_0, ${num(b(isa).decode_vs_wllama_best, 2)}x wllama's fastest (${b(isa).wllama_best})`
      : 'none')),
    `wllama's fastest: ${json.wllama_fastest ? `${json.wllama_fastest.variant} ${num(json.wllama_fastest.decode_tok_s, 1)} tok/s` : 'not run'}`,
    ...json.acceptance.map((a) => `demo default on ${a.isa}: ` + (a.variant === null ? 'not among the points measured' : `${a.variant}, ` +
      `ppl ${num(a.ppl_ratio, 3)}x, ${num(a.decode_vs_q4_0, 2)}x our Q4_0, ${num(a.decode_vs_wllama_best, 2)}x wllama's fastest: ` +
      `${a.pass === null ? 'not all of them measured' : a.pass ? 'meets' : 'misses'} issue 13's bars (1.25x ppl, 1.35x Q4_0, 2x wllama)`)),
  ].join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const proto = PROTOCOLS[opts.mode];
  const t0 = Date.now();
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run make cli`);
  const zooLink = path.join(REPO, '.cache/zoo/llm');
  if (!fs.existsSync(path.join(zooLink, fileOf('Q4_1', 'gguf')))) throw new Error(`no ${fileOf('Q4_1', 'gguf')} in .cache/zoo/llm: run make zoo`);
  fs.mkdirSync(WORK, { recursive: true });
  const calib = chooseCalibCache([...new Set([zooLink, fs.realpathSync(zooLink)])]);
  const { zoo } = calib;
  const text = path.join(zoo, 'lee_background.cor');
  console.log(`calibration (Gram matrices) cache: ${calib.path}${calib.shared ? " (the zoo's)" : " (ours: the zoo's has another key)"}`);

  let points = definePoints(zoo, opts.allocation, calib.path);
  const wanted = opts.mode === 'quick' ? QUICK_POINTS : opts.points;
  if (wanted) {
    const unknown = wanted.filter((v) => !points.some((p) => p.variant === v));
    if (unknown.length) throw new Error(`unknown --points ${unknown.join(', ')}; the points are ${points.map((p) => p.variant).join(', ')}`);
    points = points.filter((p) => wanted.includes(p.variant) || (opts.mode === 'full' && DENSE.includes(p.variant)));
  }
  const stamps = store('stamps.json');
  if (opts.build) build(points, stamps);
  const missing = points.filter((p) => !fs.existsSync(p.file));
  if (missing.length) {
    console.log(`left out (no file; --skip-build): ${missing.map((p) => p.variant).join(', ')}`);
    points = points.filter((p) => fs.existsSync(p.file));
  }
  if (!points.some((p) => p.variant === 'q4_1')) throw new Error('dense Q4_1 is needed (the perplexity and speed reference)');
  for (const p of points) {
    p.meta = p.file.endsWith('.zsk') ? ggufMeta(p.file) : {};
    checkZooSettings(p);
  }

  // perplexity (native)
  const pplCache = store('ppl.json');
  perplexities(points, text, proto.pplTokens, pplCache);

  // speed (headless Chromium): the files under www/models/llm
  const wllamaVersion = linkWllamaRuntime(REPO);
  linkLlmModels(REPO);
  linkLlmFiles(REPO, points.filter((p) => p.source !== 'zoo').map((p) => p.file));
  const base = fileOf('Q4_1', 'gguf');
  const variants = points.filter((p) => p.variant !== 'q4_1').map((p) => path.basename(p.file));
  const wllama = opts.engines === 'zeroskip' ? [] : points.filter((p) => p.kind === 'dense').map((p) => path.basename(p.file));
  const { result: page, problems } = await runLlmBench(REPO, {
    isas: opts.isas,
    mode: opts.mode,
    engines: opts.engines,
    model: base,
    variants,
    wllama,
    protocol: { prompt: proto.prompt, gen: proto.gen, rounds: proto.rounds },
    reload: true,
    timeoutMs: PAGE_TIMEOUT_MS,
  }, (url, version) => console.log(`\nspeed: llm.html at ${url}, Chromium ${version}, builds ${opts.isas.join(',')}, ` +
    `${variants.length + 1} files, wllama on ${wllama.join(', ') || 'nothing'}`));
  if (!page?.rows?.length) {
    console.error('LLM frontier FAILED: the page produced no rows');
    return 1;
  }

  const models = JSON.parse(fs.readFileSync(path.join(REPO, 'www/llm-models.json'), 'utf8')).models;
  const session = page.date;
  const { rows: fresh, densePpl } = assemble(points, page, models[0]?.file ?? null, session);
  let rows = fresh;
  if (opts.points && opts.mode === 'full' && fs.existsSync(opts.out)) {
    // re-timed points replace their rows; the others stay, from their own session
    const old = JSON.parse(fs.readFileSync(opts.out, 'utf8'));
    const redone = new Set(fresh.map((r) => r.variant));
    const kept = (old.rows ?? []).filter((r) => r.engine !== WLLAMA && !redone.has(r.variant)).map((r) => ({ ...r, session: r.session ?? old.date }));
    rows = [...fresh, ...kept];
    if (kept.length) console.log(`kept ${kept.length} rows of other points from ${opts.out} (their own sessions)`);
  }
  const json = {
    machine: machineDescription(),
    browser: page.browser,
    date: page.date,
    mode: opts.mode,
    model: PREFIX,
    isas: opts.isas,
    protocol: {
      speed: { ...page.protocol, threads: 1, engines: ['zeroskip-simd128', 'zeroskip-relaxed', WLLAMA].filter((e) => e !== WLLAMA || wllama.length) },
      ppl: {
        text: 'lee_background.cor (gensim test data), the held-out last 25 % of its lines', tokens: proto.pplTokens, ctx: 512, stride: 512,
        command: `zeroskip eval FILE --ppl lee_background.cor --max-tokens ${proto.pplTokens} --ctx 512 --stride 512 --json`,
        note: 'activation thresholds apply to every scored token (prefill too), as decode applies them',
      },
      calibration: `${CALIB_TOKENS} tokens of the calibration split (the first 75 % of the lines), sequences of ${SEQ_LEN}`,
      bounds: { quality_ok: `ppl ≤ ${QUALITY_BOUND}x dense Q4_1`, degraded: `ppl > ${DEGRADED_BOUND}x dense Q4_1: no speed headline` },
      ratios: 'decode_vs_*: median over rounds of the per-round ratio of decode tok/s, same page, same build; > 1 = faster',
    },
    dense_ppl: densePpl,
    ...summarize(rows, opts.isas),
    wllama: page.wllama ? { npm: `@wllama/wllama@${wllamaVersion}`, files: page.wllama_files, ...page.wllama } : null,
    points: points.map((p) => ({
      variant: p.variant, kind: p.kind, file: path.basename(p.file), source: p.source, format: p.format ?? p.meta['zeroskip.prune.format'] ?? null,
      weights: p.weights ?? null, act_method: p.act_method, act_target: p.act_target, act_allocation: p.act_allocation ?? null, only: p.only ?? null,
      prune: p.meta['zeroskip.prune.act'] ? Object.fromEntries(Object.entries(p.meta).filter(([k]) => k.startsWith('zeroskip.'))) : undefined,
      args: p.args ? [...p.args.map((a) => (a.startsWith('/') ? path.basename(a) : a)), '-o', path.basename(p.file)] : undefined,
      ppl_eval: p.eval ? { ppl: p.eval.ppl, tokens: p.eval.tokens, act_zero: p.eval.act_zero, act_skipped: p.eval.act_skipped, seconds: p.eval.seconds } : null,
      note: p.note,
    })),
    ratios: page.ratios,
    greedy: Object.fromEntries(Object.entries(page.greedy).map(([k, g]) => [k, g.first_text])),
    elapsed_s: (Date.now() - t0) / 1000,
    rows,
  };
  console.log(`\n${report(json)}\n(${((Date.now() - t0) / 1000).toFixed(0)} s wall)`);
  writeJson(opts.out, json);
  if (opts.out === path.join(REPO, LLM_FRONTIER_JSON)) hardLink(opts.out, path.join(REPO, 'www/models/llm/llm_frontier.json'));
  if (problems.length) console.error('LLM frontier: the page reported errors (above)');
  return problems.length ? 1 : 0;
}

exitWith(main);
