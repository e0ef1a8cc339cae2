//! Prometheus metrics, rendered as text at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `succeeded`, `retrying` or `failed`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathLabels {
    /// `hot` (handed over by ingest) or `claimed` (taken from the queue).
    pub path: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub events_accepted: Counter,
    pub delivery_attempts: Family<OutcomeLabels, Counter>,
    pub deliveries_dispatched: Family<PathLabels, Counter>,
    pub attempt_seconds: Histogram,
    pub queue_depth: Gauge,
    pub oldest_due_age_seconds: Gauge,
    pub retention_deleted: Counter,
    /// Due-work rows marked dead (handling failed or crashed too often).
    pub due_dead: Counter,
    /// Dead rows waiting for an admin, as of the last scrape.
    pub due_dead_rows: Gauge,
    /// Outcome batches that failed as a whole and were written one by one.
    pub outcome_batch_failures: Counter,
    /// Statements the due-work runner sent (wake-up probes and claims): about one a second when idle.
    pub due_runner_queries: Counter,
    /// Workflow steps recorded, by the state they left the step in.
    pub workflow_steps: Family<OutcomeLabels, Counter>,
    /// Workflow executions that ended, by how.
    pub workflow_executions: Family<OutcomeLabels, Counter>,
    /// How long a workflow step took, from claim to commit.
    pub workflow_step_seconds: Histogram,
    /// How late a workflow wait ended, after the time it waited for.
    pub workflow_timer_lateness_seconds: Histogram,
    /// Executions waiting (on a timer or for their branches), as of the last scrape.
    pub workflow_waiting: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("purple_cross");
        let http_requests = Family::<HttpLabels, Counter>::default();
        r.register("http_requests", "HTTP requests served, by method and status", http_requests.clone());
        let events_accepted = Counter::default();
        r.register("events_accepted", "Events accepted by POST /api/v1/events", events_accepted.clone());
        let delivery_attempts = Family::<OutcomeLabels, Counter>::default();
        r.register("delivery_attempts", "Webhook delivery attempts, by what followed", delivery_attempts.clone());
        let deliveries_dispatched = Family::<PathLabels, Counter>::default();
        r.register(
            "deliveries_dispatched",
            "Deliveries started by the worker: handed over by ingest (hot) or claimed from the queue",
            deliveries_dispatched.clone(),
        );
        let attempt_seconds = Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0]);
        r.register("delivery_attempt_seconds", "Duration of webhook delivery attempts", attempt_seconds.clone());
        let queue_depth = Gauge::default();
        r.register("delivery_queue_depth", "Deliveries due now and not yet sent", queue_depth.clone());
        let oldest_due_age_seconds = Gauge::default();
        r.register(
            "delivery_oldest_due_age_seconds",
            "How long the oldest due delivery has waited",
            oldest_due_age_seconds.clone(),
        );
        let retention_deleted = Counter::default();
        r.register("retention_deleted", "Deliveries deleted by the retention job", retention_deleted.clone());
        let due_dead = Counter::default();
        r.register("due_dead", "Due-work rows marked dead after too many failed attempts", due_dead.clone());
        let due_dead_rows = Gauge::default();
        r.register("due_dead_rows", "Dead due-work rows waiting for an admin", due_dead_rows.clone());
        let outcome_batch_failures = Counter::default();
        r.register(
            "delivery_outcome_batch_failures",
            "Outcome batches that failed as a whole and were written one by one",
            outcome_batch_failures.clone(),
        );
        let due_runner_queries = Counter::default();
        r.register(
            "due_runner_queries",
            "Statements the due-work runner sent (wake-up probes and claims)",
            due_runner_queries.clone(),
        );
        let workflow_steps = Family::<OutcomeLabels, Counter>::default();
        r.register(
            "workflow_steps",
            "Workflow steps recorded, by the state they left the step in",
            workflow_steps.clone(),
        );
        let workflow_executions = Family::<OutcomeLabels, Counter>::default();
        r.register("workflow_executions", "Workflow executions that ended, by how", workflow_executions.clone());
        let workflow_step_seconds =
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0]);
        r.register(
            "workflow_step_seconds",
            "How long a workflow step took, from claim to commit",
            workflow_step_seconds.clone(),
        );
        let workflow_timer_lateness_seconds = Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 60.0]);
        r.register(
            "workflow_timer_lateness_seconds",
            "How late a workflow wait ended, after the time it waited for",
            workflow_timer_lateness_seconds.clone(),
        );
        let workflow_waiting = Gauge::default();
        r.register("workflow_waiting", "Workflow executions waiting, as of the last scrape", workflow_waiting.clone());
        Self {
            registry: r,
            workflow_steps,
            workflow_executions,
            workflow_step_seconds,
            workflow_timer_lateness_seconds,
            workflow_waiting,
            due_runner_queries,
            due_dead,
            due_dead_rows,
            outcome_batch_failures,
            http_requests,
            events_accepted,
            delivery_attempts,
            deliveries_dispatched,
            attempt_seconds,
            queue_depth,
            oldest_due_age_seconds,
            retention_deleted,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
