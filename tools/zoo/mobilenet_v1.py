"""TF-slim MobileNetV1 1.0_224 from nudity's frozen graph -> ONNX.

nudity 0.2.3 ships `files/retrained_graph.pb`, made by TF's image-retraining
script: the complete ImageNet MobileNetV1 including its original 1001-class
`MobilenetV1/Logits` layer (class 0 = "background"), then a 2-class
`final_training_ops` head that reads `MobilenetV1/Predictions/Reshape`.  We
convert the dataflow from `input` up to that Reshape (the ImageNet logits)
and ignore the retrained head.

The chain is walked node by node rather than assumed, so a surprise in the
graph fails loudly.  Patterns recognised (all NHWC in TF):
  Conv2D | DepthwiseConv2dNative (padding SAME, weights HWIO / HW C mult)
  Mul(x, bn/mul) + Add(., bn/sub)   unfolded slim BatchNorm, where
       bn/mul = Rsqrt(moving_variance + eps) * gamma,
       bn/sub = beta - moving_mean * bn/mul
  Relu6, AvgPool 7x7 VALID on a 7x7 map (= global average pool),
  Identity (dropout at inference), BiasAdd, Squeeze, Reshape.
"""
from onnx_build import GraphBuilder
from tf_graphdef import Graph

LOGITS = "MobilenetV1/Predictions/Reshape"


def _consumers(graph):
    users = {}
    for n in graph.nodes.values():
        for ref in n.inputs:
            users.setdefault(ref.lstrip("^").split(":")[0], []).append(n)
    return users


def _bn_params(graph, mul_node, add_node):
    """Recover (gamma, beta, mean, var, eps) from slim's unfolded BN ops."""
    scale = graph.node(mul_node.inputs[1])           # bn/mul
    rsqrt, gamma_ref = scale.inputs
    if graph.node(rsqrt).op != "Rsqrt":
        rsqrt, gamma_ref = gamma_ref, rsqrt
    var_add = graph.node(graph.node(rsqrt).inputs[0])  # bn/add = var + eps
    var_ref, eps_ref = sorted(var_add.inputs, key=lambda r: graph.const(r).size, reverse=True)
    shift = graph.node(add_node.inputs[1])           # bn/sub
    assert shift.op == "Sub", shift.op
    beta_ref, mean_mul = shift.inputs
    mean_ref = [r for r in graph.node(mean_mul).inputs if graph.node(r).op != "Mul"][0]
    return (graph.const(gamma_ref), graph.const(beta_ref), graph.const(mean_ref),
            graph.const(var_ref), float(graph.const(eps_ref)))


def build(pb_path):
    graph = Graph.load(pb_path)
    users = _consumers(graph)
    g = GraphBuilder("mobilenet_v1")
    cur_tf, cur = "input", "input"   # current TF node name / ONNX tensor name

    def next_node(name):
        nxt = users.get(name, [])
        if len(nxt) != 1:
            raise ValueError(f"{name}: expected one consumer, got {[n.name for n in nxt]}")
        return nxt[0]

    while cur_tf != LOGITS:
        node = next_node(cur_tf)
        op = node.op
        layer = node.name.split("/")[-2]   # e.g. Conv2d_3_depthwise, Conv2d_1c_1x1
        if op in ("Conv2D", "DepthwiseConv2dNative"):
            assert node.attr["data_format"] == "NHWC" and node.attr["padding"] == "SAME"
            stride = node.attr["strides"][1]
            w = graph.const(node.inputs[1])
            bias = None
            if next_node(node.name).op == "BiasAdd":   # only the logits conv has one
                node = next_node(node.name)
                bias = graph.const(node.inputs[1])
            if g.shapes[cur][1:] == (1, 1):
                # The logits 1x1 conv on the pooled 1x1 map is a fully connected
                # layer; emit it as Flatten + Gemm like the other zoo models.
                assert op == "Conv2D" and w.shape[:2] == (1, 1) and bias is not None
                cur = g.gemm(g.flatten(cur), w[0, 0].T, bias, name=layer, output="logits")
            elif op == "Conv2D":           # HWIO -> OIHW
                cur = g.conv(cur, w.transpose(3, 2, 0, 1), bias, stride, "tf_same", name=layer)
            else:                          # H W C M -> (C*M) 1 H W
                kh, kw, c, m = w.shape
                w = w.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
                cur = g.conv(cur, w, bias, stride, "tf_same", name=layer)
        elif op == "Mul":                  # BN: Mul then Add
            add = next_node(node.name)
            assert add.op == "Add", add.op
            gamma, beta, mean, var, eps = _bn_params(graph, node, add)
            cur = g.batchnorm(cur, gamma, beta, mean, var, eps,
                              name=node.name.split("/")[-4] + "_bn")
            node = add
        elif op == "Relu6":
            cur = g.relu6(cur, name=f"{layer}_relu6")
        elif op == "AvgPool":
            _, h, w_ = g.shapes[cur]
            assert node.attr["padding"] == "VALID" and node.attr["ksize"][1:3] == [h, w_], \
                "only a global average pool is expected"
            cur = g.global_avg_pool(cur)
        elif op in ("Identity", "Squeeze", "Reshape"):
            # Dropout_1b/Identity (inference), SpatialSqueeze and
            # Predictions/Reshape to [-1, 1001]: already [1, 1001] after Gemm.
            pass
        else:
            raise ValueError(f"unsupported op {op} at {node.name}")
        cur_tf = node.name

    assert cur == "logits" and g.shapes[cur] == (1001,), (cur, g.shapes[cur])
    return g.model(doc="TF-slim MobileNetV1 1.0_224 ImageNet (1001 classes, 0 = background), "
                       "from nudity 0.2.3 retrained_graph.pb; BN unfolded")
