# zeroskip: `make demo` builds and serves the demo on 127.0.0.1; `make test` runs every test.
# Both run the idempotent set-up first (tools/setup.sh).

SHELL := /bin/bash
WASM_TARGET := wasm32-unknown-unknown
RELAXED_FLAGS := -C target-feature=+simd128,+relaxed-simd
WASM_OPT := node_modules/.bin/wasm-opt
PORT ?= 8080
export XDG_RUNTIME_DIR ?= /tmp

.PHONY: setup wasm test test-native test-wasm test-relaxed test-browser lint bench demo clean

setup:
	@bash tools/setup.sh

# Two browser builds: SIMD128 (every engine) and relaxed SIMD (fused multiply-add), each in its
# own target dir because RUSTFLAGS replaces .cargo/config.toml's flags.
wasm: setup
	cargo build --release --target $(WASM_TARGET) --lib
	RUSTFLAGS="$(RELAXED_FLAGS)" cargo build --release --target $(WASM_TARGET) --lib --target-dir target/relaxed
	@for isa in simd128 relaxed; do \
	  src=target/$(WASM_TARGET)/release/zeroskip.wasm; \
	  [ $$isa = relaxed ] && src=target/relaxed/$(WASM_TARGET)/release/zeroskip.wasm; \
	  wasm-bindgen --target web --out-dir www/pkg/$$isa $$src || exit 1; \
	  $(WASM_OPT) -O3 --enable-simd --enable-relaxed-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
	    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
	    www/pkg/$$isa/zeroskip_bg.wasm -o www/pkg/$$isa/zeroskip_bg.wasm || exit 1; \
	  echo "built www/pkg/$$isa ($$(stat -c %s www/pkg/$$isa/zeroskip_bg.wasm) bytes)"; \
	done

test: setup lint test-native test-wasm test-relaxed test-browser
	@echo "make test: all passed"

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target $(WASM_TARGET) --all-targets -- -D warnings

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

# Both builds in headless Chromium through the benchmark page, in its quick mode.
test-browser: wasm
	node tests/browser/kernels.mjs

bench: wasm
	node bench/run.mjs

demo: wasm
	node tools/serve.mjs --port $(PORT)

clean:
	cargo clean
	rm -rf www/pkg
