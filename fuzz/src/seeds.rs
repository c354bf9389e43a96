//! Seed corpora, generated in memory from the crate's own writers (never committed): each
//! target's `init` writes its seeds into `$ZEROSKIP_FUZZ_SEEDS` when that is set
//! (tools/fuzz.sh does, once per corpus folder), so seeding needs no second, uninstrumented
//! build of the crate.

use serde_json::{json, Value as Json};
use std::path::Path;
use zeroskip::import::gguf::{Array, Gguf, Value};
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::synth::{llama_tensors, tiny_config, GgufWriter};
use zeroskip::llm::LlamaConfig;
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::zsk::Precision;

#[allow(dead_code)]
#[path = "../../tests/common/onnx.rs"]
mod onnx_models;

/// Called from every target's `init`: writes `target`'s seeds when `ZEROSKIP_FUZZ_SEEDS`
/// names a folder.
pub fn init(target: &str) {
    let Some(dir) = std::env::var_os("ZEROSKIP_FUZZ_SEEDS") else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create the corpus folder");
    for (i, s) in seeds(target).iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), s).expect("write a seed");
    }
}

/// The seeds of one target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "onnx" | "wgsl_lower" => onnx(),
        "zsk_cnn" => onnx()
            .iter()
            .flat_map(|b| {
                let g = zeroskip::import::onnx::load("seed.onnx", b).expect("seed loads");
                [Precision::F32, Precision::F16]
                    .map(|p| zeroskip::zsk::write(&g, p).expect("seed writes"))
            })
            .collect(),
        "tfjs" => tfjs(),
        "gguf" => {
            let mut v: Vec<_> = WEIGHT_TYPES.iter().map(|&ty| llama_gguf(ty)).collect();
            v.push(tokenizer_gguf());
            v
        }
        "zsk_llm" => sparse_models().into_iter().map(|(z, _)| z).collect(),
        "sparse_matrix" => sparse_models().into_iter().flat_map(|(_, m)| m).collect(),
        "tokenizer" => {
            let texts: [&[u8]; 7] = [
                b"\x00Hello world, it's 2026!  \n\ttabs",
                b"\x00caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 123456 don't",
                b"\x01<|im_start|>user\nhi<|im_end|>\n<tool>x",
                b"\x02\x00\x01\x02\x03\x41\x00\x05\x01\xff\xff",
                b"\x02\x10\x01\x11\x01\x12\x01\x00\x00",
                b"\x03{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                b"\x03{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
            ];
            texts.iter().map(|t| t.to_vec()).collect()
        }
        _ => panic!("no seeds for target {target}"),
    }
}

fn onnx() -> Vec<Vec<u8>> {
    [0.0, 0.5, 0.9]
        .map(onnx_models::tiny_network)
        .into_iter()
        .collect()
}

const WEIGHT_TYPES: [WeightType; 5] = [
    WeightType::F32,
    WeightType::F16,
    WeightType::Q8_0,
    WeightType::Q4_0,
    WeightType::Q4_1,
];

/// One block of width 32 (the quantized formats' block), 2 query heads sharing 1 KV head,
/// vocabulary 16: every path of the loader and one decode step, in 10-40 KB.
fn cfg() -> LlamaConfig {
    tiny_config(1, 32, 2, 1, 16)
}

/// The llama GGUF of [`cfg`] in `ty` (`synth::llama_gguf`'s metadata and tensors).
fn llama_gguf(ty: WeightType) -> Vec<u8> {
    zeroskip::llm::synth::llama_gguf(&cfg(), llama_tensors(&cfg(), ty, 7))
}

/// A vocabulary-only GGUF: the 256 byte tokens, a few merges (and their results), two
/// control tokens and one user-defined token, SmolLM2's pre-tokenizer and a ChatML template.
pub fn tokenizer_gguf() -> Vec<u8> {
    let merges = [
        "Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ w", "o r", "1 2",
    ];
    let mut tokens: Vec<String> = (0..=255u8).map(zeroskip::llm::synth::byte_token).collect();
    for m in merges {
        let t = m.replace(' ', "");
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    let mut types = vec![1i32; tokens.len()];
    for (t, ty) in [("<|im_start|>", 3), ("<|im_end|>", 3), ("<tool>", 4)] {
        tokens.push(t.into());
        types.push(ty);
    }
    let n = tokens.len() as u32;
    let strs = |v: Vec<String>| Value::Array(Array::String(v));
    let mut w = GgufWriter::new();
    w.str("tokenizer.ggml.model", "gpt2")
        .str("tokenizer.ggml.pre", "smollm")
        .value("tokenizer.ggml.tokens", &strs(tokens))
        .value(
            "tokenizer.ggml.token_type",
            &Value::Array(Array::I32(types)),
        )
        .value(
            "tokenizer.ggml.merges",
            &strs(merges.iter().map(|m| m.to_string()).collect()),
        )
        .u32("tokenizer.ggml.bos_token_id", n - 3)
        .u32("tokenizer.ggml.eos_token_id", n - 2)
        .str("tokenizer.chat_template", CHATML);
    w.finish()
}

const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// The F32 model with its FFN matrices pruned into each sparse format: (the sparse .zsk,
/// each packed matrix's stream).
fn sparse_models() -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let dense = llama_gguf(WeightType::F32);
    let g = Gguf::parse("seed.gguf", &dense).expect("seed parses");
    SparseFormat::ALL
        .iter()
        .map(|&f| {
            let mut packed = Vec::new();
            for name in ["blk.0.ffn_up.weight", "blk.0.ffn_down.weight"] {
                let info = g.tensors().iter().find(|t| t.name == name).expect("tensor");
                let (rows, cols) = (info.rows(), info.row_len());
                let mut w = g.tensor(name).and_then(|t| t.dequantize()).expect("F32");
                // Zero every other aligned pair: valid for 2:4, half the groups of G = 8/16
                // pruned by zeroing whole groups below.
                for (i, v) in w.iter_mut().enumerate() {
                    let group = match f {
                        SparseFormat::Group { g, .. } => (i / g) % 2 == 1,
                        _ => (i / 2) % 2 == 1,
                    };
                    if group {
                        *v = 0.0;
                    }
                }
                packed.push(SparseMatrix::pack(name, f, &w, rows, cols).expect("packs"));
            }
            let meta = [("zeroskip.prune.format".to_string(), Value::String(f.name()))];
            let zsk = zeroskip::zsk::llm::write(&g, &packed, &meta).expect("zsk writes");
            let streams = packed
                .iter()
                .map(|m| {
                    let mut out = Vec::new();
                    m.write(&mut out);
                    out
                })
                .collect();
            (zsk, streams)
        })
        .collect()
}

/// A small TF.js graph model, framed for [`crate::split_tfjs`]: Pad → Conv2D 3x3 s2 → BiasAdd
/// → Relu6 → FusedDepthwiseConv2dNative → _FusedConv2D 1x1 → MaxPool → AvgPool → Mean →
/// Squeeze → _FusedMatMul → Softmax, and a second model exercising the elementwise and
/// reshape ops.
fn tfjs() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (h, w, c) = (8i64, 8i64, 3usize);
    let mut m = Tfjs::new(&[1, h, w, c as i64]);
    m.i32("pads", &[0, 0, 0, 1, 0, 1, 0, 0])
        .node("pad", "Pad", &["x", "pads"], json!({}))
        .f32("f", &[3, 3, c, 4])
        .node(
            "conv",
            "Conv2D",
            &["pad", "f"],
            json!({"strides": ints(&[1, 2, 2, 1]), "padding": s("VALID"), "data_format": s("NHWC")}),
        )
        .f32("b", &[4])
        .node("bias", "BiasAdd", &["conv", "b"], json!({}))
        .node("act", "Relu6", &["bias"], json!({}))
        .f32("fd", &[3, 3, 4, 1])
        .f32("bd", &[4])
        .node("dw", "FusedDepthwiseConv2dNative", &["act", "fd", "bd"], json!({
            "strides": ints(&[1, 1, 1, 1]), "padding": s("SAME"),
            "fused_ops": {"list": {"s": [s("BiasAdd")["s"], s("Relu")["s"]]}},
            "num_args": {"i": "1"}}))
        .f32("fp", &[1, 1, 4, 6])
        .f32("bp", &[6])
        .node("pw", "_FusedConv2D", &["dw", "fp", "bp"], json!({
            "strides": ints(&[1, 1, 1, 1]), "padding": s("VALID"),
            "fused_ops": {"list": {"s": [s("BiasAdd")["s"], s("Relu6")["s"]]}},
            "num_args": {"i": "1"}}))
        .node("mp", "MaxPool", &["pw"], json!({"ksize": ints(&[1, 3, 3, 1]),
            "strides": ints(&[1, 2, 2, 1]), "padding": s("SAME")}))
        .node("ap", "AvgPool", &["mp"], json!({"ksize": ints(&[1, 2, 2, 1]),
            "strides": ints(&[1, 1, 1, 1]), "padding": s("SAME")}))
        .i32("axes", &[1, 2])
        .node("mean", "Mean", &["ap", "axes"], json!({"keep_dims": {"b": true}}))
        .node("sq", "Squeeze", &["mean"], json!({"squeeze_dims": ints(&[1, 2])}))
        .f32("wm", &[6, 5])
        .f32("bm", &[5])
        .node("fc", "_FusedMatMul", &["sq", "wm", "bm"], json!({
            "fused_ops": {"list": {"s": [s("BiasAdd")["s"]]}}, "num_args": {"i": "1"}}))
        .node("prob", "Softmax", &["fc"], json!({}));
    out.push(m.framed(&["prob", "pw"]));

    let mut m = Tfjs::new(&[1, 5, 6, 2]);
    m.f32("k", &[2])
        .node("t", "Tanh", &["x"], json!({}))
        .node("lr", "LeakyRelu", &["t"], json!({"alpha": {"f": 0.1}}))
        .node("sub", "Sub", &["lr", "k"], json!({}))
        .node("mul", "Mul", &["sub", "lr"], json!({}))
        .node("sig", "Sigmoid", &["mul"], json!({}))
        .node("add", "AddV2", &["sig", "t"], json!({}))
        .i32("shape", &[1, -1])
        .node("flat", "Reshape", &["add", "shape"], json!({}));
    out.push(m.framed(&["flat"]));
    out
}

/// A TF.js `model.json` and its one shard, written the way the converter writes them.
struct Tfjs {
    nodes: Vec<Json>,
    weights: Vec<Json>,
    shard: Vec<u8>,
    rng: zeroskip::synth::Rng,
}

impl Tfjs {
    fn new(input: &[i64]) -> Tfjs {
        let dims: Vec<Json> = input
            .iter()
            .map(|d| json!({"size": d.to_string()}))
            .collect();
        Tfjs {
            nodes: vec![json!({"name": "x", "op": "Placeholder",
                "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": dims}}}})],
            weights: Vec::new(),
            shard: Vec::new(),
            rng: zeroskip::synth::Rng::new(5),
        }
    }
    fn f32(&mut self, name: &str, shape: &[usize]) -> &mut Self {
        let v = self.rng.vec(shape.iter().product());
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
    fn konst(&mut self, name: &str) -> &mut Self {
        self.nodes
            .push(json!({"name": name, "op": "Const", "attr": {}}));
        self
    }
    fn node(&mut self, name: &str, op: &str, inputs: &[&str], attr: Json) -> &mut Self {
        self.nodes
            .push(json!({"name": name, "op": op, "input": inputs, "attr": attr}));
        self
    }
    /// `u32 LE len`, the JSON, `u32 LE len`, the shard.
    fn framed(&self, outputs: &[&str]) -> Vec<u8> {
        let outs: serde_json::Map<String, Json> = outputs
            .iter()
            .map(|o| (o.to_string(), json!({"name": format!("{o}:0")})))
            .collect();
        let model = serde_json::to_vec(&json!({
            "format": "graph-model",
            "modelTopology": {"node": self.nodes},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": self.weights}],
            "signature": {"outputs": outs},
        }))
        .expect("JSON");
        let mut out = Vec::new();
        for part in [&model, &self.shard] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

/// A string attribute: `{"s": base64(v)}`.
fn s(v: &str) -> Json {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in v.as_bytes().chunks(3) {
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

fn ints(v: &[i64]) -> Json {
    json!({"list": {"i": v.iter().map(|x| x.to_string()).collect::<Vec<_>>()}})
}
