//! A lying header must cost nothing: reading a tiny file that claims billions of values must not
//! allocate anything large. A counting global allocator records the largest single allocation
//! made while the reader runs. (This file holds one test, so no other test allocates meanwhile.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::TempDir;
use convlab_datasets::idx::{gzip, read_idx, read_idx_bytes};

struct Counting;

static WATCHING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only records
// sizes in atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest allocation `f` makes.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    WATCHING.store(true, Ordering::Relaxed);
    f();
    WATCHING.store(false, Ordering::Relaxed);
    LARGEST.load(Ordering::Relaxed)
}

#[test]
fn lying_headers_allocate_nothing_large() {
    // Four billion labels (under the reader's 4 GiB cap), in a 60-byte file.
    let mut lying = vec![0, 0, 0x08, 1];
    lying.extend_from_slice(&4_000_000_000u32.to_be_bytes());
    lying.resize(60, 1);
    // 4,000 images of 1000x1000 bytes: also under the cap.
    let mut images = vec![0, 0, 0x08, 3];
    for d in [4000u32, 1000, 1000] {
        images.extend_from_slice(&d.to_be_bytes());
    }
    images.resize(60, 1);

    let tmp = TempDir::new("idx-alloc");
    // Gzip's inflate state and the file's read buffer are the largest honest allocations.
    const SMALL: usize = 1 << 20;
    for (i, bytes) in [lying.clone(), gzip(&lying), images.clone(), gzip(&images)]
        .iter()
        .enumerate()
    {
        let path = tmp.path().join(format!("case-{i}"));
        std::fs::write(&path, bytes).expect("write");
        let in_memory = largest_allocation(|| assert!(read_idx_bytes("case", bytes).is_err()));
        let on_disk = largest_allocation(|| assert!(read_idx(&path).is_err()));
        assert!(
            in_memory < SMALL,
            "case {i}: allocated {in_memory} bytes from memory"
        );
        assert!(
            on_disk < SMALL,
            "case {i}: allocated {on_disk} bytes from disk"
        );
    }

    // And the allocator does see a large allocation when a file really is large.
    let mut honest = vec![0, 0, 0x08, 1];
    honest.extend_from_slice(&(4u32 << 20).to_be_bytes());
    honest.resize(8 + (4 << 20), 3);
    let big = largest_allocation(|| assert!(read_idx_bytes("honest", &honest).is_ok()));
    assert!(big >= 4 << 20, "the counter works: {big}");
}
