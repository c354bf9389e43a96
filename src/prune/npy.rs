//! Reading and writing little-endian f32 `.npy` arrays (NumPy format 1.0–3.0, C order): the
//! calibration and evaluation inputs of the zoo (`[N, 3, 224, 224]`) and logits.

use crate::error::{Error, Result};

use crate::limits::{self, MAX_NPY_ELEMENTS as MAX_ELEMENTS};

/// `bytes` of a `.npy` file (`file` names it in errors) → (shape, data).
pub fn read_f32(file: &str, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |detail: String| Error::Io {
        file: file.into(),
        detail: format!("not a float32 .npy array: {detail}"),
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic".into()));
    }
    let (hlen, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unsupported format version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(hlen))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated or non-UTF-8 header".into()))?;
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("'descr':'<f4'") {
        return Err(bad(format!(
            "dtype must be little-endian float32 ('<f4'): {header}"
        )));
    }
    if !compact.contains("'fortran_order':False") {
        return Err(bad("Fortran-order arrays are not supported".into()));
    }
    let dims = compact
        .split("'shape':(")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .ok_or_else(|| bad(format!("no shape in header {header}")))?;
    // u64 dims: a usize product would wrap past 4 GiB on wasm32.
    let shape: Vec<u64> = dims
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().map_err(|_| bad(format!("bad dimension {d:?}"))))
        .collect::<Result<_>>()?;
    let n = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let count = limits::check_count(file, "array", n, 4, MAX_ELEMENTS as u64, || {
        format!("float32 .npy shape {shape:?}")
    })?;
    // Every dim divides a product that fits a usize.
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let body = &bytes[start + hlen..];
    if body.len() != count * 4 {
        return Err(bad(format!(
            "shape {shape:?} needs {} bytes of data, the file has {}",
            count * 4,
            body.len()
        )));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((shape, data))
}

/// `data` of `shape` as the bytes of a version-1.0 `.npy` file.
pub fn write_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    out
}
