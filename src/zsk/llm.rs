//! The sparse LLM `.zsk`, versioned beside the CNN format (same extension, its own magic):
//!
//! ```text
//! "ZSKLLM\0\0"  u32 version (1)  u32 reserved (0)   16-byte header
//! GGUF v3 payload (the rest of the file)
//! ```
//!
//! The payload is a GGUF so the model's metadata (hyper-parameters, tokenizer, chat template)
//! and its dense tensors (norms, embeddings, any matrix left dense) keep their standard
//! encoding and go through the same bounds-checked reader. A pruned matrix is a 1-D `I8`
//! tensor under its usual name holding [`SparseMatrix::write`]'s bytes; its format and shape
//! are inside those bytes, and [`SparseMatrix::read`] validates every index before use.
//! `zeroskip.*` metadata records how the file was made. An optional versioned section,
//! `zeroskip.act.*` (metadata and two F32 tensors), carries the activation thresholds of
//! decode (see [`crate::llm::act`]).

use crate::error::{Error, Result};
use crate::export::gguf::GgufWriter;
use crate::import::gguf::{GgmlType, Gguf, Value};
use crate::llm::act::ActSparsity;
use crate::sparse::llm::SparseMatrix;

/// First 8 bytes of a sparse LLM `.zsk`.
pub const MAGIC: &[u8; 8] = b"ZSKLLM\0\0";
/// The container version this build reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the GGUF payload.
pub const HEADER: usize = 16;
/// The untied LM head's tensor name (llama.cpp's).
pub const LM_HEAD: &str = "output.weight";

/// Whether `bytes` start like a sparse LLM `.zsk`.
pub fn is_llm_zsk(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Checks the header of a sparse LLM `.zsk` and returns where its GGUF payload starts.
pub fn payload_start(file: &str, bytes: &[u8]) -> Result<usize> {
    let bad = |detail: String| Error::BadModel {
        file: file.into(),
        format: "zeroskip sparse LLM (.zsk)".into(),
        detail,
    };
    if !is_llm_zsk(bytes) {
        return Err(bad("does not start with the ZSKLLM magic".into()));
    }
    if bytes.len() < HEADER {
        return Err(bad(format!(
            "{} bytes: shorter than the {HEADER}-byte header",
            bytes.len()
        )));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(bad(format!(
            "container version {version}; this build reads version {VERSION}"
        )));
    }
    Ok(HEADER)
}

/// Writes `g` (the dense model) as a sparse LLM `.zsk` in which every matrix of `sparse`
/// replaces the tensor of the same name (or, for [`LM_HEAD`] in a model whose head is tied,
/// adds it); `meta` adds (or overrides) metadata.
pub fn write(g: &Gguf, sparse: &[SparseMatrix], meta: &[(String, Value)]) -> Result<Vec<u8>> {
    write_with_act(g, sparse, meta, None)
}

/// [`write`], plus the activation-sparsity section (`zeroskip.act.*`, see
/// [`crate::llm::act`]) when `act` is given; it replaces any such section of `g`.
pub fn write_with_act(
    g: &Gguf,
    sparse: &[SparseMatrix],
    meta: &[(String, Value)],
    act: Option<&ActSparsity>,
) -> Result<Vec<u8>> {
    let (act_meta, act_tensors) = act.map(|a| a.to_gguf()).unwrap_or_default();
    let replaced = |k: &str| act.is_some() && k.starts_with("zeroskip.act.");
    let mut w = GgufWriter::new();
    for (k, v) in g.metadata() {
        // The writer aligns to its own 32 bytes; our keys are rewritten below.
        if k == "general.alignment" || meta.iter().any(|(m, _)| m == k) || replaced(k) {
            continue;
        }
        w.value(k, v);
    }
    for (k, v) in meta.iter().chain(&act_meta) {
        w.value(k, v);
    }
    for (name, dims, data) in act_tensors {
        w.raw_tensor(&name, &dims, GgmlType::F32, data);
    }
    for info in g.tensors() {
        if replaced(&info.name) {
            continue;
        }
        if let Some(m) = sparse.iter().find(|m| m.name == info.name) {
            let mut b = Vec::with_capacity(m.n_bytes() + 64);
            m.write(&mut b);
            w.raw_tensor(&info.name, &[b.len()], GgmlType::I8, b);
        } else {
            let t = g.tensor(&info.name)?;
            w.raw_tensor(&info.name, &info.dims, info.ty, t.data.to_vec());
        }
    }
    for m in sparse
        .iter()
        .filter(|m| g.tensors().iter().all(|t| t.name != m.name))
    {
        // The one tensor a file may gain: an untied LM head for a model whose head is tied to
        // its embeddings (a faster layout of the same values).
        if m.name != LM_HEAD || g.tensors().iter().all(|t| t.name != "token_embd.weight") {
            return Err(Error::BadArgument {
                what: m.name.clone(),
                detail: format!("no tensor of that name in {}", g.file()),
            });
        }
        let mut b = Vec::with_capacity(m.n_bytes() + 64);
        m.write(&mut b);
        w.raw_tensor(&m.name, &[b.len()], GgmlType::I8, b);
    }
    let payload = w.finish();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}
