//! Native batch work on several threads: [`par_map`] over `std::thread::scope`, for jobs made
//! of many independent units (pruning layers, perplexity windows), not for one kernel call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Threads batch work uses by default: the machine's parallelism.
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `[f(0), f(1), …, f(n − 1)]`, computed on `threads` threads (the caller's included) taking
/// indices in order from a shared counter; each thread builds its per-thread state once with
/// `init` (a session, a scratch buffer). Results come back in index order whatever thread made
/// them, so a reduction over them is deterministic. `f` returning `Err` does not stop the
/// others; the caller sees every result.
pub fn par_map<S, T: Send>(
    n: usize,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let work = || {
        let mut state = init();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let r = f(&mut state, i);
            if let Ok(mut s) = slots.lock() {
                s[i] = Some(r);
            }
        }
    };
    std::thread::scope(|sc| {
        for _ in 1..threads.clamp(1, n.max(1)) {
            sc.spawn(work);
        }
        work();
    });
    // Every index was taken by exactly one thread and stored (a panic would have propagated
    // out of the scope above), so every slot is filled.
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
