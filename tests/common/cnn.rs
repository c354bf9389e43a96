//! Shared by the CNN kernel tests: random cases, one oracle comparison per op, and the
//! windows each table kernel takes. Included with `#[path]` so `common/mod.rs` stays as is.
#![allow(dead_code)]

use std::ops::Range;
use zeroskip::kernels::cnn::{
    reference, ConvParams, ConvWeights, DwConvParams, DwConvWeights, Window,
};
use zeroskip::kernels::{table, Clamp, Isa, Kernel, Op};
use zeroskip::synth::Rng;

/// The clamps every clamped kernel is checked with: none, ReLU, ReLU6 and a narrow band.
pub const CLAMPS: [Clamp; 4] = [
    Clamp::NONE,
    Clamp::RELU,
    Clamp::RELU6,
    Clamp {
        min: -0.25,
        max: 0.3,
    },
];

/// `v · by`: random inputs spread beyond [-1, 1].
pub fn scaled(mut v: Vec<f32>, by: f32) -> Vec<f32> {
    v.iter_mut().for_each(|a| *a *= by);
    v
}

/// Written into outputs before a kernel runs: any left after it were not written.
pub const SENTINEL: f32 = -12345.0;

/// Every CNN kernel whose op passes `keep`, with a check that wasm builds really carry SIMD
/// ones (for ops that have them) and the relaxed build relaxed ones.
pub fn cnn_kernels(keep: impl Fn(Op) -> bool) -> Vec<&'static Kernel> {
    let ks: Vec<_> = table()
        .iter()
        .filter(|k| !matches!(k.op, Op::Spmm | Op::Gemm | Op::Linear) && keep(k.op))
        .collect();
    assert!(!ks.is_empty(), "no kernel for this op");
    let has = |isa| ks.iter().any(|k| k.isa == isa);
    let simd_op = ks
        .iter()
        .any(|k| !matches!(k.op, Op::AvgPool | Op::MaxPool | Op::Softmax));
    if cfg!(target_arch = "wasm32") && simd_op {
        assert!(has(Isa::Simd128), "wasm build without SIMD128 kernels");
    }
    ks
}

/// Asserts the relaxed build lists relaxed variants of `op` (ops that multiply and add).
pub fn assert_relaxed_present(op: Op) {
    if cfg!(target_feature = "relaxed-simd") {
        assert!(
            table().iter().any(|k| k.op == op && k.isa == Isa::Relaxed),
            "relaxed build without relaxed {op:?}"
        );
    }
}

/// The windows `k` takes over an `h × w` input, with varied padding: symmetric "same",
/// none, TF-SAME (asymmetric on even sizes) and a lopsided one. General kernels also get
/// the fast paths' windows plus odd sizes, strides and dilation. Invalid ones (padded input
/// smaller than the kernel) are dropped later by the params constructor.
pub fn windows_for(k: &Kernel, h: usize, w: usize) -> Vec<Window> {
    let shapes: Vec<(usize, usize)> = match k.window {
        Some(ks) => vec![ks],
        None => vec![(3, 1), (3, 2), (5, 1), (5, 2), (1, 1), (7, 2)],
    };
    let mut wins = Vec::new();
    for (kk, s) in shapes {
        wins.push(Window::square(kk, s, kk / 2));
        wins.push(Window::square(kk, s, 0));
        wins.push(Window::new(kk, kk, s, s).same_upper(h, w));
        wins.push(Window::new(kk, kk, s, s).pads(0, kk - 1, kk / 2, 0));
    }
    if k.window.is_none() {
        wins.push(Window::new(2, 3, 1, 2).pads(1, 0, 0, 2));
        wins.push(Window::square(3, 1, 2).dilation(2, 2));
        wins.push(Window::new(3, 5, 3, 1).dilation(1, 3).pads(2, 6, 0, 1));
        wins.push(Window::new(4, 4, 2, 2).same_upper(h, w));
    }
    wins
}

/// Relative tolerance scale for a sum of products: 0 (exact) for kernels that add in the
/// reference's order with separate rounding, 8 ε for relaxed kernels, which may fuse
/// (measured ≤ 1.89 ε of Σ|w·x| over every depthwise and 3x3 conv case; the worst case of
/// `terms + 2` roundings would be far looser than anything seen).
pub fn sum_tol_scale(k: &Kernel) -> f32 {
    if k.isa == Isa::Relaxed {
        8.0 * f32::EPSILON
    } else {
        0.0
    }
}

fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|a| a.abs()).collect()
}

/// Compares `got` with `want` over the planes of `range` (each `plane` floats) with tolerance
/// `tol_scale · mag[i]`, and checks everything outside `range` still holds `SENTINEL`.
#[allow(clippy::too_many_arguments)]
pub fn compare_planes(
    name: &str,
    what: &str,
    got: &[f32],
    want: &[f32],
    mag: &[f32],
    tol_scale: f32,
    plane: usize,
    range: &Range<usize>,
) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let c = i / plane;
        if !range.contains(&c) {
            assert_eq!(
                g,
                SENTINEL,
                "{name} [{what}]: wrote outside the channel range at channel {c}, index {}",
                i % plane
            );
            continue;
        }
        let tol = tol_scale * mag[i];
        assert!(
            (g - w).abs() <= tol,
            "{name} [{what}]: channel {c}, index {} got {g} want {w} (tol {tol})",
            i % plane
        );
    }
}

/// One depthwise layer: `x (C, H, W) * w (C, KH, KW) + b (C)`.
#[derive(Debug, Clone)]
pub struct DwCase {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub win: Window,
    pub wt: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub x: Vec<f32>,
    pub clamp: Clamp,
    pub channels: Range<usize>,
}

impl DwCase {
    /// A random case, or `None` where the window does not fit the input.
    pub fn random(c: usize, h: usize, w: usize, win: Window, seed: u64) -> Option<DwCase> {
        DwConvParams::new("case", c, h, w, win).ok()?;
        let mut rng = Rng::new(seed);
        Some(DwCase {
            c,
            h,
            w,
            win,
            wt: rng.vec(c * win.kh * win.kw),
            bias: Some(rng.vec(c)),
            x: rng.vec(c * h * w),
            clamp: Clamp::NONE,
            channels: 0..c,
        })
    }
    pub fn clamp(mut self, clamp: Clamp) -> DwCase {
        self.clamp = clamp;
        self
    }
}

/// Runs `k` on `case`, compares with the oracle over the channel range and checks nothing
/// outside it was written.
pub fn check_dwconv(k: &Kernel, case: &DwCase, what: &str) {
    let (c, h, w, win) = (case.c, case.h, case.w, &case.win);
    let params = DwConvParams::new("case", c, h, w, *win).unwrap();
    let (oh, ow) = reference::out_hw(h, w, win);
    assert_eq!(
        (params.geometry().oh(), params.geometry().ow()),
        (oh, ow),
        "OH, OW for {win:?}"
    );
    let wts = DwConvWeights::pack("case", &case.wt, case.bias.as_deref(), params).unwrap();
    let mut got = vec![SENTINEL; c * oh * ow];
    k.run_dwconv(&wts, &case.x, &mut got, case.clamp, case.channels.clone())
        .unwrap_or_else(|e| panic!("{} [{what}]: {e}", k.name));
    let mut want = vec![0.0; c * oh * ow];
    reference::dwconv(
        &case.x,
        &case.wt,
        case.bias.as_deref(),
        &mut want,
        c,
        h,
        w,
        win,
        case.clamp,
    );
    let mut mag = vec![0.0; c * oh * ow];
    let abs_bias = case.bias.as_deref().map(abs);
    reference::dwconv(
        &abs(&case.x),
        &abs(&case.wt),
        abs_bias.as_deref(),
        &mut mag,
        c,
        h,
        w,
        win,
        Clamp::NONE,
    );
    let what = format!(
        "{what}: C={c} H={h} W={w} {win:?} clamp={:?} channels={:?}",
        case.clamp, case.channels
    );
    let tol = sum_tol_scale(k);
    compare_planes(
        k.name,
        &what,
        &got,
        &want,
        &mag,
        tol,
        oh * ow,
        &case.channels,
    );
}

/// One full conv: `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out)`.
#[derive(Debug, Clone)]
pub struct ConvCase {
    pub c_in: usize,
    pub c_out: usize,
    pub h: usize,
    pub w: usize,
    pub win: Window,
    pub wt: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub x: Vec<f32>,
    pub clamp: Clamp,
    pub out_channels: Range<usize>,
}

impl ConvCase {
    pub fn random(
        c_in: usize,
        c_out: usize,
        h: usize,
        w: usize,
        win: Window,
        seed: u64,
    ) -> Option<ConvCase> {
        ConvParams::new("case", c_in, c_out, h, w, win).ok()?;
        let mut rng = Rng::new(seed);
        Some(ConvCase {
            c_in,
            c_out,
            h,
            w,
            win,
            wt: rng.vec(c_out * c_in * win.kh * win.kw),
            bias: Some(rng.vec(c_out)),
            x: rng.vec(c_in * h * w),
            clamp: Clamp::NONE,
            out_channels: 0..c_out,
        })
    }
    pub fn clamp(mut self, clamp: Clamp) -> ConvCase {
        self.clamp = clamp;
        self
    }
}

pub fn check_conv(k: &Kernel, case: &ConvCase, what: &str) {
    let (ci, co, h, w, win) = (case.c_in, case.c_out, case.h, case.w, &case.win);
    let params = ConvParams::new("case", ci, co, h, w, *win).unwrap();
    let (oh, ow) = reference::out_hw(h, w, win);
    assert_eq!(
        (params.geometry().oh(), params.geometry().ow()),
        (oh, ow),
        "OH, OW for {win:?}"
    );
    let wts = ConvWeights::pack("case", &case.wt, case.bias.as_deref(), params).unwrap();
    let mut got = vec![SENTINEL; co * oh * ow];
    k.run_conv(
        &wts,
        &case.x,
        &mut got,
        case.clamp,
        case.out_channels.clone(),
    )
    .unwrap_or_else(|e| panic!("{} [{what}]: {e}", k.name));
    let mut want = vec![0.0; co * oh * ow];
    reference::conv(
        &case.x,
        &case.wt,
        case.bias.as_deref(),
        &mut want,
        ci,
        co,
        h,
        w,
        win,
        case.clamp,
    );
    let mut mag = vec![0.0; co * oh * ow];
    let abs_bias = case.bias.as_deref().map(abs);
    reference::conv(
        &abs(&case.x),
        &abs(&case.wt),
        abs_bias.as_deref(),
        &mut mag,
        ci,
        co,
        h,
        w,
        win,
        Clamp::NONE,
    );
    let what = format!(
        "{what}: C_in={ci} C_out={co} H={h} W={w} {win:?} clamp={:?} out={:?}",
        case.clamp, case.out_channels
    );
    let tol = sum_tol_scale(k);
    compare_planes(
        k.name,
        &what,
        &got,
        &want,
        &mag,
        tol,
        oh * ow,
        &case.out_channels,
    );
}

/// `k` (a dwconv kernel) on every window it takes over each `(C, H, W)` in `shapes`, the case
/// adjusted by `tweak`. Returns how many ran; at least one must.
pub fn check_dwconv_shapes(
    k: &Kernel,
    what: &str,
    shapes: &[(usize, usize, usize)],
    tweak: &impl Fn(DwCase) -> DwCase,
) -> usize {
    let mut n = 0;
    for (i, &(c, h, w)) in shapes.iter().enumerate() {
        for (j, win) in windows_for(k, h, w).into_iter().enumerate() {
            if let Some(case) = DwCase::random(c, h, w, win, (i * 100 + j) as u64) {
                check_dwconv(k, &tweak(case), what);
                n += 1;
            }
        }
    }
    assert!(n > 0, "{} [{what}]: no case fits", k.name);
    n
}

/// As `check_dwconv_shapes` for a full conv, shapes `(C_in, C_out, H, W)`.
pub fn check_conv_shapes(
    k: &Kernel,
    what: &str,
    shapes: &[(usize, usize, usize, usize)],
    tweak: &impl Fn(ConvCase) -> ConvCase,
) -> usize {
    let mut n = 0;
    for (i, &(ci, co, h, w)) in shapes.iter().enumerate() {
        for (j, win) in windows_for(k, h, w).into_iter().enumerate() {
            if let Some(case) = ConvCase::random(ci, co, h, w, win, (i * 100 + j) as u64) {
                check_conv(k, &tweak(case), what);
                n += 1;
            }
        }
    }
    assert!(n > 0, "{} [{what}]: no case fits", k.name);
    n
}

/// `check_dwconv_shapes` for every dwconv kernel.
pub fn check_all_dwconv(
    what: &str,
    shapes: &[(usize, usize, usize)],
    tweak: impl Fn(DwCase) -> DwCase,
) -> usize {
    assert_relaxed_present(Op::DwConv);
    cnn_kernels(|op| op == Op::DwConv)
        .into_iter()
        .map(|k| check_dwconv_shapes(k, what, shapes, &tweak))
        .sum()
}

/// `check_conv_shapes` for every full conv kernel.
pub fn check_all_conv(
    what: &str,
    shapes: &[(usize, usize, usize, usize)],
    tweak: impl Fn(ConvCase) -> ConvCase,
) -> usize {
    assert_relaxed_present(Op::Conv);
    cnn_kernels(|op| op == Op::Conv)
        .into_iter()
        .map(|k| check_conv_shapes(k, what, shapes, &tweak))
        .sum()
}
