//! The GPU linear layers of the LLM (src/gpu/llm/linear.rs) against the CPU kernels
//! (`Linear::gemv` / `Linear::gemm`, and `decode_row` for the gather), shared by the native
//! suite (tests/gpu/gpu_llm_linear.rs, Mesa lavapipe) and the browser suite
//! (tests/gpu_browser.rs, Chromium's SwiftShader).
//!
//! Every format with a shader, on shapes with rows not a multiple of any row tile, one row,
//! one block / group of columns; t = 1, 2, 5, 16; plain and offset / strided / accumulating
//! I/O; all-zero inputs; empty sparse rows; matrices cut into several parts; the cm32
//! column-skipping decode at 0%, 40% and 100% zero inputs through `compact`.
//!
//! Error measure: per output, |GPU − CPU| / Σ_c |w_c·x_c| (+ |y| it accumulates into): the
//! magnitude of the terms summed, since sums that cancel make an output itself tiny.
//! Measured at most 2.3e-7 on lavapipe and on SwiftShader (f32 sums in another order, and
//! the devices' fused multiply-adds in the decode): dense 1.5e-7 / 1.3e-7, sparse 2.3e-7,
//! cm32 skip 1.3e-7 (lavapipe / SwiftShader); the bound is 1e-6.
#![allow(dead_code)]

#[path = "llm.rs"]
mod llm;

use zeroskip::gpu::llm::linear::{compact, GpuLinear, LinearIo, RowSplit};
use zeroskip::gpu::llm::{run_specs, Init, OpSpec, State};
use zeroskip::gpu::GpuContext;
use zeroskip::import::gguf::Gguf;
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::synth::{llama_gguf, random_matrix, random_vector, tiny_config};
use zeroskip::llm::weights::{decode_row, Linear, LlamaWeights, QMatrix};
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::synth::Rng;
use zeroskip::Error;

#[cfg(target_arch = "wasm32")]
macro_rules! log {
    ($($t:tt)*) => { wasm_bindgen_test::console_log!($($t)*) };
}
#[cfg(not(target_arch = "wasm32"))]
macro_rules! log {
    ($($t:tt)*) => { println!($($t)*) };
}

/// |GPU − CPU| / Σ|w·x| bound (measured 2.3e-7).
pub const TOL: f32 = 1e-6;

/// Binding limit of the single-part cases (parts are tested with small limits).
const BIG: u64 = 128 << 20;

/// A dense `rows × cols` matrix of `ty` with random blocks, as the GGUF loader sees it: the
/// embedding table of a layerless model. Returns the matrix and the file it indexes.
pub fn dense(ty: WeightType, rows: usize, cols: usize, seed: u64) -> (QMatrix, Vec<u8>) {
    let mut cfg = tiny_config(0, cols, 1, 1, rows);
    cfg.rope_dim = 2;
    let mut rng = Rng::new(seed);
    let t = vec![
        random_matrix(&mut rng, "token_embd.weight", rows, cols, ty, 1.0),
        random_vector(&mut rng, "output_norm.weight", cols, 1.0),
    ];
    let bytes = llama_gguf(&cfg, t);
    let w = {
        let g = Gguf::parse("synth.gguf", &bytes).unwrap();
        LlamaWeights::locate(&cfg, &g).unwrap()
    };
    let w = w.with_file(bytes).unwrap();
    (w.token_embd.clone(), w.file().to_vec())
}

/// A random sparse matrix of `f`, about `sparsity` zero; `empty` rows are all zero.
pub fn sparse(
    f: SparseFormat,
    rows: usize,
    cols: usize,
    sparsity: f32,
    empty: &[usize],
    seed: u64,
) -> SparseMatrix {
    let mut rng = Rng::new(seed);
    let mut w = llm::random_w(&mut rng, f, rows, cols, sparsity);
    for &r in empty {
        w[r * cols..(r + 1) * cols].fill(0.0);
    }
    SparseMatrix::pack("w", f, &w, rows, cols).unwrap()
}

/// The I/O layouts of a call: plain, odd offsets / strides with accumulate, and offsets /
/// strides that keep every token on a vec4.
pub fn ios(rows: usize, cols: usize) -> [LinearIo; 3] {
    [
        LinearIo {
            x_off: 0,
            x_stride: cols as u32,
            y_off: 0,
            y_stride: rows as u32,
            acc: false,
            tokens: None,
        },
        LinearIo {
            x_off: 3,
            x_stride: cols as u32 + 5,
            y_off: 7,
            y_stride: rows as u32 + 2,
            acc: true,
            tokens: None,
        },
        LinearIo {
            x_off: 8,
            x_stride: cols.next_multiple_of(4) as u32 + 4,
            y_off: 1,
            y_stride: rows as u32,
            acc: false,
            tokens: None,
        },
    ]
}

/// One GPU call of `lin` on `x (t, cols)` with `io` (cut at `max_binding`), once for each
/// [`RowSplit`]; `skip`: the cm32 decode through `compact` (t = 1). Checks every output against
/// the CPU kernel and that nothing else in y changed; returns the error (see the module doc).
#[allow(clippy::too_many_arguments)]
pub async fn check_call(
    ctx: &GpuContext,
    lin: &Linear,
    file: &[u8],
    x: &[f32],
    t: usize,
    io: LinearIo,
    max_binding: u64,
    skip: bool,
    what: &str,
) -> f32 {
    let g = GpuLinear::pack(lin, file, max_binding).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut err = 0.0f32;
    for split in [RowSplit::Spread, RowSplit::PerRow] {
        let g = g.clone().split(split);
        let what = format!("{what}, {split:?}");
        err = err.max(check_split(ctx, lin, &g, file, x, t, io, skip, &what).await);
    }
    err
}

#[allow(clippy::too_many_arguments)]
async fn check_split(
    ctx: &GpuContext,
    lin: &Linear,
    g: &GpuLinear,
    file: &[u8],
    x: &[f32],
    t: usize,
    io: LinearIo,
    skip: bool,
    what: &str,
) -> f32 {
    let (rows, cols) = (lin.rows(), lin.cols());
    let run_t = io.tokens.map_or(t, |n| n as usize);
    // x and y as the call sees them: tokens at offsets and strides, filler around them
    let mut rng = Rng::new(5);
    // whole vec4s (the group shaders bind x as vec4s)
    let xlen = io.x_off as usize + t * io.x_stride as usize + 1;
    let mut xb = rng.vec(xlen.next_multiple_of(4));
    for tok in 0..t {
        let at = io.x_off as usize + tok * io.x_stride as usize;
        xb[at..at + cols].copy_from_slice(&x[tok * cols..(tok + 1) * cols]);
    }
    let y0 = rng.vec(io.y_off as usize + t * io.y_stride as usize + 3);
    let mut want_cpu = vec![0.0f32; run_t * rows];
    if run_t == 1 {
        lin.gemv(file, &x[..cols], &mut want_cpu).unwrap();
    } else {
        lin.gemm(file, &x[..run_t * cols], run_t, &mut want_cpu)
            .unwrap();
    }
    let mut inits = vec![Init::f32(&xb), Init::f32(&y0)];
    let nz = skip.then(|| {
        inits.push(Init(vec![0; 4 * (cols + 1)]));
        inits.len() - 1
    });
    let mut specs: Vec<OpSpec<usize>> = Vec::new();
    if let Some(nz) = nz {
        assert!(g.skips_zero_inputs(), "{what}: skip on {}", g.wtype);
        specs.push(compact(0, io.x_off, cols as u32, nz));
    }
    for p in &g.parts {
        inits.push(Init(p.bytes.clone()));
        specs.push(p.call(0, inits.len() - 1, 1, nz, io));
    }
    let state = State {
        t: t as u32,
        ..State::default()
    };
    let mut read = vec![1];
    read.extend(nz);
    let out = run_specs(ctx, &specs, &inits, state, &read)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let got: Vec<f32> = out[0].iter().map(|&b| f32::from_bits(b)).collect();
    if let Some(list) = out.get(1) {
        let want: Vec<u32> = (0..cols as u32).filter(|&j| x[j as usize] != 0.0).collect();
        assert_eq!(list[0] as usize, want.len(), "{what}: nonzero count");
        assert_eq!(&list[1..1 + want.len()], &want[..], "{what}: nonzero list");
    }
    // each entry's magnitude: Σ|w||x| of its sum (and the |y| it adds to)
    let w = decoded(lin, file);
    let mut expect = y0.clone();
    let mut mag = vec![0.0f32; expect.len()];
    for tok in 0..run_t {
        for r in 0..rows {
            let at = io.y_off as usize + tok * io.y_stride as usize + r;
            let v = want_cpu[tok * rows + r];
            expect[at] = if io.acc { y0[at] + v } else { v };
            let xr = &x[tok * cols..(tok + 1) * cols];
            mag[at] = w[r * cols..(r + 1) * cols]
                .iter()
                .zip(xr)
                .map(|(a, b)| (a * b).abs())
                .sum::<f32>()
                + if io.acc { y0[at].abs() } else { 0.0 };
        }
    }
    let mut err = 0.0f32;
    for (i, (&gv, &ev)) in got[..expect.len()].iter().zip(&expect).enumerate() {
        let d = (gv - ev).abs();
        let rel = if d == 0.0 { 0.0 } else { d / mag[i].max(1e-30) };
        assert!(
            rel <= TOL && gv.is_finite(),
            "{what} ({rows}×{cols} {}, t={t}, {io:?}, {} parts): y[{i}] = {gv}, want {ev} \
             (|Δ| / Σ|w·x| = {rel:e})",
            g.wtype,
            g.parts.len()
        );
        err = err.max(rel);
    }
    err
}

/// `W (rows, cols)` as the kernels' f32 values.
fn decoded(lin: &Linear, file: &[u8]) -> Vec<f32> {
    match lin {
        Linear::Sparse(m) => m.decode(),
        Linear::Dense(m) => {
            let mut w = vec![0.0f32; m.rows * m.cols];
            for (r, o) in w.chunks_exact_mut(m.cols).enumerate() {
                decode_row(m.ty, &m.data(file)[r * m.row_bytes()..][..m.row_bytes()], o);
            }
            w
        }
    }
}

/// Random x (t, cols), or zeros.
fn xs(t: usize, cols: usize, zero: bool, seed: u64) -> Vec<f32> {
    if zero {
        vec![0.0; t * cols]
    } else {
        Rng::new(seed).vec(t * cols)
    }
}

/// Every dense GGUF type: shapes with rows not a multiple of the row tile, one row, one block;
/// t = 1, 2, 5, 16; both I/O layouts; zero inputs; a fixed token count (the LM head's 1 in a
/// call of 5).
pub async fn dense_linear(ctx: &GpuContext) {
    let mut worst = 0.0f32;
    for ty in WeightType::ALL {
        let odd = matches!(ty, WeightType::F32 | WeightType::F16);
        let mut shapes = vec![(1, 32), (5, 32), (37, 64), (70, 160)];
        if odd {
            shapes.extend([(3, 1), (19, 33)]);
        }
        for (i, &(rows, cols)) in shapes.iter().enumerate() {
            let (m, file) = dense(ty, rows, cols, 10 + i as u64);
            let lin = Linear::Dense(m);
            for t in [1, 2, 5, 16] {
                for (k, io) in ios(rows, cols).into_iter().enumerate() {
                    let x = xs(t, cols, false, (7 * t + k) as u64);
                    let what = format!("{ty:?}");
                    let e = check_call(ctx, &lin, &file, &x, t, io, BIG, false, &what).await;
                    worst = worst.max(e);
                }
            }
            let io = ios(rows, cols)[1];
            let x = xs(5, cols, true, 0);
            check_call(ctx, &lin, &file, &x, 5, io, BIG, false, "zero x").await;
            let one = LinearIo {
                tokens: Some(1),
                ..io
            };
            let x = xs(5, cols, false, 3);
            check_call(ctx, &lin, &file, &x, 5, one, BIG, false, "tokens 1").await;
        }
    }
    log!("dense linear: max |Δ| / Σ|w·x| = {worst:e}");
}

/// The sparse formats with shaders (group, 2:4, cm32 through every column): as
/// [`dense_linear`], plus a row with no kept weight.
pub async fn sparse_linear(ctx: &GpuContext) {
    let mut worst = 0.0f32;
    for f in formats() {
        let unit = match f {
            SparseFormat::Group { g, .. } => g,
            SparseFormat::TwoFour => 4,
            _ => 1,
        };
        let shapes = [(1, unit.max(32)), (5, unit), (37, 64), (70, 8 * unit + 96)];
        for (i, &(rows, cols)) in shapes.iter().enumerate() {
            let empty: Vec<usize> = if rows > 4 { vec![0, 3] } else { vec![] };
            let m = sparse(f, rows, cols, 0.5, &empty, 20 + i as u64);
            let lin = Linear::Sparse(m);
            for t in [1, 2, 5, 16] {
                for (k, io) in ios(rows, cols).into_iter().enumerate() {
                    let x = xs(t, cols, false, (11 * t + k) as u64);
                    let what = f.name();
                    let e = check_call(ctx, &lin, &[], &x, t, io, BIG, false, &what).await;
                    worst = worst.max(e);
                }
            }
            let io = ios(rows, cols)[1];
            let x = xs(2, cols, true, 0);
            check_call(ctx, &lin, &[], &x, 2, io, BIG, false, "zero x").await;
        }
    }
    log!("sparse linear: max |Δ| / Σ|w·x| = {worst:e}");
}

/// The sparse formats with a shader.
fn formats() -> Vec<SparseFormat> {
    SparseFormat::ALL
        .into_iter()
        .filter(|f| *f != SparseFormat::Csr8)
        .collect()
}

/// The cm32 decode over `compact`'s list of x's nonzeros: 0%, 40% and 100% zero inputs, and
/// the list itself against the CPU's.
pub async fn col_skip(ctx: &GpuContext) {
    let mut worst = 0.0f32;
    for bits in [8, 4] {
        let f = SparseFormat::Col { bits };
        for (i, &(rows, cols)) in [(1, 1), (37, 65), (70, 300), (64, 700)].iter().enumerate() {
            let m = sparse(f, rows, cols, 0.3, &[], 40 + i as u64);
            let lin = Linear::Sparse(m);
            for zeros in [0.0, 0.4, 1.0] {
                let mut rng = Rng::new(9 + i as u64);
                let x: Vec<f32> = rng
                    .vec(cols)
                    .into_iter()
                    .map(|v| if (v + 1.0) / 2.0 < zeros { 0.0 } else { v })
                    .collect();
                for io in ios(rows, cols) {
                    let what = format!("{} skip, {zeros} zeros", f.name());
                    let e = check_call(ctx, &lin, &[], &x, 1, io, BIG, true, &what).await;
                    worst = worst.max(e);
                }
            }
        }
    }
    log!("cm32 skip: max |Δ| / Σ|w·x| = {worst:e}");
}

/// Matrices cut into several parts by a small binding limit, every format, decode and
/// prefill (and the cm32 skip).
pub async fn parts(ctx: &GpuContext) {
    let (rows, cols) = (100, 64);
    let mut cases: Vec<(Linear, Vec<u8>)> = WeightType::ALL
        .into_iter()
        .map(|ty| {
            let (m, file) = dense(ty, rows, cols, 60);
            (Linear::Dense(m), file)
        })
        .collect();
    for f in formats() {
        cases.push((Linear::Sparse(sparse(f, rows, cols, 0.5, &[2], 61)), vec![]));
    }
    for (lin, file) in &cases {
        let whole = GpuLinear::pack(lin, file, BIG).unwrap();
        let max = (whole.parts[0].bytes.len() / 3) as u64;
        let g = GpuLinear::pack(lin, file, max).unwrap();
        assert!(g.parts.len() >= 3, "{}: {} parts", g.wtype, g.parts.len());
        assert_eq!(g.parts.first().unwrap().rows.start, 0);
        assert_eq!(g.parts.last().unwrap().rows.end, rows);
        for (a, b) in g.parts.iter().zip(&g.parts[1..]) {
            assert_eq!(
                a.rows.end, b.rows.start,
                "{}: parts are contiguous",
                g.wtype
            );
        }
        for p in &g.parts {
            assert!(p.bytes.len() as u64 <= max && p.bytes.len() % 4 == 0);
        }
        for t in [1, 5] {
            for io in ios(rows, cols) {
                let x = xs(t, cols, false, t as u64);
                check_call(ctx, lin, file, &x, t, io, max, false, "parts").await;
            }
        }
        if g.skips_zero_inputs() {
            let mut x = xs(1, cols, false, 2);
            x.iter_mut().step_by(3).for_each(|v| *v = 0.0);
            check_call(
                ctx,
                lin,
                file,
                &x,
                1,
                ios(rows, cols)[1],
                max,
                true,
                "parts skip",
            )
            .await;
        }
    }
}

/// The embedding gather of every dense type, bit for bit: first and last rows, repeats, in one
/// part and in several (each part writes only its own tokens' rows).
pub async fn gather(ctx: &GpuContext) {
    for ty in WeightType::ALL {
        let (rows, cols) = (50, if ty.block_len() == 1 { 33 } else { 64 });
        let (m, file) = dense(ty, rows, cols, 70);
        let tokens = [0u32, rows as u32 - 1, 17, 0, rows as u32 - 1];
        for max in [BIG, (m.n_bytes() / 4) as u64] {
            let g = GpuLinear::pack_dense(&m, &file, max).unwrap();
            let y0 = Rng::new(1).vec(tokens.len() * cols);
            // bound in whole vec4s, as the shader reads it
            let mut tb = tokens.to_vec();
            tb.resize(tokens.len().next_multiple_of(4), 0);
            let mut inits = vec![Init::u32(&tb), Init::f32(&y0)];
            let mut specs = Vec::new();
            for p in &g.parts {
                inits.push(Init(p.bytes.clone()));
                specs.push(p.gather(0, inits.len() - 1, 1).unwrap());
            }
            let state = State {
                t: tokens.len() as u32,
                ..State::default()
            };
            let out = run_specs(ctx, &specs, &inits, state, &[1]).await.unwrap();
            let mut row = vec![0.0f32; cols];
            let mut worst = 0.0f32;
            for (tok, &r) in tokens.iter().enumerate() {
                decode_row(
                    ty,
                    &m.data(&file)[r as usize * m.row_bytes()..][..m.row_bytes()],
                    &mut row,
                );
                for (c, &want) in row.iter().enumerate() {
                    let got = f32::from_bits(out[0][tok * cols + c]);
                    // exact on lavapipe and SwiftShader (measured 0); a device that fused
                    // q·d + m into one rounding would differ in the last bit
                    let rel = (got - want).abs() / want.abs().max(1e-30);
                    worst = worst.max(rel);
                    let ok = got.to_bits() == want.to_bits();
                    assert!(
                        ok,
                        "{ty:?} gather ({} parts): token {tok} row {r} col {c}: {got} vs {want}",
                        g.parts.len()
                    );
                }
            }
            log!(
                "{ty:?} gather ({} parts): max |Δ|/|w| = {worst:e}",
                g.parts.len()
            );
        }
    }
}

/// Typed errors: csr8 has no shader, a row over the binding limit, a gather of a sparse matrix.
pub async fn errors(_ctx: &GpuContext) {
    let m = sparse(SparseFormat::Csr8, 4, 32, 0.5, &[], 1);
    match GpuLinear::pack(&Linear::Sparse(m), &[], BIG) {
        Err(Error::Unsupported { what, value, .. }) => {
            assert!(what.contains('w') && value == "csr8", "{what}: {value}")
        }
        other => panic!("csr8: {other:?}"),
    }
    let (m, file) = dense(WeightType::Q4_0, 4, 64, 2);
    let e = GpuLinear::pack_dense(&m, &file, 20).unwrap_err();
    assert!(matches!(e, Error::DimOutOfRange { .. }), "{e}");
    let g = sparse(SparseFormat::Group { g: 16, bits: 4 }, 4, 32, 0.5, &[], 3);
    let g = GpuLinear::pack(&Linear::Sparse(g), &[], BIG).unwrap();
    let e = g.parts[0].gather(0usize, 1, 2).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(!g.skips_zero_inputs());
}

/// Milliseconds since some fixed moment.
fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static T0: OnceLock<std::time::Instant> = OnceLock::new();
        T0.get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1e3
    }
}

/// Decode GEMV time of SmolLM2's FFN shapes (1536×576, 576×1536): Q4_0, g16i4 at 50%
/// sparsity, cm32i8 with 40% zero inputs (compact included). Each: REPS dispatches in one
/// command buffer minus one, so upload and readback cancel. Prints; asserts nothing.
pub async fn timing(ctx: &GpuContext) {
    const REPS: usize = 40;
    for (rows, cols) in [(1536, 576), (576, 1536)] {
        let (q4, file) = dense(WeightType::Q4_0, rows, cols, 80);
        let g16 = Linear::Sparse(sparse(
            SparseFormat::Group { g: 16, bits: 4 },
            rows,
            cols,
            0.5,
            &[],
            81,
        ));
        let cm = Linear::Sparse(sparse(
            SparseFormat::Col { bits: 8 },
            rows,
            cols,
            0.0,
            &[],
            82,
        ));
        let mut rng = Rng::new(83);
        let x: Vec<f32> = rng.vec(cols);
        let x40: Vec<f32> = x
            .iter()
            .map(|&v| if (v + 1.0) / 2.0 < 0.4 { 0.0 } else { v })
            .collect();
        let mut line = format!("decode GEMV {rows}×{cols} on {}:", ctx.adapter_info().name);
        for (name, lin, f, skip, x) in [
            ("q4_0", &Linear::Dense(q4.clone()), &file[..], false, &x),
            ("g16i4 50%", &g16, &[][..], false, &x),
            ("cm32i8 40% zero x", &cm, &[][..], true, &x40),
        ] {
            let g = GpuLinear::pack(lin, f, BIG).unwrap();
            let io = ios(rows, cols)[0];
            let mut inits = vec![
                Init::f32(x),
                Init::zeros(rows),
                Init(vec![0; 4 * (cols + 1)]),
            ];
            let mut one: Vec<OpSpec<usize>> = Vec::new();
            if skip {
                one.push(compact(0, 0, cols as u32, 2));
            }
            for p in &g.parts {
                inits.push(Init(p.bytes.clone()));
                one.push(p.call(0, inits.len() - 1, 1, skip.then_some(2), io));
            }
            let many: Vec<OpSpec<usize>> = (0..REPS).flat_map(|_| one.clone()).collect();
            let st = State {
                t: 1,
                ..State::default()
            };
            run_specs(ctx, &one, &inits, st, &[1]).await.unwrap(); // compile
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let t0 = now_ms();
                run_specs(ctx, &one, &inits, st, &[1]).await.unwrap();
                let t1 = now_ms();
                run_specs(ctx, &many, &inits, st, &[1]).await.unwrap();
                let t2 = now_ms();
                best = best.min(((t2 - t1) - (t1 - t0)) / (REPS - 1) as f64);
            }
            line += &format!(" {name} {best:.3} ms;");
        }
        log!("{line}");
    }
}
