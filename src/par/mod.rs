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
    (work / min_work.max(1)).clamp(1, threads())
}
