//! Threads. Two tools, for two kinds of work:
//! - [`for_tasks`]: the inference pool. One kernel call is cut into tasks that each write their
//!   own outputs; a persistent pool of workers (std threads natively, Web Workers sharing the
//!   wasm memory in the `+atomics` builds) runs them beside the caller. Every target has it; in
//!   a wasm build without atomics it runs the tasks in order on the caller.
//! - [`par_map`]: native batch work (pruning, perplexity windows) over `std::thread::scope`.
//!
//! Results never depend on the thread count: a split is over outputs only, never inside a
//! reduction, and each output is summed by one thread in the same order as on one thread.

#[cfg(not(target_arch = "wasm32"))]
mod batch;
mod pool;
mod wait;

#[cfg(not(target_arch = "wasm32"))]
pub use batch::{available, par_map};
pub use pool::{
    for_tasks, max_threads, set_threads, threads, try_for_tasks, with_threads, worker_main,
    Disjoint, ENABLED, MAX_THREADS,
};

use std::cell::Cell;
use std::ops::Range;

/// Task `i` of `tasks` over `0..len`: equal parts, every boundary a multiple of `align` (the
/// kernel's vector width), the remainder in the last part.
pub fn part(i: usize, tasks: usize, len: usize, align: usize) -> Range<usize> {
    let align = align.max(1);
    let units = len / align;
    let at = |k: usize| {
        if k >= tasks {
            len
        } else {
            units * k / tasks * align
        }
    };
    at(i)..at(i + 1)
}

/// How many tasks `work` (multiply-adds, or elements for elementwise ops) is worth on this
/// thread's pool: one per `min_work` units, at most [`threads`]. A call under `min_work` runs on
/// the caller alone: the handoff to a worker costs more than it saves.
pub fn tasks_for(work: usize, min_work: usize) -> usize {
    match SPLITS.with(Cell::get) {
        0 => (work / min_work.max(1)).clamp(1, threads()),
        n => n,
    }
}

thread_local! {
    /// [`with_splits`]' count; 0 = by work.
    static SPLITS: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with every split call from this thread cut into `n` tasks, however small and
/// whatever the thread count (tasks beyond the threads run one after another). The thread
/// tests use it: a result depends only on how a call is cut, never on which thread runs a
/// part, so cutting into 2 and 3 parts checks 2 and 3 threads even in a build without them.
pub fn with_splits<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            SPLITS.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SPLITS.with(|s| s.replace(n.max(1))));
    f()
}
