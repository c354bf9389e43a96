//! Memory limits (src/limits.rs): for every format, a synthetic header claiming a tensor far
//! beyond the caps (16 GiB, and over 4 GiB where a 32-bit field carries the size) gives
//! `Error::TooLarge` naming the file, the tensor and both sizes, and the failing load never
//! made an allocation larger than its input plus a small constant: the error came before
//! anything was sized from the claim. A counting global allocator records, per thread, the
//! largest single allocation. Natively and as wasm32 under Node (where usize is 32 bits).

#[path = "common/mod.rs"]
#[macro_use]
mod common;

use common::onnx;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use zeroskip::graph::Op;
use zeroskip::import::gguf::{Array, Gguf, Value};
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::llama::Llama;
use zeroskip::llm::synth::{llama_gguf, llama_tensors, tiny_config, GgufWriter};
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::{Error, Result};

struct Counting;

thread_local! {
    // const-initialised: reading it never allocates, so the allocator can use it.
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new);
        System.realloc(p, l, new)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const GIB: u64 = 1 << 30;
/// Allowed over the input's length: the error's strings and the parsers' small tables.
/// Measured natively: at most 591 B over the input (ONNX: 704 B for 113 B), --nocapture prints each.
const SLACK: usize = 4 << 10;

/// Runs `load` on `input`, expects `TooLarge` for `tensor` of at least `min_bytes` claimed
/// (over the limit), with the file, tensor and sizes in the message, and checks that no
/// allocation during the load exceeded `input`'s length plus `SLACK`.
fn expect_too_large<T: std::fmt::Debug>(
    what: &str,
    input: &[u8],
    file: &str,
    tensor: &str,
    min_bytes: u64,
    load: impl FnOnce(&[u8]) -> Result<T>,
) {
    let bound = input.len() + SLACK;
    expect_too_large_within(what, input, bound, file, tensor, min_bytes, load)
}

/// [`expect_too_large`] with the largest single allocation allowed given as `bound`.
fn expect_too_large_within<T: std::fmt::Debug>(
    what: &str,
    input: &[u8],
    bound: usize,
    file: &str,
    tensor: &str,
    min_bytes: u64,
    load: impl FnOnce(&[u8]) -> Result<T>,
) {
    PEAK.with(|p| p.set(0));
    let r = load(input);
    let peak = PEAK.with(|p| p.get());
    let e = r.expect_err(what);
    let msg = e.to_string();
    match &e {
        Error::TooLarge {
            file: f,
            tensor: t,
            bytes,
            limit,
            ..
        } => {
            assert_eq!(f, file, "{what}: {msg}");
            assert!(t.contains(tensor), "{what}: tensor {t:?}: {msg}");
            assert!(*bytes >= min_bytes && bytes > limit, "{what}: {msg}");
            assert!(*limit <= zeroskip::limits::WASM32_MEMORY, "{what}: {msg}");
            for s in [f.as_str(), &bytes.to_string(), &limit.to_string()] {
                assert!(msg.contains(s), "{what}: {s} not in {msg}");
            }
        }
        other => panic!("{what}: expected TooLarge, got {other:?}"),
    }
    assert_eq!(e.code(), "TooLarge");
    assert!(
        peak <= bound,
        "{what}: allocated {peak} bytes in one piece (at most {bound}) for a {}-byte input",
        input.len()
    );
    println!(
        "{what}: peak single allocation {peak} B for a {} B input: {msg}",
        input.len()
    );
}

/// Where `needle` starts in `hay`; it must occur exactly once, so a patch hits what it means.
fn find_once(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "needle found {} times", hits.len());
    hits[0]
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Where a GGUF string `s` (u64 length + bytes) ends.
fn after_gguf_str(b: &[u8], s: &str) -> usize {
    let mut needle = (s.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(s.as_bytes());
    find_once(b, &needle) + needle.len()
}

fn onnx_with(init: TensorProto) -> Vec<u8> {
    onnx::bytes(&onnx::model(vec![], vec![init], &[1, 3, 8, 8], "input"))
}

fn tiny_gguf(ty: WeightType) -> Vec<u8> {
    let cfg = tiny_config(1, 32, 4, 2, 40);
    llama_gguf(&cfg, llama_tensors(&cfg, ty, 7))
}

fn npy_with_shape(shape: &str) -> Vec<u8> {
    let mut b = zeroskip::prune::npy::write_f32(&[2, 2], &[0.0; 4]);
    let at = find_once(&b, b"(2, 2)");
    // Keep the header's length: take the longer shape's bytes out of its space padding.
    let grow = shape.len() - 6;
    b.splice(at..at + 6, shape.bytes());
    let nl = b.iter().rposition(|&c| c == b'\n').unwrap();
    b.drain(nl - grow..nl);
    b
}

use zeroskip::import::onnx::proto::{data_type, TensorProto};

tests! {
    fn onnx_initializer_raw_data() {
        let big = onnx::tensor("w", &[1 << 16, 1 << 16], &[0.0; 4]);
        expect_too_large("ONNX raw_data", &onnx_with(big), "big.onnx", "w", 16 * GIB, |b| {
            zeroskip::import::onnx::load("big.onnx", b)
        });
    }

    fn onnx_initializer_typed_fields() {
        let floats = TensorProto {
            name: "w".into(),
            dims: vec![1 << 16, 1 << 16],
            data_type: data_type::FLOAT,
            float_data: vec![0.0; 4],
            ..Default::default()
        };
        expect_too_large("ONNX float_data", &onnx_with(floats), "big.onnx", "w", 16 * GIB, |b| {
            zeroskip::import::onnx::load("big.onnx", b)
        });
        // Integers decode to i64: 2^31 of them are 16 GiB.
        let ints = TensorProto {
            name: "shape".into(),
            dims: vec![1 << 31],
            data_type: data_type::INT64,
            int64_data: vec![1; 4],
            ..Default::default()
        };
        expect_too_large("ONNX int64_data", &onnx_with(ints), "big.onnx", "shape", 16 * GIB, |b| {
            zeroskip::import::onnx::load("big.onnx", b)
        });
    }

    fn tfjs_manifest_weight_shape() {
        let json = serde_json::json!({
            "format": "graph-model",
            "modelTopology": {"node": [
                {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                    "shape": {"shape": {"dim": [{"size": "1"}, {"size": "4"}]}}}},
                {"name": "w", "op": "Const", "attr": {}}]},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"],
                "weights": [{"name": "w", "shape": [65536, 65536], "dtype": "float32"}]}],
            "signature": {"outputs": {"y": {"name": "w:0"}}},
        });
        let json = serde_json::to_vec(&json).unwrap();
        let shard = [0u8; 16];
        expect_too_large("TF.js manifest", &json, "model.json", "w", 16 * GIB, |b| {
            zeroskip::import::tfjs::load("model.json", b, &[&shard])
        });
    }

    fn gguf_tensor_info() {
        // 2^32 f32 elements: 16 GiB dequantized, over the 2^31-element cap.
        let mut b = tiny_gguf(WeightType::F32);
        let at = after_gguf_str(&b, "output_norm.weight");
        assert_eq!(b[at..at + 4], 1u32.to_le_bytes(), "a 1-D tensor");
        put_u64(&mut b, at + 4, 1 << 32);
        expect_too_large("GGUF tensor elements", &b, "big.gguf", "output_norm.weight", 16 * GIB, |b| {
            Gguf::parse("big.gguf", b).map(drop)
        });
        // Dims whose product overflows u64: refused, not wrapped.
        let mut b = tiny_gguf(WeightType::F32);
        let at = after_gguf_str(&b, "blk.0.attn_q.weight");
        assert_eq!(b[at..at + 4], 2u32.to_le_bytes(), "a 2-D tensor");
        put_u64(&mut b, at + 4, 1 << 32);
        put_u64(&mut b, at + 12, 1 << 32);
        expect_too_large("GGUF tensor overflow", &b, "big.gguf", "blk.0.attn_q.weight", u64::MAX, |b| {
            Gguf::parse("big.gguf", b).map(drop)
        });
    }

    fn gguf_metadata_string_and_array() {
        let mut b = tiny_gguf(WeightType::Q8_0);
        let at = after_gguf_str(&b, "general.architecture");
        assert_eq!(b[at..at + 4], 8u32.to_le_bytes(), "a string value");
        put_u64(&mut b, at + 4, 16 * GIB);
        expect_too_large("GGUF metadata string", &b, "big.gguf", "general.architecture", 16 * GIB, |b| {
            Gguf::parse("big.gguf", b).map(drop)
        });
        let mut w = GgufWriter::new();
        w.value("tokenizer.ggml.scores", &Value::Array(Array::F32(vec![0.5; 8])));
        let mut b = w.finish();
        let at = after_gguf_str(&b, "tokenizer.ggml.scores");
        // value type 9 (array), element type 6 (f32), u64 length: 2^32 f32 = 16 GiB.
        assert_eq!(b[at..at + 8], [9, 0, 0, 0, 6, 0, 0, 0]);
        put_u64(&mut b, at + 8, 1 << 32);
        expect_too_large("GGUF metadata array", &b, "big.gguf", "tokenizer.ggml.scores", 16 * GIB, |b| {
            Gguf::parse("big.gguf", b).map(drop)
        });
    }

    fn gguf_tokenizer_vocab_count() {
        // A whole model with a vocabulary, through the LLM loader: 2^31 tokens of at least
        // 8 bytes each (their u64 lengths) claim 16 GiB.
        let g = tiny_gguf(WeightType::Q8_0);
        let g = Gguf::parse("tiny.gguf", &g).unwrap();
        let mut w = GgufWriter::new();
        for (k, v) in g.metadata() {
            w.value(k, v);
        }
        let vocab: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        w.value("tokenizer.ggml.tokens", &Value::Array(Array::String(vocab)));
        for info in g.tensors() {
            w.raw_tensor(&info.name, &info.dims, info.ty, g.tensor(&info.name).unwrap().data.to_vec());
        }
        let mut b = w.finish();
        let at = after_gguf_str(&b, "tokenizer.ggml.tokens");
        assert_eq!(b[at..at + 8], [9, 0, 0, 0, 8, 0, 0, 0], "an array of strings");
        put_u64(&mut b, at + 8, 1 << 31);
        expect_too_large("GGUF tokenizer vocab", &b, "big.gguf", "tokenizer.ggml.tokens", 16 * GIB, |b| {
            Llama::load("big.gguf", b.to_vec())
        });
    }

    fn zsk_cnn_tensor() {
        let g = zeroskip::import::onnx::load("tiny.onnx", &onnx::tiny_network(0.0)).unwrap();
        let (node, bias) = g
            .nodes
            .iter()
            .find_map(|n| match &n.op {
                Op::Conv(c) if c.bias.iter().all(|&v| v != 0.0) => Some((n.name.clone(), c.bias.clone())),
                _ => None,
            })
            .expect("a conv with a nonzero bias");
        let z = zeroskip::zsk::write(&g, zeroskip::zsk::Precision::F32).unwrap();
        // The bias block: dtype 0 (f32), u32 count, the values.
        let mut needle = vec![0u8];
        needle.extend_from_slice(&(bias.len() as u32).to_le_bytes());
        needle.extend(bias.iter().flat_map(|v| v.to_le_bytes()));
        let at = find_once(&z, &needle) + 1;
        // The u32 count's largest value is 16 GiB of f32; 2^30 is 4 GiB, all of wasm32.
        for (count, min) in [(u32::MAX, 16 * GIB - 4), (1 << 30, 4 * GIB)] {
            let mut b = z.clone();
            b[at..at + 4].copy_from_slice(&count.to_le_bytes());
            expect_too_large(".zsk CNN values", &b, "big.zsk", &node, min, |b| {
                zeroskip::zsk::load("big.zsk", b)
            });
        }
    }

    fn sparse_matrix_read() {
        let (rows, cols) = (4, 32);
        let w: Vec<f32> = (0..rows * cols).map(|i| if i % 3 == 0 { 0.25 } else { 0.0 }).collect();
        let m = SparseMatrix::pack("m", SparseFormat::Csr8, &w, rows, cols).unwrap();
        let mut b = Vec::new();
        m.write(&mut b);
        // "ZSLW", 4 header bytes, rows u64, cols u64: 2^27 rows of 32 are 16 GiB of f32.
        put_u64(&mut b, 8, 1 << 27);
        expect_too_large("SparseMatrix::read", &b, "sparse LLM matrix", "m", 16 * GIB, |b| {
            SparseMatrix::read("m", b)
        });
    }

    fn zsk_llm_matrix() {
        let cfg = tiny_config(1, 32, 4, 2, 40);
        let dense = llama_gguf(&cfg, llama_tensors(&cfg, WeightType::F32, 7));
        let g = Gguf::parse("tiny.gguf", &dense).unwrap();
        let name = "blk.0.ffn_up.weight";
        let info = g.tensors().iter().find(|t| t.name == name).unwrap();
        let w = g.tensor(name).unwrap().dequantize().unwrap();
        let m = SparseMatrix::pack(name, SparseFormat::Csr8, &w, info.rows(), info.row_len()).unwrap();
        let mut b = zeroskip::zsk::llm::write(&g, &[m], &[]).unwrap();
        let at = find_once(&b, b"ZSLW");
        // rows·cols·4 = 16 GiB at 32 columns.
        put_u64(&mut b, at + 8, 1 << 27);
        expect_too_large(".zsk LLM matrix", &b, "big.zsk", name, 16 * GIB, |b| {
            Llama::load("big.zsk", b.to_vec())
        });
    }

    fn npy_header() {
        let b = npy_with_shape("(65536, 65536)");
        expect_too_large(".npy shape", &b, "big.npy", "array", 16 * GIB, |b| {
            zeroskip::prune::npy::read_f32("big.npy", b)
        });
        // A product past u64: refused, not wrapped.
        let b = npy_with_shape("(4294967296, 4294967296)");
        expect_too_large(".npy overflow", &b, "big.npy", "array", u64::MAX, |b| {
            zeroskip::prune::npy::read_f32("big.npy", b)
        });
    }

    fn llm_context_kv_cache() {
        // 8 layers × 1 KV head of 16 dims × 8 bytes (K and V, f32) × 2^24 positions = 16 GiB.
        let mut cfg = tiny_config(8, 64, 4, 1, 40);
        cfg.context_length = 1 << 24;
        let b = llama_gguf(&cfg, llama_tensors(&cfg, WeightType::Q8_0, 7));
        let m = Llama::load("long.gguf", b).unwrap();
        expect_too_large("KV cache", &[], "session", "KV cache", 16 * GIB, |_| m.session(1 << 24));
    }
}

/// Runs `load` on `input`, expects an error, and checks that no single allocation during it
/// exceeded `input`'s length plus `SLACK`: counts bounded only by the file (each item needs
/// its bytes there) must not preallocate several times the file before those bytes are read.
fn expect_bounded_failure<T: std::fmt::Debug>(
    what: &str,
    input: &[u8],
    load: impl FnOnce(&[u8]) -> Result<T>,
) {
    PEAK.with(|p| p.set(0));
    let r = load(input);
    let peak = PEAK.with(|p| p.get());
    let e = r.expect_err(what);
    assert!(
        peak <= input.len() + SLACK,
        "{what}: allocated {peak} bytes in one piece for a {}-byte input ({e})",
        input.len()
    );
    println!(
        "{what}: peak single allocation {peak} B for a {} B input: {e}",
        input.len()
    );
}

tests! {
    fn gguf_counts_do_not_preallocate_past_the_file() {
        let b = tiny_gguf(WeightType::Q8_0);
        // "GGUF", version, u64 n_tensors at 8, u64 n_kv at 16: as many as could fit.
        let left = (b.len() - 24) as u64;
        for (at, each, what) in [(8, 32, "GGUF tensor count"), (16, 13, "GGUF key/value count")] {
            let mut b = b.clone();
            put_u64(&mut b, at, left / each);
            expect_bounded_failure(what, &b, |b| Gguf::parse("big.gguf", b).map(drop));
        }
        // 16 strings, then padding, under a count as long as their 8-byte lengths could be:
        // sized from the count, the Vec<String> (24 bytes each) would be 3× the file.
        let mut w = GgufWriter::new();
        let words: Vec<String> = (0..16).map(|i| format!("w{i}")).collect();
        w.value("padding", &Value::Array(Array::U8(vec![7; 4096])));
        w.value("tokenizer.ggml.tokens", &Value::Array(Array::String(words)));
        let mut b = w.finish();
        let at = after_gguf_str(&b, "tokenizer.ggml.tokens");
        let most = ((b.len() - at - 16) / 8) as u64;
        put_u64(&mut b, at + 8, most);
        expect_bounded_failure("GGUF string array", &b, |b| Gguf::parse("big.gguf", b).map(drop));
    }
}

tests! {
    fn plan_arena() {
        // Three live activations of 2^26 floats each (each at the per-value cap): 768 MiB of
        // arena, over the 512 MiB cap. Planning sizes the arena; it must refuse before a
        // session would allocate it.
        use zeroskip::graph::{Plan, PlanOptions};
        let nodes = vec![
            onnx::node("Relu", "a", &["input"], &["a"], vec![]),
            onnx::node("Relu", "b", &["a"], &["b"], vec![]),
            onnx::node("Add", "y", &["a", "b"], &["y"], vec![]),
        ];
        let b = onnx::bytes(&onnx::model(nodes, vec![], &[1, 64, 1024, 1024], "y"));
        let g = zeroskip::import::onnx::load("wide.onnx", &b).unwrap();
        // The plan's own tables, not the input, set the bound: measured natively 1984 B, and
        // 5192 B when this test is the first to build the kernel table.
        let bound = 48 << 10;
        expect_too_large_within("plan arena", &b, bound, &g.name, "activation arena", 3 << 28, |_| {
            Plan::new(&g, PlanOptions::default())
        });
    }
}
