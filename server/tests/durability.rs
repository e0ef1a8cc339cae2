//! Kill the real server with SIGKILL while deliveries are in flight, start it
//! again on the same database, and check that every event still reaches the
//! receiver (at least once, same webhook-id on repeats) — on SQLite and PostgreSQL.
//! And the same for a workflow waiting on its timer: it completes once.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use domain::testing::{TempDir, TestDb};
use support::{admin_key, receiver, BIN, MASTER_KEY};

/// An admin API key made by the binary, and a free port with its base URL.
fn admin_key_and_port(db: &TestDb, data: &TempDir, name: &str) -> (String, u16, String) {
    let port = support::port();
    (admin_key(&db.url, data, name), port, format!("http://127.0.0.1:{port}"))
}

fn spawn_server(db_url: &str, data: &TempDir, port: u16) -> Child {
    spawn_server_with(db_url, data, port, &[])
}

fn spawn_server_with(db_url: &str, data: &TempDir, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .arg("serve")
        .envs(env.iter().copied())
        .env("DATABASE_URL", db_url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_MASTER_KEY", MASTER_KEY)
        .env("PURPLE_CROSS_BIND", format!("127.0.0.1:{port}"))
        .env("PURPLE_CROSS_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
        .env("PURPLE_CROSS_LEASE_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start purple-cross")
}

async fn wait_ready(base: &str) {
    support::ready(base, Duration::from_secs(30)).await
}

const EVENTS: usize = 150;

async fn sigkill_with_deliveries_in_flight_loses_nothing(db: TestDb) {
    let data = TempDir::new("kill");
    let (key, port, base) = admin_key_and_port(&db, &data, "kill-test");
    // Slow enough that many deliveries are in flight when the server dies.
    let (url, seen) = receiver(Duration::from_millis(40)).await;

    let mut server = spawn_server(&db.url, &data, port);
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "durable", "url": url, "events": ["invoice.paid"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}: {}", db.name, created.text().await.unwrap());
    for n in 0..EVENTS {
        let r = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"type": "invoice.paid", "data": {"id": format!("inv_{n}"), "n": n}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    // Kill it mid-stream: some delivered, some in flight, most still queued.
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    unsafe_sigkill(&mut server);
    let at_kill = seen.lock().unwrap().len();
    assert!(at_kill < EVENTS, "{}: the kill came too late to prove anything ({at_kill})", db.name);

    let mut server = spawn_server(&db.url, &data, port);
    wait_ready(&base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(seen_now.len(), EVENTS, "{}: every event delivered after the crash (had {at_kill} at kill)", db.name);
    assert!(seen_now.values().all(|ids| ids.len() == 1), "{}: a repeat re-sends the same webhook-id", db.name);
    let _ = server.kill();
    let _ = server.wait();
}

/// Messages an SMTP sink received: recipients and text.
type Mail = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A real SMTP conversation's far end: records each message's recipients and text.
async fn smtp_sink() -> (u16, Mail) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let got: Mail = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let got = sink.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            got.lock().unwrap().push((std::mem::take(&mut rcpt), std::mem::take(&mut data)));
                            in_data = false;
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "RCPT" => {
                            rcpt.push(line.trim_start_matches(|c| c != '<').trim_matches(['<', '>']).to_string());
                            b"250 ok\r\n"
                        }
                        "DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

async fn json_of(r: reqwest::Response) -> serde_json::Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The seed's usage example over REST, with its wait cut to 2 s: the server
/// is SIGKILLed during the wait and started again; the email goes out once,
/// through a real SMTP conversation, and is in the outbox once.
async fn sigkill_during_a_wait_completes_once_after_restart(db: TestDb) {
    let data = TempDir::new("kill-wait");
    let (key, port, base) = admin_key_and_port(&db, &data, "kill-wait");
    let (smtp_port, mail) = smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let env = [("PURPLE_CROSS_SMTP_URL", smtp.as_str())];

    let mut server = spawn_server_with(&db.url, &data, port, &env);
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}/api/v1{path}")).bearer_auth(&key).json(&body).send()
    };
    let owner = json_of(
        post("/records/client", serde_json::json!({"firstName": "Ann", "lastName": "Roe", "email": "ann@example.com"}))
            .await
            .unwrap(),
    )
    .await;
    let patient = json_of(
        post("/records/patient", serde_json::json!({"name": "Bella", "species": "dog", "ownerId": owner["id"]}))
            .await
            .unwrap(),
    )
    .await;
    let appointment = json_of(
        post(
            "/records/appointment",
            serde_json::json!({"patientId": patient["id"], "vetName": "Dr Vale",
            "startsAt": "2030-01-01T10:00:00Z", "durationMinutes": 30, "reason": "Check-up"}),
        )
        .await
        .unwrap(),
    )
    .await;
    let template = json_of(
        post("/workflow-templates", serde_json::json!({
            "name": "Patient Follow-up",
            "description": "Send follow-up email after appointment",
            "category": "patient_care",
            "triggerType": "event",
            "triggerConfig": { "event": "appointment.completed" },
            "actions": [
                { "id": "action-1", "type": "wait", "name": "Wait 2 seconds", "config": { "duration": 2000 } },
                { "id": "action-2", "type": "send_email", "name": "Send follow-up email",
                  "config": { "to": "{{patient.owner.email}}", "subject": "Follow-up on {{patient.name}}", "template": "patient_followup" } }
            ],
            "isPublic": false
        }))
        .await
        .unwrap(),
    )
    .await;
    let run = post(
        &format!("/workflow-templates/{}/execute", template["id"].as_str().unwrap()),
        serde_json::json!({"triggerData": {"patientId": patient["id"], "appointmentId": appointment["id"]}}),
    )
    .await
    .unwrap();
    assert_eq!(run.status(), 202);
    let run = json_of(run).await;
    let execution = format!("{base}/api/v1/workflow-executions/{}", run["executionId"].as_str().unwrap());
    let status = || async {
        json_of(http.get(&execution).bearer_auth(&key).send().await.unwrap()).await["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while status().await != "waiting" {
        assert!(Instant::now() < deadline, "{}: the execution never reached its wait", db.name);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unsafe_sigkill(&mut server);
    // The wait ends while the server is down.
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let mut server = spawn_server_with(&db.url, &data, port, &env);
    wait_ready(&base).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while status().await != "completed" || mail.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "{}: the execution did not complete after the restart", db.name);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = mail.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{}: the email was sent exactly once", db.name);
    assert_eq!(sent[0].0, ["ann@example.com"], "to the owner of that patient");
    assert!(sent[0].1.contains("Follow-up on Bella"), "{}", sent[0].1);
    assert!(sent[0].1.contains("@purple-cross>"), "a Message-ID from the outbox id: {}", sent[0].1);
    let outbox = json_of(http.get(format!("{base}/api/v1/outbox")).bearer_auth(&key).send().await.unwrap()).await;
    assert_eq!(outbox.as_array().unwrap().len(), 1);
    assert_eq!(outbox[0]["status"], "sent");
    let _ = server.kill();
    let _ = server.wait();
}

/// A receiver that records each `webhook-id` and then hangs until `answer` turns true.
async fn hanging_receiver() -> (String, Arc<Mutex<Vec<String>>>, Arc<std::sync::atomic::AtomicBool>) {
    type S = (Arc<Mutex<Vec<String>>>, Arc<std::sync::atomic::AtomicBool>);
    let state: S = Default::default();
    async fn hook(State((ids, answer)): State<S>, headers: HeaderMap) -> &'static str {
        ids.lock().unwrap().push(headers["webhook-id"].to_str().unwrap().to_string());
        while !answer.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        "ok"
    }
    let app = Router::new().route("/hook", post(hook)).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), state.0, state.1)
}

/// SIGTERM while a delivery hangs on its receiver: the process exits within
/// `--shutdown-seconds`, and the delivery is sent again after a restart with
/// the same `webhook-id` (the lease was handed back, so at once, on PostgreSQL too).
async fn sigterm_exits_within_the_deadline_and_loses_nothing(db: TestDb) {
    let data = TempDir::new("term");
    let (key, port, base) = admin_key_and_port(&db, &data, "term-test");
    let (url, ids, answer) = hanging_receiver().await;
    let env = [("PURPLE_CROSS_SHUTDOWN_SECONDS", "2"), ("PURPLE_CROSS_REQUEST_TIMEOUT", "60")];
    let mut server = spawn_server_with(&db.url, &data, port, &env);
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "hangs", "url": url, "events": ["invoice.paid"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", db.name);
    let r = http
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"type": "invoice.paid", "data": {"invoiceId": "inv_1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while ids.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "{}: the delivery never reached the receiver", db.name);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let term = Instant::now();
    let sent = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(sent.success());
    loop {
        if server.try_wait().unwrap().is_some() {
            break;
        }
        assert!(term.elapsed() < Duration::from_secs(30), "{}: still running 30 s after SIGTERM", db.name);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = term.elapsed();
    // Without the deadline the exit would wait out the hanging request (60 s);
    // the bound leaves a loaded machine room for the teardown after the 2 s.
    assert!(took < Duration::from_secs(15), "{}: exit took {took:?} with a 2 s deadline", db.name);

    answer.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut server = spawn_server_with(&db.url, &data, port, &env);
    wait_ready(&base).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while ids.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "{}: the delivery was not sent again after the restart", db.name);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = ids.lock().unwrap().clone();
    assert_eq!(seen[0], seen[1], "{}: the retry carries the same webhook-id", db.name);
    let _ = server.kill();
    let _ = server.wait();
}

fn unsafe_sigkill(child: &mut Child) {
    // Child::kill sends SIGKILL on Unix: no graceful shutdown, no flushing.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

domain::per_backend!(
    sigkill_with_deliveries_in_flight_loses_nothing,
    sigkill_during_a_wait_completes_once_after_restart,
    sigterm_exits_within_the_deadline_and_loses_nothing
);
