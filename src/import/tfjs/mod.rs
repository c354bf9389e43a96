//! TF.js graph-model import: `model.json` + weight shards → `Graph` (CHW, batch 1).
//!
//! TF graphs are NHWC. Each activation keeps its TF dims and one of two layouts: `Nhwc`, a
//! 4-D `[1, H, W, C]` tensor held CHW as every zeroskip kernel wants it, or `Flat`, any other
//! rank held row-major like TF. Where TF reinterprets memory across the two (a Reshape that
//! flattens pixels and channels, the model's NHWC input, a spatial output) import inserts an
//! explicit `ToHwc`/`FromHwc`; when the pixels or the channels are 1 the two layouts are the
//! same memory and a free view suffices. Constant subgraphs (Shape → StridedSlice → Pack …)
//! are evaluated at import. The one graph output is the TF outputs, each row-major,
//! concatenated; `TfjsModel::outputs` says where each lies.

mod fold;
mod json;
mod nodes;
mod weights;

use crate::error::{Error, Result};
use crate::graph::{rewrite, shape, Graph, Node, Op, Shape, Value, ValueId};
use crate::import::onnx::tensor::Constant;
use json::{ModelJson, NodeDef};
use std::collections::HashMap;

// BadModel's message adds " model": "not a valid TF.js graph model: …".
const FORMAT: &str = "TF.js graph";

// Most nodes a model.json may declare: far above any mobile CNN, and it bounds the work of
// sorting them.
use crate::limits::MAX_TFJS_NODES as MAX_NODES;

/// A TF tensor the caller feeds or reads, with its TF (NHWC) dims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<usize>,
}

/// One TF output inside the graph's single output vector: `len` values from `offset`,
/// row-major over `tensor.dims`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub tensor: Tensor,
    pub offset: usize,
    pub len: usize,
}

/// An imported model: the graph takes the TF input NHWC as a flat vector and returns every
/// TF output, concatenated in `outputs` order (sorted by name).
#[derive(Debug, Clone)]
pub struct TfjsModel {
    pub graph: Graph,
    pub input: Tensor,
    pub outputs: Vec<Output>,
}

/// The shard paths `model_json` names, in the order `load` wants their bytes.
pub fn shard_paths(file: &str, model_json: &[u8]) -> Result<Vec<String>> {
    let m = parse(file, model_json)?;
    Ok(m.manifest.into_iter().flat_map(|g| g.paths).collect())
}

/// Imports `model_json` (`file` names it in errors) with its weight `shards`, given in
/// `shard_paths` order.
pub fn load(file: &str, model_json: &[u8], shards: &[&[u8]]) -> Result<TfjsModel> {
    let m = parse(file, model_json)?;
    let consts = weights::decode(file, &m.manifest, shards)?;
    let mut imp = Importer::new(file, consts);
    imp.run(&m)
}

/// Reads `<dir>/<name>.json` style models from disk: the JSON, then each shard it names,
/// relative to the JSON's folder.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(path: &std::path::Path) -> Result<TfjsModel> {
    let file = path.display().to_string();
    let io = |p: &std::path::Path, e: std::io::Error| Error::Io {
        file: p.display().to_string(),
        detail: e.to_string(),
    };
    let json = std::fs::read(path).map_err(|e| io(path, e))?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut shards = Vec::new();
    for p in shard_paths(&file, &json)? {
        let sp = dir.join(&p);
        shards.push(std::fs::read(&sp).map_err(|e| io(&sp, e))?);
    }
    let refs: Vec<&[u8]> = shards.iter().map(|s| s.as_slice()).collect();
    load(&file, &json, &refs)
}

fn parse(file: &str, bytes: &[u8]) -> Result<ModelJson> {
    let bad = |detail: String| Error::BadModel {
        file: file.into(),
        format: FORMAT.into(),
        detail,
    };
    let m: ModelJson = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "model.json does not parse ({e}); is it a TF.js graph model?"
        ))
    })?;
    if let Some(f) = &m.format {
        if f != "graph-model" {
            return Err(bad(format!(
                "format is {f:?}; only \"graph-model\" (tfjs-converter output) is supported"
            )));
        }
    }
    if m.topology.node.len() > MAX_NODES {
        return Err(bad(format!(
            "{} nodes, more than the {MAX_NODES} accepted",
            m.topology.node.len()
        )));
    }
    Ok(m)
}

/// How an activation's values lie in memory (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Nhwc,
    Flat,
}

/// An activation: our value, its TF dims and layout.
#[derive(Debug, Clone)]
struct Act {
    id: ValueId,
    dims: Vec<usize>,
    layout: Layout,
}

/// What a TF tensor name stands for during import.
#[derive(Debug, Clone)]
enum Entry {
    Act(Act),
    Const(Constant),
}

struct Importer {
    file: String,
    /// The manifest's tensors, by Const node name.
    weights: HashMap<String, Constant>,
    entries: HashMap<String, Entry>,
    values: Vec<Value>,
    nodes: Vec<Node>,
    input: Option<(ValueId, Tensor)>,
}

impl Importer {
    fn new(file: &str, weights: HashMap<String, Constant>) -> Importer {
        Importer {
            file: file.into(),
            weights,
            entries: HashMap::new(),
            values: Vec::new(),
            nodes: Vec::new(),
            input: None,
        }
    }

    fn bad_model(&self, detail: String) -> Error {
        Error::BadModel {
            file: self.file.clone(),
            format: FORMAT.into(),
            detail,
        }
    }

    fn bad(&self, node: &str, op: &str, detail: String) -> Error {
        Error::BadNode {
            file: self.file.clone(),
            node: node.into(),
            op: op.into(),
            detail,
        }
    }

    fn run(&mut self, m: &ModelJson) -> Result<TfjsModel> {
        let by_name: HashMap<&str, &NodeDef> = m
            .topology
            .node
            .iter()
            .map(|n| (n.name.as_str(), n))
            .collect();
        let outputs = self.output_names(m)?;
        for n in order(&by_name, &outputs, &self.file)? {
            nodes::import(self, n)?;
        }
        self.finish(outputs)
    }

    /// The signature's outputs sorted by name, or else every node nobody reads.
    fn output_names(&self, m: &ModelJson) -> Result<Vec<String>> {
        let mut names: Vec<String> = match &m.signature {
            Some(s) if !s.outputs.is_empty() => {
                s.outputs.values().map(|t| t.name.clone()).collect()
            }
            _ => {
                let read: std::collections::HashSet<&str> = m
                    .topology
                    .node
                    .iter()
                    .flat_map(|n| &n.input)
                    .map(|i| tensor_node(i).0)
                    .collect();
                m.topology
                    .node
                    .iter()
                    .filter(|n| n.op != "Const" && !read.contains(n.name.as_str()))
                    .map(|n| n.name.clone())
                    .collect()
            }
        };
        // "Identity" and "Identity:0" name the same tensor: report the explicit form.
        for n in &mut names {
            if tensor_node(n).0 == n.as_str() {
                n.push_str(":0");
            }
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(self.bad_model("the model has no outputs".into()));
        }
        Ok(names)
    }

    /// Flattens each output row-major, concatenates them, and builds the graph.
    fn finish(&mut self, outputs: Vec<String>) -> Result<TfjsModel> {
        let (input, input_tensor) = self
            .input
            .clone()
            .ok_or_else(|| self.bad_model("no Placeholder feeds the outputs".into()))?;
        let mut flat = Vec::new();
        let mut specs = Vec::new();
        let mut offset = 0;
        for name in outputs {
            let act = match self.entries.get(tensor_key(&name)) {
                Some(Entry::Act(a)) => a.clone(),
                Some(Entry::Const(_)) => {
                    return Err(self.bad_model(format!(
                        "output {name} is a constant; only computed outputs are supported"
                    )))
                }
                None => {
                    return Err(self.bad_model(format!("output {name} is not produced by any node")))
                }
            };
            let v = self.flatten(&name, &act)?;
            let len = self.values[v].shape.len();
            specs.push(Output {
                tensor: Tensor {
                    name,
                    dims: act.dims,
                },
                offset,
                len,
            });
            offset += len;
            flat.push(v);
        }
        let output = if flat.len() == 1 {
            flat[0]
        } else {
            self.push("(outputs)", Op::Concat, flat, "(outputs)")?
        };
        let graph = Graph {
            name: self.file.clone(),
            values: std::mem::take(&mut self.values),
            nodes: std::mem::take(&mut self.nodes),
            input,
            output,
        };
        let graph = rewrite::simplify(graph);
        graph.validate()?;
        Ok(TfjsModel {
            graph,
            input: input_tensor,
            outputs: specs,
        })
    }

    /// Appends `op` on `inputs`, its output value named `out`; returns that value.
    fn push(&mut self, node: &str, op: Op, inputs: Vec<ValueId>, out: &str) -> Result<ValueId> {
        let name = op.name();
        super::push_node(&mut self.values, &mut self.nodes, node, op, inputs, out)
            .map_err(|d| self.bad(node, name, d))
    }

    fn new_input(&mut self, name: &str, dims: Vec<usize>) -> Result<ValueId> {
        let len = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        let s = Shape::vector(len);
        shape::check(s).map_err(|d| self.bad(name, "Placeholder", d))?;
        self.values.push(Value {
            name: name.into(),
            shape: s,
        });
        Ok(self.values.len() - 1)
    }

    /// The activation as a row-major vector: a view when its memory already is, else `ToHwc`.
    fn flatten(&mut self, node: &str, a: &Act) -> Result<ValueId> {
        let s = self.values[a.id].shape;
        if s.w == 1 && s.h == 1 {
            return Ok(a.id);
        }
        let op = if a.layout == Layout::Flat || s.c == 1 || s.hw() == 1 {
            Op::View(Shape::vector(s.len()))
        } else {
            Op::ToHwc
        };
        let out = format!("{node}/flat");
        self.push(node, op, vec![a.id], &out)
    }

    /// The activation as CHW `(C, H, W)` for TF dims `[1, H, W, C]`.
    fn as_nhwc(&mut self, node: &str, a: &Act, dims: &[usize]) -> Result<ValueId> {
        let [1, h, w, c] = dims[..] else {
            return Err(self.bad(
                node,
                "-",
                format!("expected a [1, H, W, C] tensor, got dims {dims:?}"),
            ));
        };
        let target = Shape::new(c, h, w);
        if a.layout == Layout::Nhwc && self.values[a.id].shape == target {
            return Ok(a.id);
        }
        let flat = self.flatten(node, a)?;
        let op = if c == 1 || h * w == 1 {
            Op::View(target)
        } else {
            Op::FromHwc(target)
        };
        let out = format!("{node}/nhwc");
        self.push(node, op, vec![flat], &out)
    }
}

/// `"node:1"` → (`"node"`, 1); control inputs (`"^node"`) keep their caret off.
fn tensor_node(input: &str) -> (&str, usize) {
    let s = input.strip_prefix('^').unwrap_or(input);
    match s.rsplit_once(':') {
        Some((n, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => {
            (n, k.parse().unwrap_or(usize::MAX))
        }
        _ => (s, 0),
    }
}

/// The entry key of a tensor name: output 0 of a node is the node's name.
fn tensor_key(input: &str) -> &str {
    match tensor_node(input) {
        (n, 0) => n,
        _ => input,
    }
}

/// The nodes the outputs depend on, inputs before readers (iterative: a hostile file can
/// make chains as deep as it likes). A missing input or a cycle is an error.
fn order<'a>(
    by_name: &HashMap<&str, &'a NodeDef>,
    outputs: &[String],
    file: &str,
) -> Result<Vec<&'a NodeDef>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut mark: HashMap<&str, Mark> = HashMap::new();
    let mut out = Vec::new();
    for o in outputs {
        let root = tensor_node(o).0;
        let Some(&r) = by_name.get(root) else {
            return Err(Error::BadModel {
                file: file.into(),
                format: FORMAT.into(),
                detail: format!("output {o} names no node"),
            });
        };
        let mut stack: Vec<(&NodeDef, usize)> = vec![(r, 0)];
        if mark.contains_key(root) {
            continue;
        }
        mark.insert(&r.name, Mark::Open);
        while let Some((n, next)) = stack.pop() {
            let data_inputs: Vec<&str> = n
                .input
                .iter()
                .filter(|i| !i.starts_with('^'))
                .map(|i| tensor_node(i).0)
                .collect();
            if let Some(&dep) = data_inputs.get(next) {
                stack.push((n, next + 1));
                let Some(&d) = by_name.get(dep) else {
                    return Err(Error::BadNode {
                        file: file.into(),
                        node: n.name.clone(),
                        op: n.op.clone(),
                        detail: format!("input {dep:?} is not a node of the graph"),
                    });
                };
                match mark.get(dep) {
                    Some(Mark::Done) => {}
                    Some(Mark::Open) => {
                        return Err(Error::BadNode {
                            file: file.into(),
                            node: n.name.clone(),
                            op: n.op.clone(),
                            detail: format!(
                                "input {dep:?} depends on this node's own output (a cycle; \
                                 control flow is not supported)"
                            ),
                        })
                    }
                    None => {
                        mark.insert(&d.name, Mark::Open);
                        stack.push((d, 0));
                    }
                }
            } else {
                mark.insert(&n.name, Mark::Done);
                out.push(n);
            }
        }
    }
    Ok(out)
}
