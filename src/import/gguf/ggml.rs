//! ggml tensor types: id, name and block layout (weights per block, bytes per block).
//!
//! The reader knows the layout of every type below, so it can check any such tensor's byte range;
//! [`GgmlType::can_dequantize`] says which ones `dequantize` decodes. Types not listed (the IQ
//! family, ternary, MXFP4, ...) are refused by name at load.

/// A ggml tensor type, named as ggml names it.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    I8,
    I16,
    I32,
    I64,
    F64,
    BF16,
}

/// (type, ggml id, weights per block, bytes per block).
const TABLE: [(GgmlType, u32, usize, usize); 20] = [
    (GgmlType::F32, 0, 1, 4),
    (GgmlType::F16, 1, 1, 2),
    // f16 d, 16 bytes of 4-bit q: w = (q - 8)·d
    (GgmlType::Q4_0, 2, 32, 18),
    // f16 d, f16 m, 16 bytes of 4-bit q: w = q·d + m
    (GgmlType::Q4_1, 3, 32, 20),
    (GgmlType::Q5_0, 6, 32, 22),
    (GgmlType::Q5_1, 7, 32, 24),
    // f16 d, 32 i8 q: w = q·d
    (GgmlType::Q8_0, 8, 32, 34),
    (GgmlType::Q8_1, 9, 32, 36),
    (GgmlType::Q2_K, 10, 256, 84),
    (GgmlType::Q3_K, 11, 256, 110),
    // f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for 8 groups of 32, 128 bytes of q
    (GgmlType::Q4_K, 12, 256, 144),
    (GgmlType::Q5_K, 13, 256, 176),
    // 128 bytes low 4 bits, 64 bytes high 2 bits, 16 i8 scales (groups of 16), f16 d
    (GgmlType::Q6_K, 14, 256, 210),
    (GgmlType::Q8_K, 15, 256, 292),
    (GgmlType::I8, 24, 1, 1),
    (GgmlType::I16, 25, 1, 2),
    (GgmlType::I32, 26, 1, 4),
    (GgmlType::I64, 27, 1, 8),
    (GgmlType::F64, 28, 1, 8),
    (GgmlType::BF16, 30, 1, 2),
];

impl GgmlType {
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TABLE.iter().find(|r| r.1 == id).map(|r| r.0)
    }

    fn row(self) -> &'static (GgmlType, u32, usize, usize) {
        TABLE
            .iter()
            .find(|r| r.0 == self)
            .expect("every GgmlType is in TABLE")
    }

    /// The id stored in GGUF tensor infos.
    pub fn id(self) -> u32 {
        self.row().1
    }

    /// Weights per block (1 for plain types). A row (`dims[0]`) is a whole number of blocks.
    pub fn block_len(self) -> usize {
        self.row().2
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        self.row().3
    }

    /// ggml's name: "Q4_1", "F16", ...
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// Whether [`super::Tensor::dequantize`] decodes this type.
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(self, F32 | F16 | BF16 | Q4_0 | Q4_1 | Q8_0 | Q4_K | Q6_K)
    }

    /// Every type the reader knows, for error messages.
    pub fn known() -> String {
        TABLE
            .iter()
            .map(|r| format!("{} ({})", r.0.name(), r.1))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
