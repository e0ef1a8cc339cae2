//! The real binary: `keys create` from the command line, then the REST API
//! with and without that key, on SQLite and PostgreSQL.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::testing::{TempDir, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_purple-cross");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn cli(db_url: &str, data_dir: &TempDir, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("PURPLE_CROSS_DATA_DIR", &data_dir.0)
        .env("PURPLE_CROSS_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .output()
        .expect("run purple-cross")
}

async fn start_server(db_url: &str, data_dir: &TempDir) -> (Server, String) {
    let port = free_port();
    let child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("PURPLE_CROSS_DATA_DIR", &data_dir.0)
        .env("PURPLE_CROSS_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .env("PURPLE_CROSS_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start purple-cross serve");
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, base)
}

async fn cli_key_then_authorized_and_unauthorized_calls(db: TestDb) {
    let data = TempDir::new("cli");
    let out = cli(&db.url, &data, &["keys", "create", "--name", "ci", "--role", "admin"]);
    assert!(out.status.success(), "{}: {}", db.name, String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("pck_"), "last line is the key: {stdout}");

    let (_server, base) = start_server(&db.url, &data).await;
    let http = reqwest::Client::new();

    let ok = http.get(format!("{base}/api/v1/me")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(ok.status(), 200, "{}", db.name);
    let me: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(me["name"], "ci");
    assert_eq!(me["role"], "admin");

    for auth in [None, Some("pck_not-a-real-key"), Some("garbage")] {
        let mut req = http.get(format!("{base}/api/v1/me"));
        if let Some(k) = auth {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(problem["status"], 401);
        assert!(problem["detail"].as_str().unwrap().contains("Bearer"));
    }

    // Health endpoints need no credentials; pages redirect to the login.
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("purple_cross_http_requests_total"), "{metrics}");
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = no_redirect.get(format!("{base}/webhooks")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert!(page.headers()["location"].to_str().unwrap().starts_with("/login?next=%2Fwebhooks"));

    // A staff key cannot manage keys.
    let out = cli(&db.url, &data, &["keys", "create", "--name", "staffer", "--role", "staff"]);
    let staff_key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string();
    let forbidden = http.get(format!("{base}/api/v1/api-keys")).bearer_auth(&staff_key).send().await.unwrap();
    assert_eq!(forbidden.status(), 403);

    drop(_server);
}

#[tokio::test]
async fn users_create_refuses_bad_input_clearly() {
    let db = TestDb::sqlite().await;
    let data = TempDir::new("cli");
    let out = cli(&db.url, &data, &["users", "create", "--email", "nope", "--role", "admin", "--password", "short"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("email:") && err.contains("password:"), "{err}");
    let ok = cli(
        &db.url,
        &data,
        &["users", "create", "--email", "a@b.example", "--role", "staff", "--password", "long enough pw"],
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[tokio::test]
async fn first_run_setup_link_creates_the_admin_once() {
    use std::io::BufRead;
    let db = TestDb::sqlite().await;
    let data = TempDir::new("setup");
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let link = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_whitespace().find(|w| w.contains("/setup?token=")).map(str::to_string))
        .expect("serve prints the one-time setup link when no user exists");
    let token = link.split("token=").nth(1).unwrap().to_string();
    assert!(data.0.join("master.key").exists(), "the embedded run generates its master key");

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without users, the login page says how to begin.
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert!(page.headers()["location"].to_str().unwrap().contains("first_run=1"));

    let wrong = http
        .post(format!("{base}/setup"))
        .form(&[("token", "nope"), ("email", "a@b.example"), ("password", "long enough pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.headers()["location"], "/login?error=setup");
    let weak = http
        .post(format!("{base}/setup"))
        .form(&[("token", token.as_str()), ("email", "a@b.example"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert!(
        weak.headers()["location"].to_str().unwrap().contains("error="),
        "a weak password is refused with a message"
    );
    let ok = http
        .post(format!("{base}/setup"))
        .form(&[("token", token.as_str()), ("email", "first@clinic.example"), ("password", "long enough pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(ok.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
    let me = http.get(format!("{base}/api/v1/me")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<serde_json::Value>().await.unwrap()["role"], "admin");
    // The link works once.
    let again = http
        .post(format!("{base}/setup"))
        .form(&[("token", token.as_str()), ("email", "second@clinic.example"), ("password", "long enough pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["location"], "/login?error=setup");
    // A cross-site form post with the session cookie is refused.
    let csrf = http
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(csrf.status(), 403);
    drop(server);
}

domain::per_backend!(cli_key_then_authorized_and_unauthorized_calls,);
