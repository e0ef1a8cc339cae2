//! A condition group (webhook payload filter, workflow condition) and the data
//! it is evaluated on, from one input split at the first 0xFF byte: parsing,
//! validating and evaluating never panic, and a group that validates
//! evaluates the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::condition::ConditionGroup;

fuzz_target!(|input: &[u8]| {
    let (group, data) = match input.iter().position(|b| *b == 0xFF) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &b"{}"[..]),
    };
    let Ok(group) = serde_json::from_slice::<ConditionGroup>(group) else { return };
    let data: serde_json::Value = serde_json::from_slice(data).unwrap_or(serde_json::Value::Null);
    let valid = group.validate("filter").is_ok();
    let first = group.evaluate(&data);
    if valid {
        assert_eq!(first, group.evaluate(&data), "evaluation is a function of the group and the data");
    }
});
