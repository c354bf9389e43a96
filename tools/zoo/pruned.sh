#!/usr/bin/env bash
# Accurate pruned variants for the demo and the benchmark, made by zeroskip's own CLI:
# <model>_p50.onnx = SparseGPT, 50% of the 1x1/FC weights, protect-small schedule, BatchNorm
# re-estimated, calibrated on foolbox photos 10..19 (photos 0..9 stay unseen).
# Needs `make zoo` (the dense models and verify/*.npy) and `make cli`. Cached by a stamp of the
# command and the dense model's hash; ZOO_FORCE=1 rebuilds.
set -euo pipefail
# shellcheck source=tools/zoo/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_cli
for m in mobilenet_v1 mobilenet_v2 efficientnet_lite0; do
  args=(prune "$CACHE/$m.onnx" --calib "$CACHE/verify/${m}_inputs.npy" --calib-range 10..20
        --method sparsegpt --sparsity 0.5 --schedule protect-small -o "$CACHE/${m}_p50.onnx")
  want="$(echo "${args[*]}" | cat - <(sha256sum "$CACHE/$m.onnx") | sha256sum | cut -d' ' -f1)"
  cli_cached "${m}_p50" "$CACHE/${m}_p50.onnx" "$want" \
    "SparseGPT 50% protect-small, calibrated on photos 10..19" "${args[@]}"
done
