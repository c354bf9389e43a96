//! Checked shapes for the windowed CNN ops (depthwise conv, full conv, pools), CHW, batch 1.
//!
//! A `Window` is what a model file spells out (kernel, stride, pads, dilation) and is not
//! trusted; `Geometry::new` checks it against an input plane and computes the output plane.
//! The op params (`DwConvParams`, `ConvParams`, `PoolParams`) add channel counts and can only
//! be built through their checked constructors, so every kernel may size loops from them.

use crate::error::{Error, Result};

/// Largest single dimension accepted (H, W, kernel, stride, pad, dilation): far beyond any
/// image model, and small enough that products of two never overflow `usize` on wasm32.
pub const MAX_DIM: usize = 1 << 15;

/// Largest tensor (input, output or weights) in elements: keeps every index far from overflow
/// and refuses absurd sizes before anything is allocated. Same limit as the 1x1 weights.
pub const MAX_ELEMS: u64 = 1 << 28;

/// A 2-D sliding window as ONNX Conv / Pool attributes spell it. Unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub kh: usize,
    pub kw: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub pad_bottom: usize,
    pub pad_right: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
}

impl Window {
    /// `kh × kw`, strides `stride_h, stride_w`, no padding, no dilation.
    pub fn new(kh: usize, kw: usize, stride_h: usize, stride_w: usize) -> Window {
        Window {
            kh,
            kw,
            stride_h,
            stride_w,
            pad_top: 0,
            pad_left: 0,
            pad_bottom: 0,
            pad_right: 0,
            dilation_h: 1,
            dilation_w: 1,
        }
    }

    /// `k × k`, stride `s`, the same pad `p` on every side (PyTorch-exported models).
    pub fn square(k: usize, s: usize, p: usize) -> Window {
        Window::new(k, k, s, s).pads(p, p, p, p)
    }

    /// Explicit pads in ONNX's order: top, left, bottom, right (begins, then ends).
    pub fn pads(self, top: usize, left: usize, bottom: usize, right: usize) -> Window {
        Window {
            pad_top: top,
            pad_left: left,
            pad_bottom: bottom,
            pad_right: right,
            ..self
        }
    }

    pub fn dilation(self, dilation_h: usize, dilation_w: usize) -> Window {
        Window {
            dilation_h,
            dilation_w,
            ..self
        }
    }

    /// TF `SAME` (ONNX `SAME_UPPER`) pads for an `h × w` input: the output is `ceil(h / s)` ×
    /// `ceil(w / s)`, and an odd total pad puts the extra row / column at the bottom / right.
    /// Saturates on absurd values; `Geometry::new` then rejects them.
    pub fn same_upper(self, h: usize, w: usize) -> Window {
        let total = |n: usize, k: usize, s: usize, d: usize| {
            let extent = k.saturating_sub(1).saturating_mul(d).saturating_add(1);
            let out = n.div_ceil(s.max(1));
            (out.saturating_sub(1).saturating_mul(s))
                .saturating_add(extent)
                .saturating_sub(n)
        };
        let th = total(h, self.kh, self.stride_h, self.dilation_h);
        let tw = total(w, self.kw, self.stride_w, self.dilation_w);
        self.pads(th / 2, tw / 2, th - th / 2, tw - tw / 2)
    }

    /// Rows the dilated kernel spans: `(kh - 1) · dilation_h + 1`.
    pub fn extent_h(&self) -> usize {
        (self.kh - 1) * self.dilation_h + 1
    }

    /// Columns the dilated kernel spans: `(kw - 1) · dilation_w + 1`.
    pub fn extent_w(&self) -> usize {
        (self.kw - 1) * self.dilation_w + 1
    }
}

/// A window checked against one `h × w` input plane, with its `oh × ow` output plane.
///
/// Invariants: every dim is in `1..=MAX_DIM` (pads in `0..=MAX_DIM`), every pad is smaller
/// than the dilated kernel's extent on its axis, and the output is at least 1 × 1. Without
/// dilation this means every output sees at least one real input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// Checks `win` over an `h × w` input; `name` (the tensor or node) goes into errors.
    pub fn new(name: &str, h: usize, w: usize, win: Window) -> Result<Geometry> {
        let dims = [
            ("H", h),
            ("W", w),
            ("kernel height", win.kh),
            ("kernel width", win.kw),
            ("stride_h", win.stride_h),
            ("stride_w", win.stride_w),
            ("dilation_h", win.dilation_h),
            ("dilation_w", win.dilation_w),
        ];
        for (what, v) in dims {
            check_dim(name, what, v, 1)?;
        }
        for (what, v) in [
            ("pad_top", win.pad_top),
            ("pad_left", win.pad_left),
            ("pad_bottom", win.pad_bottom),
            ("pad_right", win.pad_right),
        ] {
            check_dim(name, what, v, 0)?;
        }
        // Both factors ≤ 2^15, so these products fit even a 32-bit usize.
        let (eh, ew) = (win.extent_h(), win.extent_w());
        for (what, pad, extent) in [
            ("pad_top", win.pad_top, eh),
            ("pad_bottom", win.pad_bottom, eh),
            ("pad_left", win.pad_left, ew),
            ("pad_right", win.pad_right, ew),
        ] {
            if pad >= extent {
                return Err(Error::DimOutOfRange {
                    tensor: name.into(),
                    what: what.into(),
                    value: pad as u64,
                    limit: format!(
                        "< dilated kernel extent {extent}, or an output would see only padding"
                    ),
                });
            }
        }
        let (ph, pw) = (
            h + win.pad_top + win.pad_bottom,
            w + win.pad_left + win.pad_right,
        );
        for (what, padded, extent) in [("padded H", ph, eh), ("padded W", pw, ew)] {
            if padded < extent {
                return Err(Error::DimOutOfRange {
                    tensor: name.into(),
                    what: what.into(),
                    value: padded as u64,
                    limit: format!("≥ dilated kernel extent {extent}, or the output is empty"),
                });
            }
        }
        Ok(Geometry {
            h,
            w,
            win,
            oh: (ph - eh) / win.stride_h + 1,
            ow: (pw - ew) / win.stride_w + 1,
        })
    }

    pub fn h(&self) -> usize {
        self.h
    }
    pub fn w(&self) -> usize {
        self.w
    }
    pub fn oh(&self) -> usize {
        self.oh
    }
    pub fn ow(&self) -> usize {
        self.ow
    }
    pub fn window(&self) -> &Window {
        &self.win
    }
    /// True for a `k × k` window at stride `s` in both directions without dilation: the
    /// shapes the SIMD fast paths handle (any padding).
    pub fn is_square(&self, k: usize, s: usize) -> bool {
        let w = &self.win;
        (
            w.kh,
            w.kw,
            w.stride_h,
            w.stride_w,
            w.dilation_h,
            w.dilation_w,
        ) == (k, k, s, s, 1, 1)
    }
}

fn check_dim(name: &str, what: &str, v: usize, min: usize) -> Result<()> {
    if v < min || v > MAX_DIM {
        return Err(Error::DimOutOfRange {
            tensor: name.into(),
            what: what.into(),
            value: v as u64,
            limit: format!("{min} ≤ {what} ≤ {MAX_DIM}"),
        });
    }
    Ok(())
}

/// Refuses `Π dims > MAX_ELEMS` (in u64, so the check itself cannot overflow).
fn check_elems(name: &str, what: &str, dims: &[usize]) -> Result<()> {
    let n = dims
        .iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d as u64));
    if n > MAX_ELEMS {
        return Err(Error::DimOutOfRange {
            tensor: name.into(),
            what: what.into(),
            value: n,
            limit: format!("≤ {MAX_ELEMS} elements"),
        });
    }
    Ok(())
}

/// Depthwise conv: `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DwConvParams {
    channels: usize,
    geo: Geometry,
}

impl DwConvParams {
    pub fn new(name: &str, channels: usize, h: usize, w: usize, win: Window) -> Result<Self> {
        check_dim(name, "channels", channels, 1)?;
        let geo = Geometry::new(name, h, w, win)?;
        check_elems(name, "input C·H·W", &[channels, h, w])?;
        check_elems(name, "output C·OH·OW", &[channels, geo.oh, geo.ow])?;
        check_elems(name, "weights C·KH·KW", &[channels, win.kh, win.kw])?;
        Ok(DwConvParams { channels, geo })
    }
    pub fn channels(&self) -> usize {
        self.channels
    }
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }
    /// `C·H·W`: floats `x` must hold.
    pub fn input_len(&self) -> usize {
        self.channels * self.geo.h * self.geo.w
    }
    /// `C·OH·OW`: floats `y` must hold.
    pub fn output_len(&self) -> usize {
        self.channels * self.geo.oh * self.geo.ow
    }
}

/// Full conv (groups = 1): `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out)
/// -> y (C_out, OH, OW)`. Meant for network stems, where `C_in` is 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvParams {
    c_in: usize,
    c_out: usize,
    geo: Geometry,
}

impl ConvParams {
    pub fn new(
        name: &str,
        c_in: usize,
        c_out: usize,
        h: usize,
        w: usize,
        win: Window,
    ) -> Result<Self> {
        check_dim(name, "c_in", c_in, 1)?;
        check_dim(name, "c_out", c_out, 1)?;
        let geo = Geometry::new(name, h, w, win)?;
        check_elems(name, "input C_in·H·W", &[c_in, h, w])?;
        check_elems(name, "output C_out·OH·OW", &[c_out, geo.oh, geo.ow])?;
        check_elems(
            name,
            "weights C_out·C_in·KH·KW",
            &[c_out, c_in, win.kh, win.kw],
        )?;
        Ok(ConvParams { c_in, c_out, geo })
    }
    pub fn c_in(&self) -> usize {
        self.c_in
    }
    pub fn c_out(&self) -> usize {
        self.c_out
    }
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }
    /// `C_in·H·W`: floats `x` must hold.
    pub fn input_len(&self) -> usize {
        self.c_in * self.geo.h * self.geo.w
    }
    /// `C_out·OH·OW`: floats `y` must hold.
    pub fn output_len(&self) -> usize {
        self.c_out * self.geo.oh * self.geo.ow
    }
}

/// Average / max pool: `x (C, H, W) -> y (C, OH, OW)`. Average pools divide by the number of
/// real (non-pad) inputs under the window, ONNX's `count_include_pad = 0`. No dilation: with
/// it a window could cover only padding, leaving a max of `-inf` and an average of 0/0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolParams {
    channels: usize,
    geo: Geometry,
}

impl PoolParams {
    pub fn new(name: &str, channels: usize, h: usize, w: usize, win: Window) -> Result<Self> {
        check_dim(name, "channels", channels, 1)?;
        if (win.dilation_h, win.dilation_w) != (1, 1) {
            return Err(Error::Unsupported {
                what: format!("{name}: pool dilation"),
                value: format!("({}, {})", win.dilation_h, win.dilation_w),
                expected: "(1, 1)".into(),
            });
        }
        let geo = Geometry::new(name, h, w, win)?;
        check_elems(name, "input C·H·W", &[channels, h, w])?;
        check_elems(name, "output C·OH·OW", &[channels, geo.oh, geo.ow])?;
        Ok(PoolParams { channels, geo })
    }
    pub fn channels(&self) -> usize {
        self.channels
    }
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }
    pub fn input_len(&self) -> usize {
        self.channels * self.geo.h * self.geo.w
    }
    pub fn output_len(&self) -> usize {
        self.channels * self.geo.oh * self.geo.ow
    }
}
