//! The global allocator, mimalloc, with a meter `bench conv` reads: how many bytes a kernel call
//! allocates beyond what was in use when it started, at the most (its workspace and outputs).
//!
//! The meter is off unless a bench turns it on, so training pays one relaxed load per
//! allocation. While on, every allocation and free moves a signed counter of bytes in use and
//! the highest value since `start` is kept; both are relative to `start`, so memory allocated
//! before the meter was on may be freed under it (the counter then goes below zero, which is
//! why it is signed).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

pub struct Metered;

static ON: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicIsize = AtomicIsize::new(0);
static HIGHEST: AtomicIsize = AtomicIsize::new(0);

fn grew(bytes: usize) {
    if ON.load(Relaxed) {
        let now = IN_USE.fetch_add(bytes as isize, Relaxed) + bytes as isize;
        HIGHEST.fetch_max(now, Relaxed);
    }
}

fn shrank(bytes: usize) {
    if ON.load(Relaxed) {
        IN_USE.fetch_sub(bytes as isize, Relaxed);
    }
}

// SAFETY: every call is passed to mimalloc unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

/// Turns the meter on from zero: what is allocated from now on counts.
pub fn start() {
    IN_USE.store(0, Relaxed);
    HIGHEST.store(0, Relaxed);
    ON.store(true, Relaxed);
}

/// Turns the meter off; returns the most bytes in use beyond the start at any moment.
pub fn stop() -> usize {
    ON.store(false, Relaxed);
    HIGHEST.load(Relaxed).max(0) as usize
}
