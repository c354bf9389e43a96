pub mod gguf;
pub mod onnx;
pub mod tfjs;

use crate::graph::{shape, Node, Op, Shape, Value, ValueId};

/// Appends node `node`, running `op` on `inputs`, to a graph being imported (ONNX, TF.js):
/// its output is a new value named `out` of the shape inferred here. `Err` says why the
/// inputs do not fit `op`, for the importer to wrap with the file and node.
pub(crate) fn push_node(
    values: &mut Vec<Value>,
    nodes: &mut Vec<Node>,
    node: &str,
    op: Op,
    inputs: Vec<ValueId>,
    out: &str,
) -> std::result::Result<ValueId, String> {
    let shapes: Vec<Shape> = inputs.iter().map(|&v| values[v].shape).collect();
    let shape = shape::infer(&op, &shapes)?;
    values.push(Value {
        name: out.into(),
        shape,
    });
    let output = values.len() - 1;
    nodes.push(Node {
        name: node.into(),
        op,
        inputs,
        output,
    });
    Ok(output)
}
