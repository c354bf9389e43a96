//! The model as a list of operations on named CHW values, batch 1. Import builds it (and
//! checks every shape); plan turns it into kernels and buffers.

pub mod analysis;
pub mod arena;
pub mod exec;
pub mod op;
pub mod plan;
pub mod reference;
pub mod rewrite;
pub mod shape;
pub mod split;

pub use exec::Session;
pub use op::{Activation, Conv, Linear, Matrix, Op, Pool, PoolKind, Resize};
pub use plan::{LayerReport, Plan, PlanOptions, Sparsity};

use crate::error::{Error, Result};

/// Shape of one activation, batch 1: `(c, h, w)`; a vector of n is `(n, 1, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn new(c: usize, h: usize, w: usize) -> Shape {
        Shape { c, h, w }
    }
    pub fn vector(n: usize) -> Shape {
        Shape { c: n, h: 1, w: 1 }
    }
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn hw(&self) -> usize {
        self.h * self.w
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {}, {})", self.c, self.h, self.w)
    }
}

pub type ValueId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    pub shape: Shape,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// Nodes are in execution order; every input of a node is the graph input or an earlier
/// node's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub input: ValueId,
    pub output: ValueId,
}

impl Graph {
    /// A graph holding only its input (also its output until nodes are pushed).
    pub fn new(name: &str, input: Shape) -> Graph {
        Graph {
            name: name.into(),
            values: vec![Value {
                name: "x".into(),
                shape: input,
            }],
            nodes: vec![],
            input: 0,
            output: 0,
        }
    }

    /// Appends node `n<k>_<op>` computing `op` over `inputs` (computed earlier), its output
    /// shape inferred as `validate` would; the new value becomes the graph output.
    pub fn push(&mut self, op: Op, inputs: &[ValueId]) -> Result<ValueId> {
        let name = format!("n{}_{}", self.nodes.len(), op.name());
        let ins = inputs
            .iter()
            .map(|&v| self.values.get(v).map(|x| x.shape))
            .collect::<Option<Vec<Shape>>>();
        let out = ins
            .ok_or_else(|| "input value id out of range".to_string())
            .and_then(|ins| shape::infer(&op, &ins))
            .map_err(|detail| Error::BadNode {
                file: self.name.clone(),
                node: name.clone(),
                op: op.name().into(),
                detail,
            })?;
        let v = self.values.len();
        self.values.push(Value {
            name: format!("{name}_out"),
            shape: out,
        });
        self.nodes.push(Node {
            name,
            op,
            inputs: inputs.to_vec(),
            output: v,
        });
        self.output = v;
        Ok(v)
    }

    pub fn shape(&self, v: ValueId) -> Shape {
        self.values[v].shape
    }
    pub fn input_shape(&self) -> Shape {
        self.shape(self.input)
    }
    pub fn output_shape(&self) -> Shape {
        self.shape(self.output)
    }

    /// Checks the invariants every later stage relies on: ids in range, each value written
    /// once, nodes in execution order, and every declared shape equal to the inferred one.
    pub fn validate(&self) -> Result<()> {
        let bad = |node: &str, op: &str, detail: String| Error::BadNode {
            file: self.name.clone(),
            node: node.into(),
            op: op.into(),
            detail,
        };
        let n = self.values.len();
        if self.input >= n || self.output >= n {
            return Err(bad(
                "(graph)",
                "-",
                format!("input/output id out of range of {n} values"),
            ));
        }
        shape::check(self.input_shape()).map_err(|d| bad("(graph input)", "-", d))?;
        let mut ready = vec![false; n];
        ready[self.input] = true;
        for node in &self.nodes {
            let op = node.op.name();
            if node.output >= n || node.inputs.iter().any(|&v| v >= n) {
                return Err(bad(&node.name, op, "value id out of range".into()));
            }
            if let Some(&v) = node.inputs.iter().find(|&&v| !ready[v]) {
                return Err(bad(
                    &node.name,
                    op,
                    format!(
                        "input {} is used before it is computed",
                        self.values[v].name
                    ),
                ));
            }
            if ready[node.output] {
                return Err(bad(
                    &node.name,
                    op,
                    format!("output {} is written twice", self.values[node.output].name),
                ));
            }
            let ins: Vec<Shape> = node.inputs.iter().map(|&v| self.shape(v)).collect();
            let out = shape::infer(&node.op, &ins).map_err(|d| bad(&node.name, op, d))?;
            if out != self.shape(node.output) {
                return Err(bad(
                    &node.name,
                    op,
                    format!(
                        "declares output {} but computes {out}",
                        self.shape(node.output)
                    ),
                ));
            }
            ready[node.output] = true;
        }
        if !ready[self.output] {
            return Err(bad(
                "(graph output)",
                "-",
                format!("{} is never computed", self.values[self.output].name),
            ));
        }
        Ok(())
    }
}
