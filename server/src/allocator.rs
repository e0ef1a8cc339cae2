//! The process allocator: mimalloc, tuned to give memory back promptly.
//!
//! glibc's malloc spent about 15% of the delivery benchmark in its own
//! bookkeeping and arena locks; mimalloc removed most of it. Two of its
//! defaults kept memory resident that the service no longer used:
//! - freed pages were kept for a second before being returned: under a burst
//!   of fan-out that held 20–30 MB more; purging at once measured no slower;
//! - on Linux each arena it reserves is committed whole, up front, and such an
//!   arena's freed pages are never purged. Committed as used instead, the
//!   fan-out benchmark's peak RSS fell from 77–93 MB to 70–72 MB (idle from
//!   42 to 31 MB), throughput and CPU per event unchanged.
//!
//! The first arena is reserved at the process's first allocation, before
//! `main`, so the options are set by a constructor that runs earlier still.

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_arena_eager_commit` and `mi_option_purge_delay` (indexes 4 and
/// 15 in both mimalloc v2 and v3, which libmimalloc-sys builds); the Rust
/// bindings name neither. `tests/allocator.rs` checks them.
const MI_OPTION_ARENA_EAGER_COMMIT: mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

extern "C" fn set_options() {
    // SAFETY: setting an option is a plain store into mimalloc's option table,
    // which is static and needs no initialisation.
    unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

/// Runs [`set_options`] as the process starts, before the Rust runtime's
/// first allocation (set in `main`, the arena option came too late: the first
/// arena, which then serves everything, was already committed).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SET_OPTIONS_AT_START: extern "C" fn() = set_options;

/// Call first thing in `main`: it keeps the constructor above linked in, and
/// sets the options where there is no such constructor.
pub fn tune() {
    #[cfg(target_os = "linux")]
    std::hint::black_box(&SET_OPTIONS_AT_START);
    set_options();
}

/// The purge delay now in force (ms), for tests and diagnostics.
pub fn purge_delay() -> i64 {
    // SAFETY: reading an option is a plain load from mimalloc's option table.
    unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}

/// Whether arenas are committed when reserved (0: no; 1: yes; 2: where the OS overcommits).
pub fn arena_eager_commit() -> i64 {
    // SAFETY: reading an option is a plain load from mimalloc's option table.
    unsafe { mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT) as i64 }
}
