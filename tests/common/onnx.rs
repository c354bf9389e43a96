//! Tiny ONNX models built in memory with the importer's own prost messages.
#![allow(dead_code)]

use prost::Message;
use zeroskip::import::onnx::proto::build::value_info;
// Re-exported for the tests that build nodes; not every test binary uses each one.
#[allow(unused_imports)]
pub use zeroskip::import::onnx::proto::build::{float, int, ints, string};
use zeroskip::import::onnx::proto::*;
use zeroskip::synth::{sparse_weights, Pattern, Rng};

pub fn tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn tensor_i64(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: data_type::INT64,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// A model reading `input` of `dims` and producing `output`, at opset 13.
pub fn model(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    dims: &[i64],
    output: &str,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        producer_name: "zeroskip-tests".into(),
        graph: Some(GraphProto {
            node: nodes,
            name: "test".into(),
            initializer: inits,
            sparse_initializer: vec![],
            input: vec![value_info("input", dims)],
            output: vec![value_info(output, &[])],
        }),
    }
}

pub fn bytes(m: &ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

/// Deterministic values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    zeroskip::synth::Rng::new(seed).vec(n)
}

/// Stem 3x3 s2 → ReLU6 → dw 3x3 → ReLU → 1x1 (sparse or dense) → residual-free 1x1 expand →
/// ReLU6 → dw 3x3 s2 → 1x1 project + Add (residual) → GAP → Gemm → Softmax.
pub fn tiny_network(sparsity: f64) -> Vec<u8> {
    let mut rng = Rng::new(9);
    let mut sw =
        |o: usize, i: usize| sparse_weights(&mut rng, o, i, sparsity, Pattern::Unstructured);
    let (pw1, pw2, pw3, fc) = (sw(16, 8), sw(32, 16), sw(16, 32), sw(10, 16));
    let nodes = vec![
        node(
            "Conv",
            "stem",
            &["input", "w0", "b0"],
            &["a0"],
            vec![ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1])],
        ),
        node(
            "Clip",
            "stem_relu6",
            &["a0", "zero", "six"],
            &["a1"],
            vec![],
        ),
        node(
            "Conv",
            "dw1",
            &["a1", "wdw1"],
            &["a2"],
            vec![int("group", 8), ints("pads", &[1, 1, 1, 1])],
        ),
        node("Relu", "dw1_relu", &["a2"], &["a3"], vec![]),
        node("Conv", "pw1", &["a3", "wpw1", "bpw1"], &["a4"], vec![]),
        node("Conv", "expand", &["a4", "wpw2"], &["a5"], vec![]),
        node(
            "Clip",
            "expand_relu6",
            &["a5", "zero", "six"],
            &["a6"],
            vec![],
        ),
        node(
            "Conv",
            "dw2",
            &["a6", "wdw2"],
            &["a7"],
            vec![int("group", 32), ints("pads", &[1, 1, 1, 1])],
        ),
        node("HardSwish", "hs", &["a7"], &["a8"], vec![]),
        node("Conv", "project", &["a8", "wpw3"], &["a9"], vec![]),
        node("Add", "residual", &["a9", "a4"], &["a10"], vec![]),
        node("GlobalAveragePool", "gap", &["a10"], &["g"], vec![]),
        node("Flatten", "flat", &["g"], &["f"], vec![]),
        node(
            "Gemm",
            "fc",
            &["f", "wfc", "bfc"],
            &["logits"],
            vec![int("transB", 1)],
        ),
    ];
    let inits = vec![
        tensor("w0", &[8, 3, 3, 3], &values(216, 1)),
        tensor("b0", &[8], &values(8, 2)),
        tensor("zero", &[], &[0.0]),
        tensor("six", &[], &[6.0]),
        tensor("wdw1", &[8, 1, 3, 3], &values(72, 3)),
        tensor("wpw1", &[16, 8, 1, 1], &pw1),
        tensor("bpw1", &[16], &values(16, 4)),
        tensor("wpw2", &[32, 16, 1, 1], &pw2),
        tensor("wdw2", &[32, 1, 3, 3], &values(288, 5)),
        tensor("wpw3", &[16, 32, 1, 1], &pw3),
        tensor("wfc", &[10, 16], &fc),
        tensor("bfc", &[10], &values(10, 6)),
    ];
    bytes(&model(nodes, inits, &[1, 3, 21, 18], "logits"))
}
