//! Recycled storage for large tensors, so that training allocates nothing in the steady state.
//!
//! Every step of training makes the same tensors again (activations, gradients, outputs), tens
//! of megabytes at batch 256. Allocating them afresh cost twice: the allocator hands back memory
//! that must be zeroed before a kernel may overwrite it (`vec![0.0; n]`), and big blocks go back
//! to the OS and return as fresh pages that the kernel clears. Profiles showed the zeroing as
//! ~14% of `predict`.
//!
//! Instead, a large tensor's storage goes into a small pool when its last owner drops it
//! (`Tensor`'s `Drop`), and `take` hands it out again, contents and all, to a kernel that writes
//! every element of its output. A kernel that only adds into its output uses `zeros` (or fills
//! its own blocks with zero first), never `take`. The pool is bounded, so it never holds more
//! than `MAX_POOLED_BYTES`: when a buffer would go over, the longest-waiting buffers are freed
//! first. Storage that nothing takes again (tensors of sizes no kernel asks for) ages out that
//! way; a pool that refused newcomers instead filled up with such storage within an epoch and then
//! turned away conv1's 3 MB output every step.

use std::sync::Mutex;

/// Buffers smaller than this (in values) are left to the allocator: they are cheap to zero.
const MIN_POOLED: usize = 1 << 14;
/// At most this many bytes wait in the pool; beyond it, dropped storage is freed. Enough for
/// every large tensor of a predict step at batch 256 (conv1's output alone is 26 MB), small
/// enough to keep `convlab train` well under its 300 MB memory target.
const MAX_POOLED_BYTES: usize = 64 << 20;

/// The buffers waiting to be reused, oldest first, and their total size.
struct Pool {
    buffers: Vec<Vec<f32>>,
    bytes: usize,
}

impl Pool {
    /// The smallest buffer that holds `len` values and is at most twice that size (a much larger
    /// one would tie up memory that a later, larger request then allocates again).
    fn take(&mut self, len: usize) -> Option<Vec<f32>> {
        let best = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len && v.capacity() <= 2 * len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i)?;
        let mut v = self.buffers.remove(best);
        self.bytes -= v.capacity() * 4;
        // Shrinking keeps the old values; growing within the capacity writes zeros.
        v.resize(len, 0.0);
        Some(v)
    }

    /// Keeps `v` if it is large, freeing the oldest buffers as needed to stay in bounds.
    fn give(&mut self, v: Vec<f32>) {
        let size = v.capacity() * 4;
        if v.capacity() < MIN_POOLED || size > MAX_POOLED_BYTES {
            return;
        }
        let mut evict = 0;
        while self.bytes + size > MAX_POOLED_BYTES {
            self.bytes -= self.buffers[evict].capacity() * 4;
            evict += 1;
        }
        self.buffers.drain(..evict);
        self.bytes += size;
        self.buffers.push(v);
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});

/// `len` values with unspecified contents (left by an earlier tensor, or zero): for a kernel
/// that overwrites every element.
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_POOLED {
        let reused = POOL.lock().unwrap_or_else(|e| e.into_inner()).take(len);
        if let Some(v) = reused {
            return v;
        }
    }
    crate::elementwise::zeros(len)
}

/// Frees every buffer convlab keeps for reuse: this pool, and the per-thread scratch of the
/// convolution kernels on every thread of the pool (the patch matrices, padded images,
/// Winograd tiles, masked dy). Training never needs this; `convlab bench conv` calls it before
/// measuring a kernel's extra memory, so what the kernel needs is allocated in front of the meter.
pub fn release_scratch() {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.buffers.clear();
    pool.bytes = 0;
    drop(pool);
    let release = || {
        crate::conv2d::release_thread_buffers();
    };
    rayon::broadcast(|_| release());
    release();
}

/// Keeps `v`'s storage for a later `take`, if it is large and the pool has room.
pub(crate) fn give(v: Vec<f32>) {
    if v.capacity() >= MIN_POOLED {
        POOL.lock().unwrap_or_else(|e| e.into_inner()).give(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A pool of the test's own: the global one is shared with every test running at the time.

    #[test]
    fn a_buffer_is_handed_out_again_with_its_contents() {
        let mut pool = Pool {
            buffers: Vec::new(),
            bytes: 0,
        };
        let v = vec![7.0f32; MIN_POOLED + 100];
        let ptr = v.as_ptr();
        pool.give(v);
        let again = pool.take(MIN_POOLED + 50).expect("a pooled buffer");
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), MIN_POOLED + 50);
        assert!(
            again.iter().all(|&x| x == 7.0),
            "contents are left as they were"
        );
        assert!(pool.take(MIN_POOLED).is_none(), "the pool is empty again");
    }

    #[test]
    fn small_oversized_and_excess_buffers_are_not_kept() {
        let mut pool = Pool {
            buffers: Vec::new(),
            bytes: 0,
        };
        pool.give(vec![0.0; 10]);
        assert_eq!(pool.bytes, 0, "small buffers go back to the allocator");
        pool.give(vec![0.0; 4 * MIN_POOLED]);
        assert!(
            pool.take(MIN_POOLED).is_none(),
            "4x too large: not handed out"
        );
        assert!(pool.take(3 * MIN_POOLED).is_some());
        // Fill past the bound: the pool never holds more, and the newest buffers stay.
        let mut newest = Vec::new();
        for _ in 0..(MAX_POOLED_BYTES / (4 * (1 << 20)) + 2) {
            let v = vec![0.0; 1 << 20];
            newest.push(v.as_ptr());
            pool.give(v);
        }
        assert!(pool.bytes <= MAX_POOLED_BYTES);
        let sum: usize = pool.buffers.iter().map(|v| v.capacity() * 4).sum();
        assert_eq!(pool.bytes, sum, "the running total is the buffers' total");
        let last = newest.last().copied();
        assert_eq!(pool.buffers.last().map(|v| v.as_ptr()), last);
        assert!(
            !pool.buffers.iter().any(|v| v.as_ptr() == newest[0]),
            "the oldest went first"
        );
    }

    #[test]
    fn storage_nobody_takes_ages_out_instead_of_blocking_the_pool() {
        let mut pool = Pool {
            buffers: Vec::new(),
            bytes: 0,
        };
        // Far more than the bound of a size no kernel asks for, then a large one: it is kept.
        for _ in 0..2 * MAX_POOLED_BYTES / (4 * MIN_POOLED) {
            pool.give(vec![0.0; MIN_POOLED]);
        }
        pool.give(vec![0.0; 1 << 22]);
        assert!(pool.take(1 << 22).is_some());
    }

    #[test]
    fn only_the_last_owner_returns_the_storage() {
        let t = crate::Tensor::from_vec("test", &[MIN_POOLED], vec![1.0; MIN_POOLED]);
        let shared = t.clone();
        let ptr = t.data().as_ptr();
        drop(t);
        // The storage is still in use by `shared`: it must not be in the pool.
        let pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        assert!(pool.buffers.iter().all(|v| v.as_ptr() != ptr));
        drop(pool);
        assert!(shared.data().iter().all(|&x| x == 1.0));
    }
}
