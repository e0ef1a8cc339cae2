//! A cron expression in words, for the common shapes people write:
//! `0 8 * * MON` → "Every Monday at 08:00". Anything else is left to be
//! shown as written (the next run times say the rest).

const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const SHORT: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn day(token: &str) -> Option<&'static str> {
    let t = token.to_ascii_uppercase();
    if let Some(i) = SHORT.iter().position(|d| *d == t) {
        return Some(DAYS[i]);
    }
    let n: usize = t.parse().ok()?;
    DAYS.get(n % 7).copied()
}

fn days(field: &str) -> Option<String> {
    match field.to_ascii_uppercase().as_str() {
        "*" | "?" => Some("day".into()),
        "1-5" | "MON-FRI" => Some("weekday".into()),
        "0,6" | "6,0" | "SAT,SUN" | "SUN,SAT" => Some("Saturday and Sunday".into()),
        list => {
            let names: Option<Vec<&str>> = list.split(',').map(day).collect();
            let names = names?;
            Some(match names.as_slice() {
                [one] => one.to_string(),
                [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                [] => return None,
            })
        }
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The expression in words, or `None` when it is not one of the common shapes.
pub fn describe(cron: &str) -> Option<String> {
    let f: Vec<&str> = cron.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = f.as_slice() else { return None };
    if *month != "*" {
        return None;
    }
    if let (Some(step), "*", "*", "*") = (minute.strip_prefix("*/"), *hour, *dom, *dow) {
        let n: u32 = step.parse().ok()?;
        return Some(if n == 1 { "Every minute".into() } else { format!("Every {n} minutes") });
    }
    let m: u32 = minute.parse().ok().filter(|m| *m < 60)?;
    if *hour == "*" && *dom == "*" && *dow == "*" {
        return Some(if m == 0 { "Every hour, on the hour".into() } else { format!("Every hour at {m} past") });
    }
    let h: u32 = hour.parse().ok().filter(|h| *h < 24)?;
    let at = format!("{h:02}:{m:02}");
    match (*dom, *dow) {
        ("*" | "?", d) => Some(format!("Every {} at {at}", days(d)?)),
        (d, "*" | "?") => {
            Some(format!("On the {} of every month at {at}", ordinal(d.parse().ok().filter(|d| (1..=31).contains(d))?)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_schedules_read_as_words() {
        assert_eq!(describe("0 8 * * MON").as_deref(), Some("Every Monday at 08:00"));
        assert_eq!(describe("30 17 * * 1-5").as_deref(), Some("Every weekday at 17:30"));
        assert_eq!(describe("0 9 * * *").as_deref(), Some("Every day at 09:00"));
        assert_eq!(describe("0 9 * * 1,3").as_deref(), Some("Every Monday and Wednesday at 09:00"));
        assert_eq!(describe("*/15 * * * *").as_deref(), Some("Every 15 minutes"));
        assert_eq!(describe("0 * * * *").as_deref(), Some("Every hour, on the hour"));
        assert_eq!(describe("0 6 1 * *").as_deref(), Some("On the 1st of every month at 06:00"));
        assert_eq!(describe("0 6 22 * *").as_deref(), Some("On the 22nd of every month at 06:00"));
    }

    #[test]
    fn other_shapes_are_left_as_written() {
        assert_eq!(describe("0 8 * 1 MON"), None);
        assert_eq!(describe("0 8 1 * MON"), None);
        assert_eq!(describe("61 8 * * *"), None);
        assert_eq!(describe("not cron"), None);
    }
}
