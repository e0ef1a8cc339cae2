//! The due-work queue's conformance suite: every operation of `due::store`,
//! one test per database.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Barrier;

use domain::due::store::{self, ClaimRequest, NewDue};
use domain::due::{Claimed, Lease};
use domain::store::Db;
use domain::testing::TestDb;
use domain::Services;

const NOW: i64 = 1_800_000_000_000;
const LEASE: i64 = 60_000;
const KIND: &str = "test_kind";

async fn services(db: &TestDb) -> Services {
    db.services().await.unwrap_or_else(|e| panic!("{}: {e}", db.name))
}

async fn add(db: &Db, rows: &[(&str, &str, i64)]) {
    let due: Vec<NewDue> = rows
        .iter()
        .map(|(id, partition, at)| NewDue {
            id,
            kind: KIND,
            subject_id: id,
            partition_key: partition,
            available_at: *at,
            lease_owner: None,
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    store::insert(&mut tx, &due, NOW).await.unwrap();
    tx.commit().await.unwrap();
}

async fn claim(db: &Db, owner: &str, now: i64, limit: i64, skip: &[String]) -> Vec<Claimed> {
    db.claim_due(&ClaimRequest { kind: KIND, owner, now, lease_ms: LEASE, limit, skip_partitions: skip }).await.unwrap()
}

fn ids(rows: &[Claimed]) -> Vec<&str> {
    let mut v: Vec<&str> = rows.iter().map(|c| c.id.as_str()).collect();
    v.sort();
    v
}

async fn finish(db: &Db, owner: &str, leases: &[Lease]) -> HashSet<Lease> {
    let mut tx = db.begin().await.unwrap();
    let done = store::finish(&mut tx, owner, &leases.iter().collect::<Vec<_>>()).await.unwrap();
    tx.commit().await.unwrap();
    done
}

async fn claims_lease_once_and_hide_rows_until_the_lease_ends(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_a", "p", NOW - 10), ("due_b", "p", NOW), ("due_later", "p", NOW + 1)]).await;
    let first = claim(&s.db, "w1", NOW, 10, &[]).await;
    assert_eq!(ids(&first), ["due_a", "due_b"], "{}: due rows only, oldest first", db.name);
    assert!(first.iter().all(|c| c.fence == 1 && c.attempts == 1 && c.kind == KIND && c.subject_id == c.id));
    let row = s.db.due_row(KIND, "due_a").await.unwrap().unwrap();
    assert_eq!(
        (row.available_at, row.lease_owner.as_deref()),
        (NOW + LEASE, Some("w1")),
        "visibility moved to the lease's end"
    );
    assert!(claim(&s.db, "w2", NOW + 5, 10, &[]).await.iter().all(|c| c.id == "due_later"), "leased rows are hidden");
    // The lease ends: the row is claimable again, under a new fence.
    let again = claim(&s.db, "w2", NOW + LEASE, 10, &[]).await;
    assert_eq!(ids(&again), ["due_a", "due_b"]);
    assert!(again.iter().all(|c| c.fence == 2 && c.attempts == 2));
}

async fn two_workers_racing_claim_each_row_once(db: TestDb) {
    let s = services(&db).await;
    let rows: Vec<String> = (0..400).map(|i| format!("due_{i:04}")).collect();
    let spec: Vec<(&str, &str, i64)> = rows.iter().map(|r| (r.as_str(), "p", NOW)).collect();
    add(&s.db, &spec).await;
    // Two connection pools: two instances on one database.
    let other = Db::connect(&db.url).await.unwrap();
    // The workers start together, and none goes on past its first claim until
    // all three have made one: otherwise a worker scheduled late can find the
    // queue already empty and the race is not a race.
    let gate = Arc::new(Barrier::new(3));
    let race = |db: Db, owner: &'static str| {
        let gate = gate.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            gate.wait().await;
            loop {
                let c = claim(&db, owner, NOW, 7, &[]).await;
                if got.is_empty() {
                    gate.wait().await;
                }
                if c.is_empty() {
                    return got;
                }
                got.extend(c.into_iter().map(|c| c.id));
            }
        })
    };
    let (a, b, c) = (race(s.db.clone(), "w1"), race(other.clone(), "w2"), race(other.clone(), "w3"));
    let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
    let mut all: Vec<String> = a.iter().chain(&b).chain(&c).cloned().collect();
    assert_eq!(all.len(), 400, "{}: {} + {} + {} claims", db.name, a.len(), b.len(), c.len());
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400, "{}: no row was claimed twice", db.name);
    assert!(!a.is_empty() && !b.is_empty() && !c.is_empty(), "{}: every worker took part", db.name);
}

async fn skips_saturated_partitions_without_touching_their_rows(db: TestDb) {
    let s = services(&db).await;
    let busy: Vec<String> = (0..100).map(|i| format!("due_busy_{i:03}")).collect();
    let mut spec: Vec<(&str, &str, i64)> = busy.iter().map(|r| (r.as_str(), "busy", NOW - 1_000)).collect();
    let calm: Vec<String> = (0..10).map(|i| format!("due_calm_{i:02}")).collect();
    spec.extend(calm.iter().map(|r| (r.as_str(), "calm", NOW)));
    add(&s.db, &spec).await;
    let got = claim(&s.db, "w1", NOW, 5, &["busy".to_string()]).await;
    assert_eq!(got.len(), 5, "{}", db.name);
    assert!(got.iter().all(|c| c.partition_key == "calm"));
    let untouched = s.db.due_row(KIND, "due_busy_000").await.unwrap().unwrap();
    assert_eq!(
        (untouched.fence, untouched.attempts, untouched.lease_owner),
        (0, 0, None),
        "skipped rows are not leased"
    );
}

async fn fenced_writes_do_nothing_once_the_lease_is_lost(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_x", "p", NOW)]).await;
    let old = claim(&s.db, "w1", NOW, 1, &[]).await.remove(0).lease();
    // w1 is slow: its lease runs out and w2 takes the row.
    let new = claim(&s.db, "w2", NOW + LEASE, 1, &[]).await.remove(0).lease();
    assert!(
        finish(&s.db, "w1", std::slice::from_ref(&old)).await.is_empty(),
        "{}: a lost lease finishes nothing",
        db.name
    );
    let mut tx = s.db.begin().await.unwrap();
    assert!(store::reschedule(&mut tx, "w1", &[(&old, NOW + 99)]).await.unwrap().is_empty());
    assert_eq!(store::fail(&mut tx, "w1", &old, "late", NOW, 10, NOW).await.unwrap(), None);
    assert_eq!(store::release(&mut tx, "w1", &[&old], NOW).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let row = s.db.due_row(KIND, "due_x").await.unwrap().unwrap();
    assert_eq!((row.lease_owner.as_deref(), row.fence, row.available_at), (Some("w2"), 2, NOW + 2 * LEASE));
    // The same owner re-claiming after its own lease ran out is fenced too.
    let newer = claim(&s.db, "w2", NOW + 2 * LEASE, 1, &[]).await.remove(0).lease();
    assert!(finish(&s.db, "w2", std::slice::from_ref(&new)).await.is_empty(), "an older claim of the same owner");
    assert_eq!(finish(&s.db, "w2", std::slice::from_ref(&newer)).await.len(), 1);
    assert!(s.db.due_row(KIND, "due_x").await.unwrap().is_none());
}

async fn holding_many_keeps_only_the_leases_still_held(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_a", "p", NOW), ("due_b", "p", NOW), ("due_c", "p", NOW)]).await;
    let mut mine: Vec<Lease> = claim(&s.db, "w1", NOW, 3, &[]).await.iter().map(Claimed::lease).collect();
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    // due_b goes back on the queue and w2 takes it; due_c is cancelled.
    {
        let mut tx = s.db.begin().await.unwrap();
        assert_eq!(store::reschedule(&mut tx, "w1", &[(&mine[1], NOW + 10)]).await.unwrap().len(), 1);
        store::cancel(&mut tx, KIND, "due_c").await.unwrap();
        tx.commit().await.unwrap();
    }
    let theirs = claim(&s.db, "w2", NOW + 10, 1, &[]).await.remove(0).lease();
    assert_eq!(theirs.id, "due_b");
    let mut tx = s.db.begin().await.unwrap();
    let held = store::hold_all(&mut tx, "w1", &mine.iter().collect::<Vec<_>>(), NOW + 5 * LEASE).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(held, HashSet::from([mine[0].clone()]), "{}: only due_a is still w1's", db.name);
    let a = s.db.due_row(KIND, "due_a").await.unwrap().unwrap();
    assert_eq!((a.lease_owner.as_deref(), a.available_at), (Some("w1"), NOW + 5 * LEASE), "due_a's lease is extended");
    let b = s.db.due_row(KIND, "due_b").await.unwrap().unwrap();
    assert_eq!((b.lease_owner.as_deref(), b.fence), (Some("w2"), theirs.fence), "w2's lease is untouched");
    assert_eq!(b.available_at, NOW + 10 + LEASE);
}

async fn reschedule_moves_the_row_and_resets_attempts(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_r", "p", NOW)]).await;
    let lease = claim(&s.db, "w1", NOW, 1, &[]).await.remove(0).lease();
    let mut tx = s.db.begin().await.unwrap();
    let moved = store::reschedule(&mut tx, "w1", &[(&lease, NOW + 5_000)]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(moved.len(), 1, "{}", db.name);
    let row = s.db.due_row(KIND, "due_r").await.unwrap().unwrap();
    assert_eq!((row.available_at, row.lease_owner, row.attempts), (NOW + 5_000, None, 0));
    assert!(claim(&s.db, "w2", NOW + 4_999, 1, &[]).await.is_empty(), "not before its time");
    assert_eq!(claim(&s.db, "w2", NOW + 5_000, 1, &[]).await.len(), 1);
}

async fn release_gives_work_back_without_counting_an_attempt(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_g", "p", NOW)]).await;
    let lease = claim(&s.db, "w1", NOW, 1, &[]).await.remove(0).lease();
    let mut tx = s.db.begin().await.unwrap();
    assert_eq!(store::release(&mut tx, "w1", &[&lease], NOW + 1).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let again = claim(&s.db, "w2", NOW + 1, 1, &[]).await.remove(0);
    assert_eq!((again.attempts, again.fence), (1, 2), "{}", db.name);
}

async fn failing_rows_die_after_max_attempts_and_can_be_revived(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_f", "p", NOW)]).await;
    let mut dead = false;
    for n in 1..=3 {
        let c = claim(&s.db, "w1", NOW + n, 1, &[]).await;
        assert_eq!(c.len(), 1, "{}: attempt {n}", db.name);
        assert_eq!(c[0].attempts, n);
        let mut tx = s.db.begin().await.unwrap();
        dead = store::fail(&mut tx, "w1", &c[0].lease(), &format!("boom {n}\0"), NOW + n, 3, NOW + n)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(dead, n == 3);
    }
    assert!(dead);
    assert!(claim(&s.db, "w1", NOW + 1_000_000, 10, &[]).await.is_empty(), "dead rows are never leased");
    assert_eq!(s.db.next_available_by_kind(&[KIND]).await.unwrap(), vec![None], "nor waited for");
    let listed = s.db.dead_rows(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_error.as_deref(), Some("boom 3\u{FFFD}"), "errors are stored safely");
    assert_eq!(s.db.dead_count().await.unwrap(), 1);

    let mut tx = s.db.begin().await.unwrap();
    assert!(store::revive(&mut tx, "due_f", NOW + 10).await.unwrap());
    tx.commit().await.unwrap();
    let back = claim(&s.db, "w1", NOW + 10, 1, &[]).await;
    assert_eq!(back[0].attempts, 1, "revived with its attempts forgotten");
    let mut tx = s.db.begin().await.unwrap();
    assert!(store::discard(&mut tx, "due_f").await.unwrap().is_none(), "only dead rows can be discarded");
    tx.commit().await.unwrap();
}

async fn many_leases_at_once_and_a_stale_one_beside_its_successor(db: TestDb) {
    let s = services(&db).await;
    let names: Vec<String> = (0..6).map(|i| format!("due_m{i}")).collect();
    let spec: Vec<(&str, &str, i64)> = names.iter().map(|n| (n.as_str(), "p", NOW)).collect();
    add(&s.db, &spec).await;
    let leases: Vec<Lease> = claim(&s.db, "w1", NOW, 10, &[]).await.iter().map(Claimed::lease).collect();
    assert_eq!(leases.len(), 6);
    assert_eq!(finish(&s.db, "w1", &leases[..4]).await.len(), 4, "{}: four at once", db.name);
    let mut tx = s.db.begin().await.unwrap();
    assert_eq!(store::release(&mut tx, "w1", &leases[4..].iter().collect::<Vec<_>>(), NOW).await.unwrap(), 2);
    tx.commit().await.unwrap();
    let again = claim(&s.db, "w1", NOW, 10, &[]).await;
    assert_eq!(again.len(), 2);
    // The old claim of a row and the new one report together: only the new one can finish it.
    let stale = Lease { id: again[0].id.clone(), fence: again[0].fence - 1 };
    let current = again[0].lease();
    let kept = store::newest_per_row([&stale, &current]);
    let kept: Vec<Lease> = kept.into_iter().cloned().collect();
    assert_eq!(finish(&s.db, "w1", &kept).await, [current].into_iter().collect());
}

async fn next_wake_up_is_the_earliest_live_row_of_each_kind(db: TestDb) {
    let s = services(&db).await;
    assert_eq!(s.db.next_available_by_kind(&[KIND, "other"]).await.unwrap(), vec![None, None], "{}", db.name);
    add(&s.db, &[("due_1", "p", NOW + 100), ("due_2", "p", NOW + 50)]).await;
    let mut tx = s.db.begin().await.unwrap();
    store::insert(
        &mut tx,
        &[NewDue {
            id: "due_3",
            kind: "other",
            subject_id: "s3",
            partition_key: "p",
            available_at: NOW + 10,
            lease_owner: None,
        }],
        NOW,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.db.next_available_by_kind(&["other", KIND]).await.unwrap(), vec![Some(NOW + 10), Some(NOW + 50)]);
}

async fn requeue_leaves_work_under_way_alone(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_q", "p", NOW + 60_000)]).await;
    let requeue = |subject: &'static str, now: i64| {
        let db = s.db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let ok = store::requeue(&mut tx, &format!("due_new_{subject}"), KIND, subject, "p", now).await.unwrap();
            tx.commit().await.unwrap();
            ok
        }
    };
    // Waiting for a retry: brought forward.
    assert!(requeue("due_q", NOW).await, "{}", db.name);
    let row = s.db.due_row(KIND, "due_q").await.unwrap().unwrap();
    assert_eq!((row.available_at, row.fence), (NOW, 1));
    // Being worked on: left alone.
    let lease = claim(&s.db, "w1", NOW, 1, &[]).await.remove(0).lease();
    assert!(!requeue("due_q", NOW + 1).await, "a leased row is not touched");
    assert_eq!(finish(&s.db, "w1", &[lease]).await.len(), 1, "and its worker still finishes it");
    // Finished: added again.
    assert!(requeue("due_q", NOW + 2).await);
    assert_eq!(s.db.due_row(KIND, "due_q").await.unwrap().unwrap().available_at, NOW + 2);
}

async fn start_up_frees_only_other_processes_leases(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_gone", "p", NOW - 2), ("due_mine", "p", NOW - 1), ("due_free", "p", NOW)]).await;
    assert_eq!(ids(&claim(&s.db, "inst_gone/runner", NOW, 1, &[]).await), ["due_gone"]);
    // This process leased one a moment ago (a test send, say): it keeps it.
    assert_eq!(ids(&claim(&s.db, &s.lease_owner("test"), NOW, 1, &[]).await), ["due_mine"]);
    assert_eq!(
        s.db.release_stale_leases(&s.instance, NOW).await.unwrap(),
        1,
        "{}: only the dead process's lease",
        db.name
    );
    assert_eq!(ids(&claim(&s.db, "w9", NOW, 10, &[]).await), ["due_free", "due_gone"]);
}

async fn shutdown_hands_back_only_this_processs_leases(db: TestDb) {
    let s = services(&db).await;
    add(&s.db, &[("due_other", "p", NOW - 2), ("due_mine", "p", NOW - 1)]).await;
    assert_eq!(ids(&claim(&s.db, "inst_other/runner", NOW, 1, &[]).await), ["due_other"]);
    let mine = claim(&s.db, &s.lease_owner("runner"), NOW, 1, &[]).await.remove(0).lease();
    assert_eq!(s.db.release_own_leases(&s.instance, NOW).await.unwrap(), 1, "{}", db.name);
    assert!(
        finish(&s.db, &s.lease_owner("runner"), &[mine]).await.is_empty(),
        "{}: a late finish writes nothing",
        db.name
    );
    assert_eq!(ids(&claim(&s.db, "w9", NOW, 10, &[]).await), ["due_mine"], "{}: the other lease stays", db.name);
}

/// On SQLite, claiming and the next wake-up read the partial index, not the
/// table (fenced writes are checked in `due::store`'s own tests).
#[tokio::test]
async fn claims_and_wake_ups_are_index_probes() {
    use domain::store::with_pool;
    let db = TestDb::sqlite().await;
    let s = services(&db).await;
    let plan = |sql: &'static str| {
        let db = s.db.clone();
        async move {
            let rows: Vec<(i64, i64, i64, String)> =
                with_pool!(&db, pool => sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(pool).await)
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join(" | ")
        }
    };
    let next = plan("SELECT MIN(available_at) FROM due_work WHERE kind = 'delivery' AND dead_at IS NULL").await;
    assert!(next.contains("due_work_available"), "{next}");
    let due = plan(
        "SELECT id FROM due_work WHERE kind = 'delivery' AND dead_at IS NULL AND available_at <= 5 AND partition_key NOT IN ('a') ORDER BY available_at LIMIT 10",
    )
    .await;
    assert!(due.contains("due_work_available") && !due.contains("TEMP B-TREE"), "{due}");
}

domain::per_backend!(
    claims_lease_once_and_hide_rows_until_the_lease_ends,
    two_workers_racing_claim_each_row_once,
    skips_saturated_partitions_without_touching_their_rows,
    fenced_writes_do_nothing_once_the_lease_is_lost,
    holding_many_keeps_only_the_leases_still_held,
    reschedule_moves_the_row_and_resets_attempts,
    release_gives_work_back_without_counting_an_attempt,
    failing_rows_die_after_max_attempts_and_can_be_revived,
    many_leases_at_once_and_a_stale_one_beside_its_successor,
    next_wake_up_is_the_earliest_live_row_of_each_kind,
    requeue_leaves_work_under_way_alone,
    start_up_frees_only_other_processes_leases,
    shutdown_hands_back_only_this_processs_leases,
);
