//! GGUF reader (llama.cpp's model format, versions 2 and 3, little-endian), from bytes, so it
//! works the same natively and in wasm:
//!
//! ```text
//! "GGUF" u32 version  u64 n_tensors  u64 n_kv
//! n_kv × (string key, u32 value type, value)          metadata; strings are u64 len + UTF-8
//! n_tensors × (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset)
//! padding to `general.alignment` (default 32)
//! tensor data: each tensor at data_offset + offset (a multiple of the alignment)
//! ```
//!
//! Dims are ggml's order: `dims[0]` is the fastest-varying (a row), so a `[576, 1536]` weight
//! is 1536 rows of 576; [`TensorInfo::shape`] gives the row-major (numpy) order. Quantized types
//! pack each row as whole blocks ([`GgmlType::block_len`] weights in
//! [`GgmlType::block_bytes`] bytes); [`Tensor::data`] exposes those raw blocks and
//! [`Tensor::dequantize`] decodes them to f32.
//!
//! Nothing read from the file is trusted: every count and length is checked against the bytes
//! actually present before anything is allocated for it, every tensor's byte range must lie in
//! the file, be aligned and not overlap another's. Errors name the file and the key or tensor.

mod cursor;
mod ggml;
mod quant;
mod value;

pub use ggml::GgmlType;
pub use value::{Array, Value};

use crate::error::{Error, Result};
use cursor::Cursor;
use std::collections::HashMap;

/// The alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
// The caps, and why each is that number: `crate::limits`.
use crate::limits::{self, MAX_GGUF_KEY_BYTES, MAX_GGUF_TENSOR_BYTES, MAX_LLM_TENSOR_ELEMENTS};
pub use crate::limits::{
    MAX_GGUF_ALIGNMENT as MAX_ALIGNMENT, MAX_GGUF_DIMS as MAX_DIMS,
    MAX_GGUF_NAME_BYTES as MAX_NAME_BYTES,
};

pub(crate) fn bad(file: &str, detail: String) -> Error {
    Error::BadModel {
        file: file.into(),
        format: "GGUF".into(),
        detail,
    }
}

/// One tensor's entry in the file's tensor infos, checked against the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the row length (fastest-varying).
    pub dims: Vec<usize>,
    pub ty: GgmlType,
    /// Offset of the data from the start of the tensor data section (as stored).
    pub offset: u64,
    /// Offset of the data from the start of the file.
    pub start: usize,
    pub n_elements: usize,
    pub n_bytes: usize,
}

impl TensorInfo {
    /// Row-major (numpy) shape: `dims` reversed.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().copied().collect()
    }

    /// Weights per row (`dims[0]`).
    pub fn row_len(&self) -> usize {
        self.dims[0]
    }

    /// Number of rows (every dim but the first, multiplied).
    pub fn rows(&self) -> usize {
        self.n_elements / self.dims[0]
    }

    /// Bytes per row: `row_len / block_len` blocks.
    pub fn row_bytes(&self) -> usize {
        self.dims[0] / self.ty.block_len() * self.ty.block_bytes()
    }
}

/// A parsed GGUF file, borrowing the file's bytes.
pub struct Gguf<'a> {
    file: String,
    bytes: &'a [u8],
    version: u32,
    alignment: u64,
    data_offset: usize,
    metadata: Vec<(String, Value)>,
    keys: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    names: HashMap<String, usize>,
}

/// One tensor: its info and its raw bytes in the file.
#[derive(Clone, Copy)]
pub struct Tensor<'g> {
    pub info: &'g TensorInfo,
    /// The tensor's bytes: `rows · row_bytes`, rows of whole blocks of `info.ty`.
    pub data: &'g [u8],
    file: &'g str,
}

/// Counts, not contents: the metadata and data of a model run to megabytes.
impl std::fmt::Debug for Gguf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gguf")
            .field("file", &self.file)
            .field("bytes", &self.bytes.len())
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl std::fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tensor")
            .field("file", &self.file)
            .field("info", self.info)
            .finish_non_exhaustive()
    }
}

impl<'a> Gguf<'a> {
    /// Parses and validates `bytes`, a GGUF file (`file` names it in errors).
    pub fn parse(file: &str, bytes: &'a [u8]) -> Result<Gguf<'a>> {
        let mut c = Cursor::new(file, bytes);
        let magic = c.array::<4>(&|| "the magic \"GGUF\"".into())?;
        if &magic != b"GGUF" {
            return Err(bad(
                file,
                format!("starts with {magic:02x?}, not the magic \"GGUF\"; is it a GGUF file?"),
            ));
        }
        let version = c.u32(&|| "the version".into())?;
        match version {
            2 | 3 => {}
            v if v > 0xffff && v.swap_bytes() <= 3 => {
                return Err(Error::Unsupported {
                    what: format!("{file}: GGUF byte order"),
                    value: format!("big-endian (version {})", v.swap_bytes()),
                    expected: "little-endian".into(),
                })
            }
            v => {
                return Err(Error::Unsupported {
                    what: format!("{file}: GGUF version"),
                    value: v.to_string(),
                    expected: "2 or 3 (version 1 used 32-bit counts and is obsolete)".into(),
                })
            }
        }
        // Smallest possible tensor info: empty name (8), n_dims (4), one dim (8), type (4),
        // offset (8); smallest key/value: empty key (8), type (4), a 1-byte value.
        // Both are bounded by the file (each item's bytes must be there), not by a cap.
        let n_tensors = c.count(32, u64::MAX, &|| "the tensor count".into())?;
        let n_kv = c.count(13, u64::MAX, &|| "the metadata key/value count".into())?;

        // Not sized from n_kv: the count is only bounded by the bytes left, and an entry in
        // memory is several times the 13 bytes it may take in the file (so is a tensor info
        // below): they grow as entries actually parse.
        let mut metadata = Vec::new();
        let mut keys = HashMap::new();
        for i in 0..n_kv {
            let key = c.string(MAX_GGUF_KEY_BYTES, &|| format!("metadata key #{i}"))?;
            let what = || format!("metadata key '{key}'");
            let t = c.u32(&|| format!("the value type of {}", what()))?;
            let v = value::read_value(file, &mut c, t, &what)?;
            if keys.insert(key.clone(), i).is_some() {
                return Err(bad(file, format!("metadata key '{key}' appears twice")));
            }
            metadata.push((key, v));
        }

        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, Value::U32(a))) if a.is_power_of_two() && u64::from(*a) <= MAX_ALIGNMENT => {
                u64::from(*a)
            }
            Some((_, v)) => {
                return Err(bad(
                    file,
                    format!(
                        "metadata key 'general.alignment' = {v:?}: expected a u32 power of two \
                         up to {MAX_ALIGNMENT}"
                    ),
                ))
            }
        };

        let mut infos = Vec::new();
        let mut names = HashMap::new();
        for i in 0..n_tensors {
            let name = c.string(MAX_NAME_BYTES, &|| format!("the name of tensor #{i}"))?;
            let info = read_info(file, &mut c, &name)?;
            if names.insert(name.clone(), i).is_some() {
                return Err(Error::BadTensor {
                    file: file.into(),
                    tensor: name,
                    detail: "appears twice in the tensor infos".into(),
                });
            }
            infos.push((name, info));
        }

        // The data section starts at the next multiple of the alignment.
        let end = c.pos() as u64;
        let data_offset = end.div_ceil(alignment) * alignment;
        let len = bytes.len() as u64;
        if n_tensors > 0 && data_offset > len {
            return Err(bad(
                file,
                format!(
                    "the tensor data would start at offset {data_offset} (header end {end} \
                     aligned to {alignment}), past the end of the file ({len} bytes)"
                ),
            ));
        }

        let mut tensors = Vec::with_capacity(n_tensors);
        for (name, (dims, ty, offset, n_elements, n_bytes)) in infos {
            let bad_t = |detail: String| Error::BadTensor {
                file: file.into(),
                tensor: name.clone(),
                detail,
            };
            if offset % alignment != 0 {
                return Err(bad_t(format!(
                    "data offset {offset} is not a multiple of the alignment {alignment}"
                )));
            }
            let start = data_offset.checked_add(offset);
            let stop = start.and_then(|s| s.checked_add(n_bytes as u64));
            match (start, stop) {
                (Some(s), Some(e)) if e <= len => tensors.push(TensorInfo {
                    name,
                    dims,
                    ty,
                    offset,
                    start: s as usize,
                    n_elements,
                    n_bytes,
                }),
                _ => {
                    return Err(bad_t(format!(
                        "{ty} {dims:?} needs {n_bytes} bytes at data offset {offset} (file offset \
                         {}), past the end of the file ({len} bytes); is the file truncated?",
                        data_offset.saturating_add(offset)
                    )))
                }
            }
        }
        // No two tensors may share bytes.
        let mut order: Vec<&TensorInfo> = tensors.iter().collect();
        order.sort_by_key(|t| t.start);
        for w in order.windows(2) {
            if w[0].start + w[0].n_bytes > w[1].start {
                return Err(Error::BadTensor {
                    file: file.into(),
                    tensor: w[1].name.clone(),
                    detail: format!(
                        "its data (file offset {}) overlaps tensor {}'s (offsets {}..{})",
                        w[1].start,
                        w[0].name,
                        w[0].start,
                        w[0].start + w[0].n_bytes
                    ),
                });
            }
        }

        Ok(Gguf {
            file: file.into(),
            bytes,
            version,
            alignment,
            data_offset: data_offset.min(len) as usize,
            metadata,
            keys,
            tensors,
            names,
        })
    }

    /// The name given to [`Gguf::parse`].
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// File offset of the tensor data section.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// Every key/value, in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.keys.get(key).map(|&i| &self.metadata[i].1)
    }

    /// Every tensor's info, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor `name`, or an error naming it and the file.
    pub fn tensor(&self, name: &str) -> Result<Tensor<'_>> {
        let &i = self.names.get(name).ok_or_else(|| Error::BadTensor {
            file: self.file.clone(),
            tensor: name.into(),
            detail: format!("not in the file ({} tensors)", self.tensors.len()),
        })?;
        let info = &self.tensors[i];
        Ok(Tensor {
            info,
            data: &self.bytes[info.start..info.start + info.n_bytes],
            file: &self.file,
        })
    }
}

/// The rest of one tensor info after its name: dims, type, offset, checked in themselves
/// (the byte range is checked against the file once the data offset is known).
#[allow(clippy::type_complexity)]
fn read_info(
    file: &str,
    c: &mut Cursor,
    name: &str,
) -> Result<(Vec<usize>, GgmlType, u64, usize, usize)> {
    let bad_t = |detail: String| Error::BadTensor {
        file: file.into(),
        tensor: name.into(),
        detail,
    };
    let what = |f: &'static str| move || format!("tensor {name}: {f}");
    let n_dims = c.u32(&what("n_dims"))?;
    if !(1..=MAX_DIMS as u32).contains(&n_dims) {
        return Err(bad_t(format!(
            "has {n_dims} dims; ggml tensors have 1 to {MAX_DIMS}"
        )));
    }
    let mut raw = [0u64; MAX_DIMS];
    for d in 0..n_dims as usize {
        let v = c.u64(&|| format!("tensor {name}: dim {d}"))?;
        if v == 0 {
            return Err(Error::DimOutOfRange {
                tensor: format!("{file}: tensor {name}"),
                what: format!("dim {d}"),
                value: v,
                limit: "at least 1".into(),
            });
        }
        raw[d] = v;
    }
    let raw = &raw[..n_dims as usize];
    let type_at = c.pos();
    let id = c.u32(&what("type"))?;
    let ty = GgmlType::from_id(id).ok_or_else(|| {
        bad_t(format!(
            "unknown ggml type {id} (at offset {type_at}); this reader knows {}",
            GgmlType::known()
        ))
    })?;
    let offset = c.u64(&what("data offset"))?;
    // Sized in u64 before anything becomes a usize: on wasm32 a usize is 32 bits.
    let n = raw.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let n_bytes = n.map(|n| {
        n.div_ceil(ty.block_len() as u64)
            .saturating_mul(ty.block_bytes() as u64)
    });
    let tensor = format!("tensor {name}");
    if n.is_none_or(|n| n > MAX_LLM_TENSOR_ELEMENTS) {
        return Err(limits::too_large(
            file,
            &tensor,
            n.and_then(|n| n.checked_mul(4)),
            MAX_LLM_TENSOR_ELEMENTS * 4,
            format!("{ty} {raw:?} dequantized to f32"),
        ));
    }
    if n_bytes.is_none_or(|b| b > MAX_GGUF_TENSOR_BYTES) {
        return Err(limits::too_large(
            file,
            &tensor,
            n_bytes,
            MAX_GGUF_TENSOR_BYTES,
            format!("{ty} {raw:?} as stored"),
        ));
    }
    // At most MAX_LLM_TENSOR_ELEMENTS (2^29), so a usize even on wasm32.
    let n = n.unwrap_or(0) as usize;
    let dims: Vec<usize> = raw.iter().map(|&d| d as usize).collect();
    if dims[0] % ty.block_len() != 0 {
        return Err(bad_t(format!(
            "rows of {} weights are not whole {ty} blocks of {}",
            dims[0],
            ty.block_len()
        )));
    }
    // Whole blocks (checked above) of at most MAX_GGUF_TENSOR_BYTES, so this fits a usize.
    let n_bytes = n / ty.block_len() * ty.block_bytes();
    Ok((dims, ty, offset, n, n_bytes))
}

impl Tensor<'_> {
    /// Number of weights.
    pub fn len(&self) -> usize {
        self.info.n_elements
    }

    pub fn is_empty(&self) -> bool {
        self.info.n_elements == 0
    }

    /// The raw bytes of row `r` (whole blocks), if `r < rows`.
    pub fn row(&self, r: usize) -> Option<&[u8]> {
        let rb = self.info.row_bytes();
        let start = r.checked_mul(rb)?;
        self.data.get(start..start.checked_add(rb)?)
    }

    /// Every weight as f32, in file order (row after row). The allocation is bounded by the
    /// tensor's bytes, which lie in the file.
    pub fn dequantize(&self) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.check_dequantize()?];
        self.dequantize_into(&mut out)?;
        Ok(out)
    }

    /// [`Tensor::dequantize`] into `out`, which must hold exactly `len()` floats.
    pub fn dequantize_into(&self, out: &mut [f32]) -> Result<()> {
        let n = self.check_dequantize()?;
        if out.len() != n {
            return Err(Error::ShapeMismatch {
                tensor: format!("{}: tensor {}", self.file, self.info.name),
                what: "dequantized weights".into(),
                expected: n,
                got: out.len(),
            });
        }
        quant::dequantize(self.info.ty, self.data, out);
        Ok(())
    }

    /// Rows `rows` as f32 (`rows.len() · row_len` floats), for tensors too big to decode whole.
    pub fn dequantize_rows(&self, rows: std::ops::Range<usize>) -> Result<Vec<f32>> {
        self.check_dequantize()?;
        if rows.start > rows.end || rows.end > self.info.rows() {
            return Err(Error::DimOutOfRange {
                tensor: format!("{}: tensor {}", self.file, self.info.name),
                what: "rows".into(),
                value: rows.end as u64,
                limit: format!("rows {rows:?} of 0..{}", self.info.rows()),
            });
        }
        let rb = self.info.row_bytes();
        let mut out = vec![0.0; rows.len() * self.info.row_len()];
        quant::dequantize(
            self.info.ty,
            &self.data[rows.start * rb..rows.end * rb],
            &mut out,
        );
        Ok(out)
    }

    fn check_dequantize(&self) -> Result<usize> {
        if self.info.ty.can_dequantize() {
            Ok(self.info.n_elements)
        } else {
            Err(Error::Unsupported {
                what: format!(
                    "{}: tensor {}: dequantizing type",
                    self.file, self.info.name
                ),
                value: self.info.ty.name(),
                expected: "F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K or Q6_K".into(),
            })
        }
    }
}
