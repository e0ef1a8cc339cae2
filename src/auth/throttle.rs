//! Sign-in throttling. After a few failed sign-ins an account (and, more
//! loosely, an address) must wait before it may try again, and the wait
//! doubles with every further failure, up to [`MAX_WAIT_MS`]. A throttled
//! attempt is refused before its password is checked, so guessing costs the
//! attacker time rather than the server CPU, and the answer is the same
//! whether the email exists or not.
//!
//! The counters live in this process's memory: with several instances each
//! keeps its own, so an attacker spread over N instances gets N times the
//! free attempts (still doubling waits). A restart forgets them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures an account may have before it has to wait.
pub const FREE_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failures one address may have (over all accounts) before it has to wait:
/// more, and forgotten sooner, because a whole clinic behind one NAT shares it.
pub const FREE_FAILURES_PER_ADDRESS: u32 = 30;
/// The longest wait between two attempts.
pub const MAX_WAIT_MS: i64 = 15 * 60 * 1000;
/// An account's failures are forgotten this long after its last one.
pub const FORGET_ACCOUNT_AFTER_MS: i64 = 60 * 60 * 1000;
/// An address's failures are forgotten this long after its last one.
pub const FORGET_ADDRESS_AFTER_MS: i64 = 15 * 60 * 1000;
/// Keys kept at most; beyond, the stalest are forgotten first.
const MAX_KEYS: usize = 100_000;

/// How long after its last failure a key with `failures` failures must wait,
/// when `free` failures cost nothing: 1 s, 2 s, 4 s … up to [`MAX_WAIT_MS`].
pub fn wait_ms(failures: u32, free: u32) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20);
    (1000i64 << doublings).min(MAX_WAIT_MS)
}

#[derive(Clone, Copy, Debug)]
struct Strikes {
    failures: u32,
    last_failure_ms: i64,
}

impl Strikes {
    fn free_at(&self, free: u32) -> i64 {
        self.last_failure_ms + wait_ms(self.failures, free)
    }
}

/// The keys one sign-in attempt is counted under.
pub struct Attempt {
    account: String,
    address: Option<String>,
}

impl Attempt {
    pub fn new(email: &str, from: Option<IpAddr>) -> Self {
        Attempt { account: format!("account:{}", email.trim().to_lowercase()), address: from.map(address_key) }
    }

    /// Each key with its free failures and how long until its failures are forgotten.
    fn keys(&self) -> impl Iterator<Item = (&str, u32, i64)> {
        std::iter::once((self.account.as_str(), FREE_FAILURES_PER_ACCOUNT, FORGET_ACCOUNT_AFTER_MS))
            .chain(self.address.as_deref().map(|a| (a, FREE_FAILURES_PER_ADDRESS, FORGET_ADDRESS_AFTER_MS)))
    }
}

/// IPv6 clients usually hold a whole /64, so they are counted by it.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    strikes: Mutex<HashMap<String, Strikes>>,
}

impl LoginThrottle {
    /// `Err(ms)` when the attempt must wait `ms` more milliseconds.
    pub fn check(&self, attempt: &Attempt, now_ms: i64) -> Result<(), i64> {
        let strikes = self.strikes.lock().expect("login throttle lock");
        let free_at = attempt
            .keys()
            .filter_map(|(key, free, forget)| {
                strikes.get(key).filter(|s| now_ms - s.last_failure_ms < forget).map(|s| s.free_at(free))
            })
            .max()
            .unwrap_or(i64::MIN);
        if free_at > now_ms {
            Err(free_at - now_ms)
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, attempt: &Attempt, now_ms: i64) {
        let mut strikes = self.strikes.lock().expect("login throttle lock");
        if strikes.len() >= MAX_KEYS {
            strikes.retain(|_, s| now_ms - s.last_failure_ms < FORGET_ACCOUNT_AFTER_MS);
            if strikes.len() >= MAX_KEYS {
                let mut ages: Vec<i64> = strikes.values().map(|s| s.last_failure_ms).collect();
                let (_, median, _) = ages.select_nth_unstable(MAX_KEYS / 2);
                let cut = *median;
                strikes.retain(|_, s| s.last_failure_ms > cut);
            }
        }
        for (key, _, forget) in attempt.keys() {
            let entry = strikes.entry(key.to_string()).or_insert(Strikes { failures: 0, last_failure_ms: now_ms });
            if now_ms - entry.last_failure_ms >= forget {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure_ms = now_ms;
        }
    }

    /// The right password clears the account's failures (not the address's:
    /// one known account must not reset the count of guesses at others).
    pub fn succeeded(&self, attempt: &Attempt) {
        self.strikes.lock().expect("login throttle lock").remove(&attempt.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_and_are_capped() {
        assert_eq!(wait_ms(0, 5), 0);
        assert_eq!(wait_ms(4, 5), 0);
        assert_eq!(wait_ms(5, 5), 1000);
        assert_eq!(wait_ms(6, 5), 2000);
        assert_eq!(wait_ms(9, 5), 16_000);
        assert_eq!(wait_ms(30, 5), MAX_WAIT_MS);
        assert_eq!(wait_ms(u32::MAX, 0), MAX_WAIT_MS);
    }

    #[test]
    fn an_account_is_throttled_after_its_free_failures_whatever_the_address() {
        let t = LoginThrottle::default();
        let from = |last: u8| Some(IpAddr::from([10, 0, 0, last]));
        for i in 0..FREE_FAILURES_PER_ACCOUNT {
            assert!(t.check(&Attempt::new("vet@example.com", from(i as u8)), 0).is_ok());
            t.failed(&Attempt::new("vet@example.com", from(i as u8)), 0);
        }
        assert_eq!(t.check(&Attempt::new("VET@example.com ", from(99)), 0), Err(1000));
        assert_eq!(t.check(&Attempt::new("vet@example.com", None), 400), Err(600));
        assert!(t.check(&Attempt::new("vet@example.com", None), 1000).is_ok());
        assert!(t.check(&Attempt::new("other@example.com", from(1)), 0).is_ok(), "other accounts are not affected");
    }

    #[test]
    fn an_address_guessing_many_accounts_is_throttled() {
        let t = LoginThrottle::default();
        let ip = Some(IpAddr::from([192, 0, 2, 7]));
        for i in 0..FREE_FAILURES_PER_ADDRESS {
            t.failed(&Attempt::new(&format!("user{i}@example.com"), ip), 0);
        }
        assert_eq!(t.check(&Attempt::new("fresh@example.com", ip), 0), Err(1000));
        assert!(t.check(&Attempt::new("fresh@example.com", Some(IpAddr::from([192, 0, 2, 8]))), 0).is_ok());
        assert!(t.check(&Attempt::new("fresh@example.com", ip), FORGET_ADDRESS_AFTER_MS).is_ok(), "15 min later");
    }

    #[test]
    fn success_clears_the_account_and_old_failures_are_forgotten() {
        let t = LoginThrottle::default();
        let a = Attempt::new("vet@example.com", None);
        for _ in 0..FREE_FAILURES_PER_ACCOUNT {
            t.failed(&a, 0);
        }
        t.succeeded(&a);
        assert!(t.check(&a, 0).is_ok());
        for _ in 0..FREE_FAILURES_PER_ACCOUNT + 3 {
            t.failed(&a, 0);
        }
        assert!(t.check(&a, FORGET_ACCOUNT_AFTER_MS).is_ok(), "an hour later the account is free again");
        t.failed(&a, FORGET_ACCOUNT_AFTER_MS);
        assert!(t.check(&a, FORGET_ACCOUNT_AFTER_MS).is_ok(), "and a failure then starts a new count");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "address:192.0.2.1");
    }
}
