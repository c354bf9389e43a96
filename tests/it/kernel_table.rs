//! The kernel table's own tests: every name parses back to its row, and one NAMED oracle test
//! per kernel, generated from the table by `zeroskip::for_each_kernel!` (`scalar::spmm_f32_8x4`,
//! `simd128::linear_q4_0_r4t1`, ...), which runs that kernel against its naive oracle across
//! the edge cases of its signature. Natively (scalar rows) and as wasm32 under Node (plus the
//! SIMD128 rows, and the relaxed rows in the relaxed build).

use crate::cnn;
use crate::common;
use crate::llm;
use std::collections::HashSet;
use zeroskip::kernels::{best, find, table, Isa, Kernel, KernelName, Op, Shape, Tile, WType};
use zeroskip::Error;

tests! {
    /// Every row: its name parses back to exactly its parameters and prints back to itself,
    /// is listed once, and its function's signature is the one its op runs through.
    fn every_name_parses_back_to_its_row() {
        let mut seen = HashSet::new();
        for k in table() {
            let parsed = KernelName::parse(k.name).unwrap_or_else(|e| panic!("{}: {e}", k.name));
            assert_eq!(parsed, k.parts(), "{}", k.name);
            assert_eq!(parsed.to_string(), k.name);
            assert!(seen.insert(k.name), "{} listed twice", k.name);
            assert_eq!(find(k.name).unwrap().name, k.name);
            let sigs: &[&str] = match k.op {
                Op::Spmm => &["Spmm"],
                Op::Gemm => &["Gemm"],
                Op::DwConv => &["DwConv"],
                Op::Conv => &["Conv"],
                Op::GAvgPool => &["GlobalPool"],
                Op::AvgPool | Op::MaxPool => &["Pool"],
                Op::Add | Op::Mul | Op::Sub => &["Binary"],
                Op::ChMul | Op::Prelu => &["ChannelMul"],
                Op::Affine => &["Affine"],
                Op::Softmax => &["Softmax"],
                Op::Copy | Op::Pad | Op::DepthToSpace | Op::Resize | Op::Slice | Op::ToHwc | Op::FromHwc => &["Layout"],
                Op::Clamp | Op::HardSigmoid | Op::HardSwish | Op::Sigmoid | Op::Tanh | Op::LeakyRelu => &["Act"],
                Op::Linear if k.wtype.sparse().is_some() => &["Sparse"],
                Op::Linear => &["Gemv", "Linear"],
            };
            assert!(sigs.contains(&k.signature()), "{}: signature {}", k.name, k.signature());
            // CNN rows are f32 with pixel tiles; LLM rows `r<R>t<T>`, decode bodies `t1`.
            match (k.op, k.tile) {
                (Op::Linear, Tile::Rows { t, .. }) => assert_eq!(t == 1, k.signature() == "Gemv" || (k.signature() == "Sparse" && t == 1), "{}", k.name),
                (Op::Linear, _) => panic!("{}: linear kernels have r<R>t<T> tiles", k.name),
                (_, Tile::Pixels { .. }) => assert_eq!(k.wtype, WType::F32, "{}", k.name),
                (_, _) => panic!("{}: CNN kernels have <MR>x<NR> tiles", k.name),
            }
            assert!(k.window.is_none() || matches!(k.op, Op::DwConv | Op::Conv), "{}", k.name);
        }
        // Each ISA group exists exactly in the builds that have it.
        let has = |isa| table().iter().any(|k| k.isa == isa);
        assert!(has(Isa::Scalar));
        assert_eq!(has(Isa::Simd128), cfg!(target_arch = "wasm32"));
        assert_eq!(has(Isa::Relaxed), cfg!(target_feature = "relaxed-simd"));
    }

    /// Names that are not one spelling of a row are refused, with the name in the error.
    fn bad_names_are_typed_errors() {
        for bad in [
            "", "spmm", "spmm_f32_8x4_scalar", "spmm_f32_8x4__avx", "spmm_f64_8x4__scalar",
            "spmm_f32_08x4__scalar", "spmm_f32_8x4___scalar", "dwconv_f32_8x1_3x5s1__simd128",
            "dwconv_f32_8x1_3x3__simd128", "linear_q4_0_r4__simd128", "linear_q4_r4t1__scalar",
            "act_clamp_f32_1x1__scalar", "dwconv_f32_any_scalar", "gemv_q4_0_r4_simd128",
        ] {
            assert!(matches!(KernelName::parse(bad), Err(Error::UnknownKernel { .. })), "{bad:?}");
            assert!(matches!(find(bad), Err(Error::UnknownKernel { .. })), "{bad:?}");
        }
        let p = KernelName::parse("dwconv_f32_8x1_5x5s2__relaxed").unwrap();
        assert_eq!((p.op, p.wtype, p.tile, p.window, p.isa), (Op::DwConv, WType::F32, Tile::Pixels { mr: 8, nr: 1 }, Some((5, 2)), Isa::Relaxed));
        let p = KernelName::parse("linear_q4_0_r32t16__simd128").unwrap();
        assert_eq!((p.op, p.wtype, p.tile, p.window), (Op::Linear, WType::Q4_0, Tile::Rows { r: 32, t: 16 }, None));
    }

    /// `best`: decode tiles for one token, prefill tiles for more; the window's fast path over
    /// the every-window kernel; never an ISA above the one asked for; a typed error for none.
    fn best_picks_by_shape() {
        for wtype in WType::ALL {
            let one = best(Op::Linear, wtype, Isa::best(), Shape::Tokens(1)).unwrap();
            let many = best(Op::Linear, wtype, Isa::best(), Shape::Tokens(9)).unwrap();
            assert!(matches!(one.tile, Tile::Rows { t: 1, .. }), "{one:?}");
            assert!(matches!(many.tile, Tile::Rows { t, .. } if t > 1), "{many:?}");
            let scalar = best(Op::Linear, wtype, Isa::Scalar, Shape::Tokens(1)).unwrap();
            assert_eq!(scalar.isa, Isa::Scalar);
        }
        let dw = best(Op::DwConv, WType::F32, Isa::best(), Shape::Window(3, 2)).unwrap();
        let want = if cfg!(target_arch = "wasm32") { Some((3, 2)) } else { None };
        assert_eq!(dw.window, want, "{dw:?}");
        let any = best(Op::DwConv, WType::F32, Isa::best(), Shape::Window(7, 3)).unwrap();
        assert_eq!(any.window, None);
        assert!(matches!(best(Op::Softmax, WType::Q4_0, Isa::best(), Shape::Any), Err(Error::UnknownKernel { .. })));
    }
}

/// The table row called `name` (the generated tests' entry point).
fn row(name: &str) -> &'static Kernel {
    find(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `for_each_kernel!` callback: one named test per row, in a module per ISA group (the
/// group's cfg included), calling the oracle of the row's signature.
macro_rules! oracle_tests {
    (#[$cfg:meta] $isa:ident, { $(($name:ident, $sig:ident, $f:expr)),* $(,)? }) => {
        #[$cfg]
        mod $isa {
            $(crate::tests! {
                fn $name() {
                    super::oracle::$sig(super::row(concat!(stringify!($name), "__", stringify!($isa))));
                }
            })*
        }
    };
}

zeroskip::for_each_kernel!(oracle_tests);

/// One oracle check per signature, across the edge cases the per-op suites use.
#[allow(non_snake_case)]
mod oracle {
    use super::cnn::*;
    use super::common::{check as check_1x1, Case};
    use super::llm;
    use std::ops::Range;
    use zeroskip::import::gguf::Gguf;
    use zeroskip::kernels::cnn::{reference, Activation, Layout, PoolParams, Tap, Window};
    use zeroskip::kernels::{Clamp, Isa, Kernel, Op, Tile};
    use zeroskip::llm::synth::{random_matrix, GgufWriter};
    use zeroskip::sparse::llm::SparseMatrix;
    use zeroskip::synth::Pattern::{Groups, Unstructured};
    use zeroskip::synth::Rng;

    /// 1x1 `spmm` / `gemm`: m < MR, ragged m, ragged n and c_out < NR, k = 1, all-zero and
    /// fully dense weights, all-zero blocks, clamp bounds, pixel sub-ranges.
    fn pointwise(k: &Kernel) {
        let (mr, nr) = (k.mr(), k.nr());
        let mut cases = Vec::new();
        for hw in [1, mr / 2 + 1, mr - 1]
            .into_iter()
            .filter(|&hw| hw >= 1 && hw < mr.max(2))
        {
            cases.push((
                "m < MR",
                Case::random(2 * nr + 1, 7, hw, 0.5, Unstructured, hw as u64),
            ));
        }
        for r in [1, 3, 5].into_iter().filter(|&r| r < mr) {
            cases.push((
                "m % MR != 0",
                Case::random(nr + 3, 11, 3 * mr + r, 0.6, Unstructured, r as u64),
            ));
        }
        for c_out in (1..nr.max(2)).flat_map(|r| [r, 2 * nr + r]) {
            cases.push((
                "n % NR != 0",
                Case::random(c_out, 9, mr + 5, 0.5, Groups(nr), c_out as u64),
            ));
        }
        cases.push((
            "k = 1",
            Case::random(3 * nr + 1, 1, 2 * mr + 3, 0.5, Unstructured, 7),
        ));
        cases.push((
            "dense",
            Case::random(2 * nr + 1, 33, 2 * mr + 1, 0.0, Unstructured, 1),
        ));
        cases.push((
            "all zero",
            Case::random(2 * nr + 1, 33, 2 * mr + 1, 1.0, Unstructured, 2).clamp(Clamp::RELU),
        ));
        let mut block = Case::random(4 * nr + 3, 17, mr + 7, 0.3, Unstructured, 4);
        block.w[nr * 17..2 * nr * 17].fill(0.0);
        cases.push(("zero block", block));
        for c in CLAMPS {
            cases.push((
                "clamp",
                Case::random(nr + 2, 40, mr + 3, 0.2, Unstructured, 9).clamp(c),
            ));
        }
        let hw = 5 * mr + 7;
        for (a, b) in [(0, 0), (3, hw - 2), (mr, 3 * mr), (hw - 1, hw)] {
            let mut c = Case::random(nr + 1, 19, hw, 0.5, Unstructured, a as u64);
            c.pixels = a..b;
            cases.push(("pixel range", c));
        }
        for (what, case) in &cases {
            check_1x1(k, case, what);
        }
    }

    pub fn Spmm(k: &Kernel) {
        pointwise(k)
    }

    pub fn Gemm(k: &Kernel) {
        pointwise(k)
    }

    /// Every window the kernel takes over tiny, odd, strided and one-pixel planes; a channel
    /// sub-range; clamps.
    pub fn DwConv(k: &Kernel) {
        let shapes = [
            (3, 2, 2),
            (2, 7, 9),
            (2, 9, 1),
            (2, 1, 9),
            (3, 15, 15),
            (2, 13, 9),
        ];
        check_dwconv_shapes(k, "shapes", &shapes, &|c| c);
        check_dwconv_shapes(k, "channel range", &[(7, 9, 11)], &|mut c| {
            c.channels = 2..5;
            c
        });
        for clamp in CLAMPS {
            check_dwconv_shapes(k, "clamp", &[(3, 10, 13)], &|c| c.clamp(clamp));
        }
    }

    pub fn Conv(k: &Kernel) {
        let shapes = [(3, 8, 7, 7), (1, 3, 2, 2), (3, 16, 9, 13), (2, 5, 1, 9)];
        check_conv_shapes(k, "shapes", &shapes, &|c| c);
        for clamp in CLAMPS {
            check_conv_shapes(k, "clamp", &[(3, 8, 10, 11)], &|c| c.clamp(clamp));
        }
    }

    /// Planes leaving every remainder after the 16- and 4-wide loops; a channel sub-range.
    pub fn GlobalPool(k: &Kernel) {
        for (i, (c, hw)) in [(1, 1), (3, 3), (2, 15), (2, 16), (2, 17), (9, 49), (4, 196)]
            .into_iter()
            .enumerate()
        {
            for range in [0..c, c / 2..c] {
                let x = Rng::new(i as u64).vec(c * hw);
                let mut got = vec![SENTINEL; c];
                k.run_gavgpool_channels(&x, &mut got, hw, range.clone())
                    .unwrap();
                let (mut want, mut mag) = (vec![0.0; c], vec![0.0; c]);
                reference::global_avg_pool(&x, &mut want, c, hw);
                let ax: Vec<f32> = x.iter().map(|v| v.abs()).collect();
                reference::global_avg_pool(&ax, &mut mag, c, hw);
                let tol = if k.isa == Isa::Scalar {
                    0.0
                } else {
                    // measured 0 in the SIMD128 build, 0.69 ε·mean|x| in the relaxed one
                    4.0 * f32::EPSILON
                };
                compare_planes(
                    k.name,
                    &format!("C={c} HW={hw}"),
                    &got,
                    &want,
                    &mag,
                    tol,
                    1,
                    &range,
                );
            }
        }
    }

    /// Add, mul, sub: lengths around the vector width, clamps, out of place and in place:
    /// exact.
    pub fn Binary(k: &Kernel) {
        for n in [0, 1, 3, 4, 5, 8, 17, 1001] {
            for clamp in CLAMPS {
                let mut rng = Rng::new(n as u64);
                let (a, b) = (scaled(rng.vec(n), 5.0), scaled(rng.vec(n), 5.0));
                let mut want = vec![0.0; n];
                match k.op {
                    Op::Add => reference::add(&a, &b, &mut want, clamp),
                    Op::Mul => want
                        .iter_mut()
                        .zip(a.iter().zip(&b))
                        .for_each(|(o, (p, q))| *o = clamp.apply(p * q)),
                    Op::Sub => want
                        .iter_mut()
                        .zip(a.iter().zip(&b))
                        .for_each(|(o, (p, q))| *o = clamp.apply(p - q)),
                    op => panic!("{}: {op:?} is not a binary op", k.name),
                }
                let mut got = vec![SENTINEL; n];
                k.run_binary(&a, &b, &mut got, clamp).unwrap();
                assert_eq!(got, want, "{} n={n} {clamp:?}", k.name);
                let mut acc = a.clone();
                k.run_binary_assign(&mut acc, &b, clamp).unwrap();
                assert_eq!(acc, want, "{} in place, n={n} {clamp:?}", k.name);
            }
        }
    }

    /// SE channel multiply and PRelu: planes around the vector width, channel sub-ranges
    /// (empty included), out of place and in place: exact.
    pub fn ChannelMul(k: &Kernel) {
        for (c, hw) in [(1, 1), (3, 3), (4, 4), (5, 7), (16, 49), (2, 197)] {
            for range in [0..c, 1.min(c)..c, 0..0] {
                let mut rng = Rng::new((c * hw) as u64);
                let (x, s) = (rng.vec(c * hw), rng.vec(c));
                let mut want = vec![0.0; c * hw];
                match k.op {
                    Op::ChMul => reference::channel_mul(&x, &s, &mut want, c, hw),
                    Op::Prelu => {
                        for (i, (o, &v)) in want.iter_mut().zip(&x).enumerate() {
                            *o = if v >= 0.0 { v } else { s[i / hw] * v };
                        }
                    }
                    op => panic!("{}: {op:?} is not a per-channel op", k.name),
                }
                let mut got = vec![SENTINEL; c * hw];
                k.run_chmul_channels(&x, &s, &mut got, hw, range.clone())
                    .unwrap();
                compare_planes(
                    k.name,
                    "chmul",
                    &got,
                    &want,
                    &vec![0.0; c * hw],
                    0.0,
                    hw,
                    &range,
                );
            }
        }
    }

    /// Per-channel affine: planes around the vector width, in place: exact.
    pub fn Affine(k: &Kernel) {
        for (c, hw) in [(1, 1), (3, 5), (4, 49), (2, 197)] {
            let mut rng = Rng::new((c * hw) as u64);
            let (x, scale, shift) = (rng.vec(c * hw), rng.vec(c), rng.vec(c));
            let want: Vec<f32> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| v * scale[i / hw] + shift[i / hw])
                .collect();
            let mut got = vec![SENTINEL; c * hw];
            k.run_affine(&x, &scale, &shift, &mut got, hw).unwrap();
            assert_eq!(got, want, "{} C={c} HW={hw}", k.name);
        }
        assert!(k
            .run_affine(&[0.0; 4], &[1.0; 2], &[1.0; 3], &mut [0.0; 4], 2)
            .is_err());
        assert!(k
            .run_affine(&[0.0; 3], &[1.0; 2], &[1.0; 2], &mut [0.0; 4], 2)
            .is_err());
    }

    /// The activations of the kernel's op, lengths around the vector width: exact for scalar
    /// and SIMD128 (sigmoid within 2e-6 of the libm formula), within one rounding of the
    /// multiply for relaxed kernels.
    pub fn Act(k: &Kernel) {
        let acts: &[Activation] = match k.op {
            Op::Clamp => &[
                Activation::RELU,
                Activation::RELU6,
                Activation::Clamp(Clamp {
                    min: -1.5,
                    max: 0.25,
                }),
            ],
            Op::HardSigmoid => &[
                Activation::HardSigmoid {
                    alpha: 0.2,
                    beta: 0.5,
                },
                Activation::HardSigmoid {
                    alpha: -0.7,
                    beta: 0.1,
                },
            ],
            Op::HardSwish => &[Activation::HardSwish],
            Op::Sigmoid => &[Activation::Sigmoid],
            Op::Tanh => &[Activation::Tanh],
            Op::LeakyRelu => &[
                Activation::LeakyRelu { alpha: 0.1 },
                Activation::LeakyRelu { alpha: -1.5 },
            ],
            op => panic!("{}: {op:?} is not an activation", k.name),
        };
        for &act in acts {
            for n in [0, 1, 3, 4, 5, 8, 1001] {
                let x = scaled(Rng::new(n as u64).vec(n), 8.0);
                let mut got = x.clone();
                k.run_act(&mut got, act).unwrap();
                for (&g, &xi) in got.iter().zip(&x) {
                    // `mul`: the product a relaxed kernel may fuse (one rounding of it).
                    let (want, mul) = match act {
                        Activation::Clamp(c) => (c.apply(xi), 0.0),
                        Activation::HardSigmoid { alpha, beta } => {
                            (reference::hardsigmoid(xi, alpha, beta), alpha * xi)
                        }
                        Activation::HardSwish => (reference::hardswish(xi), xi * xi / 6.0),
                        Activation::LeakyRelu { alpha } => {
                            (if xi >= 0.0 { xi } else { alpha * xi }, 0.0)
                        }
                        Activation::Sigmoid => (1.0 / (1.0 + (-xi).exp()), 0.0),
                        Activation::Tanh => (xi.tanh(), 0.0),
                    };
                    let tol = match act {
                        // measured 6.0e-8 on every build
                        Activation::Sigmoid => 3e-7,
                        _ if k.isa == Isa::Relaxed => f32::EPSILON * (mul.abs() + want.abs()),
                        _ => 0.0,
                    };
                    assert!(
                        (g - want).abs() <= tol,
                        "{} {act:?} n={n} x={xi}: {g} vs {want}",
                        k.name
                    );
                }
            }
        }
    }

    /// Pools: windows with partial borders, TF-SAME, a global window, tiny planes; channel
    /// sub-ranges; exact.
    pub fn Pool(k: &Kernel) {
        for (i, (c, h, w)) in [(3, 8, 8), (2, 7, 9), (2, 1, 5), (1, 2, 2)]
            .into_iter()
            .enumerate()
        {
            let wins = [
                Window::square(2, 2, 0),
                Window::square(3, 2, 1),
                Window::new(3, 3, 2, 2).same_upper(h, w),
                Window::new(2, 3, 1, 2).pads(1, 0, 0, 2),
                Window::new(h, w, 1, 1),
            ];
            for (j, win) in wins.into_iter().enumerate() {
                let Ok(p) = PoolParams::new("pool", c, h, w, win) else {
                    continue;
                };
                let (oh, ow) = reference::out_hw(h, w, &win);
                let x = scaled(Rng::new((i * 10 + j) as u64).vec(c * h * w), 3.0);
                let mut want = vec![0.0; c * oh * ow];
                match k.op {
                    Op::AvgPool => reference::avg_pool(&x, &mut want, c, h, w, &win),
                    _ => reference::max_pool(&x, &mut want, c, h, w, &win),
                }
                for range in [0..c, c - 1..c] {
                    let mut got = vec![SENTINEL; c * oh * ow];
                    k.run_pool_channels(&p, &x, &mut got, range.clone())
                        .unwrap();
                    let zeros = vec![0.0; got.len()];
                    compare_planes(
                        k.name,
                        &format!("C={c} H={h} W={w} {win:?}"),
                        &got,
                        &want,
                        &zeros,
                        0.0,
                        oh * ow,
                        &range,
                    );
                }
            }
        }
    }

    /// Exact against the oracle, sums to 1, and stays finite for huge logits.
    pub fn Softmax(k: &Kernel) {
        for (n, scale) in [(1, 1.0), (5, 1.0), (1000, 4.0), (1000, 1e4), (7, 1e30)] {
            let x = scaled(Rng::new(n as u64).vec(n), scale);
            let mut want = vec![0.0; n];
            reference::softmax(&x, &mut want);
            let mut got = vec![SENTINEL; n];
            k.run_softmax(&x, &mut got).unwrap();
            assert_eq!(got, want, "{} n={n} scale={scale}", k.name);
            assert!(
                got.iter().all(|v| v.is_finite() && *v >= 0.0),
                "{}: non-finite output",
                k.name
            );
            let s: f32 = got.iter().sum();
            assert!(
                // measured ≤ 0.2 · n·ε (2.4e-7) on every build
                (s - 1.0).abs() <= n as f32 * f32::EPSILON,
                "{}: sums to {s}",
                k.name
            );
        }
    }

    /// `y[c, r, q]` of a layout case's output.
    type Want<'a> = Box<dyn Fn(usize, usize, usize) -> f32 + 'a>;

    /// Data movement against a naive per-element index formula: one-pixel, odd and empty
    /// shapes, every pad side, strides, up- and downsampling taps.
    pub fn Layout(k: &Kernel) {
        let shapes = [[1, 1, 1], [3, 5, 7], [2, 1, 9], [4, 6, 2]];
        for (i, [c, h, w]) in shapes.into_iter().enumerate() {
            let x = Rng::new(i as u64).vec(c * h * w);
            let flat = |i: usize| x[i];
            let at = move |c: usize, r: usize, q: usize| flat((c * h + r) * w + q);
            // (params, y length, y[c, r, q] for the output shape [oc, oh, ow])
            let cases: Vec<(Layout, [usize; 3], Want)> = match k.op {
                Op::Copy => vec![(Layout::Copy { n: c * h * w }, [c, h, w], Box::new(at))],
                Op::Pad => [[0, 1, 2, 1, 0, 3], [2, 0, 0, 0, 0, 0], [0; 6]]
                    .into_iter()
                    .map(|pads| {
                        let [cl, t, l, ch, b, r] = pads;
                        let f = move |oc: usize, or: usize, oq: usize| {
                            let inside = (cl..cl + c).contains(&oc)
                                && (t..t + h).contains(&or)
                                && (l..l + w).contains(&oq);
                            if inside {
                                at(oc - cl, or - t, oq - l)
                            } else {
                                0.0
                            }
                        };
                        (
                            Layout::Pad { x: [c, h, w], pads },
                            [c + cl + ch, h + t + b, w + l + r],
                            Box::new(f) as Want,
                        )
                    })
                    .collect(),
                Op::DepthToSpace => [1, 2]
                    .into_iter()
                    .filter(|b| c % (b * b) == 0)
                    .map(|b| {
                        let oc = c / (b * b);
                        let f = move |y: usize, r: usize, q: usize| {
                            at(((r % b) * b + q % b) * oc + y, r / b, q / b)
                        };
                        (
                            Layout::DepthToSpace {
                                x: [c, h, w],
                                block: b,
                            },
                            [oc, h * b, w * b],
                            Box::new(f) as Want,
                        )
                    })
                    .collect(),
                Op::Resize => [(2 * h + 1, 2 * w), (h.div_ceil(2), 1)]
                    .into_iter()
                    .map(|(oh, ow)| {
                        // Taps from a plain half-pixel mapping; the kernel's job is the blend.
                        let taps = |n: usize, out: usize| -> Vec<Tap> {
                            (0..out)
                                .map(|o| {
                                    let src =
                                        ((o as f32 + 0.5) * n as f32 / out as f32 - 0.5).max(0.0);
                                    let lo = (src.floor() as usize).min(n - 1);
                                    (lo, (lo + 1).min(n - 1), src - src.floor())
                                })
                                .collect()
                        };
                        let (rows, cols) = (taps(h, oh), taps(w, ow));
                        let (rt, ct) = (rows.clone(), cols.clone());
                        let f = move |y: usize, r: usize, q: usize| {
                            let ((y0, y1, fy), (x0, x1, fx)) = (rt[r], ct[q]);
                            let top = at(y, y0, x0) + (at(y, y0, x1) - at(y, y0, x0)) * fx;
                            let bottom = at(y, y1, x0) + (at(y, y1, x1) - at(y, y1, x0)) * fx;
                            top + (bottom - top) * fy
                        };
                        (
                            Layout::Resize {
                                x: [c, h, w],
                                rows,
                                cols,
                            },
                            [c, oh, ow],
                            Box::new(f) as Want,
                        )
                    })
                    .collect(),
                Op::Slice => [
                    ([0, 0, 0], [1, 1, 1], [c, h, w]),
                    (
                        [c - 1, h / 2, 1.min(w - 1)],
                        [1, 2, 3],
                        [1, (h - h / 2).div_ceil(2), (w - 1.min(w - 1)).div_ceil(3)],
                    ),
                ]
                .into_iter()
                .map(|(begin, step, out)| {
                    let f = move |y: usize, r: usize, q: usize| {
                        at(
                            begin[0] + y * step[0],
                            begin[1] + r * step[1],
                            begin[2] + q * step[2],
                        )
                    };
                    (
                        Layout::Slice {
                            x: [c, h, w],
                            begin,
                            step,
                            out,
                        },
                        out,
                        Box::new(f) as Want,
                    )
                })
                .collect(),
                // HWC as a (1, H·W, C) tensor and back.
                Op::ToHwc => vec![(
                    Layout::ToHwc { x: [c, h, w] },
                    [1, h * w, c],
                    Box::new(move |_, p, y| at(y, p / w, p % w)),
                )],
                Op::FromHwc => vec![(
                    Layout::FromHwc { y: [c, h, w] },
                    [c, h, w],
                    Box::new(move |y, r, q| flat((r * w + q) * c + y)),
                )],
                op => panic!("{}: {op:?} is not a data-movement op", k.name),
            };
            for (params, [oc, oh, ow], want) in cases {
                let mut y = vec![SENTINEL; oc * oh * ow + 3];
                k.run_layout(&params, &x, &mut y).unwrap();
                for (j, &got) in y.iter().enumerate() {
                    let expect = if j < oc * oh * ow {
                        want(j / (oh * ow), j / ow % oh, j % ow)
                    } else {
                        SENTINEL
                    };
                    assert_eq!(got, expect, "{} {params:?} at {j}", k.name);
                }
            }
        }
    }

    /// Dense LLM product against the GGUF reader's dequantization then an f64 matmul: rows
    /// not a multiple of the row tile, token counts not a multiple of the token tile, row
    /// sub-ranges (rows outside untouched).
    fn dense_linear(k: &Kernel) {
        let ty = k.wtype.dense().expect("a dense weight type");
        let Tile::Rows { t: tile_t, .. } = k.tile else {
            panic!("{}: not an r<R>t<T> tile", k.name)
        };
        let tokens: &[usize] = if tile_t == 1 { &[1] } else { &[1, 3, 4, 9] };
        for (i, &(d, n)) in [(1, 32), (5, 64), (9, 96)].iter().enumerate() {
            let mut rng = Rng::new(71 + i as u64);
            let t = random_matrix(&mut rng, "w", d, n, ty, 0.5);
            let mut g = GgufWriter::new();
            g.tensor(t.clone());
            let bytes = g.finish();
            let w = Gguf::parse("synth.gguf", &bytes)
                .unwrap()
                .tensor("w")
                .unwrap()
                .dequantize()
                .unwrap();
            for &tok in tokens {
                for rows in [0..d, d / 2..d, 1.min(d)..d] {
                    let x = rng.vec(tok * n);
                    let want = llm::reference(&w, d, n, &x, tok);
                    let mut y = vec![f32::NAN; tok * d];
                    k.run_linear(&t.data, d, n, &x, tok, &mut y, rows.clone())
                        .unwrap();
                    check_rows(k, &y, &want, d, &rows, &format!("{d}×{n} t={tok}"));
                }
            }
        }
    }

    fn check_rows(
        k: &Kernel,
        y: &[f32],
        want: &[(f64, f64)],
        d: usize,
        rows: &Range<usize>,
        case: &str,
    ) {
        for (j, (&got, &(w, tol))) in y.iter().zip(want).enumerate() {
            if rows.contains(&(j % d)) {
                assert!(
                    (got as f64 - w).abs() <= tol,
                    "{} {case} [{j}]: {got} vs {w}",
                    k.name
                );
            } else {
                assert!(
                    got.is_nan(),
                    "{} {case}: row {} outside {rows:?} written",
                    k.name,
                    j % d
                );
            }
        }
    }

    pub fn Gemv(k: &Kernel) {
        dense_linear(k)
    }

    pub fn Linear(k: &Kernel) {
        dense_linear(k)
    }

    /// Sparse LLM product against `decode()` then an f64 matmul: all-dense, half and nearly
    /// all-zero weights, ragged row tiles and partial 32-blocks, token counts around the
    /// token tile, row sub-ranges.
    pub fn Sparse(k: &Kernel) {
        let f = k.wtype.sparse().expect("a sparse format");
        let Tile::Rows { t: tile_t, .. } = k.tile else {
            panic!("{}: not an r<R>t<T> tile", k.name)
        };
        let tokens: &[usize] = if tile_t == 1 { &[1] } else { &[1, 3, 4, 9, 17] };
        for (i, &(rows, units, sparsity)) in [(1, 1, 0.0), (5, 3, 0.5), (33, 4, 0.9), (40, 2, 1.0)]
            .iter()
            .enumerate()
        {
            let cols = llm::cols_for(f, units);
            let w = llm::random_w(&mut Rng::new(90 + i as u64), f, rows, cols, sparsity);
            let m = SparseMatrix::pack("w", f, &w, rows, cols).unwrap();
            for &t in tokens {
                for range in [0..rows, rows / 3..rows - rows / 4] {
                    llm::check(
                        k,
                        &m,
                        t,
                        range,
                        (i * 10 + t) as u64,
                        &format!("sparsity {sparsity}"),
                    );
                }
            }
        }
    }
}
