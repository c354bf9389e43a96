#!/usr/bin/env node
// Browser test (make test-browser): SmolLM2-135M-Instruct (the zoo's GGUF, Q4_1) through the
// `TextGenerator` façade in both wasm builds, in headless Chromium: the GEMV kernels of the
// build run (…_simd128 / …_relaxed), the prompt "The capital of France is" tokenizes to the
// reference ids, and greedy decoding reproduces the independent numpy forward's continuation
// (tools/zoo/llm_forward_ref.py: " Paris.\n\nThe answer is:") token for token. Then the LLM
// benchmark page's quick mode runs clean for zeroskip (wllama is timed by `make bench`).
//
// Needs the zoo (.cache/zoo/llm, `make zoo`) and the wasm builds (`make wasm`).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../tools/serve.mjs';
import {
  launchChromium, linkLlmModels, linkWllamaRuntime, runLlmPage, exitWith, testVerdict,
} from '../../bench/lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ISAS = ['simd128', 'relaxed'];
const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const PAGE_TIMEOUT_MS = 300_000;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

/** In the page: load the GGUF in one build, tokenize the prompt, decode greedily. */
async function greedy({ isa, model, prompt, n }) {
  const zs = await import(`./pkg/${isa}/zeroskip.js`);
  await zs.default();
  const bytes = new Uint8Array(await (await fetch(`models/llm/${model}`)).arrayBuffer());
  const gen = zs.TextGenerator.load(model, bytes, 256);
  const ids = Array.from(gen.encode(prompt, false));
  const [, first] = gen.benchPrefill(Uint32Array.from(ids));
  const out = Array.from(gen.generateGreedy(first, n - 1).slice(1));
  const tokens = [first, ...out];
  return { ids, tokens, text: gen.decodeText(Uint32Array.from(tokens)), kernels: JSON.parse(gen.kernels()) };
}

async function main() {
  const t0 = Date.now();
  const ref = JSON.parse(fs.readFileSync(path.join(REPO, '.cache/zoo/llm/forward_ref.json'), 'utf8'));
  linkLlmModels(REPO);
  linkWllamaRuntime(REPO);
  const { server, url } = await startServer({ port: 0, root: path.join(REPO, 'www') });
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}index.html`);
    const want = ref.greedy_ids;
    for (const isa of ISAS) {
      const r = await page.evaluate(greedy, { isa, model: MODEL, prompt: ref.prompt, n: want.length });
      console.log(`${isa}: prompt ids ${JSON.stringify(r.ids)}, greedy ${JSON.stringify(r.text)}, kernels ${JSON.stringify(r.kernels)}`);
      check(JSON.stringify(r.ids) === JSON.stringify(ref.ids), `${isa}: prompt ids ${JSON.stringify(r.ids)} differ from the reference`);
      check(JSON.stringify(r.tokens) === JSON.stringify(want), `${isa}: greedy ids ${JSON.stringify(r.tokens)} differ from numpy's ${JSON.stringify(want)}`);
      check(r.text.includes('Paris'), `${isa}: greedy text ${JSON.stringify(r.text)} does not name Paris`);
      const names = JSON.stringify(r.kernels);
      check(names.includes(`_${isa}`), `${isa}: kernels ${names} are not the ${isa} build's`);
    }
    await page.close();
    const quick = await runLlmPage(browser, url, { isas: ISAS, mode: 'quick', engines: 'zeroskip', timeoutMs: PAGE_TIMEOUT_MS });
    check(quick.result && !quick.error && quick.pageErrors.length === 0,
      `llm.html quick mode: ${quick.error ?? quick.pageErrors.join('; ') ?? 'no result'}`);
  } finally {
    await browser.close();
    server.close();
  }
  return testVerdict('tests/browser/llm.mjs', failures, t0);
}

exitWith(main);
