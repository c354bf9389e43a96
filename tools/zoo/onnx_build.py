"""Small helper to emit ONNX CNN graphs with onnx.helper.

All zoo models share one shape: NCHW float32 input `input` [1,3,H,W] and a
`logits` output [1,classes].  The builder tracks each tensor's (C, H, W) so
callers can ask for TF-style "SAME" padding, which needs the input size:
TF puts the odd pixel of padding at the bottom/right, whereas ONNX
auto_pad=SAME_UPPER is interpreted inconsistently by some importers, so we
always emit explicit `pads`.
"""
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def tf_same_pads(size, kernel, stride):
    """(begin, end) padding of TF 'SAME' for one spatial dimension."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class GraphBuilder:
    def __init__(self, name, channels=3, size=224):
        self.name = name
        self.nodes, self.inits = [], []
        self.shapes = {"input": (channels, size, size)}
        self._n = 0
        # ReLU6 = Clip(x, 0, 6); opset 13 Clip takes min/max as tensor inputs.
        self._const("clip_min", np.array(0.0, np.float32))
        self._const("clip_max", np.array(6.0, np.float32))

    # -- plumbing ---------------------------------------------------------
    def _uid(self, prefix):
        self._n += 1
        return f"{prefix}_{self._n}"

    def _const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def _node(self, op, inputs, prefix, shape, **attrs):
        out = self._uid(prefix)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.shapes[out] = shape
        return out

    # -- layers -----------------------------------------------------------
    def conv(self, x, weight, bias=None, stride=1, pads=None, name="conv"):
        """Conv with OIHW `weight`.  pads: 'tf_same', None (= symmetric k//2),
        or an explicit ONNX list [top, left, bottom, right].  The group count
        follows from the weight: in_channels = group * weight.shape[1], so a
        depthwise [C,1,k,k] kernel gets group = C."""
        weight = np.asarray(weight, np.float32)
        c_out, c_per_group, kh, kw = weight.shape
        c_in, h, w = self.shapes[x]
        assert c_in % c_per_group == 0, (x, c_in, weight.shape)
        group = c_in // c_per_group
        if pads == "tf_same":
            pt, pb = tf_same_pads(h, kh, stride)
            pl, pr = tf_same_pads(w, kw, stride)
            pads = [pt, pl, pb, pr]
        elif pads is None:
            pads = [(kh - 1) // 2, (kw - 1) // 2, (kh - 1) // 2, (kw - 1) // 2]
        oh = (h + pads[0] + pads[2] - kh) // stride + 1
        ow = (w + pads[1] + pads[3] - kw) // stride + 1
        inputs = [x, self._const(self._uid(f"{name}.weight"), weight)]
        if bias is not None:
            inputs.append(self._const(self._uid(f"{name}.bias"), np.asarray(bias, np.float32)))
        return self._node("Conv", inputs, name, (c_out, oh, ow),
                          kernel_shape=[kh, kw], strides=[stride, stride],
                          pads=list(pads), group=group, dilations=[1, 1])

    def batchnorm(self, x, gamma, beta, mean, var, eps, name="bn"):
        """Inference BatchNormalization (kept unfolded on purpose: the
        importer under test is responsible for folding it into the conv)."""
        ins = [x] + [self._const(self._uid(f"{name}.{k}"), np.asarray(v, np.float32))
                     for k, v in (("scale", gamma), ("bias", beta),
                                  ("mean", mean), ("var", var))]
        return self._node("BatchNormalization", ins, name, self.shapes[x], epsilon=float(eps))

    def relu6(self, x, name="relu6"):
        return self._node("Clip", [x, "clip_min", "clip_max"], name, self.shapes[x])

    def add(self, a, b, name="add"):
        assert self.shapes[a] == self.shapes[b], (self.shapes[a], self.shapes[b])
        return self._node("Add", [a, b], name, self.shapes[a])

    def global_avg_pool(self, x, name="gap"):
        c, _, _ = self.shapes[x]
        return self._node("GlobalAveragePool", [x], name, (c, 1, 1))

    def flatten(self, x, name="flatten"):
        c, h, w = self.shapes[x]
        return self._node("Flatten", [x], name, (c * h * w,), axis=1)

    def gemm(self, x, weight, bias, name="fc", output=None):
        """y = x @ weight.T + bias with weight [out, in] (PyTorch Linear layout)."""
        weight = np.asarray(weight, np.float32)
        ins = [x, self._const(self._uid(f"{name}.weight"), weight),
               self._const(self._uid(f"{name}.bias"), np.asarray(bias, np.float32))]
        out = self._node("Gemm", ins, name, (weight.shape[0],), transB=1)
        if output:  # rename the final tensor to the public output name
            self.nodes[-1].output[0] = output
            self.shapes[output] = self.shapes.pop(out)
            out = output
        return out

    # -- output -----------------------------------------------------------
    def model(self, output="logits", doc=""):
        c, h, w = self.shapes["input"]
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, c, h, w])],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, self.shapes[output][0]])],
            initializer=self.inits,
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="zeroskip-zoo", doc_string=doc)
        # IR version 8 (ONNX 1.10+) keeps older runtimes able to load the file.
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        return m


def save(model, path):
    """Write atomically so an interrupted build never leaves a truncated file."""
    tmp = f"{path}.tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)
