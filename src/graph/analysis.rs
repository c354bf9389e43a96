//! The buffer analysis of a `Graph`, made once and read by both backends: the CPU plan
//! (`graph::plan`, offsets in one arena) and the WebGPU lowering (`gpu::lower`, pooled
//! buffers). Both need the same four answers, so they are computed here and nowhere else:
//! - **fusions**: a conv, linear or add whose only reader is a ReLU or Clip right after it
//!   (and which is not the graph output) runs with that clamp; the activation node then runs
//!   nothing;
//! - **views**: ops whose output is their input's data unchanged share its buffer;
//! - **roots**: the value whose buffer each value uses (itself, its view source, the producer
//!   it was fused into, or the input an activation overwrites in place); the graph output's
//!   root must survive the whole run;
//! - **liveness**: after which node each root's buffer is free again.
//!
//! In-place activations are the one decision the backends do not share: WebGPU forbids
//! binding one buffer both read-only and writable in a dispatch, so `gpu::lower` asks for
//! `Reuse::Distinct` and the CPU plan for `Reuse::InPlace`.

use super::{Activation, Graph, Op, Shape, ValueId};
use crate::kernels::Clamp;

/// Whether an activation may overwrite its input's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// When nothing else reads that buffer (the CPU arena).
    InPlace,
    /// Never: every step's output is a different buffer from its inputs (WebGPU).
    Distinct,
}

/// What every backend lowers a graph with; indexed by node or by value as documented.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// (nodes,) for a ReLU/Clip fused into the node before it: that producer.
    pub fused_into: Vec<Option<usize>>,
    /// (nodes,) the clamp a producer runs with (`Clamp::NONE` unless an activation is fused).
    pub clamp: Vec<Clamp>,
    /// (nodes,) the node's output is its input's data: no step, same buffer.
    pub view: Vec<bool>,
    /// (values,) the value whose buffer each value uses; a root maps to itself.
    pub root: Vec<ValueId>,
    /// (nodes,) the roots whose last reader (or producer, if nobody reads them) is this node,
    /// in value order: their buffers are free once it has run. Never the output's root.
    pub dies_at: Vec<Vec<ValueId>>,
}

impl Analysis {
    /// The analysis of a validated graph (inputs computed before they are read).
    pub fn new(g: &Graph, reuse: Reuse) -> Analysis {
        let (nv, nn) = (g.values.len(), g.nodes.len());
        let mut a = Analysis {
            fused_into: vec![None; nn],
            clamp: vec![Clamp::NONE; nn],
            view: g
                .nodes
                .iter()
                .map(|n| is_view(&n.op, g.shape(n.inputs[0])))
                .collect(),
            root: (0..nv).collect(),
            dies_at: vec![Vec::new(); nn],
        };
        a.fuse(g);
        // Views and fused activations use their source's buffer; roots only point at values
        // computed earlier, and each is resolved in node order, so one pass suffices.
        for (i, node) in g.nodes.iter().enumerate() {
            if a.view[i] || a.fused_into[i].is_some() {
                a.root[node.output] = a.root[node.inputs[0]];
            }
        }
        if reuse == Reuse::InPlace {
            a.in_place(g);
        }
        a.liveness(g);
        a
    }

    /// The root of the graph output: its buffer holds the result after the run.
    pub fn output_root(&self, g: &Graph) -> ValueId {
        self.root[g.output]
    }

    /// Node `i` writes over its first input's buffer (an in-place activation).
    pub fn in_place_at(&self, g: &Graph, i: usize) -> bool {
        let n = &g.nodes[i];
        !self.view[i]
            && self.fused_into[i].is_none()
            && self.root[n.output] == self.root[n.inputs[0]]
    }

    /// The fusion rule: a conv, linear or add whose only reader is a ReLU or Clip right after
    /// it (the graph output counts as a reader) runs with that clamp.
    fn fuse(&mut self, g: &Graph) {
        let mut readers = vec![0usize; g.values.len()];
        for node in &g.nodes {
            for &v in &node.inputs {
                readers[v] += 1;
            }
        }
        readers[g.output] += 1;
        for a in 1..g.nodes.len() {
            let (p, act) = (&g.nodes[a - 1], &g.nodes[a]);
            let clamp = match act.op {
                Op::Act(Activation::Relu) => Clamp::RELU,
                Op::Act(Activation::Clip { min, max }) => Clamp { min, max },
                _ => continue,
            };
            if act.inputs == [p.output]
                && readers[p.output] == 1
                && matches!(p.op, Op::Conv(_) | Op::Linear(_) | Op::Add)
            {
                self.fused_into[a] = Some(a - 1);
                self.clamp[a - 1] = clamp;
            }
        }
    }

    /// Activations run in place when nothing else reads their input's buffer: counted over
    /// every value sharing it so far (a view of it, an activation already in place on it),
    /// so a second activation never overwrites a value a third node still reads. Never over
    /// the graph input (the caller's data) or a buffer holding the graph output.
    fn in_place(&mut self, g: &Graph) {
        for node in &g.nodes {
            if !matches!(node.op, Op::Act(_)) {
                continue;
            }
            let xr = self.root[node.inputs[0]];
            let shares = |v: ValueId| self.root[v] == xr;
            let readers: usize = g
                .nodes
                .iter()
                .map(|n| n.inputs.iter().filter(|&&v| shares(v)).count())
                .sum();
            if self.root[node.output] == node.output
                && readers == 1
                && !shares(g.output)
                && xr != self.root[g.input]
            {
                self.root[node.output] = xr;
            }
        }
        // A view taken of an activation's output before that activation went in place still
        // names the activation: point every value at its final buffer. Roots only ever point
        // at values computed earlier, so this ends.
        for v in 0..self.root.len() {
            let mut r = self.root[v];
            while self.root[r] != r {
                r = self.root[r];
            }
            self.root[v] = r;
        }
    }

    /// For each root, the last node reading it (or producing it, if nobody reads it); the
    /// graph output's root is never freed.
    fn liveness(&mut self, g: &Graph) {
        let mut last: Vec<Option<usize>> = vec![None; g.values.len()];
        for (i, node) in g.nodes.iter().enumerate() {
            for &v in node.inputs.iter().chain([&node.output]) {
                let r = self.root[v];
                last[r] = Some(last[r].map_or(i, |l| l.max(i)));
            }
        }
        let out = self.output_root(g);
        for (v, l) in last.into_iter().enumerate() {
            if let (Some(i), true) = (l, v != out && self.root[v] == v) {
                self.dies_at[i].push(v);
            }
        }
    }
}

/// Ops whose output is their input's data unchanged, so they share its buffer: views, and
/// HWC re-layouts of a tensor with one channel or one pixel (CHW and HWC orders coincide,
/// e.g. the flatten of a pooled (C, 1, 1) before a dense layer).
pub fn is_view(op: &Op, xs: Shape) -> bool {
    match op {
        Op::View(_) => true,
        Op::ToHwc => xs.c == 1 || xs.hw() == 1,
        Op::FromHwc(ys) => ys.c == 1 || ys.hw() == 1,
        _ => false,
    }
}
