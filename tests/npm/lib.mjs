// Shared by tests/npm/node.mjs and vite.mjs: the packed tarball (make npm), installed into an
// empty temporary project with npm, offline (the package has no dependencies).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function tarball() {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'js/package.json'), 'utf8'));
  const file = path.join(REPO, 'target/npm', `${pkg.name}-${pkg.version}.tgz`);
  if (!fs.existsSync(file)) throw new Error(`${path.relative(REPO, file)} missing: run make npm`);
  return file;
}

/** A fresh project in a temp dir with the tarball installed; returns its path. */
export function emptyProjectWithPackage(name, extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zeroskip-${name}-`));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `zeroskip-${name}-check`, private: true, type: 'module', ...extra }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-package-lock', tarball()], { cwd: dir, stdio: 'pipe' });
  return dir;
}

/** A .npy (little-endian float32, C order) → {shape, data}. */
export function readNpy(file) {
  const b = fs.readFileSync(file);
  const headerLen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = b[6] === 1 ? 10 : 12;
  const header = b.subarray(start, start + headerLen).toString('latin1');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start + headerLen, b.byteOffset + b.length));
  return { shape, data };
}

/**
 * Writes `script` as check.mjs into the project `dir` and runs it with Node: it must end by
 * printing 'ok'. Prints its output and the verdict; removes `dir` when it passed, keeps it (and
 * exits 1) when it did not.
 */
export function runCheckScript(name, dir, script, t0) {
  fs.writeFileSync(path.join(dir, 'check.mjs'), script);
  try {
    const out = execFileSync(process.execPath, ['check.mjs'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    process.stdout.write(out);
    if (!out.trim().endsWith('ok')) throw new Error('the check did not finish');
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(`${name}: passed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    console.error(err.stdout ?? '', err.stderr ?? '', err.message);
    console.error(`${name}: FAILED (project left in ${dir})`);
    process.exit(1);
  }
}
