//! `server::allocator::tune` changes the option it means to.

#[test]
fn tune_sets_mimallocs_purge_delay_to_zero() {
    // The bindings do not name the option, so the index is checked by its
    // default: 10 ms in mimalloc v2, 1000 ms in v3; no neighbour has either.
    let before = server::allocator::purge_delay();
    assert!(before == 10 || before == 1000, "option 15 should be purge_delay, but holds {before}");
    server::allocator::tune();
    assert_eq!(server::allocator::purge_delay(), 0);
}
