//! The weights manifest: each group's shards, concatenated in order, hold the group's tensors
//! back to back. Every byte count is checked against the shards actually given before any
//! tensor is allocated, so a manifest cannot make import allocate more than the shards hold
//! (times 4, for 8-bit quantized floats).

use super::json::{WeightEntry, WeightGroup};
use crate::error::{Error, Result};
use crate::import::onnx::tensor::{Constant, Data};
use crate::tensor::f16_to_f32;
use std::collections::HashMap;

use crate::limits::{self, MAX_TENSOR_ELEMENTS};

/// Decodes every tensor of `groups`; `shards` are the shard files' bytes in manifest order
/// (group by group, path by path).
pub fn decode(
    file: &str,
    groups: &[WeightGroup],
    shards: &[&[u8]],
) -> Result<HashMap<String, Constant>> {
    let bad = |detail: String| Error::BadModel {
        file: file.into(),
        format: super::FORMAT.into(),
        detail,
    };
    let paths: usize = groups.iter().map(|g| g.paths.len()).sum();
    if shards.len() != paths {
        let missing = groups
            .iter()
            .flat_map(|g| &g.paths)
            .nth(shards.len())
            .map_or(String::new(), |p| format!(" (first missing: {p:?})"));
        return Err(bad(format!(
            "the weights manifest lists {paths} shard file(s), {} were given{missing}",
            shards.len()
        )));
    }
    let mut out = HashMap::new();
    let mut next = 0;
    for g in groups {
        let group_shards = &shards[next..next + g.paths.len()];
        next += g.paths.len();
        let have: usize = group_shards.iter().map(|s| s.len()).sum();
        let mut need = 0usize;
        let mut layout = Vec::with_capacity(g.weights.len());
        for w in &g.weights {
            let (n, kind) = entry_layout(file, w)?;
            let bytes = n
                .checked_mul(kind.bytes())
                .filter(|&b| b <= have)
                .ok_or_else(|| {
                    bad(format!(
                        "tensor {} {:?} needs more bytes than shards {:?} hold ({have})",
                        w.name, w.shape, g.paths
                    ))
                })?;
            need = need.saturating_add(bytes);
            layout.push((n, kind, bytes));
        }
        if need != have {
            return Err(bad(format!(
                "the manifest's tensors take {need} bytes but shards {:?} hold {have}",
                g.paths
            )));
        }
        let mut cursor = Cursor::new(group_shards);
        for (w, (n, kind, bytes)) in g.weights.iter().zip(layout) {
            let raw = cursor.take(bytes);
            let dims = w.shape.iter().map(|&d| d as usize).collect();
            let data = kind.decode(&raw, n);
            if out
                .insert(w.name.clone(), Constant { dims, data })
                .is_some()
            {
                return Err(Error::BadTensor {
                    file: file.into(),
                    tensor: w.name.clone(),
                    detail: "appears twice in the weights manifest".into(),
                });
            }
        }
    }
    Ok(out)
}

/// How one tensor is stored.
#[derive(Debug, Clone, Copy)]
enum Kind {
    F32,
    I32,
    Bool,
    F16,
    /// `q · scale + min`, `q` of 1 or 2 bytes.
    Affine {
        width: usize,
        scale: f32,
        min: f32,
    },
}

impl Kind {
    fn bytes(self) -> usize {
        match self {
            Kind::F32 | Kind::I32 => 4,
            Kind::Bool => 1,
            Kind::F16 => 2,
            Kind::Affine { width, .. } => width,
        }
    }

    /// `raw` holds exactly `n · bytes()` bytes.
    fn decode(self, raw: &[u8], n: usize) -> Data {
        let mut chunks = raw.chunks_exact(self.bytes());
        match self {
            Kind::F32 => Data::F32(
                chunks
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            Kind::I32 => Data::I64(
                chunks
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            Kind::Bool => Data::I64(raw.iter().map(|&b| i64::from(b != 0)).collect()),
            Kind::F16 => Data::F32(
                chunks
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            ),
            Kind::Affine { width, scale, min } => {
                let q = |c: &[u8]| {
                    if width == 1 {
                        f32::from(c[0])
                    } else {
                        f32::from(u16::from_le_bytes([c[0], c[1]]))
                    }
                };
                let v: Vec<f32> = chunks.by_ref().map(|c| q(c) * scale + min).collect();
                debug_assert_eq!(v.len(), n);
                Data::F32(v)
            }
        }
    }
}

/// Element count and storage kind of one manifest entry, or why it cannot be read.
fn entry_layout(file: &str, w: &WeightEntry) -> Result<(usize, Kind)> {
    let bad = |detail: String| Error::BadTensor {
        file: file.into(),
        tensor: w.name.clone(),
        detail,
    };
    if let Some(d) = w.shape.iter().find(|&&d| d < 0) {
        return Err(bad(format!("negative dim {d} in shape {:?}", w.shape)));
    }
    // In u64 (a usize product would wrap past 4 GiB on wasm32); every kind decodes to 4 bytes.
    let n = w
        .shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    let n = limits::check_count(file, &w.name, n, 4, MAX_TENSOR_ELEMENTS as u64, || {
        format!("weights manifest shape {:?} ({})", w.shape, w.dtype)
    })?;
    let kind = match (w.dtype.as_str(), &w.quantization) {
        ("float32", None) => Kind::F32,
        ("int32", None) => Kind::I32,
        ("bool", None) => Kind::Bool,
        ("float32", Some(q)) => match q.dtype.as_str() {
            "float16" => Kind::F16,
            "uint8" | "uint16" => {
                let (Some(scale), Some(min)) = (q.scale, q.min) else {
                    return Err(bad(format!(
                        "{} quantization needs both scale and min",
                        q.dtype
                    )));
                };
                Kind::Affine {
                    width: if q.dtype == "uint8" { 1 } else { 2 },
                    scale: scale as f32,
                    min: min as f32,
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown quantization dtype {other:?} (expected float16, uint8 or uint16)"
                )))
            }
        },
        ("int32", Some(q)) if q.dtype == "uint8" || q.dtype == "uint16" => {
            return Err(bad(format!(
                "quantized int32 ({}) is not supported: only float32 tensors may be quantized",
                q.dtype
            )))
        }
        (other, _) => {
            return Err(bad(format!(
                "unknown dtype {other:?} (expected float32, int32 or bool)"
            )))
        }
    };
    Ok((n, kind))
}

/// Reads consecutive byte ranges across a group's shards.
struct Cursor<'a> {
    shards: &'a [&'a [u8]],
    shard: usize,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(shards: &'a [&'a [u8]]) -> Self {
        Cursor {
            shards,
            shard: 0,
            at: 0,
        }
    }

    /// The next `n` bytes (the caller has checked that they exist).
    fn take(&mut self, mut n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while n > 0 {
            let s = self.shards[self.shard];
            let k = n.min(s.len() - self.at);
            out.extend_from_slice(&s[self.at..self.at + k]);
            self.at += k;
            n -= k;
            if self.at == s.len() {
                self.shard += 1;
                self.at = 0;
            }
        }
        out
    }
}
