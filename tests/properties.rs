//! Property tests of the pure parts that take outside input: the signature
//! verifier, the retry schedule, the condition evaluator (payload filters and
//! workflow conditions), the template renderer and the cron parser. CI runs
//! the default 256 cases each; `PROPTEST_CASES=100000 cargo test --test
//! properties` runs a long session by hand.

use domain::signature;
use domain::workflows::{render, schedule};
use proptest::prelude::*;
use serde_json::{json, Value};
use wire::condition::{ConditionGroup, Operator};
use wire::retry::{RetryPolicy, Schedule};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[0-9]{1,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn condition_json() -> impl Strategy<Value = Value> {
    let condition = (
        "[a-c]{1,2}(\\.[a-c0-9]{1,2}){0,2}",
        prop::sample::select(Operator::ALL.to_vec()),
        prop::option::of(json_value()),
    )
        .prop_map(|(field, op, value)| json!({"field": field, "operator": op.as_str(), "value": value}));
    condition.prop_recursive(3, 16, 4, |inner| {
        (prop::sample::select(vec!["and", "or"]), prop::collection::vec(inner, 0..4))
            .prop_map(|(logic, conditions)| json!({"logic": logic, "conditions": conditions}))
    })
}

proptest! {
    #[test]
    fn a_signed_body_verifies_and_any_change_to_it_does_not(
        key in prop::collection::vec(any::<u8>(), 24..64),
        msg_id in "[a-zA-Z0-9_]{1,40}",
        body in prop::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
    ) {
        use base64::Engine;
        let secret = format!("{}{}", signature::SECRET_PREFIX, base64::engine::general_purpose::STANDARD.encode(&key));
        let now = 1_700_000_000;
        let header = signature::signature_header(&[&key], &msg_id, now, &body);
        prop_assert!(signature::verify(&secret, &msg_id, &now.to_string(), &header, &body, now, 300).is_ok());
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.index(body.len())] ^= 0x01;
            prop_assert!(signature::verify(&secret, &msg_id, &now.to_string(), &header, &changed, now, 300).is_err());
        }
        prop_assert!(signature::verify(&secret, &msg_id, &(now - 301).to_string(), &header, &body, now, 300).is_err());
    }

    #[test]
    fn the_verifier_never_panics_on_hostile_headers(
        secret in "\\PC{0,80}", id in "\\PC{0,40}", ts in "\\PC{0,24}", sig in "\\PC{0,200}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = signature::verify(&secret, &id, &ts, &sig, &body, 1_700_000_000, 300);
    }

    #[test]
    fn retry_waits_stay_within_the_policy(
        max_attempts in 1u32..30,
        base_ms in 100u64..600_000,
        factor in 1.0f64..10.0,
        cap_ms in 100u64..86_400_000,
        jitter in 0.0f64..1.0,
        unit in 0.0f64..1.0,
        attempt in 1u32..40,
    ) {
        let policy = RetryPolicy { max_attempts, schedule: Schedule::Exponential { base_ms, factor, cap_ms }, jitter };
        match policy.delay_before_attempt(attempt, unit) {
            None => prop_assert!(attempt > max_attempts),
            Some(0) if attempt == 1 => {}
            Some(wait) => {
                prop_assert!(attempt <= max_attempts);
                let ceiling = (base_ms as f64 * factor.powi(attempt as i32 - 2)).min(cap_ms as f64) * (1.0 + jitter);
                prop_assert!(wait as f64 <= ceiling.ceil() + 1.0, "{wait} > {ceiling}");
            }
        }
    }

    #[test]
    fn conditions_never_panic_and_validated_groups_evaluate(group in condition_json(), data in json_value()) {
        if let Ok(group) = serde_json::from_value::<ConditionGroup>(group) {
            let _ = group.validate("filter");
            let _ = group.evaluate(&data);
        }
    }

    #[test]
    fn a_field_always_equals_itself(key in "[a-c]{1,3}", value in scalar()) {
        let group: ConditionGroup = serde_json::from_value(json!({"logic": "and", "conditions": [
            {"field": key, "operator": "equals", "value": value}]})).unwrap();
        let data = json!({ key.clone(): value });
        prop_assert!(group.evaluate(&data), "{:?} on {}", group, data);
    }

    #[test]
    fn templates_render_or_fail_with_a_message_never_panic(source in "\\PC{0,60}", name in "\\PC{0,12}") {
        let env = render::environment(chrono_tz::Europe::London);
        let vars = json!({"patient": {"name": name, "owner": {"email": "a@example.com"}}, "amount": 1234});
        if render::check_syntax(&env, &source).is_ok() {
            let _ = render::render(&env, &source, &vars);
        }
        let braces = format!("{{{{ {source} }}}}");
        let _ = render::render(&env, &braces, &vars);
    }

    #[test]
    fn cron_parsing_never_panics_and_runs_move_forward(expr in "[0-9*/,\\- A-Z]{0,30}", from in 0i64..4_000_000_000_000) {
        if let Ok(cron) = schedule::parse(&expr) {
            let runs = schedule::next_runs(&cron, chrono_tz::Europe::London, from, 5);
            prop_assert!(runs.windows(2).all(|w| w[0] < w[1]), "{expr}: {runs:?}");
            prop_assert!(runs.first().is_none_or(|first| *first > from));
        }
    }
}
