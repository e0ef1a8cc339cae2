//! Who may send now: the worker's in-flight slots, and the hot path that
//! hands freshly accepted deliveries straight to the worker.
//!
//! Every delivery the worker takes holds a place in two counts until it lets
//! go: one of `concurrency` in all until its outcome is committed, so
//! attempts cannot run ahead of the database; and one of its webhook's *hand*
//! (twice `per_endpoint`) until its request is over. Within the hand, a gate
//! of `per_endpoint` permits lets through the requests themselves, first
//! come first served. So one slow or dead endpoint can never hold more than
//! its hand of the slots healthy ones need, never has more than
//! `per_endpoint` requests in flight, and the deliveries still waiting for
//! their commit or for the database do not count against its requests.
//!
//! Why the hand is twice the gate: a delivery waits at most for one round of
//! the requests ahead of it (each ends within the request timeout), so its
//! lease must outlive two request timeouts (the server's start-up ensures it).
//!
//! The hot path: when ingest commits a delivery, it first tries to take a
//! place in the hand. If it gets one, the delivery's due-work row is written
//! already leased to this worker (in the same transaction as the event), and
//! after the commit the delivery goes to the worker through memory: no claim
//! query, no reload. The lease keeps the database the truth: if the process
//! dies before the outcome is written, the lease expires (or, on SQLite, is
//! released at start-up) and the delivery is claimed like any other.
//! Deliveries that find no place are written unleased and claimed when one
//! frees up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

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

/// How many deliveries the worker holds for one endpoint for each request it may have in flight.
const HAND_PER_REQUEST: usize = 2;

/// One endpoint's deliveries in this worker's hand, and the gate its requests pass.
struct Endpoint {
    in_hand: usize,
    requests: Arc<Semaphore>,
}

#[derive(Default)]
struct Slots {
    total: usize,
    by_endpoint: HashMap<String, Endpoint>,
}

impl Slots {
    fn leave_endpoint(&mut self, e: &str) {
        if let Some(n) = self.by_endpoint.get_mut(e) {
            n.in_hand -= 1;
            if n.in_hand == 0 {
                // Nobody holds or waits for its gate: every holder and waiter is in the hand.
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
    hand: usize,
    slots: Mutex<Slots>,
    /// Signalled whenever slots are given back (the due-work runner waits on it).
    slot_freed: Arc<Notify>,
    hot: mpsc::UnboundedSender<Vec<HotDelivery>>,
    /// The worker is stopping: deliveries still waiting at a gate are given back, not sent.
    stopping: std::sync::atomic::AtomicBool,
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
        let per_endpoint = settings.per_endpoint.max(1);
        let d = Dispatcher {
            owner,
            lease_ms: settings.lease_ms,
            concurrency: settings.concurrency,
            per_endpoint,
            hand: per_endpoint * HAND_PER_REQUEST,
            slots: Mutex::default(),
            slot_freed,
            hot,
            stopping: Default::default(),
        };
        (Arc::new(d), rx)
    }

    /// Takes a delivery to `endpoint` into the worker's hand, if there is room.
    pub fn try_reserve(&self, endpoint: &str) -> bool {
        let mut s = self.slots.lock().expect("slots lock");
        if s.total >= self.concurrency {
            return false;
        }
        let per_endpoint = self.per_endpoint;
        match s.by_endpoint.get_mut(endpoint) {
            Some(e) if e.in_hand >= self.hand => return false,
            Some(e) => e.in_hand += 1,
            None => {
                let e = Endpoint { in_hand: 1, requests: Arc::new(Semaphore::new(per_endpoint)) };
                s.by_endpoint.insert(endpoint.to_string(), e);
            }
        }
        s.total += 1;
        true
    }

    /// Waits for a request slot to `endpoint`, for a delivery taken into the
    /// hand with [`Dispatcher::try_reserve`] (first come, first served).
    /// Dropping the permit lets the next request through; call
    /// [`Dispatcher::request_done`] too.
    pub async fn request_slot(&self, endpoint: &str) -> OwnedSemaphorePermit {
        let gate = self.slots.lock().expect("slots lock").by_endpoint.get(endpoint).map(|e| e.requests.clone());
        // The delivery is in the hand, so its endpoint's gate exists; the fallback only keeps a bug from hanging.
        let gate = gate.unwrap_or_else(|| Arc::new(Semaphore::new(1)));
        gate.acquire_owned().await.expect("endpoint gates are never closed")
    }

    /// Gives back both slots of deliveries that will not be attempted (or
    /// were attempted and recorded), one per endpoint named.
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

    /// The request to `endpoint` is over: its place in the hand frees,
    /// although the outcome is still to be committed.
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

    /// Free slots in all, and the endpoints whose hand is full (a claim skips them).
    pub fn room(&self) -> (usize, Vec<String>) {
        let s = self.slots.lock().expect("slots lock");
        let full = s.by_endpoint.iter().filter(|(_, e)| e.in_hand >= self.hand).map(|(k, _)| k.clone()).collect();
        (self.concurrency.saturating_sub(s.total), full)
    }

    /// From now on, deliveries that pass their gate are given back instead of sent.
    pub fn stop_sending(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn sending(&self) -> bool {
        !self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Deliveries the worker may hold at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
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
    use std::future::Future;

    use super::*;

    fn dispatcher(concurrency: usize, per_endpoint: usize) -> Arc<Dispatcher> {
        let settings = WorkerSettings { concurrency, per_endpoint, ..WorkerSettings::default() };
        Dispatcher::new("inst_test/worker".into(), &settings, Arc::default()).0
    }

    #[test]
    fn caps_each_endpoints_hand_and_the_total() {
        let d = dispatcher(9, 2);
        for _ in 0..4 {
            assert!(d.try_reserve("a"), "a's hand is twice its requests");
        }
        assert!(!d.try_reserve("a"), "a's hand is full");
        for _ in 0..4 {
            assert!(d.try_reserve("b"));
        }
        assert!(d.try_reserve("c"));
        assert!(!d.try_reserve("d"), "every slot is taken");
        let (room, full) = d.room();
        assert_eq!(room, 0);
        let mut full = full;
        full.sort();
        assert_eq!(full, vec!["a".to_string(), "b".to_string()]);

        d.release(["a"]);
        assert_eq!(d.in_flight(), 8);
        assert!(d.try_reserve("a"));
        d.release(["a", "a", "a", "a", "b", "b", "b", "b", "c"]);
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.room(), (9, vec![]));
    }

    #[test]
    fn a_place_in_the_hand_frees_when_the_request_ends_and_the_total_when_committed() {
        let d = dispatcher(3, 1);
        assert!(d.try_reserve("a"));
        assert!(d.try_reserve("a"));
        assert!(!d.try_reserve("a"));
        d.request_done("a");
        assert!(d.try_reserve("a"), "the hand has room again before the outcome is committed");
        assert!(!d.try_reserve("b"), "three outcomes are not committed yet");
        d.committed(1);
        assert!(d.try_reserve("b"));
        assert_eq!(d.in_flight(), 3);
    }

    #[tokio::test]
    async fn requests_to_one_endpoint_pass_its_gate_in_turn() {
        let d = dispatcher(10, 2);
        for _ in 0..4 {
            assert!(d.try_reserve("a"));
        }
        assert!(d.try_reserve("b"));
        let first = d.request_slot("a").await;
        let _second = d.request_slot("a").await;
        let mut third = Box::pin(d.request_slot("a"));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(third.as_mut().poll(&mut cx).is_pending(), "two requests to a are in flight");
        let _other = d.request_slot("b").await; // another endpoint is not held up
        drop(first);
        d.request_done("a");
        assert!(third.as_mut().poll(&mut cx).is_ready(), "the next request goes when one ends");
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
