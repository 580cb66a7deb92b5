//! Busy-waiting pool threads for the length of a training or inference loop, like OpenMP's
//! `OMP_WAIT_POLICY=active`.
//!
//! Why: a rayon thread that finds no work yields the CPU about 33 times (~40 µs here) and then
//! sleeps on a futex; the next parallel kernel has to wake it, and it joins the work 20-40 µs
//! late. A training step runs ~30 parallel kernels with short serial stretches between them (the
//! loss, the small tensors of the optimizer, the next batch's conversion), and many of those
//! stretches are just long enough for the other thread to fall asleep: `perf stat` counted
//! ~14,500 context switches in one epoch of `bench train` on 2 threads, against 33 on 1.
//!
//! While a `BusyWait` lives, every other thread of the pool runs a job that keeps asking rayon
//! for work (`rayon::yield_now`, which runs any job it finds) instead of sleeping, so a kernel's
//! work is picked up at once. The price is that those threads keep their cores busy while the
//! calling thread does serial work, which is what a training run wants and why it is scoped to
//! one loop. Results do not change: the kernels split their work the same way either way.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Whether some `BusyWait` is active already, in any pool: the inner one of nested loops
/// (`evaluate` inside `fit`) adds no threads of its own, and two guards in one pool can never
/// hold each other's threads.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// How many pool threads are busy-waiting right now (the tests watch it).
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Keeps the other threads of the current rayon pool busy-waiting for work until dropped.
#[must_use = "the threads stop busy-waiting when the guard is dropped"]
pub struct BusyWait {
    /// Set on drop; `None` for a guard that started no threads.
    stop: Option<Arc<AtomicBool>>,
    /// How many threads this guard set busy-waiting.
    threads: usize,
}

impl BusyWait {
    /// Starts busy-waiting on every thread of the current pool except the caller's.
    ///
    /// Does nothing when the caller is not one of the pool's threads (its kernels' work is then
    /// handed to the pool from outside, and a waiting thread would compete with the caller for a
    /// core), when the pool has one thread, or when another `BusyWait` is active in any pool
    /// (only the first pool's threads wait busily then).
    ///
    /// A busy-waiting thread runs the jobs it finds on top of its waiting loop, so a job that was
    /// already running on it cannot resume until the guard is dropped: while the guard lives,
    /// the caller must not block (on a channel or a lock) waiting for rayon work it started
    /// before the guard. Kernels started while it lives are fine; that is what it is for.
    pub fn start() -> BusyWait {
        let inert = BusyWait {
            stop: None,
            threads: 0,
        };
        let Some(caller) = rayon::current_thread_index() else {
            return inert;
        };
        let threads = rayon::current_num_threads();
        if threads < 2 || ACTIVE.swap(true, Ordering::AcqRel) {
            return inert;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // One job per thread of the pool, each run by the thread it was sent to (a broadcast
        // job cannot be stolen), so the caller's own copy returns at once instead of trapping
        // the caller in the loop; it runs the next time the caller waits for work.
        rayon::spawn_broadcast(move |ctx| {
            if ctx.index() == caller {
                return;
            }
            WAITING.fetch_add(1, Ordering::AcqRel);
            while !flag.load(Ordering::Acquire) {
                if let Some(rayon::Yield::Idle) = rayon::yield_now() {
                    // Nothing to steal: let another process have the core for a moment, as
                    // rayon's own idle loop does before it sleeps.
                    std::thread::yield_now();
                }
            }
            WAITING.fetch_sub(1, Ordering::AcqRel);
        });
        BusyWait {
            stop: Some(stop),
            threads: threads - 1,
        }
    }

    /// How many threads this guard set busy-waiting (0 when `start` did nothing).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How many pool threads are busy-waiting at this moment (across all guards), for tests.
    #[cfg(test)]
    fn waiting_threads() -> usize {
        WAITING.load(Ordering::Acquire)
    }
}

impl Drop for BusyWait {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::Release);
            ACTIVE.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::sync::mpsc;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use rayon::prelude::*;

    use super::BusyWait;

    /// The guards share global state (one active guard at a time), so these tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// Runs `f` on a fresh pool of `threads` threads, in turn with the other tests, failing
    /// (instead of hanging) if it has not finished after 60 s: a busy-waiting loop that traps a
    /// thread shows up as a deadlock.
    fn on_pool(threads: usize, f: impl FnOnce() + Send + 'static) {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(f);
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the pool did not finish within 60 s (or panicked)");
    }

    /// Polls until `BusyWait::waiting_threads()` is `n`, failing after 10 s.
    fn wait_for_waiting(n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while BusyWait::waiting_threads() != n {
            assert!(
                Instant::now() < deadline,
                "{} threads busy-waiting, expected {n}",
                BusyWait::waiting_threads()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_other_threads_wait_busily_until_the_guard_drops() {
        on_pool(3, || {
            let guard = BusyWait::start();
            assert_eq!(guard.threads(), 2);
            wait_for_waiting(2);
            // The waiting threads run the kernels' work, and the caller waiting in a join (where
            // it may pick up its own copy of the busy-wait job) is never trapped. (Not every
            // waiting thread need take part: the machine may have fewer cores than three.)
            let caller = rayon::current_thread_index().unwrap();
            let mut ran_elsewhere = false;
            for round in 0..200u64 {
                let (sum, on_others) = (0..64u64)
                    .into_par_iter()
                    .map(|i| {
                        // Enough work per item that the other threads get to steal some.
                        black_box((0..2_000u64).fold(i, |a, b| a ^ b.wrapping_mul(a)));
                        (i * round, rayon::current_thread_index() != Some(caller))
                    })
                    .reduce(|| (0, false), |(s1, o1), (s2, o2)| (s1 + s2, o1 || o2));
                assert_eq!(sum, round * 64 * 63 / 2);
                ran_elsewhere |= on_others;
            }
            assert!(ran_elsewhere, "only the caller ran the kernels' work");
            drop(guard);
            wait_for_waiting(0);
        });
    }

    #[test]
    fn nested_guards_start_no_more_threads() {
        on_pool(2, || {
            let outer = BusyWait::start();
            assert_eq!(outer.threads(), 1);
            let inner = BusyWait::start();
            assert_eq!(inner.threads(), 0);
            drop(inner);
            wait_for_waiting(1); // the outer guard's thread is still waiting
            drop(outer);
            wait_for_waiting(0);
        });
    }

    #[test]
    fn outside_a_pool_or_on_one_thread_nothing_starts() {
        // The test harness's thread is not one of rayon's (and a guard that starts nothing
        // never touches the shared state, so this needs no turn).
        assert_eq!(BusyWait::start().threads(), 0);
        on_pool(1, || {
            assert_eq!(BusyWait::start().threads(), 0);
            assert_eq!(BusyWait::waiting_threads(), 0);
        });
    }
}
