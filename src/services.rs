//! The domain services: what the REST handlers, the server functions and the
//! CLI all call. They validate input, enforce roles and own transactions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{self, Action, Authorize, Principal, PrincipalKind, Role};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{sha256_hex, MasterKey};
use crate::ids::new_id;
use crate::settings::Settings;
use crate::ssrf::TargetPolicy;
use crate::store::{ApiKeyRow, Db, UserRow};
use crate::{Error, Result};

/// How long a browser session lasts.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// What REST handlers, server functions, the CLI and the workers call.
/// Cloned for every request and every task, so it is one shared pointer;
/// changing a field of a clone (`with_clock`, tests) changes that clone only.
#[derive(Clone)]
pub struct Services(Arc<ServicesInner>);

impl std::ops::Deref for Services {
    type Target = ServicesInner;
    fn deref(&self) -> &ServicesInner {
        &self.0
    }
}

impl std::ops::DerefMut for Services {
    fn deref_mut(&mut self) -> &mut ServicesInner {
        Arc::make_mut(&mut self.0)
    }
}

#[derive(Clone)]
pub struct ServicesInner {
    /// This process's name among instances: every lease it takes and every
    /// signal it sends starts with it.
    pub instance: Arc<str>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub master_key: MasterKey,
    pub settings: Arc<Settings>,
    /// Which HTTP targets webhooks may reach.
    pub targets: Arc<TargetPolicy>,
    /// Wakes the due-work runner when new work was committed.
    pub wake: Arc<tokio::sync::Notify>,
    /// Told by handlers when they have room again; the runner listens only
    /// while due work waits for room (so finishing work does not wake it).
    pub room_freed: Arc<tokio::sync::Notify>,
    /// Sends webhook requests (shared: keep-alive connections are reused).
    pub sender: Arc<crate::delivery::sender::Sender>,
    /// Bumped whenever deliveries or events change, for live views.
    pub changes: Arc<tokio::sync::watch::Sender<u64>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The group-commit writer for ingest, started on first use.
    pub(crate) ingest: Arc<std::sync::OnceLock<crate::events::batcher::IngestBatcher>>,
    /// Subscribers and webhooks as ingest and delivery read them.
    pub webhook_cache: Arc<crate::webhooks::cache::WebhookCache>,
    /// Event-triggered workflow templates as ingest reads them.
    pub(crate) template_cache: Arc<crate::workflows::service::TemplateCache>,
    /// Group commit for manual workflow starts, started on first use.
    pub(crate) starter: Arc<std::sync::OnceLock<crate::workflows::starter::Starter>>,
    /// The delivery worker running in this process, if any (the hot path hands it work).
    pub dispatcher: crate::delivery::dispatch::DispatcherSlot,
    /// Per-webhook rate limits (shared between instances once Redis is connected).
    pub rate_limits: Arc<crate::rate_limit::RateLimits>,
    /// Signals to other instances through Redis, once connected (none with one instance).
    pub(crate) signals: Arc<std::sync::OnceLock<crate::signals::Signals>>,
    /// Recently verified API keys, by digest: saves a query on every API call.
    api_key_cache: Arc<std::sync::Mutex<HashMap<String, (Instant, Principal)>>>,
    /// Failed sign-ins by account and address.
    login_throttle: Arc<auth::throttle::LoginThrottle>,
    /// The practice's timezone as pages show times in it, built on first use.
    zone: Arc<std::sync::OnceLock<Arc<wire::zone::Zone>>>,
}

/// How long a verified API key is trusted without asking the database again;
/// a revocation made by another instance takes effect within this time.
pub const API_KEY_CACHE_TTL: Duration = Duration::from_secs(5);

pub use wire::auth::{ApiKeyInfo, CreatedApiKey, UserInfo};

fn user_info(u: &UserRow) -> UserInfo {
    UserInfo {
        id: u.id.clone(),
        email: u.email.clone(),
        role: u.role(),
        created_at: crate::clock::rfc3339(u.created_at),
    }
}

fn user_principal(u: &UserRow) -> Principal {
    Principal { id: u.id.clone(), name: u.email.clone(), role: u.role(), kind: PrincipalKind::User }
}

impl Services {
    pub fn new(db: Db, master_key: MasterKey) -> Self {
        Self::with_settings(db, master_key, Settings::default(), TargetPolicy::default())
    }

    pub fn with_settings(db: Db, master_key: MasterKey, settings: Settings, targets: TargetPolicy) -> Self {
        let targets = Arc::new(targets);
        let sender = Arc::new(crate::delivery::sender::Sender::new(&settings, targets.clone()));
        Self(Arc::new(ServicesInner {
            instance: Arc::from(new_id("inst")),
            db,
            clock: Arc::new(SystemClock),
            master_key,
            settings: Arc::new(settings),
            targets,
            wake: Arc::new(tokio::sync::Notify::new()),
            room_freed: Arc::new(tokio::sync::Notify::new()),
            sender,
            changes: Arc::new(tokio::sync::watch::channel(0).0),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            ingest: Arc::default(),
            webhook_cache: Arc::default(),
            template_cache: Arc::default(),
            starter: Arc::default(),
            dispatcher: Arc::default(),
            signals: Arc::default(),
            rate_limits: Arc::default(),
            api_key_cache: Arc::default(),
            login_throttle: Arc::default(),
            zone: Arc::default(),
        }))
    }

    /// The practice's timezone (`--timezone`) with its offsets over the
    /// years around now, which pages use to show times named in it.
    pub fn practice_zone(&self) -> Arc<wire::zone::Zone> {
        self.zone
            .get_or_init(|| Arc::new(crate::settings::zone_table(self.settings.timezone, self.clock.now_ms())))
            .clone()
    }

    pub(crate) fn clear_api_key_cache(&self) {
        self.api_key_cache.lock().expect("api key cache lock").clear();
    }

    /// A webhook or its subscriptions changed: forget cached copies here and on other instances.
    pub fn webhooks_changed(&self) {
        self.webhook_cache.clear();
        self.signal(crate::signals::Signal::WebhooksChanged);
    }

    /// Due work was committed for any worker to claim: wake ours and the other instances'.
    pub fn due_work_added(&self) {
        self.wake.notify_one();
        self.signal(crate::signals::Signal::DueWork);
    }

    /// Tells live views (server-sent events) here and, through Redis, on
    /// the other instances that something changed. Bursts are sent as one.
    pub fn events_changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
        self.signal(crate::signals::Signal::Changed);
    }

    /// The due-work runner of this process, with every kind's handler
    /// (deliveries, invoice overdue checks, workflow steps and schedules, and SMTP
    /// emails when configured). Starting the handlers also opens the hot path from ingest.
    pub fn runner(&self) -> crate::due::Runner {
        let runner = crate::due::Runner::new(self.clone())
            .with(crate::delivery::handler::DeliveryHandler::start(self.clone()))
            .with(crate::records::overdue::OverdueHandler::new(self.clone()))
            .with(crate::workflows::engine::WorkflowHandler::new(self.clone()))
            .with(crate::workflows::triggers::ScheduleHandler::new(self.clone()));
        match self.settings.smtp_url.as_deref().map(|u| crate::workflows::email::EmailHandler::new(self.clone(), u)) {
            Some(Ok(h)) => runner.with(h),
            Some(Err(e)) => {
                tracing::error!(error = %e, "emails stay in the outbox");
                runner
            }
            None => runner,
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A lease owner name of this process, e.g. `inst_…/worker`.
    pub fn lease_owner(&self, role: &str) -> String {
        format!("{}/{role}", self.instance)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    // ---- users and sessions ----

    pub async fn create_user(&self, caller: &Principal, email: &str, password: &str, role: Role) -> Result<UserInfo> {
        caller.require(Action::ManageAccess)?;
        let mut errors = Vec::new();
        let email = match auth::normalize_email(email) {
            Ok(e) => Some(e),
            Err(Error::Validation(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e),
        };
        if let Err(Error::Validation(mut e)) = auth::validate_password(password) {
            errors.append(&mut e);
        }
        let Some(email) = email.filter(|_| errors.is_empty()) else {
            return Err(Error::Validation(errors));
        };
        let row = UserRow {
            id: new_id("usr"),
            email,
            password_hash: auth::hash_password(password)?,
            role: role.as_str().to_string(),
            created_at: self.now_ms(),
        };
        match self.db.insert_user(&row).await {
            Err(e) if e.is_unique_violation() => Err(Error::invalid("email", "a user with this email already exists")),
            Err(e) => Err(e),
            Ok(()) => Ok(user_info(&row)),
        }
    }

    pub async fn user_count(&self) -> Result<i64> {
        self.db.count_users().await
    }

    pub async fn list_users(&self, caller: &Principal) -> Result<Vec<UserInfo>> {
        caller.require(Action::ManageAccess)?;
        Ok(self.db.list_users().await?.iter().map(user_info).collect())
    }

    /// Checks credentials and opens a session; returns the session token for
    /// the cookie. Refused with [`Error::TooManyRequests`] while the account or
    /// the address `from` is throttled (see [`auth::throttle`]), before the
    /// password is looked at, whether or not the email exists.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<(String, Principal)> {
        let attempt = auth::throttle::Attempt::new(email, from);
        self.login_throttle.check(&attempt, self.now_ms()).map_err(Error::TooManyRequests)?;
        let email = email.trim().to_lowercase();
        let user = self.db.user_by_email(&email).await?;
        let stored = user.as_ref().map(|u| u.password_hash.as_str()).unwrap_or(auth::dummy_password_hash());
        let password = password.to_string();
        let stored = stored.to_string();
        // argon2 is deliberately slow: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &stored))
            .await
            .map_err(Error::internal)?;
        match user {
            Some(u) if ok => {
                self.login_throttle.succeeded(&attempt);
                let (token, hash) = auth::generate_session_token();
                let now = self.now_ms();
                self.db.insert_session(&hash, &u.id, now, now + SESSION_TTL_MS).await?;
                Ok((token, user_principal(&u)))
            }
            _ => {
                self.login_throttle.failed(&attempt, self.now_ms());
                Err(Error::Unauthorized)
            }
        }
    }

    pub async fn principal_for_session(&self, token: &str) -> Result<Option<Principal>> {
        let user = self.db.session_user(&sha256_hex(token), self.now_ms()).await?;
        Ok(user.as_ref().map(user_principal))
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        self.db.delete_session(&sha256_hex(token)).await
    }

    // ---- API keys ----

    pub async fn create_api_key(&self, caller: &Principal, name: &str, role: Role) -> Result<CreatedApiKey> {
        caller.require(Action::ManageAccess)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid("name", "must be 1 to 100 characters"));
        }
        let key = auth::generate_api_key();
        let row = ApiKeyRow {
            id: new_id("key"),
            name: name.to_string(),
            key_hash: key.hash,
            display_prefix: key.display_prefix,
            role: role.as_str().to_string(),
            created_at: self.now_ms(),
            revoked_at: None,
        };
        self.db.insert_api_key(&row).await?;
        Ok(CreatedApiKey { id: row.id, key: key.plaintext })
    }

    pub async fn principal_for_api_key(&self, key: &str) -> Result<Option<Principal>> {
        if !key.starts_with(auth::API_KEY_PREFIX) {
            return Ok(None);
        }
        let hash = sha256_hex(key);
        if let Some((at, p)) = self.api_key_cache.lock().expect("api key cache lock").get(&hash) {
            if at.elapsed() < API_KEY_CACHE_TTL {
                return Ok(Some(p.clone()));
            }
        }
        let row = self.db.api_key_by_hash(&hash).await?;
        let principal =
            row.filter(|r| crate::crypto::constant_time_eq(r.key_hash.as_bytes(), hash.as_bytes())).map(|r| {
                Principal {
                    id: r.id,
                    name: r.name,
                    role: Role::parse(&r.role).unwrap_or(Role::Staff),
                    kind: PrincipalKind::ApiKey,
                }
            });
        if let Some(p) = &principal {
            // Only keys that exist are remembered, so guessing cannot fill memory.
            let mut cache = self.api_key_cache.lock().expect("api key cache lock");
            if cache.len() >= 1_000 {
                cache.clear();
            }
            cache.insert(hash, (Instant::now(), p.clone()));
        }
        Ok(principal)
    }

    pub async fn list_api_keys(&self, caller: &Principal) -> Result<Vec<ApiKeyInfo>> {
        caller.require(Action::ManageAccess)?;
        Ok(self
            .db
            .list_api_keys()
            .await?
            .into_iter()
            .map(|r| ApiKeyInfo {
                role: Role::parse(&r.role).unwrap_or(Role::Staff),
                id: r.id,
                name: r.name,
                prefix: r.display_prefix,
                created_at: crate::clock::rfc3339(r.created_at),
                revoked: r.revoked_at.is_some(),
            })
            .collect())
    }

    pub async fn revoke_api_key(&self, caller: &Principal, id: &str) -> Result<()> {
        caller.require(Action::ManageAccess)?;
        if self.db.revoke_api_key(id, self.now_ms()).await? {
            self.clear_api_key_cache();
            self.signal(crate::signals::Signal::ApiKeysChanged);
            Ok(())
        } else {
            Err(Error::NotFound("API key"))
        }
    }
}
