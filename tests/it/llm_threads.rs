//! The LLM's kernel calls split across the inference pool (`zeroskip::llm::split`) give the
//! same bits on any thread count: every linear kernel of the table (dense, group, 2:4, CSR and
//! the column-major kernels of activation sparsity) on dims that are no multiple of any tile,
//! and whole tiny models (decode and prefill logits) in every format and activation-sparsity
//! method. The pool tests lower the split threshold to 1 multiply-add, so even these small
//! calls are cut into as many tasks as there are threads (checked), not left on one thread.
//!
//! The pool needs threads (native, or wasm with atomics); the kernels' part of the property
//! (a row computes the same bits in any row part at the split's step) is checked on every
//! target, so the SIMD128 and relaxed kernels of the wasm builds are covered too.

use crate::llm;
use std::ops::Range;
use zeroskip::kernels::{table, Kernel, Op, Tile};
use zeroskip::llm::split;
use zeroskip::llm::synth::random_matrix;
use zeroskip::par;
use zeroskip::sparse::llm::SparseMatrix;
use zeroskip::synth::Rng;

/// Output rows of the kernel cases: no multiple of 4, 16 or 32, and at least three 32-row
/// tiles, so every kernel splits into 3 tasks.
const ROWS: usize = 101;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `run(rows, y)` of a [`Case`].
type Run = dyn Fn(Option<Range<usize>>, &mut [f32]) + Sync;

/// One kernel case: `t` tokens, `run(None, y)` the engine's split call (`split::linear` or
/// `split::sparse`), `run(Some(rows), y)` one plain kernel call on `rows`; `y (t, ROWS)`.
struct Case {
    name: String,
    t: usize,
    run: Box<Run>,
}

impl Case {
    /// The plain kernel call over every row.
    fn whole(&self) -> Vec<f32> {
        let mut y = vec![f32::NAN; self.t * ROWS];
        (self.run)(Some(0..ROWS), &mut y);
        y
    }
}

/// The table's linear kernels (decode, prefill, sparse and column-major alike).
fn linear_kernels() -> Vec<&'static Kernel> {
    let linear: Vec<_> = table().iter().filter(|k| k.op == Op::Linear).collect();
    assert!(linear.len() >= 20, "the table's linear kernels: {linear:?}");
    linear
}

/// `k`'s cases: `ROWS` × 64 weights of its dense type, or `ROWS` rows of its sparse format
/// with a quarter of the rows empty (the group and CSR splits balance by stored work) and
/// every third input zero (the column-major GEMV skips those); 1 token, and 3 for prefill tiles.
fn cases(k: &'static Kernel) -> Vec<Case> {
    let mut rng = Rng::new(7);
    let tokens: &[usize] = match k.tile {
        Tile::Rows { t: 1, .. } => &[1],
        _ => &[1, 3],
    };
    let mut out = Vec::new();
    for &t in tokens {
        let name = format!("{} t={t}", k.name);
        let mut x = rng.vec(t * 200);
        if let Some(ty) = k.wtype.dense() {
            let n = 64; // whole blocks of every type
            let w = random_matrix(&mut rng, "w", ROWS, n, ty, 0.5).data;
            let run = move |rows: Option<Range<usize>>, y: &mut [f32]| match rows {
                Some(r) => k.run_linear(&w, ROWS, n, &x, t, y, r).unwrap(),
                None => split::linear(k, &w, (ROWS, n), &x, t, y).unwrap(),
            };
            out.push(Case {
                name,
                t,
                run: Box::new(run),
            });
        } else {
            let f = k
                .wtype
                .sparse()
                .expect("a linear kernel is dense or sparse");
            let cols = llm::cols_for(f, 12);
            let mut w = llm::random_w(&mut rng, f, ROWS, cols, 0.6);
            w[..ROWS / 4 * cols].iter_mut().for_each(|v| *v = 0.0);
            let m = SparseMatrix::pack("w", f, &w, ROWS, cols).unwrap();
            x.iter_mut().step_by(3).for_each(|v| *v = 0.0);
            let run = move |rows: Option<Range<usize>>, y: &mut [f32]| match rows {
                Some(r) => k.run_sparse(&m, &x, t, y, r).unwrap(),
                None => split::sparse(k, &m, &x, t, y).unwrap(),
            };
            out.push(Case {
                name,
                t,
                run: Box::new(run),
            });
        }
    }
    out
}

tests! {
    fn linear_kernels_same_bits_in_any_row_part() {
        for k in linear_kernels() {
            let align = split::row_align(k);
            for case in cases(k) {
                let want = case.whole();
                for tasks in [2, 3] {
                    let mut y = vec![f32::NAN; case.t * ROWS];
                    for i in 0..tasks {
                        (case.run)(Some(par::part(i, tasks, ROWS, align)), &mut y);
                    }
                    assert_eq!(bits(&y), bits(&want), "{} in {tasks} parts", case.name);
                }
            }
        }
    }
}

/// The pool's splits: threads, as `mod par`.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod pool {
    use super::{bits, cases, linear_kernels, ROWS};
    use crate::llm_act::{calibrated, packed, tiny, LINEARS, PROMPT};
    use crate::llm_zsk::pruned_pair;
    use zeroskip::kernels::Kernel;
    use zeroskip::llm::act::ActMethod;
    use zeroskip::llm::llama::Llama;
    use zeroskip::llm::split::{self, RowSplit};
    use zeroskip::llm::synth::{llama_gguf, llama_tensors, tiny_config};
    use zeroskip::par::{with_splits, with_threads};
    use zeroskip::sparse::llm::SparseFormat;

    const THREADS: [usize; 3] = [1, 2, 3];

    /// `run()` on 1, 2 and 3 threads with every call split as far as rows allow: each
    /// result's bits equal `want`'s.
    fn same_on_threads(want: &[f32], case: &str, run: impl Fn() -> Vec<f32>) {
        for n in THREADS {
            let got = with_threads(n, || with_splits(n, &run));
            assert_eq!(bits(&got), bits(want), "{case} on {n} threads");
        }
    }

    /// Every kernel case does split: 3 tasks on 3 threads for `ROWS` rows at the kernel's step.
    fn assert_splits(k: &Kernel) {
        let align = split::row_align(k);
        let tasks = with_threads(3, || {
            with_splits(3, || RowSplit::new(ROWS, usize::MAX, align, None).tasks)
        });
        assert_eq!(tasks, 3, "{}: {ROWS} rows at step {align}", k.name);
    }

    tests! {
        fn linear_kernels_bit_identical_on_any_thread_count() {
            for k in linear_kernels() {
                assert_splits(k);
                for case in cases(k) {
                    let want = case.whole();
                    same_on_threads(&want, &case.name, || {
                        let mut y = vec![f32::NAN; case.t * ROWS];
                        (case.run)(None, &mut y);
                        y
                    });
                }
            }
        }

        fn row_split_parts_cover_the_rows_on_aligned_boundaries() {
            // a prefix of very uneven rows: 40 empty rows, then rows of 1..=60 units
            let mut prefix = vec![0u32];
            for r in 0..100u32 {
                let last = *prefix.last().unwrap();
                prefix.push(last + if r < 40 { 0 } else { r - 39 });
            }
            let rows = prefix.len() - 1;
            for threads in 1..=4 {
                for (align, p) in [(16, Some(&prefix[..])), (16, None), (32, Some(&prefix[..]))] {
                    let s = with_threads(threads, || {
                        with_splits(threads, || RowSplit::new(rows, usize::MAX, align, p))
                    });
                    assert_eq!(s.tasks, threads.min(rows / align));
                    let parts: Vec<_> = (0..s.tasks).map(|i| s.part(i)).collect();
                    assert_eq!(parts[0].start, 0);
                    assert_eq!(parts.last().unwrap().end, rows);
                    for w in parts.windows(2) {
                        assert_eq!(w[0].end, w[1].start, "{parts:?}");
                        assert!(w[0].end % align == 0 || w[0].end == rows, "{parts:?}");
                    }
                    if p.is_some() && threads == 2 && align == 16 {
                        // balanced by the prefix: the empty rows all go to the first task
                        let work = |r: &std::ops::Range<usize>| prefix[r.end] - prefix[r.start];
                        assert!(parts[0].len() > parts[1].len(), "{parts:?}");
                        let (a, b) = (work(&parts[0]), work(&parts[1]));
                        assert!(a.abs_diff(b) * 4 < a + b, "{parts:?}: work {a} vs {b}");
                    }
                }
            }
        }

        fn dense_models_bit_identical_on_any_thread_count() {
            let cfg = tiny_config(2, 64, 4, 2, 48);
            for ty in zeroskip::kernels::llm::WeightType::ALL {
                let m = Llama::load("tiny.gguf", llama_gguf(&cfg, llama_tensors(&cfg, ty, 11))).unwrap();
                same_model_on_threads(&m, &format!("{ty}"));
            }
        }

        fn sparse_models_bit_identical_on_any_thread_count() {
            for f in SparseFormat::ALL {
                // pruned to each format's pattern (2:4 refuses dense rows)
                let (zsk, _) = pruned_pair(f);
                let m = Llama::load("tiny.zsk", zsk).unwrap();
                same_model_on_threads(&m, &f.name());
            }
        }

        fn act_sparse_models_bit_identical_on_any_thread_count() {
            let cases = [
                (SparseFormat::Col { bits: 8 }, ActMethod::Teal),
                (SparseFormat::Col { bits: 4 }, ActMethod::Teal),
                (SparseFormat::Col { bits: 8 }, ActMethod::Gate),
                #[cfg(not(target_arch = "wasm32"))]
                (SparseFormat::Col { bits: 8 }, ActMethod::Wina),
            ];
            for (f, method) in cases {
                let a = calibrated(method, 0.5);
                let (zsk, _) = packed(f, &LINEARS, Some(&a));
                let mut m = Llama::load("tiny.zsk", zsk).unwrap();
                assert_eq!(m.act().map(|a| a.method), Some(method));
                same_model_on_threads(&m, &format!("{} {}", f.name(), method.name()));
                // prefill with the thresholds too (perplexity runs)
                m.set_act_prefill(true);
                same_model_on_threads(&m, &format!("{} {} prefill", f.name(), method.name()));
            }
            // the dense tiny model with the gate method: W_up's kept-row runs on Q8_0 blocks
            let (_, dense) = tiny();
            let mut m = Llama::load("tiny.gguf", dense).unwrap();
            m.set_act(Some(calibrated(ActMethod::Gate, 0.5))).unwrap();
            same_model_on_threads(&m, "q8_0 gate");
        }
    }

    /// Decode logits after each of 20 tokens (from [`PROMPT`]); prefill logits of all of them (two
    /// chunks), then 4 decode steps on the prefilled cache; on 1, 2 and 3 threads with every call
    /// split: the bits of the plain one-thread run.
    fn same_model_on_threads(m: &Llama, case: &str) {
        let v = m.cfg.vocab_size;
        let ids: Vec<u32> = (0..20)
            .map(|i| PROMPT[i % PROMPT.len()] % v as u32)
            .collect();
        let run = || {
            let mut out = Vec::new();
            let mut s = m.session(32).unwrap();
            for &t in &ids {
                out.extend_from_slice(m.decode(&mut s, t).unwrap());
            }
            let mut s = m.session(32).unwrap();
            m.prefill_each(&mut s, &ids, 0, |_, l| {
                out.extend_from_slice(l);
                Ok(())
            })
            .unwrap();
            for &t in &ids[..4] {
                out.extend_from_slice(m.decode(&mut s, t).unwrap());
            }
            out
        };
        let want = with_threads(1, run);
        assert_eq!(want.len(), (2 * ids.len() + 4) * v);
        same_on_threads(&want, case, run);
    }
}
