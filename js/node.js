// Node entry (package.json "exports" → "node"): the same API as index.js, on the WASM path and
// on the calling thread. The .wasm files are read from the package; a model `source` that is
// not an http(s) URL is a file path (or file: URL) read from disk.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadAny, loadWasm as loadWasmAny, bestIsa, ZeroskipError } from './index.js';

export * from './index.js';

const wasmSource = (isa) => readFile(new URL(`./pkg/${isa}/zeroskip_bg.wasm`, import.meta.url));

/** loadWasm() for Node: the .wasm is read from the package's pkg/<isa>/ on disk. */
export function loadWasm(isa = bestIsa(), options = {}) {
  return loadWasmAny(isa, { wasmSource, ...options });
}

/** load() for Node: file paths and file: URLs are read from disk; http(s) URLs are fetched. */
export async function load(source, options = {}) {
  let src = source;
  let name = options.name;
  const isFileUrl = source instanceof URL ? source.protocol === 'file:' : typeof source === 'string' && source.startsWith('file:');
  const isHttp = typeof source === 'string' ? /^https?:\/\//i.test(source) : source instanceof URL && /^https?:$/.test(source.protocol);
  if ((typeof source === 'string' || source instanceof URL) && !isHttp) {
    const file = isFileUrl ? fileURLToPath(source) : String(source);
    try {
      src = await readFile(file);
    } catch (err) {
      throw new ZeroskipError('Network', `could not read ${file}: ${err.message}`);
    }
    name ??= basename(file);
    options.onProgress?.({ phase: 'download', loaded: src.length, total: src.length, fromCache: false, url: file });
  }
  if (typeof options.labels === 'string' && !/^https?:\/\//i.test(options.labels)) {
    options = { ...options, labels: (await readFile(options.labels, 'utf8')).split('\n').map((s) => s.trim()).filter(Boolean) };
  }
  return loadAny(src, { ...options, name, worker: false, [Symbol.for('zeroskip.wasmSource')]: wasmSource });
}
