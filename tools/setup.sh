#!/usr/bin/env bash
# Idempotent set-up for zeroskip's build, tests and demo on Debian.
# Each step checks first, so a warm machine pays only a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
[ -n "$WASM_BINDGEN_VERSION" ] || { echo "setup: cannot read the wasm-bindgen pin from Cargo.toml" >&2; exit 1; }

# The pinned nightly, for two things: fuzzing (tools/fuzz.sh: libFuzzer needs -Zsanitizer) and the
# threaded wasm builds (make wasm: std rebuilt with atomics through -Zbuild-std, which needs
# rust-src). Keep it equal to the Makefile's NIGHTLY.
FUZZ_TOOLCHAIN=nightly-2026-05-19
CARGO_FUZZ_VERSION=0.13.2

step() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# 1. Rust target for the browser build.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. The wasm-bindgen CLI, exactly the crate's pinned version (a mismatch refuses to build).
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lockfile pins a webpki-roots that the registry mirror does not carry.
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 min)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# 3. The pinned nightly (minimal: rustc, cargo, rust-std) with rust-src, and cargo-fuzz.
#    (No wasm32 rust-std for it: -Zbuild-std builds std for the threaded builds from rust-src.)
if ! rustup toolchain list | grep -q "^$FUZZ_TOOLCHAIN"; then
  step "rustup toolchain install $FUZZ_TOOLCHAIN"
  rustup toolchain install "$FUZZ_TOOLCHAIN" --profile minimal --component rust-src
elif ! rustup component list --toolchain "$FUZZ_TOOLCHAIN" --installed | grep -q '^rust-src'; then
  rustup component add rust-src --toolchain "$FUZZ_TOOLCHAIN"
fi
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  step "cargo install cargo-fuzz $CARGO_FUZZ_VERSION (about 1 min)"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# 4. Chromium + driver for browser tests and benchmarks; Mesa lavapipe for native wgpu.
need_apt=()
for p in chromium chromium-driver mesa-vulkan-drivers libvulkan1; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# 5. npm: playwright-core drives /usr/bin/chromium; binaryen gives a wasm-opt that understands
#    relaxed SIMD (Debian's binaryen 108 does not, and its output breaks at load); the peers the
#    benchmarks compare with (onnxruntime-web, TF.js + its wasm backend, also the zoo's TF.js
#    reference).
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] \
   || [ ! -d node_modules/@tensorflow/tfjs-backend-wasm ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

step "ready (wasm-bindgen $WASM_BINDGEN_VERSION, $(/usr/bin/chromium --version 2>/dev/null || echo 'no chromium'))"
