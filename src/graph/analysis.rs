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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Conv, Linear};

    fn relu() -> Op {
        Op::Act(Activation::Relu)
    }

    fn conv1x1(c: usize) -> Op {
        Op::Conv(Conv::new(c, c, 1, [1, 1]))
    }

    /// conv + relu, tanh, conv2 read twice (relu, add), sigmoid, view, fc + clip.
    fn graph() -> Graph {
        let mut g = Graph::new("t", Shape::new(2, 1, 1));
        let c = g.push(conv1x1(2), &[0]).unwrap(); // n0
        let r = g.push(relu(), &[c]).unwrap(); // n1: fused into n0
                                               // n2: not in place: the fused relu reads the same buffer.
        let t = g.push(Op::Act(Activation::Tanh), &[r]).unwrap();
        let c2 = g.push(conv1x1(2), &[t]).unwrap(); // n3: read by n4 and n5
        let r2 = g.push(relu(), &[c2]).unwrap(); // n4: not fused (two readers)
        let s = g.push(Op::Add, &[r2, c2]).unwrap(); // n5
        let s = g.push(Op::Act(Activation::Sigmoid), &[s]).unwrap(); // n6: in place (CPU)
        let v = g.push(Op::View(Shape::vector(2)), &[s]).unwrap(); // n7: view
        let fc = Linear {
            c_out: 2,
            c_in: 2,
            weight: vec![1.0; 4],
            bias: vec![0.0; 2],
        };
        let l = g.push(Op::Linear(fc), &[v]).unwrap(); // n8
        let clip = Op::Act(Activation::Clip { min: 0.0, max: 6.0 });
        g.push(clip, &[l]).unwrap(); // n9: fused into n8, the graph output
        g.validate().unwrap();
        g
    }

    #[test]
    fn fuses_clamps_into_their_only_reader_and_shares_views() {
        let g = graph();
        let a = Analysis::new(&g, Reuse::InPlace);
        let fused: Vec<(usize, usize)> = (0..g.nodes.len())
            .filter_map(|i| a.fused_into[i].map(|p| (p, i)))
            .collect();
        assert_eq!(fused, [(0, 1), (8, 9)]);
        assert_eq!(a.clamp[0], Clamp::RELU);
        assert_eq!(a.clamp[8], Clamp { min: 0.0, max: 6.0 });
        assert_eq!(a.clamp[3], Clamp::NONE, "two readers: no fusion");
        let views: Vec<usize> = (0..g.nodes.len()).filter(|&i| a.view[i]).collect();
        assert_eq!(views, [7]);
        let out = |i: usize| g.nodes[i].output;
        assert_eq!(a.root[out(1)], out(0), "fused: the producer's buffer");
        assert_eq!(a.root[out(6)], out(5), "in place: its input's buffer");
        assert_eq!(a.root[out(7)], out(5), "view: its source's buffer");
        assert_eq!(a.output_root(&g), out(8));
    }

    #[test]
    fn only_the_cpu_reuse_runs_activations_in_place_and_never_on_the_input() {
        let g = graph();
        let cpu = Analysis::new(&g, Reuse::InPlace);
        let gpu = Analysis::new(&g, Reuse::Distinct);
        // The decisions both backends share.
        assert_eq!(
            (&cpu.fused_into, &cpu.clamp, &cpu.view),
            (&gpu.fused_into, &gpu.clamp, &gpu.view)
        );
        let in_place = |a: &Analysis| -> Vec<usize> {
            (0..g.nodes.len())
                .filter(|&i| a.in_place_at(&g, i))
                .collect()
        };
        // n6 (sigmoid) is the only reader of the add's buffer; n2 shares n0's with the fused
        // relu, n4 its input with the add.
        assert_eq!(in_place(&cpu), [6]);
        assert_eq!(in_place(&gpu), [] as [usize; 0]);

        let mut g = Graph::new("t", Shape::new(2, 1, 1));
        g.push(relu(), &[0]).unwrap();
        let a = Analysis::new(&g, Reuse::InPlace);
        assert!(
            !a.in_place_at(&g, 0),
            "the caller's input is never overwritten"
        );
    }

    #[test]
    fn every_buffer_but_the_output_dies_once_after_its_last_reader() {
        let g = graph();
        for reuse in [Reuse::InPlace, Reuse::Distinct] {
            let a = Analysis::new(&g, reuse);
            let mut died = vec![None; g.values.len()];
            for (i, vs) in a.dies_at.iter().enumerate() {
                for &v in vs {
                    assert_eq!(died[v].replace(i), None, "{reuse:?}: v{v} dies twice");
                }
            }
            for v in 0..g.values.len() {
                let root = a.root[v] == v;
                if !root || v == a.output_root(&g) {
                    assert_eq!(died[v], None, "{reuse:?}: v{v} is no live root");
                    continue;
                }
                let last = g
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.inputs.iter().any(|&u| a.root[u] == v))
                    .map(|(i, _)| i)
                    .max();
                assert_eq!(died[v], last, "{reuse:?}: v{v}");
            }
        }
    }
}
