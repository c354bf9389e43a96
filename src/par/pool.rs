//! The inference pool: persistent workers that take the tasks of one kernel call beside the
//! caller.
//!
//! Why our own pool and not wasm-bindgen-rayon: a kernel call here is a flat list of equal,
//! independent tasks (pixel ranges, row blocks, heads) issued about 100 times per image and
//! 200 times per token, so what matters is the handoff, not work stealing. The handoff is one
//! counter, one published job and workers that spin briefly before they sleep: a post costs a
//! few atomic stores, where rayon's injector queue and sleep protocol cost several µs per call.
//! It is also one implementation natively and in wasm (the same atomics; only the futex
//! differs, `wait.rs`), so the native tests exercise the exact code the browser runs, and it
//! needs no JS glue beyond starting the workers. In wasm the caller never blocks, it spins:
//! so the pool also works on a page's main thread (benchmark pages), where waiting is banned.
//!
//! Protocol. A caller holds the pool (`busy`), publishes the job and the count of workers
//! that may take part (`participants`), opens a new `roster` epoch, bumps the futex word
//! `epoch` and wakes the sleepers. A worker joins the job by adding itself to the roster's
//! `joined` count, which fails once the caller has closed the roster; it takes tasks from
//! `next` until none is left and then counts itself in `finished`. The caller takes tasks too,
//! closes the roster, and waits until `finished` equals the `joined` it closed on. So the job,
//! which borrows the caller's stack, outlives every use, and a worker that arrives late (asleep,
//! or descheduled on a busy machine) costs the caller nothing: it finds the roster closed.

use super::wait::{wait, wake_all};
use crate::error::Result;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Whether this build runs tasks on other threads: native code, and wasm built with `+atomics`
/// (the `-threads` builds). Without it every call runs on the caller.
pub const ENABLED: bool = cfg!(any(not(target_arch = "wasm32"), target_feature = "atomics"));

/// The most threads a pool takes, the caller included.
pub const MAX_THREADS: usize = 16;

/// Checks of `roster` a worker makes before it sleeps, about 1–2 ms either way: the kernel
/// calls of one inference follow each other within a few hundred µs (the caller runs the small
/// steps alone in between), and a worker that fell asleep costs a wake-up at the next call,
/// 50–200 µs in a browser, which over a MobileNet's ~60 split steps would eat the whole gain.
/// (XNNPACK's pthreadpool spins for 10^6 checks too.) In wasm a check is a plain load, about
/// 1–2 ns; natively each one also pauses (`spin_loop`, about 100 cycles).
#[cfg(target_arch = "wasm32")]
const SPIN: u32 = 1 << 20;
#[cfg(not(target_arch = "wasm32"))]
const SPIN: u32 = 1 << 14;

/// The roster's closed bit; the bits below it count joined workers.
const CLOSED: u64 = 1 << 31;

/// One kernel call's tasks: `f(0)`, …, `f(n − 1)`. Lives on the caller's stack.
struct Job {
    f: *const (dyn Fn(usize) + Sync),
    n: usize,
}

struct Pool {
    /// The futex word workers sleep on; it follows `roster`'s epoch.
    epoch: AtomicU32,
    /// `epoch << 32 | CLOSED | joined`: the current job's epoch, whether the caller closed it,
    /// and how many workers joined it.
    roster: AtomicU64,
    /// Workers with index < this may join the current job.
    participants: AtomicUsize,
    job: AtomicPtr<Job>,
    /// The next task index to take.
    next: AtomicUsize,
    /// Joined workers that have finished the current job.
    finished: AtomicUsize,
    /// Workers registered (natively spawned, or Web Workers that called `worker_main`).
    workers: AtomicUsize,
    /// Workers about to sleep or sleeping: the caller wakes them only if there are any.
    sleepers: AtomicUsize,
    /// A caller holds the pool.
    busy: AtomicBool,
    /// A task panicked on a worker (native: re-raised on the caller).
    panicked: AtomicBool,
}

static POOL: Pool = Pool {
    epoch: AtomicU32::new(0),
    roster: AtomicU64::new(0),
    participants: AtomicUsize::new(0),
    job: AtomicPtr::new(std::ptr::null_mut()),
    next: AtomicUsize::new(0),
    finished: AtomicUsize::new(0),
    workers: AtomicUsize::new(0),
    sleepers: AtomicUsize::new(0),
    busy: AtomicBool::new(false),
    panicked: AtomicBool::new(false),
};

/// Threads a call uses by default (set by [`set_threads`]).
static DEFAULT: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// This thread's own count ([`with_threads`]); 0 = `DEFAULT`.
    static WANT: Cell<usize> = const { Cell::new(0) };
    /// This thread is running a task (or is a worker): a nested call runs inline.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Threads the pool can use now: 1 (the caller) + registered workers, at most [`MAX_THREADS`].
pub fn max_threads() -> usize {
    if !ENABLED {
        return 1;
    }
    (1 + POOL.workers.load(Ordering::Acquire)).min(MAX_THREADS)
}

/// The threads a call from this thread uses: its [`with_threads`] count, else the default,
/// at most [`max_threads`].
pub fn threads() -> usize {
    let want = WANT.with(Cell::get);
    let want = if want == 0 {
        DEFAULT.load(Ordering::Relaxed)
    } else {
        want
    };
    want.clamp(1, max_threads())
}

/// Sets the default thread count and returns the count calls will use. Natively it spawns the
/// workers that needs; in wasm the workers are Web Workers the JS side started (each calls
/// [`worker_main`]), so the count is capped at those registered.
pub fn set_threads(n: usize) -> usize {
    let n = n.clamp(1, MAX_THREADS);
    spawn_workers(n - 1);
    DEFAULT.store(n, Ordering::Relaxed);
    threads()
}

/// Runs `f` with this thread's calls on `n` threads (natively spawning workers as needed).
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let n = n.clamp(1, MAX_THREADS);
    spawn_workers(n - 1);
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            WANT.with(|w| w.set(self.0));
        }
    }
    let _restore = Restore(WANT.with(|w| w.replace(n)));
    f()
}

/// Natively: at least `n` workers exist (they live as long as the process).
#[cfg(not(target_arch = "wasm32"))]
fn spawn_workers(n: usize) {
    static SPAWNED: Mutex<usize> = Mutex::new(0);
    let mut spawned = SPAWNED.lock().unwrap_or_else(|e| e.into_inner());
    while *spawned < n.min(MAX_THREADS - 1) {
        let name = format!("zeroskip-pool-{}", *spawned);
        if std::thread::Builder::new()
            .name(name)
            .spawn(|| worker_main())
            .is_err()
        {
            break; // no more OS threads: run with the workers there are
        }
        *spawned += 1;
    }
    // Wait until they registered, so that `threads()` right after this call counts them.
    while POOL.workers.load(Ordering::Acquire) < *spawned {
        std::thread::yield_now();
    }
}

#[cfg(target_arch = "wasm32")]
fn spawn_workers(_n: usize) {}

/// A worker's life: register, then join every job it may take part in. Never
/// returns. In wasm a Web Worker calls it (through `web::pool_worker`) after instantiating
/// this module on the shared memory.
pub fn worker_main() -> ! {
    IN_TASK.with(|t| t.set(true));
    // The roster is read before registering, so every job posted after this is seen.
    let mut last = (POOL.roster.load(Ordering::SeqCst) >> 32) as u32;
    let index = POOL.workers.fetch_add(1, Ordering::AcqRel);
    loop {
        let roster = next_roster(last);
        last = (roster >> 32) as u32;
        if index >= POOL.participants.load(Ordering::Acquire) || !join(last) {
            continue;
        }
        // Safety: this worker joined the job of epoch `last`; the caller keeps it published and
        // alive until `finished` counts this worker.
        let job = unsafe { &*POOL.job.load(Ordering::Acquire) };
        if run_tasks(job).is_err() {
            POOL.panicked.store(true, Ordering::Release);
        }
        POOL.finished.fetch_add(1, Ordering::AcqRel);
    }
}

/// Adds this worker to the job of `epoch` unless the caller closed it (or moved on).
fn join(epoch: u32) -> bool {
    let mut r = POOL.roster.load(Ordering::Acquire);
    loop {
        if (r >> 32) as u32 != epoch || r & CLOSED != 0 {
            return false;
        }
        match POOL
            .roster
            .compare_exchange_weak(r, r + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return true,
            Err(now) => r = now,
        }
    }
}

/// The first roster whose epoch differs from `last`: spins, then sleeps on `epoch`.
fn next_roster(last: u32) -> u64 {
    loop {
        for _ in 0..SPIN {
            let r = POOL.roster.load(Ordering::Acquire);
            if (r >> 32) as u32 != last {
                return r;
            }
            std::hint::spin_loop();
        }
        let seen = POOL.epoch.load(Ordering::SeqCst);
        POOL.sleepers.fetch_add(1, Ordering::SeqCst);
        // SeqCst with the caller's roster store and sleepers load: either this check sees the
        // new roster, or the caller sees this sleeper and wakes it.
        let r = POOL.roster.load(Ordering::SeqCst);
        if (r >> 32) as u32 == last {
            wait(&POOL.epoch, seen);
        }
        POOL.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Takes tasks of `job` until none is left. `Err` if one panicked (natively; a wasm panic
/// aborts the instance).
fn run_tasks(job: &Job) -> std::result::Result<(), ()> {
    // Safety: `job.f` borrows the caller's closure, alive until the call returns, which waits
    // for every participant.
    let f = unsafe { &*job.f };
    #[cfg_attr(target_arch = "wasm32", allow(unused_mut))]
    let mut ok = true;
    loop {
        let i = POOL.next.fetch_add(1, Ordering::Relaxed);
        if i >= job.n {
            break;
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            ok &= std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))).is_ok();
        }
        #[cfg(target_arch = "wasm32")]
        f(i);
    }
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

/// Runs `f(0)`, …, `f(n − 1)` on up to [`threads`] threads, the caller's included, and returns
/// when all have run. Tasks must write disjoint outputs ([`Disjoint`]). The caller runs them
/// all, in order, when the pool has one thread, when `n` ≤ 1, inside another task, or (wasm)
/// when another call holds the pool.
pub fn for_tasks(n: usize, f: &(dyn Fn(usize) + Sync)) {
    let want = threads();
    let inline = n <= 1 || want <= 1 || IN_TASK.with(Cell::get);
    if inline || !acquire() {
        (0..n).for_each(f);
        return;
    }
    let participants = (want - 1)
        .min(n - 1)
        .min(POOL.workers.load(Ordering::Acquire));
    // Safety of the lifetime erasure: this function does not return (or unwind) before every
    // worker that joined is done with `f`.
    let f: *const (dyn Fn(usize) + Sync + '_) = f;
    let job = Job {
        f: unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(f)
        },
        n,
    };
    POOL.job
        .store(&job as *const Job as *mut Job, Ordering::Relaxed);
    POOL.next.store(0, Ordering::Relaxed);
    POOL.finished.store(0, Ordering::Relaxed);
    POOL.participants.store(participants, Ordering::Relaxed);
    let epoch = ((POOL.roster.load(Ordering::Relaxed) >> 32) as u32).wrapping_add(1);
    // SeqCst (also publishing the stores above): pairs with a sleeping worker's check.
    POOL.roster.store(u64::from(epoch) << 32, Ordering::SeqCst);
    POOL.epoch.store(epoch, Ordering::SeqCst);
    if POOL.sleepers.load(Ordering::SeqCst) > 0 {
        wake_all(&POOL.epoch);
    }
    IN_TASK.with(|t| t.set(true));
    let mine = run_tasks(&job);
    IN_TASK.with(|t| t.set(false));
    let joined = (POOL.roster.fetch_or(CLOSED, Ordering::AcqRel) & (CLOSED - 1)) as usize;
    let mut spins = 0u32;
    while POOL.finished.load(Ordering::Acquire) != joined {
        spins = spins.wrapping_add(1);
        #[cfg(not(target_arch = "wasm32"))]
        if spins > SPIN {
            std::thread::yield_now();
            continue;
        }
        std::hint::spin_loop();
    }
    let theirs = POOL.panicked.swap(false, Ordering::AcqRel);
    POOL.busy.store(false, Ordering::Release);
    if mine.is_err() || theirs {
        panic!("a task of a pool call panicked");
    }
}

/// Holds the pool. Natively another thread (a parallel test) may hold it: wait for it. In wasm
/// there is one caller; a held pool means a nested call, which runs inline.
fn acquire() -> bool {
    loop {
        if POOL
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        if cfg!(target_arch = "wasm32") {
            return false;
        }
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::yield_now();
    }
}

/// [`for_tasks`] over fallible tasks: every task runs; the first error by task index is
/// returned, so which error a caller sees does not depend on the thread count either.
pub fn try_for_tasks(n: usize, f: &(dyn Fn(usize) -> Result<()> + Sync)) -> Result<()> {
    if n <= 1 || threads() <= 1 {
        return (0..n).try_for_each(f);
    }
    let first: Mutex<Option<(usize, crate::Error)>> = Mutex::new(None);
    for_tasks(n, &|i| {
        if let Err(e) = f(i) {
            let mut slot = first.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                *slot = Some((i, e));
            }
        }
    });
    match first.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// A `&mut [T]` that the tasks of one [`for_tasks`] call write through, each to its own
/// elements. The kernels take the whole output and a range (pixels, rows, channels) and write
/// inside the range only, so each task gets the whole slice back from [`Disjoint::get`].
pub struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// Safety: handing the slice to several threads is sound under `get`'s contract.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub fn new(slice: &'a mut [T]) -> Self {
        Disjoint {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            _borrow: PhantomData,
        }
    }

    /// The whole slice.
    ///
    /// # Safety
    /// Concurrent holders read and write disjoint elements only, and none reads an element
    /// another writes.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get(&self) -> &mut [T] {
        std::slice::from_raw_parts_mut(self.ptr, self.len)
    }
}
