//! `server::allocator` sets the options it means to, before `main`.

#[test]
fn options_are_set_before_main() {
    // Nothing in this test binary has called `tune` yet: the constructor did.
    assert_eq!(server::allocator::purge_delay(), 0);
    assert_eq!(server::allocator::arena_eager_commit(), 0);
    server::allocator::tune();
    assert_eq!(server::allocator::purge_delay(), 0);
    assert_eq!(server::allocator::arena_eager_commit(), 0);
}

#[test]
fn the_option_indexes_are_mimallocs() {
    // The bindings name neither option; mimalloc.h numbers its options in
    // order, and the named ones around them pin that order: 2 verbose,
    // (3 eager_commit, 4 arena_eager_commit, 5 purge_decommits), 6 large OS
    // pages, …, 9 reserve_os_memory, (15 purge_delay), 16 use_numa_nodes.
    assert_eq!(libmimalloc_sys::mi_option_verbose, 2);
    assert_eq!(libmimalloc_sys::mi_option_large_os_pages, 6);
    assert_eq!(libmimalloc_sys::mi_option_reserve_os_memory, 9);
    assert_eq!(libmimalloc_sys::mi_option_use_numa_nodes, 16);
}
