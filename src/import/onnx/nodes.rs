//! One ONNX node → zero or more graph ops. Conventions: `x` is the node's first (activation)
//! input; weights must be initializers (or Constant outputs); dims in `Importer::dims` are ONNX
//! dims with the batch of 1 included.

use super::proto::{AttributeProto, NodeProto};
use super::tensor::{Constant, Data};
use super::Importer;
use crate::error::{Error, Result};
use crate::graph::{Activation, Conv, Linear, Op, Pool, PoolKind, Resize, Shape};

pub(super) fn import(imp: &mut Importer, name: &str, n: &NodeProto) -> Result<()> {
    let op = n.op_type.as_str();
    let cx = Cx { imp, name, n };
    if let Some(known) = attributes_read(op) {
        if let Some(a) = n
            .attribute
            .iter()
            .find(|a| !known.contains(&a.name.as_str()))
        {
            return Err(cx.unsupported(&format!(
                " with attribute {} (its importer reads {})",
                a.name,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    match op {
        "Constant" => constant(cx),
        "Conv" => conv(cx),
        "BatchNormalization" => batch_norm(cx),
        "Relu" => act(cx, Activation::Relu),
        "Sigmoid" => act(cx, Activation::Sigmoid),
        "HardSwish" => act(cx, Activation::HardSwish),
        "Tanh" => act(cx, Activation::Tanh),
        "LeakyRelu" => {
            let alpha = cx.attr_f("alpha", 0.01);
            act(cx, Activation::LeakyRelu { alpha })
        }
        "PRelu" => prelu(cx),
        "Pad" => pad(cx),
        "ReduceMean" => reduce_mean(cx),
        "DepthToSpace" => depth_to_space(cx),
        "Resize" => resize(cx),
        "Transpose" => transpose(cx),
        "HardSigmoid" => {
            let (alpha, beta) = (cx.attr_f("alpha", 0.2), cx.attr_f("beta", 0.5));
            act(cx, Activation::HardSigmoid { alpha, beta })
        }
        "Clip" => clip(cx),
        "Add" | "Mul" => binary(cx),
        "GlobalAveragePool" => {
            let (x, out) = (cx.x()?, cx.out()?);
            let c = cx.imp.values[x].shape.c;
            cx.imp
                .push(name, Op::GlobalAvgPool, vec![x], &out, vec![1, c, 1, 1])
                .map(drop)
        }
        "AveragePool" | "MaxPool" => pool(cx),
        "Flatten" => flatten(cx),
        "Reshape" | "Squeeze" | "Unsqueeze" => reshape(cx),
        "Identity" | "Dropout" => {
            let (x, out) = (cx.x()?, cx.out()?);
            cx.imp.alias(&out, x);
            Ok(())
        }
        "Gemm" | "MatMul" => linear(cx),
        "Softmax" => softmax(cx),
        "Concat" => concat(cx),
        _ => Err(cx.unsupported("")),
    }
}

/// The attributes the importer of `op` reads (and checks the values of); any other attribute
/// is refused by name, since ignoring one gives a wrong answer. `None`: an op without an
/// importer (refused as a whole).
fn attributes_read(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "Constant" => &[
            "value",
            "value_float",
            "value_floats",
            "value_int",
            "value_ints",
        ],
        "Conv" => &[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ],
        // momentum only matters in training
        "BatchNormalization" => &["epsilon", "momentum", "spatial", "is_test", "training_mode"],
        "Relu" | "Sigmoid" | "HardSwish" | "Tanh" | "PRelu" | "Add" | "Mul" | "Identity"
        | "GlobalAveragePool" | "MatMul" => &[],
        "HardSigmoid" => &["alpha", "beta"],
        "LeakyRelu" => &["alpha"],
        // opset < 11: the bounds are attributes
        "Clip" => &["min", "max"],
        "AveragePool" => &[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "strides",
        ],
        // storage_order only orders the optional Indices output, which is refused
        "MaxPool" => &[
            "auto_pad",
            "ceil_mode",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ],
        "Flatten" | "Softmax" | "Concat" => &["axis"],
        "Reshape" => &["shape", "allowzero"],
        "Squeeze" | "Unsqueeze" => &["axes"],
        // inference: dropout is the identity whatever its ratio
        "Dropout" => &["ratio", "seed", "is_test"],
        "Gemm" => &["alpha", "beta", "transA", "transB"],
        // opset < 11: pads and value are attributes
        "Pad" => &["mode", "pads", "value"],
        // opset 18 moves axes to an input
        "ReduceMean" => &["axes", "keepdims", "noop_with_empty_axes"],
        "DepthToSpace" => &["blocksize", "mode"],
        "Transpose" => &["perm"],
        // cubic_coeff_a and nearest_mode only shape modes that are refused
        "Resize" => &[
            "mode",
            "coordinate_transformation_mode",
            "cubic_coeff_a",
            "nearest_mode",
            "exclude_outside",
            "antialias",
        ],
        _ => return None,
    })
}

/// The node being imported, with helpers for its attributes and inputs.
struct Cx<'a> {
    imp: &'a mut Importer,
    name: &'a str,
    n: &'a NodeProto,
}

impl Cx<'_> {
    /// `out = x·scale[c] + shift[c]`, per channel, as a node of its own (what BatchNorm and
    /// per-channel Mul/Add become when no producer absorbs them).
    fn channel_affine(
        self,
        x: crate::graph::ValueId,
        out: &str,
        scale: Vec<f32>,
        shift: Vec<f32>,
    ) -> Result<()> {
        let dims = self.imp.dims[x].clone();
        let op = Op::ChannelAffine { scale, shift };
        self.imp.push(self.name, op, vec![x], out, dims).map(drop)
    }

    fn bad(&self, detail: String) -> Error {
        self.imp.bad(self.name, &self.n.op_type, detail)
    }
    fn unsupported(&self, detail: &str) -> Error {
        Error::UnsupportedOp {
            file: self.imp.file.clone(),
            node: self.name.into(),
            op: self.n.op_type.clone(),
            detail: detail.into(),
        }
    }
    fn attr(&self, key: &str) -> Option<&AttributeProto> {
        self.n.attribute.iter().find(|a| a.name == key)
    }
    fn attr_i(&self, key: &str, default: i64) -> i64 {
        self.attr(key).map_or(default, |a| a.i)
    }
    fn attr_f(&self, key: &str, default: f32) -> f32 {
        self.attr(key).map_or(default, |a| a.f)
    }
    fn attr_s(&self, key: &str) -> String {
        self.attr(key)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_default()
    }
    /// A list of non-negative ints (kernel_shape, strides, pads, …) of exactly `len` entries.
    fn attr_dims(&self, key: &str, len: usize, default: usize) -> Result<Vec<usize>> {
        let Some(a) = self.attr(key) else {
            return Ok(vec![default; len]);
        };
        if a.ints.len() != len {
            return Err(self.bad(format!(
                "attribute {key} has {} values, expected {len}",
                a.ints.len()
            )));
        }
        a.ints
            .iter()
            .map(|&v| usize::try_from(v).ok().filter(|&v| v <= 1 << 16))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.bad(format!("attribute {key} = {:?} is out of range", a.ints)))
    }
    fn input_name(&self, i: usize) -> Option<&str> {
        self.n
            .input
            .get(i)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }
    fn x(&self) -> Result<usize> {
        let name = self
            .input_name(0)
            .ok_or_else(|| self.bad("has no input".into()))?;
        self.imp.value(name, self.name, &self.n.op_type)
    }
    fn out(&self) -> Result<String> {
        self.n
            .output
            .first()
            .cloned()
            .ok_or_else(|| self.bad("has no output".into()))
    }
    /// Input `i` as a constant, if it is one.
    fn constant(&self, i: usize) -> Option<&Constant> {
        self.input_name(i).and_then(|s| self.imp.consts.get(s))
    }
    fn weight(&self, i: usize, what: &str) -> Result<Constant> {
        let c = self.constant(i).cloned();
        c.ok_or_else(|| {
            self.bad(format!(
                "{what} (input {i}) must be an initializer or Constant"
            ))
        })
    }
}

fn constant(cx: Cx) -> Result<()> {
    let out = cx.out()?;
    let c = if let Some(t) = cx.attr("value").and_then(|a| a.t.as_ref()) {
        super::tensor::decode(&cx.imp.file, t)?
    } else if let Some(a) = cx.attr("value_float") {
        Constant {
            dims: vec![],
            data: Data::F32(vec![a.f]),
        }
    } else if let Some(a) = cx.attr("value_floats") {
        Constant {
            dims: vec![a.floats.len()],
            data: Data::F32(a.floats.clone()),
        }
    } else if let Some(a) = cx.attr("value_int") {
        Constant {
            dims: vec![],
            data: Data::I64(vec![a.i]),
        }
    } else if let Some(a) = cx.attr("value_ints") {
        Constant {
            dims: vec![a.ints.len()],
            data: Data::I64(a.ints.clone()),
        }
    } else {
        return Err(cx.unsupported(" (only value, value_float(s) and value_int(s) constants are)"));
    };
    cx.imp.consts.insert(out, c);
    Ok(())
}

fn conv(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let xs = cx.imp.values[x].shape;
    let w = cx.weight(1, "weight")?;
    let [c_out, cin_g, kh, kw] = w.dims[..] else {
        return Err(cx.bad(format!(
            "weight dims {:?} are not (c_out, c_in/group, kh, kw)",
            w.dims
        )));
    };
    let groups = usize::try_from(cx.attr_i("group", 1))
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| cx.bad("group must be ≥ 1".into()))?;
    let bias = match cx.constant(2) {
        Some(b) if b.len() == c_out => b.f32s(),
        Some(b) => return Err(cx.bad(format!("bias has {} values, expected {c_out}", b.len()))),
        None if cx.input_name(2).is_some() => {
            return Err(cx.bad("bias must be an initializer".into()))
        }
        None => vec![0.0; c_out],
    };
    let stride = cx.attr_dims("strides", 2, 1)?;
    let dilation = cx.attr_dims("dilations", 2, 1)?;
    if let Some(ks) = cx.attr("kernel_shape") {
        if ks.ints != [kh as i64, kw as i64] {
            return Err(cx.bad(format!(
                "kernel_shape {:?} disagrees with weight dims {:?}",
                ks.ints, w.dims
            )));
        }
    }
    let pads = pads(
        &cx,
        [xs.h, xs.w],
        [kh, kw],
        [stride[0], stride[1]],
        [dilation[0], dilation[1]],
    )?;
    let conv = Conv {
        c_out,
        c_in: cin_g * groups,
        groups,
        kh,
        kw,
        stride: [stride[0], stride[1]],
        dilation: [dilation[0], dilation[1]],
        pads,
        weight: w.f32s(),
        bias,
    };
    let (name, dims_c) = (cx.name.to_string(), c_out);
    let shape_probe =
        crate::graph::shape::infer(&Op::Conv(conv.clone()), &[xs]).map_err(|d| cx.bad(d))?;
    cx.imp
        .push(
            &name,
            Op::Conv(conv),
            vec![x],
            &out,
            vec![1, dims_c, shape_probe.h, shape_probe.w],
        )
        .map(drop)
}

/// Explicit `[top, left, bottom, right]` pads from `pads` or `auto_pad`.
fn pads(
    cx: &Cx,
    hw: [usize; 2],
    k: [usize; 2],
    s: [usize; 2],
    d: [usize; 2],
) -> Result<[usize; 4]> {
    match cx.attr_s("auto_pad").as_str() {
        "" | "NOTSET" => {
            let p = cx.attr_dims("pads", 4, 0)?;
            Ok([p[0], p[1], p[2], p[3]])
        }
        "VALID" => Ok([0; 4]),
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            // Output = ceil(in / stride); the odd pad goes last (UPPER) or first (LOWER).
            let mut p = [0usize; 4];
            for a in 0..2 {
                let out = hw[a].div_ceil(s[a]);
                let span = (k[a] - 1) * d[a] + 1;
                let total = ((out - 1) * s[a] + span).saturating_sub(hw[a]);
                let (lo, hi) = if mode == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                p[a] = lo;
                p[a + 2] = hi;
            }
            Ok(p)
        }
        other => Err(cx.bad(format!(
            "auto_pad {other:?} is not NOTSET, VALID, SAME_UPPER or SAME_LOWER"
        ))),
    }
}

fn batch_norm(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let c = cx.imp.values[x].shape.c;
    let [gamma, beta, mean, var] = [1, 2, 3, 4].map(|i| cx.constant(i).map(|t| t.f32s()));
    let (Some(gamma), Some(beta), Some(mean), Some(var)) = (gamma, beta, mean, var) else {
        return Err(cx.bad("scale, B, mean and var must all be initializers".into()));
    };
    if [&gamma, &beta, &mean, &var].iter().any(|v| v.len() != c) {
        return Err(cx.bad(format!(
            "scale/B/mean/var must have {c} values (one per channel)"
        )));
    }
    if cx.attr_i("training_mode", 0) != 0 {
        return Err(cx.unsupported(" with training_mode = 1"));
    }
    let eps = cx.attr_f("epsilon", 1e-5);
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
    let input = cx.input_name(0).unwrap_or_default().to_string();
    // Fold into the conv that produced x: W'[o] = W[o]·s[o], b'[o] = b[o]·s[o] + shift[o].
    if let Some(Node {
        op: Op::Conv(conv),
        output,
        ..
    }) = cx.imp.foldable_producer(&input)
    {
        let per_out = conv.weight.len() / conv.c_out;
        for o in 0..conv.c_out {
            conv.weight[o * per_out..(o + 1) * per_out]
                .iter_mut()
                .for_each(|w| *w *= scale[o]);
            conv.bias[o] = conv.bias[o] * scale[o] + shift[o];
        }
        let v = *output;
        cx.imp.alias(&out, v);
        return Ok(());
    }
    cx.channel_affine(x, &out, scale, shift)
}

use crate::graph::Node;

fn act(cx: Cx, a: Activation) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let dims = cx.imp.dims[x].clone();
    cx.imp
        .push(cx.name, Op::Act(a), vec![x], &out, dims)
        .map(drop)
}

fn clip(cx: Cx) -> Result<()> {
    let scalar = |i: usize, attr: &str, default: f32| -> Result<f32> {
        if cx.imp.opset < 11 {
            return Ok(cx.attr_f(attr, default));
        }
        match (cx.input_name(i), cx.constant(i)) {
            (None, _) => Ok(default),
            (Some(_), Some(c)) if c.len() == 1 => Ok(c.f32s()[0]),
            _ => Err(cx.bad(format!("{attr} (input {i}) must be a scalar constant"))),
        }
    };
    let (min, max) = (
        scalar(1, "min", f32::NEG_INFINITY)?,
        scalar(2, "max", f32::INFINITY)?,
    );
    let a = if min == 0.0 && max == f32::INFINITY {
        Activation::Relu
    } else {
        Activation::Clip { min, max }
    };
    act(cx, a)
}

/// Add/Mul of two activations, or of an activation and a constant (folded into the producing
/// conv/linear's bias where possible, else a per-channel affine).
fn binary(cx: Cx) -> Result<()> {
    let out = cx.out()?;
    let is_add = cx.n.op_type == "Add";
    let (ci, xi) = match (cx.constant(0).is_some(), cx.constant(1).is_some()) {
        (false, false) => {
            let a = cx.x()?;
            let bname = cx
                .input_name(1)
                .ok_or_else(|| cx.bad("needs two inputs".into()))?;
            let b = cx.imp.value(bname, cx.name, &cx.n.op_type)?;
            let dims = cx.imp.dims[a].clone();
            let op = if is_add { Op::Add } else { Op::Mul };
            return cx.imp.push(cx.name, op, vec![a, b], &out, dims).map(drop);
        }
        (true, false) => (0, 1),
        (false, true) => (1, 0),
        (true, true) => return Err(cx.unsupported(" on two constants (fold it before export)")),
    };
    let xname = cx.input_name(xi).unwrap_or_default().to_string();
    let x = cx.imp.value(&xname, cx.name, &cx.n.op_type)?;
    let c = cx.imp.values[x].shape.c;
    let k = cx.constant(ci).expect("checked above").f32s();
    let per_channel: Vec<f32> = match k.len() {
        1 => vec![k[0]; c],
        n if n == c => k,
        n => {
            return Err(cx.bad(format!(
            "constant operand has {n} values; only a scalar or one per channel ({c}) is supported"
        )))
        }
    };
    if is_add {
        match cx.imp.foldable_producer(&xname) {
            Some(Node {
                op: Op::Conv(conv),
                output,
                ..
            }) => {
                conv.bias
                    .iter_mut()
                    .zip(&per_channel)
                    .for_each(|(b, k)| *b += k);
                let v = *output;
                cx.imp.alias(&out, v);
                return Ok(());
            }
            Some(Node {
                op: Op::Linear(Linear { bias, .. }),
                output,
                ..
            }) => {
                bias.iter_mut().zip(&per_channel).for_each(|(b, k)| *b += k);
                let v = *output;
                cx.imp.alias(&out, v);
                return Ok(());
            }
            _ => {}
        }
    }
    let (scale, shift) = if is_add {
        (vec![1.0; c], per_channel)
    } else {
        (per_channel, vec![0.0; c])
    };
    cx.channel_affine(x, &out, scale, shift)
}

fn pool(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let xs = cx.imp.values[x].shape;
    let k = cx.attr_dims("kernel_shape", 2, 0)?;
    let s = cx.attr_dims("strides", 2, 1)?;
    let d = cx.attr_dims("dilations", 2, 1)?;
    if d != [1, 1] {
        return Err(cx.unsupported(&format!(" with dilations {d:?}")));
    }
    if cx.n.output.len() > 1 && cx.n.output[1..].iter().any(|o| !o.is_empty()) {
        return Err(cx.unsupported(" with an Indices output"));
    }
    let mut pads = pads(&cx, [xs.h, xs.w], [k[0], k[1]], [s[0], s[1]], [1, 1])?;
    if cx.attr_i("ceil_mode", 0) != 0 {
        // ceil((in + pads − k) / s) + 1 outputs, less one when the last window would start in
        // the end padding: the same windows as a floor over more end padding, which both pools
        // leave out (max ignores it, average does not count it)
        for a in 0..2 {
            let n = [xs.h, xs.w][a] + pads[a] + pads[a + 2];
            if n < k[a] || s[a] == 0 {
                break; // shape inference below reports the bad window
            }
            let mut out = (n - k[a]).div_ceil(s[a]) + 1;
            if (out - 1) * s[a] >= [xs.h, xs.w][a] + pads[a] {
                out -= 1;
            }
            pads[a + 2] += ((out - 1) * s[a] + k[a]).saturating_sub(n);
        }
    }
    let kind = if cx.n.op_type == "MaxPool" {
        PoolKind::Max
    } else {
        PoolKind::Average
    };
    if kind == PoolKind::Average && cx.attr_i("count_include_pad", 0) != 0 && pads != [0; 4] {
        return Err(cx.unsupported(" with count_include_pad = 1 and padding"));
    }
    let op = Op::Pool(Pool {
        kind,
        kh: k[0],
        kw: k[1],
        stride: [s[0], s[1]],
        pads,
    });
    let probe = crate::graph::shape::infer(&op, &[xs]).map_err(|d| cx.bad(d))?;
    cx.imp
        .push(
            cx.name,
            op,
            vec![x],
            &out,
            vec![1, probe.c, probe.h, probe.w],
        )
        .map(drop)
}

fn flatten(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let axis = cx.attr_i("axis", 1);
    if axis != 0 && axis != 1 {
        return Err(cx.unsupported(&format!(
            " with axis {axis} (batch-1 models flatten at 0 or 1)"
        )));
    }
    let n = cx.imp.values[x].shape.len();
    view(cx, x, &out, vec![1, n])
}

/// Reshape / Squeeze / Unsqueeze: compute the new ONNX dims, then map them onto CHW.
fn reshape(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let old = cx.imp.dims[x].clone();
    let ints = |i: usize, attr: &str| -> Result<Vec<i64>> {
        if let Some(a) = cx.attr(attr) {
            return Ok(a.ints.clone());
        }
        match cx.constant(i).and_then(|c| c.i64s().map(<[i64]>::to_vec)) {
            Some(v) => Ok(v),
            None if cx.n.op_type != "Reshape" && cx.input_name(i).is_none() => Ok(vec![]),
            None => Err(cx.bad(format!("{attr} (input {i}) must be an int64 initializer"))),
        }
    };
    let rank = old.len() as i64;
    let norm = |a: i64, r: i64| if a < 0 { a + r } else { a };
    let new: Vec<usize> = match cx.n.op_type.as_str() {
        "Reshape" => {
            let spec = ints(1, "shape")?;
            if cx.attr_i("allowzero", 0) != 0 && spec.contains(&0) {
                // a 0 is then an empty dim, not "copy the input's"
                return Err(cx.unsupported(" with allowzero = 1 and a 0 in the shape"));
            }
            let mut dims = Vec::with_capacity(spec.len());
            let mut infer = None;
            for (i, &d) in spec.iter().enumerate() {
                match d {
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        dims.push(1);
                    }
                    0 => dims.push(*old.get(i).ok_or_else(|| {
                        cx.bad(format!(
                            "shape {spec:?} copies dim {i} of a rank-{rank} input"
                        ))
                    })?),
                    d if d > 0 => dims.push(d as usize),
                    _ => {
                        return Err(cx.bad(format!("shape {spec:?} is not a valid Reshape target")))
                    }
                }
            }
            let total = cx.imp.values[x].shape.len();
            if let Some(i) = infer {
                // checked: the spec's other dims are the file's numbers
                let known = dims
                    .iter()
                    .try_fold(1usize, |a: usize, &d| a.checked_mul(d))
                    .unwrap_or(0);
                if known == 0 || total % known != 0 {
                    return Err(cx.bad(format!("cannot reshape {total} values to {spec:?}")));
                }
                dims[i] = total / known;
            }
            dims
        }
        "Squeeze" => {
            let axes: Vec<i64> = ints(1, "axes")?
                .into_iter()
                .map(|a| norm(a, rank))
                .collect();
            if axes
                .iter()
                .any(|&a| a < 0 || a >= rank || old[a as usize] != 1)
            {
                return Err(cx.bad(format!("cannot squeeze axes {axes:?} of dims {old:?}")));
            }
            old.iter()
                .enumerate()
                .filter(|(i, &d)| {
                    if axes.is_empty() {
                        d != 1
                    } else {
                        !axes.contains(&(*i as i64))
                    }
                })
                .map(|(_, &d)| d)
                .collect()
        }
        _ => {
            let axes = ints(1, "axes")?;
            let out_rank = rank + axes.len() as i64;
            let mut axes: Vec<i64> = axes.into_iter().map(|a| norm(a, out_rank)).collect();
            axes.sort_unstable();
            if axes.iter().any(|&a| a < 0 || a >= out_rank) {
                return Err(cx.bad(format!("cannot unsqueeze dims {old:?} at {axes:?}")));
            }
            let mut src = old.iter();
            (0..out_rank)
                .map(|i| {
                    if axes.contains(&i) {
                        1
                    } else {
                        *src.next().unwrap_or(&1)
                    }
                })
                .collect()
        }
    };
    view(cx, x, &out, new)
}

/// A zero-copy view of `x` with ONNX dims `dims`, mapped onto CHW (leading batch 1 dropped).
fn view(cx: Cx, x: usize, out: &str, dims: Vec<usize>) -> Result<()> {
    let body: &[usize] = match dims.split_first() {
        Some((1, rest)) if dims.len() >= 2 => rest,
        _ => &dims,
    };
    let shape = match *body {
        [n] => Shape::vector(n),
        [c, h, w] => Shape::new(c, h, w),
        [c, 1] => Shape::vector(c),
        // the channel axis split in two or three (a shuffle's first Reshape): the same memory
        [.., h, w]
            if body.len() > 3
                && (h, w) == (cx.imp.values[x].shape.h, cx.imp.values[x].shape.w)
                && body[..body.len() - 2]
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
                    == Some(cx.imp.values[x].shape.c) =>
        {
            cx.imp.values[x].shape
        }
        _ => {
            return Err(cx.unsupported(&format!(
                " to dims {dims:?} (batch-1 views to [1, N] or [1, C, H, W] are, and splits of C)"
            )))
        }
    };
    if shape == cx.imp.values[x].shape {
        let v = x;
        cx.imp.alias(out, v);
        cx.imp.dims[v] = dims;
        return Ok(());
    }
    cx.imp
        .push(cx.name, Op::View(shape), vec![x], out, dims)
        .map(drop)
}

/// Gemm (`alpha·A·op(B) + beta·C`) or MatMul on a flattened activation: a `Linear` op.
fn linear(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let k = cx.imp.values[x].shape.len();
    let b = cx.weight(1, "B")?;
    let [r, c] = b.dims[..] else {
        return Err(cx.bad(format!("B must be 2-D, got dims {:?}", b.dims)));
    };
    let gemm = cx.n.op_type == "Gemm";
    if gemm && cx.attr_i("transA", 0) != 0 {
        return Err(cx.unsupported(" with transA = 1"));
    }
    let trans_b = gemm && cx.attr_i("transB", 0) != 0;
    let (n_out, n_in) = if trans_b { (r, c) } else { (c, r) };
    if n_in != k {
        return Err(cx.bad(format!(
            "input has {k} values, B {:?} expects {n_in}",
            b.dims
        )));
    }
    let alpha = if gemm { cx.attr_f("alpha", 1.0) } else { 1.0 };
    let bv = b.f32s();
    // weight (n_out, n_in) row-major
    let weight: Vec<f32> = (0..n_out)
        .flat_map(|o| (0..n_in).map(move |i| (o, i)))
        .map(|(o, i)| {
            alpha
                * if trans_b {
                    bv[o * n_in + i]
                } else {
                    bv[i * n_out + o]
                }
        })
        .collect();
    let beta = if gemm { cx.attr_f("beta", 1.0) } else { 1.0 };
    let bias = match cx.constant(2).filter(|_| gemm) {
        Some(cb) if cb.len() == n_out => cb.f32s().iter().map(|v| beta * v).collect(),
        Some(cb) if cb.len() == 1 => vec![beta * cb.f32s()[0]; n_out],
        Some(cb) => return Err(cx.bad(format!("C has {} values, expected {n_out} or 1", cb.len()))),
        None if gemm && cx.input_name(2).is_some() => {
            return Err(cx.bad("C must be an initializer".into()))
        }
        None => vec![0.0; n_out],
    };
    let x = if cx.imp.values[x].shape.hw() != 1 {
        // Gemm on a (C, H, W) activation reads it flattened.
        let name = format!("{}:flatten", cx.name);
        cx.imp.push(
            &name,
            Op::View(Shape::vector(k)),
            vec![x],
            &name,
            vec![1, k],
        )?
    } else {
        x
    };
    cx.imp
        .push(
            cx.name,
            Op::Linear(Linear {
                c_out: n_out,
                c_in: n_in,
                weight,
                bias,
            }),
            vec![x],
            &out,
            vec![1, n_out],
        )
        .map(drop)
}

fn concat(cx: Cx) -> Result<()> {
    let out = cx.out()?;
    let ins: Vec<usize> = (0..cx.n.input.len())
        .map(|i| {
            cx.input_name(i)
                .ok_or_else(|| cx.bad("empty input name".into()))
                .and_then(|s| cx.imp.value(s, cx.name, &cx.n.op_type))
        })
        .collect::<Result<_>>()?;
    let first = ins
        .first()
        .copied()
        .ok_or_else(|| cx.bad("has no inputs".into()))?;
    let rank = cx.imp.dims[first].len() as i64;
    let axis = cx.attr_i("axis", 1);
    if (if axis < 0 { axis + rank } else { axis }) != 1 {
        return Err(cx.unsupported(&format!(" along axis {axis} (only channels, axis 1, is)")));
    }
    let mut dims = cx.imp.dims[first].clone();
    dims[1] = ins.iter().map(|&v| cx.imp.values[v].shape.c).sum();
    cx.imp.push(cx.name, Op::Concat, ins, &out, dims).map(drop)
}

/// Softmax of a batch-1 tensor whose values all lie along the reduced axis (class scores):
/// opset 13 reduces `axis` alone (default −1), older opsets the dims from `axis` on, flattened
/// (default 1). Any other layout would need a softmax per position: refused.
fn softmax(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let dims = cx.imp.dims[x].clone();
    let rank = dims.len() as i64;
    let axis = cx.attr_i("axis", if cx.imp.opset >= 13 { -1 } else { 1 });
    let a = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&a) {
        return Err(cx.bad(format!("axis {axis} is outside rank {rank}")));
    }
    let a = a as usize;
    let n: usize = dims.iter().product();
    let reduced: usize = if cx.imp.opset >= 13 {
        dims[a]
    } else {
        dims[a..].iter().product()
    };
    if reduced != n {
        return Err(cx.unsupported(&format!(
            " over axis {axis} of dims {dims:?} (only over a tensor's one non-unit axis)"
        )));
    }
    cx.imp
        .push(cx.name, Op::Softmax, vec![x], &out, dims)
        .map(drop)
}

/// PRelu with a constant slope: one value, or one per channel (`(C,)`, `(C, 1, 1)`,
/// `(1, C, 1, 1)`).
fn prelu(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let c = cx.imp.values[x].shape.c;
    let slope = cx.weight(1, "slope")?;
    let spatial = slope.dims.iter().rev().take(2).product::<usize>();
    let slope = match slope.len() {
        1 => vec![slope.f32s()[0]; c],
        n if n == c && (slope.dims.len() <= 1 || spatial == 1) => slope.f32s(),
        _ => {
            return Err(cx.unsupported(&format!(
                " with a slope of dims {:?} (one value, or one per channel: {c})",
                slope.dims
            )))
        }
    };
    let dims = cx.imp.dims[x].clone();
    cx.imp
        .push(cx.name, Op::Prelu { slope }, vec![x], &out, dims)
        .map(drop)
}

/// Constant zero padding of an NCHW tensor's channels and pixels (never its batch). Opset ≥ 11
/// gives pads (and the value) as inputs, older opsets as attributes.
fn pad(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let mode = cx.attr_s("mode");
    if !matches!(mode.as_str(), "" | "constant") {
        return Err(cx.unsupported(&format!(" with mode {mode} (only constant)")));
    }
    let (pads, value) = if cx.imp.opset >= 11 {
        let pads = cx
            .constant(1)
            .and_then(|c| c.i64s().map(<[i64]>::to_vec))
            .ok_or_else(|| cx.bad("pads (input 1) must be an int64 initializer".into()))?;
        let value = match cx.constant(2) {
            Some(v) if v.len() == 1 => v.f32s()[0],
            Some(v) => {
                return Err(cx.bad(format!("constant_value has {} values, expected 1", v.len())))
            }
            None if cx.input_name(2).is_some() => {
                return Err(cx.bad("constant_value (input 2) must be an initializer".into()))
            }
            None => 0.0,
        };
        if cx.input_name(3).is_some() {
            return Err(cx.unsupported(" with an axes input"));
        }
        (pads, value)
    } else {
        let pads = cx.attr("pads").map(|a| a.ints.clone()).unwrap_or_default();
        (pads, cx.attr_f("value", 0.0))
    };
    if value != 0.0 {
        return Err(cx.unsupported(&format!(" with the constant {value} (only 0)")));
    }
    let dims = cx.imp.dims[x].clone();
    if dims.len() != 4 || pads.len() != 8 {
        return Err(cx.bad(format!(
            "pads {pads:?} for dims {dims:?}: expected 8 pads of an NCHW tensor"
        )));
    }
    if pads.iter().any(|&p| !(0..=1 << 16).contains(&p)) {
        return Err(cx.unsupported(&format!(
            " with pads {pads:?} (only 0 to 65536: no cropping)"
        )));
    }
    if pads[0] != 0 || pads[4] != 0 {
        return Err(cx.unsupported(&format!(" with pads {pads:?} on the batch")));
    }
    let p = |i: usize| pads[i] as usize;
    let op = Op::Pad {
        pads: [p(1), p(2), p(3), p(5), p(6), p(7)],
    };
    let out_dims = vec![
        1,
        dims[1] + p(1) + p(5),
        dims[2] + p(2) + p(6),
        dims[3] + p(3) + p(7),
    ];
    cx.imp.push(cx.name, op, vec![x], &out, out_dims).map(drop)
}

/// ReduceMean over the spatial axes (H and W) of an NCHW tensor: a global average pool, kept
/// as `(1, C, 1, 1)` or squeezed to `(1, C)`.
fn reduce_mean(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let dims = cx.imp.dims[x].clone();
    let axes: Vec<i64> = if cx.imp.opset >= 18 {
        match (cx.input_name(1), cx.constant(1)) {
            (None, _) => vec![],
            (Some(_), Some(c)) => c
                .i64s()
                .map(<[i64]>::to_vec)
                .ok_or_else(|| cx.bad("axes (input 1) must be int64".into()))?,
            (Some(_), None) => return Err(cx.bad("axes (input 1) must be an initializer".into())),
        }
    } else {
        cx.attr("axes").map(|a| a.ints.clone()).unwrap_or_default()
    };
    if axes.is_empty() && cx.attr_i("noop_with_empty_axes", 0) != 0 {
        cx.imp.alias(&out, x);
        return Ok(());
    }
    let rank = dims.len() as i64;
    let mut norm: Vec<i64> = axes
        .iter()
        .map(|&a| if a < 0 { a + rank } else { a })
        .collect();
    norm.sort_unstable();
    if rank != 4 || norm != [2, 3] {
        return Err(cx.unsupported(&format!(
            " over axes {axes:?} of dims {dims:?} (only over H and W of an NCHW tensor)"
        )));
    }
    let c = dims[1];
    let out_dims = if cx.attr_i("keepdims", 1) != 0 {
        vec![1, c, 1, 1]
    } else {
        vec![1, c]
    };
    cx.imp
        .push(cx.name, Op::GlobalAvgPool, vec![x], &out, out_dims)
        .map(drop)
}

/// DepthToSpace: `x (C·b², H, W) -> y (C, H·b, W·b)`. DCR (the default) is the graph's order
/// (TF's); CRD, `y[c, h·b + i, w·b + j] = x[c·b² + i·b + j, h, w]` (PyTorch's PixelShuffle), is
/// the same after a channel permutation, run as a 1x1 conv whose rows each hold one 1 (a sparse
/// matrix: one multiply per output, exact for finite inputs).
fn depth_to_space(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let mode = cx.attr_s("mode");
    if !matches!(mode.as_str(), "" | "DCR" | "CRD") {
        return Err(cx.unsupported(&format!(" with mode {mode} (DCR or CRD)")));
    }
    let b = usize::try_from(cx.attr_i("blocksize", 0))
        .ok()
        .filter(|&b| (1..=1 << 8).contains(&b))
        .ok_or_else(|| cx.bad("blocksize must be 1 to 256".into()))?;
    let xs = cx.imp.values[x].shape;
    if xs.c % (b * b) != 0 {
        return Err(cx.bad(format!(
            "{} channels do not split into blocks of {b}×{b}",
            xs.c
        )));
    }
    let c = xs.c / (b * b);
    let mut src = x;
    if mode == "CRD" {
        let dims = vec![1, xs.c, xs.h, xs.w];
        let from = crd_to_dcr(c, b);
        src = permute_channels(cx.imp, cx.name, x, &format!("{out}#dcr"), &from, dims)?;
    }
    let dims = vec![1, c, xs.h * b, xs.w * b];
    cx.imp
        .push(
            cx.name,
            Op::DepthToSpace { block: b },
            vec![src],
            &out,
            dims,
        )
        .map(drop)
}

/// For each DCR channel `(i·b + j)·c + k`, the CRD channel `k·b² + i·b + j` it holds.
fn crd_to_dcr(c: usize, b: usize) -> Vec<usize> {
    let mut from = vec![0; c * b * b];
    for k in 0..c {
        for ij in 0..b * b {
            from[ij * c + k] = k * b * b + ij;
        }
    }
    from
}

/// `y[n] = x[from[n]]` over the channels of `x (C, H, W)`, as a 1x1 conv whose rows each hold
/// one 1: a sparse matrix the planner runs at one multiply per output, exact for finite inputs.
fn permute_channels(
    imp: &mut Importer,
    node: &str,
    x: usize,
    out: &str,
    from: &[usize],
    dims: Vec<usize>,
) -> Result<usize> {
    let n = from.len();
    // the matrix is stored dense: bounded like a densified sparse initializer, before allocating
    let cells = (n as u64).saturating_mul(n as u64);
    if cells > crate::limits::MAX_DENSIFIED as u64 {
        return Err(Error::TooLarge {
            file: imp.file.clone(),
            tensor: format!("{node}: permutation of {n} channels"),
            bytes: cells.saturating_mul(4),
            limit: 4 * crate::limits::MAX_DENSIFIED as u64,
            detail: "a channel permutation's 1x1 weights".into(),
        });
    }
    let mut weight = vec![0.0; n * n];
    for (row, &col) in from.iter().enumerate() {
        weight[row * n + col] = 1.0;
    }
    let perm = Op::Conv(Conv {
        c_out: n,
        c_in: n,
        groups: 1,
        kh: 1,
        kw: 1,
        stride: [1, 1],
        dilation: [1, 1],
        pads: [0; 4],
        weight,
        bias: vec![0.0; n],
    });
    imp.push(node, perm, vec![x], out, dims)
}

/// The Transposes of channel shuffles and pixel shuffles, after a Reshape that split the
/// channel axis (a view): `(1, g, n, H, W)` by `[0, 2, 1, 3, 4]` (ShuffleNet: channel `j·g + i`
/// takes `i·n + j`), and `(1, c, b, b, H, W)` by `[0, 1, 4, 2, 5, 3]` (PixelShuffle, which the
/// next Reshape reads as `(1, c, H·b, W·b)`: DepthToSpace in CRD order). The identity is a
/// view; any other permutation is refused.
fn transpose(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let dims = cx.imp.dims[x].clone();
    let perm: Vec<i64> = cx.attr("perm").map(|a| a.ints.clone()).unwrap_or_default();
    if perm.len() == dims.len() && perm.iter().enumerate().all(|(i, &p)| p == i as i64) {
        cx.imp.alias(&out, x);
        return Ok(());
    }
    match (&perm[..], &dims[..]) {
        ([0, 2, 1, 3, 4], &[1, g, n, h, w]) => {
            let from: Vec<usize> = (0..g * n).map(|o| (o % g) * n + o / g).collect();
            permute_channels(cx.imp, cx.name, x, &out, &from, vec![1, n, g, h, w]).map(drop)
        }
        ([0, 1, 4, 2, 5, 3], &[1, c, b, b2, h, w]) if b == b2 => {
            let from = crd_to_dcr(c, b);
            let mid = format!("{out}#dcr");
            let v = permute_channels(cx.imp, cx.name, x, &mid, &from, vec![1, c * b * b, h, w])?;
            let op = Op::DepthToSpace { block: b };
            cx.imp
                .push(cx.name, op, vec![v], &out, vec![1, c, h, b, w, b])
                .map(drop)
        }
        _ => Err(cx.unsupported(&format!(
            " with perm {perm:?} of dims {dims:?} (channel and pixel shuffles are)"
        ))),
    }
}

/// Resize in linear mode over H and W, as the graph's bilinear resize: `half_pixel` (the
/// default; `pytorch_half_pixel` alike when an axis has more than one output), `asymmetric` and
/// `align_corners` are its three source-coordinate rules. Scales (each output a whole multiple
/// of its input, so the scale is `out / in` as the rules assume) or sizes, from opset 10's
/// scales input or 11's roi, scales, sizes.
fn resize(cx: Cx) -> Result<()> {
    let (x, out) = (cx.x()?, cx.out()?);
    let xs = cx.imp.values[x].shape;
    let mode = cx.attr_s("mode");
    if mode != "linear" {
        let m = if mode.is_empty() { "nearest" } else { &mode };
        return Err(cx.unsupported(&format!(" in mode {m} (only linear)")));
    }
    if cx.attr_i("antialias", 0) != 0 || cx.attr_i("exclude_outside", 0) != 0 {
        return Err(cx.unsupported(" with antialias or exclude_outside"));
    }
    let rule = if cx.imp.opset < 11 {
        "asymmetric".to_string()
    } else {
        match cx.attr_s("coordinate_transformation_mode").as_str() {
            "" => "half_pixel".into(),
            m => m.to_string(),
        }
    };
    let (scales_at, sizes_at) = if cx.imp.opset < 11 {
        (1, None)
    } else {
        (2, Some(3))
    };
    let sizes = sizes_at
        .and_then(|i| cx.constant(i))
        .and_then(|c| c.i64s().map(<[i64]>::to_vec));
    let (oh, ow) = if let Some(sz) = sizes.filter(|v| !v.is_empty()) {
        match sz[..] {
            [1, c, h, w]
                if c as usize == xs.c
                    && (1..=1 << 16).contains(&h)
                    && (1..=1 << 16).contains(&w) =>
            {
                (h as usize, w as usize)
            }
            _ => return Err(cx.unsupported(&format!(" to sizes {sz:?} (only H and W change)"))),
        }
    } else {
        let sc = cx
            .constant(scales_at)
            .map(|c| c.f32s())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| cx.bad("needs constant scales or sizes".into()))?;
        let whole = |n: usize, s: f32| {
            let o = n as f32 * s;
            (o >= 1.0 && o == o.floor() && o <= (1 << 16) as f32).then_some(o as usize)
        };
        match sc[..] {
            [1.0, 1.0, sh, sw] => match (whole(xs.h, sh), whole(xs.w, sw)) {
                (Some(h), Some(w)) => (h, w),
                _ => {
                    return Err(cx.unsupported(&format!(
                        " with scales {sc:?} of a {}x{} input (only whole output sizes)",
                        xs.h, xs.w
                    )))
                }
            },
            _ => return Err(cx.unsupported(&format!(" with scales {sc:?} (only H and W change)"))),
        }
    };
    let (align_corners, half_pixel_centers) = match rule.as_str() {
        "half_pixel" => (false, true),
        "pytorch_half_pixel" if oh > 1 && ow > 1 => (false, true),
        "asymmetric" => (false, false),
        "align_corners" => (true, false),
        other => {
            return Err(cx.unsupported(&format!(" with coordinate_transformation_mode {other}")))
        }
    };
    let op = Op::ResizeBilinear(Resize {
        oh,
        ow,
        align_corners,
        half_pixel_centers,
    });
    cx.imp
        .push(cx.name, op, vec![x], &out, vec![1, xs.c, oh, ow])
        .map(drop)
}
