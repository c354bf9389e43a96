#!/usr/bin/env node
// Static server for the demo and benchmark pages, bound to 127.0.0.1 only. No dependencies.
//
//   node tools/serve.mjs [--port N] [--root DIR]      (--port 0 picks a free port)
//
// Sends COOP/COEP so pages are cross-origin isolated: precise performance.now(), and
// SharedArrayBuffer for the wasm thread pool (startServer's `isolated: false` leaves them out, for
// tests of a page without them). Refuses paths that escape the root (403).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const HOST = '127.0.0.1';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.gguf': 'application/octet-stream',
  '.zsk': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** What every response carries: the isolation headers, or (not isolated) only no-store. */
const baseHeaders = (isolated) => (isolated ? ISOLATION_HEADERS : { 'Cache-Control': 'no-store' });

function send(res, status, body, headers = {}) {
  res.writeHead(status, { ...res.baseHeaders, 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

/** The file a request path names under `root`, or an HTTP status explaining why there is none. */
function resolvePath(root, rawUrl) {
  const pathname = rawUrl.split(/[?#]/, 1)[0];
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { status: 400 };
  }
  if (decoded.includes('\0') || !decoded.startsWith('/')) return { status: 400 };
  const file = path.resolve(root, '.' + decoded);
  if (!isInside(root, file)) return { status: 403 };
  return { file, pathname, trailingSlash: decoded.endsWith('/') };
}

function isInside(root, file) {
  return file === root || file.startsWith(root + path.sep);
}

/** Follows symlinks and directories to a regular file inside root; `{status}` or `{redirect}` otherwise. */
async function locate(root, file, trailingSlash, pathname) {
  let real;
  try {
    real = await fs.promises.realpath(file);
  } catch {
    return { status: 404 };
  }
  if (!isInside(root, real)) return { status: 403 };
  const stat = await fs.promises.stat(real);
  if (stat.isDirectory()) {
    if (!trailingSlash) return { redirect: pathname + '/' };
    return locate(root, path.join(real, 'index.html'), false, pathname);
  }
  return stat.isFile() ? { file: real, size: stat.size } : { status: 404 };
}

function handler(root, isolated) {
  return (req, res) => {
    res.baseHeaders = baseHeaders(isolated);
    return serveFile(root, req, res).catch((err) => {
      if (res.headersSent) res.destroy();
      else send(res, 500, `${err.message}\n`);
    });
  };
}

async function serveFile(root, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
  }
  const target = resolvePath(root, req.url);
  if (target.status) return send(res, target.status, `${http.STATUS_CODES[target.status]}\n`);
  const found = await locate(root, target.file, target.trailingSlash, target.pathname);
  if (found.redirect) return send(res, 301, '', { Location: found.redirect });
  if (found.status) return send(res, found.status, `${http.STATUS_CODES[found.status]}\n`);
  res.writeHead(200, {
    ...res.baseHeaders,
    'Content-Type': MIME[path.extname(found.file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': found.size,
  });
  if (req.method === 'HEAD') return res.end();
  fs.createReadStream(found.file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * Starts serving `root` on 127.0.0.1:`port` (0 = any free port). Resolves once listening.
 * `isolated: false`: without COOP/COEP, so the pages are not cross-origin isolated.
 */
export async function startServer({ port = 8080, root = 'www', isolated = true } = {}) {
  const rootAbs = await fs.promises.realpath(path.resolve(root));
  const server = http.createServer(handler(rootAbs, isolated));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  const url = `http://${HOST}:${server.address().port}/`;
  return { server, url };
}

function parseArgs(argv) {
  const opts = { port: 8080, root: 'www' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--port' && /^\d+$/.test(value ?? '')) opts.port = Number(value);
    else if (flag === '--root' && value) opts.root = value;
    else throw new Error(`usage: node tools/serve.mjs [--port N] [--root DIR]   (bad argument: ${flag})`);
    i++;
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { url } = await startServer(opts);
  console.log(`serving ${opts.root.replace(/\/*$/, '/')} at ${url}`);
}

const invokedDirectly =
  process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
