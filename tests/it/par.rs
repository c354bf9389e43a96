//! The inference pool (`par::for_tasks`): every task runs exactly once on any thread count,
//! errors and panics come back to the caller, nested and concurrent calls neither deadlock nor
//! lose tasks. Natively here; the same code runs on Web Workers in the `-threads` wasm builds
//! (tests/browser/threads.mjs).

use std::sync::atomic::{AtomicUsize, Ordering};
use zeroskip::par::{self, for_tasks, try_for_tasks, with_threads, Disjoint};

fn counts(n: usize, threads: usize) -> Vec<usize> {
    let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
    with_threads(threads, || {
        for_tasks(n, &|i| {
            hits[i].fetch_add(1, Ordering::Relaxed);
        })
    });
    hits.into_iter().map(|h| h.into_inner()).collect()
}

#[test]
fn every_task_runs_once_on_any_thread_count() {
    for threads in 1..=4 {
        for n in [0, 1, 2, 3, 7, 64, 1000] {
            assert_eq!(
                counts(n, threads),
                vec![1; n],
                "{n} tasks on {threads} threads"
            );
        }
    }
}

#[test]
fn threads_reports_what_with_threads_asked() {
    with_threads(3, || assert_eq!(par::threads(), 3));
    with_threads(1, || assert_eq!(par::threads(), 1));
    assert!(par::max_threads() >= 3);
}

#[test]
fn workers_take_tasks() {
    // A task that waits until another thread has taken one proves a worker runs beside the
    // caller (on one thread this would spin forever; the bound turns that into a failure).
    let started = AtomicUsize::new(0);
    let saw_other = AtomicUsize::new(0);
    with_threads(2, || {
        for_tasks(2, &|_| {
            started.fetch_add(1, Ordering::SeqCst);
            for _ in 0..200_000_000u64 {
                if started.load(Ordering::SeqCst) == 2 {
                    saw_other.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                std::hint::spin_loop();
            }
        })
    });
    assert_eq!(saw_other.into_inner(), 2);
}

#[test]
fn many_short_calls_do_not_deadlock() {
    let mut out = vec![0u32; 256];
    with_threads(3, || {
        for round in 0..20_000u32 {
            let y = Disjoint::new(&mut out);
            for_tasks(4, &|i| {
                // Safety: task i writes elements 64·i .. 64·(i+1) only.
                let y = unsafe { y.get() };
                for v in &mut y[64 * i..64 * (i + 1)] {
                    *v = round;
                }
            });
        }
    });
    assert!(out.iter().all(|&v| v == 19_999));
}

#[test]
fn first_error_by_task_index() {
    for threads in 1..=3 {
        let r = with_threads(threads, || {
            try_for_tasks(8, &|i| {
                if i % 3 == 2 {
                    Err(zeroskip::Error::UnknownKernel {
                        name: format!("task {i}"),
                    })
                } else {
                    Ok(())
                }
            })
        });
        assert!(
            matches!(r, Err(zeroskip::Error::UnknownKernel { ref name }) if name == "task 2"),
            "{r:?}"
        );
    }
}

#[test]
fn nested_calls_run_inline() {
    let total = AtomicUsize::new(0);
    with_threads(3, || {
        for_tasks(4, &|_| {
            for_tasks(5, &|_| {
                total.fetch_add(1, Ordering::Relaxed);
            })
        })
    });
    assert_eq!(total.into_inner(), 20);
}

#[test]
fn concurrent_callers_share_the_pool() {
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for _ in 0..200 {
                    assert_eq!(counts(33, 2 + t % 2), vec![1; 33]);
                }
            });
        }
    });
}

#[test]
fn a_panicking_task_reaches_the_caller_and_the_pool_survives() {
    let r = std::panic::catch_unwind(|| {
        with_threads(3, || {
            for_tasks(6, &|i| {
                if i == 4 {
                    panic!("task 4");
                }
            })
        })
    });
    assert!(r.is_err());
    assert_eq!(counts(50, 3), vec![1; 50]);
}

#[test]
fn parts_cover_the_range_aligned() {
    for len in [0, 1, 3, 4, 5, 49, 196, 1000] {
        for tasks in 1..=5 {
            let parts: Vec<_> = (0..tasks).map(|i| par::part(i, tasks, len, 4)).collect();
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts[tasks - 1].end, len);
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].end % 4, 0, "{len} in {tasks}: {parts:?}");
            }
        }
    }
}
