// One thread of a threaded build's pool: a module Web Worker that wasm.js starts (one per extra
// thread). It instantiates the same compiled module on the same shared memory, says 'ready', then
// calls poolWorker(), which never returns: from then on this worker only runs the pool's tasks,
// sleeping on the shared memory between them (memory.atomic.wait32, allowed in a worker).
// Static imports of both threaded glues, so bundlers emit them with this file.

import * as simd128 from './pkg/simd128-threads/zeroskip.js';
import * as relaxed from './pkg/relaxed-threads/zeroskip.js';

const BUILDS = { simd128, relaxed };

self.onmessage = ({ data }) => {
  self.onmessage = null; // one message: the build to join
  const { isa, module, memory } = data ?? {};
  const build = BUILDS[isa];
  try {
    if (!build) throw new Error(`unknown build ${isa}`);
    build.initSync({ module, memory });
  } catch (err) {
    self.postMessage({ type: 'error', message: String(err?.message ?? err) });
    return;
  }
  self.postMessage({ type: 'ready' });
  build.poolWorker();
};
