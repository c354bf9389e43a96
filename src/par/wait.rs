//! Sleeping on a 32-bit word until it changes, and waking its sleepers: a futex. In wasm it is
//! `memory.atomic.wait32` / `notify` (only a worker may wait: the pool's workers do, the caller
//! never does); natively a mutex and condition variable stand in for it.

#[cfg(target_arch = "wasm32")]
use std::sync::atomic::AtomicU32;

/// Blocks while `word` holds `seen` (may return early, spuriously: callers re-check).
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn wait(word: &AtomicU32, seen: u32) {
    // Safety: `word` is a live, aligned u32 in this module's shared memory.
    unsafe {
        core::arch::wasm32::memory_atomic_wait32(word.as_ptr() as *mut i32, seen as i32, -1);
    }
}

/// Wakes every thread sleeping in [`wait`] on `word`.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn wake_all(word: &AtomicU32) {
    // Safety: as `wait`.
    unsafe {
        core::arch::wasm32::memory_atomic_notify(word.as_ptr() as *mut i32, u32::MAX);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Condvar, Mutex};

    // One pair for every word: the pool has a single word to sleep on.
    static LOCK: Mutex<()> = Mutex::new(());
    static COND: Condvar = Condvar::new();

    pub fn wait(word: &AtomicU32, seen: u32) {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `wake_all` takes: a change published before the wake
        // is seen here, or the wake comes after this thread sleeps. No lost wake-up.
        if word.load(Ordering::SeqCst) == seen {
            drop(COND.wait(guard));
        }
    }

    pub fn wake_all(_word: &AtomicU32) {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        COND.notify_all();
    }
}
#[cfg(not(target_arch = "wasm32"))]
pub use native::{wait, wake_all};

// A wasm build without atomics has no other thread to wait for or wake.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub fn wait(_word: &AtomicU32, _seen: u32) {}
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub fn wake_all(_word: &AtomicU32) {}
