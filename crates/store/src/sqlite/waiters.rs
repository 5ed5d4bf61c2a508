//! In-process wake-ups: a driver waiting for its task token's result, or a
//! worker waiting for an activity's next task, is woken when that result or
//! task goes through the same store, so neither has to poll for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// Key (a task token, an activity's ARN) -> the wake-up of whoever waits on
/// it. Weak, so waiters that stopped waiting leave only a dead entry, swept
/// as the map grows.
#[derive(Default)]
pub(super) struct Waiters(Mutex<HashMap<String, Weak<Notify>>>);

impl Waiters {
    pub(super) fn waiter(&self, token: &str) -> Arc<Notify> {
        let mut waiters = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = waiters.get(token).and_then(Weak::upgrade) {
            return live;
        }
        if waiters.len() >= 64 && waiters.len().is_power_of_two() {
            waiters.retain(|_, waiter| waiter.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        waiters.insert(token.to_string(), Arc::downgrade(&notify));
        notify
    }

    /// Wakes the one waiter on `token` and forgets the key.
    pub(super) fn wake(&self, token: &str) {
        let waiter = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(token).and_then(|w| w.upgrade());
        if let Some(waiter) = waiter {
            // A permit is kept if the driver is not parked on it right now.
            waiter.notify_one();
        }
    }

    /// Wakes one of the waiters on `key`; the others stay registered.
    pub(super) fn wake_one(&self, key: &str) {
        let waiter = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key).and_then(Weak::upgrade);
        if let Some(waiter) = waiter {
            waiter.notify_one();
        }
    }
}
