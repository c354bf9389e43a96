//! The GGUF reader (src/import/gguf): synthetic files written by the tiny writer below, with
//! every metadata value type and every dequantized tensor type at known values (each quant
//! type packed by this file's own encoder, written from the block layouts, and decoded by the
//! library), then every kind of bad input as a typed error, never a panic; natively and as
//! wasm32 under Node. With `--features zoo` (natively): the real SmolLM2-135M GGUF against
//! the independent numpy reader of tools/zoo/llm_gguf.py (`tools/zoo/llm.sh`).

use zeroskip::import::gguf::{Array, GgmlType, Gguf, Value};
use zeroskip::Error;

// ---- a tiny GGUF writer ----------------------------------------------------------------------

/// A metadata value to write: the type id, then its encoding.
#[derive(Clone)]
enum V {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(u8),
    Str(String),
    /// element type id, elements (each encoded without its type)
    Arr(u32, Vec<V>),
    U64(u64),
    I64(i64),
    F64(f64),
    /// any type id with these raw bytes (for broken values)
    Raw(u32, Vec<u8>),
}

fn gstr(s: &[u8]) -> Vec<u8> {
    let mut b = (s.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(s);
    b
}

impl V {
    fn s(s: &str) -> V {
        V::Str(s.into())
    }
    fn type_id(&self) -> u32 {
        match self {
            V::U8(_) => 0,
            V::I8(_) => 1,
            V::U16(_) => 2,
            V::I16(_) => 3,
            V::U32(_) => 4,
            V::I32(_) => 5,
            V::F32(_) => 6,
            V::Bool(_) => 7,
            V::Str(_) => 8,
            V::Arr(..) => 9,
            V::U64(_) => 10,
            V::I64(_) => 11,
            V::F64(_) => 12,
            V::Raw(t, _) => *t,
        }
    }
    fn body(&self) -> Vec<u8> {
        match self {
            V::U8(v) => vec![*v],
            V::I8(v) => v.to_le_bytes().to_vec(),
            V::U16(v) => v.to_le_bytes().to_vec(),
            V::I16(v) => v.to_le_bytes().to_vec(),
            V::U32(v) => v.to_le_bytes().to_vec(),
            V::I32(v) => v.to_le_bytes().to_vec(),
            V::F32(v) => v.to_le_bytes().to_vec(),
            V::Bool(v) => vec![*v],
            V::Str(s) => gstr(s.as_bytes()),
            V::Arr(t, items) => {
                let mut b = t.to_le_bytes().to_vec();
                b.extend((items.len() as u64).to_le_bytes());
                for it in items {
                    b.extend(it.body());
                }
                b
            }
            V::U64(v) => v.to_le_bytes().to_vec(),
            V::I64(v) => v.to_le_bytes().to_vec(),
            V::F64(v) => v.to_le_bytes().to_vec(),
            V::Raw(_, b) => b.clone(),
        }
    }
}

#[derive(Clone)]
struct T {
    name: String,
    dims: Vec<u64>,
    ty: u32,
    data: Vec<u8>,
    /// Written instead of the computed offset.
    offset: Option<u64>,
}

#[derive(Clone)]
struct File {
    version: u32,
    /// The alignment used for layout (write `general.alignment` yourself to declare another).
    align: usize,
    kvs: Vec<(String, V)>,
    tensors: Vec<T>,
}

impl File {
    fn new() -> File {
        File {
            version: 3,
            align: 32,
            kvs: vec![("general.architecture".into(), V::s("test"))],
            tensors: vec![],
        }
    }
    fn kv(mut self, k: &str, v: V) -> File {
        self.kvs.push((k.into(), v));
        self
    }
    fn tensor(mut self, name: &str, dims: &[u64], ty: u32, data: Vec<u8>) -> File {
        self.tensors.push(T {
            name: name.into(),
            dims: dims.to_vec(),
            ty,
            data,
            offset: None,
        });
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(self.version.to_le_bytes());
        b.extend((self.tensors.len() as u64).to_le_bytes());
        b.extend((self.kvs.len() as u64).to_le_bytes());
        for (k, v) in &self.kvs {
            b.extend(gstr(k.as_bytes()));
            b.extend(v.type_id().to_le_bytes());
            b.extend(v.body());
        }
        let mut offset = 0usize;
        let mut layout = vec![];
        for t in &self.tensors {
            b.extend(gstr(t.name.as_bytes()));
            b.extend((t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                b.extend(d.to_le_bytes());
            }
            b.extend(t.ty.to_le_bytes());
            b.extend(t.offset.unwrap_or(offset as u64).to_le_bytes());
            layout.push(offset);
            offset = (offset + t.data.len()).div_ceil(self.align) * self.align;
        }
        let base = b.len().div_ceil(self.align) * self.align;
        for (t, off) in self.tensors.iter().zip(layout) {
            b.resize(base + off, 0);
            b.extend(&t.data);
        }
        if self.tensors.is_empty() {
            b.resize(base, 0);
        }
        b
    }
}

fn parse(b: &[u8]) -> Result<Gguf<'_>, Error> {
    Gguf::parse("test.gguf", b)
}

/// The error of parsing `f`, which must name the file and contain every one of `needles`.
fn err(b: &[u8], needles: &[&str]) -> Error {
    let e = parse(b).expect_err("expected an error");
    let msg = e.to_string();
    assert!(
        msg.contains("test.gguf"),
        "error does not name the file: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "error {msg:?} does not mention {n:?}");
    }
    e
}

// ---- f16 and the block encoders (written from the layouts, independent of the library) ------

/// f32 → f16 bits for values that f16 holds exactly (normal range only).
fn h(x: f32) -> u16 {
    if x == 0.0 {
        return if x.is_sign_negative() { 0x8000 } else { 0 };
    }
    let b = x.to_bits();
    let sign = ((b >> 31) as u16) << 15;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    assert!((1..31).contains(&exp), "{x} is outside f16's normal range");
    assert_eq!(b & 0x1fff, 0, "{x} is not exact in f16");
    sign | (exp as u16) << 10 | ((b >> 13) & 0x3ff) as u16
}

fn f16_bytes(x: f32) -> [u8; 2] {
    h(x).to_le_bytes()
}

/// Q4_0 / Q4_1: weight j < 16 in the low nibble of byte j, weight j + 16 in its high nibble.
fn nibbles(q: &[u8; 32]) -> Vec<u8> {
    (0..16).map(|j| q[j] | q[j + 16] << 4).collect()
}

fn q4_0_block(d: f32, q: &[u8; 32]) -> (Vec<u8>, Vec<f32>) {
    let mut b = f16_bytes(d).to_vec();
    b.extend(nibbles(q));
    (b, q.iter().map(|&q| (q as f32 - 8.0) * d).collect())
}

fn q4_1_block(d: f32, m: f32, q: &[u8; 32]) -> (Vec<u8>, Vec<f32>) {
    let mut b = f16_bytes(d).to_vec();
    b.extend(f16_bytes(m));
    b.extend(nibbles(q));
    (b, q.iter().map(|&q| q as f32 * d + m).collect())
}

fn q8_0_block(d: f32, q: &[i8; 32]) -> (Vec<u8>, Vec<f32>) {
    let mut b = f16_bytes(d).to_vec();
    b.extend(q.iter().map(|&q| q as u8));
    (b, q.iter().map(|&q| q as f32 * d).collect())
}

/// Q4_K: 8 groups of 32 weights, 6-bit scale `sc[g]` and min `mn[g]` each, packed as ggml's
/// quantizer packs them: groups 0-3 in the low 6 bits of bytes g (scale) and g+4 (min);
/// groups 4-7 in the nibbles of byte g+4 (scale low, min high) plus the top 2 bits of bytes g-4
/// (scale) and g (min). 4 chunks of 32 bytes: chunk c holds group 2c in its low nibbles and
/// group 2c+1 in its high ones. w = d·sc·q − dmin·mn.
fn q4_k_block(d: f32, dmin: f32, sc: &[u8; 8], mn: &[u8; 8], q: &[u8; 256]) -> (Vec<u8>, Vec<f32>) {
    let mut s = [0u8; 12];
    for g in 0..8 {
        assert!(sc[g] < 64 && mn[g] < 64);
        if g < 4 {
            s[g] = sc[g];
            s[g + 4] = mn[g];
        } else {
            s[g + 4] = (sc[g] & 15) | (mn[g] & 15) << 4;
            s[g - 4] |= (sc[g] >> 4) << 6;
            s[g] |= (mn[g] >> 4) << 6;
        }
    }
    let mut b = f16_bytes(d).to_vec();
    b.extend(f16_bytes(dmin));
    b.extend(s);
    for c in 0..4 {
        for l in 0..32 {
            b.push(q[64 * c + l] | q[64 * c + 32 + l] << 4);
        }
    }
    let w = (0..256)
        .map(|i| d * sc[i / 32] as f32 * q[i] as f32 - dmin * mn[i / 32] as f32)
        .collect();
    (b, w)
}

/// Q6_K: 6-bit q (stored + 32 offset), 16 groups of 16 with an i8 scale each. Per half of 128
/// weights: 64 bytes of low nibbles (byte l: weight l low, weight l+64 high; byte l+32: weight
/// l+32 low, weight l+96 high) and 32 bytes of high bits (byte l: weights l, l+32, l+64, l+96
/// at bits 0, 2, 4, 6). Block: all low nibbles, all high bits, scales, f16 d.
/// w = d·scale·(q − 32).
fn q6_k_block(d: f32, sc: &[i8; 16], q: &[u8; 256]) -> (Vec<u8>, Vec<f32>) {
    let (mut ql, mut qh) = (vec![0u8; 128], vec![0u8; 64]);
    for half in 0..2 {
        let q = &q[128 * half..];
        for l in 0..32 {
            assert!(q[l] < 64 && q[l + 32] < 64 && q[l + 64] < 64 && q[l + 96] < 64);
            ql[64 * half + l] = (q[l] & 15) | (q[l + 64] & 15) << 4;
            ql[64 * half + l + 32] = (q[l + 32] & 15) | (q[l + 96] & 15) << 4;
            qh[32 * half + l] =
                q[l] >> 4 | (q[l + 32] >> 4) << 2 | (q[l + 64] >> 4) << 4 | (q[l + 96] >> 4) << 6;
        }
    }
    let mut b = ql;
    b.extend(qh);
    b.extend(sc.iter().map(|&s| s as u8));
    b.extend(f16_bytes(d));
    let w = (0..256)
        .map(|i| d * sc[i / 16] as f32 * (q[i] as f32 - 32.0))
        .collect();
    (b, w)
}

/// A small deterministic generator for test data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// (name, type id, dims, bytes, expected weights).
type QuantCase = (&'static str, u32, Vec<u64>, Vec<u8>, Vec<f32>);

/// Every dequantized type at known values.
fn quant_cases() -> Vec<QuantCase> {
    let mut r = Lcg(7);
    let mut cases = vec![];
    let f32s: Vec<f32> = vec![1.0, -2.5, 3.25e-8, f32::MAX, -0.0, 7.0];
    cases.push((
        "f32",
        0,
        vec![3, 2],
        f32s.iter().flat_map(|x| x.to_le_bytes()).collect(),
        f32s.clone(),
    ));
    let f16s: Vec<f32> = vec![1.0, -2.5, 0.000_061_035_156, 65504.0, -0.0, 0.099_975_586];
    cases.push((
        "f16",
        1,
        vec![2, 3],
        f16s.iter().flat_map(|&x| f16_bytes(x)).collect(),
        f16s.clone(),
    ));
    // bf16: the top half of an f32.
    let bf: Vec<f32> = vec![1.0, -3.0, 0.15625, 2.0];
    cases.push((
        "bf16",
        30,
        vec![4],
        bf.iter()
            .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
            .collect(),
        bf.clone(),
    ));
    let (mut b, mut w) = (vec![], vec![]);
    for (d, k) in [(0.5, 0u8), (-0.125, 5), (1.5, 11)] {
        let q: [u8; 32] = std::array::from_fn(|j| (j as u8 + k) % 16);
        let (bb, ww) = q4_0_block(d, &q);
        b.extend(bb);
        w.extend(ww);
    }
    cases.push(("q4_0", 2, vec![32, 3], b, w));
    let (mut b, mut w) = (vec![], vec![]);
    for (d, m) in [(0.25, -1.0), (0.0625, 0.5), (2.0, -16.0), (0.75, 0.0)] {
        let q: [u8; 32] = std::array::from_fn(|_| r.below(16) as u8);
        let (bb, ww) = q4_1_block(d, m, &q);
        b.extend(bb);
        w.extend(ww);
    }
    cases.push(("q4_1", 3, vec![64, 2], b, w));
    let (mut b, mut w) = (vec![], vec![]);
    for d in [0.015625, -0.5] {
        let q: [i8; 32] = std::array::from_fn(|j| if j == 0 { -128 } else { r.next() as i8 });
        let (bb, ww) = q8_0_block(d, &q);
        b.extend(bb);
        w.extend(ww);
    }
    cases.push(("q8_0", 8, vec![32, 2], b, w));
    let (mut b, mut w) = (vec![], vec![]);
    for (d, dmin) in [(0.125, 0.0625), (0.0078125, 0.5)] {
        let sc: [u8; 8] = std::array::from_fn(|g| if g == 5 { 63 } else { r.below(64) as u8 });
        let mn: [u8; 8] = std::array::from_fn(|g| if g == 6 { 63 } else { r.below(64) as u8 });
        let q: [u8; 256] = std::array::from_fn(|_| r.below(16) as u8);
        let (bb, ww) = q4_k_block(d, dmin, &sc, &mn, &q);
        b.extend(bb);
        w.extend(ww);
    }
    cases.push(("q4_k", 12, vec![512], b, w));
    let (mut b, mut w) = (vec![], vec![]);
    for d in [0.001953125, -0.25, 1.0] {
        let sc: [i8; 16] = std::array::from_fn(|g| match g {
            0 => -128,
            1 => 127,
            _ => r.next() as i8,
        });
        let q: [u8; 256] = std::array::from_fn(|i| if i == 3 { 63 } else { r.below(64) as u8 });
        let (bb, ww) = q6_k_block(d, &sc, &q);
        b.extend(bb);
        w.extend(ww);
    }
    cases.push(("q6_k", 14, vec![256, 3], b, w));
    cases
}

fn quant_file() -> File {
    let mut f = File::new();
    for (name, ty, dims, data, _) in quant_cases() {
        f = f.tensor(name, &dims, ty, data);
    }
    f
}

/// Every value type, each as a scalar and as an array.
fn all_values() -> Vec<(&'static str, V)> {
    vec![
        ("t.u8", V::U8(200)),
        ("t.i8", V::I8(-100)),
        ("t.u16", V::U16(60000)),
        ("t.i16", V::I16(-30000)),
        ("t.u32", V::U32(4_000_000_000)),
        ("t.i32", V::I32(-2_000_000_000)),
        ("t.f32", V::F32(1.5e-5)),
        ("t.bool", V::Bool(1)),
        ("t.string", V::s("héllo ✓")),
        ("t.u64", V::U64(u64::MAX)),
        ("t.i64", V::I64(i64::MIN)),
        ("t.f64", V::F64(-2.0e300)),
        ("a.u8", V::Arr(0, vec![V::U8(1), V::U8(255)])),
        ("a.i8", V::Arr(1, vec![V::I8(-1), V::I8(127)])),
        ("a.u16", V::Arr(2, vec![V::U16(1), V::U16(65535)])),
        ("a.i16", V::Arr(3, vec![V::I16(-1)])),
        ("a.u32", V::Arr(4, vec![V::U32(7), V::U32(8), V::U32(9)])),
        ("a.i32", V::Arr(5, vec![V::I32(-7), V::I32(3)])),
        ("a.f32", V::Arr(6, vec![V::F32(0.5), V::F32(-1.0)])),
        (
            "a.bool",
            V::Arr(7, vec![V::Bool(0), V::Bool(1), V::Bool(1)]),
        ),
        (
            "a.string",
            V::Arr(8, vec![V::s("a"), V::s(""), V::s("日本")]),
        ),
        ("a.u64", V::Arr(10, vec![V::U64(1 << 40)])),
        ("a.i64", V::Arr(11, vec![V::I64(-(1 << 40))])),
        ("a.f64", V::Arr(12, vec![V::F64(0.25)])),
        ("a.empty", V::Arr(8, vec![])),
    ]
}

fn values_file() -> File {
    let mut f = File::new();
    for (k, v) in all_values() {
        f = f.kv(k, v);
    }
    f
}

/// A valid file with a bit of everything, for the corruption tests.
fn sample() -> Vec<u8> {
    let mut f = values_file();
    f.tensors = quant_file().tensors;
    f.bytes()
}

tests! {
    fn reads_every_value_type() {
        let b = values_file().bytes();
        let g = parse(&b).unwrap();
        assert_eq!(g.version(), 3);
        assert_eq!(g.alignment(), 32);
        assert_eq!(g.metadata().len(), all_values().len() + 1);
        assert_eq!(g.metadata()[0].0, "general.architecture");
        let want = [
            ("t.u8", Value::U8(200)),
            ("t.i8", Value::I8(-100)),
            ("t.u16", Value::U16(60000)),
            ("t.i16", Value::I16(-30000)),
            ("t.u32", Value::U32(4_000_000_000)),
            ("t.i32", Value::I32(-2_000_000_000)),
            ("t.f32", Value::F32(1.5e-5)),
            ("t.bool", Value::Bool(true)),
            ("t.string", Value::String("héllo ✓".into())),
            ("t.u64", Value::U64(u64::MAX)),
            ("t.i64", Value::I64(i64::MIN)),
            ("t.f64", Value::F64(-2.0e300)),
            ("a.u8", Value::Array(Array::U8(vec![1, 255]))),
            ("a.i8", Value::Array(Array::I8(vec![-1, 127]))),
            ("a.u16", Value::Array(Array::U16(vec![1, 65535]))),
            ("a.i16", Value::Array(Array::I16(vec![-1]))),
            ("a.u32", Value::Array(Array::U32(vec![7, 8, 9]))),
            ("a.i32", Value::Array(Array::I32(vec![-7, 3]))),
            ("a.f32", Value::Array(Array::F32(vec![0.5, -1.0]))),
            ("a.bool", Value::Array(Array::Bool(vec![false, true, true]))),
            ("a.string", Value::Array(Array::String(vec!["a".into(), "".into(), "日本".into()]))),
            ("a.u64", Value::Array(Array::U64(vec![1 << 40]))),
            ("a.i64", Value::Array(Array::I64(vec![-(1 << 40)]))),
            ("a.f64", Value::Array(Array::F64(vec![0.25]))),
            ("a.empty", Value::Array(Array::String(vec![]))),
        ];
        for (k, v) in &want {
            assert_eq!(g.get(k), Some(v), "{k}");
        }
        assert_eq!(g.get("nope"), None);
        assert_eq!(g.get("t.string").unwrap().type_name(), "string");
        assert_eq!(g.get("a.i32").unwrap().type_name(), "array[i32]");
    }

    fn typed_getters() {
        let b = values_file().bytes();
        let g = parse(&b).unwrap();
        assert_eq!(g.get_u64("t.u8").unwrap(), 200);
        assert_eq!(g.get_u64("t.u32").unwrap(), 4_000_000_000);
        assert_eq!(g.get_u64("t.u64").unwrap(), u64::MAX);
        assert_eq!(g.get_f32("t.f32").unwrap(), 1.5e-5);
        assert_eq!(g.get_f32("t.f64").unwrap(), f32::NEG_INFINITY);
        assert!(g.get_bool("t.bool").unwrap());
        assert_eq!(g.get_str("t.string").unwrap(), "héllo ✓");
        assert_eq!(g.get_strings("a.string").unwrap().len(), 3);
        assert_eq!(g.get_array("a.i32").unwrap().to_i64s(), Some(vec![-7, 3]));
        assert_eq!(g.get_array("a.f32").unwrap().to_i64s(), None);
        // A negative integer is not a count; a missing key and a wrong type name the key.
        for (k, needle) in [
            ("t.i8", "t.i8"),
            ("t.string", "is string, expected an integer"),
            ("missing.key", "'missing.key' is missing"),
        ] {
            let e = g.get_u64(k).unwrap_err();
            assert!(matches!(e, Error::BadModel { .. }), "{e:?}");
            assert!(e.to_string().contains(needle) && e.to_string().contains("test.gguf"), "{e}");
        }
        assert!(g.get_str("t.u8").unwrap_err().to_string().contains("'t.u8' is u8, expected string"));
        assert!(g.get_strings("a.i32").unwrap_err().to_string().contains("array[i32]"));
        let e = g.get_usize("t.u32", 1000).unwrap_err();
        assert!(matches!(e, Error::DimOutOfRange { value: 4_000_000_000, .. }), "{e:?}");
    }

    fn versions_2_and_3_and_alignment() {
        for version in [2, 3] {
            let mut f = quant_file();
            f.version = version;
            let b = f.bytes();
            let g = parse(&b).unwrap();
            assert_eq!(g.version(), version);
            assert_eq!(g.data_offset() % 32, 0);
            assert!(g.data_offset() <= b.len());
        }
        // A declared alignment lays the data out on its multiples.
        let mut f = quant_file().kv("general.alignment", V::U32(256));
        f.align = 256;
        let b = f.bytes();
        let g = parse(&b).unwrap();
        assert_eq!(g.alignment(), 256);
        assert_eq!(g.data_offset() % 256, 0);
        for t in g.tensors() {
            assert_eq!(t.start % 256, 0, "{}", t.name);
            assert_eq!(t.start, g.data_offset() + t.offset as usize);
        }
        // No tensors: a header alone, padded or not.
        let b = File::new().bytes();
        assert!(parse(&b).unwrap().tensors().is_empty());
        let unpadded = &b[..b.len() - (b.len() % 32 != 0) as usize];
        assert!(parse(unpadded).is_ok());
    }

    fn tensor_infos_and_raw_blocks() {
        let f = quant_file();
        let b = f.bytes();
        let g = parse(&b).unwrap();
        assert_eq!(g.tensors().len(), quant_cases().len());
        for (t, (name, ty, dims, data, want)) in g.tensors().iter().zip(quant_cases()) {
            assert_eq!(t.name, name);
            assert_eq!(t.ty.id(), ty);
            assert_eq!(t.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
            assert_eq!(t.shape(), dims.iter().rev().map(|&d| d as usize).collect::<Vec<_>>());
            assert_eq!(t.n_elements, want.len());
            assert_eq!(t.n_bytes, data.len());
            assert_eq!(t.rows() * t.row_len(), t.n_elements);
            let tensor = g.tensor(name).unwrap();
            assert_eq!(tensor.data, &data[..], "{name}: raw blocks");
            assert_eq!(tensor.row(0).unwrap().len(), t.row_bytes());
            assert_eq!(tensor.row(t.rows()), None);
            assert_eq!(tensor.row(usize::MAX), None);
        }
        assert_eq!(GgmlType::Q4_1.block_len(), 32);
        assert_eq!(GgmlType::Q4_1.block_bytes(), 20);
        assert_eq!(GgmlType::Q6_K.block_bytes(), 210);
        assert_eq!(GgmlType::from_id(12), Some(GgmlType::Q4_K));
        assert_eq!(GgmlType::from_id(4), None);
        let e = g.tensor("missing").unwrap_err();
        assert!(matches!(&e, Error::BadTensor { tensor, .. } if tensor == "missing"), "{e:?}");
    }

    fn dequantizes_every_type_at_known_values() {
        let b = quant_file().bytes();
        let g = parse(&b).unwrap();
        for (name, _, _, _, want) in quant_cases() {
            let t = g.tensor(name).unwrap();
            let got = t.dequantize().unwrap();
            assert_eq!(got.len(), want.len(), "{name}");
            for (i, (a, w)) in got.iter().zip(&want).enumerate() {
                // The encoders pick values on each type's grid, and ggml's d·scale·q is the
                // same rounding: measured bit-identical.
                assert!(
                    a == w || a.to_bits() == w.to_bits(),
                    "{name}[{i}]: got {a}, want {w}"
                );
            }
            // Row slices agree with the whole.
            let rl = t.info.row_len();
            let rows = t.info.rows();
            assert_eq!(t.dequantize_rows(0..rows).unwrap(), got);
            assert_eq!(t.dequantize_rows(rows - 1..rows).unwrap(), got[(rows - 1) * rl..]);
            assert!(matches!(t.dequantize_rows(0..rows + 1), Err(Error::DimOutOfRange { .. })));
            let mut short = vec![0.0; got.len() - 1];
            assert!(matches!(t.dequantize_into(&mut short), Err(Error::ShapeMismatch { .. })));
        }
    }

    fn dequantize_matches_a_naive_decoder_on_random_blocks() {
        // Random bytes, scales made finite: the library against a bit-by-bit decoder that
        // reads each weight's bits by its index.
        let mut r = Lcg(99);
        let f16 = |b: &[u8], at: usize| {
            zeroskip::tensor::f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
        };
        let naive = |ty: u32, b: &[u8], i: usize| -> f32 {
            match ty {
                2 => {
                    let q = (b[2 + i % 16] >> (4 * (i / 16))) & 15;
                    (q as f32 - 8.0) * f16(b, 0)
                }
                3 => ((b[4 + i % 16] >> (4 * (i / 16))) & 15) as f32 * f16(b, 0) + f16(b, 2),
                8 => b[2 + i] as i8 as f32 * f16(b, 0),
                12 => {
                    let g = i / 32;
                    let bits = |byte: usize, lo: u32, n: u32| ((b[4 + byte] >> lo) & ((1 << n) - 1)) as u32;
                    let (sc, mn) = if g < 4 {
                        (bits(g, 0, 6), bits(g + 4, 0, 6))
                    } else {
                        (bits(g + 4, 0, 4) | bits(g - 4, 6, 2) << 4, bits(g + 4, 4, 4) | bits(g, 6, 2) << 4)
                    };
                    let q = (b[16 + 32 * (g / 2) + i % 32] >> (4 * (g % 2))) & 15;
                    f16(b, 0) * sc as f32 * q as f32 - f16(b, 2) * mn as f32
                }
                14 => {
                    let (half, k, l) = (i / 128, (i % 128) / 32, i % 32);
                    let lo = (b[64 * half + l + 32 * (k % 2)] >> (4 * (k / 2))) & 15;
                    let hi = (b[128 + 32 * half + l] >> (2 * k)) & 3;
                    let q = (lo | hi << 4) as i32 - 32;
                    f16(b, 208) * (b[192 + i / 16] as i8) as f32 * q as f32
                }
                _ => unreachable!(),
            }
        };
        for ty in [2u32, 3, 8, 12, 14] {
            let t = GgmlType::from_id(ty).unwrap();
            let (bl, bb) = (t.block_len(), t.block_bytes());
            let nb = 5;
            let mut data: Vec<u8> = (0..nb * bb).map(|_| r.next() as u8).collect();
            for blk in data.chunks_mut(bb) {
                let scale = f16_bytes((r.below(1000) as f32 + 1.0) / 4096.0);
                let at = if ty == 14 { 208 } else { 0 };
                blk[at..at + 2].copy_from_slice(&scale);
                if ty == 3 || ty == 12 {
                    blk[2..4].copy_from_slice(&f16_bytes(-(r.below(1000) as f32) / 1024.0));
                }
            }
            let b = File::new().tensor("w", &[(bl * nb) as u64], ty, data.clone()).bytes();
            let g = parse(&b).unwrap();
            let got = g.tensor("w").unwrap().dequantize().unwrap();
            for (i, a) in got.iter().enumerate() {
                let want = naive(ty, &data[(i / bl) * bb..], i % bl);
                // measured bit-identical
                assert_eq!(*a, want, "{t}[{i}]");
            }
        }
    }

    fn refuses_what_it_cannot_dequantize() {
        let b = File::new().tensor("q5", &[32], 6, vec![0; 22]).bytes();
        let g = parse(&b).unwrap();
        let e = g.tensor("q5").unwrap().dequantize().unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains("q5") && e.to_string().contains("Q5_0"), "{e}");
    }

    fn bad_headers() {
        assert!(matches!(err(&[], &["truncated", "magic"]), Error::BadModel { .. }));
        err(b"GGU", &["truncated"]);
        err(b"GGML\x03\0\0\0", &["not the magic"]);
        let mut b = sample();
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(err(&b, &["version", "1"]), Error::Unsupported { .. }));
        b[4..8].copy_from_slice(&4u32.to_le_bytes());
        err(&b, &["version"]);
        b[4..8].copy_from_slice(&3u32.to_be_bytes());
        err(&b, &["big-endian"]);
    }

    fn absurd_counts_are_refused_before_allocating() {
        let b = sample();
        // n_tensors, n_kv: u64::MAX, and just more than the bytes could hold.
        for (at, what) in [(8, "tensor count"), (16, "key/value count")] {
            for n in [u64::MAX, 1 << 40, b.len() as u64] {
                let mut c = b.clone();
                c[at..at + 8].copy_from_slice(&n.to_le_bytes());
                assert!(matches!(err(&c, &[what, "cannot fit"]), Error::BadModel { .. }));
            }
        }
        // A string length, an array length.
        let f = File::new().kv("k.s", V::s("abc")).kv("k.a", V::Arr(4, vec![V::U32(1)]));
        let good = f.bytes();
        let pos = |pat: &[u8]| good.windows(pat.len()).position(|w| w == pat).unwrap();
        let s_len = pos(b"abc") - 8;
        for n in [u64::MAX, 1 << 33, 4] {
            let mut c = good.clone();
            c[s_len..s_len + 8].copy_from_slice(&n.to_le_bytes());
            if n == 4 {
                // One byte more than the string has: reads into the next key, whose tail then
                // no longer parses; any error will do, as long as it is one.
                assert!(parse(&c).is_err());
            } else {
                err(&c, &["k.s"]);
            }
        }
        let a_len = pos(b"k.a") + 3 + 4 + 4;
        for n in [u64::MAX, 1 << 62, 1 << 20] {
            let mut c = good.clone();
            c[a_len..a_len + 8].copy_from_slice(&n.to_le_bytes());
            err(&c, &["k.a"]);
        }
        // A key longer than the spec's 65535 bytes, a name longer than 64.
        let long = "k".repeat(70_000);
        err(&File::new().kv(&long, V::U8(1)).bytes(), &["more than the 65535 allowed"]);
        let name = "n".repeat(65);
        let e = err(&File::new().tensor(&name, &[1], 0, vec![0; 4]).bytes(), &["tensor #0", "64"]);
        assert!(matches!(e, Error::BadModel { .. }));
    }

    fn bad_values() {
        let bytes = |k: &str, v: V| File::new().kv(k, v).bytes();
        err(&bytes("k.nested", V::Arr(9, vec![V::Arr(4, vec![])])), &["k.nested", "array of arrays"]);
        err(&bytes("k.type", V::Raw(13, vec![0; 8])), &["k.type", "value type 13"]);
        err(&bytes("k.elem", V::Arr(77, vec![])), &["k.elem", "value type 77"]);
        err(&bytes("k.bool", V::Bool(2)), &["k.bool", "bool of value 2"]);
        err(&bytes("k.bools", V::Arr(7, vec![V::Bool(1), V::Bool(9)])), &["'k.bools'[1]", "value 9"]);
        err(&bytes("k.utf8", V::Raw(8, gstr(b"\xff\xfe"))), &["k.utf8", "not valid UTF-8"]);
        err(&bytes("k.strs", V::Arr(8, vec![V::s("ok"), V::Raw(8, gstr(b"\xc3"))])), &["'k.strs'[1]", "UTF-8"]);
        let mut bad_key = File::new().bytes();
        let at = bad_key.windows(7).position(|w| w == b"general").unwrap();
        bad_key[at] = 0xff;
        err(&bad_key, &["metadata key #0", "UTF-8"]);
        let dup = File::new().kv("general.architecture", V::s("again")).bytes();
        err(&dup, &["'general.architecture' appears twice"]);
        for a in [V::U32(0), V::U32(48), V::U64(32), V::U32(1 << 20)] {
            err(&File::new().kv("general.alignment", a).bytes(), &["general.alignment"]);
        }
    }

    fn bad_tensor_infos() {
        let one = |dims: &[u64], ty: u32, data: Vec<u8>| File::new().tensor("w", dims, ty, data);
        let is_bad_tensor = |e: Error| assert!(matches!(&e, Error::BadTensor { tensor, .. } if tensor == "w"), "{e:?}");
        // Unknown type, rows that are not whole blocks.
        is_bad_tensor(err(&one(&[4], 4, vec![0; 16]).bytes(), &["w", "unknown ggml type 4"]));
        is_bad_tensor(err(&one(&[4], 99, vec![0; 16]).bytes(), &["unknown ggml type 99", "Q4_K (12)"]));
        is_bad_tensor(err(&one(&[48], 2, vec![0; 36]).bytes(), &["48 weights", "Q4_0 blocks of 32"]));
        // Dims: none, too many, zero, overflowing.
        is_bad_tensor(err(&one(&[], 0, vec![]).bytes(), &["0 dims"]));
        is_bad_tensor(err(&one(&[1; 5], 0, vec![0; 4]).bytes(), &["5 dims"]));
        let e = err(&one(&[4, 0], 0, vec![]).bytes(), &["w", "dim 1"]);
        assert!(matches!(e, Error::DimOutOfRange { value: 0, .. }), "{e:?}");
        // Overflowing dims are a claim over the caps of zeroskip::limits.
        let e = err(&one(&[1 << 31, 1 << 31, 1 << 31], 0, vec![]).bytes(), &["w", "[2147483648, 2147483648, 2147483648]"]);
        assert!(matches!(e, Error::TooLarge { bytes: u64::MAX, .. }), "{e:?}");
        // Data past the end: a big tensor, a far offset, an offset that wraps.
        is_bad_tensor(err(&one(&[1 << 20], 0, vec![0; 64]).bytes(), &["past the end"]));
        for off in [1 << 20, u64::MAX - 31] {
            let mut f = one(&[8], 0, vec![0; 32]);
            f.tensors[0].offset = Some(off);
            is_bad_tensor(err(&f.bytes(), &["past the end"]));
        }
        // Misaligned, overlapping, duplicated.
        let mut f = one(&[8], 0, vec![0; 32]);
        f.tensors[0].offset = Some(4);
        is_bad_tensor(err(&f.bytes(), &["offset 4 is not a multiple of the alignment 32"]));
        let mut f = one(&[16], 0, vec![0; 64]).tensor("v", &[8], 0, vec![0; 32]);
        f.tensors[1].offset = Some(32);
        let e = err(&f.bytes(), &["overlaps tensor w"]);
        assert!(matches!(&e, Error::BadTensor { tensor, .. } if tensor == "v"), "{e:?}");
        let f = one(&[8], 0, vec![0; 32]).tensor("w", &[8], 0, vec![0; 32]);
        is_bad_tensor(err(&f.bytes(), &["appears twice"]));
        // A file cut inside the tensor data.
        let b = one(&[64], 0, vec![1; 256]).bytes();
        is_bad_tensor(err(&b[..b.len() - 1], &["past the end", "truncated"]));
    }

    fn every_truncation_is_an_error() {
        let b = sample();
        for n in 0..b.len() {
            if let Ok(g) = parse(&b[..n]) {
                // Only a cut in the padding after the last tensor's data can still parse.
                let last = g.tensors().iter().map(|t| t.start + t.n_bytes).max().unwrap_or(0);
                assert!(n >= last, "prefix of {n} bytes parsed");
            }
        }
    }

    fn corrupted_bytes_never_panic() {
        let b = sample();
        let mut r = Lcg(1234);
        for _ in 0..3000 {
            let mut c = b.clone();
            for _ in 0..1 + r.below(4) {
                let i = r.below(c.len() as u32) as usize;
                c[i] = match r.below(4) {
                    0 => 0xff,
                    1 => 0,
                    _ => r.next() as u8,
                };
            }
            if let Ok(g) = parse(&c) {
                for t in g.tensors() {
                    let t = g.tensor(&t.name).unwrap();
                    if t.info.ty.can_dequantize() {
                        assert_eq!(t.dequantize().unwrap().len(), t.len());
                    }
                }
            }
        }
    }
}

// ---- the real model: tools/zoo/llm.sh --------------------------------------------------------

#[cfg(all(feature = "zoo", not(target_arch = "wasm32")))]
mod zoo {
    use super::*;
    use crate::common::zoo::{npy_f32, read};
    use serde_json::Value as J;
    use zeroskip::llm::LlamaConfig;

    const MODEL: &str = "llm/SmolLM2-135M-Instruct.Q4_1.gguf";

    fn reference() -> J {
        serde_json::from_slice(&read("llm/gguf_ref.json")).expect("gguf_ref.json")
    }

    /// The JSON form llm_gguf.py gives a value, for comparison.
    fn check_value(key: &str, v: &Value, want: &J) {
        assert_eq!(
            v.type_name().split('[').next().unwrap(),
            want["type"],
            "{key}: type"
        );
        let num = |x: f64| {
            assert_eq!(x, want["value"].as_f64().unwrap(), "{key}");
        };
        match v {
            Value::String(s) => assert_eq!(s, want["value"].as_str().unwrap(), "{key}"),
            Value::Bool(b) => assert_eq!(*b, want["value"].as_bool().unwrap(), "{key}"),
            Value::F32(x) => num(*x as f64),
            Value::F64(x) => num(*x),
            Value::Array(a) => {
                assert_eq!(a.len() as u64, want["len"].as_u64().unwrap(), "{key}: len");
                let head = want["head"].as_array().unwrap();
                match a {
                    Array::String(s) => {
                        for (x, w) in s.iter().zip(head) {
                            assert_eq!(x, w.as_str().unwrap(), "{key}");
                        }
                    }
                    a => {
                        let ints = a.to_i64s().expect("integer array");
                        for (x, w) in ints.iter().zip(head) {
                            assert_eq!(*x, w.as_i64().unwrap(), "{key}");
                        }
                        let sum: f64 = ints.iter().map(|&x| x as f64).sum();
                        assert_eq!(sum, want["sum"].as_f64().unwrap(), "{key}: sum");
                    }
                }
            }
            v => num(v
                .as_u64()
                .map(|x| x as f64)
                .unwrap_or_else(|| panic!("{key}: {v:?}"))),
        }
    }

    #[test]
    fn smollm2_metadata() {
        let bytes = read(MODEL);
        let g = Gguf::parse(MODEL, &bytes).unwrap();
        let want = reference();
        assert_eq!(g.version() as u64, want["version"].as_u64().unwrap());
        assert_eq!(
            g.data_offset() as u64,
            want["data_offset"].as_u64().unwrap()
        );
        assert_eq!(g.alignment(), 32);
        let meta = want["metadata"].as_object().unwrap();
        assert_eq!(g.metadata().len(), meta.len());
        for (k, v) in g.metadata() {
            check_value(k, v, &meta[k.as_str()]);
        }
        let c = LlamaConfig::from_gguf(&g).unwrap();
        assert_eq!(
            c,
            LlamaConfig {
                n_layers: 30,
                dim: 576,
                ffn_dim: 1536,
                n_heads: 9,
                n_kv_heads: 3,
                context_length: 8192,
                rope_freq_base: 100_000.0,
                rope_dim: 64,
                rms_eps: 1e-5,
                vocab_size: 49152,
            }
        );
        assert_eq!(c.head_dim(), 64);
        assert_eq!(g.get_str("general.architecture").unwrap(), "llama");
        assert_eq!(g.get_strings("tokenizer.ggml.tokens").unwrap().len(), 49152);
    }

    #[test]
    fn smollm2_tensors_match_numpy() {
        let bytes = read(MODEL);
        let g = Gguf::parse(MODEL, &bytes).unwrap();
        let want = reference();
        let tensors = want["tensors"].as_array().unwrap();
        assert_eq!(g.tensors().len(), tensors.len());
        assert_eq!(g.tensors().len(), 2 + 30 * 9);
        let mut types = std::collections::BTreeMap::new();
        for (t, w) in g.tensors().iter().zip(tensors) {
            assert_eq!(t.name, w["name"].as_str().unwrap());
            let dims: Vec<usize> = w["dims"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(t.dims, dims, "{}", t.name);
            assert_eq!(t.ty.name(), w["type"].as_str().unwrap(), "{}", t.name);
            assert_eq!(t.offset, w["offset"].as_u64().unwrap(), "{}", t.name);
            *types.entry(t.ty.name()).or_insert(0) += 1;
            // Every tensor dequantized whole: its sums against numpy's.
            let x = g.tensor(&t.name).unwrap().dequantize().unwrap();
            let (mut sum, mut abs, mut wsum) = (0f64, 0f64, 0f64);
            for (i, &v) in x.iter().enumerate() {
                let v = v as f64;
                sum += v;
                abs += v.abs();
                wsum += v * ((i % 7) as f64 - 3.0);
            }
            // f64 sums in another order: measured 2.0e-16 · Σ|x|
            let tol = 1e-15 * abs.max(1.0);
            for (got, key) in [(sum, "sum"), (abs, "abs_sum"), (wsum, "wsum")] {
                let w = w[key].as_f64().unwrap();
                assert!(
                    (got - w).abs() <= tol,
                    "{}: {key} {got} vs numpy {w}",
                    t.name
                );
            }
        }
        let types: Vec<_> = types.into_iter().collect();
        assert_eq!(
            types,
            [
                ("F32".to_string(), 61),
                ("Q4_1".into(), 210),
                ("Q8_0".into(), 1)
            ]
        );
        let embd = g.tensor("token_embd.weight").unwrap();
        assert_eq!(embd.info.shape(), [49152, 576]);
        assert_eq!(embd.info.ty, GgmlType::Q8_0);
        assert_eq!(
            g.tensor("blk.0.ffn_down.weight").unwrap().info.shape(),
            [576, 1536]
        );
        assert_eq!(
            g.tensor("blk.0.attn_k.weight").unwrap().info.shape(),
            [192, 576]
        );
    }

    #[test]
    fn smollm2_dequantization_matches_numpy() {
        let bytes = read(MODEL);
        let g = Gguf::parse(MODEL, &bytes).unwrap();
        let want = reference();
        let refs = want["dequant"].as_object().unwrap();
        assert!(refs.len() >= 5);
        for (name, r) in refs {
            let (shape, w) = npy_f32(&format!("llm/{}", r["file"].as_str().unwrap()));
            let t = g.tensor(name).unwrap();
            let got = match r["rows"].as_array() {
                None => {
                    assert_eq!(shape, t.info.shape(), "{name}");
                    t.dequantize().unwrap()
                }
                Some(rows) => rows
                    .iter()
                    .flat_map(|row| {
                        let row = row.as_u64().unwrap() as usize;
                        t.dequantize_rows(row..row + 1).unwrap()
                    })
                    .collect(),
            };
            assert_eq!(got.len(), w.len(), "{name}");
            // Same f32 operations in the same order: bit for bit.
            let diff = got
                .iter()
                .zip(&w)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                diff,
                0,
                "{name}: {diff} of {} values differ from numpy",
                w.len()
            );
        }
    }

    #[test]
    fn synthetic_blocks_match_numpy() {
        // Random blocks of every dequantized type, written and decoded by llm_gguf.py: the
        // K-quants are not in SmolLM2, so this is their check against a second decoder.
        let bytes = read("llm/synth_quant.gguf");
        let g = Gguf::parse("synth_quant.gguf", &bytes).unwrap();
        assert_eq!(g.tensors().len(), 7);
        for t in g.tensors() {
            let (shape, w) = npy_f32(&format!("llm/synth/{}.npy", t.name));
            assert_eq!(shape, t.shape(), "{}", t.name);
            let got = g.tensor(&t.name).unwrap().dequantize().unwrap();
            for (i, (a, b)) in got.iter().zip(&w).enumerate() {
                assert!(
                    // measured bit-identical against numpy's decoder
                    a == b || a.to_bits() == b.to_bits(),
                    "{}[{i}]: {a} vs numpy {b}",
                    t.name
                );
            }
        }
    }
}
