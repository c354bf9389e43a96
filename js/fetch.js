// Fetching model files: streamed with progress callbacks, optionally through the Cache API (so a
// reload does not download a model again). load() and the pages use the same code.

import { ZeroskipError, abortError } from './errors.js';

export const CACHE_NAME = 'zeroskip-models-v1';
const now = () => (typeof performance === 'object' ? performance.now() : Date.now());
const noop = () => {};
const PROGRESS_EVERY_MS = 50; // a callback per chunk would flood a worker's postMessage queue

/** Reads a Response body into one Uint8Array, calling onProgress(loaded, total) as it goes. */
async function readBody(res, total, onProgress) {
  if (!res.body || typeof res.body.getReader !== 'function') {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress(b.length, b.length);
    return b;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(total || 1 << 20);
  let received = 0;
  onProgress(0, total);
  let last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, received + value.length));
      bigger.set(buf.subarray(0, received));
      buf = bigger;
    }
    buf.set(value, received);
    received += value.length;
    const t = now();
    if (t - last > PROGRESS_EVERY_MS) {
      last = t;
      onProgress(received, total);
    }
  }
  onProgress(received, total || received);
  return received === buf.length ? buf : buf.slice(0, received);
}

async function openCache(enabled) {
  if (!enabled || typeof caches !== 'object' || !caches) return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // opaque origins, private modes: no cache
  }
}

/**
 * `{bytes, fromCache, save()}` for a URL: the Cache API first (when `cache`), then the network.
 * `save()` stores a downloaded file in the cache; load() calls it only once the model compiled,
 * so a broken file is never cached. onProgress(loaded, total, fromCache); total 0 when unknown.
 */
export async function fetchCached(url, { cache = false, signal, onProgress = noop } = {}) {
  const store = await openCache(cache);
  let res = null;
  if (store) res = (await store.match(url).catch(() => null)) ?? null;
  const fromCache = !!res;
  try {
    if (!res) {
      try {
        res = await fetch(url, signal ? { signal } : undefined);
      } catch (err) {
        if (signal?.aborted) throw err;
        throw new ZeroskipError('Network', `could not fetch ${url}: ${err?.message ?? err}`);
      }
      if (!res.ok) throw new ZeroskipError('Network', `could not fetch ${url}: HTTP ${res.status}${res.status === 404 ? ' (not found)' : ''}`);
    }
    const total = Number(res.headers.get('Content-Length')) || 0;
    const bytes = await readBody(res, total, (loaded, t) => onProgress(loaded, t, fromCache));
    const save = () => {
      if (!store || fromCache) return;
      const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) };
      store.put(url, new Response(bytes, { headers })).catch(noop);
    };
    return { bytes, fromCache, save };
  } catch (err) {
    if (signal?.aborted) throw abortError(`fetching ${url}`);
    throw err;
  }
}

/**
 * GET `url` as a Uint8Array, streamed: onProgress(loaded, total) (total 0 when the server sends
 * no Content-Length). `signal` aborts it (ZeroskipError 'Aborted'); `cache: true` reads and fills
 * the Cache API store CACHE_NAME. Failures are ZeroskipError 'Network' with the status.
 */
export async function fetchWithProgress(url, { onProgress, signal, cache = false } = {}) {
  const { bytes, save } = await fetchCached(url, { cache, signal, onProgress: onProgress ? (l, t) => onProgress(l, t) : noop });
  save();
  return bytes;
}
