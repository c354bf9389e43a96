//! A GGUF v3 writer (little-endian, 32-byte aligned data): metadata of any value type and
//! tensors of any ggml type. Used for the sparse LLM `.zsk` container (whose payload is a
//! GGUF: see [`crate::zsk::llm`]) and for the synthetic test models of
//! `llm::synth` (behind the `testing` feature).

use crate::import::gguf::{GgmlType, Value};

/// Data alignment of the files we write (GGUF's default).
pub const ALIGN: usize = 32;

/// One tensor to write: ggml dims (`dims[0]` = row length), type, raw bytes.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dims: Vec<usize>,
    ty: GgmlType,
    data: Vec<u8>,
}

/// Collects metadata and tensors, then [`GgufWriter::finish`] lays the file out.
#[derive(Debug, Default)]
pub struct GgufWriter {
    kv: Vec<u8>,
    n_kv: u64,
    tensors: Vec<Entry>,
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl GgufWriter {
    pub fn new() -> GgufWriter {
        GgufWriter::default()
    }

    /// Any metadata value, encoded as the reader reads it.
    pub fn value(&mut self, k: &str, v: &Value) -> &mut Self {
        put_str(&mut self.kv, k);
        v.encode(&mut self.kv);
        self.n_kv += 1;
        self
    }

    pub fn u32(&mut self, k: &str, v: u32) -> &mut Self {
        self.value(k, &Value::U32(v))
    }

    pub fn f32(&mut self, k: &str, v: f32) -> &mut Self {
        self.value(k, &Value::F32(v))
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.value(k, &Value::Bool(v))
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.value(k, &Value::String(v.into()))
    }

    /// A tensor of `ty` with ggml `dims`; `data` is its raw bytes (whole blocks per row).
    pub fn raw_tensor(
        &mut self,
        name: &str,
        dims: &[usize],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> &mut Self {
        self.tensors.push(Entry {
            name: name.into(),
            dims: dims.to_vec(),
            ty,
            data,
        });
        self
    }

    /// The file's bytes.
    pub fn finish(&self) -> Vec<u8> {
        let data: usize = self
            .tensors
            .iter()
            .map(|t| t.data.len().div_ceil(ALIGN) * ALIGN)
            .sum();
        let mut out = Vec::with_capacity(self.kv.len() + data + 64 * self.tensors.len() + 64);
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kv);
        let mut offset = 0usize;
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for &d in &t.dims {
                out.extend_from_slice(&(d as u64).to_le_bytes());
            }
            out.extend_from_slice(&t.ty.id().to_le_bytes());
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            offset += t.data.len().div_ceil(ALIGN) * ALIGN;
        }
        out.resize(out.len().div_ceil(ALIGN) * ALIGN, 0);
        for t in &self.tensors {
            out.extend_from_slice(&t.data);
            out.resize(out.len().div_ceil(ALIGN) * ALIGN, 0);
        }
        out
    }
}

/// Quantizes `w` (a multiple of 32 values) into ggml Q8_0 blocks: per 32 weights an f16 scale
/// `d = max|w| / 127` and 32 i8 `q = round(w / d)`, `w ≈ q·d` (ggml's own rule).
pub fn quantize_q8_0(w: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w.len() / 32 * 34);
    for blk in w.chunks_exact(32) {
        let amax = blk.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&crate::tensor::f32_to_f16(d).to_le_bytes());
        out.extend(
            blk.iter()
                .map(|&v| (v * inv).round().clamp(-127.0, 127.0) as i8 as u8),
        );
    }
    out
}

/// Quantizes `w` (a multiple of 32 values) into ggml Q4_0 blocks, ggml's own rule: per 32
/// weights the value `v` of largest magnitude gives `d = v / −8` (f16), and
/// `q = min(15, ⌊w/d + 8.5⌋)`, `w ≈ (q − 8)·d`; byte j holds q_j (low nibble) and q_{j+16}.
pub fn quantize_q4_0(w: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w.len() / 32 * 18);
    for blk in w.chunks_exact(32) {
        let max = blk
            .iter()
            .copied()
            .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        let d = max / -8.0;
        let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&crate::tensor::f32_to_f16(d).to_le_bytes());
        let q = |v: f32| ((v * inv + 8.5) as i32).clamp(0, 15) as u8;
        out.extend((0..16).map(|j| q(blk[j]) | (q(blk[j + 16]) << 4)));
    }
    out
}

/// `g` with every 2-D tensor whose rows are whole 32-blocks requantized to `to` (Q8_0 or
/// Q4_0; the matrices; 1-D norms keep their type). Metadata is copied. For dense baselines
/// when only a Q4_1 file exists: its values go through f32 exactly, so the Q8_0 copy is the
/// Q4_1 model to within int8 rounding (Q4_0 adds a 4-bit rounding of its own).
pub fn requantize(g: &crate::import::gguf::Gguf, to: GgmlType) -> crate::error::Result<Vec<u8>> {
    // ggml's LLAMA_FTYPE_MOSTLY_Q8_0 / _Q4_0
    type Quantize = fn(&[f32]) -> Vec<u8>;
    let (ftype, quantize): (u32, Quantize) = match to {
        GgmlType::Q8_0 => (7, quantize_q8_0),
        GgmlType::Q4_0 => (2, quantize_q4_0),
        _ => {
            return Err(crate::error::Error::Unsupported {
                what: "requantize".into(),
                value: format!("{to:?}"),
                expected: "Q8_0 or Q4_0".into(),
            })
        }
    };
    let mut w = GgufWriter::new();
    for (k, v) in g.metadata() {
        if k != "general.alignment" && k != "general.file_type" {
            w.value(k, v);
        }
    }
    w.u32("general.file_type", ftype);
    for info in g.tensors() {
        let t = g.tensor(&info.name)?;
        if info.dims.len() == 2 && info.dims[0] % 32 == 0 && info.ty != to {
            w.raw_tensor(&info.name, &info.dims, to, quantize(&t.dequantize()?));
        } else {
            w.raw_tensor(&info.name, &info.dims, info.ty, t.data.to_vec());
        }
    }
    Ok(w.finish())
}
