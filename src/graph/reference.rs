//! A naive interpreter of a `Graph`: plain loops, one op at a time, fresh buffers. It is the
//! end-to-end oracle for the planned executor and is checked itself against onnxruntime's
//! logits on the model zoo. Slow by design; not for production.

use super::{Conv, Graph, Op, Pool, PoolKind, Shape};
use crate::error::{Error, Result};

/// Runs `graph` on `input (C, H, W)` and returns the output tensor.
pub fn run(graph: &Graph, input: &[f32]) -> Result<Vec<f32>> {
    let want = graph.input_shape().len();
    if input.len() != want {
        return Err(Error::ShapeMismatch {
            tensor: graph.values[graph.input].name.clone(),
            what: format!("input {}", graph.input_shape()),
            expected: want,
            got: input.len(),
        });
    }
    graph.validate()?;
    let mut vals: Vec<Option<Vec<f32>>> = vec![None; graph.values.len()];
    vals[graph.input] = Some(input.to_vec());
    for node in &graph.nodes {
        let ins: Vec<(&[f32], Shape)> = node
            .inputs
            .iter()
            .map(|&v| {
                (
                    vals[v]
                        .as_deref()
                        .expect("graph order: inputs computed first"),
                    graph.shape(v),
                )
            })
            .collect();
        let out_shape = graph.shape(node.output);
        let y = eval(&node.op, &ins, out_shape);
        debug_assert_eq!(y.len(), out_shape.len(), "{}", node.name);
        vals[node.output] = Some(y);
    }
    Ok(vals[graph.output].take().expect("graph output computed"))
}

fn eval(op: &Op, ins: &[(&[f32], Shape)], out: Shape) -> Vec<f32> {
    let (x, xs) = ins[0];
    match op {
        Op::Conv(c) => conv(c, x, xs, out),
        Op::Linear(l) => (0..l.c_out)
            .map(|o| {
                l.bias[o]
                    + (0..l.c_in)
                        .map(|i| l.weight[o * l.c_in + i] * x[i])
                        .sum::<f32>()
            })
            .collect(),
        Op::Act(a) => x.iter().map(|&v| a.apply(v)).collect(),
        Op::ChannelAffine { scale, shift } => {
            let hw = xs.hw();
            x.iter()
                .enumerate()
                .map(|(i, &v)| v * scale[i / hw] + shift[i / hw])
                .collect()
        }
        Op::Add => x.iter().zip(ins[1].0).map(|(a, b)| a + b).collect(),
        Op::Mul => {
            let (b, bs) = ins[1];
            if bs.len() == xs.len() {
                x.iter().zip(b).map(|(a, b)| a * b).collect()
            } else {
                let hw = xs.hw();
                x.iter().enumerate().map(|(i, &v)| v * b[i / hw]).collect()
            }
        }
        Op::GlobalAvgPool => x
            .chunks(xs.hw())
            .map(|ch| ch.iter().sum::<f32>() / xs.hw() as f32)
            .collect(),
        Op::Pool(p) => pool(p, x, xs, out),
        Op::Softmax => {
            let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = x.iter().map(|&v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        }
        Op::Concat => ins.iter().flat_map(|(v, _)| v.iter().copied()).collect(),
        Op::View(_) => x.to_vec(),
        Op::Prelu { slope } => {
            let hw = xs.hw();
            x.iter()
                .enumerate()
                .map(|(i, &v)| if v >= 0.0 { v } else { slope[i / hw] * v })
                .collect()
        }
        Op::Sub => x.iter().zip(ins[1].0).map(|(a, b)| a - b).collect(),
        Op::Pad { pads } => {
            let mut y = vec![0.0; out.len()];
            for c in 0..xs.c {
                for h in 0..xs.h {
                    for w in 0..xs.w {
                        let (oc, oh, ow) = (c + pads[0], h + pads[1], w + pads[2]);
                        y[(oc * out.h + oh) * out.w + ow] = x[(c * xs.h + h) * xs.w + w];
                    }
                }
            }
            y
        }
        Op::DepthToSpace { block } => {
            let b = *block;
            let mut y = vec![0.0; out.len()];
            for c in 0..out.c {
                for h in 0..xs.h {
                    for w in 0..xs.w {
                        for i in 0..b {
                            for j in 0..b {
                                let ic = (i * b + j) * out.c + c;
                                y[(c * out.h + h * b + i) * out.w + w * b + j] =
                                    x[(ic * xs.h + h) * xs.w + w];
                            }
                        }
                    }
                }
            }
            y
        }
        Op::ResizeBilinear(r) => {
            let (rows, cols) = (r.taps(xs.h, out.h), r.taps(xs.w, out.w));
            let mut y = vec![0.0; out.len()];
            for c in 0..out.c {
                let at = |h: usize, w: usize| x[(c * xs.h + h) * xs.w + w];
                for (oy, &(y0, y1, fy)) in rows.iter().enumerate() {
                    for (ox, &(x0, x1, fx)) in cols.iter().enumerate() {
                        y[(c * out.h + oy) * out.w + ox] =
                            bilinear(at(y0, x0), at(y0, x1), at(y1, x0), at(y1, x1), fx, fy);
                    }
                }
            }
            y
        }
        Op::Slice { begin, step, .. } => {
            let mut y = vec![0.0; out.len()];
            for c in 0..out.c {
                for h in 0..out.h {
                    for w in 0..out.w {
                        let (ic, ih, iw) = (
                            begin[0] + c * step[0],
                            begin[1] + h * step[1],
                            begin[2] + w * step[2],
                        );
                        y[(c * out.h + h) * out.w + w] = x[(ic * xs.h + ih) * xs.w + iw];
                    }
                }
            }
            y
        }
        Op::ToHwc => {
            let mut y = vec![0.0; out.len()];
            for c in 0..xs.c {
                for h in 0..xs.h {
                    for w in 0..xs.w {
                        y[(h * xs.w + w) * xs.c + c] = x[(c * xs.h + h) * xs.w + w];
                    }
                }
            }
            y
        }
        Op::FromHwc(s) => {
            let mut y = vec![0.0; out.len()];
            for c in 0..s.c {
                for h in 0..s.h {
                    for w in 0..s.w {
                        y[(c * s.h + h) * s.w + w] = x[(h * s.w + w) * s.c + c];
                    }
                }
            }
            y
        }
    }
}

/// Where output `o` of `out` samples an axis of `n` inputs, as TF's `resize_bilinear` computes
/// it (f32, its three coordinate modes): `(lower index, upper index, weight of the upper)`.
/// TF clamps the indices, not the coordinate, so a half-pixel coordinate below 0 reads row 0
/// twice. Shared with the planned executor so the two agree bit for bit.
pub(crate) fn bilinear_source(
    o: usize,
    n: usize,
    out: usize,
    align_corners: bool,
    half_pixel_centers: bool,
) -> (usize, usize, f32) {
    // With one output sample TF falls back to in/out (no (out − 1) to divide by).
    let scale = if align_corners && out > 1 {
        (n - 1) as f32 / (out - 1) as f32
    } else {
        n as f32 / out as f32
    };
    let src = if half_pixel_centers {
        (o as f32 + 0.5) * scale - 0.5
    } else {
        o as f32 * scale
    };
    let floor = src.floor();
    let last = n - 1;
    // `as usize` saturates (negative → 0); `min(last)` keeps rounding at huge sizes in bounds.
    let lo = (floor as usize).min(last);
    let hi = (src.ceil() as usize).min(last);
    (lo, hi, src - floor)
}

/// TF's lerp order: along the row first (`fx`), then between the rows (`fy`).
#[inline(always)]
pub(crate) fn bilinear(tl: f32, tr: f32, bl: f32, br: f32, fx: f32, fy: f32) -> f32 {
    let top = tl + (tr - tl) * fx;
    let bottom = bl + (br - bl) * fx;
    top + (bottom - top) * fy
}

/// Direct convolution with groups, strides, dilations and padding.
fn conv(c: &Conv, x: &[f32], xs: Shape, out: Shape) -> Vec<f32> {
    let cin_g = c.c_in / c.groups;
    let cout_g = c.c_out / c.groups;
    let mut y = vec![0.0; out.len()];
    for o in 0..c.c_out {
        let g = o / cout_g;
        for oy in 0..out.h {
            for ox in 0..out.w {
                let mut acc = c.bias[o];
                for ci in 0..cin_g {
                    let ic = g * cin_g + ci;
                    for ky in 0..c.kh {
                        let iy =
                            (oy * c.stride[0] + ky * c.dilation[0]) as isize - c.pads[0] as isize;
                        if iy < 0 || iy >= xs.h as isize {
                            continue;
                        }
                        for kx in 0..c.kw {
                            let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize
                                - c.pads[1] as isize;
                            if ix < 0 || ix >= xs.w as isize {
                                continue;
                            }
                            let wv = c.weight[((o * cin_g + ci) * c.kh + ky) * c.kw + kx];
                            acc += wv * x[(ic * xs.h + iy as usize) * xs.w + ix as usize];
                        }
                    }
                }
                y[(o * out.h + oy) * out.w + ox] = acc;
            }
        }
    }
    y
}

fn pool(p: &Pool, x: &[f32], xs: Shape, out: Shape) -> Vec<f32> {
    let (kind, kh, kw, stride, pads) = (p.kind, p.kh, p.kw, p.stride, p.pads);
    let mut y = vec![0.0; out.len()];
    for c in 0..out.c {
        for oy in 0..out.h {
            for ox in 0..out.w {
                let (mut acc, mut n) = (
                    if kind == PoolKind::Max {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    },
                    0,
                );
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * stride[0] + ky) as isize - pads[0] as isize;
                        let ix = (ox * stride[1] + kx) as isize - pads[1] as isize;
                        if iy < 0 || ix < 0 || iy >= xs.h as isize || ix >= xs.w as isize {
                            continue;
                        }
                        let v = x[(c * xs.h + iy as usize) * xs.w + ix as usize];
                        acc = if kind == PoolKind::Max {
                            acc.max(v)
                        } else {
                            acc + v
                        };
                        n += 1;
                    }
                }
                y[(c * out.h + oy) * out.w + ox] = if kind == PoolKind::Average {
                    acc / n.max(1) as f32
                } else {
                    acc
                };
            }
        }
    }
    y
}

/// Runs node `index` of `graph` alone on `inputs` (one slice per node input, each of the
/// shape the graph declares) and returns its output. Callers that drive a graph themselves
/// (calibration runs many inputs through it in lockstep and edits weights between nodes)
/// step through it with this instead of `run`.
pub fn eval_node(graph: &Graph, index: usize, inputs: &[&[f32]]) -> Result<Vec<f32>> {
    let node = graph.nodes.get(index).ok_or_else(|| Error::DimOutOfRange {
        tensor: graph.name.clone(),
        what: "node index".into(),
        value: index as u64,
        limit: format!("< {}", graph.nodes.len()),
    })?;
    if inputs.len() != node.inputs.len() {
        return Err(Error::BadNode {
            file: graph.name.clone(),
            node: node.name.clone(),
            op: node.op.name().into(),
            detail: format!("takes {} input(s), got {}", node.inputs.len(), inputs.len()),
        });
    }
    let mut ins = Vec::with_capacity(inputs.len());
    for (&x, &v) in inputs.iter().zip(&node.inputs) {
        let s = graph.shape(v);
        if x.len() != s.len() {
            return Err(Error::ShapeMismatch {
                tensor: graph.values[v].name.clone(),
                what: format!("input of {} {s}", node.name),
                expected: s.len(),
                got: x.len(),
            });
        }
        ins.push((x, s));
    }
    // The op's own sizes (weights, bias, per-channel vectors) must agree with the shapes.
    let in_shapes: Vec<Shape> = ins.iter().map(|&(_, s)| s).collect();
    let out = super::shape::infer(&node.op, &in_shapes).map_err(|detail| Error::BadNode {
        file: graph.name.clone(),
        node: node.name.clone(),
        op: node.op.name().into(),
        detail,
    })?;
    Ok(eval(&node.op, &ins, out))
}
