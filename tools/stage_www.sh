#!/bin/sh
# Runtime files the demo and the benchmark pages serve, staged into git-ignored www/ folders by
# `make wasm` (run from the repository root). Hard links where possible, copies otherwise:
# - onnxruntime-web's wasm-EP ESM bundle + its wasm, and its WebGPU bundle + the wasm holding its
#   WebGPU EP (asyncify build, for www/gpu.html) -> www/vendor/ort;
# - TF.js and its wasm backend (classic scripts + the backend's three .wasm files) -> www/vendor/tfjs;
# - wllama (llama.cpp in wasm: its ESM bundle + wllama.wasm) -> www/vendor/wllama;
# - the zoo's GGUF/.zsk models, the LLM benchmark's prompt text (lee_background.cor, as .txt) and
#   the committed frontier JSON for www/llm.html -> www/models/llm;
# - the zoo's TF.js graph models and their verify data -> www/models/tfjs;
# - the zoo's ONNX models, verify data, and the classifier demo's images and labels -> www/models.
# A missing npm dependency is an error (run make setup); missing zoo files only say what to run.
# No `set -e`: an optional file that is absent must not stop the rest.

link() { rm -f "$2"; ln "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
version() { node -p "require('./node_modules/$1/package.json').version"; }

ort=node_modules/onnxruntime-web/dist
mkdir -p www/vendor/ort
for f in ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm \
    ort.webgpu.min.mjs ort-wasm-simd-threaded.asyncify.mjs ort-wasm-simd-threaded.asyncify.wasm; do
  [ -f $ort/$f ] || { echo "missing $ort/$f: run make setup (npm ci)"; exit 1; }
  link $ort/$f www/vendor/ort/$f
done
echo "copied onnxruntime-web $(version onnxruntime-web) into www/vendor/ort"

mkdir -p www/vendor/tfjs
for f in tfjs/dist/tf.min.js tfjs-backend-wasm/dist/tf-backend-wasm.min.js tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm \
    tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm; do
  [ -f node_modules/@tensorflow/$f ] || { echo "missing node_modules/@tensorflow/$f: run make setup (npm ci)"; exit 1; }
  link node_modules/@tensorflow/$f www/vendor/tfjs/${f##*/}
done
echo "copied TF.js $(version @tensorflow/tfjs) + its wasm backend into www/vendor/tfjs"

wl=node_modules/@wllama/wllama/esm
mkdir -p www/vendor/wllama
for f in index.js wasm/wllama.wasm; do
  [ -f $wl/$f ] || { echo "missing $wl/$f: run make setup (npm ci)"; exit 1; }
  link $wl/$f www/vendor/wllama/${f##*/}
done
echo "copied wllama $(version @wllama/wllama) into www/vendor/wllama"

if ls .cache/zoo/llm/*.gguf >/dev/null 2>&1; then
  mkdir -p www/models/llm
  for f in .cache/zoo/llm/*.gguf .cache/zoo/llm/*.zsk; do [ -f "$f" ] || continue; link "$f" "www/models/llm/${f##*/}"; done
  [ -f .cache/zoo/llm/lee_background.cor ] && link .cache/zoo/llm/lee_background.cor www/models/llm/lee_background.txt
  [ -f bench/results/llm_frontier.json ] && link bench/results/llm_frontier.json www/models/llm/llm_frontier.json
  echo "copied $(ls www/models/llm/*.gguf | wc -l) GGUF and $(ls www/models/llm/*.zsk 2>/dev/null | wc -l) sparse .zsk models into www/models/llm"
else
  echo "no .cache/zoo/llm models: run make zoo for www/models/llm (the LLM benchmark needs them)"
fi

if ls .cache/zoo/tfjs/*.json >/dev/null 2>&1; then
  mkdir -p www/models/tfjs/verify
  for f in .cache/zoo/tfjs/*; do [ -f "$f" ] || continue; link "$f" "www/models/tfjs/${f##*/}"; done
  for f in .cache/zoo/tfjs/verify/*; do link "$f" "www/models/tfjs/verify/${f##*/}"; done
  echo "copied $(ls www/models/tfjs/*.json | wc -l) TF.js models into www/models/tfjs"
else
  echo "no .cache/zoo/tfjs models: run make zoo for www/models/tfjs (the TF.js benchmark needs them)"
fi

if ls .cache/zoo/*.onnx >/dev/null 2>&1; then
  mkdir -p www/models/verify
  for f in .cache/zoo/*.onnx .cache/zoo/*.json; do link $f www/models/${f##*/}; done
  for f in .cache/zoo/verify/*.npy; do link $f www/models/verify/${f##*/}; done
  if ls .cache/zoo/images/*.jpg >/dev/null 2>&1; then
    mkdir -p www/models/images
    for f in .cache/zoo/images/*.jpg; do link $f www/models/images/${f##*/}; done
  fi
  [ -f .cache/zoo/labels.txt ] && link .cache/zoo/labels.txt www/models/labels.txt
  echo "copied $(ls www/models/*.onnx | wc -l) models into www/models"
else
  echo "no .cache/zoo models: run make zoo for www/models (the CNN benchmark needs them)"
fi
