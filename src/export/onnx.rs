//! `Graph` → ONNX `ModelProto` (opset 13, IR 7), encoded with the importer's own prost
//! messages. BatchNormalization was folded at import, so a conv is one `Conv` with bias;
//! `Linear` is `Gemm` (transB = 1); ReLU6 and other clamps are `Clip` with min/max inputs;
//! HardSwish (opset 14) is written as `x · HardSigmoid(x)` to stay within opset 13.
//! The TF-import ops map onto PRelu, Sub, Pad, DepthToSpace (DCR), Resize (linear, with
//! TF's coordinate mode), Slice, and Transpose + Reshape for the HWC re-layouts.
//!
//! Our values are CHW; ONNX needs ranks. Every value is written as rank 4 `[1, C, H, W]`
//! except outputs of Gemm and Softmax, which are rank 2 `[1, N]`; a consumer that needs the
//! other rank gets a Flatten (to 2) or Reshape (to 4) inserted in front of it.

use crate::error::Result;
use crate::graph::{Activation, Graph, Op, PoolKind, Shape, ValueId};
use crate::import::onnx::proto::build::{self, float, int, string, value_info};
use crate::import::onnx::proto::*;
use prost::Message;
use std::collections::{HashMap, HashSet};

/// The opset the writer targets.
pub const OPSET: i64 = 13;

/// `graph` as the bytes of an `.onnx` file.
pub fn write(graph: &Graph) -> Result<Vec<u8>> {
    Ok(to_model(graph)?.encode_to_vec())
}

/// `graph` as an ONNX `ModelProto`.
pub fn to_model(graph: &Graph) -> Result<ModelProto> {
    graph.validate()?;
    let mut w = Writer::new(graph);
    for k in 0..graph.nodes.len() {
        w.node(k)?;
    }
    let input = value_info(&w.names[graph.input], &dims4(graph.input_shape()));
    let out = graph.output;
    let out_dims = if w.rank[out] == 2 {
        vec![1, graph.shape(out).len() as i64]
    } else {
        dims4(graph.shape(out))
    };
    let output = value_info(&w.names[out], &out_dims);
    Ok(ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "zeroskip".into(),
        graph: Some(GraphProto {
            node: w.nodes,
            name: graph.name.clone(),
            initializer: w.inits,
            sparse_initializer: vec![],
            input: vec![input],
            output: vec![output],
        }),
    })
}

struct Writer<'g> {
    g: &'g Graph,
    /// ONNX name of each value.
    names: Vec<String>,
    /// ONNX rank of each value: 4 (`[1, C, H, W]`) or 2 (`[1, N]`).
    rank: Vec<u8>,
    used: HashSet<String>,
    /// Rank-converted copies already emitted: (value, rank) → name.
    converted: HashMap<(ValueId, u8), String>,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
}

impl<'g> Writer<'g> {
    fn new(g: &'g Graph) -> Writer<'g> {
        let mut used = HashSet::new();
        let names = g
            .values
            .iter()
            .enumerate()
            .map(|(id, v)| {
                let name = if v.name.is_empty() || used.contains(&v.name) {
                    format!("{}#{id}", v.name)
                } else {
                    v.name.clone()
                };
                used.insert(name.clone());
                name
            })
            .collect();
        Writer {
            g,
            names,
            rank: vec![4; g.values.len()],
            used,
            converted: HashMap::new(),
            nodes: Vec::new(),
            inits: Vec::new(),
        }
    }

    /// A name no value or tensor uses yet, derived from `base`.
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 0;
        while self.used.contains(&name) {
            i += 1;
            name = format!("{base}:{i}");
        }
        self.used.insert(name.clone());
        name
    }

    fn init_f32(&mut self, base: &str, dims: &[i64], data: &[f32]) -> String {
        let name = self.fresh(base);
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    fn init_i64(&mut self, base: &str, data: &[i64]) -> String {
        let name = self.fresh(base);
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: data_type::INT64,
            int64_data: data.to_vec(),
            ..Default::default()
        });
        name
    }

    fn emit(
        &mut self,
        op: &str,
        name: &str,
        inputs: Vec<String>,
        output: &str,
        attrs: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name: name.into(),
            input: inputs,
            output: vec![output.into()],
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Value `v` at rank `r`, converting (once) if it was written at the other rank.
    fn at_rank(&mut self, v: ValueId, r: u8) -> String {
        if self.rank[v] == r {
            return self.names[v].clone();
        }
        if let Some(n) = self.converted.get(&(v, r)) {
            return n.clone();
        }
        let src = self.names[v].clone();
        let out = self.fresh(&format!("{src}:rank{r}"));
        if r == 2 {
            self.emit("Flatten", &out, vec![src], &out, vec![int("axis", 1)]);
        } else {
            let shape = self.init_i64(&format!("{out}:shape"), &dims4(self.g.shape(v)));
            self.emit("Reshape", &out, vec![src, shape], &out, vec![]);
        }
        self.converted.insert((v, r), out.clone());
        out
    }

    fn node(&mut self, k: usize) -> Result<()> {
        let g = self.g;
        let n = &g.nodes[k];
        // validate() guarantees every op its inputs (at least one).
        let (name, out) = (n.name.as_str(), n.output);
        let y = self.names[out].clone();
        let x = n.inputs[0];
        let mut out_rank = 4;
        match &n.op {
            Op::Conv(c) => {
                let xi = self.at_rank(x, 4);
                let dims = [c.c_out, c.c_in / c.groups, c.kh, c.kw].map(|d| d as i64);
                let wt = self.init_f32(&format!("{name}.weight"), &dims, &c.weight);
                let b = self.init_f32(&format!("{name}.bias"), &[c.c_out as i64], &c.bias);
                let attrs = vec![
                    int("group", c.groups as i64),
                    ints("kernel_shape", &[c.kh, c.kw]),
                    ints("strides", &c.stride),
                    ints("dilations", &c.dilation),
                    ints("pads", &c.pads),
                ];
                self.emit("Conv", name, vec![xi, wt, b], &y, attrs);
            }
            Op::Linear(l) => {
                let xi = self.at_rank(x, 2);
                let wt = self.init_f32(
                    &format!("{name}.weight"),
                    &[l.c_out as i64, l.c_in as i64],
                    &l.weight,
                );
                let b = self.init_f32(&format!("{name}.bias"), &[l.c_out as i64], &l.bias);
                self.emit("Gemm", name, vec![xi, wt, b], &y, vec![int("transB", 1)]);
                out_rank = 2;
            }
            Op::Act(a) => {
                out_rank = self.rank[x];
                let xi = self.names[x].clone();
                match *a {
                    Activation::Relu => self.emit("Relu", name, vec![xi], &y, vec![]),
                    Activation::Sigmoid => self.emit("Sigmoid", name, vec![xi], &y, vec![]),
                    Activation::Tanh => self.emit("Tanh", name, vec![xi], &y, vec![]),
                    Activation::LeakyRelu { alpha } => {
                        let attrs = vec![float("alpha", alpha)];
                        self.emit("LeakyRelu", name, vec![xi], &y, attrs);
                    }
                    Activation::Clip { min, max } => {
                        let lo = self.init_f32(&format!("{name}.min"), &[], &[min]);
                        let hi = self.init_f32(&format!("{name}.max"), &[], &[max]);
                        self.emit("Clip", name, vec![xi, lo, hi], &y, vec![]);
                    }
                    Activation::HardSigmoid { alpha, beta } => {
                        let attrs = vec![float("alpha", alpha), float("beta", beta)];
                        self.emit("HardSigmoid", name, vec![xi], &y, attrs);
                    }
                    Activation::HardSwish => {
                        let gate = self.fresh(&format!("{y}:gate"));
                        let attrs = vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)];
                        self.emit("HardSigmoid", &gate, vec![xi.clone()], &gate, attrs);
                        self.emit("Mul", name, vec![xi, gate], &y, vec![]);
                    }
                }
            }
            Op::ChannelAffine { scale, shift } => {
                let xi = self.at_rank(x, 4);
                let c = scale.len() as i64;
                let s = self.init_f32(&format!("{name}.scale"), &[c, 1, 1], scale);
                let t = self.init_f32(&format!("{name}.shift"), &[c, 1, 1], shift);
                let mid = self.fresh(&format!("{y}:scaled"));
                self.emit("Mul", &mid, vec![xi, s], &mid, vec![]);
                self.emit("Add", name, vec![mid, t], &y, vec![]);
            }
            Op::Add | Op::Mul | Op::Sub => {
                let b = n.inputs[1];
                let same = g.shape(x) == g.shape(b);
                // Same shape at the same rank broadcasts trivially; anything else (a (C, 1, 1)
                // gate on (C, H, W)) must line C up on axis 1, i.e. rank 4 for both.
                out_rank = if same && self.rank[x] == self.rank[b] {
                    self.rank[x]
                } else {
                    4
                };
                let (xi, bi) = (self.at_rank(x, out_rank), self.at_rank(b, out_rank));
                let op = match n.op {
                    Op::Add => "Add",
                    Op::Sub => "Sub",
                    _ => "Mul",
                };
                self.emit(op, name, vec![xi, bi], &y, vec![]);
            }
            Op::GlobalAvgPool => {
                let xi = self.at_rank(x, 4);
                self.emit("GlobalAveragePool", name, vec![xi], &y, vec![]);
            }
            Op::Pool(p) => {
                let xi = self.at_rank(x, 4);
                let mut attrs = vec![
                    ints("kernel_shape", &[p.kh, p.kw]),
                    ints("strides", &p.stride),
                    ints("pads", &p.pads),
                ];
                let op = match p.kind {
                    PoolKind::Average => {
                        attrs.push(int("count_include_pad", 0));
                        "AveragePool"
                    }
                    PoolKind::Max => "MaxPool",
                };
                self.emit(op, name, vec![xi], &y, attrs);
            }
            Op::Softmax => {
                let xi = self.at_rank(x, 2);
                self.emit("Softmax", name, vec![xi], &y, vec![int("axis", 1)]);
                out_rank = 2;
            }
            Op::Concat => {
                let ins = n.inputs.iter().map(|&v| self.at_rank(v, 4)).collect();
                self.emit("Concat", name, ins, &y, vec![int("axis", 1)]);
            }
            Op::View(s) => {
                let xi = self.names[x].clone();
                let shape = self.init_i64(&format!("{name}.shape"), &dims4(*s));
                self.emit("Reshape", name, vec![xi, shape], &y, vec![]);
            }
            Op::Prelu { slope } => {
                let xi = self.at_rank(x, 4);
                let c = slope.len() as i64;
                let s = self.init_f32(&format!("{name}.slope"), &[c, 1, 1], slope);
                self.emit("PRelu", name, vec![xi, s], &y, vec![]);
            }
            Op::Pad { pads } => {
                let xi = self.at_rank(x, 4);
                // ONNX order: every axis's begin (N, C, H, W), then every axis's end.
                let [c_lo, top, left, c_hi, bottom, right] = pads.map(|p| p as i64);
                let p = self.init_i64(
                    &format!("{name}.pads"),
                    &[0, c_lo, top, left, 0, c_hi, bottom, right],
                );
                self.emit(
                    "Pad",
                    name,
                    vec![xi, p],
                    &y,
                    vec![string("mode", "constant")],
                );
            }
            Op::DepthToSpace { block } => {
                let xi = self.at_rank(x, 4);
                let attrs = vec![int("blocksize", *block as i64), string("mode", "DCR")];
                self.emit("DepthToSpace", name, vec![xi], &y, attrs);
            }
            Op::ResizeBilinear(r) => {
                let (oh, ow, align_corners, half_pixel_centers) =
                    (&r.oh, &r.ow, &r.align_corners, &r.half_pixel_centers);
                let xi = self.at_rank(x, 4);
                let c = g.shape(x).c as i64;
                let sizes =
                    self.init_i64(&format!("{name}.sizes"), &[1, c, *oh as i64, *ow as i64]);
                // TF's modes map one to one: ONNX clamps the coordinate to the input, TF its
                // indices, which samples the same pixels. With one output sample ONNX's
                // align_corners reads index 0 as TF's fallback to in/out does.
                let mode = match (align_corners, half_pixel_centers) {
                    (true, _) => "align_corners",
                    (false, true) => "half_pixel",
                    (false, false) => "asymmetric",
                };
                let attrs = vec![
                    string("mode", "linear"),
                    string("coordinate_transformation_mode", mode),
                ];
                // Inputs roi and scales are left empty: the output size is given.
                let ins = vec![xi, String::new(), String::new(), sizes];
                self.emit("Resize", name, ins, &y, attrs);
            }
            Op::Slice { begin, step, out } => {
                let xi = self.at_rank(x, 4);
                let dims = [out.c, out.h, out.w];
                // End just past the last element read: begin + (out − 1)·step + 1 (validate()
                // bounded it by the input size).
                let ends: Vec<i64> = (0..3)
                    .map(|a| (begin[a] + (dims[a] - 1) * step[a] + 1) as i64)
                    .collect();
                let starts = self.init_i64(&format!("{name}.starts"), &begin.map(|v| v as i64));
                let ends = self.init_i64(&format!("{name}.ends"), &ends);
                let axes = self.init_i64(&format!("{name}.axes"), &[1, 2, 3]);
                let steps = self.init_i64(
                    &format!("{name}.steps"),
                    // A step beyond i64 only occurs on an axis of output length 1, unused.
                    &step.map(|v| i64::try_from(v).unwrap_or(1)),
                );
                self.emit(
                    "Slice",
                    name,
                    vec![xi, starts, ends, axes, steps],
                    &y,
                    vec![],
                );
            }
            Op::ToHwc => {
                // [1, C, H, W] -> [1, H, W, C] -> our vector [1, H·W·C, 1, 1]
                let xi = self.at_rank(x, 4);
                let t = self.fresh(&format!("{y}:nhwc"));
                self.emit(
                    "Transpose",
                    &t,
                    vec![xi],
                    &t,
                    vec![ints("perm", &[0, 2, 3, 1])],
                );
                let shape = self.init_i64(&format!("{name}.shape"), &dims4(g.shape(out)));
                self.emit("Reshape", name, vec![t, shape], &y, vec![]);
            }
            Op::FromHwc(s) => {
                // any rank -> [1, H, W, C] -> [1, C, H, W]
                let xi = self.names[x].clone();
                let t = self.fresh(&format!("{y}:nhwc"));
                let nhwc = [1, s.h as i64, s.w as i64, s.c as i64];
                let shape = self.init_i64(&format!("{name}.shape"), &nhwc);
                self.emit("Reshape", &t, vec![xi, shape], &t, vec![]);
                self.emit(
                    "Transpose",
                    name,
                    vec![t],
                    &y,
                    vec![ints("perm", &[0, 3, 1, 2])],
                );
            }
        }
        self.rank[out] = out_rank;
        Ok(())
    }
}

fn dims4(s: Shape) -> Vec<i64> {
    vec![1, s.c as i64, s.h as i64, s.w as i64]
}

/// `ints` of dims and indices.
fn ints(name: &str, v: &[usize]) -> AttributeProto {
    let v: Vec<i64> = v.iter().map(|&d| d as i64).collect();
    build::ints(name, &v)
}
