//! Small `Graph`s built directly (no ONNX file) for the pruning and export tests.
#![allow(dead_code)]

use zeroskip::graph::{shape, Conv, Graph, Linear, Node, Op, Shape, Value, ValueId};
use zeroskip::synth::Rng;

/// Appends nodes to a graph, inferring each output shape.
pub struct Builder {
    pub g: Graph,
}

impl Builder {
    pub fn new(input: Shape) -> Builder {
        Builder {
            g: Graph {
                name: "test".into(),
                values: vec![Value {
                    name: "input".into(),
                    shape: input,
                }],
                nodes: vec![],
                input: 0,
                output: 0,
            },
        }
    }

    pub fn push(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        let shapes: Vec<Shape> = inputs.iter().map(|&v| self.g.shape(v)).collect();
        let out = shape::infer(&op, &shapes).expect("test graph shapes");
        let id = self.g.values.len();
        let k = self.g.nodes.len();
        self.g.values.push(Value {
            name: format!("v{id}"),
            shape: out,
        });
        self.g.nodes.push(Node {
            name: format!("n{k}_{}", op.name()),
            op,
            inputs: inputs.to_vec(),
            output: id,
        });
        id
    }

    pub fn finish(mut self, out: ValueId) -> Graph {
        self.g.output = out;
        self.g.validate().expect("valid test graph");
        self.g
    }
}

/// A conv with random weights and bias.
pub fn conv(
    rng: &mut Rng,
    c_out: usize,
    c_in: usize,
    groups: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Op {
    Op::Conv(Conv {
        c_out,
        c_in,
        groups,
        kh: k,
        kw: k,
        stride: [stride; 2],
        dilation: [1; 2],
        pads: [pad; 4],
        weight: rng.vec(c_out * (c_in / groups) * k * k),
        bias: rng.vec(c_out),
    })
}

pub fn linear(rng: &mut Rng, c_out: usize, c_in: usize) -> Op {
    Op::Linear(Linear {
        c_out,
        c_in,
        weight: rng.vec(c_out * c_in),
        bias: rng.vec(c_out),
    })
}

/// `input (8, 4, 4)` → 1x1 conv 16×8 → 1x1 conv 12×16 → sigmoid → global pool → linear 10×12.
/// No ReLU before a pruned layer, so no input channel is dead and sparsity counts are exact.
pub fn three_layers(seed: u64) -> Graph {
    let mut rng = Rng::new(seed);
    let mut b = Builder::new(Shape::new(8, 4, 4));
    let a = b.push(conv(&mut rng, 16, 8, 1, 1, 1, 0), &[0]);
    let c = b.push(conv(&mut rng, 12, 16, 1, 1, 1, 0), &[a]);
    let s = b.push(Op::Act(zeroskip::graph::Activation::Sigmoid), &[c]);
    let p = b.push(Op::GlobalAvgPool, &[s]);
    let f = b.push(linear(&mut rng, 10, 12), &[p]);
    b.finish(f)
}

/// `n` random inputs for `g`.
pub fn inputs(g: &Graph, n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.vec(g.input_shape().len())).collect()
}
