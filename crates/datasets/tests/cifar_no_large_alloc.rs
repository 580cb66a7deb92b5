//! The batch and tar readers allocate only what the input's length justifies: a file of the
//! wrong length, or a tar header that claims gigabytes, allocates nothing large. A counting
//! global allocator records the largest single allocation made while a reader runs. (This file
//! holds one test, so no other test allocates meanwhile.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::TempDir;
use convlab_datasets::cifar10::batch::{read_batch, read_batch_bytes, BatchLayout};
use convlab_datasets::tar::{header_block, TarReader};

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

fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    WATCHING.store(true, Ordering::Relaxed);
    f();
    WATCHING.store(false, Ordering::Relaxed);
    LARGEST.load(Ordering::Relaxed)
}

#[test]
fn readers_allocate_what_the_input_holds_and_no_more() {
    const SMALL: usize = 1 << 20;
    let real = BatchLayout::CIFAR10;
    let tmp = TempDir::new("cifar-alloc");

    // A file far shorter than the 30.7 MB a batch must be: refused before any allocation.
    let path = tmp.path().join("short.bin");
    std::fs::write(&path, vec![1u8; 3_073 * 3 + 5]).expect("write");
    let on_disk = largest_allocation(|| assert!(read_batch(&path, &real, true).is_err()));
    assert!(on_disk < SMALL, "short file: allocated {on_disk} bytes");
    let bytes = vec![1u8; 3_073 * 3];
    let in_memory =
        largest_allocation(|| assert!(read_batch_bytes("short", &bytes, &real, true).is_err()));
    assert!(
        in_memory < SMALL,
        "short bytes: allocated {in_memory} bytes"
    );

    // Without verification three records are fine, and cost three records.
    let three = largest_allocation(|| {
        let (x, _) = read_batch_bytes("three", &bytes, &real, false).expect("three records");
        assert_eq!(x.n, 3);
    });
    assert!(three < SMALL, "three records: allocated {three} bytes");

    // A tar header that claims 8 GiB of data, followed by 100 bytes: a truncation error.
    let mut tar = header_block("big", 0o77_777_777_777, b'0', "").to_vec();
    tar.extend_from_slice(&[0u8; 100]);
    let lying = largest_allocation(|| {
        let mut reader = TarReader::new(&tar[..], u64::MAX);
        let entry = reader.next_entry().expect("a header").expect("an entry");
        assert_eq!(entry.size, 0o77_777_777_777);
        assert!(reader.next_entry().is_err());
    });
    assert!(lying < SMALL, "lying tar header: allocated {lying} bytes");

    // And the counter sees a large allocation when a batch really is large.
    let whole: Vec<u8> = (0..real.file_len() as usize)
        .map(|i| if i % 3_073 == 0 { 1 } else { 0 })
        .collect();
    let big = largest_allocation(|| {
        assert!(read_batch_bytes("whole", &whole, &real, true).is_ok());
    });
    assert!(big >= 30_720_000, "the counter works: {big}");
}
