// Types for the zeroskip package (index.js in browsers and bundlers, node.js in Node).

export declare const VERSION: string;
/** The Cache API store load() keeps model files in. */
export declare const CACHE_NAME: string;

export type Backend = 'auto' | 'wasm' | 'webgpu';
/** The WebAssembly build: relaxed SIMD (fused multiply-add) or plain SIMD128. */
export type Isa = 'auto' | 'relaxed' | 'simd128';
export type ModelKind = 'image-classifier' | 'text-generator' | 'session';

export type ErrorCode =
  | 'BadModel'
  | 'TooLarge'
  | 'BadImage'
  | 'BadInput'
  | 'Aborted'
  | 'NoWebGPU'
  | 'Unsupported'
  | 'Network'
  | 'Disposed'
  | 'Runtime';

export declare const ERROR_CODES: readonly ErrorCode[];

/** Every rejected Promise of the API carries one: `code` to switch on, the engine's message. */
export declare class ZeroskipError extends Error {
  readonly name: 'ZeroskipError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
}

export interface Features {
  simd128: boolean;
  relaxed: boolean;
  /** navigator.gpu exists (an adapter may still be missing). */
  webgpu: boolean;
  /** The build load() picks with isa 'auto'. */
  best: 'relaxed' | 'simd128' | null;
}
export declare function detectFeatures(): Features;

export interface LoadProgress {
  /** 'download': bytes arriving (from the network or the cache); 'compile': parsing and planning. */
  phase: 'download' | 'compile';
  loaded: number;
  /** 0 when the server sends no Content-Length. */
  total: number;
  fromCache: boolean;
  url: string | null;
}

export interface PreprocessOptions {
  /** Crop side (default: the model's input height in load(), 224 in preprocess()). */
  size?: number;
  /** Shorter side after the resize, before the center crop (default: size · 256/224). */
  resize?: number;
  /** Per-channel mean and std of (pixel / 255); default ImageNet (torchvision). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

export interface LoadOptions {
  /**
   * 'auto' (default): WebGPU when an adapter can run the model, else WASM (see `fallback`).
   * 'webgpu' rejects with 'NoWebGPU' when WebGPU cannot run it. Both for image models and for
   * language models (GGUF, sparse LLM .zsk); a CNN .zsk runs on WASM only.
   */
  backend?: Backend;
  /** 'auto' (default) picks relaxed SIMD when the runtime validates it, else SIMD128. */
  isa?: Isa;
  /** 'auto' (default): a GGUF is a text generator; an RGB-image → 1000/1001-class model a classifier. */
  kind?: 'auto' | ModelKind;
  /** Force dense kernels everywhere (the baseline a sparse plan is compared with). */
  dense?: boolean;
  /** Download / compile progress. */
  onProgress?: (p: LoadProgress) => void;
  /** Keep and reuse the file in the Cache API (default true; browsers only). */
  cache?: boolean;
  /** Run in a Web Worker (default wherever `Worker` exists); false runs on this thread. */
  worker?: boolean;
  signal?: AbortSignal;
  /** Names the model in error messages (default: the file name). */
  name?: string;
  /** Classifiers: class names (an array, or the URL of a text file with one per line). */
  labels?: string[] | string | URL;
  /** Classifiers: how many leading outputs are not classes (default 1 for 1001 outputs, else 0). */
  labelOffset?: number;
  preprocess?: PreprocessOptions;
  /** Text generators: positions of the KV cache (default: the model's context, at most 2048). */
  contextLength?: number;
  /**
   * WASM threads: 'auto' (default: the logical cores, at most 4) or a count ≥ 1. Where threads
   * cannot run (not cross-origin isolated, Node) the model runs on one thread, without an error:
   * see `threads` and `threadsReason` on the model.
   */
  threads?: number | 'auto';
}

export interface LayerReport {
  node: string;
  op: string;
  kernel: string;
  sparsity: number | null;
  flops?: number;
  input?: [number, number, number];
  output?: [number, number, number];
}

export interface ModelInfo {
  kind: ModelKind;
  name: string;
  /** 'llm-zsk': a sparse LLM .zsk (a header, then a GGUF). */
  format: 'onnx' | 'zsk' | 'gguf' | 'llm-zsk';
  /** What runs the model: 'wasm' or 'webgpu'. */
  backend: 'wasm' | 'webgpu';
  fallback: string | null;
  /** Text generators: the GPU adapter's name when loaded on WebGPU, else null. */
  adapter?: string | null;
  isa: 'relaxed' | 'simd128';
  /** The threads its WebAssembly calls use, and why fewer than asked for (or null). */
  threads: number;
  threadsReason: string | null;
  fileBytes: number;
  fromCache: boolean;
  /** Parse + plan time (ms). */
  loadMs: number;
  inputShape?: [number, number, number];
  layers?: LayerReport[];
  /** 1x1/FC layers running sparse kernels, of those with a sparsity. */
  sparseLayers?: number;
  prunableLayers?: number;
  /** Share of the prunable layers' FLOPs that are zeros (wasm plans). */
  flopsSkipped?: number | null;
  classes?: number;
  /** Text generators: the model's shape, its GEMV kernels and its session size. */
  config?: Record<string, number>;
  kernels?: { gemv: Record<string, string>; matrices: number };
  sessionBytes?: number;
  hasChatTemplate?: boolean;
  /** Text generators: fraction of the linear layers' weights the file does not store. */
  weightSparsity?: number;
  /** Text generators: the file's activation-sparsity thresholds, or null. */
  act?: ActSparsity | null;
}

/**
 * A sparse LLM file's activation sparsity: decode zeroes the small inputs of the linear layers,
 * and the input-channel-major kernels skip the weight columns of those zeros.
 */
export interface ActSparsity {
  /** teal: |x| at every linear input; wina: |x_j|·‖W[:,j]‖ (weight-informed); gate: |silu(gate)| on the FFN channels. */
  method: 'teal' | 'wina' | 'gate';
  /** The fraction of the linear layers' multiply-adds whose input the thresholds were calibrated to zero. */
  target: number;
}

declare class LoadedModel {
  readonly info: ModelInfo;
  readonly kind: ModelKind;
  /** What runs the model now: an 'auto' model whose GPU device is lost moves to 'wasm'. */
  readonly backend: 'wasm' | 'webgpu';
  readonly isa: 'relaxed' | 'simd128';
  /** Why WebGPU was wanted and is not what runs, or null. */
  readonly fallback: string | null;
  /** The threads the model's WebAssembly calls use. */
  readonly threads: number;
  /** Why the model runs on fewer threads than asked for (or than the default), or null. */
  readonly threadsReason: string | null;
  /**
   * The size of the model's WebAssembly memory now (it only grows), after the calls before this
   * one. On the calling thread (`worker: false`, Node) every model of a build shares it.
   */
  memory(): Promise<MemoryUse>;
  /** Frees the model and its worker; later calls reject with code 'Disposed'. */
  dispose(): void;
}

export interface MemoryUse {
  /** Bytes of the engine's WebAssembly.Memory (GPU buffers of a 'webgpu' model not included). */
  wasmBytes: number;
}

export declare class Session extends LoadedModel {
  /** [C, H, W] of the input (batch 1, NCHW). */
  readonly inputShape: [number, number, number];
  run(input: Float32Array | ArrayLike<number>, options?: { signal?: AbortSignal }): Promise<Float32Array>;
}

export interface Prediction {
  /** Class index (after labelOffset; -1 is the background class of 1001-way models). */
  index: number;
  label: string;
  probability: number;
}

export interface Classification {
  predictions: Prediction[];
  /** Decode + resize + normalize (ms). */
  preprocessMs: number;
  /** The model alone (ms). */
  inferenceMs: number;
  backend: 'wasm' | 'webgpu';
  fallback: string | null;
  isa: 'relaxed' | 'simd128';
  /** The decoded image's [width, height]. */
  imageSize: [number, number];
  /** With `crop: true`: the model's input crop as RGBA pixels. */
  crop?: { data: Uint8ClampedArray; width: number; height: number };
}

export type ImageInput =
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | VideoFrame
  | Blob
  | { data: Uint8ClampedArray | Uint8Array; width: number; height: number };

export declare class ImageClassifier extends Session {
  classify(image: ImageInput, options?: { topK?: number; signal?: AbortSignal; crop?: boolean }): Promise<Classification>;
}

export interface GenerateOptions {
  /** Tokens to generate at most (default 128). */
  maxTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** 0 (default) = no limit. */
  topK?: number;
  /** (0, 1]; 1 (default) = no limit. */
  topP?: number;
  /** Seed of the sampler (an integer; default 0). */
  seed?: number;
  /** Stops the generation: the iterator and `result` reject with code 'Aborted'. */
  signal?: AbortSignal;
  /** Wrap the prompt in the model's chat template (ChatML) as one user message. */
  chat?: boolean;
  /** With chat: a system message (default: the template's own). */
  system?: string;
  /** Stop at the end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /** Called with every token as it arrives (before the iterator yields it). */
  onToken?: (token: GeneratedToken) => void;
}

/** One streamed token. */
export interface GeneratedToken {
  text: string;
  /** null for the text a split UTF-8 character left at the end. */
  id: number | null;
  /**
   * Fraction of the linear layers' multiply-adds that the forward pass producing this token
   * skipped (weight columns of zeroed inputs not read); 0 without activation sparsity, null
   * for the first token (it comes from the prompt's pass, which is dense) and for a token
   * WebGPU produced (not measured there).
   */
  actSkipped: number | null;
  /** Fraction of those multiply-adds whose input was zero (≥ actSkipped: a format that cannot skip still counts its zeros). */
  actZero: number | null;
  /** What produced the token: after a GPU failure mid-generation the tokens turn to 'wasm'. */
  backend: 'wasm' | 'webgpu';
}

/** Decode steps on one backend. */
export interface BackendDecode {
  /** Tokens decoded there (each one forward pass). */
  tokens: number;
  decodeMs: number;
  tokensPerSecond: number | null;
}

export interface GenerationStats {
  promptTokens: number;
  tokens: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number | null;
  /** Decode speed: (tokens − 1) / decodeMs. */
  tokensPerSecond: number | null;
  finishReason: 'length' | 'eos';
  /** actSkipped over every token WASM decoded (multiply-add weighted); null when WASM decoded none. */
  actSkipped: number | null;
  /** actZero over every token WASM decoded; null when WASM decoded none. */
  actZero: number | null;
  /** What ran the model at the end of the generation. */
  backend: 'wasm' | 'webgpu';
  /** Why WebGPU was wanted and is not what runs (set when a GPU failure moved the model), or null. */
  fallback: string | null;
  /** The GPU adapter's name while on WebGPU, else null. */
  adapter: string | null;
  /** What ran the prompt. */
  prefillBackend: 'wasm' | 'webgpu';
  /** The index of the first token WASM produced after WebGPU failed (0: during the prompt), or null. */
  switchedAt: number | null;
  /** Decode speed per backend that decoded tokens ('webgpu' and, after a switch, 'wasm'). */
  byBackend: Partial<Record<'wasm' | 'webgpu', BackendDecode>>;
}

export interface Generation extends AsyncIterableIterator<string> {
  /** The text so far. */
  readonly text: string;
  /** Token ids so far. */
  readonly tokens: number[];
  /** The token the iterator yielded last (its text, id and activation sparsity), or null. */
  readonly token: GeneratedToken | null;
  /** Set when the generation ends. */
  readonly stats: GenerationStats | null;
  readonly result: Promise<{ text: string; tokens: number[]; stats: GenerationStats }>;
}

export declare class TextGenerator extends LoadedModel {
  /** The GPU adapter's name while the model runs on WebGPU, else null. */
  readonly adapter: string | null;
  /** The file's activation sparsity (method and calibrated target), or null. */
  readonly act: ActSparsity | null;
  /** Fraction of the linear layers' weights the file does not store (0 for a dense GGUF). */
  readonly weightSparsity: number;
  generate(prompt: string, options?: GenerateOptions): Generation;
  complete(prompt: string, options?: GenerateOptions): Promise<{ text: string; tokens: number[]; stats: GenerationStats }>;
}

export type Model = ImageClassifier | TextGenerator | Session;

/** Loads a model from a URL, bytes or a Blob. In Node a string that is not http(s) is a file path. */
export declare function load(source: string | URL | ArrayBuffer | ArrayBufferView | Blob, options: LoadOptions & { kind: 'image-classifier' }): Promise<ImageClassifier>;
export declare function load(source: string | URL | ArrayBuffer | ArrayBufferView | Blob, options: LoadOptions & { kind: 'text-generator' }): Promise<TextGenerator>;
export declare function load(source: string | URL | ArrayBuffer | ArrayBufferView | Blob, options?: LoadOptions): Promise<Model>;

/** Deletes load()'s model cache. */
export declare function clearCache(): Promise<boolean>;
/** Whether `url` is in load()'s cache. */
export declare function isCached(url: string | URL): Promise<boolean>;

// ---- building blocks shared with the pages ------------------------------------------------------

/**
 * The wasm-bindgen module of one build (both export the same classes: Model, TextGenerator,
 * KernelBench…). Typed loosely here: the generated pkg/<isa>/zeroskip.d.ts needs TypeScript's
 * esnext lib (Symbol.dispose), which this package does not ask of its users.
 */
export interface WasmModule {
  /** JSON: the version, the build's ISA, whether it is threaded (`threads`) and its kernels. */
  buildInfo(): string;
  /**
   * Sets the thread count later calls into this module use (every model of the module in this
   * realm) and returns the count they will use: at most 1 + the pool's workers (1 in a
   * one-thread build).
   */
  setThreads(n: number): number;
  /** The thread count calls use now. */
  threads(): number;
  readonly [name: string]: any;
}
/** The fastest build this runtime runs; throws ZeroskipError 'Unsupported' without WebAssembly SIMD128. */
export declare function bestIsa(): 'relaxed' | 'simd128';
/** Whether the threaded builds can run here: `reason` says why not (a sentence), null when ok. */
export interface ThreadSupport {
  ok: boolean;
  reason: string | null;
}
/** Cross-origin isolation, SharedArrayBuffer, shared wasm memory and Web Workers (never in Node). */
export declare function threadSupport(): ThreadSupport;
export interface LoadWasmOptions {
  /**
   * Threads (default 1). More than 1, where threadSupport().ok: the threaded build with a pool of
   * `threads − 1` Web Workers, started once per build and realm (a later call asking for more
   * gets the threads that exist). Elsewhere the one-thread build, without an error.
   */
  threads?: number;
}
/**
 * The initialised engine module of build `isa` (default bestIsa()), cached per build: its raw
 * classes (Model, TextGenerator, KernelBench…) for pages that time the engine itself. Rejects
 * with ZeroskipError 'Unsupported' when the runtime lacks the build's features or its .wasm
 * cannot be loaded, 'Runtime' when a thread of the pool did not start.
 */
export declare function loadWasm(isa?: 'relaxed' | 'simd128', options?: LoadWasmOptions): Promise<WasmModule>;

export interface FetchOptions {
  /** Called as the body arrives; `total` is 0 when the server sends no Content-Length. */
  onProgress?: (loaded: number, total: number) => void;
  /** Aborts the download (ZeroskipError 'Aborted'). */
  signal?: AbortSignal;
  /** Read from and fill the Cache API store CACHE_NAME (default false). */
  cache?: boolean;
}
/** GET `url` as bytes, streamed with progress; failures are ZeroskipError 'Network'. */
export declare function fetchWithProgress(url: string | URL, options?: FetchOptions): Promise<Uint8Array>;

/** RGBA pixels, as ImageData has them. */
export interface Pixels {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}
/** torchvision's ImageNet mean and std. */
export declare const IMAGENET: { readonly mean: readonly [number, number, number]; readonly std: readonly [number, number, number] };
/**
 * A JPEG, PNG, WebP or GIF file (or an ImageBitmap) → its RGBA pixels, decoded as PIL does (no
 * color management, EXIF orientation applied); photos over 1024 px on the shorter side are first
 * scaled down to 1024. Browsers and workers only (OffscreenCanvas).
 */
export declare function decodeImage(image: Blob | ImageBitmap): Promise<Pixels>;
/**
 * Pixels → the NCHW float32 tensor [3, size, size] the zoo's models were evaluated on
 * (PIL-exact antialiased bilinear resize of the shorter side, center crop, normalise), and the
 * cropped RGBA for previews.
 */
export declare function preprocess(image: Pixels, options?: PreprocessOptions): { tensor: Float32Array; crop: Uint8ClampedArray };

type NumberArray = ArrayLike<number>;
/** max |a[i] − b[i]|; Infinity when the lengths differ or a difference is NaN. */
export declare function maxAbsDiff(a: NumberArray, b: NumberArray): number;
/** The index of the largest value (the first on ties); -1 for an empty array. */
export declare function argmax(xs: NumberArray): number;
/** The indices of the k largest values, largest first (ties: lower index first). */
export declare function topK(xs: NumberArray, k: number): number[];
/** softmax, in float64. */
export declare function softmax(xs: NumberArray): Float64Array;
