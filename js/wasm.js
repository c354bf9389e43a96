// The two WebAssembly builds of the engine (pkg/simd128, pkg/relaxed: make wasm's wasm-bindgen
// output) and the choice between them. load() runs models through them; benchmark pages that
// time the raw engine classes (Model, TextGenerator, KernelBench, buildInfo, peakProbe…) take the
// initialised module from loadWasm(). Static imports, so bundlers see and emit both builds; the
// package's index.js imports this module only when loadWasm() is called (the worker runs load()).

import * as simd128 from './pkg/simd128/zeroskip.js';
import * as relaxed from './pkg/relaxed/zeroskip.js';
import { ZeroskipError } from './errors.js';
import { detectFeatures, bestIsa } from './features.js';

const BUILDS = { simd128, relaxed };
const ready = {}; // isa → Promise of the initialised module, one per thread

/** 'auto' | 'relaxed' | 'simd128' → the build to use here, or a ZeroskipError saying why none. */
export function resolveIsa(isa) {
  const want = isa === 'auto' || !isa ? bestIsa() : isa;
  if (!BUILDS[want]) throw new ZeroskipError('BadInput', `isa must be 'auto', 'relaxed' or 'simd128', not ${JSON.stringify(isa)}`);
  if (!detectFeatures()[want]) throw new ZeroskipError('Unsupported', `this runtime does not support the ${want} build's WebAssembly features (relaxed SIMD: Chrome/Edge 114+)`);
  return want;
}

/**
 * The initialised wasm-bindgen module of the `isa` build (default: bestIsa()), once per thread.
 * `wasmSource(isa)`, when given, returns the .wasm bytes (Node reads them from disk); otherwise
 * the module fetches pkg/<isa>/zeroskip_bg.wasm next to its own file.
 */
export async function loadWasm(isa = bestIsa(), { wasmSource } = {}) {
  const want = resolveIsa(isa);
  ready[want] ??= (async () => {
    const m = BUILDS[want];
    const source = wasmSource ? await wasmSource(want) : undefined;
    await m.default(source === undefined ? undefined : { module_or_path: source });
    return m;
  })().catch((err) => {
    delete ready[want]; // a later call tries again
    throw new ZeroskipError('Unsupported', `could not start the ${want} WebAssembly build (pkg/${want}/zeroskip_bg.wasm; in the zeroskip repository, run make wasm): ${err?.message ?? err}`);
  });
  return ready[want];
}
