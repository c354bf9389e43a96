//! Shape inference: the output shape of an op on given input shapes, with every size checked
//! (no overflow, no zero-sized or absurd tensors). Import and `Graph::validate` share it.

use super::{Op, Shape};

// Largest activation accepted, in floats; why that number: `crate::limits`.
pub use crate::limits::MAX_ACTIVATION;

/// The output shape of `op`, or why `inputs` don't fit it.
pub fn infer(op: &Op, inputs: &[Shape]) -> Result<Shape, String> {
    let arity = match op {
        Op::Add | Op::Mul | Op::Sub => 2,
        Op::Concat => inputs.len().max(1),
        _ => 1,
    };
    if inputs.len() != arity {
        return Err(format!("takes {arity} input(s), got {}", inputs.len()));
    }
    // Callers outside `Graph::validate` (importers) may hand in any shape; sizing from an
    // absurd one below would overflow.
    for &s in inputs {
        check(s).map_err(|e| format!("input {e}"))?;
    }
    let x = inputs[0];
    let out = match op {
        Op::Conv(c) => {
            if x.c != c.c_in {
                return Err(format!(
                    "input has {} channels, weights expect {}",
                    x.c, c.c_in
                ));
            }
            if c.groups == 0 || c.c_in % c.groups != 0 || c.c_out % c.groups != 0 {
                return Err(format!(
                    "group {} does not divide c_in {} and c_out {}",
                    c.groups, c.c_in, c.c_out
                ));
            }
            let need = [c.c_out, c.c_in / c.groups, c.kh, c.kw]
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d));
            if need != Some(c.weight.len()) || c.bias.len() != c.c_out {
                return Err(format!(
                    "weight has {} values and bias {}, expected ({}, {}, {}, {}) and ({},)",
                    c.weight.len(),
                    c.bias.len(),
                    c.c_out,
                    c.c_in / c.groups,
                    c.kh,
                    c.kw,
                    c.c_out
                ));
            }
            let oh = window(x.h, c.kh, c.stride[0], c.dilation[0], c.pads[0], c.pads[2])?;
            let ow = window(x.w, c.kw, c.stride[1], c.dilation[1], c.pads[1], c.pads[3])?;
            Shape::new(c.c_out, oh, ow)
        }
        Op::Linear(l) => {
            let (c_out, c_in) = (l.c_out, l.c_in);
            if x.len() != c_in {
                return Err(format!(
                    "input {x} has {} values, weights expect {c_in}",
                    x.len()
                ));
            }
            if c_out.checked_mul(c_in) != Some(l.weight.len()) || l.bias.len() != c_out {
                return Err(format!(
                    "weight/bias sizes {}/{} do not match ({c_out}, {c_in})",
                    l.weight.len(),
                    l.bias.len()
                ));
            }
            Shape::vector(c_out)
        }
        Op::Act(_) | Op::Softmax => x,
        Op::ChannelAffine { scale, shift } => {
            if scale.len() != x.c || shift.len() != x.c {
                return Err(format!(
                    "per-channel scale/shift of {}/{} for {} channels",
                    scale.len(),
                    shift.len(),
                    x.c
                ));
            }
            x
        }
        Op::Add | Op::Sub => {
            if inputs[1] != x {
                return Err(format!("shapes {x} and {} differ", inputs[1]));
            }
            x
        }
        Op::Mul => {
            let b = inputs[1];
            if b != x && b != Shape::vector(x.c) {
                return Err(format!(
                    "cannot multiply {x} by {b}: same shape or ({}, 1, 1) expected",
                    x.c
                ));
            }
            x
        }
        Op::GlobalAvgPool => Shape::vector(x.c),
        Op::Pool(p) => {
            let (kh, kw, stride, pads) = (p.kh, p.kw, p.stride, p.pads);
            if pads[0] >= kh || pads[2] >= kh || pads[1] >= kw || pads[3] >= kw {
                return Err(format!(
                    "pads {pads:?} must be smaller than the window {kh}x{kw}"
                ));
            }
            let oh = window(x.h, kh, stride[0], 1, pads[0], pads[2])?;
            let ow = window(x.w, kw, stride[1], 1, pads[1], pads[3])?;
            Shape::new(x.c, oh, ow)
        }
        Op::Concat => {
            if let Some(b) = inputs.iter().find(|s| (s.h, s.w) != (x.h, x.w)) {
                return Err(format!("cannot concatenate {x} and {b} along channels"));
            }
            Shape::new(inputs.iter().map(|s| s.c).sum(), x.h, x.w)
        }
        Op::View(s) => {
            if checked_len(*s) != Some(x.len()) {
                return Err(format!("cannot view {x} ({} values) as {s}", x.len()));
            }
            *s
        }
        Op::Prelu { slope } => {
            if slope.len() != x.c {
                return Err(format!(
                    "per-channel slope of {} values for {} channels",
                    slope.len(),
                    x.c
                ));
            }
            x
        }
        Op::Pad { pads } => {
            let [c_lo, top, left, c_hi, bottom, right] = *pads;
            let grow = |n: usize, lo: usize, hi: usize| n.checked_add(lo)?.checked_add(hi);
            match (
                grow(x.c, c_lo, c_hi),
                grow(x.h, top, bottom),
                grow(x.w, left, right),
            ) {
                (Some(c), Some(h), Some(w)) => Shape::new(c, h, w),
                _ => return Err(format!("pads {pads:?} on {x} overflow")),
            }
        }
        Op::DepthToSpace { block } => {
            let b = *block;
            let b2 = b.checked_mul(b).filter(|_| b >= 1);
            match b2 {
                Some(b2) if x.c % b2 == 0 => match (x.h.checked_mul(b), x.w.checked_mul(b)) {
                    (Some(h), Some(w)) => Shape::new(x.c / b2, h, w),
                    _ => return Err(format!("block {b} on {x} overflows")),
                },
                _ => {
                    return Err(format!(
                        "block {b} must be ≥ 1 with block² dividing the {} channels",
                        x.c
                    ))
                }
            }
        }
        Op::ResizeBilinear(r) => {
            let (oh, ow) = (r.oh, r.ow);
            if oh == 0 || ow == 0 {
                return Err(format!("output size {oh}x{ow} must be ≥ 1 in both axes"));
            }
            // TF refuses the pair too: the two modes place the sample grid differently.
            if r.align_corners && r.half_pixel_centers {
                return Err("align_corners and half_pixel_centers cannot both be set".into());
            }
            Shape::new(x.c, oh, ow)
        }
        Op::Slice { begin, step, out } => {
            let dims = [(x.c, out.c), (x.h, out.h), (x.w, out.w)];
            for (axis, ((n, m), (b, s))) in dims.iter().zip(begin.iter().zip(step)).enumerate() {
                // The last element read on this axis: begin + (out − 1)·step, inside the input.
                let last = m
                    .checked_sub(1)
                    .and_then(|k| k.checked_mul(*s))
                    .and_then(|k| k.checked_add(*b));
                if *s == 0 || *m == 0 {
                    return Err(format!(
                        "slice of {out} with step {step:?}: steps and output sizes must be ≥ 1"
                    ));
                }
                if !matches!(last, Some(l) if l < *n) {
                    return Err(format!(
                        "slice of {out} from {x} at begin {begin:?} step {step:?} leaves the \
                         input on axis {axis} (every index must be < {n})"
                    ));
                }
            }
            *out
        }
        Op::ToHwc => Shape::vector(x.len()),
        Op::FromHwc(s) => {
            if checked_len(*s) != Some(x.len()) {
                return Err(format!("cannot lay {x} ({} values) out as {s}", x.len()));
            }
            *s
        }
    };
    check(out)?;
    Ok(out)
}

/// `c·h·w`, or `None` where it overflows (a shape from a file may be absurd).
fn checked_len(s: Shape) -> Option<usize> {
    s.c.checked_mul(s.h)?.checked_mul(s.w)
}

/// Checks that a shape is non-empty and of sane size.
pub fn check(s: Shape) -> Result<(), String> {
    match checked_len(s) {
        Some(n) if n > 0 && n <= MAX_ACTIVATION => Ok(()),
        _ => Err(format!(
            "shape {s} is empty or larger than {MAX_ACTIVATION} values"
        )),
    }
}

/// Output length of a sliding window: `(n + pads − ((k − 1)·d + 1)) / s + 1`.
fn window(
    n: usize,
    k: usize,
    s: usize,
    d: usize,
    pad_lo: usize,
    pad_hi: usize,
) -> Result<usize, String> {
    if k == 0 || s == 0 || d == 0 {
        return Err(format!(
            "kernel {k}, stride {s} and dilation {d} must be ≥ 1"
        ));
    }
    let span = (k - 1).checked_mul(d).and_then(|v| v.checked_add(1));
    let padded = n.checked_add(pad_lo).and_then(|v| v.checked_add(pad_hi));
    match (span, padded) {
        (Some(span), Some(padded)) if span <= padded => Ok((padded - span) / s + 1),
        _ => Err(format!(
            "window {k} (dilation {d}) does not fit input {n} with pads {pad_lo}+{pad_hi}"
        )),
    }
}
