//! The model zoo built by `make zoo` (tools/zoo): ONNX files plus onnxruntime's inputs and
//! logits on foolbox's 20 labeled ImageNet images, saved as .npy by tools/zoo/verify.py.
#![allow(dead_code)]

use std::path::PathBuf;

pub const MODELS: [&str; 3] = ["mobilenet_v1", "mobilenet_v2", "efficientnet_lite0"];

pub fn dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("ZEROSKIP_ZOO").map_or_else(|| root.join(".cache/zoo"), PathBuf::from)
}

/// Reads a file of the zoo, failing with the command that builds it.
pub fn read(name: &str) -> Vec<u8> {
    let p = dir().join(name);
    std::fs::read(&p)
        .unwrap_or_else(|e| panic!("{}: {e}; build the zoo first with `make zoo`", p.display()))
}

/// A little-endian f32 .npy array: (shape, data).
pub fn npy_f32(name: &str) -> (Vec<usize>, Vec<f32>) {
    let b = read(name);
    assert_eq!(&b[..6], b"\x93NUMPY", "{name}: not an .npy file");
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        _ => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    assert!(
        header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"),
        "{name}: {header}"
    );
    let shape_txt = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_txt
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data: Vec<f32> = b[start + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "{name}: data length vs shape {shape:?}"
    );
    (shape, data)
}

/// The label of each verification image (ImageNet class index), in the order of the .npy
/// arrays: `"labels": [..]` of verify.json, read without a JSON dependency.
pub fn labels() -> Vec<usize> {
    let json = String::from_utf8(read("verify.json")).unwrap();
    let start = json.find("\"labels\"").expect("verify.json has labels");
    let open = start + json[start..].find('[').unwrap() + 1;
    let close = open + json[open..].find(']').unwrap();
    json[open..close]
        .split(',')
        .map(|s| s.trim().parse().expect("label"))
        .collect()
}
