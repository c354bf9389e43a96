//! Graph → graph simplifications that importers rely on, so that they can emit ops one TF
//! node at a time and leave the folding here, where every value's readers are known:
//! - a zero `Pad` (spatial only) read only by a conv becomes the conv's own padding;
//! - a `ChannelAffine` right after a conv/linear read only by it is folded into the weights;
//! - a shift-only `ChannelAffine` after a residual `Add` moves into the bias of the conv
//!   feeding that add (`(conv + skip) + b = (conv + b) + skip`);
//! - nodes whose outputs nobody reads are dropped, and unused values are compacted away.

use super::{Graph, Node, Op, ValueId};

pub fn simplify(mut g: Graph) -> Graph {
    loop {
        let readers = readers(&g);
        let producer = producers(&g);
        let Some((dead, replace_with)) = (0..g.nodes.len())
            .find_map(|i| fold_one(&mut g, i, &readers, &producer).map(|r| (i, r)))
        else {
            break;
        };
        let out = g.nodes[dead].output;
        g.nodes.remove(dead);
        rename(&mut g, out, replace_with);
    }
    drop_dead(&mut g);
    compact(&mut g);
    g
}

/// How many node inputs (plus the graph output) read each value.
fn readers(g: &Graph) -> Vec<usize> {
    let mut r = vec![0; g.values.len()];
    g.nodes
        .iter()
        .flat_map(|n| &n.inputs)
        .for_each(|&v| r[v] += 1);
    r[g.output] += 1;
    r
}

fn producers(g: &Graph) -> Vec<Option<usize>> {
    let mut p = vec![None; g.values.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        p[n.output] = Some(i);
    }
    p
}

/// Tries to fold node `i` into a neighbour; on success node `i` is redundant and its output
/// should be read as the returned value.
fn fold_one(
    g: &mut Graph,
    i: usize,
    readers: &[usize],
    producer: &[Option<usize>],
) -> Option<ValueId> {
    let node = &g.nodes[i];
    let x = *node.inputs.first()?;
    match &node.op {
        Op::Pad { pads } if pads[0] == 0 && pads[3] == 0 && readers[node.output] == 1 => {
            let pads = *pads;
            let out = node.output;
            let reader = g.nodes.iter().position(|n| n.inputs.contains(&out))?;
            let Op::Conv(c) = &mut g.nodes[reader].op else {
                return None;
            };
            // [top, left, bottom, right] += the pad's spatial [top, left, bottom, right].
            c.pads[0] += pads[1];
            c.pads[1] += pads[2];
            c.pads[2] += pads[4];
            c.pads[3] += pads[5];
            Some(x)
        }
        Op::ChannelAffine { scale, shift } if readers[x] == 1 => {
            let (scale, shift) = (scale.clone(), shift.clone());
            let mut p = producer[x]?;
            // Through a vector view (TF's MatMul → Reshape → BiasAdd): same values, same order.
            if let Op::View(s) = &g.nodes[p].op {
                let v = g.nodes[p].inputs[0];
                let q = producer[v]?;
                let vector = s.hw() == 1 && g.values[v].shape.hw() == 1;
                if !(vector && readers[v] == 1 && matches!(g.nodes[q].op, Op::Linear(_))) {
                    return None;
                }
                p = q;
            }
            match &mut g.nodes[p].op {
                Op::Conv(c) if c.c_out == scale.len() => {
                    let per = c.weight.len() / c.c_out.max(1);
                    scale_rows(&mut c.weight, &mut c.bias, per, &scale, &shift);
                    Some(x)
                }
                Op::Linear(l) if l.c_out == scale.len() => {
                    scale_rows(&mut l.weight, &mut l.bias, l.c_in, &scale, &shift);
                    Some(x)
                }
                Op::Add if scale.iter().all(|&s| s == 1.0) => {
                    let ins = g.nodes[p].inputs.clone();
                    let conv = ins.iter().find_map(|&v| {
                        let q = producer[v]?;
                        let single = readers[v] == 1;
                        match &g.nodes[q].op {
                            Op::Conv(c) if single && c.c_out == shift.len() => Some(q),
                            _ => None,
                        }
                    })?;
                    let Op::Conv(c) = &mut g.nodes[conv].op else {
                        return None;
                    };
                    c.bias.iter_mut().zip(&shift).for_each(|(b, s)| *b += s);
                    Some(x)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `W (rows, per)`, `b (rows,)`: row `o` scaled by `scale[o]`, then `shift[o]` added to `b`.
fn scale_rows(w: &mut [f32], b: &mut [f32], per: usize, scale: &[f32], shift: &[f32]) {
    for (o, row) in w.chunks_mut(per.max(1)).enumerate() {
        row.iter_mut().for_each(|v| *v *= scale[o]);
    }
    for (o, v) in b.iter_mut().enumerate() {
        *v = *v * scale[o] + shift[o];
    }
}

fn rename(g: &mut Graph, from: ValueId, to: ValueId) {
    for n in &mut g.nodes {
        n.inputs
            .iter_mut()
            .filter(|v| **v == from)
            .for_each(|v| *v = to);
    }
    if g.output == from {
        g.output = to;
    }
}

fn drop_dead(g: &mut Graph) {
    loop {
        let r = readers(g);
        let before = g.nodes.len();
        g.nodes.retain(|n| r[n.output] > 0);
        if g.nodes.len() == before {
            break;
        }
    }
}

/// Renumbers values so that only the input and node outputs remain.
fn compact(g: &mut Graph) {
    let mut used = vec![false; g.values.len()];
    used[g.input] = true;
    g.nodes.iter().for_each(|n| used[n.output] = true);
    let mut new_id = vec![usize::MAX; g.values.len()];
    let mut values = Vec::new();
    for (v, value) in g.values.iter().enumerate() {
        if used[v] {
            new_id[v] = values.len();
            values.push(value.clone());
        }
    }
    let map = |v: ValueId| new_id[v];
    g.nodes = g
        .nodes
        .drain(..)
        .map(|n| Node {
            inputs: n.inputs.iter().map(|&v| map(v)).collect(),
            output: map(n.output),
            ..n
        })
        .collect();
    g.input = map(g.input);
    g.output = map(g.output);
    g.values = values;
}
