// The package's Web Worker: one per loaded model, so inference never blocks the page.
// index.js starts it with `new Worker(new URL('./worker.js', import.meta.url), {type: 'module'})`
// (bundlers recognise that form and emit this file with its imports).

import { createHost } from './engine.js';

const host = createHost((msg, transfer) => self.postMessage(msg, transfer ?? []));
self.onmessage = (e) => host(e.data);

// The worker holds a Web Lock with a unique name for as long as it lives: the page queues for the
// same lock, and being granted it means this worker is gone (terminated, or crashed), so its
// pending calls can reject instead of hanging. 'ready' is sent once the lock is held (lock: null
// where Web Locks are missing, e.g. outside a secure context: no death notice there).
const ready = (lock) => self.postMessage({ type: 'ready', lock });
try {
  const name = `zeroskip-worker-${self.crypto.randomUUID()}`;
  self.navigator.locks.request(name, () => {
    ready(name);
    return new Promise(() => {}); // held until the worker ends
  }).catch(() => ready(null));
} catch {
  ready(null);
}
