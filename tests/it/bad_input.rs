//! Bad inputs the README's bad-input table lists that no other test reaches on purpose: each
//! file is built to trip one check, and the test asserts the typed error and the part of its
//! message that names the file, tensor or node and what was expected. GGUF (a non-llama
//! architecture, missing `llama.*` keys, a RoPE base ≤ 0), ONNX (two image inputs, no output, a
//! non-default domain, a uint8/bfloat16 initializer, sparse initializers over the densify budget
//! together, a value written twice, MaxPool with ceil_mode), TF.js (a layers model, too many
//! nodes, a constant output, affine quantization without scale/min, a second Placeholder), the
//! CNN `.zsk` (fields planted at their offsets), the sparse LLM `.zsk` (a matrix of the wrong
//! shape, bytes after a matrix), and, in wasm32, the façade without `performance.now`.

use crate::common;
use common::onnx::*;
use serde_json::{json, Value as Json};
use zeroskip::graph::Op;
use zeroskip::import::gguf::{GgmlType, Gguf};
use zeroskip::import::onnx::proto::build::value_info;
use zeroskip::import::onnx::proto::{SparseTensorProto, TensorProto};
use zeroskip::import::{onnx, tfjs};
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::llama::Llama;
use zeroskip::llm::synth::{llama_gguf, llama_tensors, tiny_config, GgufWriter};
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::zsk::Precision;
use zeroskip::{zsk, Error, Result};

/// The error of `r`, which must have failed.
fn err<T>(r: Result<T>, what: &str) -> Error {
    match r {
        Ok(_) => panic!("{what}: loaded, expected an error"),
        Err(e) => e,
    }
}

fn has(e: &Error, part: &str) {
    assert!(
        e.to_string().contains(part),
        "{e}\n  should contain: {part}"
    );
}

// ---- GGUF ---------------------------------------------------------------------------------------

/// The `llama.*` keys `llama_gguf` writes, as a header only: `general.architecture` = `arch`,
/// `skip` left out, `llama.rope.freq_base` = `rope`.
fn llama_header(arch: &str, skip: &str, rope: f32) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.str("general.architecture", arch);
    let u32s = [
        ("llama.block_count", 2),
        ("llama.context_length", 64),
        ("llama.embedding_length", 32),
        ("llama.feed_forward_length", 64),
        ("llama.attention.head_count", 4),
        ("llama.attention.head_count_kv", 2),
        ("llama.vocab_size", 40),
    ];
    for (k, v) in u32s.into_iter().filter(|(k, _)| *k != skip) {
        w.u32(k, v);
    }
    if skip != "llama.attention.layer_norm_rms_epsilon" {
        w.f32("llama.attention.layer_norm_rms_epsilon", 1e-5);
    }
    w.f32("llama.rope.freq_base", rope);
    w.finish()
}

// ---- ONNX ---------------------------------------------------------------------------------------

/// `input [1, 3, 4, 4]` → Relu → `out`, with `edit` applied to the model.
fn relu_model(edit: impl FnOnce(&mut onnx::proto::ModelProto)) -> Vec<u8> {
    let mut m = model(
        vec![node("Relu", "r", &["input"], &["out"], vec![])],
        vec![],
        &[1, 3, 4, 4],
        "out",
    );
    edit(&mut m);
    bytes(&m)
}

fn graph(m: &mut onnx::proto::ModelProto) -> &mut onnx::proto::GraphProto {
    m.graph.as_mut().unwrap()
}

// ---- TF.js --------------------------------------------------------------------------------------

fn placeholder(name: &str) -> Json {
    json!({"name": name, "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
        "shape": {"shape": {"dim": [{"size": "1"}, {"size": "2"}, {"size": "2"}, {"size": "1"}]}}}})
}

/// A model.json of `nodes`, `weights` (a manifest over one shard) and the signature's `outputs`.
fn tfjs_json(format: &str, nodes: Vec<Json>, weights: Json, outputs: &[&str]) -> Vec<u8> {
    let outs: serde_json::Map<String, Json> = outputs
        .iter()
        .map(|o| (o.to_string(), json!({"name": format!("{o}:0")})))
        .collect();
    serde_json::to_vec(&json!({
        "format": format,
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}],
        "signature": {"outputs": outs},
    }))
    .unwrap()
}

fn relu_of(x: &str) -> Json {
    json!({"name": "r", "op": "Relu", "input": [x], "attr": {}})
}

// ---- .zsk CNN -----------------------------------------------------------------------------------

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Offsets in a CNN `.zsk` (docs/zsk.md): the first value's shape, and each node's op tag.
fn zsk_layout(b: &[u8], g: &zeroskip::graph::Graph) -> (usize, Vec<usize>) {
    let values_at = 20 + u32_at(b, 16);
    let first_shape = values_at + 4 + 4 + u32_at(b, values_at + 4);
    // The node records follow the values; each node's name is unique, so it is found by its
    // encoded bytes (length, then UTF-8) after the value table.
    let mut at = values_at + 4;
    for _ in 0..g.values.len() {
        at += 4 + u32_at(b, at) + 12;
    }
    let nodes_at = at + 12;
    let tags = g
        .nodes
        .iter()
        .map(|n| {
            let mut key = (n.name.len() as u32).to_le_bytes().to_vec();
            key.extend_from_slice(n.name.as_bytes());
            let p = nodes_at
                + b[nodes_at..]
                    .windows(key.len())
                    .position(|w| w == key)
                    .unwrap();
            let n_in = u32_at(b, p + key.len());
            p + key.len() + 4 + 4 * n_in + 4
        })
        .collect();
    (first_shape, tags)
}

tests! {
    fn gguf_that_is_not_llama_is_unsupported() {
        let e = err(Llama::load("t.gguf", llama_header("gpt2", "", 1e4)), "gpt2");
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        has(&e, "t.gguf: general.architecture: unsupported value gpt2, expected one of llama");
    }

    fn gguf_missing_llama_hyper_parameters_names_the_key() {
        for key in [
            "llama.block_count",
            "llama.context_length",
            "llama.embedding_length",
            "llama.feed_forward_length",
            "llama.attention.head_count",
            "llama.attention.layer_norm_rms_epsilon",
        ] {
            let e = err(Llama::load("t.gguf", llama_header("llama", key, 1e4)), key);
            assert!(matches!(e, Error::BadModel { .. }), "{key}: {e}");
            has(&e, &format!("t.gguf: not a valid GGUF model: metadata key '{key}' is missing"));
        }
    }

    fn gguf_rope_base_not_positive_is_refused() {
        for rope in [0.0, -1.0, f32::NAN] {
            let e = err(Llama::load("t.gguf", llama_header("llama", "", rope)), "rope");
            assert!(matches!(e, Error::BadModel { .. }), "{rope}: {e}");
            has(&e, &format!("t.gguf: not a valid GGUF llama model: rms epsilon 0.00001 or RoPE base {rope} is not a positive finite number"));
        }
    }

    fn onnx_two_image_inputs_are_refused() {
        let b = relu_model(|m| graph(m).input.push(value_info("second", &[1, 3, 4, 4])));
        let e = err(onnx::load("two.onnx", &b), "two inputs");
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        has(&e, r#"two.onnx: not a valid ONNX model: expected exactly one image input, found ["input", "second"]"#);
    }

    fn onnx_graph_without_output_is_refused() {
        let b = relu_model(|m| graph(m).output.clear());
        let e = err(onnx::load("noout.onnx", &b), "no output");
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        has(&e, "noout.onnx: not a valid ONNX model: the graph declares no output");
    }

    fn onnx_op_of_another_domain_names_node_and_domain() {
        let b = relu_model(|m| {
            let n = &mut graph(m).node[0];
            n.domain = "com.microsoft".into();
            n.op_type = "FusedConv".into();
        });
        let e = err(onnx::load("ms.onnx", &b), "domain");
        assert!(matches!(e, Error::UnsupportedOp { .. }), "{e}");
        has(&e, "ms.onnx: node r: op com.microsoft::FusedConv is not supported (only the default ONNX domain is)");
    }

    fn onnx_initializer_of_unsupported_element_type_names_the_tensor() {
        // ONNX element types 2 = uint8, 16 = bfloat16
        for (ty, n) in [(2, 4), (16, 8)] {
            let b = relu_model(|m| {
                graph(m).initializer.push(TensorProto {
                    name: "w".into(),
                    dims: vec![4],
                    data_type: ty,
                    raw_data: vec![1; n],
                    ..Default::default()
                })
            });
            let e = err(onnx::load("u8.onnx", &b), "element type");
            assert!(matches!(e, Error::BadTensor { .. }), "{ty}: {e}");
            has(&e, &format!("u8.onnx: tensor w: element type {ty} is not supported (float, float16, double, int32, int64 are)"));
        }
    }

    fn onnx_output_written_twice_names_the_second_writer() {
        let b = relu_model(|m| {
            let n = node("Sigmoid", "s", &["input"], &["out"], vec![]);
            graph(m).node.push(n);
        });
        let e = err(onnx::load("twice.onnx", &b), "written twice");
        assert!(matches!(e, Error::BadNode { .. }), "{e}");
        has(&e, "twice.onnx: node s (");
        has(&e, r#"): output "out" is written twice"#);
    }

    fn onnx_sparse_initializers_over_the_densify_budget_together() {
        // 1 element, then exactly MAX_DENSIFIED: each fits the budget alone, not both together,
        // and the second is refused before it is allocated.
        let max = zeroskip::limits::MAX_DENSIFIED;
        let sparse = |name: &str, n: usize| SparseTensorProto {
            values: Some(tensor(name, &[1], &[1.0])),
            indices: Some(tensor_i64(&format!("{name}_idx"), &[0])),
            dims: vec![n as i64],
        };
        let b = relu_model(|m| {
            graph(m).sparse_initializer.extend([sparse("a", 1), sparse("b", max)]);
        });
        let e = err(onnx::load("sp.onnx", &b), "densify budget");
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        has(&e, &format!("sp.onnx: b: densifying dims [{max}] (f32), with {} elements of the sparse initializers' budget left: {} bytes claimed, the limit is {}", max - 1, 4 * max, 4 * max));
        assert_eq!(e.code(), "TooLarge");
    }

    fn onnx_maxpool_dilations_are_unsupported() {
        let b = bytes(&model(
            vec![node(
                "MaxPool",
                "pool",
                &["input"],
                &["out"],
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2]), ints("dilations", &[2, 2])],
            )],
            vec![],
            &[1, 3, 5, 5],
            "out",
        ));
        let e = err(onnx::load("pool.onnx", &b), "dilations");
        assert!(matches!(e, Error::UnsupportedOp { .. }), "{e}");
        has(&e, "pool.onnx: node pool: op MaxPool is not supported with dilations [2, 2]");
    }

    fn onnx_channel_permutations_are_bounded_before_allocating() {
        // a pixel shuffle of 16384 channels would need a 16384² permutation matrix (1 GiB)
        let b = bytes(&model(
            vec![node("DepthToSpace", "d2s", &["input"], &["out"], vec![int("blocksize", 2), string("mode", "CRD")])],
            vec![],
            &[1, 16384, 1, 1],
            "out",
        ));
        let e = err(onnx::load("d2s.onnx", &b), "permutation");
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        has(&e, "d2s.onnx");
    }

    fn tfjs_layers_model_is_refused() {
        let j = tfjs_json("layers-model", vec![placeholder("x"), relu_of("x")], json!([]), &["r"]);
        let e = err(tfjs::load("m.json", &j, &[&[]]), "layers-model");
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        has(&e, r#"m.json: not a valid TF.js graph model: format is "layers-model"; only "graph-model" (tfjs-converter output) is supported"#);
    }

    fn tfjs_too_many_nodes_is_refused_before_sorting() {
        let max = zeroskip::limits::MAX_TFJS_NODES;
        let mut nodes = vec![placeholder("x"), relu_of("x")];
        nodes.extend((nodes.len()..=max).map(|i| json!({"name": format!("n{i}"), "op": "NoOp"})));
        let j = tfjs_json("graph-model", nodes, json!([]), &["r"]);
        let e = err(tfjs::load("m.json", &j, &[&[]]), "nodes");
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        has(&e, &format!("m.json: not a valid TF.js graph model: {} nodes, more than the {max} accepted", max + 1));
    }

    fn tfjs_constant_output_is_refused() {
        let f = json!({"name": "f", "op": "Const", "attr": {}});
        let weights = json!([{"name": "f", "shape": [1], "dtype": "float32"}]);
        let j = tfjs_json("graph-model", vec![placeholder("x"), relu_of("x"), f], weights, &["r", "f"]);
        let e = err(tfjs::load("m.json", &j, &[&1f32.to_le_bytes()]), "constant output");
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        has(&e, "m.json: not a valid TF.js graph model: output f:0 is a constant; only computed outputs are supported");
    }

    fn tfjs_affine_quantization_needs_scale_and_min() {
        for (q, n) in [("uint8", 4), ("uint16", 8)] {
            for quant in [json!({"dtype": q}), json!({"dtype": q, "scale": 0.5}), json!({"dtype": q, "min": -1.0})] {
                let f = json!({"name": "f", "op": "Const", "attr": {}});
                let weights = json!([{"name": "f", "shape": [4], "dtype": "float32", "quantization": quant}]);
                let j = tfjs_json("graph-model", vec![placeholder("x"), relu_of("x"), f], weights, &["r"]);
                let e = err(tfjs::load("m.json", &j, &[&vec![0; n]]), q);
                assert!(matches!(e, Error::BadTensor { .. }), "{quant}: {e}");
                has(&e, &format!("m.json: tensor f: {q} quantization needs both scale and min"));
            }
        }
    }

    fn tfjs_second_placeholder_is_unsupported() {
        let add = json!({"name": "r", "op": "AddV2", "input": ["x", "y"], "attr": {}});
        let j = tfjs_json("graph-model", vec![placeholder("x"), placeholder("y"), add], json!([]), &["r"]);
        let e = err(tfjs::load("m.json", &j, &[&[]]), "second Placeholder");
        assert!(matches!(e, Error::UnsupportedOp { .. }), "{e}");
        has(&e, "m.json: node y: op Placeholder is not supported as a second input (models with one input are supported)");
    }

    fn llm_zsk_sparse_matrix_of_the_wrong_shape_or_with_trailing_bytes() {
        // blk.0.attn_q is 32×32 here; packed as 16×64 (the same 1024 weights) it must be refused,
        // and so must the right shape followed by 4 stray bytes.
        let cfg = tiny_config(2, 32, 4, 2, 40);
        let dense = llama_gguf(&cfg, llama_tensors(&cfg, WeightType::Q8_0, 7));
        let g = Gguf::parse("tiny.gguf", &dense).unwrap();
        let name = "blk.0.attn_q.weight";
        let w = g.tensor(name).unwrap().dequantize().unwrap();
        let csr = SparseFormat::parse("csr8").unwrap();
        let wrong = SparseMatrix::pack(name, csr, &w, 16, 64).unwrap();
        let zsk_bytes = zsk::llm::write(&g, &[wrong], &[]).unwrap();
        let e = err(Llama::load("shape.zsk", zsk_bytes), "shape");
        assert!(matches!(e, Error::BadTensor { .. }), "{e}");
        has(&e, &format!("shape.zsk: tensor {name}: a sparse 16×64 matrix, expected 32×32"));

        // The same container by hand: the matrix's bytes and 4 more in its I8 tensor.
        let right = SparseMatrix::pack(name, csr, &w, 32, 32).unwrap();
        let mut mb = Vec::new();
        right.write(&mut mb);
        let used = mb.len();
        mb.extend_from_slice(&[0; 4]);
        let mut gw = GgufWriter::new();
        for (k, v) in g.metadata() {
            if k != "general.alignment" {
                gw.value(k, v);
            }
        }
        for info in g.tensors() {
            if info.name == name {
                gw.raw_tensor(name, &[mb.len()], GgmlType::I8, mb.clone());
            } else {
                gw.raw_tensor(&info.name, &info.dims, info.ty, g.tensor(&info.name).unwrap().data.to_vec());
            }
        }
        let mut file = zsk::llm::MAGIC.to_vec();
        file.extend_from_slice(&zsk::llm::VERSION.to_le_bytes());
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&gw.finish());
        let e = err(Llama::load("tail.zsk", file), "trailing bytes");
        assert!(matches!(e, Error::BadTensor { .. }), "{e}");
        has(&e, &format!("tail.zsk: tensor {name}: 4 bytes after the sparse matrix's {used}"));
    }

    fn cnn_zsk_fields_only_random_flips_reached() {
        let g = onnx::load("net.onnx", &tiny_network(0.9)).unwrap();
        let good = zsk::write(&g, Precision::F32).unwrap();
        let m = zsk::load("net.zsk", &good).unwrap();
        let (shape_at, tags) = zsk_layout(&good, &m.graph);
        let load = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            edit(&mut b);
            let e = err(zsk::load("bad.zsk", &b), "edited .zsk");
            assert!(matches!(e, Error::BadModel { .. }), "{e}");
            e
        };
        // a value's channel count over MAX_ZSK_DIM (2^24)
        let e = load(&|b| b[shape_at..shape_at + 4].copy_from_slice(&(1u32 << 24 | 1).to_le_bytes()));
        has(&e, "bad.zsk: not a valid .zsk model: dimension 16777217 is absurd");
        // the first node's op tag
        let first = &m.graph.nodes[0].name;
        let e = load(&|b| b[tags[0]] = 200);
        has(&e, &format!("bad.zsk: not a valid .zsk model: node {first}: unknown op tag 200"));
        // an activation node's kind
        let act = m.graph.nodes.iter().position(|n| matches!(n.op, Op::Act(_))).unwrap();
        assert_eq!(good[tags[act]], 3, "Act's tag");
        let e = load(&|b| b[tags[act] + 1] = 99);
        has(&e, &format!("node {}: unknown activation 99", m.graph.nodes[act].name));
        // a 1x1 conv stored as a packed stream: its delta width, and its kernel made 3x3
        let (pw, weights_at) = m
            .graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(&n.op, Op::Conv(c) if c.kh == 1 && c.kw == 1))
            .map(|(i, _)| {
                // tag, 13 u32 dims, bias values (dtype u8, n u32, n f32), then the weights
                let bias = tags[i] + 1 + 13 * 4;
                (i, bias + 5 + 4 * u32_at(&good, bias + 1))
            })
            .find(|&(_, w)| good[w] == 1)
            .expect("a packed 1x1 conv");
        let name = &m.graph.nodes[pw].name;
        let width_at = weights_at + 13 + 4 * u32_at(&good, weights_at + 9);
        assert!(matches!(good[width_at], 2 | 4), "the delta width is at {width_at}");
        let e = load(&|b| b[width_at] = 3);
        has(&e, &format!("node {name}: delta width 3 (expected 2 or 4)"));
        let (kh, kw) = (tags[pw] + 1 + 3 * 4, tags[pw] + 1 + 4 * 4);
        let e = load(&|b| {
            b[kh..kh + 4].copy_from_slice(&3u32.to_le_bytes());
            b[kw..kw + 4].copy_from_slice(&3u32.to_le_bytes());
        });
        has(&e, &format!("node {name}: a packed stream on a non-1x1 weight"));
    }
}

/// The wasm façade in a runtime that lacks something it needs (wasm32 under Node only).
#[cfg(target_arch = "wasm32")]
mod js {
    use crate::common::onnx::tiny_network;
    use js_sys::Reflect;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;
    use zeroskip::web::Model;

    #[wasm_bindgen_test]
    fn profile_without_performance_now_is_unsupported() {
        let mut m = Model::from_onnx("net.onnx", &tiny_network(0.5), false).unwrap();
        let x = vec![0.5; m.input_shape().iter().product::<u32>() as usize];
        let (global, key) = (js_sys::global(), JsValue::from("performance"));
        let perf = Reflect::get(&global, &key).unwrap();
        Reflect::set(&global, &key, &JsValue::UNDEFINED).unwrap();
        let r = m.profile(&x);
        // restored before asserting: the test runner reads the clock too
        Reflect::set(&global, &key, &perf).unwrap();
        let err: js_sys::Error = r.expect_err("profile ran").dyn_into().unwrap();
        let code = Reflect::get(&err, &"code".into()).unwrap().as_string();
        let message: String = err.message().into();
        assert_eq!(code.as_deref(), Some("Unsupported"), "{message}");
        assert_eq!(message, "this runtime has no performance.now");
        assert!(
            m.profile(&x).is_ok(),
            "profiles again once performance is back"
        );
    }
}
