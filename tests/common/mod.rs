//! Shared by the kernel tests: one oracle comparison used for every kernel and case, so each
//! table kernel gets the same suite natively and as wasm32 (SIMD128 / relaxed) under Node.
#![allow(dead_code)]

use zeroskip::dense::DenseWeights;
use zeroskip::kernels::{reference, table, Clamp, Isa, Kernel, Op};
use zeroskip::sparse::SpmmWeights;
use zeroskip::synth::{sparse_weights, Pattern, Rng};

/// Declares tests that run natively (`#[test]`) and under wasm-bindgen-test in wasm32.
#[macro_export]
macro_rules! tests {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$meta])*
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        fn $name() $body
    )*};
}

/// One layer to check: `W (c_out, c_in) @ X (c_in, hw) + b`.
#[derive(Debug, Clone)]
pub struct Case {
    pub c_out: usize,
    pub c_in: usize,
    pub hw: usize,
    pub w: Vec<f32>,
    pub bias: Vec<f32>,
    pub x: Vec<f32>,
    pub clamp: Clamp,
    /// Pixels the kernel is asked for; outputs outside must stay untouched.
    pub pixels: std::ops::Range<usize>,
}

impl Case {
    pub fn random(
        c_out: usize,
        c_in: usize,
        hw: usize,
        sparsity: f64,
        pattern: Pattern,
        seed: u64,
    ) -> Case {
        let mut rng = Rng::new(seed);
        let w = sparse_weights(&mut rng, c_out, c_in, sparsity, pattern);
        Case {
            c_out,
            c_in,
            hw,
            bias: rng.vec(c_out),
            x: rng.vec(c_in * hw),
            w,
            clamp: Clamp::NONE,
            pixels: 0..hw,
        }
    }
    pub fn clamp(mut self, clamp: Clamp) -> Case {
        self.clamp = clamp;
        self
    }
}

/// Every kernel of `op` in this build, with a check that wasm builds really carry SIMD ones.
pub fn kernels(op: Op) -> Vec<&'static Kernel> {
    let ks: Vec<_> = table().iter().filter(|k| k.op == op).collect();
    if cfg!(target_arch = "wasm32") {
        assert!(
            ks.iter().any(|k| k.isa == Isa::Simd128),
            "wasm build without SIMD128 kernels"
        );
    }
    if cfg!(target_feature = "relaxed-simd") {
        assert!(
            ks.iter().any(|k| k.isa == Isa::Relaxed),
            "relaxed build without relaxed kernels"
        );
    }
    ks
}

/// Runs `k` on `case` and compares with the oracle. Scalar and SIMD128 kernels add the same
/// products in the same order as the oracle, so they must match exactly; the relaxed kernels
/// may fuse: 8 ε of `|W| @ |X| + |b|` (measured ≤ 1.86 ε over every case, c_in 1 to 4096;
/// the worst case, `c_in + 1` roundings, would be up to 500× looser than anything seen).
pub fn check(k: &Kernel, case: &Case, what: &str) {
    let (c_out, c_in, hw) = (case.c_out, case.c_in, case.hw);
    let sentinel = -12345.0f32;
    let mut got = vec![sentinel; c_out * hw];
    match k.op {
        Op::Spmm => {
            let packed =
                SpmmWeights::pack("case", &case.w, Some(&case.bias), c_out, c_in, k.nr()).unwrap();
            let layer = packed.bind(hw).unwrap();
            k.run_spmm(&layer, &case.x, &mut got, case.clamp, case.pixels.clone())
                .unwrap();
        }
        Op::Gemm => {
            let packed =
                DenseWeights::pack("case", &case.w, Some(&case.bias), c_out, c_in, k.nr()).unwrap();
            k.run_gemm(
                &packed,
                hw,
                &case.x,
                &mut got,
                case.clamp,
                case.pixels.clone(),
            )
            .unwrap();
        }
        op => panic!("{k:?}: {op:?} is not a 1x1 op"),
    }
    let mut want = vec![0.0; c_out * hw];
    reference::conv1x1_chw(
        &case.w,
        Some(&case.bias),
        &case.x,
        &mut want,
        c_out,
        c_in,
        hw,
        case.clamp,
    );
    // |W| @ |X| + |b|: the scale of each output's rounding error.
    let abs = |v: &[f32]| v.iter().map(|a| a.abs()).collect::<Vec<_>>();
    let mut mag = vec![0.0; c_out * hw];
    reference::conv1x1_chw(
        &abs(&case.w),
        Some(&abs(&case.bias)),
        &abs(&case.x),
        &mut mag,
        c_out,
        c_in,
        hw,
        Clamp::NONE,
    );
    let tol_scale = if k.isa == Isa::Relaxed {
        8.0 * f32::EPSILON
    } else {
        0.0
    };
    for o in 0..c_out {
        for p in 0..hw {
            let i = o * hw + p;
            if !case.pixels.contains(&p) {
                assert_eq!(
                    got[i], sentinel,
                    "{} [{what}]: wrote outside the pixel range at (channel {o}, pixel {p})",
                    k.name
                );
                continue;
            }
            let tol = tol_scale * mag[i];
            assert!(
                (got[i] - want[i]).abs() <= tol,
                "{} [{what}] c_out={c_out} c_in={c_in} hw={hw} pixels={:?}: (channel {o}, pixel {p}) got {} want {} (tol {tol})",
                k.name,
                case.pixels,
                got[i],
                want[i]
            );
        }
    }
}

/// `check` for every kernel of `op`; returns how many ran.
pub fn check_all(op: Op, what: &str, make: impl Fn(&Kernel) -> Vec<Case>) -> usize {
    let mut n = 0;
    for k in kernels(op) {
        for case in make(k) {
            check(k, &case, what);
            n += 1;
        }
    }
    assert!(n > 0, "{what}: no kernel ran");
    n
}
pub mod onnx;
pub mod zoo;

/// Asserts `a` and `b` have the same length and differ elementwise by at most
/// `rel · max(1, max |b|)`: equal up to the order of f32 additions (GEMM vs GEMV kernels).
pub fn assert_close(a: &[f32], b: &[f32], rel: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= rel * scale,
        "{what}: max |diff| {worst} > {rel} · {scale}"
    );
}
