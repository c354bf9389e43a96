//! Sequential calibration. All calibration inputs go through the network in lockstep, one
//! node at a time, so that when a layer is reached the statistics of its inputs over every
//! image are at hand: the layer is pruned on the activations of the *already pruned* network
//! (as SparseGPT does, so earlier errors are seen and compensated rather than compounding
//! silently), re-estimated, and only then is its output computed and passed on.
//!
//! Cost: one dense forward per image (re-estimation targets) plus one pruned forward per image.
//! Memory: every image's live activations at once (freed after their last reader).

use super::reestimate::{self, ChannelStats};
use super::{sparsegpt, wanda, weights_bias_mut, Config, Layer, Method, Progress, Stage};
use crate::error::Result;
use crate::graph::{reference, Graph, Op};

/// Prunes `layers` of `graph` to `targets` on the calibration inputs `calib`.
pub(super) fn run(
    graph: &mut Graph,
    calib: &[Vec<f32>],
    layers: &[Layer],
    targets: &[f32],
    config: &Config,
    progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    let dense = if config.reestimate {
        Some(dense_stats(graph, calib, layers, progress)?)
    } else {
        None
    };
    let last = last_use(graph);
    // vals[image][value]: the live activations of every calibration input
    let mut vals: Vec<Vec<Option<Vec<f32>>>> = calib
        .iter()
        .map(|x| {
            let mut v = vec![None; graph.values.len()];
            v[graph.input] = Some(x.clone());
            v
        })
        .collect();
    let mut next_layer = 0;
    for k in 0..graph.nodes.len() {
        let node = &graph.nodes[k];
        let (inputs, output) = (node.inputs.clone(), node.output);
        let outs: Vec<Vec<f32>> = if layers.get(next_layer).is_some_and(|l| l.node == k) {
            let li = next_layer;
            next_layer += 1;
            // xs: one (c_in, hw) input per image
            let xs: Vec<&[f32]> = vals.iter().map(|v| live(v, inputs[0])).collect();
            let outs = prune_layer(
                graph,
                &layers[li],
                targets[li],
                &xs,
                dense.as_ref().map(|d| &d[li]),
                config,
            )?;
            progress(&Progress {
                stage: Stage::Prune,
                done: li + 1,
                total: layers.len(),
                what: layers[li].name.clone(),
            });
            outs
        } else {
            vals.iter()
                .map(|v| {
                    let ins: Vec<&[f32]> = inputs.iter().map(|&i| live(v, i)).collect();
                    reference::eval_node(graph, k, &ins)
                })
                .collect::<Result<_>>()?
        };
        for (v, y) in vals.iter_mut().zip(outs) {
            v[output] = Some(y);
            for &i in &inputs {
                if last[i] == k {
                    v[i] = None;
                }
            }
        }
    }
    Ok(())
}

/// Prunes one layer given its inputs `xs` (one `(c_in, hw)` per image) from the pruned network,
/// re-estimates it against `dense`, and returns its outputs `(c_out, hw)` per image.
fn prune_layer(
    graph: &mut Graph,
    layer: &Layer,
    s: f32,
    xs: &[&[f32]],
    dense: Option<&ChannelStats>,
    config: &Config,
) -> Result<Vec<Vec<f32>>> {
    let (c_out, c_in) = (layer.c_out, layer.c_in);
    // A linear layer reads its input as one (c_in,) pixel.
    let hw = xs.first().map_or(1, |x| x.len() / c_in.max(1));
    {
        let (w, _) = weights_bias_mut(graph, layer.node);
        match config.method {
            Method::Magnitude => super::magnitude::prune(w, c_out, c_in, s, config.pattern),
            Method::Wanda => {
                // sq_norm (c_in,): Σ over images and pixels of x_j²
                let mut sq_norm = vec![0.0f64; c_in];
                for x in xs {
                    for (acc, row) in sq_norm.iter_mut().zip(x.chunks_exact(hw)) {
                        *acc += dot(row, row);
                    }
                }
                wanda::prune(w, &sq_norm, c_out, c_in, s, config.pattern);
            }
            Method::SparseGpt => {
                let h = hessian(xs, c_in, hw);
                sparsegpt::prune(
                    &layer.name,
                    w,
                    h,
                    c_out,
                    c_in,
                    s,
                    config.pattern,
                    config.block,
                    config.damp,
                )?;
            }
        }
    }
    let mut outs = forward(graph, layer.node, xs)?;
    if let Some(dense) = dense {
        let mut stats = ChannelStats::new(c_out);
        let out_hw = outs.first().map_or(1, |y| y.len() / c_out.max(1));
        outs.iter().for_each(|y| stats.add(y, out_hw));
        let (scale, shift) = reestimate::correction(&stats, dense);
        let (w, b) = weights_bias_mut(graph, layer.node);
        reestimate::fold(w, b, c_in, &scale, &shift);
        // Recomputed rather than patched, so the stream matches the saved model bit for bit.
        outs = forward(graph, layer.node, xs)?;
    }
    Ok(outs)
}

/// Per-channel output statistics of every layer of the *dense* network over `calib`.
fn dense_stats(
    graph: &Graph,
    calib: &[Vec<f32>],
    layers: &[Layer],
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<ChannelStats>> {
    let mut stats: Vec<ChannelStats> = layers.iter().map(|l| ChannelStats::new(l.c_out)).collect();
    let last = last_use(graph);
    for (i, x) in calib.iter().enumerate() {
        let mut v: Vec<Option<Vec<f32>>> = vec![None; graph.values.len()];
        v[graph.input] = Some(x.clone());
        let mut next_layer = 0;
        for (k, node) in graph.nodes.iter().enumerate() {
            let ins: Vec<&[f32]> = node.inputs.iter().map(|&i| live(&v, i)).collect();
            let y = if layers.get(next_layer).is_some_and(|l| l.node == k) {
                let y = forward(graph, k, &ins)?.pop().unwrap_or_default();
                stats[next_layer].add(&y, graph.shape(node.output).hw());
                next_layer += 1;
                y
            } else {
                reference::eval_node(graph, k, &ins)?
            };
            v[node.output] = Some(y);
            for &i in &node.inputs {
                if last[i] == k {
                    v[i] = None;
                }
            }
        }
        progress(&Progress {
            stage: Stage::DenseStats,
            done: i + 1,
            total: calib.len(),
            what: format!("input #{i}"),
        });
    }
    Ok(stats)
}

/// Outputs of layer node `k` for each input `(c_in, hw)`. Pointwise convs take a fast path
/// that skips zero weights but adds in the same order as the reference interpreter (bias
/// first, then channels ascending per pixel), so results are identical; others defer to it.
fn forward(graph: &Graph, k: usize, xs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
    match &graph.nodes[k].op {
        Op::Conv(c) if c.is_pointwise() => Ok(xs
            .iter()
            .map(|x| {
                let hw = x.len() / c.c_in;
                // y (c_out, hw)
                let mut y = vec![0.0f32; c.c_out * hw];
                for (o, yo) in y.chunks_exact_mut(hw).enumerate() {
                    yo.fill(c.bias[o]);
                    for (i, &w) in c.weight[o * c.c_in..(o + 1) * c.c_in].iter().enumerate() {
                        if w != 0.0 {
                            for (d, &xv) in yo.iter_mut().zip(&x[i * hw..(i + 1) * hw]) {
                                *d += w * xv;
                            }
                        }
                    }
                }
                y
            })
            .collect()),
        _ => xs
            .iter()
            .map(|x| reference::eval_node(graph, k, &[x]))
            .collect(),
    }
}

/// `H (c_in, c_in)` = Σ over images and pixels of x xᵀ, from inputs `(c_in, hw)`.
fn hessian(xs: &[&[f32]], c_in: usize, hw: usize) -> Vec<f64> {
    let mut h = vec![0.0f64; c_in * c_in];
    for x in xs {
        for i in 0..c_in {
            let xi = &x[i * hw..(i + 1) * hw];
            for j in 0..=i {
                h[i * c_in + j] += dot(xi, &x[j * hw..(j + 1) * hw]);
            }
        }
    }
    for i in 0..c_in {
        for j in 0..i {
            h[j * c_in + i] = h[i * c_in + j];
        }
    }
    h
}

/// Σ a·b in f64, four partial sums so the loop vectorizes.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| x as f64 * y as f64)
        .sum();
    for (p, q) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += p[l] as f64 * q[l] as f64;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// For each value, the last node that reads it (`usize::MAX` for the graph output: kept).
fn last_use(graph: &Graph) -> Vec<usize> {
    let mut last = vec![0usize; graph.values.len()];
    for (k, n) in graph.nodes.iter().enumerate() {
        for &i in &n.inputs {
            last[i] = k;
        }
    }
    last[graph.output] = usize::MAX;
    last
}

/// The activation `v` of one image; the graph is validated, so it was computed earlier and
/// is freed only after its last reader.
fn live(vals: &[Option<Vec<f32>>], v: usize) -> &[f32] {
    vals[v].as_deref().unwrap_or(&[])
}
