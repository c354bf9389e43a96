//! The checked entry points of the CNN kernels: each `run_*` proves the operands fit the
//! kernel (op, window, buffer sizes, ranges) and returns a typed error instead of letting an
//! unchecked kernel read or write out of bounds.

use super::params::Geometry;
use super::{Activation, ConvWeights, DwConvWeights, Layout, PoolParams, Window};
use crate::error::{Error, Result};
use crate::kernels::table::{Kernel, KernelFn, Op};
use crate::kernels::Clamp;
use std::ops::Range;

impl Kernel {
    /// Whether this kernel takes `win` (fast paths: one size and stride, no dilation).
    pub fn supports(&self, win: &Window) -> bool {
        match self.window {
            None => true,
            Some((k, s)) => {
                (
                    win.kh,
                    win.kw,
                    win.stride_h,
                    win.stride_w,
                    win.dilation_h,
                    win.dilation_w,
                ) == (k, k, s, s, 1, 1)
            }
        }
    }

    /// Depthwise `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`, clamped, for
    /// channels `channels` only; the rest of `y` is left untouched.
    pub fn run_dwconv(
        &self,
        wts: &DwConvWeights,
        x: &[f32],
        y: &mut [f32],
        clamp: Clamp,
        channels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::DwConv(f) = self.func else {
            return Err(self.wrong_op("depthwise conv weights"));
        };
        let p = wts.params();
        self.check_window(p.geometry())?;
        self.check_range("channel range", &channels, p.channels())?;
        self.check_len("x (C, H, W)", x.len(), p.input_len())?;
        self.check_len("y (C, OH, OW)", y.len(), p.output_len())?;
        // Safety: sizes, range and window checked above; the params were checked by their
        // constructor and the weights against them by `pack`.
        unsafe { f(wts, x, y, clamp, channels) };
        Ok(())
    }

    /// Full conv `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out) -> y (C_out, OH, OW)`,
    /// clamped, for output channels `out_channels` only.
    pub fn run_conv(
        &self,
        wts: &ConvWeights,
        x: &[f32],
        y: &mut [f32],
        clamp: Clamp,
        out_channels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::Conv(f) = self.func else {
            return Err(self.wrong_op("full conv weights"));
        };
        let p = wts.params();
        self.check_window(p.geometry())?;
        self.check_range("output channel range", &out_channels, p.c_out())?;
        self.check_len("x (C_in, H, W)", x.len(), p.input_len())?;
        self.check_len("y (C_out, OH, OW)", y.len(), p.output_len())?;
        // Safety: as `run_dwconv`.
        unsafe { f(wts, x, y, clamp, out_channels) };
        Ok(())
    }

    /// Average or max pool (by this kernel's op) `x (C, H, W) -> y (C, OH, OW)`.
    pub fn run_pool(&self, p: &PoolParams, x: &[f32], y: &mut [f32]) -> Result<()> {
        self.run_pool_channels(p, x, y, 0..p.channels())
    }

    /// `run_pool` for channels `channels` only; the rest of `y` is left untouched.
    pub fn run_pool_channels(
        &self,
        p: &PoolParams,
        x: &[f32],
        y: &mut [f32],
        channels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::Pool(f) = self.func else {
            return Err(self.wrong_op("pool params"));
        };
        self.check_window(p.geometry())?;
        self.check_range("channel range", &channels, p.channels())?;
        self.check_len("x (C, H, W)", x.len(), p.input_len())?;
        self.check_len("y (C, OH, OW)", y.len(), p.output_len())?;
        // Safety: as `run_dwconv`.
        unsafe { f(p, x, y, channels) };
        Ok(())
    }

    /// Global average pool `x (C, HW) -> y (C)` with `C = y.len()`.
    pub fn run_gavgpool(&self, x: &[f32], y: &mut [f32], hw: usize) -> Result<()> {
        let c = y.len();
        self.run_gavgpool_channels(x, y, hw, 0..c)
    }

    /// `run_gavgpool` for channels `channels` only; the rest of `y` is left untouched.
    pub fn run_gavgpool_channels(
        &self,
        x: &[f32],
        y: &mut [f32],
        hw: usize,
        channels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::GlobalPool(f) = self.func else {
            return Err(self.wrong_op("a global pool"));
        };
        self.check_hw(hw)?;
        self.check_range("channel range", &channels, y.len())?;
        self.check_len("x (C, HW)", x.len(), self.plane_len(y.len(), hw)?)?;
        // Safety: x holds C·hw ≥ channels.end·hw floats, y holds C ≥ channels.end, hw ≥ 1.
        unsafe { f(x, y, hw, channels) };
        Ok(())
    }

    /// `y = clamp(a ∘ b)` (∘ this kernel's op: add, mul, sub), all of one length.
    pub fn run_binary(&self, a: &[f32], b: &[f32], y: &mut [f32], clamp: Clamp) -> Result<()> {
        let KernelFn::Binary(f) = self.func else {
            return Err(self.wrong_op("a binary elementwise op"));
        };
        self.check_same("b", a.len(), b.len())?;
        self.check_same("y", a.len(), y.len())?;
        // Safety: three slices of a.len() floats; y cannot alias a or b here.
        unsafe { f(a.as_ptr(), b.as_ptr(), y.as_mut_ptr(), a.len(), clamp) };
        Ok(())
    }

    /// `y = clamp(y ∘ b)` in place: e.g. a residual add into the block's output.
    pub fn run_binary_assign(&self, y: &mut [f32], b: &[f32], clamp: Clamp) -> Result<()> {
        let KernelFn::Binary(f) = self.func else {
            return Err(self.wrong_op("a binary elementwise op"));
        };
        self.check_same("b", y.len(), b.len())?;
        let (n, yp) = (y.len(), y.as_mut_ptr());
        // Safety: the kernel reads element i of y before writing it and touches no other.
        unsafe { f(yp, b.as_ptr(), yp, n, clamp) };
        Ok(())
    }

    /// Per-channel op (channel multiply `x (C, HW) * s (C) -> y (C, HW)`, PRelu with slopes
    /// `s`) with `C = s.len()`.
    pub fn run_chmul(&self, x: &[f32], s: &[f32], y: &mut [f32], hw: usize) -> Result<()> {
        self.run_chmul_channels(x, s, y, hw, 0..s.len())
    }

    /// `run_chmul` for channels `channels` only; the rest of `y` is left untouched.
    pub fn run_chmul_channels(
        &self,
        x: &[f32],
        s: &[f32],
        y: &mut [f32],
        hw: usize,
        channels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::ChannelMul(f) = self.func else {
            return Err(self.wrong_op("a channel multiply"));
        };
        self.check_hw(hw)?;
        self.check_range("channel range", &channels, s.len())?;
        let need = self.plane_len(s.len(), hw)?;
        self.check_len("x (C, HW)", x.len(), need)?;
        self.check_len("y (C, HW)", y.len(), need)?;
        // Safety: x and y hold C·hw floats, s holds C ≥ channels.end.
        unsafe { f(x.as_ptr(), s, y.as_mut_ptr(), hw, channels) };
        Ok(())
    }

    /// `x (C, HW) *= s (C)` in place (the squeeze-and-excitation scale), channels `channels`.
    pub fn run_chmul_assign(
        &self,
        x: &mut [f32],
        s: &[f32],
        hw: usize,
        channels: Range<usize>,
    ) -> Result<()> {
        let KernelFn::ChannelMul(f) = self.func else {
            return Err(self.wrong_op("a channel multiply"));
        };
        self.check_hw(hw)?;
        self.check_range("channel range", &channels, s.len())?;
        self.check_len("x (C, HW)", x.len(), self.plane_len(s.len(), hw)?)?;
        let xp = x.as_mut_ptr();
        // Safety: as `run_chmul_channels`; each element is read before it is written.
        unsafe { f(xp, s, xp, hw, channels) };
        Ok(())
    }

    /// Per-channel affine `x (C, HW) · scale (C) + shift (C) -> y (C, HW)`, `C = scale.len()`.
    pub fn run_affine(
        &self,
        x: &[f32],
        scale: &[f32],
        shift: &[f32],
        y: &mut [f32],
        hw: usize,
    ) -> Result<()> {
        let KernelFn::Affine(f) = self.func else {
            return Err(self.wrong_op("a per-channel affine"));
        };
        self.check_same("shift", scale.len(), shift.len())?;
        let need = self.plane_len(scale.len(), hw)?;
        self.check_len("x (C, HW)", x.len(), need)?;
        self.check_len("y (C, HW)", y.len(), need)?;
        // Safety: x and y hold C·hw floats, scale and shift C.
        unsafe { f(x.as_ptr(), scale, shift, y.as_mut_ptr(), hw) };
        Ok(())
    }

    /// Applies `act` to `x` in place; `act` must be of this kernel's kind.
    pub fn run_act(&self, x: &mut [f32], act: Activation) -> Result<()> {
        let KernelFn::Act(f) = self.func else {
            return Err(self.wrong_op("an activation"));
        };
        if self.op != Op::of_act(act.kind()) {
            return Err(self.wrong_op(&format!("activation {}", act.kind().as_str())));
        }
        // Safety: the kernel touches x only.
        unsafe { f(x, act) };
        Ok(())
    }

    /// Softmax over the whole of `x (n) -> y (n)`.
    pub fn run_softmax(&self, x: &[f32], y: &mut [f32]) -> Result<()> {
        let KernelFn::Softmax(f) = self.func else {
            return Err(self.wrong_op("a softmax"));
        };
        self.check_same("y", x.len(), y.len())?;
        // Safety: equal lengths.
        unsafe { f(x, y) };
        Ok(())
    }

    /// A data-movement op (`layout`'s kernels) `x -> y`, as `l` describes; `l` must be of
    /// this kernel's op.
    pub fn run_layout(&self, l: &Layout, x: &[f32], y: &mut [f32]) -> Result<()> {
        let KernelFn::Layout(f) = self.func else {
            return Err(self.wrong_op("layout params"));
        };
        let op = match l {
            Layout::Copy { .. } => Op::Copy,
            Layout::Pad { .. } => Op::Pad,
            Layout::DepthToSpace { .. } => Op::DepthToSpace,
            Layout::Resize { .. } => Op::Resize,
            Layout::Slice { .. } => Op::Slice,
            Layout::ToHwc { .. } => Op::ToHwc,
            Layout::FromHwc { .. } => Op::FromHwc,
        };
        if op != self.op {
            return Err(self.wrong_op(&format!("{} params", op.as_str())));
        }
        let (nx, ny) = l.lens()?;
        self.check_len("x", x.len(), nx)?;
        self.check_len("y", y.len(), ny)?;
        // Safety: the kernels are safe Rust; `lens` proved every index they compute is
        // inside x (nx) and y (ny).
        unsafe { f(l, x, y) };
        Ok(())
    }

    fn check_window(&self, g: &Geometry) -> Result<()> {
        let win = g.window();
        if self.supports(win) {
            return Ok(());
        }
        let (k, s) = self.window.unwrap_or_default();
        Err(Error::Unsupported {
            what: format!("kernel {}: window", self.name),
            value: format!(
                "{}x{} stride ({}, {}) dilation ({}, {})",
                win.kh, win.kw, win.stride_h, win.stride_w, win.dilation_h, win.dilation_w
            ),
            expected: format!("{k}x{k} stride ({s}, {s}) dilation (1, 1)"),
        })
    }

    fn check_range(&self, what: &str, r: &Range<usize>, n: usize) -> Result<()> {
        if r.start > r.end || r.end > n {
            return Err(Error::DimOutOfRange {
                tensor: self.name.into(),
                what: format!("{what} {}..{}", r.start, r.end),
                value: r.end as u64,
                limit: format!("start ≤ end ≤ {n}"),
            });
        }
        Ok(())
    }

    fn check_hw(&self, hw: usize) -> Result<()> {
        if hw == 0 {
            return Err(Error::DimOutOfRange {
                tensor: self.name.into(),
                what: "H·W".into(),
                value: 0,
                limit: "must be ≥ 1".into(),
            });
        }
        Ok(())
    }

    /// `c · hw`, refusing a product that overflows.
    fn plane_len(&self, c: usize, hw: usize) -> Result<usize> {
        c.checked_mul(hw).ok_or_else(|| Error::DimOutOfRange {
            tensor: self.name.into(),
            what: "C·H·W".into(),
            value: u64::MAX,
            limit: format!("C = {c}, H·W = {hw} overflows"),
        })
    }

    fn check_len(&self, buffer: &str, got: usize, expected: usize) -> Result<()> {
        if got < expected {
            return Err(Error::BufferTooSmall {
                kernel: self.name.into(),
                buffer: buffer.into(),
                expected,
                got,
            });
        }
        Ok(())
    }

    fn check_same(&self, what: &str, expected: usize, got: usize) -> Result<()> {
        if expected != got {
            return Err(Error::ShapeMismatch {
                tensor: self.name.into(),
                what: format!("{what} (same length as the first operand)"),
                expected,
                got,
            });
        }
        Ok(())
    }
}
