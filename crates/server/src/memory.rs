//! Giving freed heap back to the operating system.
//!
//! glibc's allocator keeps the memory a process has freed for its next allocations, and returns
//! it only from the top of each arena; pages freed below a block still in use stay resident.
//! Start-up work (the classifier's training set, the grid boundaries) and bursts of requests
//! leave such pages behind, so the server asks for them to be released at the end of every
//! scheduled round (at start and then each minute; see BENCHMARKS.md, B5).

use std::time::Instant;

/// Releases the allocator's free pages to the system; returns whether any were released.
/// A no-op where the allocator is not glibc's.
pub fn release_free_memory() -> bool {
    let started = Instant::now();
    let released = trim();
    tracing::debug!(
        "free heap returned to the system in {:?} (released: {released})",
        started.elapsed()
    );
    released
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    unsafe extern "C" {
        /// glibc: releases free memory of every arena (whole free pages anywhere in the heap,
        /// not only at its top) and returns 1 if any was released.
        safe fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    malloc_trim(0) == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn freed_small_blocks_are_released() {
        // many small blocks (kept off mmap), one in a hundred kept so the heap cannot shrink
        // from its top alone
        let mut blocks: Vec<Box<[u8; 512]>> = (0..50_000).map(|_| Box::new([1u8; 512])).collect();
        let kept: Vec<Box<[u8; 512]>> = blocks.drain(..).step_by(100).collect();
        let released = super::release_free_memory();
        assert_eq!(released, cfg!(all(target_os = "linux", target_env = "gnu")));
        assert_eq!(kept.len(), 500);
    }
}
