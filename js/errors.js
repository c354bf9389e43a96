// ZeroskipError: every rejected Promise of the API carries one, with a `code` a program can
// switch on and the engine's own message (which file, which tensor, what was expected).

/** @type {readonly string[]} */
export const ERROR_CODES = Object.freeze([
  'BadModel', // the model file is corrupt, truncated or of a kind zeroskip does not read
  'TooLarge', // the model claims a tensor, array or cache beyond the engine's memory limits
  'BadImage', // the image could not be decoded (not an image, empty, unsupported type)
  'BadInput', // an argument is out of range (tensor length, topK, temperature, prompt…)
  'Aborted', // an AbortSignal stopped the call
  'NoWebGPU', // backend 'webgpu' was asked for and WebGPU cannot run the model here
  'Unsupported', // this runtime lacks something the call needs (WASM SIMD, a decoder…)
  'Network', // the model file could not be fetched
  'Disposed', // the model was disposed
  'Runtime', // the engine failed while running (or its worker died)
]);

export class ZeroskipError extends Error {
  /**
   * @param {string} code one of ERROR_CODES
   * @param {string} message what went wrong, for a person
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'ZeroskipError';
    this.code = ERROR_CODES.includes(code) ? code : 'Runtime';
  }
}

/** An error as it crosses postMessage: {code, message}. */
export function serializeError(err, fallbackCode = 'Runtime') {
  if (err instanceof ZeroskipError) return { code: err.code, message: err.message };
  if (err && err.name === 'AbortError') return { code: 'Aborted', message: 'aborted' };
  const message = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
  return { code: fallbackCode, message };
}

export function deserializeError(e) {
  return new ZeroskipError(e?.code ?? 'Runtime', e?.message ?? 'unknown error');
}

export function abortError(what = 'the call') {
  return new ZeroskipError('Aborted', `${what} was aborted`);
}
