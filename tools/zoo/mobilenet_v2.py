"""torchvision MobileNetV2 (mobilenet_v2-b0353104.pth) -> ONNX.

torchvision's layout (width 1.0):
  features.0            ConvBNReLU(3, 32, stride 2)          -> .0 conv, .1 bn
  features.1..17        InvertedResidual
                          expand_ratio 1: conv.0 = dw ConvBNReLU, conv.1 pw conv, conv.2 bn
                          otherwise:      conv.0 = pw ConvBNReLU, conv.1 = dw ConvBNReLU,
                                          conv.2 pw conv, conv.3 bn
  features.18           ConvBNReLU(320, 1280, 1x1)
  classifier.1          Linear(1280, 1000)   (classifier.0 is Dropout)
Convs have no bias, padding is symmetric (k-1)/2, BN eps is 1e-5, and the
residual Add is used when stride == 1 and in == out channels.
"""
import torch_pickle
from onnx_build import GraphBuilder

BN_EPS = 1e-5
# (expand t, out channels c, repeats n, first stride s) from the paper / torchvision.
SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
            (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def block_strides():
    """Stride of features.1 .. features.17, in order."""
    out = []
    for _, _, n, s in SETTINGS:
        out += [s] + [1] * (n - 1)
    return out


def _conv_bn(g, sd, x, conv_key, bn_key, stride=1, relu=True):
    y = g.conv(x, sd[f"{conv_key}.weight"], stride=stride, name=conv_key)
    y = g.batchnorm(y, sd[f"{bn_key}.weight"], sd[f"{bn_key}.bias"],
                    sd[f"{bn_key}.running_mean"], sd[f"{bn_key}.running_var"],
                    BN_EPS, name=bn_key)
    return g.relu6(y, name=f"{bn_key}.relu6") if relu else y


def build(pth_path):
    sd = torch_pickle.load_state_dict(pth_path)
    g = GraphBuilder("mobilenet_v2")
    x = _conv_bn(g, sd, "input", "features.0.0", "features.0.1", stride=2)
    for i, stride in enumerate(block_strides(), start=1):
        p = f"features.{i}.conv"
        inp = x
        if f"{p}.3.weight" in sd:  # has the 1x1 expansion
            x = _conv_bn(g, sd, x, f"{p}.0.0", f"{p}.0.1")
            x = _conv_bn(g, sd, x, f"{p}.1.0", f"{p}.1.1", stride=stride)
            x = _conv_bn(g, sd, x, f"{p}.2", f"{p}.3", relu=False)
        else:
            x = _conv_bn(g, sd, x, f"{p}.0.0", f"{p}.0.1", stride=stride)
            x = _conv_bn(g, sd, x, f"{p}.1", f"{p}.2", relu=False)
        if stride == 1 and g.shapes[inp][0] == g.shapes[x][0]:
            x = g.add(inp, x, name=f"features.{i}.add")
    x = _conv_bn(g, sd, x, "features.18.0", "features.18.1")
    x = g.flatten(g.global_avg_pool(x))
    g.gemm(x, sd["classifier.1.weight"], sd["classifier.1.bias"], name="classifier", output="logits")
    assert "features.19.0.weight" not in sd
    return g.model(doc="torchvision MobileNetV2 (mobilenet_v2-b0353104.pth), BN unfolded")
