//! Signals between instances over Redis (when `REDIS_URL` is set): "there is
//! due work", "webhooks changed", "API keys changed", "something changed"
//! (live views on every instance refresh). The same connection
//! carries the shared rate-limit counters (`rate_limit`).
//!
//! Redis only makes instances react sooner. Every signal has a slower path
//! that works without it — workers poll for due work, caches expire after a
//! second (webhooks) or five (API keys) — so a lost message, a Redis restart
//! or no Redis at all delays things but never loses or corrupts anything.
//! Publishing never blocks the caller and never fails a request.

use fred::prelude::*;
use tokio::sync::mpsc;

use crate::Services;

/// The one channel all instances publish to and listen on.
pub const CHANNEL: &str = "purple-cross:signals";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Due work was committed that this instance did not hand to its own worker.
    DueWork,
    /// A webhook or its subscriptions changed.
    WebhooksChanged,
    /// An API key was revoked.
    ApiKeysChanged,
    /// Events, deliveries or executions changed: live views should refresh.
    Changed,
}

impl Signal {
    fn as_str(self) -> &'static str {
        match self {
            Signal::DueWork => "due",
            Signal::WebhooksChanged => "webhooks",
            Signal::ApiKeysChanged => "api-keys",
            Signal::Changed => "changed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "due" => Some(Signal::DueWork),
            "webhooks" => Some(Signal::WebhooksChanged),
            "api-keys" => Some(Signal::ApiKeysChanged),
            "changed" => Some(Signal::Changed),
            _ => None,
        }
    }
}

/// A message on the channel: who sent it (so an instance ignores its own) and what.
fn encode(origin: &str, signal: Signal) -> String {
    format!("{origin} {}", signal.as_str())
}

fn decode(message: &str) -> Option<(&str, Signal)> {
    let (origin, what) = message.split_once(' ')?;
    Some((origin, Signal::parse(what)?))
}

/// This instance's publisher: a queue drained by one task, so callers never wait on Redis.
#[derive(Clone)]
pub struct Signals {
    tx: mpsc::UnboundedSender<Signal>,
}

impl Signals {
    pub fn send(&self, signal: Signal) {
        let _ = self.tx.send(signal);
    }
}

/// Connects to Redis, starts publishing and listening, and makes `services`
/// send signals from now on. Fails only if Redis cannot be reached at start.
pub async fn connect(services: &Services, url: &str) -> Result<(), String> {
    let config = Config::from_url(url).map_err(|e| format!("REDIS_URL: {e}"))?;
    let publisher = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 10_000, 2))
        .build()
        .map_err(|e| format!("Redis: {e}"))?;
    let subscriber = publisher.clone_new();
    publisher.init().await.map_err(|e| format!("Redis at {url}: {e}"))?;
    subscriber.init().await.map_err(|e| format!("Redis at {url}: {e}"))?;
    subscriber.subscribe(CHANNEL).await.map_err(|e| format!("Redis: {e}"))?;

    services.rate_limits.share(publisher.clone());
    let origin = services.instance.to_string();
    let (tx, mut rx) = mpsc::unbounded_channel::<Signal>();
    {
        let origin = origin.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, 64).await > 0 {
                // Many identical signals in a burst say no more than one.
                batch.sort_by_key(|s| s.as_str());
                batch.dedup();
                for s in batch.drain(..) {
                    if let Err(e) = publisher.publish::<(), _, _>(CHANNEL, encode(&origin, s)).await {
                        tracing::debug!(error = %e, "could not publish a signal; other instances will poll");
                    }
                }
            }
        });
    }

    let listener = services.clone();
    let mut messages = subscriber.message_rx();
    let resubscriber = subscriber.clone();
    tokio::spawn(async move {
        // After a reconnect the subscription is gone: subscribe again.
        let mut reconnects = resubscriber.reconnect_rx();
        loop {
            tokio::select! {
                m = messages.recv() => match m {
                    Ok(m) => {
                        let Ok(text) = m.value.convert::<String>() else { continue };
                        match decode(&text) {
                            Some((from, _)) if from == origin => {}
                            Some((_, signal)) => listener.on_signal(signal),
                            None => tracing::debug!(message = %text, "ignored an unknown signal"),
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Missed some: act as if every kind arrived.
                        listener.on_signal(Signal::DueWork);
                        listener.on_signal(Signal::WebhooksChanged);
                        listener.on_signal(Signal::ApiKeysChanged);
                        listener.on_signal(Signal::Changed);
                    }
                    Err(_) => break,
                },
                r = reconnects.recv() => {
                    if r.is_err() {
                        break;
                    }
                    if let Err(e) = resubscriber.subscribe(CHANNEL).await {
                        tracing::warn!(error = %e, "could not subscribe to signals again");
                    }
                }
            }
        }
    });

    services.set_signals(Signals { tx });
    tracing::info!(channel = CHANNEL, "sharing signals with other instances through Redis");
    Ok(())
}

impl Services {
    pub(crate) fn signal(&self, signal: Signal) {
        if let Some(s) = self.signals.get() {
            s.send(signal);
        }
    }

    fn set_signals(&self, signals: Signals) {
        let _ = self.signals.set(signals);
    }

    /// What another instance's signal means here.
    fn on_signal(&self, signal: Signal) {
        match signal {
            Signal::DueWork => self.wake.notify_one(),
            Signal::WebhooksChanged => self.webhook_cache.clear(),
            Signal::ApiKeysChanged => self.clear_api_key_cache(),
            // Only this instance's live views: sending it on would echo forever.
            Signal::Changed => self.changes.send_modify(|v| *v = v.wrapping_add(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_unknown_ones_are_refused() {
        for s in [Signal::DueWork, Signal::WebhooksChanged, Signal::ApiKeysChanged, Signal::Changed] {
            assert_eq!(decode(&encode("inst_1", s)), Some(("inst_1", s)));
        }
        assert_eq!(decode("inst_1 reboot"), None);
        assert_eq!(decode("nonsense"), None);
    }
}
