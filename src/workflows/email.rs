//! Email: the template library (admins edit it; five ship built in), the
//! outbox, and sending through SMTP when `--smtp-url` is set. Without SMTP,
//! emails are kept in the outbox (the Mailbox page) so everything works out
//! of the box. With it, each email is due work (`kinds::EMAIL`): sent once,
//! retried with backoff, its outcome recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use wire::workflows::{EmailTemplate, EmailTemplateInput, OutboxEmail};

use super::store::{self, EmailRow, EmailTemplateRow};
use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::due::{self, kinds, Claimed, Handler, Room, Runner};
use crate::error::Validator;
use crate::{Error, Result, Services};

/// The library every practice starts with: (name, subject, text, html).
pub const BUILTIN: &[(&str, &str, &str, &str)] = &[
    (
        "patient_followup",
        "How is {{ patient.name }} doing?",
        "Dear {{ patient.owner.firstName }},\n\nThank you for bringing {{ patient.name }} in{% if appointment is defined %} on {{ appointment.startsAt | date }}{% endif %}. We hope {{ patient.name }} is feeling better. If you have any questions about the visit, just reply to this email.\n\nThe team at the practice",
        "<p>Dear {{ patient.owner.firstName }},</p><p>Thank you for bringing <strong>{{ patient.name }}</strong> in{% if appointment is defined %} on {{ appointment.startsAt | date }}{% endif %}. We hope {{ patient.name }} is feeling better. If you have any questions about the visit, just reply to this email.</p><p>The team at the practice</p>",
    ),
    (
        "appointment_reminder",
        "Reminder: {{ patient.name }}'s appointment {{ appointment.startsAt | date('%a %d %b at %H:%M') }}",
        "Dear {{ patient.owner.firstName }},\n\nThis is a reminder that {{ patient.name }} has an appointment with {{ appointment.vetName }} on {{ appointment.startsAt | date('%A %d %B at %H:%M') }}{% if appointment.reason is defined and appointment.reason %} ({{ appointment.reason }}){% endif %}.\n\nIf you cannot make it, please let us know.",
        "<p>Dear {{ patient.owner.firstName }},</p><p>This is a reminder that <strong>{{ patient.name }}</strong> has an appointment with {{ appointment.vetName }} on <strong>{{ appointment.startsAt | date('%A %d %B at %H:%M') }}</strong>{% if appointment.reason is defined and appointment.reason %} ({{ appointment.reason }}){% endif %}.</p><p>If you cannot make it, please let us know.</p>",
    ),
    (
        "lab_result_ready",
        "{{ patient.name }}'s {{ labTest.test }} results are ready",
        "Dear {{ patient.owner.firstName }},\n\nThe results of {{ patient.name }}'s {{ labTest.test }} are in.{% if labTest.abnormal %} The vet would like to discuss them with you: we will call you to arrange a recheck.{% else %} Everything is within normal limits.{% endif %}",
        "<p>Dear {{ patient.owner.firstName }},</p><p>The results of {{ patient.name }}'s <strong>{{ labTest.test }}</strong> are in.{% if labTest.abnormal %} The vet would like to discuss them with you: we will call you to arrange a recheck.{% else %} Everything is within normal limits.{% endif %}</p>",
    ),
    (
        "invoice_overdue",
        "Invoice {{ invoice.id }} is overdue",
        "Dear {{ client.firstName }},\n\nOur records show that invoice {{ invoice.id }} for {{ invoice.total | money(invoice.currency) }}, due on {{ invoice.dueDate | date }}, has not been paid yet. If you have already paid, please ignore this email.",
        "<p>Dear {{ client.firstName }},</p><p>Our records show that invoice <strong>{{ invoice.id }}</strong> for <strong>{{ invoice.total | money(invoice.currency) }}</strong>, due on {{ invoice.dueDate | date }}, has not been paid yet. If you have already paid, please ignore this email.</p>",
    ),
    (
        "vaccine_due",
        "{{ patient.name }} is due for a vaccination",
        "Dear {{ patient.owner.firstName }},\n\n{{ patient.name }} is due for their next vaccination. Book a visit online or call us to find a time that suits you.",
        "<p>Dear {{ patient.owner.firstName }},</p><p><strong>{{ patient.name }}</strong> is due for their next vaccination. Book a visit online or call us to find a time that suits you.</p>",
    ),
];

/// An email template rendered with `vars`: subject, text and (escaped) HTML.
/// An error names the part: `(html): {{ patient.nmae }}: …`.
pub fn render_template(
    env: &minijinja::Environment<'_>,
    t: &EmailTemplateRow,
    vars: &serde_json::Value,
) -> std::result::Result<(String, String, Option<String>), String> {
    let r = |src: &str, what: &str| super::render::render(env, src, vars).map_err(|e| format!("({what}): {e}"));
    Ok((
        r(&t.subject, "subject")?,
        r(&t.text_body, "text")?,
        t.html_body
            .as_deref()
            .map(|h| super::render::render_html(env, h, vars).map_err(|e| format!("(html): {e}")))
            .transpose()?,
    ))
}

fn to_wire(r: EmailTemplateRow) -> EmailTemplate {
    EmailTemplate {
        name: r.name,
        subject: r.subject,
        text: r.text_body,
        html: r.html_body,
        builtin: r.builtin,
        updated_at: rfc3339(r.updated_at),
    }
}

pub fn email_to_wire(r: EmailRow) -> OutboxEmail {
    let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
    OutboxEmail {
        id: r.id,
        to: list(&r.to_addrs),
        cc: list(&r.cc_addrs),
        subject: r.subject,
        text: r.text_body,
        html: r.html_body,
        template: r.template,
        status: r.status,
        error: r.error,
        execution_id: r.execution_id,
        created_at: rfc3339(r.created_at),
        sent_at: r.sent_at.map(rfc3339),
    }
}

/// Addresses in a rendered `to` or `cc`: comma- or space-separated, each checked.
pub fn addresses(raw: &str) -> std::result::Result<Vec<String>, String> {
    let list: Vec<String> =
        raw.split([',', ';', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if list.is_empty() {
        return Err("no address".into());
    }
    for a in &list {
        if crate::auth::normalize_email(a).is_err() {
            return Err(format!("{a:?} is not an email address"));
        }
    }
    Ok(list)
}

impl Services {
    /// Makes sure the built-in email templates exist (an admin's edits are kept).
    pub async fn seed_email_templates(&self) -> Result<()> {
        let now = self.now_ms();
        for (name, subject, text, html) in BUILTIN {
            let row = EmailTemplateRow {
                name: name.to_string(),
                subject: subject.to_string(),
                text_body: text.to_string(),
                html_body: Some(html.to_string()),
                builtin: true,
                updated_at: now,
            };
            self.db.put_email_template(&row, true).await?;
        }
        Ok(())
    }

    pub async fn email_templates(&self, caller: &Principal) -> Result<Vec<EmailTemplate>> {
        caller.require(Action::ReadWorkflows)?;
        Ok(self.db.email_templates().await?.into_iter().map(to_wire).collect())
    }

    pub async fn put_email_template(
        &self,
        caller: &Principal,
        name: &str,
        input: EmailTemplateInput,
    ) -> Result<EmailTemplate> {
        caller.require(Action::ManageWorkflows)?;
        let env = super::render::environment(self.settings.timezone);
        let mut v = Validator::new();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        v.check(name_ok, "name", "must be 1 to 64 lower-case letters, digits or _");
        for (field, text, max) in [
            ("subject", Some(&input.subject), 500),
            ("text", Some(&input.text), 50_000),
            ("html", input.html.as_ref(), 100_000),
        ] {
            if let Some(t) = text {
                v.check(t.len() <= max, field, format!("must be at most {max} characters"));
                if let Err(e) = super::render::check_syntax(&env, t) {
                    v.push(field, format!("is not a valid template: {e}"));
                }
            }
        }
        v.check(!input.subject.trim().is_empty(), "subject", "is required");
        v.check(!input.text.trim().is_empty(), "text", "is required");
        v.finish()?;
        let builtin = BUILTIN.iter().any(|b| b.0 == name);
        let row = EmailTemplateRow {
            name: name.to_string(),
            subject: input.subject,
            text_body: input.text,
            html_body: input.html,
            builtin,
            updated_at: self.now_ms(),
        };
        self.db.put_email_template(&row, false).await?;
        Ok(to_wire(row))
    }

    pub async fn delete_email_template(&self, caller: &Principal, name: &str) -> Result<()> {
        caller.require(Action::ManageWorkflows)?;
        if BUILTIN.iter().any(|b| b.0 == name) {
            return Err(Error::Conflict("built-in templates can be edited but not deleted".into()));
        }
        if self.db.delete_email_template(name).await? {
            Ok(())
        } else {
            Err(Error::NotFound("email template"))
        }
    }

    /// The outbox, newest first.
    pub async fn outbox(&self, caller: &Principal, limit: i64) -> Result<Vec<OutboxEmail>> {
        caller.require(Action::ReadWorkflows)?;
        Ok(self.db.outbox(limit.clamp(1, 500)).await?.into_iter().map(email_to_wire).collect())
    }
}

/// Sends queued emails through SMTP.
pub struct EmailHandler {
    services: Services,
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    in_hand: Arc<AtomicUsize>,
}

impl EmailHandler {
    pub fn new(services: Services, smtp_url: &str) -> std::result::Result<Arc<Self>, String> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("--smtp-url: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Arc::new(EmailHandler { services, transport, in_hand: Arc::default() }))
    }
}

impl Handler for EmailHandler {
    fn kind(&self) -> &'static str {
        kinds::EMAIL
    }

    fn room(&self) -> Room {
        Room { free: 8usize.saturating_sub(self.in_hand.load(Ordering::Relaxed)), skip: Vec::new() }
    }

    fn start(&self, rows: Vec<Claimed>) {
        self.in_hand.fetch_add(rows.len(), Ordering::Relaxed);
        let (s, transport, in_hand) = (self.services.clone(), self.transport.clone(), self.in_hand.clone());
        tokio::spawn(async move {
            for row in rows {
                if let Err(e) = send_one(&s, &transport, &row).await {
                    tracing::warn!(error = %e, email = %row.subject_id, "recording an email's outcome failed");
                }
                in_hand.fetch_sub(1, Ordering::Relaxed);
            }
            s.room_freed.notify_one();
        });
    }

    fn stop(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

async fn send_one(
    s: &Services,
    transport: &lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    row: &Claimed,
) -> Result<()> {
    use lettre::AsyncTransport;
    let owner = Runner::owner(s);
    let Some(email) = s.db.email(&row.subject_id).await? else {
        let mut tx = s.db.begin().await?;
        due::store::finish(&mut tx, &owner, &[&row.lease()]).await?;
        return tx.commit().await;
    };
    let outcome = match build_message(&email) {
        Ok(msg) => transport.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let now = s.now_ms();
    let mut tx = s.db.begin().await?;
    match outcome {
        Ok(()) => {
            if !due::store::finish(&mut tx, &owner, &[&row.lease()]).await?.is_empty() {
                store::mark_email(&mut tx, &email.id, "sent", None, Some(now)).await?;
            }
        }
        Err(e) => {
            // Backoff: 30 s, 1 min, 2 min … up to an hour; given up after `due_max_attempts` (then it is dead work).
            let delay = (30_000i64 << (row.attempts.clamp(1, 8) - 1)).min(3_600_000);
            let max = s.settings.due_max_attempts;
            let dead = due::store::fail(&mut tx, &owner, &row.lease(), &e, now + delay, max, now).await?;
            let status = if dead == Some(true) { "failed" } else { "queued" };
            store::mark_email(&mut tx, &email.id, status, Some(&e), None).await?;
        }
    }
    tx.commit().await
}

fn build_message(e: &EmailRow) -> std::result::Result<lettre::Message, String> {
    use lettre::message::{header::ContentType, MultiPart, SinglePart};
    let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
    let mut b = lettre::Message::builder()
        .from("Purple Cross <noreply@purple-cross.local>".parse().map_err(|e| format!("{e}"))?)
        .subject(&e.subject)
        // The outbox id: a resend after a crash between sending and recording carries the same
        // Message-ID, so receivers can drop the duplicate.
        .message_id(Some(format!("<{}@purple-cross>", e.id)));
    for to in list(&e.to_addrs) {
        b = b.to(to.parse().map_err(|err| format!("{to}: {err}"))?);
    }
    for cc in list(&e.cc_addrs) {
        b = b.cc(cc.parse().map_err(|err| format!("{cc}: {err}"))?);
    }
    let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(e.text_body.clone());
    let msg = match &e.html_body {
        Some(html) => b.multipart(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
        ),
        None => b.singlepart(text),
    };
    msg.map_err(|e| e.to_string())
}
