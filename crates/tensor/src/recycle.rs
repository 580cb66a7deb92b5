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
//! than `MAX_POOLED_BYTES`.

use std::sync::Mutex;

/// Buffers smaller than this (in values) are left to the allocator: they are cheap to zero.
const MIN_POOLED: usize = 1 << 14;
/// At most this many bytes wait in the pool; beyond it, dropped storage is freed. Enough for
/// every large tensor of a predict step at batch 256 (conv1's output alone is 26 MB), small
/// enough to keep `convlab train` well under its 300 MB memory target.
const MAX_POOLED_BYTES: usize = 64 << 20;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// `len` values with unspecified contents (left by an earlier tensor, or zero): for a kernel
/// that overwrites every element. Reuses the smallest pooled buffer that is large enough.
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_POOLED {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let mut v = pool.swap_remove(i);
            drop(pool);
            // Shrinking keeps the old values; growing within the capacity writes zeros.
            v.resize(len, 0.0);
            return v;
        }
    }
    crate::elementwise::zeros(len)
}

/// Keeps `v`'s storage for a later `take`, if it is large and the pool has room.
pub(crate) fn give(v: Vec<f32>) {
    if v.capacity() < MIN_POOLED {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pooled: usize = pool.iter().map(|v| v.capacity() * 4).sum();
    if pooled + v.capacity() * 4 <= MAX_POOLED_BYTES {
        pool.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_storage_is_handed_out_again_and_the_pool_is_bounded() {
        // One distinctive length, so tests running at the same time cannot take this buffer.
        let len = MIN_POOLED + 12_345;
        let t = crate::Tensor::from_vec("test", &[len], vec![7.0; len]);
        let ptr = t.data().as_ptr();
        drop(t);
        let v = take(len);
        assert_eq!(v.len(), len);
        assert_eq!(v.as_ptr(), ptr, "the dropped tensor's storage is reused");
        assert!(
            v.iter().all(|&x| x == 7.0),
            "contents are left as they were"
        );
        // A shared tensor's storage is not pooled while another owner holds it.
        let a = crate::Tensor::from_vec("test", &[len], v);
        let b = a.clone();
        drop(a);
        assert_eq!(b.data()[0], 7.0);
        // Small buffers are not pooled at all, and the pool never exceeds its bound.
        give(vec![0.0; 10]);
        let pooled: usize = POOL.lock().unwrap().iter().map(|v| v.capacity() * 4).sum();
        assert!(pooled <= MAX_POOLED_BYTES);
    }
}
