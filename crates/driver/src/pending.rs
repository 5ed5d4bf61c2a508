//! The decisions the loop has not carried out yet, one per scope (branch or
//! iteration), and the work in flight for some of them; indexed so that
//! every question the loop asks between two events (an event to record? work
//! to start? the next timer?) costs the same with 10 or 1,000 children in flight.

use futures_util::future::AbortHandle;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use stepwasm_engine::{Decision, EventKind, Scope};

/// What the loop is doing for a decision now: work in flight is matched to
/// the decision of its scope by this, so deciding again after each event
/// neither starts it twice nor loses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    /// A task's module runs: the attempt (its state's entry event and
    /// attempt number name it within the execution).
    Task { entered: u64, attempt: u32 },
    /// An activity's task waits for a worker (its token).
    Activity(String),
    /// A submitted task waits for its token's result.
    Callback(String),
}

impl Work {
    pub(crate) fn of(decision: &Decision) -> Option<Work> {
        match decision {
            Decision::Invoke { task, .. } if stepwasm_asl::is_activity(&task.resource) => {
                Some(Work::Activity(task.task_token.clone().unwrap_or_default()))
            }
            Decision::Invoke { task, .. } => Some(Work::Task { entered: task.entered_event_id, attempt: task.attempt }),
            Decision::AwaitCallback { callback, .. } => Some(Work::Callback(callback.token.clone())),
            _ => None,
        }
    }
}

/// Work in flight for one scope.
pub(crate) struct Flight {
    pub work: Work,
    /// The token the work holds open: a callback's or activity's, or a
    /// `.waitForTaskToken` task's while its module runs.
    pub token: Option<String>,
    pub abort: AbortHandle,
}

/// The decisions not carried out yet and the work in flight.
#[derive(Default)]
pub(crate) struct Pending {
    /// Boxed: the map moves its entries as it grows, and a decision is large.
    decisions: BTreeMap<Scope, Box<Decision>>,
    flights: HashMap<Scope, Flight, foldhash::fast::RandomState>,
    /// The scopes whose decision is an event to record now.
    records: BTreeSet<Scope>,
    /// The scopes whose decision is work not in flight.
    unstarted: BTreeSet<Scope>,
    /// The scopes whose decision is an event to record at an instant, by
    /// that instant (and the instant of each, to take it out).
    timers: BTreeSet<(i64, Scope)>,
    timer_of: HashMap<Scope, i64, foldhash::fast::RandomState>,
}

impl Pending {
    /// Takes in the decisions after an event that changed `changed` (None:
    /// all of them anew): those of `changed`, of the scopes below it and of
    /// the scopes above it are replaced by `decisions`; `due` says when a
    /// `RecordAt` comes due. Work in flight whose decision is gone or changed
    /// is dropped (aborted, and returned for its token to be closed).
    pub fn merge(&mut self, changed: Option<&Scope>, decisions: Vec<Decision>, due: impl Fn(&Decision) -> i64) -> Vec<Flight> {
        let mut touched: Vec<Scope> = Vec::new();
        match changed {
            None => touched.extend(self.decisions.keys().cloned()),
            Some(changed) => {
                for depth in 0..changed.0.len() {
                    if let Some((above, _)) = self.decisions.get_key_value(&changed.0[..depth]) {
                        touched.push(above.clone());
                    }
                }
                touched.extend(
                    self.decisions
                        .range(changed.clone()..)
                        .take_while(|(scope, _)| scope.0.starts_with(&changed.0))
                        .map(|(s, _)| s.clone()),
                );
            }
        }
        for scope in &touched {
            self.decisions.remove(scope);
        }
        for decision in decisions {
            let scope = decision.scope().clone();
            self.decisions.insert(scope.clone(), Box::new(decision));
            touched.push(scope);
        }
        let mut dropped = Vec::new();
        for scope in touched {
            if let Some(flight) = self.flights.get(&scope) {
                if self.decisions.get(&scope).and_then(|d| Work::of(d)).as_ref() != Some(&flight.work) {
                    if let Some(flight) = self.flights.remove(&scope) {
                        flight.abort.abort();
                        dropped.push(flight);
                    }
                }
            }
            self.reindex(&scope, &due);
        }
        dropped
    }

    /// Files `scope` under the index its decision (and flight) belongs to.
    fn reindex(&mut self, scope: &Scope, due: &impl Fn(&Decision) -> i64) {
        self.records.remove(scope);
        self.unstarted.remove(scope);
        if let Some(at) = self.timer_of.remove(scope) {
            self.timers.remove(&(at, scope.clone()));
        }
        match self.decisions.get(scope).map(|d| &**d) {
            Some(Decision::Record { .. }) => {
                self.records.insert(scope.clone());
            }
            Some(decision @ Decision::RecordAt { .. }) => {
                let at = due(decision);
                self.timers.insert((at, scope.clone()));
                self.timer_of.insert(scope.clone(), at);
            }
            Some(Decision::Invoke { .. } | Decision::AwaitCallback { .. }) if !self.flights.contains_key(scope) => {
                self.unstarted.insert(scope.clone());
            }
            _ => {}
        }
    }

    /// An event to record now is waiting.
    pub fn has_record(&self) -> bool {
        !self.records.is_empty()
    }

    /// The first event to record now, taken out (parents' before their
    /// children's: a scope sorts before those below it). (`Finished` is
    /// never kept: the loop ends as soon as the execution has an outcome.)
    pub fn take_record(&mut self) -> Option<(Scope, EventKind)> {
        let scope = self.records.pop_first()?;
        match self.decisions.remove(&scope).map(|d| *d) {
            Some(Decision::Record { scope, event }) => Some((scope, event)),
            _ => None,
        }
    }

    /// The decisions to start work for now: not in flight yet, at most `room` of them.
    pub fn to_start(&self, room: usize) -> Vec<Decision> {
        self.unstarted.iter().take(room).filter_map(|scope| self.decisions.get(scope).map(|d| Decision::clone(d))).collect()
    }

    /// The decision of `scope` is still `work`.
    pub fn wants(&self, scope: &Scope, work: &Work) -> bool {
        self.decisions.get(scope).and_then(|d| Work::of(d)).as_ref() == Some(work)
    }

    /// The `.waitForTaskToken` token of the task `scope` decided to run.
    pub fn task_token(&self, scope: &Scope) -> Option<String> {
        match self.decisions.get(scope).map(|d| &**d) {
            Some(Decision::Invoke { task, .. }) => task.task_token.clone(),
            _ => None,
        }
    }

    /// Notes work in flight for `scope`.
    pub fn launch(&mut self, scope: Scope, flight: Flight) {
        self.unstarted.remove(&scope);
        self.flights.insert(scope, flight);
    }

    /// Work for `scope` ended: true when it is the work in flight there now
    /// (else it was dropped meanwhile, and what it brings is not recorded).
    pub fn land(&mut self, scope: &Scope, work: &Work) -> bool {
        if self.flights.get(scope).map(|f| &f.work) != Some(work) {
            return false;
        }
        self.flights.remove(scope);
        true
    }

    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// No decision waits and no work is in flight.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.flights.is_empty()
    }

    /// Forgets every decision (no work may be in flight): what an event of
    /// the top level does, whose decisions replace all others.
    pub fn clear(&mut self) {
        debug_assert!(self.flights.is_empty(), "work in flight is dropped by merge, not forgotten");
        self.decisions.clear();
        self.records.clear();
        self.unstarted.clear();
        self.timers.clear();
        self.timer_of.clear();
    }

    /// Drops everything: the execution ended. Work in flight is aborted and
    /// returned, for its tokens to be closed.
    pub fn abandon(&mut self) -> Vec<Flight> {
        let dropped: Vec<Flight> = self.flights.drain().map(|(_, flight)| flight).collect();
        for flight in &dropped {
            flight.abort.abort();
        }
        self.clear();
        dropped
    }

    /// The one decision there is, taken out, when it is the only thing to
    /// do (nothing else decided, nothing in flight) and `alone` accepts it.
    pub fn take_lone(&mut self, alone: impl Fn(&Decision) -> bool) -> Option<Decision> {
        if self.decisions.len() != 1 || !self.flights.is_empty() || !self.decisions.values().all(|d| alone(d)) {
            return None;
        }
        let (_, decision) = self.decisions.pop_first()?;
        self.clear();
        Some(*decision)
    }

    /// The earliest timer: when, and its scope.
    pub fn next_timer(&self) -> Option<(i64, Scope)> {
        self.timers.first().cloned()
    }

    /// The event of `scope`'s timer, taken out.
    pub fn take_timer(&mut self, scope: &Scope) -> Option<(Scope, EventKind)> {
        if let Some(at) = self.timer_of.remove(scope) {
            self.timers.remove(&(at, scope.clone()));
        }
        match self.decisions.remove(scope).map(|d| *d) {
            Some(Decision::RecordAt { scope, event, .. }) => Some((scope, event)),
            _ => None,
        }
    }
}
