//! Conditions on JSON data, shared by webhook payload filters and workflow
//! condition steps.
//!
//! A condition names a field by dotted path (`patient.owner.email`,
//! `items.0.sku`), an operator and usually a value. Comparisons are forgiving
//! about the one mismatch that is everywhere in real payloads, numbers sent
//! as strings: `"5"` equals `5`. Anything that cannot be compared is simply
//! false, never an error, because a filter runs on every event and must not
//! fail deliveries over one odd payload.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::error::{Invalid, Validator};

/// How a field is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    GreaterThan,
    LessThan,
    /// Substring of a string, element of an array, or key of an object.
    Contains,
    NotContains,
    /// Missing, `null`, `""`, `[]` or `{}`.
    IsEmpty,
    IsNotEmpty,
}

impl Operator {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::GreaterThan => "greater_than",
            Operator::LessThan => "less_than",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::IsEmpty => "is_empty",
            Operator::IsNotEmpty => "is_not_empty",
        }
    }

    pub const ALL: [Operator; 8] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::GreaterThan,
        Operator::LessThan,
        Operator::Contains,
        Operator::NotContains,
        Operator::IsEmpty,
        Operator::IsNotEmpty,
    ];

    /// The operator named `name` in JSON.
    pub fn parse(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether the operator compares against a value.
    pub fn needs_value(self) -> bool {
        !matches!(self, Operator::IsEmpty | Operator::IsNotEmpty)
    }
}

/// One test of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// A dotted path into the data; numeric segments index arrays.
    pub field: String,
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// How the conditions of a group combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Logic {
    /// Every condition must hold.
    #[default]
    #[serde(rename = "AND", alias = "and")]
    And,
    /// At least one condition must hold.
    #[serde(rename = "OR", alias = "or")]
    Or,
}

/// Conditions (and nested groups) combined with AND or OR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConditionGroup {
    #[serde(default)]
    pub logic: Logic,
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub conditions: Vec<ConditionNode>,
}

/// A member of a group: a condition, or a group of its own (told apart by
/// its `conditions` list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ConditionNode {
    Group(ConditionGroup),
    Condition(Condition),
}

impl<'de> Deserialize<'de> for ConditionNode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Told apart by shape, so an error names what is wrong with the
        // condition rather than "matched no variant".
        let v = Value::deserialize(d)?;
        let is_group = v.as_object().is_some_and(|o| o.contains_key("conditions"));
        if is_group {
            ConditionGroup::deserialize(v).map(ConditionNode::Group).map_err(serde::de::Error::custom)
        } else {
            Condition::deserialize(v).map(ConditionNode::Condition).map_err(serde::de::Error::custom)
        }
    }
}

impl From<Condition> for ConditionNode {
    fn from(c: Condition) -> Self {
        ConditionNode::Condition(c)
    }
}

impl From<ConditionGroup> for ConditionNode {
    fn from(g: ConditionGroup) -> Self {
        ConditionNode::Group(g)
    }
}

/// Groups nest at most this deep.
pub const MAX_DEPTH: usize = 5;
/// A group tree holds at most this many conditions in all.
pub const MAX_CONDITIONS: usize = 100;

/// The value at a dotted `path` in `data`: object keys by name, array
/// elements by index (`items.0.sku`). An empty path names nothing.
pub fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.').try_fold(data, |current, segment| match current {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

impl Condition {
    /// Whether `data` satisfies the condition. A missing field fails every
    /// positive test and passes the negated ones (`not_equals`,
    /// `not_contains`, `is_empty`).
    pub fn evaluate(&self, data: &Value) -> bool {
        let actual = lookup(data, &self.field);
        // Validation insists on a value where one is needed; an unvalidated
        // condition without one compares against null.
        let expected = self.value.as_ref().unwrap_or(&Value::Null);
        match self.operator {
            Operator::Equals => actual.is_some_and(|a| loose_eq(a, expected)),
            Operator::NotEquals => !actual.is_some_and(|a| loose_eq(a, expected)),
            Operator::GreaterThan => actual.and_then(|a| compare(a, expected)) == Some(Ordering::Greater),
            Operator::LessThan => actual.and_then(|a| compare(a, expected)) == Some(Ordering::Less),
            Operator::Contains => actual.is_some_and(|a| contains(a, expected)),
            Operator::NotContains => !actual.is_some_and(|a| contains(a, expected)),
            Operator::IsEmpty => is_empty(actual),
            Operator::IsNotEmpty => !is_empty(actual),
        }
    }
}

impl ConditionNode {
    pub fn evaluate(&self, data: &Value) -> bool {
        match self {
            ConditionNode::Condition(c) => c.evaluate(data),
            ConditionNode::Group(g) => g.evaluate(data),
        }
    }
}

impl ConditionGroup {
    /// A group of plain conditions.
    pub fn all(logic: Logic, conditions: Vec<Condition>) -> Self {
        ConditionGroup { logic, conditions: conditions.into_iter().map(ConditionNode::from).collect() }
    }

    /// Whether `data` satisfies the group. An empty group matches everything,
    /// whatever its logic: no conditions means no filter.
    pub fn evaluate(&self, data: &Value) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        match self.logic {
            Logic::And => self.conditions.iter().all(|c| c.evaluate(data)),
            Logic::Or => self.conditions.iter().any(|c| c.evaluate(data)),
        }
    }

    /// Checks every condition has a usable field path and, where the operator
    /// needs one, a value, and that the tree stays within [`MAX_DEPTH`] and
    /// [`MAX_CONDITIONS`]. Errors are reported under
    /// `{field_prefix}.conditions[i].field` / `.value` (nested groups add
    /// their own `.conditions[j]`).
    pub fn validate(&self, field_prefix: &str) -> Result<(), Invalid> {
        let mut v = Validator::new();
        let mut count = 0;
        self.validate_into(field_prefix, 1, &mut count, &mut v);
        if count > MAX_CONDITIONS {
            let field =
                if field_prefix.is_empty() { "conditions".to_string() } else { format!("{field_prefix}.conditions") };
            v.push(field, format!("at most {MAX_CONDITIONS} conditions in all"));
        }
        v.finish()
    }

    fn validate_into(&self, prefix: &str, depth: usize, count: &mut usize, v: &mut Validator) {
        let here = |i: usize| {
            if prefix.is_empty() {
                format!("conditions[{i}]")
            } else {
                format!("{prefix}.conditions[{i}]")
            }
        };
        if depth > MAX_DEPTH {
            let field = if prefix.is_empty() { "conditions".to_string() } else { format!("{prefix}.conditions") };
            v.push(field, format!("groups nest at most {MAX_DEPTH} deep"));
            return;
        }
        for (i, node) in self.conditions.iter().enumerate() {
            let condition = match node {
                ConditionNode::Group(g) => {
                    g.validate_into(&here(i), depth + 1, count, v);
                    continue;
                }
                ConditionNode::Condition(c) => c,
            };
            *count += 1;
            if *count > MAX_CONDITIONS {
                return;
            }
            let name = |leaf: &str| format!("{}.{leaf}", here(i));
            let path = condition.field.trim();
            if path.is_empty() {
                v.push(name("field"), "is required");
            } else if path.split('.').any(str::is_empty) || path != condition.field {
                v.push(
                    name("field"),
                    "must be a dotted path such as patient.owner.email, without empty parts or surrounding spaces",
                );
            }
            let op = condition.operator;
            if op.needs_value() && condition.value.is_none() {
                v.push(
                    name("value"),
                    format!(
                        "is required for {} (use is_empty or is_not_empty to test for a missing or null field)",
                        op.as_str()
                    ),
                );
            }
        }
    }
}

/// A number, or a string holding one, as a JSON number. Strings that Rust
/// would read as `NaN` or `inf` are not numbers to a person.
fn as_number(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                Some(i.into())
            } else if let Ok(u) = s.parse::<u64>() {
                Some(u.into())
            } else {
                s.parse::<f64>().ok().and_then(Number::from_f64)
            }
        }
        _ => None,
    }
}

/// Orders two numbers exactly when both are integers (f64 loses precision
/// above 2^53, and ids are often large integers), else as floats.
fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// JSON equality, except that a number equals the same number written as a
/// string (or with a different representation, `5` and `5.0`), and a boolean
/// equals `"true"`/`"false"`. Strings otherwise compare exactly.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(_), _) | (_, Value::Number(_)) => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => cmp_numbers(&x, &y) == Some(Ordering::Equal),
            _ => false,
        },
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            s.trim() == if *x { "true" } else { "false" }
        }
        _ => a == b,
    }
}

/// Orders two values for greater_than / less_than: numerically when both
/// are numbers or numeric strings, as instants when both are RFC 3339
/// timestamps (so differing offsets compare correctly), else
/// lexicographically when both are strings. Anything else is unordered.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return cmp_numbers(&x, &y);
    }
    let (Value::String(x), Value::String(y)) = (a, b) else {
        return None;
    };
    let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s.trim()).ok();
    if let (Some(x), Some(y)) = (instant(x), instant(y)) {
        return Some(x.cmp(&y));
    }
    Some(x.cmp(y))
}

/// Substring of a string, element of an array (compared loosely), or key of
/// an object. Case-sensitive, like equals.
fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::String(s) => match needle {
            Value::String(n) => s.contains(n.as_str()),
            // "order-42" contains 42: the needle is written out as text.
            Value::Number(n) => s.contains(&n.to_string()),
            Value::Bool(b) => s.contains(&b.to_string()),
            _ => false,
        },
        Value::Array(items) => items.iter().any(|item| loose_eq(item, needle)),
        Value::Object(map) => needle.as_str().is_some_and(|key| map.contains_key(key)),
        _ => false,
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Bool(_) | Value::Number(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "clinicId": "c1",
            "count": 5,
            "price": 12.5,
            "countText": "5",
            "big": 9007199254740993u64,
            "active": true,
            "note": "",
            "nothing": null,
            "tags": ["cat", "urgent", 7],
            "emptyList": [],
            "emptyObject": {},
            "visitAt": "2024-05-01T10:00:00+02:00",
            "patient": {
                "name": "Tom",
                "owner": {"email": "ann@example.com", "phones": ["+44 1", "+44 2"]}
            },
            "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": "3"}]
        })
    }

    fn cond(field: &str, operator: Operator, value: Option<Value>) -> Condition {
        Condition { field: field.into(), operator, value }
    }

    fn holds(field: &str, operator: Operator, value: Value) -> bool {
        cond(field, operator, Some(value)).evaluate(&data())
    }

    fn holds_without_value(field: &str, operator: Operator) -> bool {
        cond(field, operator, None).evaluate(&data())
    }

    #[test]
    fn lookup_follows_dotted_paths() {
        let d = data();
        assert_eq!(lookup(&d, "clinicId"), Some(&json!("c1")));
        assert_eq!(lookup(&d, "patient.owner.email"), Some(&json!("ann@example.com")));
        assert_eq!(lookup(&d, "patient.owner.phones.1"), Some(&json!("+44 2")));
        assert_eq!(lookup(&d, "items.0.sku"), Some(&json!("A-1")));
        assert_eq!(lookup(&d, "items.5.sku"), None);
        assert_eq!(lookup(&d, "items.x"), None);
        assert_eq!(lookup(&d, "patient.name.first"), None);
        assert_eq!(lookup(&d, "missing"), None);
        assert_eq!(lookup(&d, "nothing"), Some(&Value::Null));
        assert_eq!(lookup(&d, ""), None);
        assert_eq!(lookup(&d, "patient..name"), None);
        // Digit keys of objects are keys, not indexes.
        assert_eq!(lookup(&json!({"0": "zero"}), "0"), Some(&json!("zero")));
    }

    #[test]
    fn equals_and_not_equals() {
        assert!(holds("clinicId", Operator::Equals, json!("c1")));
        assert!(!holds("clinicId", Operator::Equals, json!("C1")), "strings are exact");
        assert!(holds("patient.owner.email", Operator::Equals, json!("ann@example.com")));
        assert!(holds("count", Operator::Equals, json!(5)));
        assert!(holds("count", Operator::Equals, json!(5.0)));
        assert!(holds("count", Operator::Equals, json!("5")));
        assert!(holds("countText", Operator::Equals, json!(5)));
        assert!(!holds("countText", Operator::Equals, json!("5.0")), "two strings are exact");
        assert!(holds("price", Operator::Equals, json!("12.50")));
        assert!(holds("active", Operator::Equals, json!(true)));
        assert!(holds("active", Operator::Equals, json!("true")));
        assert!(!holds("active", Operator::Equals, json!("false")));
        assert!(holds("tags", Operator::Equals, json!(["cat", "urgent", 7])));
        assert!(holds("big", Operator::Equals, json!(9007199254740993u64)));
        assert!(!holds("big", Operator::Equals, json!(9007199254740992u64)), "no float rounding");
        assert!(!holds("count", Operator::Equals, json!("five")));
        assert!(!holds("count", Operator::Equals, json!(null)));

        assert!(holds("clinicId", Operator::NotEquals, json!("c2")));
        assert!(!holds("count", Operator::NotEquals, json!("5")));
    }

    #[test]
    fn greater_and_less_than() {
        assert!(holds("count", Operator::GreaterThan, json!(4)));
        assert!(!holds("count", Operator::GreaterThan, json!(5)));
        assert!(holds("count", Operator::LessThan, json!(5.5)));
        assert!(!holds("countText", Operator::GreaterThan, json!("10")));
        assert!(holds("countText", Operator::LessThan, json!("10")), "numeric strings compare as numbers");
        assert!(holds("items.1.qty", Operator::GreaterThan, json!(2)));
        assert!(holds("price", Operator::GreaterThan, json!("12.4")));

        // RFC 3339 instants, across offsets: 10:00+02:00 is 08:00Z.
        assert!(holds("visitAt", Operator::GreaterThan, json!("2024-05-01T07:59:59Z")));
        assert!(holds("visitAt", Operator::LessThan, json!("2024-05-01T08:00:01Z")));
        // Plain strings lexicographically (ISO dates sort correctly).
        assert!(holds("clinicId", Operator::LessThan, json!("c2")));
        assert!(holds("visitAt", Operator::GreaterThan, json!("2024-04-30")));

        // Unordered pairs are false both ways.
        for op in [Operator::GreaterThan, Operator::LessThan] {
            assert!(!holds("count", op, json!("many")));
            assert!(!holds("active", op, json!(false)));
            assert!(!holds("tags", op, json!(1)));
            assert!(!holds("nothing", op, json!(0)));
        }
    }

    #[test]
    fn contains_and_not_contains() {
        assert!(holds("patient.owner.email", Operator::Contains, json!("@example.")));
        assert!(!holds("patient.owner.email", Operator::Contains, json!("EXAMPLE")));
        assert!(holds("tags", Operator::Contains, json!("urgent")));
        assert!(holds("tags", Operator::Contains, json!("7")), "elements compare loosely");
        assert!(!holds("tags", Operator::Contains, json!("urg")), "elements, not substrings");
        assert!(holds("patient.owner", Operator::Contains, json!("email")));
        assert!(!holds("patient.owner", Operator::Contains, json!("address")));
        assert!(holds("items.0.sku", Operator::Contains, json!(1)));
        assert!(!holds("count", Operator::Contains, json!(5)));

        assert!(holds("tags", Operator::NotContains, json!("dog")));
        assert!(!holds("tags", Operator::NotContains, json!("cat")));
    }

    #[test]
    fn emptiness() {
        for field in ["missing", "nothing", "note", "emptyList", "emptyObject"] {
            assert!(holds_without_value(field, Operator::IsEmpty), "{field}");
            assert!(!holds_without_value(field, Operator::IsNotEmpty), "{field}");
        }
        for field in ["clinicId", "count", "active", "tags", "patient"] {
            assert!(!holds_without_value(field, Operator::IsEmpty), "{field}");
            assert!(holds_without_value(field, Operator::IsNotEmpty), "{field}");
        }
        assert!(holds("count", Operator::IsNotEmpty, json!("ignored")));
    }

    #[test]
    fn missing_fields_fail_positive_tests_only() {
        for op in [Operator::Equals, Operator::GreaterThan, Operator::LessThan, Operator::Contains] {
            assert!(!holds("patient.species", op, json!("cat")), "{op:?}");
        }
        assert!(holds("patient.species", Operator::NotEquals, json!("cat")));
        assert!(holds("patient.species", Operator::NotContains, json!("cat")));
    }

    #[test]
    fn groups_combine_with_and_or() {
        let yes = cond("clinicId", Operator::Equals, Some(json!("c1")));
        let no = cond("count", Operator::GreaterThan, Some(json!(100)));
        let group = ConditionGroup::all;
        let d = data();

        assert!(group(Logic::And, vec![yes.clone(), yes.clone()]).evaluate(&d));
        assert!(!group(Logic::And, vec![yes.clone(), no.clone()]).evaluate(&d));
        assert!(group(Logic::Or, vec![no.clone(), yes.clone()]).evaluate(&d));
        assert!(!group(Logic::Or, vec![no.clone(), no.clone()]).evaluate(&d));
        assert!(group(Logic::And, vec![]).evaluate(&d), "an empty group matches");
        assert!(group(Logic::Or, vec![]).evaluate(&d), "an empty group matches");
    }

    #[test]
    fn serde_round_trip() {
        let text = r#"{"logic":"OR","conditions":[{"field":"clinicId","operator":"equals","value":"c1"}]}"#;
        let group: ConditionGroup = serde_json::from_str(text).unwrap();
        assert_eq!(group.logic, Logic::Or);
        assert_eq!(group.conditions, [cond("clinicId", Operator::Equals, Some(json!("c1"))).into()]);
        assert_eq!(serde_json::to_string(&group).unwrap(), text);
        assert!(group.evaluate(&data()));
    }

    #[test]
    fn serde_details() {
        let lower: ConditionGroup = serde_json::from_value(json!({
            "logic": "and",
            "conditions": [{"field": "note", "operator": "is_empty"}]
        }))
        .unwrap();
        assert_eq!(lower.logic, Logic::And);
        assert!(matches!(&lower.conditions[0], ConditionNode::Condition(c) if c.value.is_none()));
        assert_eq!(
            serde_json::to_value(&lower).unwrap(),
            json!({"logic": "AND", "conditions": [{"field": "note", "operator": "is_empty"}]})
        );

        let defaulted: ConditionGroup = serde_json::from_value(json!({"conditions": []})).unwrap();
        assert_eq!(defaulted.logic, Logic::And);

        for op in [
            "equals",
            "not_equals",
            "greater_than",
            "less_than",
            "contains",
            "not_contains",
            "is_empty",
            "is_not_empty",
        ] {
            let parsed: Operator = serde_json::from_value(json!(op)).unwrap();
            assert_eq!(parsed.as_str(), op);
        }
        assert!(serde_json::from_value::<Operator>(json!("matches")).is_err());
        assert!(serde_json::from_value::<Logic>(json!("XOR")).is_err());
    }

    fn invalid_fields(group: &ConditionGroup, prefix: &str) -> Vec<String> {
        match group.validate(prefix) {
            Ok(()) => vec![],
            Err(Invalid(errs)) => errs.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn validation_names_each_problem() {
        let group = ConditionGroup::all(
            Logic::And,
            vec![
                cond("clinicId", Operator::Equals, Some(json!("c1"))),
                cond("", Operator::Equals, None),
                cond("note", Operator::IsEmpty, None),
                cond("a..b", Operator::Contains, Some(json!("x"))),
                cond(" count", Operator::GreaterThan, None),
            ],
        );
        assert_eq!(
            invalid_fields(&group, "filter"),
            [
                "filter.conditions[1].field",
                "filter.conditions[1].value",
                "filter.conditions[3].field",
                "filter.conditions[4].field",
                "filter.conditions[4].value",
            ]
        );
        assert_eq!(invalid_fields(&group, "")[0], "conditions[1].field");

        let ok = ConditionGroup::all(
            Logic::Or,
            vec![cond("items.0.sku", Operator::Equals, Some(json!("A-1"))), cond("note", Operator::IsNotEmpty, None)],
        );
        assert!(ok.validate("filter").is_ok());
        assert!(ConditionGroup { logic: Logic::And, conditions: vec![] }.validate("x").is_ok());
    }

    #[test]
    fn nested_groups_evaluate_validate_and_round_trip() {
        // abnormal AND (species = cat OR weight > 10)
        let text = r#"{"logic":"AND","conditions":[{"field":"active","operator":"equals","value":true},{"logic":"OR","conditions":[{"field":"clinicId","operator":"equals","value":"nope"},{"field":"count","operator":"greater_than","value":4}]}]}"#;
        let group: ConditionGroup = serde_json::from_str(text).unwrap();
        assert!(matches!(group.conditions[1], ConditionNode::Group(_)));
        assert!(group.evaluate(&data()));
        assert_eq!(serde_json::to_string(&group).unwrap(), text);

        let bad: ConditionGroup = serde_json::from_value(json!({
            "conditions": [{"conditions": [{"field": "", "operator": "equals"}]}]
        }))
        .unwrap();
        assert_eq!(
            invalid_fields(&bad, "filter"),
            ["filter.conditions[0].conditions[0].field", "filter.conditions[0].conditions[0].value"]
        );

        // A condition with a bad operator is reported as such, not as "no variant matched".
        let err = serde_json::from_value::<ConditionGroup>(json!({
            "conditions": [{"field": "a", "operator": "matches", "value": 1}]
        }))
        .unwrap_err();
        assert!(err.to_string().contains("matches"), "{err}");
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut g = ConditionGroup::all(Logic::And, vec![cond("a", Operator::IsEmpty, None)]);
        for _ in 0..MAX_DEPTH {
            g = ConditionGroup { logic: Logic::Or, conditions: vec![g.into()] };
        }
        assert!(invalid_fields(&g, "").iter().any(|f| f.ends_with("conditions")), "too deep");

        let many = ConditionGroup::all(Logic::Or, vec![cond("a", Operator::IsEmpty, None); MAX_CONDITIONS + 1]);
        assert_eq!(invalid_fields(&many, "filter"), ["filter.conditions"]);
    }
}
