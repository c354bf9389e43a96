//! How one CNN step is cut into pool tasks ([`crate::par`]): each function runs one table
//! kernel over its whole output, split over outputs only (pixel ranges of a 1x1 product,
//! channels of a convolution, ranges of an elementwise op), so every output is computed by the
//! same instructions in the same order on any thread count. `exec` runs every step through
//! these; the thread tests (tests/it/threads.rs) run every table kernel through them at 1, 2
//! and 3 threads.
//!
//! Steps not listed here (pools, softmax, layout copies, affine, concat) run on one thread:
//! together they are under 3% of a MobileNet's time.

use crate::dense::DenseWeights;
use crate::error::Result;
use crate::kernels::cnn::{Activation, ConvWeights, DwConvWeights};
use crate::kernels::{Clamp, Kernel};
use crate::par::{self, Disjoint};
use crate::sparse::SpmmLayer;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Multiply-adds under which a step runs on one thread: handing a task to a worker costs about
/// 1–3 µs in a browser (a published job and a counter; workers spin between steps), and 64 K
/// multiply-adds take about 8 µs on one SIMD128 core. See README, Threads, for the sweep.
pub const MIN_TASK_MACS: usize = 64 * 1024;

static MIN_MACS: AtomicUsize = AtomicUsize::new(MIN_TASK_MACS);

/// The threshold in use: [`MIN_TASK_MACS`] unless [`set_min_task_macs`] changed it.
pub fn min_task_macs() -> usize {
    MIN_MACS.load(Ordering::Relaxed)
}

/// Sets the multiply-adds per task under which CNN and LLM calls stay on one thread (the
/// threshold sweep of the benchmark; results do not depend on it).
pub fn set_min_task_macs(macs: usize) {
    MIN_MACS.store(macs.max(1), Ordering::Relaxed);
}
/// Elementwise ops move memory more than they compute: a task is worth it from 32 K elements.
pub const MIN_TASK_ELEMS: usize = 32 * 1024;

/// Pixel-range splits of a 1x1 product start at multiples of this: the SIMD tiles are 4·k
/// pixels, and only the last 1–3 pixels of a row take the scalar tile, on any split, so every
/// pixel is computed by the same instructions whatever the thread count. Elementwise splits
/// use it too (whole vectors per task).
pub const ALIGN: usize = 4;

/// `W (c_out, c_in) @ X (c_in, hw) -> Y (c_out, hw)`, `W` packed sparse, over pixel ranges.
pub fn spmm(k: &Kernel, w: &SpmmLayer, x: &[f32], y: &mut [f32], clamp: Clamp) -> Result<()> {
    let hw = w.hw();
    by_pixels(w.stored_weights() * hw, hw, y, &|y, px| {
        k.run_spmm(w, x, y, clamp, px)
    })
}

/// `W (c_out, c_in) @ X (c_in, hw) -> Y (c_out, hw)`, `W` panel-packed dense, over pixel ranges.
pub fn gemm(
    k: &Kernel,
    w: &DenseWeights,
    hw: usize,
    x: &[f32],
    y: &mut [f32],
    clamp: Clamp,
) -> Result<()> {
    let macs = w.shape().c_out * w.shape().c_in * hw;
    by_pixels(macs, hw, y, &|y, px| k.run_gemm(w, hw, x, y, clamp, px))
}

/// Depthwise `x (C, H, W) * w (C, KH, KW) + b (C) -> y (C, OH, OW)`, over channels.
pub fn dwconv(k: &Kernel, w: &DwConvWeights, x: &[f32], y: &mut [f32], clamp: Clamp) -> Result<()> {
    let p = w.params();
    let win = p.geometry().window();
    let macs = p.output_len() * win.kh * win.kw;
    by_channels(macs, min_task_macs(), p.channels(), y, &|y, ch| {
        k.run_dwconv(w, x, y, clamp, ch)
    })
}

/// Full `x (C_in, H, W) * w (C_out, C_in, KH, KW) + b (C_out) -> y (C_out, OH, OW)`, over
/// output channels.
pub fn conv(k: &Kernel, w: &ConvWeights, x: &[f32], y: &mut [f32], clamp: Clamp) -> Result<()> {
    let p = w.params();
    let win = p.geometry().window();
    let macs = p.output_len() * p.c_in() * win.kh * win.kw;
    by_channels(macs, min_task_macs(), p.c_out(), y, &|y, ch| {
        k.run_conv(w, x, y, clamp, ch)
    })
}

/// Per-channel `x (C, hw) * s (C) -> y (C, hw)` (channel multiply, PRelu), over channels.
pub fn chmul(k: &Kernel, x: &[f32], s: &[f32], y: &mut [f32], hw: usize) -> Result<()> {
    by_channels(s.len() * hw, MIN_TASK_ELEMS, s.len(), y, &|y, ch| {
        k.run_chmul_channels(x, s, y, hw, ch)
    })
}

/// An activation in place over `x (n)`, over ranges.
pub fn act(k: &Kernel, x: &mut [f32], a: Activation) -> Result<()> {
    let n = x.len();
    let tasks = par::tasks_for(n, MIN_TASK_ELEMS);
    let x = Disjoint::new(x);
    par::try_for_tasks(tasks, &|i| {
        // Safety: each task owns its part of `x`.
        let x = unsafe { x.get() };
        k.run_act(&mut x[par::part(i, tasks, n, ALIGN)], a)
    })
}

/// `a (n) ∘ b (n) -> y (n)` (add, mul, sub), over ranges.
pub fn binary(k: &Kernel, a: &[f32], b: &[f32], y: &mut [f32], clamp: Clamp) -> Result<()> {
    let n = y.len();
    let tasks = par::tasks_for(n, MIN_TASK_ELEMS);
    let y = Disjoint::new(y);
    par::try_for_tasks(tasks, &|i| {
        let r = par::part(i, tasks, n, ALIGN);
        // Safety: each task owns its part of `y`.
        let y = unsafe { y.get() };
        let (a, b) = (
            a.get(r.clone()).unwrap_or(&[]),
            b.get(r.clone()).unwrap_or(&[]),
        );
        k.run_binary(a, b, &mut y[r], clamp)
    })
}

/// A kernel call writing the outputs of a range (pixels or channels) of `y`.
type RangeTask<'a> = dyn Fn(&mut [f32], Range<usize>) -> Result<()> + Sync + 'a;

/// `f` over ALIGN-aligned pixel ranges of `y (c_out, hw)`; at most one task per 4 pixels.
fn by_pixels(macs: usize, hw: usize, y: &mut [f32], f: &RangeTask<'_>) -> Result<()> {
    let tasks = par::tasks_for(macs, min_task_macs()).min(hw / ALIGN).max(1);
    let y = Disjoint::new(y);
    // Safety: each task writes the pixels of its range in every output row only.
    par::try_for_tasks(tasks, &|i| {
        f(unsafe { y.get() }, par::part(i, tasks, hw, ALIGN))
    })
}

/// `f` over channel ranges of `y (C, …)`; `work` in the units of `min_work`.
fn by_channels(
    work: usize,
    min_work: usize,
    c: usize,
    y: &mut [f32],
    f: &RangeTask<'_>,
) -> Result<()> {
    let tasks = par::tasks_for(work, min_work).min(c).max(1);
    let y = Disjoint::new(y);
    // Safety: each task writes the planes of its channels only.
    par::try_for_tasks(tasks, &|i| f(unsafe { y.get() }, par::part(i, tasks, c, 1)))
}
