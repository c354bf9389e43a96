//! One TF node → zero or more graph ops (see the module comment for layouts). Constant
//! operands (biases, per-channel scales) become `ChannelAffine`s that `graph::rewrite` then
//! folds into the conv before them; spatial `Pad`s are folded into the conv after them the
//! same way.

use super::fold::{self, Slice};
use super::json::NodeDef;
use super::{tensor_key, tensor_node, Act, Entry, Importer, Layout, Tensor};
use crate::error::{Error, Result};
use crate::graph::{Activation, Conv, Linear, Op, Pool, PoolKind, Resize, Shape, ValueId};
use crate::import::onnx::tensor::{Constant, Data};

pub(super) fn import(imp: &mut Importer, n: &NodeDef) -> Result<()> {
    let mut cx = Cx { imp, n };
    let op = n.op.as_str();
    match op {
        "Const" => {
            let c = cx
                .imp
                .weights
                .remove(&n.name)
                .ok_or_else(|| cx.bad("has no tensor in the weights manifest".into()))?;
            cx.set_const(c);
            return Ok(());
        }
        "Placeholder" => return placeholder(cx),
        "NoOp" => return Ok(()),
        _ => {}
    }
    if let Some(consts) = cx.all_const()? {
        if fold::foldable(op) {
            let c = fold::eval(n, &consts).map_err(|d| cx.bad(d))?;
            cx.set_const(c);
            return Ok(());
        }
    }
    match op {
        "Identity" | "StopGradient" | "Snapshot" => {
            let x = cx.act(0)?;
            cx.set(x);
            Ok(())
        }
        "Shape" => {
            let x = cx.act(0)?;
            let dims = x.dims.iter().map(|&d| d as i64).collect::<Vec<_>>();
            cx.set_const(Constant {
                dims: vec![dims.len()],
                data: Data::I64(dims),
            });
            Ok(())
        }
        "Conv2D" | "_FusedConv2D" | "DepthwiseConv2dNative" | "FusedDepthwiseConv2dNative" => {
            conv(cx)
        }
        "BiasAdd" | "Add" | "AddV2" | "Sub" | "Mul" | "RealDiv" => binary(cx),
        "AddN" => add_n(cx),
        "Relu" => unary(cx, Op::Act(Activation::Relu)),
        "Relu6" => unary(cx, Op::Act(Activation::Clip { min: 0.0, max: 6.0 })),
        "Sigmoid" => unary(cx, Op::Act(Activation::Sigmoid)),
        "Tanh" => unary(cx, Op::Act(Activation::Tanh)),
        "LeakyRelu" => {
            let alpha = n.float("alpha").unwrap_or(0.2) as f32;
            unary(cx, Op::Act(Activation::LeakyRelu { alpha }))
        }
        "Prelu" => {
            let x = cx.act(0)?;
            let alpha = cx.konst(1)?;
            let op = prelu(&cx, &x, &alpha)?;
            unary(cx, op)
        }
        "Pad" | "PadV2" => pad(cx),
        "MaxPool" | "AvgPool" => pool(cx),
        "Mean" => mean(cx),
        "MatMul" | "_FusedMatMul" => matmul(cx),
        "Reshape" => {
            let x = cx.act(0)?;
            let shape = cx.ints(1)?;
            let dims = fold::reshape_dims(&x.dims, &shape).map_err(|d| cx.bad(d))?;
            reshape(cx, x, dims)
        }
        "Squeeze" => {
            let x = cx.act(0)?;
            let axes = n
                .ints("squeeze_dims")
                .ok_or_else(|| cx.bad("bad squeeze_dims".into()))?;
            let dims = fold::squeeze_dims(&x.dims, &axes).map_err(|d| cx.bad(d))?;
            reshape(cx, x, dims)
        }
        "ExpandDims" => {
            let x = cx.act(0)?;
            let axis = *cx
                .ints(1)?
                .first()
                .ok_or_else(|| cx.bad("empty axis".into()))?;
            let dims = fold::expand_dims(&x.dims, axis).map_err(|d| cx.bad(d))?;
            reshape(cx, x, dims)
        }
        "ConcatV2" => concat(cx),
        "StridedSlice" => strided_slice(cx),
        "DepthToSpace" => depth_to_space(cx),
        "ResizeBilinear" => resize(cx),
        "Softmax" => softmax(cx),
        _ => Err(cx.unsupported("")),
    }
}

/// The node being imported.
struct Cx<'a> {
    imp: &'a mut Importer,
    n: &'a NodeDef,
}

impl Cx<'_> {
    fn bad(&self, detail: String) -> Error {
        self.imp.bad(&self.n.name, &self.n.op, detail)
    }
    fn unsupported(&self, detail: &str) -> Error {
        Error::UnsupportedOp {
            file: self.imp.file.clone(),
            node: self.n.name.clone(),
            op: self.n.op.clone(),
            detail: detail.into(),
        }
    }
    /// The data inputs (control inputs dropped).
    fn inputs(&self) -> Vec<&str> {
        self.n
            .input
            .iter()
            .filter(|i| !i.starts_with('^'))
            .map(|s| s.as_str())
            .collect()
    }
    fn entry(&self, i: usize) -> Result<&Entry> {
        let ins = self.inputs();
        let name = *ins
            .get(i)
            .ok_or_else(|| self.bad(format!("has {} inputs, needs input {i}", ins.len())))?;
        self.imp.entries.get(tensor_key(name)).ok_or_else(|| {
            if tensor_node(name).1 > 0 {
                self.bad(format!(
                    "input {name:?} is output {} of a multi-output op, which is not supported",
                    tensor_node(name).1
                ))
            } else {
                self.bad(format!(
                    "input {name:?} is not computed by any earlier node"
                ))
            }
        })
    }
    fn act(&self, i: usize) -> Result<Act> {
        match self.entry(i)? {
            Entry::Act(a) => Ok(a.clone()),
            Entry::Const(_) => Err(self.unsupported(&format!(
                " with a constant as input {i} (an activation is expected there)"
            ))),
        }
    }
    fn konst(&self, i: usize) -> Result<Constant> {
        match self.entry(i)? {
            Entry::Const(c) => Ok(c.clone()),
            Entry::Act(_) => Err(self.unsupported(&format!(
                " with a computed input {i} (a constant is expected there)"
            ))),
        }
    }
    fn ints(&self, i: usize) -> Result<Vec<i64>> {
        fold::ints(&self.konst(i)?).map_err(|d| self.bad(format!("input {i}: {d}")))
    }
    /// Every input's constant, or `None` when any is computed.
    fn all_const(&self) -> Result<Option<Vec<Constant>>> {
        let mut out = Vec::new();
        for i in 0..self.inputs().len() {
            match self.entry(i)? {
                Entry::Const(c) => out.push(c.clone()),
                Entry::Act(_) => return Ok(None),
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
    fn set(&mut self, a: Act) {
        self.imp.entries.insert(self.n.name.clone(), Entry::Act(a));
    }
    fn set_const(&mut self, c: Constant) {
        self.imp
            .entries
            .insert(self.n.name.clone(), Entry::Const(c));
    }
    fn push(&mut self, op: Op, inputs: Vec<ValueId>, suffix: &str) -> Result<ValueId> {
        let out = format!("{}{suffix}", self.n.name);
        self.imp.push(&self.n.name, op, inputs, &out)
    }
    fn data_format_nhwc(&self) -> Result<()> {
        match self.n.string("data_format").as_deref() {
            None | Some("NHWC") => Ok(()),
            Some(f) => Err(self.unsupported(&format!(" with data_format {f} (only NHWC)"))),
        }
    }
    /// `[1, H, W, C]` dims of an activation, as CHW.
    fn nhwc(&mut self, a: &Act) -> Result<(ValueId, Shape)> {
        let dims = a.dims.clone();
        let id = self.imp.as_nhwc(&self.n.name, a, &dims)?;
        Ok((id, self.imp.values[id].shape))
    }
    fn out_nhwc(&mut self, id: ValueId) {
        let s = self.imp.values[id].shape;
        self.set(Act {
            id,
            dims: vec![1, s.h, s.w, s.c],
            layout: Layout::Nhwc,
        });
    }
    /// A 4-entry NHWC attribute list (strides, ksize, dilations) → [h, w].
    fn hw_attr(&self, key: &str) -> Result<[usize; 2]> {
        let v = self
            .n
            .ints(key)
            .ok_or_else(|| self.bad(format!("bad {key}")))?;
        match v[..] {
            [] => Ok([1, 1]),
            [1, h, w, 1] if (1..=1 << 16).contains(&h) && (1..=1 << 16).contains(&w) => {
                Ok([h as usize, w as usize])
            }
            _ => Err(self.unsupported(&format!(" with {key} {v:?} (expected [1, h, w, 1])"))),
        }
    }
    /// [top, left, bottom, right] for TF padding `SAME`/`VALID`/`EXPLICIT`.
    fn pads(&self, x: Shape, k: [usize; 2], s: [usize; 2], d: [usize; 2]) -> Result<[usize; 4]> {
        let mode = self.n.string("padding").unwrap_or_default();
        match mode.as_str() {
            "VALID" => Ok([0; 4]),
            "SAME" => {
                let same = |n: usize, k: usize, s: usize, d: usize| {
                    let out = n.div_ceil(s);
                    let span = (k - 1) * d + 1;
                    let total = ((out - 1) * s + span).saturating_sub(n);
                    (total / 2, total - total / 2)
                };
                let (t, b) = same(x.h, k[0], s[0], d[0]);
                let (l, r) = same(x.w, k[1], s[1], d[1]);
                Ok([t, l, b, r])
            }
            "EXPLICIT" => {
                let p = self
                    .n
                    .ints("explicit_paddings")
                    .ok_or_else(|| self.bad("bad explicit_paddings".into()))?;
                match p[..] {
                    [0, 0, t, b, l, r, 0, 0]
                        if [t, b, l, r].iter().all(|v| (0..=1 << 16).contains(v)) =>
                    {
                        Ok([t as usize, l as usize, b as usize, r as usize])
                    }
                    _ => Err(self.bad(format!("explicit_paddings {p:?} not [0,0,t,b,l,r,0,0]"))),
                }
            }
            m => Err(self.unsupported(&format!(" with padding {m:?}"))),
        }
    }
}

fn placeholder(mut cx: Cx) -> Result<()> {
    if cx.imp.input.is_some() {
        return Err(cx.unsupported(" as a second input (models with one input are supported)"));
    }
    let dtype = cx.n.attr.get("dtype").and_then(|v| v.get("type"));
    if let Some(t) = dtype.and_then(|t| t.as_str()) {
        if t != "DT_FLOAT" {
            return Err(cx.unsupported(&format!(" of type {t} (only float inputs)")));
        }
    }
    let shape =
        cx.n.shape("shape")
            .ok_or_else(|| cx.bad("the input has no shape".into()))?;
    let dims = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| match d {
            -1 if i == 0 => Some(1),
            d if d > 0 => usize::try_from(d).ok(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .filter(|d| d.first() == Some(&1))
        .ok_or_else(|| {
            cx.unsupported(&format!(
                " with shape {shape:?} (needs batch 1 or -1 and concrete other dims)"
            ))
        })?;
    let name = cx.n.name.clone();
    let id = cx.imp.new_input(&name, dims.clone())?;
    cx.imp.input = Some((
        id,
        Tensor {
            name: format!("{name}:0"),
            dims: dims.clone(),
        },
    ));
    cx.set(Act {
        id,
        dims,
        layout: Layout::Flat,
    });
    Ok(())
}

/// An op that keeps the shape and layout of input 0.
fn unary(mut cx: Cx, op: Op) -> Result<()> {
    let x = cx.act(0)?;
    let id = cx.push(op, vec![x.id], "")?;
    cx.set(Act { id, ..x });
    Ok(())
}

/// PRelu's slope per channel, from a scalar or a tensor whose only non-1 dim is the last.
fn prelu(cx: &Cx, x: &Act, alpha: &Constant) -> Result<Op> {
    let c = *x.dims.last().unwrap_or(&1);
    let v = alpha.f32s();
    let slope = if v.len() == 1 {
        vec![v[0]; c]
    } else if v.len() == c && alpha.dims.last() == Some(&c) {
        v
    } else {
        return Err(cx.unsupported(&format!(
            " with alpha {:?} for {} channels (per-channel or scalar alpha only)",
            alpha.dims, c
        )));
    };
    if x.layout == Layout::Flat && x.dims.iter().rev().skip(1).any(|&d| d != 1) {
        return Err(cx.unsupported(" on a flattened tensor with more than one row"));
    }
    Ok(Op::Prelu { slope })
}

fn conv(mut cx: Cx) -> Result<()> {
    cx.data_format_nhwc()?;
    let depthwise = cx.n.op.contains("Depthwise");
    let x = cx.act(0)?;
    let f = cx.konst(1)?;
    let (xid, xs) = cx.nhwc(&x)?;
    let [kh, kw, ci, m] = f.dims[..] else {
        return Err(cx.bad(format!("filter dims {:?}, expected 4", f.dims)));
    };
    if ci != xs.c {
        return Err(cx.bad(format!(
            "filter expects {ci} input channels, the input has {}",
            xs.c
        )));
    }
    let stride = cx.hw_attr("strides")?;
    let dilation = cx.hw_attr("dilations")?;
    let pads = cx.pads(xs, [kh, kw], stride, dilation)?;
    let w = f.f32s();
    // TF filters are HWIO (depthwise: H, W, C, multiplier); ours are (c_out, c_in/groups, kh, kw).
    let (c_out, groups, weight) = if depthwise {
        let c_out = ci * m;
        let mut out = vec![0.0; w.len()];
        for y in 0..kh {
            for xx in 0..kw {
                for c in 0..ci {
                    for j in 0..m {
                        out[((c * m + j) * kh + y) * kw + xx] = w[((y * kw + xx) * ci + c) * m + j];
                    }
                }
            }
        }
        (c_out, ci, out)
    } else {
        let mut out = vec![0.0; w.len()];
        for y in 0..kh {
            for xx in 0..kw {
                for i in 0..ci {
                    for o in 0..m {
                        out[((o * ci + i) * kh + y) * kw + xx] =
                            w[((y * kw + xx) * ci + i) * m + o];
                    }
                }
            }
        }
        (m, 1, out)
    };
    let (bias, post) = fused(&cx, c_out)?;
    let conv = Conv {
        c_out,
        c_in: ci,
        groups,
        kh,
        kw,
        stride,
        dilation,
        pads,
        weight,
        bias: bias.unwrap_or_else(|| vec![0.0; c_out]),
    };
    let mut id = cx.push(
        Op::Conv(conv),
        vec![xid],
        if post.is_some() { "/conv" } else { "" },
    )?;
    if let Some(op) = post {
        id = cx.push(op, vec![id], "")?;
    }
    cx.out_nhwc(id);
    Ok(())
}

/// A `_Fused*` node's BiasAdd (its `(c,)` bias) and activation, from `fused_ops` and the
/// extra inputs after the two operands.
fn fused(cx: &Cx, c: usize) -> Result<(Option<Vec<f32>>, Option<Op>)> {
    if !cx.n.op.starts_with("_Fused") && !cx.n.op.starts_with("Fused") {
        return Ok((None, None));
    }
    let ops =
        cx.n.strings("fused_ops")
            .ok_or_else(|| cx.bad("bad fused_ops".into()))?;
    let mut arg = 2;
    let mut bias = None;
    let mut post = None;
    for op in &ops {
        match op.as_str() {
            "BiasAdd" => {
                let b = cx.konst(arg)?.f32s();
                arg += 1;
                if b.len() != c {
                    return Err(cx.bad(format!("bias of {} values for {c} channels", b.len())));
                }
                bias = Some(b);
            }
            "Relu" => post = Some(Op::Act(Activation::Relu)),
            "Relu6" => post = Some(Op::Act(Activation::Clip { min: 0.0, max: 6.0 })),
            "Sigmoid" => post = Some(Op::Act(Activation::Sigmoid)),
            "Tanh" => post = Some(Op::Act(Activation::Tanh)),
            "LeakyRelu" => {
                let alpha = cx.n.float("leakyrelu_alpha").unwrap_or(0.2) as f32;
                post = Some(Op::Act(Activation::LeakyRelu { alpha }));
            }
            "Prelu" => {
                let a = cx.konst(arg)?;
                arg += 1;
                let probe = Act {
                    id: 0,
                    dims: vec![1, 1, 1, c],
                    layout: Layout::Nhwc,
                };
                post = Some(prelu(cx, &probe, &a)?);
            }
            other => {
                return Err(cx.unsupported(&format!(" with fused op {other}")));
            }
        }
    }
    Ok((bias, post))
}

/// Elementwise binary ops: two activations, or one with a constant (→ ChannelAffine).
fn binary(mut cx: Cx) -> Result<()> {
    let op = cx.n.op.clone();
    match (cx.entry(0)?.clone(), cx.entry(1)?.clone()) {
        (Entry::Act(a), Entry::Act(b)) => {
            let graph_op = match op.as_str() {
                "Add" | "AddV2" | "BiasAdd" => Op::Add,
                "Sub" => Op::Sub,
                "Mul" => Op::Mul,
                _ => return Err(cx.unsupported(" of two computed tensors")),
            };
            let (a, b) = if a.dims.iter().product::<usize>() < b.dims.iter().product::<usize>() {
                if !matches!(graph_op, Op::Mul) {
                    return Err(cx.unsupported(" with broadcasting between computed tensors"));
                }
                (b, a)
            } else {
                (a, b)
            };
            let (ai, bi, out) = if a.dims.len() == 4 {
                let (ai, s) = cx.nhwc(&a)?;
                let bi = if b.dims == a.dims {
                    cx.nhwc(&b)?.0
                } else if b.dims == [1, 1, 1, s.c] {
                    cx.imp.flatten(&cx.n.name, &b)?
                } else {
                    return Err(cx.unsupported(&format!(
                        " of {:?} and {:?} (same shape or per-channel only)",
                        a.dims, b.dims
                    )));
                };
                (ai, bi, Layout::Nhwc)
            } else if a.dims == b.dims {
                let ai = cx.imp.flatten(&cx.n.name, &a)?;
                let bi = cx.imp.flatten(&cx.n.name, &b)?;
                (ai, bi, Layout::Flat)
            } else {
                return Err(cx.unsupported(&format!(" of {:?} and {:?}", a.dims, b.dims)));
            };
            let id = cx.push(graph_op, vec![ai, bi], "")?;
            cx.set(Act {
                id,
                dims: a.dims,
                layout: out,
            });
            Ok(())
        }
        (Entry::Act(x), Entry::Const(c)) => affine(cx, &op, x, c, false),
        (Entry::Const(c), Entry::Act(x)) => affine(cx, &op, x, c, true),
        (Entry::Const(_), Entry::Const(_)) => Err(cx.unsupported(" on constants")),
    }
}

/// `x op c` (or `c op x` when `swapped`) as `x · scale + shift` per channel.
fn affine(mut cx: Cx, op: &str, x: Act, c: Constant, swapped: bool) -> Result<()> {
    let v = c.f32s();
    let per = *x.dims.last().unwrap_or(&1);
    let rows_one = c.dims.iter().rev().skip(1).all(|&d| d == 1);
    let k = if v.len() == 1 {
        vec![v[0]; per]
    } else if v.len() == per && rows_one && c.dims.len() <= x.dims.len() {
        v
    } else {
        return Err(cx.unsupported(&format!(
            " with constant {:?} on {:?} (scalar or per-channel constants only)",
            c.dims, x.dims
        )));
    };
    let (scale, shift): (Vec<f32>, Vec<f32>) = match (op, swapped) {
        ("Add" | "AddV2" | "BiasAdd", _) => (vec![1.0; per], k),
        ("Sub", false) => (vec![1.0; per], k.iter().map(|v| -v).collect()),
        ("Sub", true) => (vec![-1.0; per], k),
        ("Mul", _) => (k, vec![0.0; per]),
        ("RealDiv", false) => (k.iter().map(|v| 1.0 / v).collect(), vec![0.0; per]),
        _ => return Err(cx.unsupported(" with a constant numerator")),
    };
    // Per channel on NHWC; on a flat tensor the constant repeats along the last axis.
    let (id, scale, shift, layout) = match x.layout {
        Layout::Nhwc => (x.id, scale, shift, Layout::Nhwc),
        Layout::Flat => {
            let id = cx.imp.flatten(&cx.n.name, &x)?;
            let n = cx.imp.values[id].shape.len();
            let rep = |v: &[f32]| (0..n).map(|i| v[i % per]).collect::<Vec<_>>();
            (id, rep(&scale), rep(&shift), Layout::Flat)
        }
    };
    let id = cx.push(Op::ChannelAffine { scale, shift }, vec![id], "")?;
    cx.set(Act {
        id,
        dims: x.dims,
        layout,
    });
    Ok(())
}

fn add_n(mut cx: Cx) -> Result<()> {
    let k = cx.inputs().len();
    let first = cx.act(0)?;
    let (mut acc, _) = cx.nhwc_or_flat(&first)?;
    for i in 1..k {
        let b = cx.act(i)?;
        if b.dims != first.dims {
            return Err(cx.bad(format!("adds {:?} to {:?}", b.dims, first.dims)));
        }
        let (bi, _) = cx.nhwc_or_flat(&b)?;
        let suffix = if i + 1 == k {
            String::new()
        } else {
            format!("/{i}")
        };
        acc = cx.push(Op::Add, vec![acc, bi], &suffix)?;
    }
    let layout = if first.dims.len() == 4 {
        Layout::Nhwc
    } else {
        Layout::Flat
    };
    cx.set(Act {
        id: acc,
        dims: first.dims,
        layout,
    });
    Ok(())
}

impl Cx<'_> {
    /// 4-D tensors as CHW, others row-major: the canonical form two operands are matched in.
    fn nhwc_or_flat(&mut self, a: &Act) -> Result<(ValueId, Layout)> {
        if a.dims.len() == 4 {
            Ok((self.nhwc(a)?.0, Layout::Nhwc))
        } else {
            Ok((self.imp.flatten(&self.n.name, a)?, Layout::Flat))
        }
    }
}

fn pad(mut cx: Cx) -> Result<()> {
    let x = cx.act(0)?;
    let p = cx.ints(1)?;
    if cx.inputs().len() > 2 {
        let v = cx.konst(2)?.f32s();
        if v.iter().any(|&v| v != 0.0) {
            return Err(cx.unsupported(&format!(" with constant_values {v:?} (zero only)")));
        }
    }
    if x.dims.len() != 4 || p.len() != 8 {
        return Err(cx.unsupported(&format!(
            " of a rank-{} tensor (4-D NHWC only)",
            x.dims.len()
        )));
    }
    if p[0] != 0 || p[1] != 0 || p.iter().any(|&v| !(0..=1 << 16).contains(&v)) {
        return Err(cx.unsupported(&format!(" with paddings {p:?} (batch unpadded, ≥ 0)")));
    }
    let u = |i: usize| p[i] as usize;
    let (xid, _) = cx.nhwc(&x)?;
    let pads = [u(6), u(2), u(4), u(7), u(3), u(5)];
    let id = cx.push(Op::Pad { pads }, vec![xid], "")?;
    cx.out_nhwc(id);
    Ok(())
}

fn pool(mut cx: Cx) -> Result<()> {
    cx.data_format_nhwc()?;
    let x = cx.act(0)?;
    let (xid, xs) = cx.nhwc(&x)?;
    let k = cx.hw_attr("ksize")?;
    let stride = cx.hw_attr("strides")?;
    let pads = cx.pads(xs, k, stride, [1, 1])?;
    let kind = if cx.n.op == "MaxPool" {
        PoolKind::Max
    } else {
        PoolKind::Average
    };
    let op = Op::Pool(Pool {
        kind,
        kh: k[0],
        kw: k[1],
        stride,
        pads,
    });
    let id = cx.push(op, vec![xid], "")?;
    cx.out_nhwc(id);
    Ok(())
}

fn mean(mut cx: Cx) -> Result<()> {
    let x = cx.act(0)?;
    let mut axes: Vec<i64> = cx
        .ints(1)?
        .iter()
        .map(|&a| if a < 0 { a + x.dims.len() as i64 } else { a })
        .collect();
    axes.sort_unstable();
    if x.dims.len() != 4 || axes != [1, 2] {
        return Err(cx.unsupported(&format!(
            " over axes {axes:?} of {:?} (only the spatial mean of NHWC)",
            x.dims
        )));
    }
    let (xid, xs) = cx.nhwc(&x)?;
    let id = cx.push(Op::GlobalAvgPool, vec![xid], "")?;
    let keep = cx.n.boolean("keep_dims").unwrap_or(false);
    let (dims, layout) = if keep {
        (vec![1, 1, 1, xs.c], Layout::Nhwc)
    } else {
        (vec![1, xs.c], Layout::Flat)
    };
    cx.set(Act { id, dims, layout });
    Ok(())
}

fn matmul(mut cx: Cx) -> Result<()> {
    let a = cx.act(0)?;
    let b = cx.konst(1)?;
    if cx.n.boolean("transpose_a").unwrap_or(false) {
        return Err(cx.unsupported(" with transpose_a"));
    }
    let tb = cx.n.boolean("transpose_b").unwrap_or(false);
    let [r0, r1] = b.dims[..] else {
        return Err(cx.bad(format!("weight dims {:?}, expected 2", b.dims)));
    };
    let (k, n) = if tb { (r1, r0) } else { (r0, r1) };
    let rows: usize = a.dims.iter().rev().skip(1).product();
    if rows != 1 || a.dims.last() != Some(&k) {
        return Err(cx.unsupported(&format!(
            " of {:?} by {:?} (one row of {k} only)",
            a.dims, b.dims
        )));
    }
    let w = b.f32s();
    let weight = if tb {
        w
    } else {
        let mut t = vec![0.0; w.len()];
        for i in 0..k {
            for o in 0..n {
                t[o * k + i] = w[i * n + o];
            }
        }
        t
    };
    let (bias, post) = fused(&cx, n)?;
    let x = cx.imp.flatten(&cx.n.name, &a)?;
    let op = Op::Linear(Linear {
        c_out: n,
        c_in: k,
        weight,
        bias: bias.unwrap_or_else(|| vec![0.0; n]),
    });
    let mut id = cx.push(op, vec![x], if post.is_some() { "/linear" } else { "" })?;
    if let Some(op) = post {
        id = cx.push(op, vec![id], "")?;
    }
    cx.set(Act {
        id,
        dims: vec![1, n],
        layout: Layout::Flat,
    });
    Ok(())
}

/// Same values, new TF dims: a free view unless the layouts disagree across pixels and
/// channels.
fn reshape(mut cx: Cx, x: Act, dims: Vec<usize>) -> Result<()> {
    if dims == x.dims {
        cx.set(x);
        return Ok(());
    }
    if dims.len() == 4 && dims[0] == 1 {
        let id = cx.imp.as_nhwc(&cx.n.name, &x, &dims)?;
        cx.set(Act {
            id,
            dims,
            layout: Layout::Nhwc,
        });
    } else {
        let id = cx.imp.flatten(&cx.n.name, &x)?;
        cx.set(Act {
            id,
            dims,
            layout: Layout::Flat,
        });
    }
    Ok(())
}

fn concat(mut cx: Cx) -> Result<()> {
    let k = cx.inputs().len();
    if k < 2 {
        return Err(cx.bad("needs at least one tensor and the axis".into()));
    }
    let parts: Vec<Act> = (0..k - 1).map(|i| cx.act(i)).collect::<Result<_>>()?;
    let rank = parts[0].dims.len();
    let axis = *cx
        .ints(k - 1)?
        .first()
        .ok_or_else(|| cx.bad("empty axis".into()))?;
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    if !(0..rank as i64).contains(&axis) {
        return Err(cx.bad(format!("axis {axis} out of range for rank {rank}")));
    }
    let axis = axis as usize;
    let agree = parts.iter().all(|p| {
        p.dims.len() == rank
            && p.dims
                .iter()
                .zip(&parts[0].dims)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b)
    });
    if !agree {
        return Err(cx.bad("inputs differ outside the concatenation axis".into()));
    }
    let mut dims = parts[0].dims.clone();
    dims[axis] = parts.iter().map(|p| p.dims[axis]).sum();
    let (ids, layout) = if rank == 4 && axis == 3 {
        let ids = parts
            .iter()
            .map(|p| cx.nhwc(p).map(|r| r.0))
            .collect::<Result<Vec<_>>>()?;
        (ids, Layout::Nhwc)
    } else if axis + 1 == rank && rank >= 2 && parts[0].dims[..rank - 2].iter().all(|&d| d == 1) {
        // Rows [R, K_i] → [R, ΣK]: row-major [R, K] is HWC (R, 1, K), so concatenate along
        // channels in CHW and lay the result out row-major again.
        let r = parts[0].dims[rank - 2];
        let mut ids = Vec::new();
        for p in &parts {
            let k = p.dims[axis];
            let flat = cx.imp.flatten(&cx.n.name, p)?;
            let op = if r == 1 || k == 1 {
                Op::View(Shape::new(k, r, 1))
            } else {
                Op::FromHwc(Shape::new(k, r, 1))
            };
            ids.push(cx.push(op, vec![flat], &format!("/chw{}", ids.len()))?);
        }
        let id = cx.push(Op::Concat, ids, "/chw")?;
        let a = Act {
            id,
            dims: vec![1, r, 1, dims[axis]],
            layout: Layout::Nhwc,
        };
        let id = cx.imp.flatten(&cx.n.name, &a)?;
        cx.set(Act {
            id,
            dims,
            layout: Layout::Flat,
        });
        return Ok(());
    } else if parts[0].dims[..axis].iter().all(|&d| d == 1) {
        // Leading dims all 1: the parts lie one after another in row-major memory.
        let ids = parts
            .iter()
            .map(|p| cx.imp.flatten(&cx.n.name, p))
            .collect::<Result<Vec<_>>>()?;
        (ids, Layout::Flat)
    } else {
        return Err(cx.unsupported(&format!(" along axis {axis} of {:?}", parts[0].dims)));
    };
    let id = cx.push(Op::Concat, ids, "")?;
    cx.set(Act { id, dims, layout });
    Ok(())
}

fn strided_slice(mut cx: Cx) -> Result<()> {
    let x = cx.act(0)?;
    let (b, e, s) = (cx.ints(1)?, cx.ints(2)?, cx.ints(3)?);
    let spec = Slice::new(cx.n, &x.dims, &b, &e, &s).map_err(|d| cx.bad(d))?;
    if spec.step.iter().any(|&s| s < 1) {
        return Err(cx.unsupported(" with negative strides on a computed tensor"));
    }
    let out_dims = spec.dims();
    // Map TF axes onto the (c, h, w) our Slice works in: NHWC [1, H, W, C] → (C, H, W); a
    // flat [1.., a, b, c] is row-major (a, b, c).
    let (xid, axes): (ValueId, [Option<usize>; 3]) =
        if x.dims.len() == 4 && x.layout == Layout::Nhwc {
            if spec.start[0] != 0 || spec.count[0] != 1 {
                return Err(cx.unsupported(" across the batch"));
            }
            (x.id, [Some(3), Some(1), Some(2)])
        } else {
            let r = x.dims.len();
            if r > 3 && x.dims[..r - 3].iter().any(|&d| d != 1) {
                return Err(cx.unsupported(&format!(" of {:?} (at most 3 non-batch axes)", x.dims)));
            }
            let id = cx.imp.flatten(&cx.n.name, &x)?;
            let ax = |k: usize| (r >= k).then(|| r - k);
            let id = {
                let dim = |a: Option<usize>| a.map_or(1, |a| x.dims[a]);
                let s = Shape::new(dim(ax(3)), dim(ax(2)), dim(ax(1)));
                if cx.imp.values[id].shape == s {
                    id
                } else {
                    cx.push(Op::View(s), vec![id], "/view")?
                }
            };
            (id, [ax(3), ax(2), ax(1)])
        };
    let pick = |a: Option<usize>, v: &dyn Fn(usize) -> usize, default: usize| a.map_or(default, v);
    let begin = axes.map(|a| pick(a, &|a| spec.start[a], 0));
    let step = axes.map(|a| pick(a, &|a| spec.step[a] as usize, 1));
    let cnt = axes.map(|a| pick(a, &|a| spec.count[a], 1));
    let op = Op::Slice {
        begin,
        step,
        out: Shape::new(cnt[0], cnt[1], cnt[2]),
    };
    let id = cx.push(op, vec![xid], "")?;
    let keeps_nhwc = x.dims.len() == 4 && x.layout == Layout::Nhwc && spec.keep.iter().all(|&k| k);
    let layout = if keeps_nhwc {
        Layout::Nhwc
    } else {
        Layout::Flat
    };
    let id = if layout == Layout::Flat && x.layout == Layout::Nhwc {
        // A shrunk NHWC slice is read row-major from here on.
        let a = Act {
            id,
            dims: vec![1, cnt[1], cnt[2], cnt[0]],
            layout: Layout::Nhwc,
        };
        cx.imp.flatten(&cx.n.name, &a)?
    } else {
        id
    };
    cx.set(Act {
        id,
        dims: out_dims,
        layout,
    });
    Ok(())
}

fn depth_to_space(mut cx: Cx) -> Result<()> {
    cx.data_format_nhwc()?;
    let x = cx.act(0)?;
    let block =
        cx.n.int("block_size")
            .filter(|&b| (1..=64).contains(&b))
            .ok_or_else(|| cx.bad("block_size missing or out of 1..64".into()))? as usize;
    let (xid, _) = cx.nhwc(&x)?;
    let id = cx.push(Op::DepthToSpace { block }, vec![xid], "")?;
    cx.out_nhwc(id);
    Ok(())
}

fn resize(mut cx: Cx) -> Result<()> {
    let x = cx.act(0)?;
    let size = cx.ints(1)?;
    let [oh, ow] = size[..] else {
        return Err(cx.bad(format!("size {size:?}, expected [height, width]")));
    };
    let ok = |v: i64| (1..=1 << 16).contains(&v);
    if !ok(oh) || !ok(ow) {
        return Err(cx.bad(format!("size {size:?} out of range")));
    }
    let (xid, _) = cx.nhwc(&x)?;
    let op = Op::ResizeBilinear(Resize {
        oh: oh as usize,
        ow: ow as usize,
        align_corners: cx.n.boolean("align_corners").unwrap_or(false),
        half_pixel_centers: cx.n.boolean("half_pixel_centers").unwrap_or(false),
    });
    let id = cx.push(op, vec![xid], "")?;
    cx.out_nhwc(id);
    Ok(())
}

fn softmax(mut cx: Cx) -> Result<()> {
    let x = cx.act(0)?;
    if x.dims.iter().rev().skip(1).any(|&d| d != 1) {
        return Err(cx.unsupported(&format!(
            " over {:?} (one row of class scores only)",
            x.dims
        )));
    }
    let id = cx.imp.flatten(&cx.n.name, &x)?;
    let id = cx.push(Op::Softmax, vec![id], "")?;
    cx.set(Act {
        id,
        dims: x.dims,
        layout: Layout::Flat,
    });
    Ok(())
}
