// The package's Web Worker: one per loaded model, so inference never blocks the page.
// index.js starts it with `new Worker(new URL('./worker.js', import.meta.url), {type: 'module'})`
// (bundlers recognise that form and emit this file with its imports).

import { createHost } from './engine.js';

const host = createHost((msg, transfer) => self.postMessage(msg, transfer ?? []));
self.onmessage = (e) => host(e.data);
self.postMessage({ type: 'ready' });
