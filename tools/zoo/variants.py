"""Magnitude-pruned variants of the zoo models, for SPEED measurement only.

  python variants.py CACHE      (build.sh runs it as its last step, through the zoo venv)

For each model in MODELS (mobilenet_v1, mobilenet_v2, efficientnet_lite0) it writes into CACHE:

  <model>_s70.onnx, _s80.onnx, _s85.onnx, _s90.onnx
      per layer, unstructured: the smallest-|w| fraction (0.70 ... 0.90) of every 1x1 Conv
      weight (kernel 1x1, group 1) and of the final Gemm/MatMul weight is set to 0.
  <model>_s90b4.onnx
      per layer, 4x1 blocks: 4 consecutive output channels x 1 input column form a group; the
      90% of groups with the smallest L2 norm are set to 0 together.
  variants.json
      per file: the sparsity actually reached over the pruned layers, and their count.

Everything else (depthwise and 3x3 convs, BN, biases) is untouched, and the zeros are stored
DENSE in the initializers: a standard ONNX file that any runtime loads. No calibration, no BN
re-estimation: the pruned models' accuracy is poor (see shared findings); these files exist to
measure how fast an engine runs a given sparsity, never what it predicts.

Stamped like the other zoo steps: the key hashes this file and the base models' stamps, so a
warm run does no work.
"""
import hashlib
import json
import os
import sys
import time

MODELS = ["mobilenet_v1", "mobilenet_v2", "efficientnet_lite0"]
UNSTRUCTURED = {"s70": 0.70, "s80": 0.80, "s85": 0.85, "s90": 0.90}
BLOCKED = {"s90b4": (0.90, 4)}
STEP = "variants"


def log(msg):
    print(f"[zoo] {msg}", flush=True)


def variant_files(cache):
    names = list(UNSTRUCTURED) + list(BLOCKED)
    return [os.path.join(cache, f"{m}_{v}.onnx") for m in MODELS for v in names]


def stamp_key(cache):
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    for m in MODELS:
        h.update(b"\0")
        p = os.path.join(cache, "stamps", f"model-{m}")
        h.update(open(p, "rb").read() if os.path.exists(p) else b"missing")
    return h.hexdigest()


def prunable(graph):
    """(node, initializer, out_axis) for every 1x1 group-1 Conv and every Gemm/MatMul weight.

    out_axis is the axis of the weight that indexes output channels (0 for Conv and Gemm with
    transB=1, 1 for MatMul and Gemm with transB=0)."""
    import onnx
    from onnx import helper

    inits = {i.name: i for i in graph.initializer}
    out = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if len(node.input) < 2 or node.input[1] not in inits:
            continue
        w = inits[node.input[1]]
        if w.data_type != onnx.TensorProto.FLOAT:
            continue
        if node.op_type == "Conv":
            if len(w.dims) == 4 and list(w.dims[2:]) == [1, 1] and attrs.get("group", 1) == 1:
                out.append((node, w, 0))
        elif node.op_type == "Gemm" and len(w.dims) == 2:
            out.append((node, w, 0 if attrs.get("transB", 0) else 1))
        elif node.op_type == "MatMul" and len(w.dims) == 2:
            out.append((node, w, 1))
    return out


def prune_unstructured(w, sparsity):
    """Zeros the round(sparsity * size) entries of smallest magnitude (a copy)."""
    import numpy as np

    flat = w.reshape(-1).copy()
    k = int(round(sparsity * flat.size))
    if k > 0:
        idx = np.argsort(np.abs(flat), kind="stable")[:k]
        flat[idx] = 0.0
    return flat.reshape(w.shape)


def prune_blocks(w2, sparsity, rows):
    """w2: [out, in]. Groups of `rows` consecutive output rows x 1 column; zeros the
    round(sparsity * groups) groups of smallest L2 norm (a trailing partial group counts as one)."""
    import numpy as np

    n_out, n_in = w2.shape
    n_grp = -(-n_out // rows)
    pad = np.zeros((n_grp * rows, n_in), dtype=w2.dtype)
    pad[:n_out] = w2
    g = pad.reshape(n_grp, rows, n_in)
    norms = np.sqrt((g.astype(np.float64) ** 2).sum(axis=1)).reshape(-1)  # [n_grp * n_in]
    k = int(round(sparsity * norms.size))
    mask = np.ones(norms.size, dtype=bool)
    if k > 0:
        mask[np.argsort(norms, kind="stable")[:k]] = False
    g = g * mask.reshape(n_grp, 1, n_in)
    return g.reshape(n_grp * rows, n_in)[:n_out].astype(w2.dtype)


def build_variant(model, pruner):
    """Applies pruner(weight_2d [out, in]) to each prunable weight of a copy of `model`.
    Returns (model, zeros, total, layers)."""
    import numpy as np
    from onnx import numpy_helper

    m = type(model)()
    m.CopyFrom(model)
    zeros = total = 0
    layers = prunable(m.graph)
    for _node, init, out_axis in layers:
        w = numpy_helper.to_array(init)
        shape = w.shape
        w2 = w.reshape(shape[0], -1) if out_axis == 0 else w.T
        p2 = pruner(np.ascontiguousarray(w2))
        p = p2.reshape(shape) if out_axis == 0 else np.ascontiguousarray(p2.T)
        init.CopyFrom(numpy_helper.from_array(p.astype(np.float32), init.name))
        zeros += int((p == 0).sum())
        total += p.size
    return m, zeros, total, len(layers)


def main(cache):
    key = stamp_key(cache)
    stamp = os.path.join(cache, "stamps", STEP)
    summary_path = os.path.join(cache, "variants.json")
    outputs = variant_files(cache) + [summary_path]
    log("step 8 (after 7/7): pruned variants for speed measurement (variants.py)")
    if all(os.path.exists(o) for o in outputs) and os.path.exists(stamp) and open(stamp).read() == key:
        log("  cached")
        return 0
    import onnx

    t0 = time.time()
    summary = {
        "note": "magnitude-pruned, no retraining or BN re-estimation: for SPEED measurement only, "
                "accuracy is not meaningful",
        "pruned_layers": "every 1x1 Conv with group 1 and the final Gemm/MatMul, per layer",
        "files": {},
    }
    for name in MODELS:
        src = os.path.join(cache, f"{name}.onnx")
        if not os.path.exists(src):
            log(f"  ERROR: {src} missing (run the earlier zoo steps first)")
            return 1
        base = onnx.load(src)
        jobs = [(v, lambda w, s=s: prune_unstructured(w, s)) for v, s in UNSTRUCTURED.items()]
        jobs += [(v, lambda w, s=s, r=r: prune_blocks(w, s, r)) for v, (s, r) in BLOCKED.items()]
        for variant, pruner in jobs:
            out = os.path.join(cache, f"{name}_{variant}.onnx")
            m, zeros, total, layers = build_variant(base, pruner)
            onnx.checker.check_model(m)
            tmp = out + ".tmp"
            onnx.save(m, tmp)
            os.replace(tmp, out)
            summary["files"][os.path.basename(out)] = {
                "model": name, "variant": variant, "pruned_layers": layers,
                "sparsity_of_pruned_layers": round(zeros / total, 4),
            }
            log(f"  {os.path.basename(out)}: {layers} layers at {100 * zeros / total:.1f}% zeros")
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    with open(stamp, "w") as f:
        f.write(key)
    log(f"  {len(summary['files'])} variants in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python variants.py CACHE_DIR")
    sys.exit(main(os.path.abspath(sys.argv[1])))
