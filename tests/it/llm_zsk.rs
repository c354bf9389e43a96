//! The sparse LLM `.zsk` container (`zeroskip::zsk::llm`): a tiny random llama with pruned
//! matrices packed in each sparse format loads back and runs like the dense model run on the
//! same (pruned, quantized) weights; corrupt files are refused with typed errors. Natively and
//! as wasm32 under Node (the SIMD kernels of the sparse formats run there).

use zeroskip::error::Error;
use zeroskip::import::gguf::{Gguf, Value};
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::llama::Llama;
use zeroskip::llm::synth::{llama_gguf, llama_tensors, tiny_config, GgufWriter};
use zeroskip::llm::weights::Linear;
use zeroskip::llm::LlamaConfig;
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::synth::Rng;
use zeroskip::zsk;

const FORMATS: [&str; 7] = [
    "g16i4", "g8i4", "g8i8", "nm24i8", "csr8", "cm32i8", "cm32i4",
];

fn tiny() -> (LlamaConfig, Vec<u8>) {
    let cfg = tiny_config(2, 32, 4, 2, 40);
    let bytes = llama_gguf(&cfg, llama_tensors(&cfg, WeightType::Q8_0, 7));
    (cfg, bytes)
}

fn linear_names(cfg: &LlamaConfig) -> Vec<String> {
    let parts = [
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
    ];
    (0..cfg.n_layers)
        .flat_map(|l| parts.iter().map(move |p| format!("blk.{l}.{p}.weight")))
        .collect()
}

/// Zeroes about half of `w (rows, cols)` in the shape `format` can store.
fn prune_for(format: SparseFormat, w: &mut [f32], cols: usize, rng: &mut Rng) {
    match format {
        SparseFormat::Group { g, .. } => {
            for grp in w.chunks_mut(g) {
                if rng.below(2) == 0 {
                    grp.fill(0.0);
                }
            }
        }
        SparseFormat::TwoFour => {
            for run in w.chunks_mut(4) {
                let keep = rng.below(4);
                let keep2 = (keep + 1 + rng.below(3)) % 4;
                for (i, v) in run.iter_mut().enumerate() {
                    if i != keep && i != keep2 {
                        *v = 0.0;
                    }
                }
            }
        }
        SparseFormat::Csr8 | SparseFormat::Col { .. } => {
            for (i, v) in w.iter_mut().enumerate() {
                if rng.below(2) == 0 || i % cols == 3 {
                    *v = 0.0;
                }
            }
        }
    }
}

/// (sparse .zsk bytes, the same model as a dense F32 GGUF holding the packed weights decoded)
pub(crate) fn pruned_pair(format: SparseFormat) -> (Vec<u8>, Vec<u8>) {
    let (cfg, dense) = tiny();
    let g = Gguf::parse("tiny.gguf", &dense).unwrap();
    let mut rng = Rng::new(3);
    let mut sparse = Vec::new();
    let mut reference = GgufWriter::new();
    for (k, v) in g.metadata() {
        reference.value(k, v);
    }
    let names = linear_names(&cfg);
    for info in g.tensors() {
        let t = g.tensor(&info.name).unwrap();
        if names.contains(&info.name) {
            let (rows, cols) = (info.rows(), info.row_len());
            let mut w = t.dequantize().unwrap();
            prune_for(format, &mut w, cols, &mut rng);
            let m = SparseMatrix::pack(&info.name, format, &w, rows, cols).unwrap();
            let decoded: Vec<u8> = m.decode().iter().flat_map(|v| v.to_le_bytes()).collect();
            reference.raw_tensor(
                &info.name,
                &info.dims,
                zeroskip::import::gguf::GgmlType::F32,
                decoded,
            );
            sparse.push(m);
        } else {
            reference.raw_tensor(&info.name, &info.dims, info.ty, t.data.to_vec());
        }
    }
    let meta = [(
        "zeroskip.prune.format".to_string(),
        Value::String(format.name()),
    )];
    (
        zsk::llm::write(&g, &sparse, &meta).unwrap(),
        reference.finish(),
    )
}

/// Offset of tensor `name`'s data inside the .zsk file.
fn tensor_start(zsk_bytes: &[u8], name: &str) -> usize {
    let g = Gguf::parse("x", &zsk_bytes[zsk::llm::HEADER..]).unwrap();
    zsk::llm::HEADER + g.tensor(name).unwrap().info.start
}

tests! {
    fn sparse_zsk_runs_like_its_decoded_weights() {
        for f in FORMATS {
            let format = SparseFormat::parse(f).unwrap();
            let (zsk_bytes, reference) = pruned_pair(format);
            assert!(zsk::llm::is_llm_zsk(&zsk_bytes));
            let sparse = Llama::load("tiny.zsk", zsk_bytes).unwrap();
            let dense = Llama::load("tiny_ref.gguf", reference).unwrap();
            assert!(
                sparse
                    .weights
                    .linears()
                    .all(|l| matches!(l, Linear::Sparse(_))),
                "{f}"
            );
            let s = sparse.weights.sparsity();
            // 50% asked: measured 0.493 (g8i4, g8i8, g16i4) to 0.551 (cm32i4) on every build
            assert!((0.4..0.6).contains(&s), "{f}: sparsity {s}");
            let (mut a, mut b) = (sparse.session(16).unwrap(), dense.session(16).unwrap());
            for (i, &t) in [1u32, 5, 9, 2, 33, 7].iter().enumerate() {
                let la = sparse.decode(&mut a, t).unwrap().to_vec();
                let lb = dense.decode(&mut b, t).unwrap();
                let scale = lb.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
                let err = la
                    .iter()
                    .zip(lb)
                    .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    // measured 2.3e-7 · scale on every build
                    err <= 1e-6 * scale,
                    "{f}: token {i}: logits differ by {err} (scale {scale})"
                );
            }
        }
    }

    fn corrupt_sparse_zsk_is_a_typed_error() {
        let (good, _) = pruned_pair(SparseFormat::Csr8);
        let name = "blk.1.ffn_down.weight";
        let start = tensor_start(&good, name);
        let (sparse_len, _) = {
            let g = Gguf::parse("x", &good[zsk::llm::HEADER..]).unwrap();
            let t = g.tensor(name).unwrap();
            let (m, used) = SparseMatrix::read(name, t.data).unwrap();
            (used, m.n_bytes())
        };
        // Every byte of the sparse matrix flipped in turn: an error or a model that still runs
        // (values may change), never a panic; and at least the index bytes must be caught.
        let mut caught = 0;
        for at in 0..sparse_len {
            let mut bad = good.clone();
            bad[start + at] ^= 0xff;
            match Llama::load("bad.zsk", bad) {
                Err(e) => {
                    caught += 1;
                    let msg = e.to_string();
                    assert!(msg.contains(name) || msg.contains("bad.zsk"), "{msg}");
                }
                Ok(m) => {
                    let mut s = m.session(4).unwrap();
                    m.decode(&mut s, 3).unwrap();
                }
            }
        }
        assert!(caught > 0, "no corruption of {name} was detected");

        // Truncated anywhere: an error.
        for cut in [0, 5, zsk::llm::HEADER, good.len() / 2, good.len() - 1] {
            assert!(
                Llama::load("cut.zsk", good[..cut].to_vec()).is_err(),
                "cut at {cut}"
            );
        }
        // Another container version.
        let mut v2 = good.clone();
        v2[8] = 2;
        let e = Llama::load("v2.zsk", v2).unwrap_err();
        assert!(matches!(e, Error::BadModel { .. }), "{e}");
        assert!(e.to_string().contains("version 2"), "{e}");
    }

    fn out_of_range_index_names_the_tensor() {
        // A CSR matrix whose stored column index points past the row: refused at load.
        let (good, _) = pruned_pair(SparseFormat::Csr8);
        let name = "blk.0.attn_q.weight";
        let g = Gguf::parse("x", &good[zsk::llm::HEADER..]).unwrap();
        let t = g.tensor(name).unwrap();
        let start = zsk::llm::HEADER + t.info.start;
        let mut found = false;
        // Find a byte pair that, set to 0xffff, makes read() fail with an index error.
        for at in 0..t.data.len() - 1 {
            let mut b = t.data.to_vec();
            b[at] = 0xff;
            b[at + 1] = 0xff;
            if let Err(e) = SparseMatrix::read(name, &b) {
                if matches!(
                    e,
                    Error::DimOutOfRange { .. } | Error::MalformedSparse { .. }
                ) {
                    let mut bad = good.clone();
                    bad[start + at] = 0xff;
                    bad[start + at + 1] = 0xff;
                    let e = Llama::load("idx.zsk", bad).unwrap_err();
                    assert!(e.to_string().contains(name), "{e}");
                    found = true;
                    break;
                }
            }
        }
        assert!(found, "no out-of-range index could be planted in {name}");
    }
}
