# Sourced by every zoo script (tools/zoo/*.sh): the paths, the log, and the stamp check that
# makes each step run once. A step's stamp holds the hash of its inputs ("want"); the step is
# fresh while the stamp matches and its outputs exist. ZOO_FORCE=1 makes every step stale.
HERE="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ZOO_CACHE:-$ROOT/.cache/zoo}"
BIN="$ROOT/target/release/zeroskip"
export PYTHONDONTWRITEBYTECODE=1   # keep tools/zoo free of __pycache__
mkdir -p "$CACHE/pkgs" "$CACHE/stamps"

log() { echo "[zoo] $*"; }
die() { echo "[zoo] ERROR: $*" >&2; exit 1; }

# fresh STAMP WANT [FILE...]: the step stamped STAMP was done with inputs WANT and left FILEs.
fresh() {
  local stamp="$1" want="$2"; shift 2
  [[ "${ZOO_FORCE:-0}" != 1 && -f "$CACHE/stamps/$stamp" && "$(cat "$CACHE/stamps/$stamp")" == "$want" ]] || return 1
  local f
  for f in "$@"; do [[ -f "$f" ]] || return 1; done
}
stamp() { echo "$2" > "$CACHE/stamps/$1"; }

need_cli() { [[ -x "$BIN" ]] || die "$BIN missing: run make cli"; }

# venv STAMP DIR REQUIREMENTS [pip install options]: a venv with REQUIREMENTS, rebuilt when the
# file or the python3 in use changes (the stamp survives ZOO_FORCE: a venv takes minutes).
venv() {
  local stamp="$1" dir="$2" reqs="$3"; shift 3
  local want; want="$(cat "$reqs" <(python3 -VV) | sha256sum | cut -d' ' -f1)"
  if [[ -x "$dir/bin/python" && -f "$CACHE/stamps/$stamp" && "$(cat "$CACHE/stamps/$stamp")" == "$want" ]]; then
    log "  cached"
    return
  fi
  rm -rf "$dir" "$CACHE/stamps/$stamp"
  python3 -m venv "$dir" || die "python3 -m venv failed (install python3-venv?)"
  "$dir/bin/python" -m pip install --disable-pip-version-check -q "$@" -r "$reqs" \
    || die "pip install -r ${reqs#"$ROOT"/} failed"
  stamp "$stamp" "$want"
  log "  installed: $(grep -E '^[a-zA-Z]' "$reqs" | head -4 | tr '\n' ' ')"
}

# pip_fetch PY SPEC SHA256 FILE [pip download options]: SPEC's one file (FILE, or whatever single
# file pip gives when FILE is empty) into $CACHE/pkgs, sha256-checked; recorded in SPEC.file.
# Counts the downloads it made in PIP_FETCHED.
PIP_FETCHED=0
pip_fetch() {
  local py="$1" spec="$2" sha="$3" file="$4"; shift 4
  local rec="$CACHE/pkgs/$spec.file"
  if [[ -f "$rec" && -f "$CACHE/pkgs/$(cat "$rec")" && ( -z "$file" || "$(cat "$rec")" == "$file" ) ]]; then
    return
  fi
  local tmp; tmp="$(mktemp -d "$CACHE/pkgs/.dl.XXXXXX")"
  "$py" -m pip download --disable-pip-version-check -q --no-deps "$@" -d "$tmp" "$spec" \
    || { rm -rf "$tmp"; die "pip download $spec failed"; }
  if [[ -z "$file" ]]; then
    file="$(ls "$tmp")"
    [[ "$(echo "$file" | wc -l)" == 1 ]] || { rm -rf "$tmp"; die "pip download $spec gave: $file"; }
  fi
  [[ -f "$tmp/$file" ]] || { ls "$tmp" >&2; rm -rf "$tmp"; die "pip download $spec did not give $file"; }
  local got; got="$(sha256sum "$tmp/$file" | cut -d' ' -f1)"
  [[ "$got" == "$sha" ]] || { rm -rf "$tmp"; die "$file: sha256 $got, expected $sha"; }
  mv "$tmp/$file" "$CACHE/pkgs/$file"
  rm -rf "$tmp"
  echo "$file" > "$rec"
  log "  downloaded $file ($(du -h "$CACHE/pkgs/$file" | cut -f1))"
  PIP_FETCHED=$((PIP_FETCHED + 1))
}

# cli_cached STAMP OUT WANT WHAT ARGS...: `zeroskip ARGS` (which writes OUT), unless fresh.
cli_cached() {
  local stamp="$1" out="$2" want="$3" what="$4"; shift 4
  if fresh "$stamp" "$want" "$out"; then
    log "${out##*/} cached"
    return
  fi
  log "${out##*/}: $what"
  "$BIN" "$@"
  stamp "$stamp" "$want"
}
