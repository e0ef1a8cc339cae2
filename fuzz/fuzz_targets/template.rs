//! Any text as an action's template (every config string is one): checking
//! and rendering it, as text and as HTML, return a result and never panic,
//! hang or exhaust memory (libFuzzer's -timeout and -rss_limit_mb catch those).
#![no_main]

use domain::workflows::render;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|input: &[u8]| {
    // Built once: it holds only filters and settings.
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| render::environment(chrono_tz::Europe::London));
    let Ok(source) = std::str::from_utf8(input) else { return };
    let vars = serde_json::json!({
        "patient": {"name": "Pickle <b>", "owner": {"email": "a@example.com", "firstName": "Ada"}},
        "appointment": {"startsAt": "2026-12-03T09:30:00Z"},
        "amount": 1234,
        "steps": {"action-1": {"waitedUntil": "2026-12-04T09:30:00Z"}},
    });
    if render::check_syntax(env, source).is_ok() {
        let _ = render::render(env, source, &vars);
        let _ = render::render_html(env, source, &vars);
    }
});

