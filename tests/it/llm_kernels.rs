//! The sparse LLM formats (group 1×G int4/int8, 2:4 int8, CSR int8, column-major cm32i8/cm32i4
//! for activation sparsity) and their kernels, and the
//! dense GGUF GEMM: every registered kernel against `decode()` then an f64 matmul, across
//! edge cases; quantization error bounds; serialization round trips and hostile streams.
//! Natively (scalar) and as wasm32 under Node (scalar + SIMD128; relaxed in the relaxed build).
//!
//! `bench_gemv` (ignored) prints GEMV timings at SmolLM2-135M's shapes, the column-major
//! formats at several input sparsities vs dense Q4_0, Q4_1 and Q8_0:
//! `cargo test --target wasm32-unknown-unknown --release --test it -- --include-ignored llm_kernels::bench_gemv --nocapture`.

use crate::llm;

use llm::{check, check_x, cols_for, random_w};
use std::ops::Range;
use zeroskip::error::Error;
use zeroskip::kernels::llm::{best_dense, f16_finite, WeightType};
use zeroskip::kernels::{best, find, table, Isa, Kernel, Op, Shape, Tile, WType};
use zeroskip::llm::synth::random_matrix;
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::synth::Rng;

/// Declares tests that run natively (`#[test]`) and under wasm-bindgen-test in wasm32.
/// Attributes pass as raw tokens so that wasm_bindgen_test sees `#[ignore]`.
macro_rules! tests {
    ($($(#[$($meta:tt)*])* fn $name:ident() $body:block)*) => {$(
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        $(#[$($meta)*])*
        fn $name() $body
    )*};
}

/// println! natively, the console under wasm-bindgen-test (shown with `--nocapture`).
macro_rules! say {
    ($($t:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($t)*);
    }};
}

const G16I4: SparseFormat = SparseFormat::Group { g: 16, bits: 4 };
const G8I8: SparseFormat = SparseFormat::Group { g: 8, bits: 8 };
const CM8: SparseFormat = SparseFormat::Col { bits: 8 };
const CM4: SparseFormat = SparseFormat::Col { bits: 4 };

/// Decode (one token, `t1` tiles) or prefill (several tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LlmOp {
    Gemv,
    Gemm,
}

/// Which of the two a `linear` kernel's tile is.
fn llm_op(k: &Kernel) -> LlmOp {
    match k.tile {
        Tile::Rows { t: 1, .. } => LlmOp::Gemv,
        _ => LlmOp::Gemm,
    }
}

/// The table's kernel `best` picks for a sparse format and op.
fn best_sparse(f: SparseFormat, op: LlmOp) -> zeroskip::Result<&'static Kernel> {
    let t = if op == LlmOp::Gemv { 1 } else { 2 };
    best(
        Op::Linear,
        WType::of_sparse(f)?,
        Isa::best(),
        Shape::Tokens(t),
    )
}

/// Every sparse kernel of this build for `f` and `op` (with a check that wasm builds carry
/// SIMD ones).
fn kernels(f: SparseFormat, op: LlmOp) -> Vec<&'static Kernel> {
    let wtype = WType::of_sparse(f).unwrap();
    let ks: Vec<_> = table()
        .iter()
        .filter(|k| k.op == Op::Linear && k.wtype == wtype && llm_op(k) == op)
        .collect();
    assert!(ks.iter().any(|k| k.isa == Isa::Scalar));
    if cfg!(target_arch = "wasm32") {
        assert!(ks.iter().any(|k| k.isa == Isa::Simd128), "no SIMD128 {f:?}");
    }
    if cfg!(target_feature = "relaxed-simd") {
        assert!(ks.iter().any(|k| k.isa == Isa::Relaxed), "no relaxed {f:?}");
    }
    ks
}

/// Every kernel (GEMV at t = 1, GEMM at several t) of `m`'s format on `m`, all rows.
fn check_all(m: &SparseMatrix, seed: u64, case: &str) {
    for k in kernels(m.format, LlmOp::Gemv) {
        check(k, m, 1, 0..m.rows, seed, case);
    }
    for k in kernels(m.format, LlmOp::Gemm) {
        for t in [1, 3, 4, 6, 9] {
            check(k, m, t, 0..m.rows, seed + t as u64, case);
        }
    }
}

fn pack(f: SparseFormat, w: &[f32], rows: usize, cols: usize) -> SparseMatrix {
    SparseMatrix::pack("w", f, w, rows, cols).unwrap()
}

tests! {
    /// name() and parse() are inverses; junk is a typed error.
    fn format_names() {
        let names: Vec<_> = SparseFormat::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["g16i4", "g8i4", "g16i8", "g8i8", "nm24i8", "csr8", "cm32i8", "cm32i4"]);
        for f in SparseFormat::ALL {
            assert_eq!(SparseFormat::parse(&f.name()).unwrap(), f);
        }
        for junk in ["", "g16", "g12i4", "2:4", "csr", "g16i4 ", "cm32i2", "cm16i8", "cm32"] {
            assert!(matches!(SparseFormat::parse(junk), Err(Error::BadArgument { .. })), "{junk}");
        }
        let w = vec![1.0; 32];
        let bad = SparseFormat::Group { g: 12, bits: 4 };
        assert!(matches!(SparseMatrix::pack("w", bad, &w, 1, 32), Err(Error::Unsupported { .. })));
        let bad = SparseFormat::Col { bits: 2 };
        assert!(matches!(SparseMatrix::pack("w", bad, &w, 1, 32), Err(Error::Unsupported { .. })));
    }

    /// Kernel names follow the grammar; each format has all three ISAs' kernels in wasm.
    fn kernel_names() {
        for k in table().iter().filter(|k| k.op == Op::Linear) {
            let Tile::Rows { r, t } = k.tile else { panic!("{k:?}: not an r<R>t<T> tile") };
            if let Some(f) = k.wtype.sparse() {
                let col = matches!(f, SparseFormat::Col { .. });
                assert_eq!((r, t), match (col, llm_op(k)) {
                    (false, LlmOp::Gemv) => (1, 1),
                    (false, LlmOp::Gemm) => (1, 4),
                    (true, LlmOp::Gemv) => (32, 1),
                    (true, LlmOp::Gemm) => (32, 16),
                }, "{k:?}");
                let want = format!("linear_{}_r{r}t{t}__{}", f.name(), k.isa.as_str());
                assert_eq!(k.name, want);
                for op in [LlmOp::Gemv, LlmOp::Gemm] {
                    kernels(f, op);
                }
            } else {
                assert!(k.wtype.dense().is_some(), "{k:?}");
                assert!(k.name.starts_with("linear_") && k.name.ends_with(&format!("__{}", k.isa.as_str())), "{k:?}");
            }
            assert_eq!(find(k.name).unwrap().name, k.name);
        }
        let m = pack(G16I4, &[1.0; 16], 1, 16);
        assert_eq!(m.kernel_name(), format!("linear_g16i4_r1t1__{}", Isa::best().as_str()));
        let m = pack(CM4, &[1.0; 16], 1, 16);
        assert_eq!(m.kernel_name(), format!("linear_cm32i4_r32t1__{}", Isa::best().as_str()));
    }

    /// Random sparsity 0.3 / 0.5 / 0.9 at a few shapes, every kernel.
    fn random_sparsity() {
        for f in SparseFormat::ALL {
            for (i, s) in [0.3, 0.5, 0.9].into_iter().enumerate() {
                let (rows, cols) = (11, cols_for(f, 24) + if f == SparseFormat::Csr8 { 5 } else { 0 });
                let w = random_w(&mut Rng::new(i as u64), f, rows, cols, s);
                check_all(&pack(f, &w, rows, cols), 10 + i as u64, &format!("sparsity {s}"));
            }
        }
    }

    /// rows < R and rows not a multiple of R (1..=9 rows), and one pattern unit of columns.
    fn small_and_odd_shapes() {
        for f in SparseFormat::ALL {
            for rows in 1..=9 {
                for units in [1, 2, 8, 9] {
                    let cols = cols_for(f, units);
                    let w = random_w(&mut Rng::new(rows as u64), f, rows, cols, 0.4);
                    check_all(&pack(f, &w, rows, cols), rows as u64, &format!("rows {rows} units {units}"));
                }
            }
        }
    }

    /// Partial row ranges (including empty ones) leave other rows untouched.
    fn partial_row_ranges() {
        for f in SparseFormat::ALL {
            let (rows, cols) = (13, cols_for(f, 16));
            let m = pack(f, &random_w(&mut Rng::new(5), f, rows, cols, 0.5), rows, cols);
            for range in [0..13, 2..9, 5..6, 12..13, 3..3, 0..4] {
                for k in kernels(f, LlmOp::Gemv) {
                    check(k, &m, 1, range.clone(), 7, "partial rows");
                }
                for k in kernels(f, LlmOp::Gemm) {
                    check(k, &m, 5, range.clone(), 8, "partial rows");
                }
            }
        }
    }

    /// An all-zero row, a fully dense row (2:4: every run full), CSR empty rows.
    fn zero_and_dense_rows() {
        for f in SparseFormat::ALL {
            let (rows, cols) = (6, cols_for(f, 12));
            let mut w = random_w(&mut Rng::new(9), f, rows, cols, 0.5);
            w[..cols].fill(0.0); // row 0 empty
            w[4 * cols..5 * cols].fill(0.0); // row 4 empty
            for (c, v) in w[2 * cols..3 * cols].iter_mut().enumerate() {
                // row 2: dense (2:4: 2 of every 4)
                *v = if f == SparseFormat::TwoFour && c % 4 >= 2 { 0.0 } else { 0.25 + c as f32 / cols as f32 };
            }
            let m = pack(f, &w, rows, cols);
            check_all(&m, 3, "zero and dense rows");
            let dec = m.decode();
            assert!(dec[..cols].iter().all(|&v| v == 0.0), "{f:?}: empty row decodes to nonzeros");
        }
        let m = pack(SparseFormat::Csr8, &[0.0; 40], 4, 10);
        assert_eq!(m.nonzeros(), 0);
        check_all(&m, 1, "all rows empty");
    }

    /// 2:4 runs with 0, 1 (at every position) and 2 nonzeros (every pair), one row each kind.
    fn two_four_run_kinds() {
        let pairs: Vec<(usize, usize)> = (0..4).flat_map(|a| (a + 1..4).map(move |b| (a, b))).collect();
        let cols = 36; // one full 32-block and a partial one
        let mut w = vec![0.0f32; 3 * cols];
        for k in 0..cols / 4 {
            w[cols + 4 * k + k % 4] = 0.5 + k as f32 / 10.0;
            let (a, b) = pairs[k % 6];
            w[2 * cols + 4 * k + a] = -0.3 - k as f32 / 7.0;
            w[2 * cols + 4 * k + b] = 0.9 - k as f32 / 9.0;
        }
        let m = pack(SparseFormat::TwoFour, &w, 3, cols);
        assert_eq!(m.nonzeros(), 3 * cols / 2);
        check_all(&m, 4, "2:4 run kinds");
        let mut bad = w.clone();
        bad[2] = 1.0; // row 0: 1 nonzero; make run 0 of row 2 three
        bad[2 * cols..2 * cols + 3].fill(1.0);
        let e = SparseMatrix::pack("w", SparseFormat::TwoFour, &bad, 3, cols);
        assert!(matches!(e, Err(Error::BadArgument { .. })), "{e:?}");
    }

    /// Stored values within half a scale step of the f32 weights; group zeros inside kept
    /// groups within the same bound; pruned weights exactly zero.
    fn quantization_error_bounded() {
        // the column-major formats quantize down columns: col_quantization_error_bounded
        for f in SparseFormat::ALL.into_iter().filter(|f| !matches!(f, SparseFormat::Col { .. })) {
            let (rows, cols) = (7, cols_for(f, 16));
            let mut w = random_w(&mut Rng::new(21), f, rows, cols, 0.5);
            w.iter_mut().enumerate().for_each(|(i, v)| *v *= 1.0 + (i % 7) as f32); // varied scales
            let m = pack(f, &w, rows, cols);
            let dec = m.decode();
            let unit = match f {
                SparseFormat::Group { g, .. } => g,
                SparseFormat::TwoFour => 32,
                SparseFormat::Csr8 | SparseFormat::Col { .. } => cols,
            };
            for (blk, (wb, db)) in w.chunks(unit).zip(dec.chunks(unit)).enumerate() {
                let lo = wb.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = wb.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let amax = lo.abs().max(hi.abs());
                // one step: int4 at most (hi − lo)/8 (the packer picks the scale of least squared
                // error among range/k, k = 15..8; its min rounded down to a half moves it by at
                // most |lo|·2⁻¹⁰), int8 amax/127; f16 scales rounded by at most 2⁻¹⁰
                let step = match f {
                    SparseFormat::Group { bits: 4, .. } => ((hi - lo) + lo.abs() * 1e-3) / 8.0,
                    _ => amax / 127.0,
                } * (1.0 + 1e-3);
                if let (SparseFormat::Group { bits: 4, .. }, true) = (f, hi > lo) {
                    // and no worse, in squared error, than plain min/max rounding to 16 levels
                    let d15 = (hi - lo) / 15.0;
                    let plain: f32 = wb
                        .iter()
                        .map(|&v| (v - (lo + ((v - lo) / d15).round() * d15)).powi(2))
                        .sum();
                    let got: f32 = wb.iter().zip(db).map(|(a, b)| (a - b).powi(2)).sum();
                    let slack = wb.len() as f32 * (lo.abs() * 2e-3 + d15 * 2e-3).powi(2);
                    // measured up to 0.97 of this bound on every build
                    assert!(got <= plain * 1.05 + slack, "{f:?} block {blk}: SSE {got} > {plain}");
                }
                for (j, (&a, &b)) in wb.iter().zip(db).enumerate() {
                    let kept = match f {
                        SparseFormat::Group { .. } => wb.iter().any(|&v| v != 0.0),
                        _ => a != 0.0,
                    };
                    if !kept {
                        assert_eq!(b, 0.0, "{f:?} block {blk}: pruned weight {j} decodes to {b}");
                    } else {
                        let err = (a - b).abs();
                        // half a step: measured up to 0.9985 of it on every build
                        assert!(err <= step / 2.0 + 1e-6, "{f:?} block {blk} weight {j}: {a} → {b}, step {step}");
                    }
                }
            }
        }
    }

    /// write → read returns the same matrix, bit for bit, and the bytes consumed (trailing
    /// bytes ignored); nonzeros and n_bytes as expected.
    fn round_trip() {
        for f in SparseFormat::ALL {
            let (rows, cols) = (9, cols_for(f, 10));
            let m = pack(f, &random_w(&mut Rng::new(31), f, rows, cols, 0.5), rows, cols);
            let mut bytes = vec![];
            m.write(&mut bytes);
            assert_eq!(bytes.len(), 24 + m.n_bytes(), "{f:?}");
            let len = bytes.len();
            bytes.extend_from_slice(b"trailing");
            let (back, used) = SparseMatrix::read("w", &bytes).unwrap();
            assert_eq!(used, len);
            assert_eq!(back, m);
            assert_eq!(back.decode().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                       m.decode().iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            let mut again = vec![];
            back.write(&mut again);
            assert_eq!(again, bytes[..len]);
        }
    }

    /// Every truncation of a stream is a typed error.
    fn read_truncated() {
        for f in SparseFormat::ALL {
            let m = pack(f, &random_w(&mut Rng::new(41), f, 3, cols_for(f, 4), 0.5), 3, cols_for(f, 4));
            let mut bytes = vec![];
            m.write(&mut bytes);
            for cut in 0..bytes.len() {
                let e = SparseMatrix::read("trunc", &bytes[..cut]).unwrap_err();
                assert!(matches!(e, Error::MalformedSparse { ref tensor, .. } if tensor == "trunc"), "{f:?} cut {cut}: {e:?}");
            }
        }
    }

    /// Hostile headers and bodies: typed errors naming the tensor, no panic, no huge allocation.
    fn read_rejects_bad_streams() {
        let w = random_w(&mut Rng::new(51), G16I4, 4, 64, 0.3);
        let m = pack(G16I4, &w, 4, 64);
        let mut good = vec![];
        m.write(&mut good);
        let named = |e: &Error| match e {
            Error::MalformedSparse { tensor, .. }
            | Error::DimOutOfRange { tensor, .. }
            | Error::ShapeMismatch { tensor, .. }
            | Error::TooLarge { tensor, .. } => tensor == "bad",
            _ => false,
        };
        let expect_err = |bytes: &[u8], what: &str| {
            let e = SparseMatrix::read("bad", bytes).expect_err(what);
            assert!(named(&e), "{what}: {e:?}");
        };
        let patch = |at: usize, v: &[u8]| {
            let mut b = good.clone();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        expect_err(&patch(0, b"ZSLX"), "magic");
        expect_err(&patch(4, &[9]), "format tag");
        expect_err(&patch(5, &[12]), "G");
        expect_err(&patch(8, &(1u64 << 40).to_le_bytes()), "rows = 2^40");
        expect_err(&patch(8, &0u64.to_le_bytes()), "rows = 0");
        expect_err(&patch(16, &u64::MAX.to_le_bytes()), "cols = 2^64 − 1");
        expect_err(&patch(16, &60u64.to_le_bytes()), "cols not a multiple of G");
        expect_err(&patch(24, &(1u64 << 60).to_le_bytes()), "group count 2^60");
        let ng = m.nonzeros() / 16;
        let (rp, col) = (32, 32 + 4 * 5);
        expect_err(&patch(rp + 4, &100u32.to_le_bytes()), "row_ptr past the count");
        // row_ptr = [0, 3, 1, ...]: decreasing
        expect_err(&patch(rp + 4, &3u32.to_le_bytes()).iter().enumerate().map(|(i, &b)| if (rp + 8..rp + 12).contains(&i) { [1, 0, 0, 0][i - rp - 8] } else { b }).collect::<Vec<_>>(), "row_ptr decreases");
        expect_err(&patch(col, &4u16.to_le_bytes()), "group index 4 ≥ 64/16");
        expect_err(&patch(col + 2 * ng, &0x7c00u16.to_le_bytes()), "infinite scale");
        // CSR: a column index out of range
        let c = pack(SparseFormat::Csr8, &[1.0, 0.0, 2.0, 0.0, 0.0, 3.0], 2, 3);
        let mut b = vec![];
        c.write(&mut b);
        b[32 + 12] = 3; // first column index → 3 ≥ cols
        expect_err(&b, "CSR column out of range");
        // 2:4: positions not increasing (nibble p0 = 2, p1 = 1)
        let n = pack(SparseFormat::TwoFour, &[1.0, 0.0, 2.0, 0.0], 1, 4);
        let mut b = vec![];
        n.write(&mut b);
        b[24 + 2] = 2 | 1 << 2;
        expect_err(&b, "2:4 positions");
        // column-major: 2 tiles × 5 columns, d at 24, then q
        let c = pack(CM4, &random_w(&mut Rng::new(52), CM4, 40, 5, 0.0), 40, 5);
        let mut cm = vec![];
        c.write(&mut cm);
        assert_eq!(cm.len(), 24 + 2 * 5 * (2 + 16));
        let patch = |at: usize, v: &[u8]| {
            let mut b = cm.clone();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        expect_err(&patch(5, &[16]), "tile of 16 rows");
        expect_err(&patch(6, &[5]), "cm32 bits 5");
        expect_err(&patch(8, &(1u64 << 31).to_le_bytes()), "2^31 rows in a few bytes");
        expect_err(&patch(8, &u32::MAX.to_le_bytes()), "2^32 − 1 rows");
        expect_err(&patch(16, &((1u64 << 24) + 1).to_le_bytes()), "cols 2^24 + 1");
        expect_err(&patch(16, &0u64.to_le_bytes()), "cols 0");
        expect_err(&patch(16, &6u64.to_le_bytes()), "6 columns in the bytes of 5");
        expect_err(&patch(24 + 2 * 7, &0x7c00u16.to_le_bytes()), "infinite cm32 scale");
        expect_err(&patch(24 + 2 * 9, &0xfe00u16.to_le_bytes()), "NaN cm32 scale");
        // every value byte is valid: codes 15 decode to 7·d in rows 0..32 of column 0
        let (back, used) = SparseMatrix::read("w", &patch(24 + 20, &[0xff; 16])).unwrap();
        assert_eq!(used, cm.len());
        let d0 = f16_finite(u16::from_le_bytes([cm[24], cm[25]]));
        let dec = back.decode();
        assert!((0..32).all(|r| dec[r * 5] == 7.0 * d0), "{:?}", &dec[..10]);
    }

    /// Shape checks of run() and the convenience gemv()/gemm().
    fn run_checks_shapes() {
        let m = pack(G8I8, &random_w(&mut Rng::new(61), G8I8, 5, 32, 0.5), 5, 32);
        let x = vec![0.5; 64];
        let mut y = vec![0.0; 10];
        assert!(matches!(m.gemv(&x[..31], &mut y, 0..5), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(m.gemv(&x, &mut y[..4], 0..5), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(m.gemv(&x, &mut y, 0..6), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(m.gemm(&x, 3, &mut y), Err(Error::BufferTooSmall { .. })));
        m.gemm(&x, 2, &mut y).unwrap();
        let mut y1 = vec![0.0; 5];
        m.gemv(&x[..32], &mut y1, 0..5).unwrap();
        assert_eq!(y1, y[..5]);
        let k = find("linear_csr8_r1t1__scalar").unwrap();
        assert!(matches!(k.run_sparse(&m, &x, 1, &mut y, 0..5), Err(Error::Unsupported { .. })));
        let mut changed = m.clone();
        changed.rows = 7;
        assert!(matches!(changed.gemv(&x, &mut y, 0..7), Err(Error::MalformedSparse { .. })));
        let e = SparseMatrix::pack("w", G16I4, &[f32::NAN; 16], 1, 16);
        assert!(matches!(e, Err(Error::BadArgument { .. })));
        let e = SparseMatrix::pack("w", G16I4, &[1.0; 24], 1, 24);
        assert!(matches!(e, Err(Error::ShapeMismatch { .. })));
    }

    /// The dense GEMM's shape checks (its oracle test per kernel: tests/it/kernel_table.rs).
    fn dense_gemm() {
        let k = best_dense(WeightType::Q4_1).1;
        let mut y = vec![0.0; 8];
        assert!(matches!(k.run_linear(&[0; 40], 2, 32, &[0.0; 64], 2, &mut y, 0..2), Ok(())));
        assert!(matches!(k.run_linear(&[0; 39], 2, 32, &[0.0; 64], 2, &mut y, 0..2), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(k.run_linear(&[0; 40], 2, 32, &[0.0; 63], 2, &mut y, 0..2), Err(Error::BufferTooSmall { .. })));
        assert!(matches!(k.run_linear(&[0; 40], 2, 33, &[0.0; 66], 2, &mut y, 0..2), Err(Error::ShapeMismatch { .. })));
    }

    /// cm32, per (tile, column) of up to 32 weights: int8 within d/2 (d = max|w|/127 rounded
    /// up to a half); int4 within max|w|/8 (ggml Q4_0's worst case, its far side clamped at
    /// +7), with a squared error no worse than both Q4_0 (d = −m/8) and symmetric ±7 rounding
    /// (d = max|w|/7), up to the f16 rounding of d; stored zeros decode to exactly zero.
    fn col_quantization_error_bounded() {
        for f in [CM8, CM4] {
            for (rows, cols) in [(7, 19), (40, 33), (64, 8)] {
                let mut w = random_w(&mut Rng::new(22), f, rows, cols, 0.3);
                w.iter_mut().enumerate().for_each(|(i, v)| *v *= 1.0 + (i % cols % 5) as f32); // columns of varied scales
                let dec = pack(f, &w, rows, cols).decode();
                for t in 0..rows.div_ceil(32) {
                    for c in 0..cols {
                        let at: Vec<usize> = (32 * t..rows.min(32 * t + 32)).map(|r| r * cols + c).collect();
                        let v: Vec<f32> = at.iter().map(|&i| w[i]).collect();
                        let got: Vec<f32> = at.iter().map(|&i| dec[i]).collect();
                        let m = v.iter().fold(0.0f32, |a, &x| if x.abs() > a.abs() { x } else { a });
                        let amax = m.abs();
                        let bound = if f == CM8 { amax / 254.0 } else { amax / 8.0 } * (1.0 + 1e-3) + 1e-7;
                        for (j, (&a, &b)) in v.iter().zip(&got).enumerate() {
                            if a == 0.0 {
                                assert_eq!(b, 0.0, "{f:?} tile {t} col {c} row {j}: zero decodes to {b}");
                            }
                            // half a step: measured up to 0.9987 of it on every build
                            assert!((a - b).abs() <= bound, "{f:?} tile {t} col {c} row {j}: {a} → {b}, bound {bound}");
                        }
                        if f == CM4 && amax > 0.0 {
                            let sse = |d: f32| -> f32 {
                                v.iter().map(|&x| (x - (x / d).round().clamp(-8.0, 7.0) * d).powi(2)).sum()
                            };
                            let got_sse: f32 = v.iter().zip(&got).map(|(a, b)| (a - b).powi(2)).sum();
                            let best = sse(-m / 8.0).min(sse(amax / 7.0));
                            let slack = v.len() as f32 * (amax * 1e-3).powi(2);
                            // measured up to 0.9988 of this bound on every build
                            assert!(got_sse <= best * 1.01 + slack, "{f:?} tile {t} col {c}: SSE {got_sse} > {best}");
                        }
                    }
                }
            }
        }
    }

    /// The input-sparse cm32 GEMV (and the GEMM on the same inputs) against decode-then-matmul
    /// with the same zeros, in f64: all-zero x (y exactly 0), one nonzero (first, middle, last
    /// column: past the 2048-column chunk at 2500), dense x, 25/50/90% zeros; rows 1, 31, 33,
    /// 65, 100 × cols 1, 3, 17, 1030, 2500; row ranges starting and ending mid-tile.
    fn col_gemv_input_sparsity() {
        // per output: |y − ref| ≤ TOL · Σ|w·x|; the largest measured ratio over this test is
        // 1.5e-7 (native scalar, wasm SIMD128 and relaxed alike): TOL is about 3× that
        const TOL: f64 = 5e-7;
        for f in [CM8, CM4] {
            for rows in [1, 31, 33, 65, 100] {
                for cols in [1, 3, 17, 1030, 2500] {
                    let mut rng = Rng::new((rows * 7919 + cols) as u64);
                    let m = pack(f, &random_w(&mut rng, f, rows, cols, 0.0), rows, cols);
                    let dec = m.decode();
                    let dense = rng.vec(cols);
                    let mut cases: Vec<(String, Vec<f32>)> =
                        vec![("all zero".into(), vec![0.0; cols]), ("dense".into(), dense.clone())];
                    for pos in [0, cols / 2, cols - 1] {
                        let mut x = vec![0.0; cols];
                        x[pos] = dense[pos];
                        cases.push((format!("one nonzero at {pos}"), x));
                    }
                    for z in [0.25, 0.5, 0.9] {
                        let x = dense.iter().map(|&v| if (rng.uniform() + 1.0) / 2.0 < z { 0.0 } else { v }).collect();
                        cases.push((format!("{z} zeros"), x));
                    }
                    let mut ranges = vec![0..rows, rows / 3..rows - rows / 4, rows - 1..rows, 0..1];
                    if rows > 33 {
                        ranges.extend([31..33, 5..rows - 7]);
                    }
                    for (case, x) in &cases {
                        let want: Vec<(f64, f64)> = (0..rows)
                            .map(|r| {
                                let row = &dec[r * cols..(r + 1) * cols];
                                let s = row.iter().zip(x).map(|(&w, &x)| w as f64 * x as f64).sum();
                                let mag: f64 = row.iter().zip(x).map(|(&w, &x)| (w as f64 * x as f64).abs()).sum();
                                (s, mag)
                            })
                            .collect();
                        let cmp = |k: &Kernel, y: &[f32], range: &Range<usize>| {
                            for (r, &got) in y.iter().enumerate() {
                                if !range.contains(&r) {
                                    assert!(got.is_nan(), "{k:?} {case}: row {r} outside {range:?} written");
                                    continue;
                                }
                                let (w, mag) = want[r];
                                if mag == 0.0 {
                                    assert_eq!(got, 0.0, "{k:?} {case} ({rows}×{cols}) row {r}: not exactly zero");
                                }
                                assert!((got as f64 - w).abs() <= TOL * mag,
                                    "{k:?} {case} ({rows}×{cols}) row {r}: {got} vs {w} (error/Σ|wx| {:.2e})",
                                    (got as f64 - w).abs() / mag);
                            }
                        };
                        for k in kernels(f, LlmOp::Gemv).into_iter().chain(kernels(f, LlmOp::Gemm)) {
                            for range in &ranges {
                                let mut y = vec![f32::NAN; rows];
                                k.run_sparse(&m, x, 1, &mut y, range.clone()).unwrap();
                                cmp(k, &y, range);
                            }
                        }
                    }
                    // GEMM over all cases as tokens (t = 8), all rows and a mid-tile range
                    let xs: Vec<f32> = cases.iter().flat_map(|(_, x)| x.iter().copied()).collect();
                    for k in kernels(f, LlmOp::Gemm) {
                        for range in [0..rows, rows / 3..rows - rows / 4] {
                            check_x(k, &m, &xs, cases.len(), range, "cm32 GEMM, sparse tokens");
                        }
                    }
                }
            }
        }
    }

    /// GEMV µs per call at SmolLM2-135M's shapes: cm32i8 / cm32i4 at input sparsity 0–75%
    /// beside dense Q4_0, Q4_1 and Q8_0 (this build's best kernels), with each one's speed
    /// as a multiple of Q4_0's, and the same product through the prefill GEMM at t = 1; then
    /// GEMM per token at t = 16.
    #[ignore]
    fn bench_gemv() {
        fn now_ms() -> f64 {
            #[cfg(target_arch = "wasm32")]
            return js_sys::Date::now();
            #[cfg(not(target_arch = "wasm32"))]
            return std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1e3;
        }
        /// µs per call: the best of 5 runs of ≥ 50 ms each (Date.now() counts whole ms in wasm).
        fn time(mut f: impl FnMut()) -> f64 {
            f();
            let mut n = 1usize;
            loop {
                let t0 = now_ms();
                (0..n).for_each(|_| f());
                if now_ms() - t0 >= 50.0 {
                    break;
                }
                n *= 2;
            }
            (0..5).map(|_| {
                let t0 = now_ms();
                (0..n).for_each(|_| f());
                (now_ms() - t0) * 1e3 / n as f64
            }).fold(f64::INFINITY, f64::min)
        }
        say!("| shape d×n | op | weights | x zeros | µs/call | speed vs Q4_0 |");
        say!("|---|---|---|---|---|---|");
        for (d, n) in [(576, 576), (192, 576), (1536, 576), (576, 1536)] {
            let mut rng = Rng::new(1);
            let x = rng.vec(16 * n);
            let mut y = vec![0.0; 16 * d];
            let row = |op: &str, what: &str, z: &str, us: f64, base: f64| {
                say!("| {d}×{n} | {op} | {what} | {z} | {us:.1} | {:.2}× |", base / us);
            };
            let mut base = 0.0;
            let mut dense = vec![];
            for ty in [WeightType::Q4_0, WeightType::Q4_1, WeightType::Q8_0] {
                let t = random_matrix(&mut rng, "w", d, n, ty, 0.5);
                let k = best_dense(ty).0;
                let us = time(|| k.run_linear(&t.data, d, n, &x[..n], 1, &mut y[..d], 0..d).unwrap());
                if ty == WeightType::Q4_0 {
                    base = us;
                }
                row("gemv", &format!("{} ({})", ty.name(), k.name), "dense", us, base);
                // Decode through the prefill body (GEMV as GEMM with one token): what keeping
                // the separate `t1` bodies buys.
                let g = best_dense(ty).1;
                let us1 = time(|| g.run_linear(&t.data, d, n, &x[..n], 1, &mut y[..d], 0..d).unwrap());
                row("gemm t=1", &format!("{} ({})", ty.name(), g.name), "dense", us1, base);
                dense.push(t);
            }
            let mats: Vec<SparseMatrix> = [CM8, CM4].iter().map(|&f| pack(f, &rng.vec(d * n), d, n)).collect();
            for m in &mats {
                let k = best_sparse(m.format, LlmOp::Gemv).unwrap();
                for z in [0, 25, 50, 75] {
                    // exactly z% of the inputs zero, at random places
                    let mut xz = x[..n].to_vec();
                    let mut idx: Vec<usize> = (0..n).collect();
                    for i in 0..n * z / 100 {
                        let j = i + rng.below(n - i);
                        idx.swap(i, j);
                        xz[idx[i]] = 0.0;
                    }
                    let us = time(|| k.run_sparse(m, &xz, 1, &mut y[..d], 0..d).unwrap());
                    row("gemv", &format!("{} ({})", m.format.name(), k.name), &format!("{z}%"), us, base);
                }
            }
            let k = best_dense(WeightType::Q4_0).1;
            let g0 = time(|| k.run_linear(&dense[0].data, d, n, &x, 16, &mut y, 0..d).unwrap()) / 16.0;
            row("gemm t=16, per token", &format!("Q4_0 ({})", k.name), "dense", g0, base);
            for m in &mats {
                let k = best_sparse(m.format, LlmOp::Gemm).unwrap();
                let us = time(|| k.run_sparse(m, &x, 16, &mut y, 0..d).unwrap()) / 16.0;
                row("gemm t=16, per token", &format!("{} ({})", m.format.name(), k.name), "dense", us, base);
            }
        }
    }
}
