#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/), seeds each empty corpus from the targets' own
# generators (fuzz/src/seeds.rs), runs every target for FUZZ_S seconds (FUZZ_JOBS at a time),
# prints a table and writes it as JSON to target/fuzz.json. Exits 1 if any target crashed
# (panic, abort, ASan report, timeout, or one allocation over MALLOC_MB); the input that did
# it is in fuzz/artifacts/<target>/.
#   FUZZ_S=600 tools/fuzz.sh               every target, 10 min each (`make fuzz`)
#   FUZZ_S=30 tools/fuzz.sh                the `make test-fuzz` smoke
#   FUZZ_TARGETS="onnx gguf" tools/fuzz.sh a subset
#   FUZZ_RUNS=1000000 FUZZ_S=3600 tools/fuzz.sh  each target until 10^6 executions (or FUZZ_S)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

TOOLCHAIN=nightly-2026-05-19
FUZZ_S=${FUZZ_S:-30}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_RUNS=${FUZZ_RUNS:--1}
TARGETS=${FUZZ_TARGETS:-onnx tfjs gguf zsk_cnn zsk_llm sparse_matrix tokenizer wgsl_lower}
# Any single allocation above this is a crash (libFuzzer's -malloc_limit_mb). The seeds
# need under 8 MB in one piece; the loaders' own caps let a small file ask for more (sparse
# weights densify to at most 2^26 floats = 256 MiB per model: MAX_DENSIFIED, ONNX and .zsk),
# so the limit sits just above that cap: anything larger means a size taken from a header
# was trusted. (At 64 MB the zsk_cnn target found an uncapped 200 MB densify: fixed.)
MALLOC_MB=${MALLOC_MB:-300}
RSS_MB=2048
json=$root/target/fuzz.json

step() { printf '\033[1mfuzz:\033[0m %s\n' "$*"; }

step "cargo fuzz build ($TOOLCHAIN, ASan)"
(cd fuzz && cargo "+$TOOLCHAIN" fuzz build)
bin_dir=$root/fuzz/target/x86_64-unknown-linux-gnu/release
logs=$root/fuzz/target/logs
mkdir -p "$logs" "$root/target"

run_one() {
  local t=$1 corpus=fuzz/corpus/$1 art=fuzz/artifacts/$1/ dict=()
  mkdir -p "$corpus" "$art"
  if [ -z "$(ls -A "$corpus")" ]; then
    ZEROSKIP_FUZZ_SEEDS=$corpus "$bin_dir/$t" -runs=0 "$corpus" >"$logs/$t.seed.log" 2>&1
  fi
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  local rc=0
  "$bin_dir/$t" "$corpus" "${dict[@]}" -max_total_time="$FUZZ_S" -runs="$FUZZ_RUNS" -rss_limit_mb=$RSS_MB \
    -malloc_limit_mb="$MALLOC_MB" -timeout=10 -artifact_prefix="$art" -print_final_stats=1 \
    >"$logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$logs/$t.rc"
}

step "running ${TARGETS// /, } for ${FUZZ_S}s each, $FUZZ_JOBS at a time (logs in fuzz/target/logs)"
for t in $TARGETS; do
  run_one "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do wait -n || true; done
done
wait

# One row per target from libFuzzer's final stats and its last status line.
failed=0 rows=()
printf '\n%-14s %12s %9s %7s %8s %8s %8s\n' target execs exec/s cov ft corpus crashes
for t in $TARGETS; do
  log=$logs/$t.log
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs=$(stat number_of_executed_units); eps=$(stat average_exec_per_sec)
  last=$(grep -E '^#[0-9]+' "$log" | grep -o 'cov: [0-9]* ft: [0-9]*' | tail -1)
  cov=$(awk '{print $2}' <<<"$last"); ft=$(awk '{print $4}' <<<"$last")
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  rc=$(cat "$logs/$t.rc")
  [ "$rc" = 0 ] && [ "$crashes" = 0 ] || failed=1
  printf '%-14s %12s %9s %7s %8s %8s %8s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes"
  rows+=("$(printf '    {"target": "%s", "seconds": %s, "executions": %s, "exec_per_s": %s, "cov": %s, "ft": %s, "corpus": %s, "crashes": %s, "exit": %s}' \
    "$t" "$FUZZ_S" "${execs:-null}" "${eps:-null}" "${cov:-null}" "${ft:-null}" "$corpus" "$crashes" "$rc")")
done
{
  printf '{\n  "date": "%s",\n  "machine": "%s, %s cores",\n  "toolchain": "%s",\n  "malloc_limit_mb": %s,\n  "rss_limit_mb": %s,\n  "targets": [\n' \
    "$(date -u +%FT%TZ)" "$(uname -m)" "$(nproc)" "$TOOLCHAIN" "$MALLOC_MB" "$RSS_MB"
  (IFS=$'\n'; echo "${rows[*]}" | sed '$!s/$/,/')
  printf '  ]\n}\n'
} >"$json"
step "wrote $json"
if [ "$failed" != 0 ]; then
  echo "fuzz: a target crashed: see fuzz/artifacts/<target>/ and fuzz/target/logs/<target>.log" >&2
  exit 1
fi
