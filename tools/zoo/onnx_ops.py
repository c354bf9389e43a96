"""The ONNX operator suite (issue 16): single-op (or short-pattern) batch-1 models across the
attributes of every op a mobile vision model uses, with onnxruntime's outputs as the reference.

    python onnx_ops.py CACHE        writes CACHE/onnx_ops/: NAME.onnx, NAME.in.f32 (the input,
                                    little-endian f32), NAME.out.f32 (onnxruntime's output) and
                                    cases.json (name, op, opset, input and output dims)

tests/models/onnx_ops.rs runs every case natively, tests/npm/onnx_ops.mjs through the npm
package (wasm): each must match onnxruntime within 1e-4 relative, or be refused with a typed
UnsupportedOp (the tests list which). onnxruntime runs with its graph optimizations off, so the
reference is the op as the file states it.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(16)
CASES = []


def t(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def w(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def case(name, nodes, inits=(), dims=(1, 4, 7, 9), opset=13, op=None):
    """One model reading `input` of `dims` and writing `y`."""
    CASES.append(dict(name=name, nodes=nodes, inits=list(inits), dims=list(dims), opset=opset,
                      op=op or nodes[-1].op_type))


def n(op, inputs, outputs=("y",), **attrs):
    n.count = getattr(n, "count", 0) + 1
    return helper.make_node(op, list(inputs), list(outputs), name=f"{op}_{n.count}", **attrs)


def one(name, op, inputs=("input",), inits=(), dims=(1, 4, 7, 9), opset=13, **attrs):
    case(name, [n(op, inputs, **attrs)], inits, dims, opset)


def conv(name, cin=4, cout=6, k=(3, 3), group=1, bias=True, dims=None, **attrs):
    ins = ["input", "w"] + (["b"] if bias else [])
    inits = [t("w", w(cout, cin // group, *k))] + ([t("b", w(cout))] if bias else [])
    one(name, "Conv", ins, inits, dims or (1, cin, 7, 9), kernel_shape=list(k), group=group, **attrs)


# Conv: kernels, strides, pads, dilations, auto_pad, groups
conv("conv_3x3", pads=[1, 1, 1, 1])
conv("conv_3x3_s2", pads=[1, 1, 1, 1], strides=[2, 2])
conv("conv_1x1", k=(1, 1))
conv("conv_1x1_s2", k=(1, 1), strides=[2, 2])
conv("conv_5x5_p2", k=(5, 5), pads=[2, 2, 2, 2])
conv("conv_3x3_dil2", pads=[2, 2, 2, 2], dilations=[2, 2])
conv("conv_3x3_dil2x1", pads=[2, 1, 2, 1], dilations=[2, 1])
conv("conv_same_upper_s2", auto_pad="SAME_UPPER", strides=[2, 2])
conv("conv_same_lower", auto_pad="SAME_LOWER", k=(4, 4))
conv("conv_valid", auto_pad="VALID")
conv("conv_no_bias", bias=False, pads=[1, 1, 1, 1])
conv("conv_pads_asym", pads=[0, 1, 1, 0])
conv("conv_3x1", k=(3, 1), pads=[1, 0, 1, 0])
conv("conv_1x3_s1x2", k=(1, 3), pads=[0, 1, 0, 1], strides=[1, 2])
conv("conv_stem_3ch", cin=3, cout=8, pads=[1, 1, 1, 1], strides=[2, 2])
conv("conv_depthwise", cin=4, cout=4, group=4, pads=[1, 1, 1, 1])
conv("conv_depthwise_s2", cin=4, cout=4, group=4, pads=[1, 1, 1, 1], strides=[2, 2])
conv("conv_depthwise_5x5", cin=4, cout=4, group=4, k=(5, 5), pads=[2, 2, 2, 2])
conv("conv_depthwise_mult2", cin=4, cout=8, group=4, pads=[1, 1, 1, 1])
conv("conv_grouped_g2", cin=4, cout=6, group=2, pads=[1, 1, 1, 1])
conv("conv_grouped_g2_1x1", cin=8, cout=4, group=2, k=(1, 1))

# BatchNormalization on its own (no conv to fold into)
for eps in (1e-5, 1e-3):
    c = 4
    one(f"batchnorm_eps{eps:g}", "BatchNormalization", ["input", "g", "b", "m", "v"],
        [t("g", w(c)), t("b", w(c)), t("m", w(c)), t("v", np.abs(w(c)) + 0.5)], epsilon=eps)

# Activations
one("relu", "Relu")
one("sigmoid", "Sigmoid")
one("tanh", "Tanh")
one("hardsigmoid", "HardSigmoid")
one("hardsigmoid_a03_b06", "HardSigmoid", alpha=0.3, beta=0.6)
one("hardswish", "HardSwish", opset=14)
one("leakyrelu", "LeakyRelu")
one("leakyrelu_a02", "LeakyRelu", alpha=0.2)
one("prelu_channel", "PRelu", ["input", "s"], [t("s", w(4, 1, 1))])
one("prelu_scalar", "PRelu", ["input", "s"], [t("s", np.array([0.25], np.float32))])
one("clip_0_6", "Clip", ["input", "lo", "hi"], [t("lo", np.float32(0)), t("hi", np.float32(6))])
one("clip_m1_1", "Clip", ["input", "lo", "hi"], [t("lo", np.float32(-1)), t("hi", np.float32(1))])
one("clip_attr_opset6", "Clip", opset=6, min=-0.5, max=0.5)
case("swish", [n("Sigmoid", ["input"], ["s"]), n("Mul", ["input", "s"])], op="Mul")
case("hardswish_pattern", [n("HardSigmoid", ["input"], ["h"], alpha=1 / 6, beta=0.5),
                           n("Mul", ["input", "h"])], op="Mul")

# Binary ops
case("add_two_branches", [n("Relu", ["input"], ["a"]), n("Sigmoid", ["input"], ["b"]),
                          n("Add", ["a", "b"])], op="Add")
case("mul_two_branches", [n("Tanh", ["input"], ["a"]), n("Sigmoid", ["input"], ["b"]),
                          n("Mul", ["a", "b"])], op="Mul")
one("add_channel_const", "Add", ["input", "k"], [t("k", w(4, 1, 1))])
one("mul_channel_const", "Mul", ["input", "k"], [t("k", w(4, 1, 1))])
one("add_scalar", "Add", ["input", "k"], [t("k", np.array([0.75], np.float32))])
one("mul_scalar", "Mul", ["input", "k"], [t("k", np.array([1.5], np.float32))])

# Pools
one("maxpool_2x2_s2", "MaxPool", kernel_shape=[2, 2], strides=[2, 2])
one("maxpool_3x3_s2_p1", "MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
one("maxpool_3x3_s1_p1", "MaxPool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
one("maxpool_same_upper", "MaxPool", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
one("maxpool_ceil", "MaxPool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
one("maxpool_ceil_3x3_p1", "MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
one("avgpool_ceil_3x3", "AveragePool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
one("maxpool_dilation2", "MaxPool", kernel_shape=[2, 2], dilations=[2, 2])
one("avgpool_2x2_s2", "AveragePool", kernel_shape=[2, 2], strides=[2, 2])
one("avgpool_3x3_s1_p1", "AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
one("avgpool_3x3_p1_incl", "AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
    count_include_pad=1)
one("avgpool_valid_3x3", "AveragePool", kernel_shape=[3, 3], strides=[2, 2])
one("global_avgpool", "GlobalAveragePool")
one("reducemean_hw_keep", "ReduceMean", axes=[2, 3], keepdims=1)
one("reducemean_hw_squeeze", "ReduceMean", axes=[2, 3], keepdims=0)
one("reducemean_hw_opset18", "ReduceMean", ["input", "axes"], [t("axes", np.array([-2, -1]))],
    opset=18)
one("reducemean_channels", "ReduceMean", axes=[1], keepdims=1)

# Softmax on class scores and elsewhere
case("softmax_scores", [n("GlobalAveragePool", ["input"], ["g"]), n("Flatten", ["g"], ["f"]),
                        n("Softmax", ["f"])], op="Softmax")
case("softmax_opset11_axis1", [n("GlobalAveragePool", ["input"], ["g"]), n("Softmax", ["g"], axis=1)],
     opset=11, op="Softmax")
one("softmax_channels_spatial", "Softmax", axis=1)
one("softmax_last_axis", "Softmax")

# Pad
one("pad_spatial", "Pad", ["input", "p"], [t("p", np.array([0, 0, 1, 2, 0, 0, 2, 1]))])
one("pad_channels", "Pad", ["input", "p"], [t("p", np.array([0, 1, 0, 0, 0, 2, 0, 0]))])
one("pad_opset2", "Pad", opset=2, pads=[0, 0, 1, 1, 0, 0, 1, 1])
one("pad_reflect", "Pad", ["input", "p"], [t("p", np.array([0, 0, 1, 1, 0, 0, 1, 1]))], mode="reflect")
one("pad_edge", "Pad", ["input", "p"], [t("p", np.array([0, 0, 1, 1, 0, 0, 1, 1]))], mode="edge")

# Shapes: concat, flatten, gemm / matmul, depth-to-space, shuffles, resize, transpose conv
case("concat_channels", [n("Relu", ["input"], ["a"]), n("Sigmoid", ["input"], ["b"]),
                         n("Concat", ["a", "b"], axis=1)], op="Concat")
case("flatten_gemm_transb", [n("GlobalAveragePool", ["input"], ["g"]), n("Flatten", ["g"], ["f"]),
                             n("Gemm", ["f", "wt", "bt"], transB=1)],
     [t("wt", w(5, 4)), t("bt", w(5))], op="Gemm")
case("flatten_gemm_alpha_beta", [n("GlobalAveragePool", ["input"], ["g"]), n("Flatten", ["g"], ["f"]),
                                 n("Gemm", ["f", "wg", "bg"], alpha=0.5, beta=2.0)],
     [t("wg", w(4, 5)), t("bg", w(5))], op="Gemm")
case("flatten_matmul_add", [n("Flatten", ["input"], ["f"]), n("MatMul", ["f", "wm"], ["mm"]),
                            n("Add", ["mm", "bm"])],
     [t("wm", w(4 * 7 * 9, 3, scale=0.05)), t("bm", w(3))], op="MatMul")
one("depth_to_space_dcr", "DepthToSpace", dims=(1, 8, 3, 4), blocksize=2)
one("depth_to_space_crd", "DepthToSpace", dims=(1, 8, 3, 4), blocksize=2, mode="CRD")
case("pixel_shuffle", [n("Reshape", ["input", "s1"], ["r"]), n("Transpose", ["r"], ["tr"], perm=[0, 1, 4, 2, 5, 3]),
                       n("Reshape", ["tr", "s2"])],
     [t("s1", np.array([1, 2, 2, 2, 3, 4])), t("s2", np.array([1, 2, 6, 8]))], dims=(1, 8, 3, 4),
     op="Reshape")
case("channel_shuffle", [n("Reshape", ["input", "s1"], ["r"]), n("Transpose", ["r"], ["tr"], perm=[0, 2, 1, 3, 4]),
                         n("Reshape", ["tr", "s2"])],
     [t("s1", np.array([1, 2, 2, 7, 9])), t("s2", np.array([1, 4, 7, 9]))], op="Reshape")
one("resize_nearest_x2", "Resize", ["input", "", "sc"], [t("sc", np.array([1, 1, 2, 2], np.float32))],
    mode="nearest")
one("resize_bilinear_x2", "Resize", ["input", "", "sc"], [t("sc", np.array([1, 1, 2, 2], np.float32))],
    mode="linear")
one("resize_bilinear_align_corners", "Resize", ["input", "", "", "sz"], [t("sz", np.array([1, 4, 11, 16]))],
    mode="linear", coordinate_transformation_mode="align_corners")
one("resize_bilinear_asymmetric_x3", "Resize", ["input", "", "sc"], [t("sc", np.array([1, 1, 3, 2], np.float32))],
    mode="linear", coordinate_transformation_mode="asymmetric")
one("resize_bilinear_down_sizes", "Resize", ["input", "", "", "sz"], [t("sz", np.array([1, 4, 4, 5]))],
    mode="linear")
one("resize_bilinear_pytorch", "Resize", ["input", "", "", "sz"], [t("sz", np.array([1, 4, 14, 12]))],
    mode="linear", coordinate_transformation_mode="pytorch_half_pixel")
one("resize_bilinear_opset10", "Resize", ["input", "sc"], [t("sc", np.array([1, 1, 2, 2], np.float32))],
    opset=10, mode="linear")
one("conv_transpose_s2", "ConvTranspose", ["input", "w"], [t("w", w(4, 3, 2, 2))], strides=[2, 2])


def main():
    out = os.path.join(sys.argv[1], "onnx_ops")
    os.makedirs(out, exist_ok=True)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    index = []
    for c in CASES:
        x = RNG.standard_normal(c["dims"]).astype(np.float32)
        graph = helper.make_graph(
            c["nodes"], c["name"],
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, c["dims"])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            initializer=c["inits"])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", c["opset"])],
                                  producer_name="zeroskip onnx_ops.py")
        model.ir_version = 8
        data = model.SerializeToString()
        y = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        base = os.path.join(out, c["name"])
        with open(base + ".onnx", "wb") as f:
            f.write(data)
        x.tofile(base + ".in.f32")
        np.asarray(y, np.float32).tofile(base + ".out.f32")
        index.append(dict(name=c["name"], op=c["op"], opset=c["opset"], input=c["dims"],
                          output=list(y.shape)))
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"onnxruntime": ort.__version__, "onnx": onnx.__version__, "cases": index}, f, indent=1)
    print(f"[zoo] onnx_ops: {len(index)} single-op models and onnxruntime {ort.__version__} outputs in {out}")


if __name__ == "__main__":
    main()
