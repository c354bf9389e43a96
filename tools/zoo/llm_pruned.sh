#!/usr/bin/env bash
# Sparse variants of the zoo's SmolLM2-135M-Instruct (tools/zoo/llm.sh), pruned and packed by our
# own CLI (`zeroskip prune MODEL.gguf`, src/prune/llm) into sparse LLM .zsk files, in
# .cache/zoo/llm/SmolLM2-135M-Instruct.<variant>.zsk:
#
#   Q8_0.gguf      the dense Q8_0 baseline, requantized from the Q4_1 file (zeroskip convert)
#   Q4_0.gguf      the dense Q4_0 baseline, requantized likewise (ggml's Q4_0 rule)
#   g16-s50-int4   SparseGPT, 1x16 groups at 50%, int4 (GQSA-like): the speed target
#   nm24-s50-int8  SparseGPT, 2:4, int8
#   csr-s50-int8   SparseGPT, unstructured 50%, CSR int8
#   g16-s03-int4   Wanda, 1x16 groups at 3%, int4 (the sparsest group-sparse int4 variant within
#                  1.3x of dense Q4_1's perplexity; bench/results/llm_ppl.json)
#   act-teal-s40-cm32i8
#                  activation sparsity (TEAL, 40% of every linear input zeroed in decode, uniform
#                  over the sites), the matrices and an untied copy of the LM head
#                  input-channel-major int8: the demo's default, the
#                  fastest point of the frontier within 1.25x of dense Q4_1's perplexity
#                  (bench/results/llm_frontier.json)
#
# Calibration: the first 4096 tokens of the calibration split of lee_background.cor (the first
# 75 % of its lines; perplexity is measured on the rest), computed once and cached in
# calib.bin. A variant is rebuilt when its arguments, the model, or the pruning/packing sources
# change. ZOO_FORCE=1 rebuilds all.
set -euo pipefail

# shellcheck source=tools/zoo/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT="$CACHE/llm"
GGUF="$OUT/SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT="$OUT/lee_background.cor"
need_cli
[[ -f "$GGUF" && -f "$TEXT" ]] || die "$GGUF or $TEXT missing: run tools/zoo/llm.sh"

# variant | method | pattern | sparsity | format | extra arguments (activation sparsity)
VARIANTS=(
  "g16-s50-int4|sparsegpt|1x16|0.5|g16i4|"
  "nm24-s50-int8|sparsegpt|2:4|0.5|nm24i8|"
  "csr-s50-int8|sparsegpt|unstructured|0.5|csr8|"
  "g16-s03-int4|wanda|1x16|0.03|g16i4|"
  "act-teal-s40-cm32i8|magnitude|unstructured|0|cm32i8|--act-sparsity 0.4 --act-method teal --act-allocation uniform --lm-head cm32i8"
)
sources="$(cd "$ROOT" && cat src/prune/*.rs src/prune/llm/*.rs src/sparse/llm/*.rs src/zsk/llm.rs \
  src/export/gguf.rs src/import/gguf/*.rs src/llm/*.rs | sha256sum | cut -d' ' -f1)"
model_sha="$(sha256sum "$GGUF" | cut -d' ' -f1)"
# The dense Q8_0 baseline: the Q4_1 matrices requantized (`zeroskip convert`; lossless up to
# int8 rounding, as the Q4_1 values go through f32 exactly).
for ty in q8_0 q4_0; do
  out="$OUT/SmolLM2-135M-Instruct.${ty^^}.gguf"
  want="$(echo "convert $ty $model_sha $sources" | sha256sum | cut -d' ' -f1)"
  cli_cached "llm-$ty" "$out" "$want" "requantized to ${ty^^}" convert "$GGUF" --to "$ty" -o "$out"
done

for spec in "${VARIANTS[@]}"; do
  IFS='|' read -r name method pattern sparsity format extra <<< "$spec"
  out="$OUT/SmolLM2-135M-Instruct.$name.zsk"
  # shellcheck disable=SC2206 # extra is a list of plain flags
  args=(prune "$GGUF" --calib "$TEXT" --method "$method" --pattern "$pattern" --sparsity "$sparsity"
        --format "$format" --calib-tokens 4096 --calib-cache "$OUT/calib.bin"
        --act-calib-cache "$OUT/act-calib.bin" $extra -o "$out")
  want="$(echo "${args[*]} $model_sha $sources" | sha256sum | cut -d' ' -f1)"
  cli_cached "llm-$name" "$out" "$want" "$method $pattern $sparsity as $format" "${args[@]}"
done
