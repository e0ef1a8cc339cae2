//! Notifications reach their audience only: the bell's count and "mark all
//! read" cover the caller's own notifications, not everyone's.

mod common;

use common::{admin, staff};
use domain::testing::TestDb;
use serde_json::json;

async fn the_bell_counts_and_clears_only_the_callers_notifications(db: TestDb) {
    let s = db.services().await.unwrap();
    let mut tx = s.db.begin().await.unwrap();
    domain::notifications::insert_for(&mut tx, "workflow", "for admins", "", None, None, 1).await.unwrap();
    let to_staff_user = json!({"users": ["staff@example.com"]});
    domain::notifications::insert_for(&mut tx, "workflow", "for one user", "", None, Some(&to_staff_user), 2)
        .await
        .unwrap();
    let to_staff_role = json!({"roles": ["staff"]});
    domain::notifications::insert_for(&mut tx, "workflow", "for staff", "", None, Some(&to_staff_role), 3)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let unread = |who| {
        let s = s.clone();
        async move { s.live_numbers(&who).await.unwrap().unread_notifications }
    };
    assert_eq!(unread(admin()).await, 1, "{}: the admin's bell counts what is addressed to admins", db.name);
    assert_eq!(unread(staff()).await, 2, "{}", db.name);
    assert_eq!(s.notifications(&staff(), 50).await.unwrap().len(), 2);

    s.mark_notifications_read(&staff(), None).await.unwrap();
    assert_eq!(unread(staff()).await, 0, "{}", db.name);
    assert_eq!(unread(admin()).await, 1, "{}: marking all read leaves other people's unread", db.name);
    let mine = s.notifications(&admin(), 50).await.unwrap();
    assert_eq!((mine.len(), mine[0].read), (1, false));
}

domain::per_backend!(the_bell_counts_and_clears_only_the_callers_notifications);
