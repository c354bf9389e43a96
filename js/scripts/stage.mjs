#!/usr/bin/env node
// Stages the package (development only; not shipped):
//   node js/scripts/stage.mjs pkg   copies www/pkg/{simd128,relaxed}{,-threads} (make wasm) into
//                                   js/pkg, for `npm pack` (make npm)
//   node js/scripts/stage.mjs www   mirrors the package into www/zeroskip/ (sources copied, the
//                                   wasm builds hard-linked), so the demo (www/index.html)
//                                   imports the real package (make wasm, tests/browser/e2e.mjs)
// Both directories are ignored by git.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.dirname(JS);
// The one-thread and the threaded builds (www/pkg/<build>, make wasm).
const ISAS = ['simd128', 'relaxed', 'simd128-threads', 'relaxed-threads'];
const PKG_FILES = ['zeroskip.js', 'zeroskip_bg.wasm', 'zeroskip.d.ts'];

/**
 * The package's own files (its package.json `files`, less the staged wasm builds under pkg/,
 * plus package.json): one list, so a new module needs no second entry here. A `dir/*.ext`
 * entry is expanded (the only glob form `files` uses); a missing directory matches nothing.
 */
function sources() {
  const { files } = JSON.parse(fs.readFileSync(path.join(JS, 'package.json'), 'utf8'));
  const out = ['package.json'];
  for (const f of files.filter((f) => !f.startsWith('pkg/'))) {
    const glob = /^(.*)\/\*(\.[\w.]+)$/.exec(f);
    if (!glob) {
      out.push(f);
      continue;
    }
    const dir = path.join(JS, glob[1]);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) if (name.endsWith(glob[2])) out.push(`${glob[1]}/${name}`);
  }
  return out;
}

function link(src, dst, copy = false) {
  fs.rmSync(dst, { force: true });
  if (!copy) {
    try {
      fs.linkSync(src, dst);
      return;
    } catch {
      // another file system: copy
    }
  }
  fs.copyFileSync(src, dst);
}

function stagePkg(destRoot, copy) {
  for (const isa of ISAS) {
    const from = path.join(REPO, 'www/pkg', isa);
    const to = path.join(destRoot, 'pkg', isa);
    fs.mkdirSync(to, { recursive: true });
    for (const f of PKG_FILES) {
      if (!fs.existsSync(path.join(from, f))) throw new Error(`missing www/pkg/${isa}/${f}: run make wasm`);
      link(path.join(from, f), path.join(to, f), copy);
    }
  }
}

export function stage(what) {
  if (what === 'pkg') {
    fs.rmSync(path.join(JS, 'pkg'), { recursive: true, force: true });
    stagePkg(JS, true);
    return path.join(JS, 'pkg');
  }
  if (what === 'www') {
    const dest = path.join(REPO, 'www/zeroskip');
    fs.mkdirSync(dest, { recursive: true });
    for (const f of sources()) {
      fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
      link(path.join(JS, f), path.join(dest, f), true);
    }
    stagePkg(dest, false);
    return dest;
  }
  throw new Error('usage: node js/scripts/stage.mjs pkg|www');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  for (const what of process.argv.slice(2)) console.log(`staged ${path.relative(REPO, stage(what))}`);
}
