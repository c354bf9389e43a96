"""Image preprocessing driven by a model's <model>.json metadata.

One transform for every zoo model, matching torchvision's eval transform and
(to within interpolation details) TF's 87.5% central crop:
  1. decode as RGB (never BGR),
  2. resize the shorter side to 256 with PIL bilinear (antialiased),
  3. center-crop 224x224,
  4. x = (pixel / 255 - mean[c]) / std[c], per channel,
  5. HWC -> CHW, add the batch dimension.
Only mean/std differ between models; see each model's json "scale" field.
"""
import numpy as np
from PIL import Image

RESIZE_SHORTER = 256


def load(path, meta):
    size = meta["size"]
    img = Image.open(path).convert("RGB")
    w, h = img.size
    scale = RESIZE_SHORTER / min(w, h)
    # round() like torchvision's Resize(int) does for the longer side.
    nw, nh = max(RESIZE_SHORTER, round(w * scale)), max(RESIZE_SHORTER, round(h * scale))
    if w <= h:
        nw = RESIZE_SHORTER
    else:
        nh = RESIZE_SHORTER
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array(meta["mean"], np.float32)) / np.array(meta["std"], np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
