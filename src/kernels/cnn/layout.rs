//! Data-movement kernels of the graph ops that only rearrange values (copy, pad, depth to
//! space, slice, HWC re-layouts) and bilinear resize: rare and cheap (a few per network, one
//! pass over the data), so scalar only. All share one signature, `(params, x, y)`, whose
//! checked entry point is `Kernel::run_layout`: [`Layout::lens`] proves every index the
//! kernel computes lies inside `x` and `y`.

use crate::error::{Error, Result};

/// One bilinear sample along an axis: (lower index, upper index, weight of the upper).
pub type Tap = (usize, usize, f32);

/// What a layout kernel does, with its shapes (CHW, `[c, h, w]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// `x (n) -> y (n)`.
    Copy { n: usize },
    /// `x (C, H, W) -> y (C + c_lo + c_hi, H + top + bottom, W + left + right)`, zeros around;
    /// `pads = [c_lo, top, left, c_hi, bottom, right]`.
    Pad { x: [usize; 3], pads: [usize; 6] },
    /// `x (C·b², H, W) -> y (C, H·b, W·b)`, DCR channel order.
    DepthToSpace { x: [usize; 3], block: usize },
    /// Bilinear `x (C, H, W) -> y (C, rows.len(), cols.len())`, the taps per output row and
    /// column computed once at plan time.
    Resize {
        x: [usize; 3],
        rows: Vec<Tap>,
        cols: Vec<Tap>,
    },
    /// `x (C, H, W) -> y (out)`, `y[c, h, w] = x[begin + (c, h, w)·step]`.
    Slice {
        x: [usize; 3],
        begin: [usize; 3],
        step: [usize; 3],
        out: [usize; 3],
    },
    /// `x (C, H·W) -> y (H·W, C)`.
    ToHwc { x: [usize; 3] },
    /// `x (H·W, C) -> y (C, H·W)`, `y` of shape `y`.
    FromHwc { y: [usize; 3] },
}

impl Layout {
    /// `(x length, y length)`, after checking that every index the kernel will compute
    /// stays inside them (and no product overflows).
    pub fn lens(&self) -> Result<(usize, usize)> {
        let bad = |detail: String| Error::DimOutOfRange {
            tensor: format!("{self:?}"),
            what: detail,
            value: 0,
            limit: "indices inside the input".into(),
        };
        let vol = |[c, h, w]: [usize; 3]| {
            c.checked_mul(h)
                .and_then(|v| v.checked_mul(w))
                .ok_or_else(|| bad("C·H·W overflows".into()))
        };
        Ok(match self {
            Layout::Copy { n } => (*n, *n),
            Layout::Pad { x, pads } => {
                let [c, h, w] = *x;
                let [c_lo, top, left, c_hi, bottom, right] = *pads;
                let y = [c + c_lo + c_hi, h + top + bottom, w + left + right];
                (vol(*x)?, vol(y)?)
            }
            Layout::DepthToSpace { x, block } => {
                let c = x[0];
                if *block == 0 || c % (block * block) != 0 {
                    return Err(bad(format!("C = {c} not a multiple of block² ({block}²)")));
                }
                (vol(*x)?, vol(*x)?)
            }
            Layout::Resize { x, rows, cols } => {
                let [c, h, w] = *x;
                if rows.iter().any(|t| t.0 >= h || t.1 >= h)
                    || cols.iter().any(|t| t.0 >= w || t.1 >= w)
                {
                    return Err(bad("a resize tap outside the input".into()));
                }
                (vol(*x)?, vol([c, rows.len(), cols.len()])?)
            }
            Layout::Slice {
                x,
                begin,
                step,
                out,
            } => {
                for a in 0..3 {
                    if step[a] == 0 {
                        return Err(bad(format!("slice axis {a} with step 0")));
                    }
                    let last = out[a].saturating_sub(1).checked_mul(step[a]);
                    if out[a] > 0
                        && last
                            .and_then(|l| l.checked_add(begin[a]))
                            .is_none_or(|l| l >= x[a])
                    {
                        return Err(bad(format!("slice axis {a} past the input")));
                    }
                }
                (vol(*x)?, vol(*out)?)
            }
            Layout::ToHwc { x } => (vol(*x)?, vol(*x)?),
            Layout::FromHwc { y } => (vol(*y)?, vol(*y)?),
        })
    }
}

// The kernels: safe Rust (bounds-checked indexing); `Kernel::run_layout` has checked the
// lengths, so no index panics. Each ignores params of another op (the run checks the op).

/// `x (n) -> y (n)`.
pub(crate) fn copy(l: &Layout, x: &[f32], y: &mut [f32]) {
    if let Layout::Copy { n } = *l {
        y[..n].copy_from_slice(&x[..n]);
    }
}

/// Zeros, then each input row in place.
pub(crate) fn pad(l: &Layout, x: &[f32], y: &mut [f32]) {
    let Layout::Pad { x: [c, h, w], pads } = *l else {
        return;
    };
    let [c_lo, top, left, c_hi, bottom, right] = pads;
    let (oh, ow) = (h + top + bottom, w + left + right);
    y[..(c + c_lo + c_hi) * oh * ow].fill(0.0);
    for (row, src) in x[..c * h * w].chunks_exact(w.max(1)).enumerate() {
        let (c, r) = (row / h, row % h);
        let at = ((c + c_lo) * oh + r + top) * ow + left;
        y[at..at + w].copy_from_slice(src);
    }
}

/// Input plane `(i·b + j)·C + c` fills the pixels `(h·b + i, w·b + j)` of output channel c.
pub(crate) fn depth_to_space(l: &Layout, x: &[f32], y: &mut [f32]) {
    let Layout::DepthToSpace {
        x: [c, h, w],
        block: b,
    } = *l
    else {
        return;
    };
    let (oc, oh, ow) = (c / (b * b), h * b, w * b);
    for (ic, plane) in x[..c * h * w].chunks_exact((h * w).max(1)).enumerate() {
        let (c, i, j) = (ic % oc, ic / oc / b, ic / oc % b);
        for (r, src) in plane.chunks_exact(w.max(1)).enumerate() {
            let out_row = &mut y[(c * oh + r * b + i) * ow..][..ow];
            for (o, &v) in out_row[j..].iter_mut().step_by(b).zip(src) {
                *o = v;
            }
        }
    }
}

/// Each output blends the four inputs around its source point.
pub(crate) fn resize(l: &Layout, x: &[f32], y: &mut [f32]) {
    let Layout::Resize {
        x: [c, h, w],
        rows,
        cols,
    } = l
    else {
        return;
    };
    let out_plane = rows.len() * cols.len();
    if out_plane == 0 {
        return;
    }
    for (plane, yc) in x[..c * h * w]
        .chunks_exact((h * w).max(1))
        .zip(y.chunks_exact_mut(out_plane))
    {
        for (yrow, &(y0, y1, fy)) in yc.chunks_exact_mut(cols.len()).zip(rows) {
            let (r0, r1) = (&plane[y0 * w..][..*w], &plane[y1 * w..][..*w]);
            for (o, &(x0, x1, fx)) in yrow.iter_mut().zip(cols) {
                let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
                let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                *o = top + (bottom - top) * fy;
            }
        }
    }
}

/// Whole output rows at a time, strided along the input row.
pub(crate) fn slice(l: &Layout, x: &[f32], y: &mut [f32]) {
    let Layout::Slice {
        x: [_, h, w],
        begin,
        step,
        out,
    } = *l
    else {
        return;
    };
    if out[2] == 0 {
        return;
    }
    let mut yrows = y.chunks_exact_mut(out[2]);
    for c in 0..out[0] {
        let plane = begin[0] + c * step[0];
        for r in 0..out[1] {
            let row = &x[(plane * h + begin[1] + r * step[1]) * w..][..w];
            if let Some(yrow) = yrows.next() {
                for (o, &v) in yrow.iter_mut().zip(row[begin[2]..].iter().step_by(step[2])) {
                    *o = v;
                }
            }
        }
    }
}

/// `x (C, H·W) -> y (H·W, C)`.
pub(crate) fn to_hwc(l: &Layout, x: &[f32], y: &mut [f32]) {
    let Layout::ToHwc { x: [c, h, w] } = *l else {
        return;
    };
    for (ch, plane) in x[..c * h * w].chunks_exact((h * w).max(1)).enumerate() {
        for (p, &v) in plane.iter().enumerate() {
            y[p * c + ch] = v;
        }
    }
}

/// `x (H·W, C) -> y (C, H·W)`.
pub(crate) fn from_hwc(l: &Layout, x: &[f32], y: &mut [f32]) {
    let Layout::FromHwc { y: [c, h, w] } = *l else {
        return;
    };
    for (p, px) in x[..c * h * w].chunks_exact(c.max(1)).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            y[ch * h * w + p] = v;
        }
    }
}
