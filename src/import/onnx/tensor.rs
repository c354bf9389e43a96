//! `TensorProto` / `SparseTensorProto` → host arrays, with every size checked against the
//! bytes actually present before anything is allocated from a header.

use super::proto::{data_type, SparseTensorProto, TensorProto};
use crate::error::{Error, Result};
// Re-exported where the LLM kernels have always imported it; the conversion lives in `tensor`.
use crate::tensor::f16_le_to_f32;
use crate::tensor::f16_to_f32;

use crate::limits::{self, MAX_TENSOR_ELEMENTS as MAX_ELEMENTS};
// Dense initializers must also carry their values in the file, so they cannot claim more than
// it holds; sparse ones densify within this budget (why these numbers: `crate::limits`).
pub use crate::limits::MAX_DENSIFIED;

/// A constant tensor: dims plus data as f32 (weights) or i64 (shapes, axes).
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub dims: Vec<usize>,
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

impl Constant {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The values as f32 (integers converted).
    pub fn f32s(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&i| i as f32).collect(),
        }
    }
    /// The values as i64, or `None` for float data.
    pub fn i64s(&self) -> Option<&[i64]> {
        match &self.data {
            Data::I64(v) => Some(v),
            Data::F32(_) => None,
        }
    }
}

/// Decodes a dense initializer.
pub fn decode(file: &str, t: &TensorProto) -> Result<Constant> {
    let bad = |detail: String| Error::BadTensor {
        file: file.into(),
        tensor: t.name.clone(),
        detail,
    };
    if t.data_location == 1 {
        return Err(bad(
            "data is stored in an external file, which cannot be loaded here; \
                        re-save the model with all tensors inside it"
                .into(),
        ));
    }
    let dims = dims(file, &t.name, &t.dims, elem_bytes(t.data_type))?;
    let n: usize = dims.iter().product();
    let raw = &t.raw_data;
    let exact = |got: usize, unit: &str| {
        if got == n {
            Ok(())
        } else {
            Err(bad(format!(
                "dims {dims:?} need {n} values, the tensor holds {got} {unit}"
            )))
        }
    };
    let data = match t.data_type {
        data_type::FLOAT if !raw.is_empty() => {
            exact(raw.len() / 4, "f32 (raw)").and_then(|_| exact_bytes(raw.len(), 4 * n, &bad))?;
            Data::F32(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            )
        }
        data_type::FLOAT => {
            exact(t.float_data.len(), "floats")?;
            Data::F32(t.float_data.clone())
        }
        data_type::FLOAT16 if !raw.is_empty() => {
            exact(raw.len() / 2, "f16 (raw)").and_then(|_| exact_bytes(raw.len(), 2 * n, &bad))?;
            Data::F32(f16_le_to_f32(raw).collect())
        }
        // ONNX stores f16 outside raw_data as one value per int32.
        data_type::FLOAT16 => {
            exact(t.int32_data.len(), "f16 (int32_data)")?;
            Data::F32(t.int32_data.iter().map(|&v| f16_to_f32(v as u16)).collect())
        }
        data_type::DOUBLE if !raw.is_empty() => {
            exact(raw.len() / 8, "f64 (raw)").and_then(|_| exact_bytes(raw.len(), 8 * n, &bad))?;
            Data::F32(
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
            )
        }
        data_type::DOUBLE => {
            exact(t.double_data.len(), "doubles")?;
            Data::F32(t.double_data.iter().map(|&v| v as f32).collect())
        }
        data_type::INT64 if !raw.is_empty() => {
            exact(raw.len() / 8, "i64 (raw)").and_then(|_| exact_bytes(raw.len(), 8 * n, &bad))?;
            Data::I64(
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            )
        }
        data_type::INT64 => {
            exact(t.int64_data.len(), "int64s")?;
            Data::I64(t.int64_data.clone())
        }
        data_type::INT32 if !raw.is_empty() => {
            exact(raw.len() / 4, "i32 (raw)").and_then(|_| exact_bytes(raw.len(), 4 * n, &bad))?;
            Data::I64(
                raw.chunks_exact(4)
                    .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64)
                    .collect(),
            )
        }
        data_type::INT32 => {
            exact(t.int32_data.len(), "int32s")?;
            Data::I64(t.int32_data.iter().map(|&v| v as i64).collect())
        }
        other => {
            return Err(bad(format!(
                "element type {other} is not supported (float, float16, double, int32, int64 are)"
            )))
        }
    };
    Ok(Constant { dims, data })
}

fn exact_bytes(got: usize, want: usize, bad: &dyn Fn(String) -> Error) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(bad(format!("raw data has {got} bytes, expected {want}")))
    }
}

/// Densifies a sparse initializer: `values (nnz,)` at `indices` (`(nnz,)` linear or
/// `(nnz, rank)` coordinates) in a zero tensor of `dims`.
/// `budget` is what is left of `MAX_DENSIFIED`; this tensor's size is taken from it.
pub fn decode_sparse(
    file: &str,
    s: &SparseTensorProto,
    budget: &mut usize,
) -> Result<(String, Constant)> {
    let (values, indices) = match (&s.values, &s.indices) {
        (Some(v), Some(i)) => (v, i),
        _ => {
            return Err(Error::BadTensor {
                file: file.into(),
                tensor: "(sparse initializer)".into(),
                detail: "values or indices missing".into(),
            })
        }
    };
    let name = values.name.clone();
    let bad = |detail: String| Error::BadTensor {
        file: file.into(),
        tensor: name.clone(),
        detail,
    };
    let dims = dims(file, &name, &s.dims, 4)?;
    let n: usize = dims.iter().product();
    *budget = budget.checked_sub(n).ok_or_else(|| {
        limits::too_large(
            file,
            &name,
            Some(4 * n as u64),
            4 * MAX_DENSIFIED as u64,
            format!(
                "densifying dims {dims:?} (f32), with {} elements of the sparse initializers' \
                 budget left",
                *budget
            ),
        )
    })?;
    let vals = decode(file, values)?.f32s();
    let idx = decode(file, indices)?;
    let idx = idx
        .i64s()
        .ok_or_else(|| bad("indices must be int64".into()))?;
    let nnz = vals.len();
    let linear: Vec<i64> = if idx.len() == nnz {
        idx.to_vec()
    } else if idx.len() == nnz * dims.len() {
        idx.chunks_exact(dims.len().max(1))
            .map(|c| {
                c.iter().zip(&dims).fold(0i64, |a, (&i, &d)| {
                    a.saturating_mul(d as i64).saturating_add(i)
                })
            })
            .collect()
    } else {
        return Err(bad(format!(
            "{} indices for {nnz} values of a rank-{} tensor",
            idx.len(),
            dims.len()
        )));
    };
    let mut dense = vec![0.0f32; n];
    for (k, (&i, &v)) in linear.iter().zip(&vals).enumerate() {
        let slot = usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| {
            bad(format!(
                "index #{k} = {i} is outside the {n} elements of dims {dims:?}"
            ))
        })?;
        dense[slot] = v;
    }
    Ok((
        name,
        Constant {
            dims,
            data: Data::F32(dense),
        },
    ))
}

/// Bytes of one decoded element of ONNX type `t` (integers decode to i64, floats to f32).
fn elem_bytes(t: i32) -> u64 {
    match t {
        data_type::INT64 | data_type::INT32 => 8,
        _ => 4,
    }
}

/// Checked dims: non-negative, product within `MAX_ELEMENTS` (else `TooLarge`, its bytes at
/// `size` per decoded element).
fn dims(file: &str, tensor: &str, raw: &[i64], size: u64) -> Result<Vec<usize>> {
    let bad = |detail: String| Error::BadTensor {
        file: file.into(),
        tensor: tensor.into(),
        detail,
    };
    let dims: Vec<usize> = raw
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("negative dim {d} in {raw:?}"))))
        .collect::<Result<_>>()?;
    // In u64: a usize product would wrap past 4 GiB on wasm32.
    let n = raw.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    limits::check_count(file, tensor, n, size, MAX_ELEMENTS as u64, || {
        format!("dims {raw:?}")
    })?;
    Ok(dims)
}
