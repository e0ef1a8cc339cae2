//! Templating: every string in an action's config is a minijinja template,
//! rendered against the execution's variables. Strict: a variable that does
//! not exist fails the step with a message that names it.

use chrono::TimeZone;
use minijinja::value::Value as JValue;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Instructions one render may run: an invoice email listing a few hundred
/// lines uses a few thousand; 200,000 is about 10 ms of work.
pub const TEMPLATE_FUEL: u64 = 200_000;

/// The environment every template renders in: strict undefined, and the
/// practice's filters (`date`, `money`, `pluralize`).
pub fn environment(tz: chrono_tz::Tz) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A render runs on a worker thread: a loop inside a loop must end in
    // milliseconds, not hold the thread (and every step queued behind it).
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.add_filter("date", move |value: String, format: Option<String>| -> Result<String, minijinja::Error> {
        let format = format.unwrap_or_else(|| "%d %b %Y".to_string());
        let t = chrono::DateTime::parse_from_rfc3339(&value)
            .map(|t| t.with_timezone(&tz))
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|_| ()).and_then(|d| {
                    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")).earliest().ok_or(())
                })
            })
            .map_err(|_| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("{value:?} is not a date or time"),
                )
            })?;
        // Not `to_string()`: chrono's Display fails on a bad specifier ("%Q"), and to_string panics.
        let mut out = String::new();
        std::fmt::Write::write_fmt(&mut out, format_args!("{}", t.format(&format))).map_err(|_| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("{format:?} is not a date format (strftime, such as \"%d %b %Y\")"),
            )
        })?;
        Ok(out)
    });
    env.add_filter("money", |minor: i64, currency: Option<String>| {
        wire::records::format_minor(minor, &currency.unwrap_or_default()).trim().to_string()
    });
    env.add_filter(
        "pluralize",
        |n: i64, singular: String, plural: Option<String>| {
            if n == 1 {
                singular
            } else {
                plural.unwrap_or_else(|| format!("{singular}s"))
            }
        },
    );
    env
}

/// Checks that `source` is a template (used when a template is saved).
pub fn check_syntax(env: &Environment<'_>, source: &str) -> Result<(), String> {
    env.template_from_str(source).map(|_| ()).map_err(|e| describe(&e))
}

/// Renders `source`; a missing variable is named (`patient.owner.email`).
pub fn render(env: &Environment<'_>, source: &str, vars: &Value) -> Result<String, String> {
    render_named(env, "<string>", source, vars)
}

/// Renders an HTML template (an email's HTML body): every value is
/// HTML-escaped, so a client named `<img onerror=…>` stays text.
pub fn render_html(env: &Environment<'_>, source: &str, vars: &Value) -> Result<String, String> {
    // minijinja escapes for HTML by the template's name.
    render_named(env, "email.html", source, vars)
}

fn render_named(env: &Environment<'_>, name: &str, source: &str, vars: &Value) -> Result<String, String> {
    if !source.contains("{{") && !source.contains("{%") {
        return Ok(source.to_string());
    }
    let tmpl = env.template_from_named_str(name, source).map_err(|e| describe(&e))?;
    // Render first: `{% if appointment is defined %}` may test for what is missing. Only when
    // rendering fails is the missing variable looked for, to name it.
    tmpl.render(JValue::from_serialize(vars)).map_err(|e| {
        if e.kind() == minijinja::ErrorKind::UndefinedError {
            for path in tmpl.undeclared_variables(true) {
                if let Some(missing) = missing_part(vars, &path) {
                    return format!("{{{{ {path} }}}}: {missing}");
                }
            }
        }
        describe(&e)
    })
}

/// Renders every string inside `config` (objects and arrays kept as they are).
pub fn render_value(env: &Environment<'_>, config: &Value, vars: &Value) -> Result<Value, String> {
    Ok(match config {
        Value::String(s) => Value::String(render(env, s, vars)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_value(env, v, vars)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), render_value(env, v, vars)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Why `path` (dotted, as minijinja reports it) does not resolve in `vars`.
fn missing_part(vars: &Value, path: &str) -> Option<String> {
    let mut current = vars;
    let mut seen = Vec::new();
    for part in path.split('.') {
        let next = match current {
            Value::Object(m) => m.get(part),
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => {
                seen.push(part);
                current = v;
            }
            None if seen.is_empty() => return Some(format!("there is no variable {part:?}")),
            None => return Some(format!("{} has no {part:?}", seen.join("."))),
        }
    }
    None
}

fn describe(e: &minijinja::Error) -> String {
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        return format!("the template does too much work (over {TEMPLATE_FUEL} steps): loop over less");
    }
    let mut s = e.to_string();
    if let Some(detail) = e.detail() {
        if !s.contains(detail) {
            s.push_str(": ");
            s.push_str(detail);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> Environment<'static> {
        environment("Europe/London".parse().unwrap())
    }

    #[test]
    fn a_bad_date_format_is_an_error_not_a_panic() {
        // Found by `scripts/fuzz.sh` (target `template`): chrono's Display fails, to_string panicked.
        let vars = json!({"at": "2026-12-03T09:30:00Z"});
        for bad in ["%(inite", "%Q", "%"] {
            let e = render(&env(), &format!("{{{{ at | date({bad:?}) }}}}"), &vars).unwrap_err();
            assert!(e.contains("is not a date format"), "{bad}: {e}");
        }
        assert_eq!(render(&env(), "{{ at | date('%H:%M %Z') }}", &vars).unwrap(), "09:30 GMT");
    }

    #[test]
    fn a_runaway_loop_stops_with_a_message_and_ordinary_loops_run() {
        let runaway = "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}";
        // Unfuelled, this would write 100,000,000 bytes and return them: the
        // error itself shows that the fuel stopped it, with no clock involved.
        let e = render(&env(), runaway, &json!({})).unwrap_err();
        assert!(e.contains("too much work"), "{e}");
        let lines: Vec<_> = (0..500).map(|i| json!({"name": format!("line {i}"), "amount": i})).collect();
        let invoice = "{% for l in lines %}{{ loop.index }}. {{ l.name }}: {{ l.amount | money('GBP') }}\n{% endfor %}";
        assert_eq!(render(&env(), invoice, &json!({"lines": lines})).unwrap().lines().count(), 500);
    }

    #[test]
    fn html_bodies_escape_what_people_typed_and_text_keeps_it() {
        let vars = json!({"client": {"name": "<img src=x onerror=alert(1)> & Co"}});
        assert_eq!(
            render_html(&env(), "<p>{{ client.name }}</p>", &vars).unwrap(),
            "<p>&lt;img src=x onerror=alert(1)&gt; &amp; Co</p>"
        );
        assert_eq!(render(&env(), "{{ client.name }}", &vars).unwrap(), "<img src=x onerror=alert(1)> & Co");
        let missing = render_html(&env(), "<p>{{ client.nmae }}</p>", &vars).unwrap_err();
        assert!(missing.contains("client.nmae"), "{missing}");
    }

    #[test]
    fn renders_variables_and_steps_with_hyphenated_ids() {
        let vars = json!({"patient": {"name": "Bella", "owner": {"email": "sam@example.com"}}, "steps": {"action-2": {"weight": 12.5}}});
        assert_eq!(render(&env(), "Follow-up on {{patient.name}}", &vars).unwrap(), "Follow-up on Bella");
        assert_eq!(render(&env(), "{{ steps['action-2'].weight }}", &vars).unwrap(), "12.5");
        assert_eq!(render(&env(), "plain text", &vars).unwrap(), "plain text");
    }

    #[test]
    fn the_follow_up_email_renders_without_an_appointment() {
        let vars = json!({"patient": {"name": "Bella", "owner": {"firstName": "Ann"}}});
        let (_, subject, text, html) = super::super::email::BUILTIN[0];
        for part in [subject, text, html] {
            assert!(render(&env(), part, &vars).unwrap().contains("Bella"), "{part}");
        }
    }

    #[test]
    fn a_missing_variable_is_named() {
        let vars = json!({"patient": {"name": "Bella", "owner": {}}});
        assert_eq!(
            render(&env(), "{{patient.owner.email}}", &vars).unwrap_err(),
            "{{ patient.owner.email }}: patient.owner has no \"email\""
        );
        assert!(render(&env(), "Hi {{ clinet.name }}", &vars).unwrap_err().contains("no variable \"clinet\""));
        assert!(check_syntax(&env(), "{{ unclosed").is_err());
        let optional = "Hi{% if appointment is defined %} on {{ appointment.startsAt }}{% endif %}";
        assert_eq!(render(&env(), optional, &vars).unwrap(), "Hi", "a test for a missing variable is no error");
        assert!(check_syntax(&env(), "{{ patient.name | upper }}").is_ok());
    }

    #[test]
    fn practice_filters() {
        let vars = json!({"at": "2026-07-01T23:30:00Z", "total": 7750, "n": 2});
        assert_eq!(
            render(&env(), "{{ at | date }}", &vars).unwrap(),
            "02 Jul 2026",
            "shown in the practice's timezone"
        );
        assert_eq!(render(&env(), "{{ at | date('%H:%M') }}", &vars).unwrap(), "00:30");
        assert_eq!(render(&env(), "{{ total | money('GBP') }}", &vars).unwrap(), "77.50 GBP");
        assert_eq!(render(&env(), "{{ n }} {{ n | pluralize('pet') }}", &vars).unwrap(), "2 pets");
        let config = json!({"to": "{{ n }}", "nested": ["{{ total }}", 5]});
        assert_eq!(render_value(&env(), &config, &vars).unwrap(), json!({"to": "2", "nested": ["7750", 5]}));
    }
}
