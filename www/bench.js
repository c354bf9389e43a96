// zeroskip kernel benchmark: our sparse (SpMM) vs our dense (GEMM) 1x1-conv kernels on the
// MobileNetV2 1.0/224 layer shapes, against a SIMD multiply-add peak measured in the same run.
//
//   bench.html?isa=simd128|relaxed&mode=full|quick&autorun=1
//
// It runs on the main thread in small chunks, yielding between measurements so the page
// repaints, and renders as it goes. The page computes every row and the summary; when done it
// leaves the whole result in window.__benchResult (the kernels.json contract in BENCH_FORMAT.md)
// and sets document.title = 'done' ('error' and window.__benchError on failure).
// bench/run.mjs and tests/browser/kernels.mjs only read that object.

import { loadWasm } from './zeroskip/index.js';
import { $, isNum, fmt, ratio, yieldToPage, el, environment, reportPageError, runPageBenchmark, readPageParams, progressUi, mountBenchPage, SECTIONS, ISA_CONTROL } from './util.js';

// ---- protocol ---------------------------------------------------------------------------------

/** The 19 distinct 1x1-conv shapes of MobileNetV2 1.0/224: [c_out, c_in, hw, count]. */
const MOBILENET_V2_SHAPES = [
  [16, 32, 12544, 1], [96, 16, 12544, 1], [24, 96, 3136, 1], [144, 24, 3136, 1],
  [24, 144, 3136, 1], [32, 144, 784, 1], [192, 32, 784, 3], [32, 192, 784, 2],
  [64, 192, 196, 1], [384, 64, 196, 4], [64, 384, 196, 3], [96, 384, 196, 1],
  [576, 96, 196, 3], [96, 576, 196, 2], [160, 576, 49, 1], [960, 160, 49, 3],
  [160, 960, 49, 2], [320, 960, 49, 1], [1280, 320, 49, 1],
];
/**
 * The fused activation each shape has in MobileNetV2: expansions (and the final 320→1280 conv)
 * end in ReLU6, projections (c_out < c_in) are linear.
 */
const activationOf = ([c_out, c_in]) => (c_out > c_in ? 'relu6' : 'none');
const QUICK_SHAPES = [[32, 144, 784, 1], [960, 160, 49, 3], [24, 96, 3136, 1]];

const PROTOCOLS = {
  full: {
    shapes: MOBILENET_V2_SHAPES, sparsities: [0, 0.5, 0.7, 0.8, 0.9, 0.95],
    samples: 7, sampleMs: 3, peakRuns: 5, peakMs: 20,
    maxError: { simd128: 0, relaxed: 6e-5 }, // measured 0 simd128, 1.9e-5 relaxed (K up to 960)
  },
  quick: {
    shapes: QUICK_SHAPES, sparsities: [0, 0.9], samples: 3, sampleMs: 1, peakRuns: 2, peakMs: 20,
    maxError: { simd128: 0, relaxed: 1.2e-5 }, // measured 0 simd128, 4.1e-6 relaxed (K ≤ 160)
  },
};
const ISAS = ['simd128', 'relaxed'];
const PATTERNS = ['unstructured', '4x1'];
const PEAK_CHAINS = [8, 10, 12, 14];
const SEED = 1;
// maxError bound per kernel ISA (PROTOCOLS.*.maxError), ~3× the worst measured: simd128 kernels
// sum in the naive reference's order without fused multiply-adds, so they match it exactly; relaxed
// kernels fuse (where the CPU has FMA), an error that grows with the reduction length K.
const BIG_LAYER_MNK = 1e7;
const S90 = 0.9;
const HW_MIN_S90 = 784;

const ACCEPTANCE = [
  { name: 'speedup unstructured 90% ≥ 4', target: 4, of: (s) => s.median_speedup.unstructured['0.9'] },
  { name: 'speedup unstructured 70% ≥ 1.8', target: 1.8, of: (s) => s.median_speedup.unstructured['0.7'] },
  { name: 'dense ≥ 60% peak on M·N·K ≥ 1e7', target: 60, of: (s) => s.dense_pct_peak_median_big },
  { name: 'nonzero throughput at 90% ≥ 50% peak, HW ≥ 784', target: 50, of: (s) => s.nonzero_pct_peak_median_s90_hw784 },
  {
    name: '4x1 kernel vs 32x1 at 90%, same nonzeros ≥ 1.3',
    target: 1.3,
    of: (s) => s.block4_vs_32x1_same_nnz_median_s90,
  },
];

function describeProtocol(p) {
  return `per kernel: prepare, maxError ≤ ${JSON.stringify(p.maxError)} (by kernel ISA) vs naive reference, 1 warm-up, iters calibrated (twice, for JIT tier-up) so ` +
    `a sample takes ≥ ${p.sampleMs} ms, ${p.samples} samples interleaved with the dense kernel on the same ` +
    `matrix, median ms per run reported; seed ${SEED}; peak: per probe 1 warm-up, best of ${p.peakRuns} runs ` +
    `≥ ${p.peakMs} ms, measured at start and end, larger kept; single thread, main thread`;
}

// ---- small numeric helpers --------------------------------------------------------------------


/** The median of an ascending array, or null if it is empty. */
function middle(sorted) {
  if (sorted.length === 0) return null;
  const h = sorted.length >> 1;
  return sorted.length % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

const median = (xs) => middle(xs.filter(isNum).sort((a, b) => a - b));

/** Median where null means "never" and ranks above every number; null if the median is never. */
function medianOrNever(xs) {
  const m = middle(xs.map((x) => (isNum(x) ? x : Infinity)).sort((a, b) => a - b));
  return isNum(m) ? m : null;
}

const gflops = (flops, ms) => ratio(flops / 1e6, ms);
const pct = (gf, peak) => (isNum(gf) && isNum(peak) ? (100 * gf) / peak : null);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** The key of the smallest value in a {name: ms} map, or null. */
function fastest(msByName) {
  let best = null;
  for (const [name, ms] of Object.entries(msByName)) {
    if (isNum(ms) && (best === null || ms < msByName[best])) best = name;
  }
  return best;
}

const pick = (obj, keys) => Object.fromEntries(keys.filter((k) => k in obj).map((k) => [k, obj[k]]));

/** Lowest sparsity with speedup ≥ 1, interpolating linearly between measured points; null if never. */
function breakeven(points) {
  const pts = points.filter(([, v]) => isNum(v));
  for (let i = 0; i < pts.length; i++) {
    const [s, v] = pts[i];
    if (v < 1) continue;
    if (i === 0) return s;
    const [s0, v0] = pts[i - 1];
    return s0 + ((1 - v0) * (s - s0)) / (v - v0);
  }
  return null;
}

// ---- timing -----------------------------------------------------------------------------------


function timeMs(fn, iters) {
  const t0 = performance.now();
  fn(iters);
  return performance.now() - t0;
}

/** An iteration count, grown geometrically from `iters`, for which one timed call takes ≥ minMs. */
function calibrate(fn, minMs, iters = 1) {
  for (;;) {
    const ms = timeMs(fn, iters);
    if (ms >= minMs) return iters;
    const grow = ms > 0 ? Math.min(16, (1.25 * minMs) / ms) : 16;
    iters = Math.max(iters + 1, Math.ceil(iters * grow));
  }
}

/**
 * Calibrates twice: the first pass runs long enough for the engine to tier the wasm up from its
 * baseline compiler, the second (starting from the first's count) sizes samples for the fast code.
 */
const settledIters = (fn, minMs) => calibrate(fn, minMs, calibrate(fn, minMs));

/**
 * Median ms per run of each kernel on one KernelBench. Samples are interleaved (kernel A, B, C,
 * A, B, C, ...) so every kernel sees the same machine noise. The first name is the dense kernel.
 */
const timeInterleaved = (kb, names, proto) =>
  timeTimers(names.map((name) => ({ name, fn: (iters) => kb.run(name, iters) })), proto);

/** Median ms per call of each `{name, fn(iters)}`, samples interleaved across them. */
async function timeTimers(list, proto) {
  const timers = list.map((t) => ({ ...t, samples: [] }));
  for (const t of timers) {
    t.fn(1); // warm-up
    t.iters = settledIters(t.fn, proto.sampleMs);
    await yieldToPage();
  }
  for (let s = 0; s < proto.samples; s++) {
    for (const t of timers) t.samples.push(timeMs(t.fn, t.iters) / t.iters);
    await yieldToPage();
  }
  return Object.fromEntries(timers.map((t) => [t.name, median(t.samples)]));
}

// ---- peak -------------------------------------------------------------------------------------

function peakProbeList(buildIsa) {
  const isas = buildIsa === 'relaxed' ? ['simd128', 'split', 'relaxed'] : ['simd128', 'split'];
  return isas.flatMap((isa) => PEAK_CHAINS.map((chains) => ({ isa, chains })));
}

/** Flops per iteration of zs.peakProbe: chains f32x4 multiply-adds (split: half as many). */
const probeFlopsPerIter = ({ isa, chains }) => chains * (isa === 'split' ? 4 : 8);

async function measureProbe(zs, probe, proto, phase) {
  const fn = (iters) => zs.peakProbe(probe.isa, probe.chains, iters);
  fn(1000); // warm-up
  const iters = settledIters(fn, proto.peakMs);
  let best = Infinity;
  for (let run = 0; run < proto.peakRuns; run++) {
    await yieldToPage();
    best = Math.min(best, timeMs(fn, iters));
  }
  return { phase, ...probe, iters, best_ms: best, gflops: gflops(iters * probeFlopsPerIter(probe), best) };
}

/** Runs every probe once; returns {probes, gflops (simd128 + split), relaxed_gflops (or null)}. */
async function measurePeak(zs, buildIsa, proto, phase, ui) {
  const probes = [];
  for (const probe of peakProbeList(buildIsa)) {
    probes.push(await measureProbe(zs, probe, proto, phase));
    ui.step();
  }
  const maxOf = (isas) => {
    const gf = probes.filter((p) => isas.includes(p.isa)).map((p) => p.gflops);
    return gf.length ? Math.max(...gf) : null;
  };
  return { probes, gflops: maxOf(['simd128', 'split']), relaxed_gflops: maxOf(['relaxed']) };
}

/** The peak a build's %peak figures are taken against: the relaxed build's fused one for relaxed. */
const referencePeak = (isa, peak) => (isa === 'relaxed' ? peak.relaxed_gflops : peak.gflops);

// ---- kernels and correctness checks -----------------------------------------------------------

/** NR of a 1x1 kernel: its tile is `<MR>x<NR>` (output pixels × output channels = block width). */
const nrOf = (k) => Number(k.tile.split('x')[1]);

/** The best-ISA kernels of a build, by op. */
function kernelSet(build) {
  const best = build.kernels.filter((k) => k.isa === build.isa);
  return {
    isa: build.isa,
    nr: new Map(build.kernels.map((k) => [k.name, nrOf(k)])),
    gemm: best.filter((k) => k.op === 'gemm').map((k) => k.name),
    spmm: best.filter((k) => k.op === 'spmm'),
  };
}

/** Sparse candidates: nr = 1 for unstructured; nr = 1 or 4 for 4x1 (includes spmm_f32_32x1__*). */
function sparseCandidates(kernels, pattern) {
  const nrs = pattern === 'unstructured' ? [1] : [1, 4];
  return kernels.spmm.filter((k) => nrs.includes(nrOf(k))).map((k) => k.name);
}

/** Every maxError check of the run, per kernel, and every failure (a failed kernel is not timed). */
class Checks {
  constructor(info, maxError) {
    this.info = new Map(info.map((k) => [k.name, k]));
    this.maxError = maxError;
    this.byKernel = new Map();
    this.errors = [];
  }

  /** Packs `kernel` on `kb` and compares one run to the naive reference; true if it may be timed. */
  verify(kb, kernel, where) {
    let maxError;
    try {
      kb.prepare(kernel);
      maxError = kb.maxError(kernel);
    } catch (err) {
      this.errors.push({ kernel, ...where, maxError: null, error: String(err) });
      return false;
    }
    this.record(kernel, maxError);
    const bound = this.maxError[this.info.get(kernel)?.isa] ?? 0;
    if (maxError <= bound) return true;
    this.errors.push({ kernel, ...where, maxError, error: `maxError ${maxError} > ${bound}` });
    return false;
  }

  record(kernel, maxError) {
    const { op, isa } = this.info.get(kernel) ?? {};
    const entry = this.byKernel.get(kernel) ?? { kernel, op, isa, checks: 0, maxError: 0 };
    entry.checks += 1;
    entry.maxError = isNum(maxError) ? Math.max(entry.maxError, maxError) : Infinity;
    this.byKernel.set(kernel, entry);
  }

  list() {
    return [...this.byKernel.values()];
  }
}

// ---- measurements -----------------------------------------------------------------------------

const shapeFields = (shape) => {
  const [c_out, c_in, hw, count] = shape;
  return { c_out, c_in, hw, count, activation: activationOf(shape) };
};

async function withBench(zs, shape, sparsity, pattern, fn) {
  const [c_out, c_in, hw] = shape;
  const kb = new zs.KernelBench(c_out, c_in, hw, sparsity, pattern, SEED, activationOf(shape));
  try {
    return await fn(kb);
  } finally {
    kb.free();
  }
}

/** Times every best-ISA Gemm kernel on the 0% matrix; the fastest is the shape's dense kernel. */
async function selectDense(zs, shape, kernels, proto, checks) {
  const where = { ...shapeFields(shape), sparsity: 0, pattern: 'unstructured' };
  return withBench(zs, shape, 0, 'unstructured', async (kb) => {
    const names = kernels.gemm.filter((name) => checks.verify(kb, name, where));
    const gemm = await timeInterleaved(kb, names, proto);
    const dense_kernel = fastest(gemm);
    const dense_ms = gemm[dense_kernel] ?? null;
    const [c_out, c_in, hw] = shape;
    return { ...shapeFields(shape), dense_kernel, dense_ms, dense_gflops: gflops(2 * c_out * c_in * hw, dense_ms), gemm };
  });
}

/** One row: the sparse candidates and the shape's dense kernel, timed on the same matrix. */
async function measureRow(zs, shape, sparsity, pattern, dense, kernels, proto, checks) {
  const where = { ...shapeFields(shape), sparsity, pattern };
  return withBench(zs, shape, sparsity, pattern, async (kb) => {
    const sparse = sparseCandidates(kernels, pattern).filter((name) => checks.verify(kb, name, where));
    const denseOk = dense.dense_kernel !== null && checks.verify(kb, dense.dense_kernel, where);
    const ms = await timeInterleaved(kb, denseOk ? [dense.dense_kernel, ...sparse] : sparse, proto);
    return makeRow({ shape, sparsity, pattern, kernels, denseKernel: dense.dense_kernel, nonzeros: kb.nonzeros(), ms, sparse });
  });
}

function makeRow({ shape, sparsity, pattern, kernels, denseKernel, nonzeros, ms, sparse }) {
  const [c_out, c_in, hw, count] = shape;
  const flops = 2 * c_out * c_in * hw;
  const candidates = pick(ms, sparse);
  const kernel = fastest(candidates);
  const dense_ms = ms[denseKernel] ?? null;
  const sparse_ms = candidates[kernel] ?? null;
  const row = {
    m: hw, n: c_out, k: c_in, c_out, c_in, hw, count, activation: activationOf(shape), sparsity, pattern, isa: kernels.isa,
    kernel, dense_kernel: denseKernel, dense_ms, sparse_ms, speedup: ratio(dense_ms, sparse_ms),
    dense_gflops: gflops(flops, dense_ms), effective_gflops: gflops(flops, sparse_ms),
    nonzero_gflops: gflops(2 * nonzeros * hw, sparse_ms), dense_pct_peak: null, nonzero_pct_peak: null,
    nonzeros, kernels: candidates,
  };
  return pattern === 'unstructured' ? row : { ...row, ...blockFields(candidates, kernels.nr) };
}

/**
 * What 4x1 blocks buy over unstructured sparsity at equal nonzeros: the row's block kernel on its
 * 4x1 matrix against XNNPACK's 32x1 tile on an unstructured matrix of the same shape and
 * sparsity, the two timed interleaved. Nonzero counts differ by rounding (a few in a thousand),
 * so the speedup compares time per nonzero.
 */
async function measureSameNnz(zs, shape, row, kernels, proto, checks) {
  const k32 = `spmm_f32_32x1__${kernels.isa}`;
  if (!row.nr4_kernel) return { same_nnz: null };
  return withBench(zs, shape, row.sparsity, 'unstructured', async (ub) =>
    withBench(zs, shape, row.sparsity, row.pattern, async (bb) => {
      const where = { ...shapeFields(shape), sparsity: row.sparsity };
      const ok =
        checks.verify(ub, k32, { ...where, pattern: 'unstructured' }) &&
        checks.verify(bb, row.nr4_kernel, { ...where, pattern: row.pattern });
      if (!ok) return { same_nnz: null };
      const ms = await timeTimers(
        [
          { name: 'unstructured', fn: (iters) => ub.run(k32, iters) },
          { name: 'block', fn: (iters) => bb.run(row.nr4_kernel, iters) },
        ],
        proto,
      );
      const [un, bn] = [ub.nonzeros(), bb.nonzeros()];
      return {
        same_nnz: {
          unstructured_kernel: k32,
          unstructured_nonzeros: un,
          unstructured_ms: ms.unstructured,
          block_kernel: row.nr4_kernel,
          block_nonzeros: bn,
          block_ms: ms.block,
          speedup: ratio(ms.unstructured / un, ms.block / bn),
        },
      };
    }),
  );
}

/** Block kernel (nr = 4) vs the best nr = 1 kernel on the same block-sparse matrix. */
function blockFields(candidates, nrOf) {
  const best = (nr) => fastest(Object.fromEntries(Object.entries(candidates).filter(([n]) => nrOf.get(n) === nr)));
  const [nr1_kernel, nr4_kernel] = [best(1), best(4)];
  const [nr1_ms, nr4_ms] = [candidates[nr1_kernel] ?? null, candidates[nr4_kernel] ?? null];
  return { nr1_ms, nr1_kernel, nr4_ms, nr4_kernel, block_speedup: ratio(nr1_ms, nr4_ms) };
}

/** Fills the %peak fields (rows and dense selections) against `peak` GFLOP/s. */
function applyPeak(entry, peak) {
  entry.dense_pct_peak = pct(entry.dense_gflops, peak);
  if ('nonzero_gflops' in entry) entry.nonzero_pct_peak = pct(entry.nonzero_gflops, peak);
  return entry;
}

// ---- summary ----------------------------------------------------------------------------------

function summarize(rows, dense, proto) {
  const at = (pattern, s) => rows.filter((r) => r.pattern === pattern && r.sparsity === s);
  const grid = (f) =>
    Object.fromEntries(PATTERNS.map((p) => [p, Object.fromEntries(proto.sparsities.map((s) => [String(s), f(at(p, s))]))]));
  const s90hw = (pattern) => at(pattern, S90).filter((r) => r.hw >= HW_MIN_S90).map((r) => r.nonzero_pct_peak);
  const blockRows = at('4x1', S90);
  const summary = {
    median_speedup: grid((rs) => median(rs.map((r) => r.speedup))),
    weighted_speedup: grid(weightedSpeedup),
    dense_pct_peak_median_big: median(
      dense.filter((d) => d.c_out * d.c_in * d.hw >= BIG_LAYER_MNK).map((d) => d.dense_pct_peak),
    ),
    nonzero_pct_peak_median_s90_hw784: median(s90hw('unstructured')),
    nonzero_pct_peak_median_s90_hw784_4x1: median(s90hw('4x1')),
    block4_vs_nr1_median_s90: median(blockRows.map((r) => r.block_speedup)),
    block4_vs_32x1_median_s90: median(blockRows.map((r) => ratio(r.kernels[`spmm_f32_32x1__${r.isa}`], r.nr4_ms))),
    block4_vs_32x1_same_nnz_median_s90: median(blockRows.map((r) => r.same_nnz?.speedup ?? null)),
    breakeven_sparsity: Object.fromEntries(PATTERNS.map((p) => [p, breakevenByShape(rows, p, proto.shapes)])),
    breakeven_density: Object.fromEntries(PATTERNS.map((p) => [p, breakevenDensity(rows, p)])),
  };
  summary.acceptance = ACCEPTANCE.map(({ name, target, of }) => {
    const value = of(summary) ?? null;
    return { name, value, target, pass: isNum(value) ? value >= target : null };
  });
  return summary;
}

/** Σ count·dense_ms / Σ count·sparse_ms over the rows that have both. */
function weightedSpeedup(rows) {
  const ok = rows.filter((r) => isNum(r.speedup));
  return ratio(sum(ok.map((r) => r.count * r.dense_ms)), sum(ok.map((r) => r.count * r.sparse_ms)));
}

function breakevenByShape(rows, pattern, shapes) {
  const per_shape = shapes.map(([c_out, c_in, hw]) => {
    const points = rows
      .filter((r) => r.pattern === pattern && r.c_out === c_out && r.c_in === c_in && r.hw === hw)
      .sort((a, b) => a.sparsity - b.sparsity)
      .map((r) => [r.sparsity, r.speedup]);
    return { shape: [c_out, c_in, hw], sparsity: breakeven(points) };
  });
  return { per_shape, median: medianOrNever(per_shape.map((p) => p.sparsity)) };
}

/**
 * The density at which the best sparse kernel would tie dense, assuming sparse time scales with
 * density: speedup · (1 − sparsity), from every row at ≥ 50% sparsity; median over them.
 * The selector's BREAK_EVEN_DENSITY (src/kernels/selector.rs) is this number.
 */
function breakevenDensity(rows, pattern) {
  const values = rows
    .filter((r) => r.pattern === pattern && r.sparsity >= 0.5 && isNum(r.speedup))
    .map((r) => r.speedup * (1 - r.sparsity));
  return { median: median(values), rows: values.length };
}

// ---- the run ----------------------------------------------------------------------------------

async function loadBuild(isa) {
  if (!ISAS.includes(isa)) throw new Error(`unknown isa '${isa}': expected one of ${ISAS.join(', ')}`);
  return loadWasm(isa);
}

const totalSteps = (proto, buildIsa) =>
  2 * peakProbeList(buildIsa).length +
  proto.shapes.length * (1 + PATTERNS.length * proto.sparsities.length + (proto.sparsities.includes(S90) ? 1 : 0));

async function runBenchmark({ isa, mode }, ui) {
  const proto = PROTOCOLS[mode];
  if (!proto) throw new Error(`unknown mode '${mode}': expected full or quick`);
  const t0 = performance.now();
  const zs = await loadBuild(isa);
  const build = JSON.parse(zs.buildInfo());
  const kernels = kernelSet(build);
  const checks = new Checks(build.kernels, proto.maxError);
  ui.start(totalSteps(proto, build.isa), proto);
  ui.log(`zeroskip ${build.version}, ${build.isa} build (${build.kernels.length} kernels), ${mode} mode`);
  ui.log(`shapes [c_out, c_in, hw, count, activation]: ${JSON.stringify(proto.shapes.map((s) => [...s, activationOf(s)]))}`);

  const peakStart = await measurePeak(zs, build.isa, proto, 'start', ui);
  ui.log(`peak at start: ${fmt(peakStart.gflops, 1)} GFLOP/s` + relaxedNote(peakStart));
  const livePeak = referencePeak(build.isa, peakStart);
  const dense = [];
  const rows = [];
  for (const shape of proto.shapes) {
    const d = applyPeak(await selectDense(zs, shape, kernels, proto, checks), livePeak);
    dense.push(d);
    ui.step();
    ui.log(`${shapeName(d)}: dense ${d.dense_kernel} ${fmt(d.dense_ms, 4)} ms, ${fmt(d.dense_gflops, 1)} GFLOP/s`);
    for (const pattern of PATTERNS) {
      for (const sparsity of proto.sparsities) {
        const row = applyPeak(await measureRow(zs, shape, sparsity, pattern, d, kernels, proto, checks), livePeak);
        if (pattern === '4x1' && sparsity === S90) {
          Object.assign(row, await measureSameNnz(zs, shape, row, kernels, proto, checks));
          ui.step();
        }
        rows.push(row);
        ui.row(row, rows);
        ui.step();
      }
    }
  }
  const peakEnd = await measurePeak(zs, build.isa, proto, 'end', ui);
  ui.log(`peak at end: ${fmt(peakEnd.gflops, 1)} GFLOP/s` + relaxedNote(peakEnd));

  const peak = combinePeaks(build.isa, peakStart, peakEnd);
  const finalPeak = peak[peak.pct_peak_of];
  [...dense, ...rows].forEach((e) => applyPeak(e, finalPeak));

  return {
    ...environment(),
    isa: build.isa,
    mode,
    protocol: describeProtocol(proto),
    build,
    shapes: proto.shapes,
    ...peak,
    peak_probes: [...peakStart.probes, ...peakEnd.probes],
    dense,
    rows,
    summary: summarize(rows, dense, proto),
    checked: checks.list(),
    kernel_errors: checks.errors,
    elapsed_s: (performance.now() - t0) / 1000,
  };
}

/** Header peak fields: the larger of start and end, both kept; %peak uses `pct_peak_of`. */
function combinePeaks(buildIsa, start, end) {
  const peak = {
    peak_gflops: Math.max(start.gflops, end.gflops),
    peak_start_gflops: start.gflops,
    peak_end_gflops: end.gflops,
  };
  if (buildIsa !== 'relaxed') return { ...peak, pct_peak_of: 'peak_gflops' };
  return {
    ...peak,
    peak_relaxed_gflops: Math.max(start.relaxed_gflops, end.relaxed_gflops),
    peak_relaxed_start_gflops: start.relaxed_gflops,
    peak_relaxed_end_gflops: end.relaxed_gflops,
    pct_peak_of: 'peak_relaxed_gflops',
  };
}

const relaxedNote = (p) => (p.relaxed_gflops === null ? '' : `, relaxed ${fmt(p.relaxed_gflops, 1)} GFLOP/s`);

// ---- page -------------------------------------------------------------------------------------

const passLabel = (pass) => (pass === null ? ['n/a', 'muted'] : pass ? ['PASS', 'pass'] : ['FAIL', 'fail']);
const fmtBreakeven = (s) => (isNum(s) ? `${(100 * s).toFixed(0)}%` : 'never');
const shapeName = (r) => `${r.c_out}×${r.c_in}×${r.hw}`;
const SPARSITY_COLORS = ['#9aa5b1', '#4e79a7', '#59a14f', '#edc948', '#f28e2b', '#e15759', '#b07aa1'];

function tableRow(cells, cellTag = 'td') {
  const tr = el('tr');
  for (const [text, className] of cells) tr.append(el(cellTag, text, className));
  return tr;
}

const ROW_COLUMNS = [
  ['shape c_out×c_in×hw', (r) => shapeName(r)],
  ['×', (r) => String(r.count), 'num'],
  ['sparsity', (r) => `${Math.round(r.sparsity * 100)}%`, 'num'],
  ['pattern', (r) => r.pattern],
  ['dense kernel', (r) => r.dense_kernel ?? '—'],
  ['dense ms', (r) => fmt(r.dense_ms, 4), 'num'],
  ['GF/s', (r) => fmt(r.dense_gflops, 1), 'num'],
  ['%pk', (r) => fmt(r.dense_pct_peak, 0), 'num'],
  ['sparse kernel', (r) => r.kernel ?? '—'],
  ['sparse ms', (r) => fmt(r.sparse_ms, 4), 'num'],
  ['speedup', (r) => `${fmt(r.speedup, 2)}×`, 'num strong'],
  ['eff GF/s', (r) => fmt(r.effective_gflops, 1), 'num'],
  ['nz GF/s', (r) => fmt(r.nonzero_gflops, 1), 'num'],
  ['nz %pk', (r) => fmt(r.nonzero_pct_peak, 0), 'num'],
  ['4x1 / nr1', (r) => (r.pattern === 'unstructured' ? '' : `${fmt(r.block_speedup, 2)}×`), 'num'],
  ['4x1 / 32x1 unstr.', (r) => (r.same_nnz ? `${fmt(r.same_nnz.speedup, 2)}×` : ''), 'num'],
];

function renderRowsTable(rows) {
  const table = $('rows');
  table.replaceChildren();
  table.append(el('thead'), el('tbody'));
  table.tHead.append(tableRow(ROW_COLUMNS.map(([h, , c]) => [h, c]), 'th'));
  for (const r of rows) appendRow(r);
}

function appendRow(r) {
  $('rows').tBodies[0].append(tableRow(ROW_COLUMNS.map(([, f, c]) => [f(r), c])));
}

/** Grouped bars of speedup (log scale, baseline 1×) per shape, one bar per sparsity. */
function speedupChart(rows, pattern, shapes, sparsities) {
  const [W, H, left, top, bottom] = [900, 280, 40, 24, 70];
  const ticks = [0.25, 0.5, 1, 2, 4, 8, 16, 32];
  const [lo, hi] = [Math.log2(ticks[0]), Math.log2(ticks[ticks.length - 1])];
  const y = (v) => top + ((hi - Math.min(hi, Math.max(lo, Math.log2(v)))) / (hi - lo)) * (H - top - bottom);
  const groupW = (W - left - 10) / shapes.length;
  const barW = (groupW - 4) / sparsities.length;
  const parts = [];
  for (const v of ticks) {
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" class="${v === 1 ? 'axis' : 'grid'}"/>`,
      `<text x="${left - 4}" y="${y(v) + 4}" class="tick" text-anchor="end">${v}×</text>`);
  }
  shapes.forEach(([c_out, c_in, hw], i) => {
    const x0 = left + i * groupW + 2;
    sparsities.forEach((s, j) => {
      const r = rows.find((r) => r.pattern === pattern && r.sparsity === s && r.c_out === c_out && r.c_in === c_in && r.hw === hw);
      if (!r || !isNum(r.speedup)) return;
      const [ya, yb] = [y(1), y(r.speedup)].sort((a, b) => a - b);
      parts.push(`<rect x="${x0 + j * barW}" y="${ya}" width="${barW - 0.5}" height="${Math.max(0.5, yb - ya)}" ` +
        `fill="${SPARSITY_COLORS[j % SPARSITY_COLORS.length]}"><title>${c_out}×${c_in}×${hw} ${pattern} ` +
        `${Math.round(s * 100)}%: ${r.speedup.toFixed(2)}×</title></rect>`);
    });
    const lx = x0 + groupW / 2;
    parts.push(`<text x="${lx}" y="${H - bottom + 12}" class="tick" text-anchor="end" ` +
      `transform="rotate(-40 ${lx} ${H - bottom + 12})">${c_out}×${c_in}×${hw}</text>`);
  });
  const legend = sparsities.map((s, j) =>
    `<rect x="${left + j * 70}" y="4" width="10" height="10" fill="${SPARSITY_COLORS[j % SPARSITY_COLORS.length]}"/>` +
    `<text x="${left + 14 + j * 70}" y="13" class="tick">${Math.round(s * 100)}%</text>`).join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="speedup vs dense, ${pattern}">` +
    `${legend}<text x="${W - 10}" y="13" class="tick" text-anchor="end">${pattern}</text>${parts.join('')}</svg>`;
}

function renderCharts(rows, proto) {
  for (const pattern of PATTERNS) {
    $(`chart-${pattern}`).innerHTML = speedupChart(rows, pattern, proto.shapes, proto.sparsities);
  }
}

function renderSummary(result) {
  const s = result.summary;
  const box = $('summary');
  box.replaceChildren();
  box.append(el('p', `peak ${fmt(result.peak_gflops, 1)} GFLOP/s (start ${fmt(result.peak_start_gflops, 1)}, ` +
    `end ${fmt(result.peak_end_gflops, 1)})` + (result.peak_relaxed_gflops ? `, relaxed peak ` +
    `${fmt(result.peak_relaxed_gflops, 1)} GFLOP/s` : '') + `; %peak is of ${result.pct_peak_of}; ` +
    `${fmt(result.elapsed_s, 0)} s`));

  const speed = el('table');
  const sparsities = Object.keys(s.median_speedup[PATTERNS[0]]);
  speed.append(tableRow([['median speedup'], ...sparsities.map((k) => [`${Math.round(k * 100)}%`, 'num']), ['breakeven', 'num']], 'th'));
  for (const p of PATTERNS) {
    speed.append(tableRow([[p], ...sparsities.map((k) => [`${fmt(s.median_speedup[p][k], 2)}×`, 'num']),
      [fmtBreakeven(s.breakeven_sparsity[p].median), 'num']]));
    speed.append(tableRow([[`${p} (weighted)`], ...sparsities.map((k) => [`${fmt(s.weighted_speedup[p][k], 2)}×`, 'num']), ['']]));
  }
  box.append(speed);

  box.append(el('p', `4x1 kernel at 90% vs 32x1 on the same 4x1 matrix (not the same-nonzeros ` +
    `comparison of the acceptance table): median ${fmt(s.block4_vs_32x1_median_s90, 2)}×`));
  const acc = el('table');
  acc.append(tableRow([['acceptance (informational)'], ['value', 'num'], ['target', 'num'], ['']], 'th'));
  for (const a of s.acceptance) {
    acc.append(tableRow([[a.name], [fmt(a.value, 2), 'num'], [String(a.target), 'num'], passLabel(a.pass)]));
  }
  box.append(acc);
  if (result.kernel_errors.length) {
    box.append(el('p', `${result.kernel_errors.length} kernel check(s) failed: ` +
      result.kernel_errors.map((e) => `${e.kernel} on ${shapeName(e)} ${e.pattern} ${e.sparsity}: ${e.error}`).join('; '), 'fail'));
  }
}

function renderPeak(result) {
  const table = el('table');
  table.append(tableRow([['probe'], ['chains', 'num'], ['start GFLOP/s', 'num'], ['end GFLOP/s', 'num']], 'th'));
  const gf = (p, phase) => result.peak_probes.find((q) => q.phase === phase && q.isa === p.isa && q.chains === p.chains)?.gflops;
  for (const p of result.peak_probes.filter((q) => q.phase === 'start')) {
    table.append(tableRow([[p.isa], [String(p.chains), 'num'], [fmt(gf(p, 'start'), 1), 'num'], [fmt(gf(p, 'end'), 1), 'num']]));
  }
  $('peak').replaceChildren(table);
}

function pageUi() {
  let proto = null;
  return {
    ...progressUi((p) => {
      proto = p;
      renderRowsTable([]);
      renderCharts([], proto);
      $('summary').replaceChildren();
      $('peak').replaceChildren();
    }),
    row(r, rows) {
      appendRow(r);
      renderCharts(rows, proto);
      console.log(`${shapeName(r)} ${r.pattern} ${Math.round(r.sparsity * 100)}%: ${r.kernel} ` +
        `${fmt(r.sparse_ms, 4)} ms vs ${r.dense_kernel} ${fmt(r.dense_ms, 4)} ms = ${fmt(r.speedup, 2)}×`);
    },
    finish(result) {
      renderRowsTable(result.rows);
      renderCharts(result.rows, proto);
      renderSummary(result);
      renderPeak(result);
      $('status').textContent = `done in ${fmt(result.elapsed_s, 0)} s`;
    },
  };
}

const readParams = () => readPageParams();

const reportError = (err) => reportPageError('bench', err);

async function start(opts) {
  await runPageBenchmark('bench', `${opts.isa} ${opts.mode}`, pageUi, (ui) => runBenchmark(opts, ui));
}

function main() {
  mountBenchPage({
    title: 'kernel benchmark',
    controls: [ISA_CONTROL, ['mode', 'mode', [['full', 'full (19 shapes, 6 sparsities)'], ['quick', 'quick (3 shapes, 0% and 90%)']]]],
    sections: [
      ['Speedup vs. our dense kernel', '<div id="chart-unstructured" class="chart"></div><div id="chart-4x1" class="chart"></div>'],
      SECTIONS.summary, SECTIONS.rows, ['Peak probes', '<div id="peak"></div>'], SECTIONS.log,
    ],
  });
  const params = readParams();
  $('isa').value = params.isa;
  $('mode').value = params.mode;
  $('run').addEventListener('click', () => start({ isa: $('isa').value, mode: $('mode').value }));
  window.addEventListener('unhandledrejection', (e) => reportError(e.reason));
  if (params.autorun) start(params);
}

main();
