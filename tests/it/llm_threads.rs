//! The LLM's kernel calls split across the inference pool (`zeroskip::llm::split`) give the
//! same bits on any thread count: every linear kernel of the table (dense, group, 2:4, CSR and
//! the column-major kernels of activation sparsity) on dims that are no multiple of any tile,
//! and whole tiny models (decode and prefill logits) in every format and activation-sparsity
//! method. The tests lower the split threshold to 1 multiply-add, so even these small calls are
//! cut into as many tasks as there are threads (checked), not left on one thread.

use crate::llm;
use crate::llm_act::{calibrated, packed, tiny, LINEARS, PROMPT};
use crate::llm_zsk::pruned_pair;
use zeroskip::kernels::{table, Kernel, Op, Tile};
use zeroskip::llm::act::ActMethod;
use zeroskip::llm::llama::Llama;
use zeroskip::llm::split::{self, RowSplit};
use zeroskip::llm::synth::{llama_gguf, llama_tensors, random_matrix, tiny_config};
use zeroskip::par::with_threads;
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::synth::Rng;

const THREADS: [usize; 3] = [1, 2, 3];

/// Output rows of the kernel cases: no multiple of 4, 16 or 32, and at least three 32-row
/// tiles, so every kernel splits into 3 tasks.
const ROWS: usize = 101;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `run()` on 1, 2 and 3 threads with every call split as far as rows allow: each result's
/// bits equal `want`'s.
fn same_on_threads(want: &[f32], case: &str, run: impl Fn() -> Vec<f32>) {
    for n in THREADS {
        let got = with_threads(n, || split::with_min_macs(1, &run));
        assert_eq!(bits(&got), bits(want), "{case} on {n} threads");
    }
}

/// Every case below does split: 3 tasks on 3 threads for `ROWS` rows at the kernel's step.
fn assert_splits(k: &Kernel) {
    let tasks = with_threads(3, || {
        split::with_min_macs(1, || {
            RowSplit::new(ROWS, usize::MAX, split::row_align(k), None).tasks
        })
    });
    assert_eq!(
        tasks,
        3,
        "{}: {ROWS} rows at step {}",
        k.name,
        split::row_align(k)
    );
}

fn token_counts(k: &Kernel) -> &'static [usize] {
    match k.tile {
        Tile::Rows { t: 1, .. } => &[1],
        _ => &[1, 3],
    }
}

tests! {
    fn linear_kernels_bit_identical_on_any_thread_count() {
        let linear: Vec<&Kernel> = table().iter().filter(|k| k.op == Op::Linear).collect();
        assert!(linear.len() >= 20, "the table's linear kernels: {linear:?}");
        for k in linear {
            assert_splits(k);
            let mut rng = Rng::new(7);
            for &t in token_counts(k) {
                let x = rng.vec(t * 200);
                if let Some(ty) = k.wtype.dense() {
                    let n = 64; // whole blocks of every type
                    let w = random_matrix(&mut rng, "w", ROWS, n, ty, 0.5);
                    // the plain call: one kernel call over every row
                    let mut want = vec![f32::NAN; t * ROWS];
                    k.run_linear(&w.data, ROWS, n, &x, t, &mut want, 0..ROWS).unwrap();
                    same_on_threads(&want, &format!("{} t={t}", k.name), || {
                        let mut y = vec![f32::NAN; t * ROWS];
                        split::linear(k, &w.data, (ROWS, n), &x, t, &mut y).unwrap();
                        y
                    });
                } else {
                    let f = k.wtype.sparse().expect("a linear kernel is dense or sparse");
                    let cols = llm::cols_for(f, 12);
                    // rows of very different fill (the group and CSR splits balance by it)
                    let mut w = llm::random_w(&mut rng, f, ROWS, cols, 0.6);
                    w[..ROWS / 4 * cols].iter_mut().for_each(|v| *v = 0.0);
                    let m = SparseMatrix::pack("w", f, &w, ROWS, cols).unwrap();
                    // inputs with zeros, for the column-major kernels' skipping
                    let mut x = x.clone();
                    x.iter_mut().step_by(3).for_each(|v| *v = 0.0);
                    let mut want = vec![f32::NAN; t * ROWS];
                    k.run_sparse(&m, &x, t, &mut want, 0..ROWS).unwrap();
                    same_on_threads(&want, &format!("{} t={t}", k.name), || {
                        let mut y = vec![f32::NAN; t * ROWS];
                        split::sparse(k, &m, &x, t, &mut y).unwrap();
                        y
                    });
                }
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
                    split::with_min_macs(1, || RowSplit::new(rows, usize::MAX, align, p))
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
