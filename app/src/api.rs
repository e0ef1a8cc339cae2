//! Server functions: thin calls into the domain services, with the caller
//! taken from the request (the auth middleware put it there).

use leptos::prelude::*;

use wire::auth::{ApiKeyInfo, Principal};

#[cfg(feature = "ssr")]
pub mod ssr {
    use domain::auth::Principal;
    use domain::Services;
    use leptos::prelude::*;

    /// What the server provides to every server function and page render.
    #[derive(Clone)]
    pub struct AppContext {
        pub services: Services,
    }

    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<AppContext>().map(|c| c.services).ok_or_else(|| ServerFnError::new("server context missing"))
    }

    /// The signed-in caller, or an error that the UI shows as "please sign in".
    pub async fn principal() -> Result<Principal, ServerFnError> {
        let axum::Extension(p): axum::Extension<Principal> =
            leptos_axum::extract().await.map_err(|_| ServerFnError::new("not signed in"))?;
        Ok(p)
    }

    /// Turns a domain error into the message a person reads, and answers the
    /// server function call with the error's HTTP status (422, 404, 409 …)
    /// rather than a blanket 500.
    pub fn user_error(e: domain::Error) -> ServerFnError {
        report_status(e.status());
        match e {
            domain::Error::Validation(errors) => ServerFnError::new(
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            ),
            domain::Error::Database(_) | domain::Error::Migration(_) | domain::Error::Internal(_) => {
                tracing_log(&e);
                ServerFnError::new("internal error; the server log has details")
            }
            other => ServerFnError::new(other.to_string()),
        }
    }

    fn report_status(status: u16) {
        use axum::http::{header::ACCEPT, request::Parts, StatusCode};
        // Pages rendered on the server, and plain form posts without JavaScript (which
        // leptos_axum answers with a redirect back), keep the status they have.
        let wants_html = use_context::<Parts>().is_some_and(|p| {
            p.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
        });
        if wants_html {
            return;
        }
        if let (Some(res), Ok(code)) = (use_context::<leptos_axum::ResponseOptions>(), StatusCode::from_u16(status)) {
            res.set_status(code);
        }
    }

    fn tracing_log(e: &domain::Error) {
        leptos::logging::error!("server function failed: {e}");
    }
}

#[server(prefix = "/rpc", endpoint = "whoami", protocol = crate::codec::Rpc)]
pub async fn whoami() -> Result<Principal, ServerFnError> {
    ssr::principal().await
}

#[server(prefix = "/rpc", endpoint = "list_api_keys", protocol = crate::codec::Rpc)]
pub async fn list_api_keys() -> Result<Vec<ApiKeyInfo>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.list_api_keys(&p).await.map_err(ssr::user_error)
}

/// Creates an API key and returns its plaintext, which is shown once.
#[server(prefix = "/rpc", endpoint = "create_api_key", protocol = crate::codec::Rpc)]
pub async fn create_api_key(name: String, role: String) -> Result<String, ServerFnError> {
    let (s, p) = services_for_user().await?;
    let role = wire::auth::Role::parse(&role).map_err(|e| ssr::user_error(e.into()))?;
    let created = s.create_api_key(&p, &name, role).await.map_err(ssr::user_error)?;
    Ok(created.key)
}

#[server(prefix = "/rpc", endpoint = "revoke_api_key", protocol = crate::codec::Rpc)]
pub async fn revoke_api_key(id: String) -> Result<(), ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.revoke_api_key(&p, &id).await.map_err(ssr::user_error)
}

// ---- webhooks ----

use wire::notifications::{LiveNumbers, Notification};
use wire::webhooks::{DayStats, Delivery, EventType, Page, TestResult, Webhook, WebhookInput, WebhookSummary};
// `webhook_stats` and `analytics` below name their server functions' structs `WebhookStats` and `Analytics`.
use wire::webhooks as wh;

#[cfg(feature = "ssr")]
async fn services_for_user() -> Result<(domain::Services, Principal), ServerFnError> {
    let p = ssr::principal().await?;
    Ok((ssr::services()?, p))
}

#[server(prefix = "/rpc", endpoint = "list_webhooks", protocol = crate::codec::Rpc)]
pub async fn list_webhooks(page: u32, search: String) -> Result<Page<WebhookSummary>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    let q = wire::webhooks::ListQuery { page: Some(page), limit: Some(10), search: Some(search), ..Default::default() };
    let listed = s.list_webhooks(&p, &q).await.map_err(ssr::user_error)?;
    let mut rows = Vec::with_capacity(listed.data.len());
    for w in listed.data {
        let stats = s.webhook_stats(&p, &w.id).await.map_err(ssr::user_error)?;
        rows.push(WebhookSummary { webhook: w, stats });
    }
    Ok(Page {
        data: rows,
        page: listed.page,
        limit: listed.limit,
        total: listed.total,
        total_pages: listed.total_pages,
        next_cursor: listed.next_cursor,
    })
}

#[server(prefix = "/rpc", endpoint = "event_catalog", protocol = crate::codec::Rpc)]
pub async fn event_catalog() -> Result<Vec<EventType>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.event_types(&p).await.map_err(ssr::user_error)
}

/// Creates a webhook from the same input the REST API takes (validated in the browser first).
#[server(prefix = "/rpc", endpoint = "create_webhook", protocol = crate::codec::Rpc)]
pub async fn create_webhook(input: WebhookInput) -> Result<Webhook, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.create_webhook(&p, input).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "update_webhook", protocol = crate::codec::Rpc)]
pub async fn update_webhook(id: String, input: WebhookInput) -> Result<Webhook, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.update_webhook(&p, &id, input).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "set_webhook_active", protocol = crate::codec::Rpc)]
pub async fn set_webhook_active(id: String, active: bool) -> Result<(), ServerFnError> {
    let (s, p) = services_for_user().await?;
    let input = WebhookInput { active: Some(active), ..Default::default() };
    s.update_webhook(&p, &id, input).await.map_err(ssr::user_error)?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "delete_webhook", protocol = crate::codec::Rpc)]
pub async fn delete_webhook(id: String) -> Result<(), ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.delete_webhook(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "test_webhook", protocol = crate::codec::Rpc)]
pub async fn test_webhook(id: String) -> Result<TestResult, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.test_webhook(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "get_webhook", protocol = crate::codec::Rpc)]
pub async fn get_webhook(id: String) -> Result<Webhook, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.get_webhook(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "webhook_stats", protocol = crate::codec::Rpc)]
pub async fn webhook_stats(id: String) -> Result<wh::WebhookStats, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.webhook_stats(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "webhook_series", protocol = crate::codec::Rpc)]
pub async fn webhook_series(id: String, days: i64) -> Result<Vec<DayStats>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.delivery_series(&p, Some(&id), days).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "list_deliveries", protocol = crate::codec::Rpc)]
pub async fn list_deliveries(
    webhook_id: String,
    page: u32,
    status: String,
    event: String,
) -> Result<Page<Delivery>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    let q = wire::webhooks::ListQuery {
        page: Some(page),
        limit: Some(20),
        status: Some(status).filter(|s| !s.is_empty()),
        event: Some(event).filter(|e| !e.is_empty()),
        ..Default::default()
    };
    s.list_deliveries(&p, Some(&webhook_id), &q).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "get_delivery", protocol = crate::codec::Rpc)]
pub async fn get_delivery(id: String) -> Result<Delivery, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.get_delivery(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "retry_delivery", protocol = crate::codec::Rpc)]
pub async fn retry_delivery(id: String) -> Result<(), ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.retry_delivery(&p, &id).await.map_err(ssr::user_error)?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "regenerate_secret", protocol = crate::codec::Rpc)]
pub async fn regenerate_secret(id: String, revoke_now: bool) -> Result<Webhook, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.regenerate_secret(&p, &id, revoke_now).await.map_err(ssr::user_error)
}

/// Re-queues failed deliveries since a date (`YYYY-MM-DD`, the practice's day) and, when asked,
/// sends the events the webhook missed while off; returns (re-queued, replayed).
#[server(prefix = "/rpc", endpoint = "recover_failed", protocol = crate::codec::Rpc)]
pub async fn recover_failed(id: String, since: String, include_missed: bool) -> Result<(i64, i64), ServerFnError> {
    let (s, p) = services_for_user().await?;
    let date = chrono::NaiveDate::parse_from_str(since.trim(), "%Y-%m-%d")
        .map_err(|_| ssr::user_error(domain::Error::invalid("since", "pick a date")))?;
    let ms = domain::records::time::start_of_day(date, s.settings.timezone)
        .ok_or_else(|| ssr::user_error(domain::Error::invalid("since", "pick a date")))?;
    let requeued = s.recover(&p, &id, ms).await.map_err(ssr::user_error)?;
    let replayed = if include_missed { s.replay_missed(&p, &id, ms).await.map_err(ssr::user_error)? } else { 0 };
    Ok((requeued, replayed))
}

#[server(prefix = "/rpc", endpoint = "analytics", protocol = crate::codec::Rpc)]
pub async fn analytics(days: i64) -> Result<wh::Analytics, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.analytics(&p, days).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "live_stats", protocol = crate::codec::Rpc)]
pub async fn live_stats() -> Result<LiveNumbers, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.live_numbers(&p).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "list_notifications", protocol = crate::codec::Rpc)]
pub async fn list_notifications() -> Result<Vec<Notification>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.notifications(&p, 100).await.map_err(ssr::user_error)
}

/// Marks one notification read, or all of them when `id` is empty.
#[server(prefix = "/rpc", endpoint = "mark_notifications_read", protocol = crate::codec::Rpc)]
pub async fn mark_notifications_read(id: String) -> Result<(), ServerFnError> {
    let (s, p) = services_for_user().await?;
    let id = Some(id).filter(|i| !i.is_empty());
    s.mark_notifications_read(&p, id.as_deref()).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "unhealthy_webhooks", protocol = crate::codec::Rpc)]
pub async fn unhealthy_webhooks() -> Result<Vec<Webhook>, ServerFnError> {
    let (s, p) = services_for_user().await?;
    s.unhealthy_webhooks(&p, 10).await.map_err(ssr::user_error)
}
