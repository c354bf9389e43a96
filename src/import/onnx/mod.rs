//! ONNX import: `ModelProto` bytes → `Graph` (CHW, batch 1), BatchNormalization folded into
//! the conv before it, constant Add/Mul folded or turned into per-channel affines, view ops
//! (Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout) turned into zero-copy views.
//! Every failure is a typed error naming the file, the node and what was expected.

mod nodes;
pub mod proto;
pub mod tensor;

use crate::error::{Error, Result};
use crate::graph::{shape, Graph, Node, Op, Shape, Value, ValueId};
use prost::Message;
use proto::{ModelProto, NodeProto};
use std::collections::HashMap;
use tensor::Constant;

/// Decodes `bytes` (an ONNX file; `file` names it in errors) into a validated `Graph`.
pub fn load(file: &str, bytes: &[u8]) -> Result<Graph> {
    let model = ModelProto::decode(bytes).map_err(|e| Error::BadModel {
        file: file.into(),
        format: "ONNX".into(),
        detail: format!("protobuf decoding failed ({e}); is the file truncated or not ONNX?"),
    })?;
    let graph = model.graph.as_ref().ok_or_else(|| Error::BadModel {
        file: file.into(),
        format: "ONNX".into(),
        detail: "the model has no graph".into(),
    })?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);
    let mut imp = Importer::new(file, opset);
    for t in &graph.initializer {
        imp.consts.insert(t.name.clone(), tensor::decode(file, t)?);
    }
    // Sparse initializers are the one place a few bytes of file can ask for many floats.
    let mut budget = tensor::MAX_DENSIFIED;
    for s in &graph.sparse_initializer {
        let (name, c) = tensor::decode_sparse(file, s, &mut budget)?;
        imp.consts.insert(name, c);
    }
    imp.add_input(graph)?;
    for n in &graph.node {
        for i in &n.input {
            *imp.uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *imp.uses.entry(o.name.clone()).or_default() += 1;
    }
    for (i, n) in graph.node.iter().enumerate() {
        imp.node(i, n)?;
    }
    let out = graph.output.first().ok_or_else(|| Error::BadModel {
        file: file.into(),
        format: "ONNX".into(),
        detail: "the graph declares no output".into(),
    })?;
    let output = imp.value(&out.name, "(graph output)", "-")?;
    let g = Graph {
        name: file.into(),
        values: imp.values,
        nodes: imp.nodes,
        input: imp.input,
        output,
    };
    g.validate()?;
    Ok(g)
}

/// Import state: constants by name, values built so far, and the ONNX dims of each value (so
/// axes in Squeeze/Reshape/Concat can be read the way the model means them).
struct Importer {
    file: String,
    opset: i64,
    consts: HashMap<String, Constant>,
    values: Vec<Value>,
    /// ONNX dims of each value, batch included (e.g. [1, C, H, W] or [1, N]).
    dims: Vec<Vec<usize>>,
    names: HashMap<String, ValueId>,
    nodes: Vec<Node>,
    /// How many node inputs (and graph outputs) read each name: folding needs a single reader.
    uses: HashMap<String, usize>,
    input: ValueId,
}

impl Importer {
    fn new(file: &str, opset: i64) -> Importer {
        Importer {
            file: file.into(),
            opset,
            consts: HashMap::new(),
            values: Vec::new(),
            dims: Vec::new(),
            names: HashMap::new(),
            nodes: Vec::new(),
            uses: HashMap::new(),
            input: 0,
        }
    }

    /// The one non-constant graph input, `[1, C, H, W]` (a symbolic batch counts as 1).
    fn add_input(&mut self, g: &proto::GraphProto) -> Result<()> {
        let inputs: Vec<_> = g
            .input
            .iter()
            .filter(|i| !self.consts.contains_key(&i.name))
            .collect();
        let bad = |detail: String| Error::BadModel {
            file: self.file.clone(),
            format: "ONNX".into(),
            detail,
        };
        let [input] = inputs[..] else {
            let names: Vec<_> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(bad(format!(
                "expected exactly one image input, found {names:?}"
            )));
        };
        let dims: Vec<Option<i64>> = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .and_then(|t| t.shape.as_ref())
            .map(|s| s.dim.iter().map(|d| d.dim_value).collect())
            .unwrap_or_default();
        let concrete = |d: Option<i64>| d.and_then(|v| usize::try_from(v).ok()).filter(|&v| v > 0);
        let shape = match dims[..] {
            [n, c, h, w] if n.is_none() || n == Some(1) || n == Some(-1) => {
                match (concrete(c), concrete(h), concrete(w)) {
                    (Some(c), Some(h), Some(w)) => Shape::new(c, h, w),
                    _ => {
                        return Err(bad(format!(
                            "input {} needs concrete C, H, W, got {dims:?}",
                            input.name
                        )))
                    }
                }
            }
            _ => {
                return Err(bad(format!(
                    "input {} must be [1, C, H, W] (NCHW, batch 1), got {dims:?}",
                    input.name
                )))
            }
        };
        shape::check(shape).map_err(|d| bad(format!("input {}: {d}", input.name)))?;
        self.input = self.new_value(&input.name, shape, vec![1, shape.c, shape.h, shape.w]);
        Ok(())
    }

    fn new_value(&mut self, name: &str, shape: Shape, dims: Vec<usize>) -> ValueId {
        self.values.push(Value {
            name: name.into(),
            shape,
        });
        self.dims.push(dims);
        let id = self.values.len() - 1;
        self.names.insert(name.into(), id);
        id
    }

    /// The activation called `name`, read by `node`.
    fn value(&self, name: &str, node: &str, op: &str) -> Result<ValueId> {
        self.names.get(name).copied().ok_or_else(|| {
            self.bad(
                node,
                op,
                format!("input {name:?} is not computed by any earlier node"),
            )
        })
    }

    fn bad(&self, node: &str, op: &str, detail: String) -> Error {
        Error::BadNode {
            file: self.file.clone(),
            node: node.into(),
            op: op.into(),
            detail,
        }
    }

    /// Appends `op` reading `inputs`, writing `out` (shape inferred and checked).
    fn push(
        &mut self,
        node: &str,
        op: Op,
        inputs: Vec<ValueId>,
        out: &str,
        dims: Vec<usize>,
    ) -> Result<ValueId> {
        let name = op.name();
        if self.names.contains_key(out) {
            return Err(self.bad(node, name, format!("output {out:?} is written twice")));
        }
        let id = super::push_node(&mut self.values, &mut self.nodes, node, op, inputs, out)
            .map_err(|d| self.bad(node, name, d))?;
        self.dims.push(dims);
        self.names.insert(out.into(), id);
        Ok(id)
    }

    /// Gives `out` the same value as `from` (ops that change nothing at batch 1).
    fn alias(&mut self, out: &str, from: ValueId) {
        self.names.insert(out.into(), from);
    }

    /// The node that wrote `v`, if it is the last one and `v` has a single reader: the only
    /// case where a following op may be folded into it.
    fn foldable_producer(&mut self, name: &str) -> Option<&mut Node> {
        let v = *self.names.get(name)?;
        if self.uses.get(name).copied().unwrap_or(0) != 1 {
            return None;
        }
        self.nodes.last_mut().filter(|n| n.output == v)
    }

    fn node(&mut self, index: usize, n: &NodeProto) -> Result<()> {
        let name = if n.name.is_empty() {
            format!(
                "{}#{index} ({})",
                n.op_type,
                n.output.first().map_or("", |s| s.as_str())
            )
        } else {
            n.name.clone()
        };
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(Error::UnsupportedOp {
                file: self.file.clone(),
                node: name,
                op: format!("{}::{}", n.domain, n.op_type),
                detail: " (only the default ONNX domain is)".into(),
            });
        }
        nodes::import(self, &name, n)
    }
}
