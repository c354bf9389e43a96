//! Property test over random shapes, sparsities, patterns, clamps and pixel ranges: every
//! table kernel must agree with the oracle. Native and wasm32 (see `tests!`).

use crate::common;
use common::{check, kernels, Case};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zeroskip::kernels::{Clamp, Op};
use zeroskip::synth::Pattern;

fn case_strategy() -> impl Strategy<Value = (Case, u8)> {
    (
        1usize..40,
        1usize..80,
        1usize..70,
        0.0f64..=1.0,
        0usize..5,
        0usize..4,
        any::<u64>(),
        any::<(u16, u16)>(),
        any::<u8>(),
    )
        .prop_map(
            |(c_out, c_in, hw, sparsity, pat, clamp, seed, (a, b), pick)| {
                let pattern = [
                    Pattern::Unstructured,
                    Pattern::Groups(1),
                    Pattern::Groups(2),
                    Pattern::Groups(4),
                    Pattern::Groups(8),
                ][pat];
                let mut case = Case::random(c_out, c_in, hw, sparsity, pattern, seed);
                case.clamp = [
                    Clamp::NONE,
                    Clamp::RELU,
                    Clamp::RELU6,
                    Clamp {
                        min: -0.1,
                        max: 0.2,
                    },
                ][clamp];
                let (a, b) = (a as usize % (hw + 1), b as usize % (hw + 1));
                case.pixels = a.min(b)..a.max(b);
                (case, pick)
            },
        )
}

tests! {
    fn every_kernel_matches_oracle_on_random_layers() {
        let all: Vec<_> = [Op::Spmm, Op::Gemm].into_iter().flat_map(kernels).collect();
        let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
        runner
            .run(&case_strategy(), |(case, pick)| {
                // Each case checks a few kernels so that 256 cases cover the table many times.
                for i in 0..4 {
                    let k = all[(pick as usize + i * 7) % all.len()];
                    check(k, &case, "proptest");
                }
                Ok(())
            })
            .unwrap();
    }
}
