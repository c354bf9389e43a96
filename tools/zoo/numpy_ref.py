"""Independent numpy forward pass of torchvision MobileNetV2 from the raw .pth.

This shares no code with the ONNX builder (it only reuses the .pth reader):
it walks the state dict by torchvision's key names and computes the network
directly, so comparing its logits with onnxruntime on the built ONNX proves
the graph (strides, groups, residuals, BN eps, classifier) against something
other than itself.  Float64 throughout, so the diff measures ORT's error.
"""
import numpy as np


def conv2d(x, w, stride, pad):
    """x [C,H,W], w [O, C/groups, k, k]; symmetric zero padding."""
    c, h, _ = x.shape
    o, cg, k, _ = w.shape
    groups = c // cg
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // stride + 1
    # Patches [C, k, k, oh, ow] via strided slicing, one slice per tap.
    patches = np.stack([np.stack([xp[:, i:i + stride * oh:stride, j:j + stride * oh:stride]
                                  for j in range(k)], 1) for i in range(k)], 1)
    patches = patches.reshape(groups, cg, k, k, oh, oh)
    wg = w.reshape(groups, o // groups, cg, k, k)
    out = np.einsum("gockl,gckluv->gouv", wg, patches, optimize=True)
    return out.reshape(o, oh, oh)


def batchnorm(x, sd, key, eps=1e-5):
    g, b = sd[f"{key}.weight"], sd[f"{key}.bias"]
    m, v = sd[f"{key}.running_mean"], sd[f"{key}.running_var"]
    return ((x - m[:, None, None]) / np.sqrt(v[:, None, None] + eps)) * g[:, None, None] \
        + b[:, None, None]


def relu6(x):
    return np.minimum(np.maximum(x, 0.0), 6.0)


def mobilenet_v2(sd, image):
    """image: [1,3,224,224] preprocessed input; returns logits [1000]."""
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    x = image[0].astype(np.float64)

    def cbr(x, conv, bn, stride, act=True):
        w = sd[f"{conv}.weight"]
        y = batchnorm(conv2d(x, w, stride, (w.shape[-1] - 1) // 2), sd, bn)
        return relu6(y) if act else y

    x = cbr(x, "features.0.0", "features.0.1", 2)
    # First-block strides of each stage, keyed by block index (torchvision).
    stride_at = {2: 2, 4: 2, 7: 2, 14: 2}
    for i in range(1, 18):
        p, s = f"features.{i}.conv", stride_at.get(i, 1)
        y = x
        if f"{p}.3.weight" in sd:
            y = cbr(y, f"{p}.0.0", f"{p}.0.1", 1)
            y = cbr(y, f"{p}.1.0", f"{p}.1.1", s)
            y = cbr(y, f"{p}.2", f"{p}.3", 1, act=False)
        else:
            y = cbr(y, f"{p}.0.0", f"{p}.0.1", s)
            y = cbr(y, f"{p}.1", f"{p}.2", 1, act=False)
        x = x + y if (s == 1 and x.shape == y.shape) else y
    x = cbr(x, "features.18.0", "features.18.1", 1)
    feat = x.mean(axis=(1, 2))
    return sd["classifier.1.weight"] @ feat + sd["classifier.1.bias"]
