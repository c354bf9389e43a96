//! One test per crash the cargo-fuzz targets (fuzz/) found: the input, or the smallest
//! generated file with the same defect, must now give the typed error.

use crate::common;
use zeroskip::zsk::{self, Precision};
use zeroskip::Error;

tests! {
    /// zsk_cnn, oom-833fdaa0 (8405 bytes, found with -malloc_limit_mb=64): a packed 1x1 conv
    /// ("project", 16 × 32) whose c_in was raised to 3276832 still validated, since its stream
    /// references only a few columns, and densifying it allocated 16 × 3276832 floats (200 MB)
    /// from an 8 KB file, with no cap. Packed streams now share the densify budget
    /// (limits::MAX_DENSIFIED, 2^26 floats) with ONNX's sparse initializers; the same patch on
    /// the writer's output of the seed model, with a c_in that takes the layer past it.
    fn zsk_packed_layer_claiming_a_huge_c_in_is_refused() {
        let g = zeroskip::import::onnx::load("t.onnx", &common::onnx::tiny_network(0.5)).unwrap();
        let mut b = zsk::write(&g, Precision::F32).unwrap();
        assert!(zsk::load("t.zsk", &b).is_ok());
        // The conv header after the node's name: tag 1, c_out 16, c_in 32, groups 1, 1x1.
        let name = b.windows(7).position(|w| w == b"project").unwrap();
        let head: Vec<u8> = [16u32, 32, 1, 1, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
        let at = name + b[name..].windows(head.len()).position(|w| w == head).unwrap();
        let c_in = 5_000_000u32; // 16 × 5M = 80M floats > 2^26
        b[at + 4..at + 8].copy_from_slice(&c_in.to_le_bytes());
        match zsk::load("t.zsk", &b) {
            Err(Error::TooLarge { file, tensor, bytes, limit, detail }) => {
                assert_eq!((file.as_str(), tensor.as_str()), ("t.zsk", "project"));
                assert_eq!((bytes, limit), (4 * 16 * 5_000_000, 4 << 26));
                assert!(detail.contains("densifying a packed 16 × 5000000"), "{detail}");
            }
            other => panic!("expected the densify cap's TooLarge, got {other:?}"),
        }
    }
}
