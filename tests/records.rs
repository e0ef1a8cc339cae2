//! Practice records, one test per database: validation naming fields,
//! optimistic concurrency, transitions and the events they emit in the same
//! transaction, relations embedded, soft delete, runaway chains, the
//! overdue check across instances, filters and keyset pages.

mod common;

use std::time::Duration;

use common::{admin, eventually, staff, test_settings, Harness};
use domain::records::service::to_record;
use domain::records::{Cause, Entity, RecordQuery, TransitionInput};
use domain::store::with_pool;
use domain::testing::TestDb;
use domain::{Error, Services};
use serde_json::{json, Value};

async fn bare(db: &TestDb) -> Services {
    let s = db.services().await.unwrap();
    s.seed_event_types().await.unwrap();
    Services::with_settings(s.db.clone(), s.master_key.clone(), test_settings(), common::loopback_allowed())
}

fn none() -> Cause {
    Cause::default()
}

fn fields(err: Result<impl std::fmt::Debug, Error>) -> Vec<String> {
    match err {
        Err(Error::Validation(errs)) => errs.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn client(s: &Services) -> domain::records::Record {
    let f = json!({"firstName": "Sam", "lastName": "Lee", "email": "sam@example.com"});
    s.create_record(&staff(), Entity::Client, f, &none()).await.unwrap()
}

async fn patient(s: &Services, owner: &str) -> domain::records::Record {
    let f = json!({"name": "Bella", "species": "dog", "ownerId": owner});
    s.create_record(&staff(), Entity::Patient, f, &none()).await.unwrap()
}

async fn event_types(s: &Services, entity: Entity, id: &str) -> Vec<String> {
    let mut t: Vec<String> =
        s.record_events(&staff(), entity, id).await.unwrap().into_iter().map(|e| e.event_type).collect();
    t.reverse();
    t
}

/// The data of the newest event about `id`.
async fn last_event_data(s: &Services, id: &str) -> Value {
    let data: String = with_pool!(&s.db, pool => sqlx::query_scalar(
        "SELECT data FROM events WHERE record_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
        .bind(id).fetch_one(pool).await)
    .unwrap();
    serde_json::from_str(&data).unwrap()
}

async fn count(s: &Services, sql: &str) -> i64 {
    with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn validation_errors_name_fields_and_write_nothing(db: TestDb) {
    let s = bare(&db).await;
    let bad =
        s.create_record(&staff(), Entity::Patient, json!({"species": "dog", "ownerId": "cli_nobody"}), &none()).await;
    assert_eq!(fields(bad), ["name"], "{}: the schema first", db.name);
    let orphan = s
        .create_record(
            &staff(),
            Entity::Patient,
            json!({"name": "B", "species": "dog", "ownerId": "cli_nobody"}),
            &none(),
        )
        .await;
    assert_eq!(fields(orphan), ["ownerId"], "then the relations");
    let c = client(&s).await;
    let line = json!({"clientId": c.id, "currency": "GBP", "dueDate": "2026-12-24", "lines": [{"description": "Exam", "quantity": 0, "unitPrice": 10}]});
    assert_eq!(fields(s.create_record(&staff(), Entity::Invoice, line, &none()).await), ["lines[0].quantity"]);
    let total = json!({"clientId": c.id, "currency": "GBP", "dueDate": "2026-12-24", "total": 5, "lines": []});
    assert!(fields(s.create_record(&staff(), Entity::Invoice, total, &none()).await).contains(&"total".to_string()));
    assert_eq!(count(&s, "SELECT COUNT(*) FROM records").await, 1, "only the client was written");
    assert_eq!(count(&s, "SELECT COUNT(*) FROM events").await, 1, "and only its event");
    let q =
        RecordQuery { limit: Some(0), sort: Some("name".into()), cursor: Some("x".into()), ..RecordQuery::default() };
    assert_eq!(fields(s.list_records(&staff(), Entity::Patient, &q).await), ["limit", "sort", "cursor"]);
}

async fn a_stale_update_gets_409_and_changes_nothing(db: TestDb) {
    let s = bare(&db).await;
    let c = client(&s).await;
    let v2 =
        s.update_record(&staff(), Entity::Client, &c.id, json!({"phone": "+44 1"}), Some(1), &none()).await.unwrap();
    assert_eq!((v2.version, v2.str("phone")), (2, Some("+44 1")), "{}", db.name);
    match s.update_record(&staff(), Entity::Client, &c.id, json!({"phone": "+44 2", "version": 1}), None, &none()).await
    {
        Err(Error::Conflict(m)) => assert!(m.contains("version 2"), "{m}"),
        other => panic!("a stale version must be refused, got {other:?}"),
    }
    let now = s.get_record(&staff(), Entity::Client, &c.id, None).await.unwrap();
    assert_eq!((now.version, now.str("phone")), (2, Some("+44 1")), "unchanged");
    assert_eq!(
        fields(s.update_record(&staff(), Entity::Client, &c.id, json!({"phone": "x"}), None, &none()).await),
        ["version"]
    );
    assert_eq!(event_types(&s, Entity::Client, &c.id).await, ["client.created", "client.updated"]);
    let changes = last_event_data(&s, &c.id).await["changes"].clone();
    assert_eq!(changes, json!({"phone": {"from": null, "to": "+44 1"}}));
    // An update that changes nothing writes nothing.
    let same =
        s.update_record(&staff(), Entity::Client, &c.id, json!({"phone": "+44 1"}), Some(2), &none()).await.unwrap();
    assert_eq!(same.version, 2);
    assert_eq!(event_types(&s, Entity::Client, &c.id).await.len(), 2);
}

async fn each_transition_emits_exactly_its_event_once(db: TestDb) {
    let s = bare(&db).await;
    let hook = serde_json::from_value(
        json!({"name": "Done", "url": "http://127.0.0.1:9/x", "events": ["appointment.completed"]}),
    )
    .unwrap();
    s.create_webhook(&admin(), hook).await.unwrap();
    let c = client(&s).await;
    let p = patient(&s, &c.id).await;
    let apt = s
        .create_record(
            &staff(),
            Entity::Appointment,
            json!({"patientId": p.id, "vetName": "Dr Shah", "startsAt": "2026-12-02T10:00:00Z"}),
            &none(),
        )
        .await
        .unwrap();
    assert_eq!(apt.str("status"), Some("scheduled"), "{}", db.name);
    let done = s
        .transition(&staff(), Entity::Appointment, &apt.id, "complete", TransitionInput::default(), &none())
        .await
        .unwrap();
    assert_eq!(done.str("status"), Some("completed"));
    assert!(matches!(
        s.transition(&staff(), Entity::Appointment, &apt.id, "complete", TransitionInput::default(), &none()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(event_types(&s, Entity::Appointment, &apt.id).await, ["appointment.created", "appointment.completed"]);
    let events = s.record_events(&staff(), Entity::Appointment, &apt.id).await.unwrap();
    assert_eq!(events[0].deliveries.len(), 1, "the completed event was delivered to its subscriber");

    let inv = s
        .create_record(
            &staff(),
            Entity::Invoice,
            json!({"clientId": c.id, "currency": "GBP", "dueDate": "2099-01-01",
            "lines": [{"description": "Exam", "quantity": 2, "unitPrice": 4550}]}),
            &none(),
        )
        .await
        .unwrap();
    assert_eq!(inv.fields["total"], 9100, "computed in minor units");
    s.transition(&staff(), Entity::Invoice, &inv.id, "send", TransitionInput::default(), &none()).await.unwrap();
    s.transition(&staff(), Entity::Invoice, &inv.id, "pay", TransitionInput::default(), &none()).await.unwrap();
    assert_eq!(event_types(&s, Entity::Invoice, &inv.id).await, ["invoice.created", "invoice.paid"]);
    assert!(s.db.due_row("invoice_overdue", &inv.id).await.unwrap().is_none(), "paying cancels the overdue check");

    let lab =
        s.create_record(&staff(), Entity::LabTest, json!({"patientId": p.id, "test": "CBC"}), &none()).await.unwrap();
    assert_eq!(
        fields(s.transition(&staff(), Entity::LabTest, &lab.id, "complete", TransitionInput::default(), &none()).await),
        ["result"]
    );
    let input = TransitionInput { result: Some("WBC high".into()), abnormal: Some(true), ..TransitionInput::default() };
    s.transition(&staff(), Entity::LabTest, &lab.id, "complete", input, &none()).await.unwrap();
    assert_eq!(event_types(&s, Entity::LabTest, &lab.id).await, ["lab_test.ordered", "lab_test.completed"]);
    assert_eq!(last_event_data(&s, &lab.id).await["labTest"]["abnormal"], true);

    let rx = s
        .create_record(
            &staff(),
            Entity::Prescription,
            json!({"patientId": p.id, "drug": "Carprofen", "dosage": "1 daily", "refillsRemaining": 1}),
            &none(),
        )
        .await
        .unwrap();
    let refilled = s
        .transition(&staff(), Entity::Prescription, &rx.id, "refill", TransitionInput::default(), &none())
        .await
        .unwrap();
    assert_eq!(
        (refilled.fields["refillsRemaining"].clone(), refilled.fields["refills"].as_array().unwrap().len()),
        (json!(0), 1)
    );
    match s.transition(&staff(), Entity::Prescription, &rx.id, "refill", TransitionInput::default(), &none()).await {
        Err(Error::Conflict(m)) => assert!(m.contains("no refills remaining"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(event_types(&s, Entity::Prescription, &rx.id).await, ["prescription.created", "prescription.refilled"]);
    assert!(matches!(
        s.transition(&staff(), Entity::Prescription, &rx.id, "complete", TransitionInput::default(), &none()).await,
        Err(Error::NotFound(_))
    ));
}

async fn a_failed_write_leaves_neither_record_nor_event(db: TestDb) {
    let s = bare(&db).await;
    // The event's insert fails (a trigger stands in for any failure after the record was written).
    let ddl: &[&str] = if db.name == "sqlite" {
        &["CREATE TRIGGER fail_marker BEFORE INSERT ON events WHEN NEW.data LIKE '%MAKE-IT-FAIL%'
           BEGIN SELECT RAISE(ABORT, 'the event insert failed'); END"]
    } else {
        &[
            "CREATE FUNCTION fail_marker() RETURNS trigger AS $$ BEGIN
               IF NEW.data LIKE '%MAKE-IT-FAIL%' THEN RAISE EXCEPTION 'the event insert failed'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_marker BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION fail_marker()",
        ]
    };
    for sql in ddl {
        with_pool!(&s.db, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
    }
    let r =
        s.create_record(&staff(), Entity::Client, json!({"firstName": "MAKE-IT-FAIL", "lastName": "X"}), &none()).await;
    assert!(r.is_err(), "{}", db.name);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM records").await, 0, "{}: no record without its event", db.name);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM events").await, 0);
    client(&s).await;
    assert_eq!(count(&s, "SELECT COUNT(*) FROM records").await, 1);
}

async fn relations_are_embedded_as_the_schema_says(db: TestDb) {
    let s = bare(&db).await;
    let c = client(&s).await;
    let p = patient(&s, &c.id).await;
    let apt = s
        .create_record(
            &staff(),
            Entity::Appointment,
            json!({"patientId": p.id, "vetName": "Dr Shah", "startsAt": "2026-12-02T10:00:00Z", "reason": "Vaccines"}),
            &none(),
        )
        .await
        .unwrap();
    let data = last_event_data(&s, &apt.id).await;
    assert_eq!(data["patient"]["owner"]["email"], "sam@example.com", "{}", db.name);
    assert_eq!(
        (data["appointmentId"].clone(), data["patientId"].clone(), data["clientId"].clone()),
        (json!(apt.id), json!(p.id), json!(c.id))
    );
    let schema = domain::events::catalog::schema_for("appointment");
    assert!(domain::events::ingest::schema_errors(&schema, &data).is_empty(), "{data}");
    let got = s.get_record(&staff(), Entity::Appointment, &apt.id, Some("patient,owner")).await.unwrap();
    assert_eq!(got.fields["patient"]["owner"]["firstName"], "Sam");
    let pats = s
        .list_records(
            &staff(),
            Entity::Patient,
            &RecordQuery { client_id: Some(c.id.clone()), expand: Some("owner".into()), ..RecordQuery::default() },
        )
        .await
        .unwrap();
    assert_eq!(pats.data[0].fields["owner"]["lastName"], "Lee");
    let related = s.related_records(&staff(), &c.id).await.unwrap();
    assert_eq!(related.len(), 2, "the client's patient and appointment: {related:?}");
}

async fn soft_delete_hides_and_restore_brings_back(db: TestDb) {
    let s = bare(&db).await;
    let c = client(&s).await;
    let p = patient(&s, &c.id).await;
    assert!(
        matches!(s.delete_record(&staff(), Entity::Patient, &p.id, None).await, Err(Error::Forbidden(_))),
        "{}",
        db.name
    );
    s.delete_record(&admin(), Entity::Patient, &p.id, None).await.unwrap();
    let listed = s.list_records(&staff(), Entity::Patient, &RecordQuery::default()).await.unwrap();
    assert!(listed.data.is_empty(), "lists hide deleted records");
    let with_deleted = RecordQuery { include_deleted: Some(true), ..RecordQuery::default() };
    assert!(matches!(s.list_records(&staff(), Entity::Patient, &with_deleted).await, Err(Error::Forbidden(_))));
    assert_eq!(s.list_records(&admin(), Entity::Patient, &with_deleted).await.unwrap().data.len(), 1);
    assert!(s.get_record(&staff(), Entity::Patient, &p.id, None).await.unwrap().deleted_at.is_some());
    assert_eq!(event_types(&s, Entity::Patient, &p.id).await, ["patient.created", "patient.deleted"]);
    let orphan = s
        .create_record(
            &staff(),
            Entity::Appointment,
            json!({"patientId": p.id, "vetName": "Dr", "startsAt": "2026-12-02T10:00:00Z"}),
            &none(),
        )
        .await;
    assert_eq!(fields(orphan), ["patientId"], "a deleted patient takes no appointments");
    let back = s.restore_record(&admin(), Entity::Patient, &p.id).await.unwrap();
    assert!(back.deleted_at.is_none());
    assert_eq!(s.list_records(&staff(), Entity::Patient, &RecordQuery::default()).await.unwrap().data.len(), 1);
}

async fn a_runaway_chain_is_refused(db: TestDb) {
    let s = bare(&db).await;
    let c = client(&s).await;
    let chain = |n: usize| Cause { chain: (1..=n).map(|i| format!("exe_{i}")).collect() };
    let ok = s.update_record(&staff(), Entity::Client, &c.id, json!({"phone": "1"}), Some(1), &chain(4)).await;
    assert!(ok.is_ok(), "{}: four runs deep is fine", db.name);
    match s.update_record(&staff(), Entity::Client, &c.id, json!({"phone": "2"}), Some(2), &chain(5)).await {
        Err(Error::Conflict(m)) => {
            assert!(m.contains("exe_1 → exe_2 → exe_3 → exe_4 → exe_5") && m.contains("limit is 5"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let cause: Option<String> = with_pool!(&s.db, pool => sqlx::query_scalar(
        "SELECT cause FROM events WHERE type = 'client.updated'").fetch_one(pool).await)
    .unwrap();
    assert_eq!(cause.as_deref(), Some(r#"["exe_1","exe_2","exe_3","exe_4"]"#), "the event carries its cause chain");
}

async fn invoice_overdue_is_emitted_once_across_two_instances(db: TestDb) {
    let a = Harness::new(&db, test_settings(), None).await;
    let b = Harness::new(&db, test_settings(), None).await;
    let c = client(&a.services).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let inv = a
            .services
            .create_record(
                &staff(),
                Entity::Invoice,
                json!({"clientId": c.id, "currency": "GBP", "dueDate": "2026-01-0".to_string() + &(n + 1).to_string(),
                "lines": [{"description": "Exam", "quantity": 1, "unitPrice": 100}]}),
                &none(),
            )
            .await
            .unwrap();
        // Sent long after its due date: the check is due at once, on both instances.
        let s = if n % 2 == 0 { &a.services } else { &b.services };
        s.transition(&staff(), Entity::Invoice, &inv.id, "send", TransitionInput::default(), &none()).await.unwrap();
        ids.push(inv.id);
    }
    let s = a.services.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let s = s.clone();
            async move { count(&s, "SELECT COUNT(*) FROM due_work WHERE kind = 'invoice_overdue'").await == 0 }
        })
        .await,
        "{}: every check ran",
        db.name
    );
    assert_eq!(
        count(&a.services, "SELECT COUNT(*) FROM events WHERE type = 'invoice.overdue'").await,
        5,
        "{}: once each",
        db.name
    );
    for id in &ids {
        let inv = a.services.get_record(&staff(), Entity::Invoice, id, None).await.unwrap();
        assert!(inv.str("overdueAt").is_some());
        assert_eq!(last_event_data(&a.services, id).await["client"]["id"], json!(c.id));
    }
    a.shutdown().await;
    b.shutdown().await;
}

async fn lists_filter_and_page_by_keyset(db: TestDb) {
    let s = bare(&db).await;
    let c = client(&s).await;
    let (p1, p2) = (patient(&s, &c.id).await, patient(&s, &c.id).await);
    for n in 0..24 {
        let p = if n % 2 == 0 { &p1 } else { &p2 };
        let starts = format!("2026-12-{:02}T09:00:00Z", n + 1);
        let a = s
            .create_record(
                &staff(),
                Entity::Appointment,
                json!({"patientId": p.id, "vetName": "Dr", "startsAt": starts}),
                &none(),
            )
            .await
            .unwrap();
        if n < 3 {
            s.transition(&staff(), Entity::Appointment, &a.id, "cancel", TransitionInput::default(), &none())
                .await
                .unwrap();
        }
    }
    let q = |f: RecordQuery| {
        let s = s.clone();
        async move { s.list_records(&staff(), Entity::Appointment, &f).await.unwrap() }
    };
    assert_eq!(
        q(RecordQuery { patient_id: Some(p1.id.clone()), limit: Some(100), ..Default::default() }).await.data.len(),
        12,
        "{}",
        db.name
    );
    assert_eq!(q(RecordQuery { status: Some("cancelled".into()), ..Default::default() }).await.data.len(), 3);
    let window = q(RecordQuery {
        from: Some("2026-12-05".into()),
        to: Some("2026-12-08".into()),
        sort: Some("at".into()),
        ..Default::default()
    })
    .await;
    let days: Vec<&str> = window.data.iter().map(|r| &r.str("startsAt").unwrap()[..10]).collect();
    assert_eq!(days, ["2026-12-05", "2026-12-06", "2026-12-07"]);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page =
            q(RecordQuery { sort: Some("at".into()), limit: Some(10), cursor: cursor.clone(), ..Default::default() })
                .await;
        seen.extend(page.data.iter().map(|r| r.str("startsAt").unwrap().to_string()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!((seen.len(), seen == sorted), (24, true), "keyset pages walk the whole list in order");
    let found = q(RecordQuery { search: Some("BELLA".into()), ..Default::default() }).await;
    assert!(found.data.is_empty(), "appointments are searched by reason and vet");
    let pats = s
        .list_records(&staff(), Entity::Patient, &RecordQuery { search: Some("bella".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(pats.data.len(), 2);
    let _ = to_record;
}

async fn the_demo_fills_an_empty_database_and_refuses_a_full_one(db: TestDb) {
    let s = bare(&db).await;
    assert!(matches!(s.load_demo(&staff(), "http://127.0.0.1:3000", false).await, Err(Error::Forbidden(_))));
    let sum = s.load_demo(&admin(), "http://127.0.0.1:3000", false).await.unwrap();
    assert_eq!((sum.clients, sum.patients, sum.appointments, sum.webhooks), (20, 30, 40, 2), "{}", db.name);
    assert!(sum.invoices > 5 && sum.lab_tests == 8 && sum.prescriptions == 6, "{sum:?}");
    let counts: std::collections::BTreeMap<String, i64> = s.db.record_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["client"], 20);
    assert_eq!(count(&s, "SELECT COUNT(*) FROM events WHERE type = 'client.created'").await, 20);
    assert!(count(&s, "SELECT COUNT(*) FROM events WHERE type = 'appointment.completed'").await > 5);
    let overdue_checks = count(&s, "SELECT COUNT(*) FROM due_work WHERE kind = 'invoice_overdue'").await;
    assert!(overdue_checks > 0, "sent, unpaid invoices wait for their overdue check");
    assert!(count(&s, "SELECT COUNT(*) FROM webhook_deliveries").await > 50, "the demo webhooks get the events");
    assert_eq!(sum.workflows, 4);
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM workflow_executions WHERE workflow_name = 'Appointment reminder'").await,
        40,
        "each appointment's creation started its reminder"
    );
    assert_eq!(
        count(&s, "SELECT COUNT(*) FROM due_work WHERE kind = 'workflow_schedule'").await,
        1,
        "the weekly schedule waits"
    );
    match s.load_demo(&admin(), "http://127.0.0.1:3000", false).await {
        Err(Error::Conflict(m)) => assert!(m.contains("--force"), "{m}"),
        other => panic!("a full database must be refused, got {other:?}"),
    }
    assert_eq!(
        s.load_demo(&admin(), "http://127.0.0.1:3000", true).await.unwrap().workflows,
        0,
        "templates are not doubled"
    );
    assert_eq!(s.db.record_counts().await.unwrap().into_iter().find(|(e, _)| e == "client").unwrap().1, 40);
}

/// Each write's transaction reads the subscribers and workflow templates of
/// its event on its own connection when they are not cached: 64 writers on a
/// cold cache once held all of PostgreSQL's 16 connections, each waiting for a
/// second one, until the pool timed out and every request got a 503.
async fn many_writers_on_a_cold_cache_all_commit(db: TestDb) {
    let s = bare(&db).await;
    let hook =
        serde_json::from_value(json!({"name": "All", "url": "http://127.0.0.1:9/x", "events": ["client.created"]}))
            .unwrap();
    // Creating the webhook empties the cache: every writer below misses it at first.
    s.create_webhook(&admin(), hook).await.unwrap();
    let writers: Vec<_> = (0..64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let f = json!({"firstName": format!("C{i}"), "lastName": "Cold", "email": format!("c{i}@example.com")});
                s.create_record(&staff(), Entity::Client, f, &none()).await
            })
        })
        .collect();
    for w in writers {
        let created = tokio::time::timeout(Duration::from_secs(60), w).await.expect("a writer hung").unwrap();
        assert!(created.is_ok(), "{}: {created:?}", db.name);
    }
    let deliveries: i64 = with_pool!(&s.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries")
        .fetch_one(pool).await)
    .unwrap();
    assert_eq!(deliveries, 64, "one delivery per event");

    // Transitions read the records they refer to inside their transaction too.
    let p = patient(&s, &client(&s).await.id).await;
    let mut appointments = Vec::new();
    for i in 0..64 {
        let f =
            json!({"patientId": p.id, "vetName": "Dr Shah", "startsAt": format!("2026-12-02T10:{:02}:00Z", i % 60)});
        appointments.push(s.create_record(&staff(), Entity::Appointment, f, &none()).await.unwrap().id);
    }
    let hook = serde_json::from_value(
        json!({"name": "Done", "url": "http://127.0.0.1:9/x", "events": ["appointment.completed"]}),
    )
    .unwrap();
    s.create_webhook(&admin(), hook).await.unwrap();
    let writers: Vec<_> = appointments
        .into_iter()
        .map(|id| {
            let s = s.clone();
            tokio::spawn(async move {
                s.transition(&staff(), Entity::Appointment, &id, "complete", TransitionInput::default(), &none()).await
            })
        })
        .collect();
    for w in writers {
        let done = tokio::time::timeout(Duration::from_secs(60), w).await.expect("a writer hung").unwrap();
        assert!(done.is_ok(), "{}: {done:?}", db.name);
    }
}

domain::per_backend!(
    the_demo_fills_an_empty_database_and_refuses_a_full_one,
    validation_errors_name_fields_and_write_nothing,
    a_stale_update_gets_409_and_changes_nothing,
    each_transition_emits_exactly_its_event_once,
    a_failed_write_leaves_neither_record_nor_event,
    relations_are_embedded_as_the_schema_says,
    soft_delete_hides_and_restore_brings_back,
    a_runaway_chain_is_refused,
    invoice_overdue_is_emitted_once_across_two_instances,
    lists_filter_and_page_by_keyset,
    many_writers_on_a_cold_cache_all_commit,
);
