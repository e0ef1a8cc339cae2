//! The process allocator: mimalloc, tuned to give memory back promptly.
//!
//! glibc's malloc spent about 15% of the delivery benchmark in its own
//! bookkeeping and arena locks; mimalloc removed most of it. By default it
//! keeps freed pages for a second before returning them, which under a burst
//! of fan-out kept 20–30 MB more resident; purging at once measured no slower.

/// `mi_option_purge_delay` (index 15 in both mimalloc v2 and v3, which
/// libmimalloc-sys builds); the Rust bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Call first thing in `main`. A test in `tests/allocator.rs` checks the index.
pub fn tune() {
    // SAFETY: setting an option is a plain store into mimalloc's option table.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// The purge delay now in force (ms), for tests and diagnostics.
pub fn purge_delay() -> i64 {
    // SAFETY: reading an option is a plain load from mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}
