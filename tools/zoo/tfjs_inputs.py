"""Real-image inputs for the TF.js graph models (called by tfjs.sh).

  python tfjs_inputs.py CACHE NAME...

For each NAME, reads CACHE/tfjs/NAME.json, finds its input size, and writes
CACHE/tfjs/verify/NAME_inputs.npy: float32 (N, H, W, C), NHWC, C order, N = 4
zoo photos (CACHE/images/*.jpg, sorted, the first 4). Each photo is decoded as
RGB, center-cropped to a square (the shorter side), resized to W x H with PIL
bilinear (antialiased), and scaled to [0, 1] (pixel / 255). A 1-channel model
(emotion) gets the photo in grayscale (PIL "L": 0.299 R + 0.587 G + 0.114 B).

The input size comes from the model.json's signature.inputs (tensorShape.dim),
or from the Placeholder node's `shape` attr when the signature lacks it; a
batch of -1 means 1. Exactly one input is expected.
"""
import glob
import json
import os
import sys

import numpy as np
from PIL import Image

N_IMAGES = 4


def input_spec(model_json):
    """(tensor name, [1, H, W, C]) of the model's single input."""
    sig = (model_json.get("signature") or model_json.get("userDefinedMetadata", {}).get("signature") or {})
    inputs = list((sig.get("inputs") or {}).values())
    placeholders = [n for n in model_json["modelTopology"]["node"] if n["op"] == "Placeholder"]
    if inputs:
        if len(inputs) != 1:
            raise SystemExit(f"expected one signature input, got {[i.get('name') for i in inputs]}")
        name = inputs[0]["name"]
        dims = [int(d["size"]) for d in inputs[0].get("tensorShape", {}).get("dim", [])]
        if not dims:
            node = next((n for n in placeholders if n["name"] == name.split(":")[0]), None)
            dims = placeholder_dims(node) if node else []
    else:
        if len(placeholders) != 1:
            raise SystemExit(f"expected one Placeholder, got {[n['name'] for n in placeholders]}")
        name = placeholders[0]["name"] + ":0"
        dims = placeholder_dims(placeholders[0])
    if len(dims) != 4:
        raise SystemExit(f"input {name}: expected NHWC dims, got {dims}")
    if dims[0] == -1:
        dims[0] = 1
    if dims[0] != 1 or min(dims[1:]) <= 0:
        raise SystemExit(f"input {name}: unsupported dims {dims} (need [1 or -1, H, W, C] with known H, W, C)")
    return name, dims


def placeholder_dims(node):
    return [int(d.get("size", -1)) for d in node.get("attr", {}).get("shape", {}).get("shape", {}).get("dim", [])]


def load(path, h, w, c):
    img = Image.open(path).convert("RGB")
    iw, ih = img.size
    s = min(iw, ih)
    left, top = (iw - s) // 2, (ih - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((w, h), Image.BILINEAR)
    if c == 1:
        x = np.asarray(img.convert("L"), dtype=np.float32)[:, :, None]
    elif c == 3:
        x = np.asarray(img, dtype=np.float32)
    else:
        raise SystemExit(f"{c} input channels: only 1 (grayscale) or 3 (RGB) are supported")
    return x / 255.0


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: tfjs_inputs.py CACHE NAME...")
    cache, names = sys.argv[1], sys.argv[2:]
    photos = sorted(glob.glob(os.path.join(cache, "images", "*.jpg")))[:N_IMAGES]
    if len(photos) < N_IMAGES:
        raise SystemExit(f"need {N_IMAGES} photos in {cache}/images (run tools/zoo/build.sh), found {len(photos)}")
    out_dir = os.path.join(cache, "tfjs", "verify")
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        with open(os.path.join(cache, "tfjs", f"{name}.json")) as f:
            tensor, (_, h, w, c) = input_spec(json.load(f))
        x = np.stack([load(p, h, w, c) for p in photos]).astype("<f4")
        x = np.ascontiguousarray(x)
        path = os.path.join(out_dir, f"{name}_inputs.npy")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            np.lib.format.write_array(f, x, version=(1, 0), allow_pickle=False)
        os.replace(tmp, path)
        print(f"[zoo]   {name}_inputs.npy {tuple(x.shape)} from {', '.join(os.path.basename(p) for p in photos)} "
              f"(input {tensor}, range {x.min():.3f}..{x.max():.3f})")


if __name__ == "__main__":
    main()
