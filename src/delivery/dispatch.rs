//! Who may send now: the worker's in-flight slots, and the hot path that
//! hands freshly accepted deliveries straight to the worker.
//!
//! Every attempt holds two slots: one of `per_endpoint` for its webhook while
//! the HTTP request is under way, so one slow or dead endpoint can never hold
//! the slots healthy ones need; and one of `concurrency` in all until its
//! outcome is committed, so attempts cannot run ahead of the database.
//!
//! The hot path: when ingest commits a delivery, it first tries to reserve a
//! slot. If it gets one, the delivery's due-work row is written already leased
//! to this worker (in the same transaction as the event), and after the commit
//! the delivery goes to the worker through memory: no claim query, no reload.
//! The lease keeps the database the truth: if the process dies before the
//! outcome is written, the lease expires (or, on SQLite, is released at
//! start-up) and the delivery is claimed like any other. Deliveries that find
//! no free slot are written unleased and claimed when a slot frees up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::due::Lease;
use crate::settings::WorkerSettings;

/// A delivery ingest committed leased to this worker, ready to send.
#[derive(Debug, Clone)]
pub struct HotDelivery {
    /// Its due-work row, leased to this worker.
    pub lease: Lease,
    pub id: String,
    pub webhook_id: String,
    pub payload: Bytes,
}

#[derive(Default)]
struct Slots {
    total: usize,
    by_endpoint: HashMap<String, usize>,
}

impl Slots {
    fn leave_endpoint(&mut self, e: &str) {
        if let Some(n) = self.by_endpoint.get_mut(e) {
            *n -= 1;
            if *n == 0 {
                self.by_endpoint.remove(e);
            }
        }
    }
}

pub struct Dispatcher {
    /// The lease owner written on claimed and hot due-work rows.
    pub owner: String,
    pub lease_ms: i64,
    concurrency: usize,
    per_endpoint: usize,
    slots: Mutex<Slots>,
    /// Signalled whenever slots are given back (the due-work runner waits on it).
    slot_freed: Arc<Notify>,
    hot: mpsc::UnboundedSender<Vec<HotDelivery>>,
}

/// Where ingest finds the running worker's dispatcher (none while no worker runs here).
pub type DispatcherSlot = Arc<Mutex<Option<Arc<Dispatcher>>>>;

impl Dispatcher {
    /// `owner` names this worker's leases (see `Services::lease_owner`);
    /// `slot_freed` is told whenever room frees up.
    pub fn new(
        owner: String,
        settings: &WorkerSettings,
        slot_freed: Arc<Notify>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Vec<HotDelivery>>) {
        let (hot, rx) = mpsc::unbounded_channel();
        let d = Dispatcher {
            owner,
            lease_ms: settings.lease_ms,
            concurrency: settings.concurrency,
            per_endpoint: settings.per_endpoint,
            slots: Mutex::default(),
            slot_freed,
            hot,
        };
        (Arc::new(d), rx)
    }

    /// Takes a slot for an attempt to `endpoint`, if one is free.
    pub fn try_reserve(&self, endpoint: &str) -> bool {
        let mut s = self.slots.lock().expect("slots lock");
        if s.total >= self.concurrency {
            return false;
        }
        let n = s.by_endpoint.get(endpoint).copied().unwrap_or(0);
        if n >= self.per_endpoint {
            return false;
        }
        s.total += 1;
        *s.by_endpoint.entry(endpoint.to_string()).or_default() += 1;
        true
    }

    /// Gives back both slots of attempts that will not be made (or were made
    /// and recorded), one per endpoint named.
    pub fn release<'a>(&self, endpoints: impl IntoIterator<Item = &'a str>) {
        {
            let mut s = self.slots.lock().expect("slots lock");
            for e in endpoints {
                s.total = s.total.saturating_sub(1);
                s.leave_endpoint(e);
            }
        }
        self.slot_freed.notify_one();
    }

    /// The request to `endpoint` is over: it may take another one, although
    /// the outcome is still to be committed.
    pub fn request_done(&self, endpoint: &str) {
        self.slots.lock().expect("slots lock").leave_endpoint(endpoint);
        self.slot_freed.notify_one();
    }

    /// `n` outcomes (whose requests were done) are committed.
    pub fn committed(&self, n: usize) {
        {
            let mut s = self.slots.lock().expect("slots lock");
            s.total = s.total.saturating_sub(n);
        }
        self.slot_freed.notify_one();
    }

    /// Free slots in all, and the endpoints that have none left (a claim skips them).
    pub fn room(&self) -> (usize, Vec<String>) {
        let s = self.slots.lock().expect("slots lock");
        let full = s.by_endpoint.iter().filter(|(_, n)| **n >= self.per_endpoint).map(|(k, _)| k.clone()).collect();
        (self.concurrency.saturating_sub(s.total), full)
    }

    pub fn in_flight(&self) -> usize {
        self.slots.lock().expect("slots lock").total
    }

    /// Passes committed, leased deliveries (whose slots are reserved) to the worker.
    /// Gives them back when the worker has stopped.
    pub fn hand_over(&self, deliveries: Vec<HotDelivery>) -> Result<(), Vec<HotDelivery>> {
        self.hot.send(deliveries).map_err(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatcher(concurrency: usize, per_endpoint: usize) -> Arc<Dispatcher> {
        let settings = WorkerSettings { concurrency, per_endpoint, ..WorkerSettings::default() };
        Dispatcher::new("inst_test/worker".into(), &settings, Arc::default()).0
    }

    #[test]
    fn caps_each_endpoint_and_the_total() {
        let d = dispatcher(5, 2);
        assert!(d.try_reserve("a"));
        assert!(d.try_reserve("a"));
        assert!(!d.try_reserve("a"), "a is at its cap");
        assert!(d.try_reserve("b"));
        assert!(d.try_reserve("b"));
        assert!(d.try_reserve("c"));
        assert!(!d.try_reserve("d"), "every slot is taken");
        let (room, full) = d.room();
        assert_eq!(room, 0);
        let mut full = full;
        full.sort();
        assert_eq!(full, vec!["a".to_string(), "b".to_string()]);

        d.release(["a"]);
        assert_eq!(d.in_flight(), 4);
        assert!(d.try_reserve("a"));
        d.release(["a", "a", "b", "b", "c"]);
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.room(), (5, vec![]));
    }

    #[test]
    fn an_endpoint_slot_frees_when_the_request_ends_and_the_total_when_committed() {
        let d = dispatcher(3, 1);
        assert!(d.try_reserve("a"));
        assert!(!d.try_reserve("a"));
        d.request_done("a");
        assert!(d.try_reserve("a"), "the endpoint is free again before the outcome is committed");
        assert!(d.try_reserve("b"));
        assert!(!d.try_reserve("c"), "three outcomes are not committed yet");
        d.committed(1);
        assert!(d.try_reserve("c"));
        assert_eq!(d.in_flight(), 3);
    }

    #[tokio::test]
    async fn hand_over_fails_once_the_worker_is_gone() {
        let (d, mut rx) = Dispatcher::new("inst_test/worker".into(), &WorkerSettings::default(), Arc::default());
        let hot = HotDelivery {
            lease: Lease { id: "due_1".into(), fence: 1 },
            id: "msg_1".into(),
            webhook_id: "wh_1".into(),
            payload: Bytes::from_static(b"{}"),
        };
        d.hand_over(vec![hot.clone()]).unwrap();
        assert_eq!(rx.recv().await.unwrap()[0].id, "msg_1");
        drop(rx);
        assert_eq!(d.hand_over(vec![hot]).unwrap_err().len(), 1);
    }
}
