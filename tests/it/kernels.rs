//! Every table 1x1 kernel against the oracle across named edge cases. Runs natively (scalar) and
//! as wasm32 under Node (scalar + SIMD128, and relaxed in the relaxed build): `make test`.

use crate::common;
use common::{check_all, Case};
use zeroskip::kernels::{Clamp, Op};
use zeroskip::synth::Pattern::{Groups, Unstructured};

const OPS: [Op; 2] = [Op::Spmm, Op::Gemm];

tests! {
    /// m < MR: fewer pixels than one tile, down to a single pixel.
    fn pixels_fewer_than_tile() {
        for op in OPS {
            check_all(op, "m < MR", |k| {
                [1, 2, 3, 5, k.mr() / 2 + 1, k.mr() - 1]
                    .into_iter()
                    .filter(|&hw| hw >= 1 && hw < k.mr().max(2))
                    .map(|hw| Case::random(2 * k.nr() + 1, 7, hw, 0.5, Unstructured, hw as u64))
                    .collect()
            });
        }
    }

    /// m % MR ≠ 0: full tiles followed by every kind of remainder (16/8/4-pixel and scalar).
    fn pixels_not_multiple_of_tile() {
        for op in OPS {
            check_all(op, "m % MR != 0", |k| {
                [1, 3, 4, 5, 8, 13, 16, 19, 31]
                    .into_iter()
                    .filter(|&r| r < k.mr())
                    .map(|r| Case::random(k.nr() + 3, 11, 3 * k.mr() + r, 0.6, Unstructured, r as u64))
                    .collect()
            });
        }
    }

    /// n % NR ≠ 0: output channels that leave a partial block / padded panel, and c_out < NR.
    fn channels_not_multiple_of_block() {
        for op in OPS {
            check_all(op, "n % NR != 0", |k| {
                (1..k.nr().max(2))
                    .flat_map(|r| [r, 2 * k.nr() + r])
                    .map(|c_out| Case::random(c_out, 9, k.mr() + 5, 0.5, Groups(k.nr()), c_out as u64))
                    .collect()
            });
        }
    }

    /// k = 1: a single input channel.
    fn one_input_channel() {
        for op in OPS {
            check_all(op, "k = 1", |k| {
                [0.0, 0.5]
                    .into_iter()
                    .map(|s| Case::random(3 * k.nr() + 1, 1, 2 * k.mr() + 3, s, Unstructured, 7))
                    .collect()
            });
        }
    }

    /// H·W = 1: a fully connected layer run as a 1x1 conv.
    fn fully_connected() {
        for op in OPS {
            check_all(op, "HW = 1", |k| {
                [(37, 64, 0.0), (37, 64, 0.9), (1000, 128, 0.8), (8, 1, 0.0)]
                    .into_iter()
                    .map(|(o, i, s)| Case::random(o, i, 1, s, Groups(k.nr()), 11).clamp(Clamp::RELU))
                    .collect()
            });
        }
    }

    /// All-zero rows (whole output channels), all-zero blocks and all-zero input channels.
    fn zero_rows_blocks_and_columns() {
        for op in OPS {
            check_all(op, "zero rows/blocks", |k| {
                let (c_out, c_in) = (4 * k.nr() + 3, 17);
                let mut rows = Case::random(c_out, c_in, k.mr() + 7, 0.3, Unstructured, 3);
                for o in [0, 2, c_out - 1] {
                    rows.w[o * c_in..(o + 1) * c_in].fill(0.0);
                }
                let mut block = Case::random(c_out, c_in, k.mr() + 7, 0.3, Unstructured, 4);
                block.w[k.nr() * c_in..2 * k.nr() * c_in].fill(0.0);
                let mut cols = Case::random(c_out, c_in, k.mr() + 7, 0.3, Unstructured, 5);
                for o in 0..c_out {
                    cols.w[o * c_in] = 0.0;
                    cols.w[o * c_in + c_in - 1] = 0.0;
                    cols.w[o * c_in + 8] = 0.0;
                }
                vec![rows, block, cols]
            });
        }
    }

    /// 0% sparsity (fully dense) and 100% sparsity (output = clamp(bias)).
    fn fully_dense_and_fully_sparse() {
        for op in OPS {
            check_all(op, "0% and 100%", |k| {
                vec![
                    Case::random(2 * k.nr() + 1, 33, 2 * k.mr() + 1, 0.0, Unstructured, 1),
                    Case::random(2 * k.nr() + 1, 33, 2 * k.mr() + 1, 1.0, Unstructured, 2),
                    Case::random(2 * k.nr() + 1, 33, 2 * k.mr() + 1, 1.0, Unstructured, 2).clamp(Clamp::RELU),
                ]
            });
        }
    }

    /// Clamp bounds: none, ReLU, ReLU6 and a narrow custom window, with outputs on both sides.
    fn clamp_bounds() {
        for op in OPS {
            check_all(op, "clamp", |k| {
                [Clamp::NONE, Clamp::RELU, Clamp::RELU6, Clamp { min: -0.25, max: 0.3 }]
                    .into_iter()
                    .map(|c| {
                        let mut case = Case::random(k.nr() + 2, 40, k.mr() + 3, 0.2, Unstructured, 9).clamp(c);
                        // Scale up so that ReLU6's upper bound is reached too.
                        case.x.iter_mut().for_each(|v| *v *= 8.0);
                        case
                    })
                    .collect()
            });
        }
    }

    /// Large K: long accumulation chains and large input deltas.
    fn large_k() {
        for op in OPS {
            check_all(op, "large K", |k| {
                vec![
                    Case::random(k.nr() + 1, 4096, 21, 0.7, Unstructured, 13),
                    Case::random(k.nr(), 2000, 2 * k.mr() + 1, 0.95, Groups(k.nr()), 14),
                ]
            });
        }
    }

    /// G×1 block patterns matching and not matching the kernel's block width.
    fn block_patterns() {
        for op in OPS {
            check_all(op, "Gx1 blocks", |k| {
                [1, 2, 4, 8]
                    .into_iter()
                    .map(|g| Case::random(3 * k.nr() + 5, 50, 2 * k.mr() + 6, 0.8, Groups(g), g as u64))
                    .collect()
            });
        }
    }

    /// A pixel sub-range, as a thread pool would hand out: nothing outside it is written.
    fn pixel_subrange() {
        for op in OPS {
            check_all(op, "pixel range", |k| {
                let hw = 5 * k.mr() + 7;
                [(0, 0), (3, hw - 2), (k.mr(), 3 * k.mr()), (hw - 1, hw)]
                    .into_iter()
                    .map(|(a, b)| {
                        let mut c = Case::random(k.nr() + 1, 19, hw, 0.5, Unstructured, a as u64);
                        c.pixels = a..b;
                        c
                    })
                    .collect()
            });
        }
    }

    /// Wide inputs split the pixels into several cache-sized chunks (SIMD SpMM, dense GEMM).
    fn many_pixel_chunks() {
        for op in OPS {
            check_all(op, "pixel chunks", |k| {
                vec![
                    Case::random(k.nr() + 2, 1024, 9 * k.mr() + 5, 0.8, Unstructured, 21),
                    Case::random(2 * k.nr(), 3000, 200, 0.9, Groups(k.nr()), 22).clamp(Clamp::RELU6),
                ]
            });
        }
    }
}
