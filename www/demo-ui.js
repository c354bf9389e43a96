// What the two product demos (classify.html, hand.html) share beyond the package: one queue for
// every step that touches a model (so a click never overlaps a run), the status line, the spinner
// and the error box. The benchmark pages have their own layout (util.js, chrome.js).

import { $, el } from './util.js';
import { mountChrome } from './chrome.js';

/**
 * The demo layout (body.demo in style.css), the page chrome (chrome.js), then, after the controls (`main > section.controls`), the lines
 * both demos keep their state in: the #dl download bar, the #spinner, the #status line, the
 * #modelinfo line (class `infoClass`) and the #error box.
 */
export function mountDemo({ title, infoClass = 'muted' }) {
  document.body.classList.add('demo');
  mountChrome({ title });
  const line = el('div', null, 'loadline');
  line.innerHTML = '<progress id="dl" max="1" value="0" hidden></progress><span id="spinner" class="spinner" hidden></span>';
  const status = el('span', 'starting…', 'muted');
  status.id = 'status';
  line.append(status);
  const info = el('p', null, infoClass);
  info.id = 'modelinfo';
  const error = el('div', null, 'errorbox');
  [error.id, error.hidden] = ['error', true];
  error.setAttribute('role', 'alert');
  document.querySelector('main > section.controls').after(line, info, error);
}

/** An error whose message is written for the person using the page (what to do next). */
export class UserError extends Error {}

/**
 * A task queue: `enqueue(task, {quiet})` runs `task` after every task queued before it and returns
 * its promise. `onBusy(true)` when the first non-quiet task is queued, `onBusy(false)` when the
 * last one ends (quiet tasks, such as background timings, do not show the spinner).
 */
export function taskQueue(onBusy) {
  let chain = Promise.resolve();
  let loud = 0;
  return (task, { quiet = false } = {}) => {
    if (!quiet && loud++ === 0) onBusy(true);
    const p = chain.then(task);
    chain = p.catch(() => {}).finally(() => {
      if (!quiet && --loud === 0) onBusy(false);
    });
    return p;
  };
}

export function setStatus(text, className = 'muted') {
  $('status').textContent = text;
  $('status').className = className;
}

/** Shows `err` in the #error box (hiding the #dl progress bar), logs it under `tag` and records its message in `errors`. */
export function showErrorBox(err, errors, tag) {
  const msg = `${err?.message ?? err}`;
  console.warn(`${tag}: ${err?.stack ?? err}`);
  errors.push(msg);
  const box = $('error');
  box.replaceChildren(el('strong', 'Error: '), document.createTextNode(msg));
  box.hidden = false;
  $('dl').hidden = true;
}

export function clearError() {
  $('error').hidden = true;
}
