//! Unsaved builder edits kept on the server: per person and template, never
//! live, overwritten as the person types, dropped on discard and with their
//! template; refused for staff, for non-objects and beyond the size limit.

mod common;

use common::{admin, staff, test_settings, Harness};
use domain::testing::TestDb;
use domain::workflows::TemplateInput;
use serde_json::json;

async fn drafts_are_kept_per_person_and_template(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let s = &h.services;
    let me = admin();
    let mut colleague = admin();
    colleague.id = "usr_colleague".into();

    // A new template's edits, before it was ever saved.
    assert_eq!(s.kept_draft(&me, None).await.unwrap(), None);
    let body = json!({"name": "Half done", "actions": []});
    s.keep_draft(&me, None, 0, &body).await.unwrap();
    let kept = s.kept_draft(&me, Some("new")).await.unwrap().expect("kept");
    assert_eq!((kept.base_version, &kept.body), (0, &body), "{}", db.name);
    assert_eq!(s.kept_draft(&colleague, None).await.unwrap(), None, "{}: drafts are their author's", db.name);

    // Typing on overwrites the one draft.
    let later = json!({"name": "Nearly done", "actions": [{"id": "a"}]});
    s.keep_draft(&me, None, 0, &later).await.unwrap();
    assert_eq!(s.kept_draft(&me, None).await.unwrap().unwrap().body, later);

    // An existing template's draft is not live: the template is unchanged.
    let t: TemplateInput = serde_json::from_value(json!({"name": "Live", "triggerType": "manual", "actions": [
        {"id": "n", "type": "send_notification", "config": {"title": "hi", "message": "hi"}}]}))
    .unwrap();
    let t = s.create_template(&me, t).await.unwrap();
    s.keep_draft(&me, Some(&t.id), t.version, &json!({"name": "Edited"})).await.unwrap();
    assert_eq!(s.get_template(&me, &t.id).await.unwrap().name, "Live", "{}", db.name);
    assert_eq!(s.kept_draft(&me, Some(&t.id)).await.unwrap().unwrap().base_version, t.version);

    // Refusals: staff, a missing template, a non-object, too big.
    assert_eq!(s.keep_draft(&staff(), None, 0, &body).await.unwrap_err().status(), 403);
    assert_eq!(s.kept_draft(&staff(), None).await.unwrap_err().status(), 403);
    assert_eq!(s.keep_draft(&me, Some("wft_missing"), 1, &body).await.unwrap_err().status(), 404);
    assert_eq!(s.keep_draft(&me, None, 0, &json!([1, 2])).await.unwrap_err().status(), 422);
    let huge = json!({"name": "x".repeat(domain::workflows::drafts::MAX_DRAFT_BYTES)});
    assert_eq!(s.keep_draft(&me, None, 0, &huge).await.unwrap_err().status(), 413);
    assert_eq!(
        s.kept_draft(&me, None).await.unwrap().unwrap().body,
        later,
        "{}: a refusal keeps the last draft",
        db.name
    );

    // Discarding drops it; deleting the template drops its drafts.
    s.discard_draft(&me, None).await.unwrap();
    assert_eq!(s.kept_draft(&me, None).await.unwrap(), None);
    s.delete_template(&me, &t.id).await.unwrap();
    let left = domain::store::with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM workflow_drafts").fetch_one(pool).await)
    .unwrap();
    assert_eq!(left, 0, "{}: nothing left behind", db.name);
    h.shutdown().await;
}

domain::per_backend!(drafts_are_kept_per_person_and_template);
