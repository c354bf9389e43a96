//! Every CNN kernel of the table gives bit-identical outputs on 1, 2 and 3 threads, run through
//! the engine's own split (`graph::split`, the functions `exec` runs every step through) with
//! every call cut into 2 and 3 tasks however small (`par::with_splits`). Natively the tasks run
//! on 2 and 3 threads; in the wasm builds (SIMD128, relaxed: under Node, no workers) they run
//! one after another, which checks the same thing: a result depends on how a call is cut,
//! never on which thread runs a part. Operands are ragged: pixel counts that leave every tile
//! remainder, channel counts below and above the part count. The LLM kernels have their own
//! file (llm_threads.rs); the ops `graph::split` does not split (pools, softmax, layout,
//! affine) run on one thread and are not listed here.

use crate::cnn::{windows_for, ConvCase, DwCase};
use crate::common::Case;
use zeroskip::dense::DenseWeights;
use zeroskip::graph::split;
use zeroskip::kernels::cnn::{Activation, ConvParams, ConvWeights, DwConvParams, DwConvWeights};
use zeroskip::kernels::{table, Clamp, Kernel, Op};
use zeroskip::par::{with_splits, with_threads};
use zeroskip::sparse::SpmmWeights;
use zeroskip::synth::Pattern::{Groups, Unstructured};
use zeroskip::synth::Rng;

/// `run` on 1, 2 and 3 threads (every call cut into as many tasks): the same bits each time.
fn same_on_any_thread_count(what: &str, run: &dyn Fn() -> Vec<f32>) {
    let one = with_threads(1, || with_splits(1, run));
    for threads in [2, 3] {
        let got = with_threads(threads, || with_splits(threads, run));
        let same = one.len() == got.len()
            && one
                .iter()
                .zip(&got)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{what}: {threads} threads differ from 1");
    }
}

fn pointwise(k: &Kernel) {
    let (mr, nr) = (k.mr(), k.nr());
    let cases = [
        Case::random(2 * nr + 1, 19, 5 * mr + 7, 0.5, Unstructured, 1),
        Case::random(3 * nr, 33, 49, 0.8, Groups(nr), 2).clamp(Clamp::RELU6),
        Case::random(nr + 1, 7, 13, 0.0, Unstructured, 3),
        Case::random(2, 5, 3, 0.5, Unstructured, 4),
    ];
    for c in &cases {
        let what = format!("{} C_out={} C_in={} HW={}", k.name, c.c_out, c.c_in, c.hw);
        let run = || {
            let mut y = vec![0.0; c.c_out * c.hw];
            if k.op == Op::Spmm {
                let l = SpmmWeights::pack("t", &c.w, Some(&c.bias), c.c_out, c.c_in, nr)
                    .and_then(|p| p.bind(c.hw))
                    .unwrap();
                split::spmm(k, &l, &c.x, &mut y, c.clamp).unwrap();
            } else {
                let d = DenseWeights::pack("t", &c.w, Some(&c.bias), c.c_out, c.c_in, nr).unwrap();
                split::gemm(k, &d, c.hw, &c.x, &mut y, c.clamp).unwrap();
            }
            y
        };
        same_on_any_thread_count(&what, &run);
    }
}

fn dwconv(k: &Kernel) {
    for (i, (c, h, w)) in [(7, 9, 11), (2, 15, 15), (3, 1, 9)].into_iter().enumerate() {
        for win in windows_for(k, h, w) {
            let Some(case) = DwCase::random(c, h, w, win, i as u64) else {
                continue;
            };
            let p = DwConvParams::new("t", c, h, w, win).unwrap();
            let wts = DwConvWeights::pack("t", &case.wt, case.bias.as_deref(), p).unwrap();
            let run = || {
                let mut y = vec![0.0; wts.params().output_len()];
                split::dwconv(k, &wts, &case.x, &mut y, Clamp::RELU).unwrap();
                y
            };
            same_on_any_thread_count(&format!("{} C={c} H={h} W={w} {win:?}", k.name), &run);
        }
    }
}

fn conv(k: &Kernel) {
    for (i, (ci, co, h, w)) in [(3, 8, 9, 13), (2, 5, 7, 7), (3, 2, 4, 4)]
        .into_iter()
        .enumerate()
    {
        for win in windows_for(k, h, w) {
            let Some(case) = ConvCase::random(ci, co, h, w, win, i as u64) else {
                continue;
            };
            let p = ConvParams::new("t", ci, co, h, w, win).unwrap();
            let wts = ConvWeights::pack("t", &case.wt, case.bias.as_deref(), p).unwrap();
            let run = || {
                let mut y = vec![0.0; wts.params().output_len()];
                split::conv(k, &wts, &case.x, &mut y, Clamp::NONE).unwrap();
                y
            };
            same_on_any_thread_count(
                &format!("{} C_in={ci} C_out={co} H={h} W={w} {win:?}", k.name),
                &run,
            );
        }
    }
}

fn chmul(k: &Kernel) {
    for (c, hw) in [(1, 5), (5, 7), (16, 49), (2, 197)] {
        let mut rng = Rng::new((c * hw) as u64);
        let (x, s) = (rng.vec(c * hw), rng.vec(c));
        let run = || {
            let mut y = vec![0.0; c * hw];
            split::chmul(k, &x, &s, &mut y, hw).unwrap();
            y
        };
        same_on_any_thread_count(&format!("{} C={c} HW={hw}", k.name), &run);
    }
}

fn act(k: &Kernel) {
    let a = match k.op {
        Op::Clamp => Activation::RELU6,
        Op::HardSigmoid => Activation::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        },
        Op::HardSwish => Activation::HardSwish,
        Op::Sigmoid => Activation::Sigmoid,
        Op::Tanh => Activation::Tanh,
        Op::LeakyRelu => Activation::LeakyRelu { alpha: 0.1 },
        op => panic!("{}: {op:?} is not an activation", k.name),
    };
    for n in [1, 3, 5, 17, 1001] {
        let x: Vec<f32> = Rng::new(n as u64).vec(n).iter().map(|v| 8.0 * v).collect();
        let run = || {
            let mut y = x.clone();
            split::act(k, &mut y, a).unwrap();
            y
        };
        same_on_any_thread_count(&format!("{} n={n}", k.name), &run);
    }
}

fn binary(k: &Kernel) {
    for n in [1, 3, 5, 17, 1001] {
        let mut rng = Rng::new(n as u64);
        let (a, b) = (rng.vec(n), rng.vec(n));
        let run = || {
            let mut y = vec![0.0; n];
            split::binary(k, &a, &b, &mut y, Clamp::RELU).unwrap();
            y
        };
        same_on_any_thread_count(&format!("{} n={n}", k.name), &run);
    }
}

crate::tests! {
    /// Every split CNN kernel of this build's table (scalar natively; SIMD128 and relaxed in
    /// the threaded wasm builds).
    fn every_split_cnn_kernel_is_bit_identical_on_1_2_3_threads() {
        let mut n = 0;
        for k in table() {
            match k.op {
                Op::Spmm | Op::Gemm => pointwise(k),
                Op::DwConv => dwconv(k),
                Op::Conv => conv(k),
                Op::ChMul | Op::Prelu => chmul(k),
                Op::Clamp | Op::HardSigmoid | Op::HardSwish | Op::Sigmoid | Op::Tanh | Op::LeakyRelu => act(k),
                Op::Add | Op::Mul | Op::Sub => binary(k),
                _ => continue,
            }
            n += 1;
        }
        assert!(n >= 10, "only {n} split kernels in the table");
        println!("{n} split CNN kernels bit-identical on 1, 2 and 3 threads");
    }
}
