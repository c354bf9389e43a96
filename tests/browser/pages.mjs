// What the page tests (demo.mjs, hand.mjs, e2e.mjs, soak.mjs, threads.mjs) share: the sample
// photos linked into www/models, the main-thread long-task observer and the trace that tells a
// blocked thread from a starved one, and the end of every run (close the browser and the server,
// count what the pages logged as failures, print the verdict).

import fs from 'node:fs';
import path from 'node:path';
import { hardLink, testVerdict } from '../../bench/lib.mjs';

/** The sample photos and their labels, from .cache/zoo into www/models, as `make wasm` links them. */
export function linkSampleFiles(repo) {
  const zoo = path.join(repo, '.cache/zoo');
  const images = path.join(zoo, 'images');
  if (!fs.existsSync(images) || !fs.existsSync(path.join(zoo, 'labels.txt'))) {
    throw new Error('zoo images or labels missing: run make zoo (tools/zoo/build.sh) first');
  }
  const dest = path.join(repo, 'www/models');
  fs.mkdirSync(path.join(dest, 'images'), { recursive: true });
  for (const f of fs.readdirSync(images)) if (f.endsWith('.jpg')) hardLink(path.join(images, f), path.join(dest, 'images', f));
  hardLink(path.join(zoo, 'labels.txt'), path.join(dest, 'labels.txt'));
}

/**
 * Runs the checks in `body()`, then closes the browser (`browser()`: the one open by then) and the
 * server. An exception out of `body` and every entry of `errors` (page errors, failed requests)
 * are failures. Returns the exit code (testVerdict).
 */
export async function runPageChecks(name, t0, { browser, server, errors, failures }, body) {
  try {
    await body();
  } catch (err) {
    failures.push(`exception: ${err.stack ?? err}`);
  } finally {
    await browser().close();
    server.close();
  }
  failures.push(...errors);
  return testVerdict(name, failures, t0);
}

/**
 * Installed before any page script (`addInitScript`): every main-thread long task, with its start
 * and duration, in `window.__longTasks`; `window.__longTaskObserver` says whether the browser
 * supports the 'longtask' entry type at all.
 */
/**
 * A fresh context and page that records main-thread long tasks (observeLongTasks) and pushes every
 * page error, console error and HTTP error onto `errors`, opened at `url`; waits for `ready`
 * (a window flag the page sets once its module has loaded). Returns {ctx, page}.
 */
export async function openWatchedPage(browser, url, errors, ready) {
  const ctx = await browser.newContext();
  await ctx.addInitScript(observeLongTasks);
  const page = await ctx.newPage();
  page.on('pageerror', (err) => errors.push(`page error: ${err}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console error: ${m.text()}`));
  page.on('response', (res) => res.status() >= 400 && errors.push(`HTTP ${res.status()} for ${res.url()}`));
  await page.goto(url);
  await page.waitForFunction((flag) => window[flag], ready, { timeout: 30_000 });
  return { ctx, page };
}

export function observeLongTasks() {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration, name: e.name });
    }).observe({ type: 'longtask', buffered: true });
    window.__longTaskObserver = true;
  } catch {
    window.__longTaskObserver = false;
  }
}

/**
 * The long tasks over `limitMs` inside the working windows (`{fn, t0, t1}` in page time), each
 * with the main thread's CPU time in it, from a Chromium trace of the run (its 'toplevel' events,
 * a task or a mojo message each, carry thread time, `tdur`). Both clocks meet at the
 * performance.mark `mark` (page time `clockMs`). A long task is `blocking` when the thread ran
 * for more than `limitMs` in it, or when the trace has no such task: one with less CPU time was
 * the page's thread waiting for a core (2 shared cores, other jobs), reported but not failed.
 */
export function classifyLongTasks(tasks, windows, trace, { mark: markName, clockMs, limitMs }) {
  const events = JSON.parse(trace).traceEvents;
  const mark = events.find((e) => e.name === markName && e.cat?.includes('blink.user_timing'));
  const offsetMs = mark ? mark.ts / 1000 - clockMs : NaN;
  const runs = mark ? events.filter((e) => e.pid === mark.pid && e.tid === mark.tid && e.ph === 'X' && e.cat?.includes('toplevel') && e.dur >= 1000 * limitMs) : [];
  return tasks
    .filter((t) => t.duration > limitMs)
    .map((t) => {
      const during = windows.filter((w) => t.start < w.t1 && t.start + t.duration > w.t0).map((w) => w.fn);
      const ts = (t.start + offsetMs) * 1000;
      const run = runs.find((e) => Math.abs(e.ts - ts) < 5000);
      const cpuMs = run?.tdur === undefined ? null : run.tdur / 1000;
      return { ...t, during, cpuMs, blocking: cpuMs === null || cpuMs > limitMs };
    })
    .filter((t) => t.during.length);
}
