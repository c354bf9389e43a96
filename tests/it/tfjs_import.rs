//! TF.js graph-model import on small in-memory models: NHWC → CHW layout handling checked
//! against a naive NHWC computation written here, weight decoding (float16, uint8/uint16
//! affine), constant folding, and a typed error (never a panic) for each kind of bad input.

use crate::common;
use serde_json::{json, Value};
use zeroskip::graph::{reference, Plan, PlanOptions, Session};
use zeroskip::import::tfjs::{load, shard_paths, TfjsModel};
use zeroskip::Error;

/// Builds a model.json plus one shard from nodes and named float32/int32 weights.
struct Builder {
    nodes: Vec<Value>,
    weights: Vec<Value>,
    shard: Vec<u8>,
}

impl Builder {
    fn new(input: &[i64]) -> Builder {
        let dims: Vec<Value> = input
            .iter()
            .map(|d| json!({"size": d.to_string()}))
            .collect();
        Builder {
            nodes: vec![json!({"name": "x", "op": "Placeholder",
                "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": dims}}}})],
            weights: Vec::new(),
            shard: Vec::new(),
        }
    }
    fn f32(&mut self, name: &str, shape: &[usize], v: &[f32]) -> &mut Self {
        assert_eq!(shape.iter().product::<usize>(), v.len());
        self.weights
            .push(json!({"name": name, "shape": shape, "dtype": "float32"}));
        v.iter()
            .for_each(|x| self.shard.extend_from_slice(&x.to_le_bytes()));
        self.konst(name)
    }
    fn i32(&mut self, name: &str, v: &[i32]) -> &mut Self {
        self.weights
            .push(json!({"name": name, "shape": [v.len()], "dtype": "int32"}));
        v.iter()
            .for_each(|x| self.shard.extend_from_slice(&x.to_le_bytes()));
        self.konst(name)
    }
    fn scalar(&mut self, name: &str, v: i32) -> &mut Self {
        self.weights
            .push(json!({"name": name, "shape": [], "dtype": "int32"}));
        self.shard.extend_from_slice(&v.to_le_bytes());
        self.konst(name)
    }
    fn konst(&mut self, name: &str) -> &mut Self {
        self.nodes
            .push(json!({"name": name, "op": "Const", "attr": {}}));
        self
    }
    fn node(&mut self, name: &str, op: &str, inputs: &[&str], attr: Value) -> &mut Self {
        self.nodes
            .push(json!({"name": name, "op": op, "input": inputs, "attr": attr}));
        self
    }
    fn json(&self, outputs: &[&str]) -> Vec<u8> {
        let outs: serde_json::Map<String, Value> = outputs
            .iter()
            .map(|o| (o.to_string(), json!({"name": format!("{o}:0")})))
            .collect();
        serde_json::to_vec(&json!({
            "format": "graph-model",
            "modelTopology": {"node": self.nodes},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": self.weights}],
            "signature": {"outputs": outs},
        }))
        .unwrap()
    }
    fn load(&self, outputs: &[&str]) -> zeroskip::Result<TfjsModel> {
        load("test.json", &self.json(outputs), &[&self.shard])
    }
}

/// A string attribute: `{"s": base64(v)}`.
fn s(v: &str) -> Value {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = v.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    json!({ "s": out })
}

fn ints(v: &[i64]) -> Value {
    json!({"list": {"i": v.iter().map(|x| x.to_string()).collect::<Vec<_>>()}})
}

/// The planned executor and the reference interpreter, both on `x` (NHWC).
fn run(m: &TfjsModel, x: &[f32]) -> Vec<f32> {
    let want = reference::run(&m.graph, x).unwrap();
    let plan = Plan::new(&m.graph, PlanOptions::default()).unwrap();
    let got = Session::new(plan).run(x).unwrap().to_vec();
    for (a, b) in got.iter().zip(&want) {
        assert!(
            // measured 0 natively, 6e-8 SIMD128, 1.9e-7 · (1 + |ref|) relaxed
            (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
            "plan {a} vs reference {b}"
        );
    }
    got
}

fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol, "[{i}] {a} vs {b}");
    }
}

/// `x [1,H,W,Ci] * f [kh,kw,Ci,Co]`, stride s, SAME or VALID, + bias: TF's conv in NHWC.
#[allow(clippy::too_many_arguments)]
fn conv_nhwc(
    x: &[f32],
    (h, w, ci): (usize, usize, usize),
    f: &[f32],
    (kh, kw, co): (usize, usize, usize),
    s: usize,
    same: bool,
    bias: &[f32],
) -> (Vec<f32>, usize, usize) {
    let (oh, ow) = if same {
        (h.div_ceil(s), w.div_ceil(s))
    } else {
        ((h - kh) / s + 1, (w - kw) / s + 1)
    };
    let pt = if same {
        (((oh - 1) * s + kh).saturating_sub(h)) / 2
    } else {
        0
    };
    let pl = if same {
        (((ow - 1) * s + kw).saturating_sub(w)) / 2
    } else {
        0
    };
    let mut y = vec![0.0; oh * ow * co];
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..co {
                let mut acc = bias[o];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * s + ky) as isize - pt as isize;
                        let ix = (ox * s + kx) as isize - pl as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        for i in 0..ci {
                            acc += x[(iy as usize * w + ix as usize) * ci + i]
                                * f[((ky * kw + kx) * ci + i) * co + o];
                        }
                    }
                }
                y[(oy * ow + ox) * co + o] = acc;
            }
        }
    }
    (y, oh, ow)
}

tests! {
    fn conv_bias_relu6_flatten_matches_nhwc_reference() {
        // Pad → Conv2D 3x3 s2 VALID (= SAME by hand) → BiasAdd → Relu6 → Reshape to [1, N]
        // (flattening pixels and channels: the layout-sensitive case) → output.
        let (h, w, ci, co) = (6, 4, 3, 4);
        let x = common::onnx::values(h * w * ci, 1);
        let f = common::onnx::values(9 * ci * co, 2);
        let b = common::onnx::values(co, 3);
        let mut m = Builder::new(&[1, h as i64, w as i64, ci as i64]);
        m.i32("pads", &[0, 0, 0, 1, 0, 1, 0, 0])
            .node("pad", "Pad", &["x", "pads"], json!({}))
            .f32("f", &[3, 3, ci, co], &f)
            .node("conv", "Conv2D", &["pad", "f"], json!({"strides": ints(&[1, 2, 2, 1]),
                "padding": s("VALID"), "data_format": s("NHWC")}))
            .f32("b", &[co], &b)
            .node("bias", "BiasAdd", &["conv", "b"], json!({}))
            .node("act", "Relu6", &["bias"], json!({}))
            .i32("shape", &[1, -1])
            .node("flat", "Reshape", &["act", "shape"], json!({}));
        let model = m.load(&["flat"]).unwrap();
        // The pad folded into the conv; the bias into its weights.
        assert!(model.graph.nodes.iter().all(|n| !matches!(n.op, zeroskip::graph::Op::Pad { .. })));
        let (mut want, oh, ow) = conv_nhwc(&x, (h, w, ci), &f, (3, 3, co), 2, true, &b);
        want.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
        assert_eq!(model.outputs[0].tensor.dims, vec![1, oh * ow * co]);
        // measured 4.8e-7 natively and SIMD128, 7.2e-7 relaxed
        close(&run(&model, &x), &want, 3e-6);
    }

    fn depthwise_fused_conv_mean_matmul_softmax() {
        // FusedDepthwiseConv2dNative (BiasAdd, Relu) SAME → _FusedConv2D 1x1 (BiasAdd, Relu6)
        // → Mean keep_dims → Squeeze → _FusedMatMul (BiasAdd) → Softmax.
        let (h, w, c, co, k) = (4, 4, 3, 5, 2);
        let x = common::onnx::values(h * w * c, 4);
        let fd = common::onnx::values(9 * c, 5);
        let bd = common::onnx::values(c, 6);
        let fp = common::onnx::values(c * co, 7);
        let bp = common::onnx::values(co, 8);
        let wm = common::onnx::values(co * k, 9);
        let bm = common::onnx::values(k, 10);
        let mut m = Builder::new(&[-1, h as i64, w as i64, c as i64]);
        m.f32("fd", &[3, 3, c, 1], &fd)
            .f32("bd", &[c], &bd)
            .node("dw", "FusedDepthwiseConv2dNative", &["x", "fd", "bd"], json!({
                "strides": ints(&[1, 1, 1, 1]), "padding": s("SAME"),
                "fused_ops": {"list": {"s": [s("BiasAdd")["s"], s("Relu")["s"]]}},
                "num_args": {"i": "1"}}))
            .f32("fp", &[1, 1, c, co], &fp)
            .f32("bp", &[co], &bp)
            .node("pw", "_FusedConv2D", &["dw", "fp", "bp"], json!({
                "strides": ints(&[1, 1, 1, 1]), "padding": s("VALID"),
                "fused_ops": {"list": {"s": [s("BiasAdd")["s"], s("Relu6")["s"]]}},
                "num_args": {"i": "1"}}))
            .i32("axes", &[1, 2])
            .node("mean", "Mean", &["pw", "axes"], json!({"keep_dims": {"b": true}}))
            .node("sq", "Squeeze", &["mean"], json!({"squeeze_dims": ints(&[1, 2])}))
            .f32("wm", &[co, k], &wm)
            .f32("bm", &[k], &bm)
            .node("fc", "_FusedMatMul", &["sq", "wm", "bm"], json!({
                "fused_ops": {"list": {"s": [s("BiasAdd")["s"]]}}, "num_args": {"i": "1"}}))
            .node("prob", "Softmax", &["fc"], json!({}));
        let model = m.load(&["prob", "pw"]).unwrap();
        // Independent NHWC computation.
        let mut fdw = vec![0.0; 9 * c * c];
        for t in 0..9 {
            for i in 0..c {
                fdw[(t * c + i) * c + i] = fd[t * c + i];
            }
        }
        let (mut y, _, _) = conv_nhwc(&x, (h, w, c), &fdw, (3, 3, c), 1, true, &bd);
        y.iter_mut().for_each(|v| *v = v.max(0.0));
        let (mut p, _, _) = conv_nhwc(&y, (h, w, c), &fp, (1, 1, co), 1, false, &bp);
        p.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
        let mean: Vec<f32> = (0..co)
            .map(|o| (0..h * w).map(|q| p[q * co + o]).sum::<f32>() / (h * w) as f32)
            .collect();
        let logits: Vec<f32> = (0..k)
            .map(|j| bm[j] + (0..co).map(|o| mean[o] * wm[o * k + j]).sum::<f32>())
            .collect();
        let mx = logits.iter().cloned().fold(f32::MIN, f32::max);
        let e: Vec<f32> = logits.iter().map(|v| (v - mx).exp()).collect();
        let prob: Vec<f32> = e.iter().map(|v| v / e.iter().sum::<f32>()).collect();
        // Outputs come sorted by name.
        let names: Vec<&str> = model.outputs.iter().map(|o| o.tensor.name.as_str()).collect();
        assert_eq!(names, ["prob:0", "pw:0"]);
        let got = run(&model, &x);
        // measured 0 natively, 6.0e-8 as wasm32
        close(&got[..k], &prob, 3e-7);
        assert_eq!(model.outputs[1].tensor.dims, vec![1, h, w, co]);
        // measured 0 natively and SIMD128, 2.4e-7 relaxed
        close(&got[k..], &p, 1e-6);
    }

    fn concat_slice_and_constant_folding() {
        // Shape → StridedSlice → Pack folds to the constant [1, -1, 2]; ConcatV2 on channels;
        // StridedSlice of channels; Reshape by the folded shape.
        let (h, w) = (2, 3);
        let x = common::onnx::values(h * w * 2, 11);
        let mut m = Builder::new(&[1, h as i64, w as i64, 2]);
        m.node("neg", "Relu", &["x"], json!({}))
            .i32("axis", &[3])
            .node("cat", "ConcatV2", &["x", "neg", "axis"], json!({"N": {"i": "2"}}))
            .i32("b", &[0, 0, 0, 1]).i32("e", &[1, 2, 3, 3]).i32("st", &[1, 1, 1, 1])
            .node("sl", "StridedSlice", &["cat", "b", "e", "st"], json!({}))
            .node("shape", "Shape", &["sl"], json!({}))
            .i32("b0", &[0]).i32("e0", &[1]).i32("s0", &[1])
            .node("batch", "StridedSlice", &["shape", "b0", "e0", "s0"],
                json!({"shrink_axis_mask": {"i": "1"}}))
            .scalar("m1", -1)
            .scalar("two", 2)
            .node("newshape", "Pack", &["batch", "m1", "two"], json!({"axis": {"i": "0"}}))
            .node("r", "Reshape", &["sl", "newshape"], json!({}));
        let model = m.load(&["r"]).unwrap();
        assert_eq!(model.outputs[0].tensor.dims, vec![1, 6, 2]);
        // cat = [x0, x1, relu(x0), relu(x1)] per pixel; channels 1..3 = [x1, relu(x0)].
        let want: Vec<f32> = (0..h * w)
            .flat_map(|p| [x[p * 2 + 1], x[p * 2].max(0.0)])
            .collect();
        close(&run(&model, &x), &want, 0.0);
    }

    fn pools_activations_and_elementwise_ops() {
        // MaxPool 3x3 s2 SAME → AvgPool 2x2 s1 SAME (TF excludes padding from the mean) →
        // Tanh → LeakyRelu(0.1); then Sub of a constant, and Mul/Sub of two activations.
        let (h, w, c) = (5, 6, 2);
        let x = common::onnx::values(h * w * c, 12);
        let k = [0.25f32, -0.5];
        let mut m = Builder::new(&[1, h as i64, w as i64, c as i64]);
        m.node("mp", "MaxPool", &["x"], json!({"ksize": ints(&[1, 3, 3, 1]),
                "strides": ints(&[1, 2, 2, 1]), "padding": s("SAME")}))
            .node("ap", "AvgPool", &["mp"], json!({"ksize": ints(&[1, 2, 2, 1]),
                "strides": ints(&[1, 1, 1, 1]), "padding": s("SAME")}))
            .node("t", "Tanh", &["ap"], json!({}))
            .node("lr", "LeakyRelu", &["t"], json!({"alpha": {"f": 0.1}}))
            .f32("k", &[c], &k)
            .node("sub", "Sub", &["lr", "k"], json!({}))
            .node("mul", "Mul", &["sub", "lr"], json!({}))
            .node("out", "Sub", &["mul", "t"], json!({}));
        let model = m.load(&["out"]).unwrap();
        // NHWC by hand.
        let pool = |x: &[f32], h: usize, w: usize, kk: usize, st: usize, max: bool| {
            let (oh, ow) = (h.div_ceil(st), w.div_ceil(st));
            let pt = (((oh - 1) * st + kk).saturating_sub(h)) / 2;
            let pl = (((ow - 1) * st + kk).saturating_sub(w)) / 2;
            let mut y = vec![0.0; oh * ow * c];
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        let mut vals = Vec::new();
                        for ky in 0..kk {
                            for kx in 0..kk {
                                let iy = (oy * st + ky) as isize - pt as isize;
                                let ix = (ox * st + kx) as isize - pl as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    vals.push(x[(iy as usize * w + ix as usize) * c + ch]);
                                }
                            }
                        }
                        y[(oy * ow + ox) * c + ch] = if max {
                            vals.iter().cloned().fold(f32::MIN, f32::max)
                        } else {
                            vals.iter().sum::<f32>() / vals.len() as f32
                        };
                    }
                }
            }
            (y, oh, ow)
        };
        let (mp, oh, ow) = pool(&x, h, w, 3, 2, true);
        let (ap, _, _) = pool(&mp, oh, ow, 2, 1, false);
        let want: Vec<f32> = ap
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let t = v.tanh();
                let lr = if t >= 0.0 { t } else { 0.1 * t };
                (lr - k[i % c]) * lr - t
            })
            .collect();
        assert_eq!(model.outputs[0].tensor.dims, vec![1, oh, ow, c]);
        // measured exact on every build
        close(&run(&model, &x), &want, 0.0);
    }

    fn quantized_weights_decode() {
        // One 1x1 conv whose filter is stored as uint8 affine, uint16 affine and float16.
        for (q, bytes) in [
            (json!({"dtype": "uint8", "scale": 0.5, "min": -1.0}), vec![0u8, 2, 4, 6]),
            (json!({"dtype": "uint16", "scale": 0.5, "min": -1.0}), vec![0, 0, 2, 0, 4, 0, 6, 0]),
            // f16 bits of -1, 0, 1, 2
            (json!({"dtype": "float16"}), vec![0x00, 0xbc, 0, 0, 0x00, 0x3c, 0x00, 0x40]),
        ] {
            let mut m = Builder::new(&[1, 1, 1, 2]);
            m.weights.push(json!({"name": "f", "shape": [1, 1, 2, 2], "dtype": "float32",
                "quantization": q}));
            m.shard.extend_from_slice(&bytes);
            m.konst("f").node("c", "Conv2D", &["x", "f"], json!({"padding": s("VALID")}));
            let model = m.load(&["c"]).unwrap();
            // filter [i][o] = [[-1, 0], [1, 2]]: y0 = -x0 + x1, y1 = 2·x1.
            close(&run(&model, &[3.0, 5.0]), &[2.0, 10.0], 0.0);
        }
    }

    fn shard_paths_in_manifest_order() {
        let m = Builder::new(&[1, 1, 1, 1]);
        assert_eq!(shard_paths("t", &m.json(&["x"])).unwrap(), vec!["group1-shard1of1.bin"]);
    }

    fn manifest_byte_count_must_match_the_shards() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.f32("f", &[1, 1, 2, 2], &[1.0; 4])
            .node("c", "Conv2D", &["x", "f"], json!({"padding": s("VALID")}));
        let json = m.json(&["c"]);
        for shard in [&m.shard[..12], &[m.shard.clone(), vec![0; 4]].concat()[..]] {
            match load("t.json", &json, &[shard]) {
                Err(Error::BadModel { detail, .. }) => {
                    assert!(detail.contains("bytes"), "{detail}")
                }
                other => panic!("expected BadModel, got {other:?}"),
            }
        }
    }

    fn missing_shard_is_named() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.f32("f", &[1, 1, 2, 2], &[1.0; 4])
            .node("c", "Conv2D", &["x", "f"], json!({"padding": s("VALID")}));
        match load("t.json", &m.json(&["c"]), &[]) {
            Err(Error::BadModel { detail, .. }) => {
                assert!(detail.contains("group1-shard1of1.bin"), "{detail}")
            }
            other => panic!("expected BadModel, got {other:?}"),
        }
    }

    fn unknown_dtype_is_a_typed_error() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.weights.push(json!({"name": "f", "shape": [2], "dtype": "float64"}));
        m.shard.extend_from_slice(&[0; 16]);
        m.konst("f");
        match m.load(&["x"]) {
            Err(Error::BadTensor { tensor, detail, .. }) => {
                assert_eq!(tensor, "f");
                assert!(detail.contains("float64"), "{detail}");
            }
            other => panic!("expected BadTensor, got {other:?}"),
        }
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.weights.push(json!({"name": "f", "shape": [2], "dtype": "float32",
            "quantization": {"dtype": "int4"}}));
        m.konst("f");
        assert!(matches!(m.load(&["x"]), Err(Error::BadTensor { .. })));
    }

    fn absurd_shapes_are_refused_before_allocating() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.weights.push(json!({"name": "f", "shape": [1u64 << 31, 1u64 << 31], "dtype": "float32"}));
        m.konst("f");
        assert!(matches!(m.load(&["x"]), Err(Error::TooLarge { .. })));
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.weights.push(json!({"name": "f", "shape": [1 << 20], "dtype": "float32"}));
        m.konst("f");
        assert!(matches!(m.load(&["x"]), Err(Error::BadModel { .. })));
        // A huge input.
        let m = Builder::new(&[1, 1 << 20, 1 << 20, 3]);
        assert!(m.load(&["x"]).is_err());
    }

    fn missing_input_is_named() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.node("r", "Relu", &["nope"], json!({}));
        match m.load(&["r"]) {
            Err(Error::BadNode { node, detail, .. }) => {
                assert_eq!(node, "r");
                assert!(detail.contains("nope"), "{detail}");
            }
            other => panic!("expected BadNode, got {other:?}"),
        }
    }

    fn unsupported_op_is_named() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.node("e", "Erf", &["x"], json!({}));
        match m.load(&["e"]) {
            Err(Error::UnsupportedOp { op, node, .. }) => {
                assert_eq!((op.as_str(), node.as_str()), ("Erf", "e"))
            }
            other => panic!("expected UnsupportedOp, got {other:?}"),
        }
    }

    fn cycles_and_garbage_are_errors() {
        let mut m = Builder::new(&[1, 1, 1, 2]);
        m.node("a", "Relu", &["b"], json!({})).node("b", "Relu", &["a"], json!({}));
        assert!(matches!(m.load(&["a"]), Err(Error::BadNode { .. })));
        assert!(matches!(load("t", b"{\"modelTopology\":", &[]), Err(Error::BadModel { .. })));
        assert!(matches!(load("t", b"\x00\xff", &[]), Err(Error::BadModel { .. })));
        let m = Builder::new(&[1, 1, 1, 2]);
        assert!(matches!(m.load(&["nothing"]), Err(Error::BadModel { .. })));
    }
}
