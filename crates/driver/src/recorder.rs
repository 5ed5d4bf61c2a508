//! The recorder: numbers, timestamps and applies each event to the
//! execution, keeps the history (or forgets what is journaled), and writes it
//! to the store in grouped batches.

use crate::clock::Clock;
use crate::DriverError;
use std::collections::HashMap;
use std::sync::Arc;
use stepwasm_asl::StateMachine;
use stepwasm_engine::{EventKind, Execution, ExecutionInfo, HistoryEvent, Outcome, ReplayError, Scope};
use stepwasm_store::Journal;

/// Appends events and applies them to the execution.
pub(crate) struct Recorder<'a, C: ?Sized> {
    pub(crate) execution: Execution,
    pub(crate) machine: Arc<StateMachine>,
    /// The last decision needed more than the inline budget: make the next
    /// one on the evaluation pool straight away (see [`decide`]).
    pub(crate) decide_on_pool: bool,
    pub(crate) history: Vec<HistoryEvent>,
    /// The latest event id of each scope, for `previous_event_id`.
    pub(crate) latest: HashMap<Scope, u64, foldhash::fast::RandomState>,
    pub(crate) clock: &'a C,
    /// Where the events are journaled, if anywhere.
    pub(crate) store: Option<&'a dyn Journal>,
    /// How many events of `history` the store already has.
    pub(crate) journaled: usize,
    /// With a store: drop journaled events from memory (`serve`, where an
    /// execution may stay parked for long and nobody reads its record).
    pub(crate) forget_journaled: bool,
    /// How many journaled events were dropped from the front of `history`.
    pub(crate) forgotten: usize,
    /// With a store: a wait longer than this parks the execution instead
    /// ([`Progress::Parked`]) so that it holds no memory while it waits.
    pub(crate) park_waits_over_ms: Option<i64>,
    /// Set while the execution is not registered in the store yet: its first
    /// grouped flush registers it (at this start time) with its first events.
    pub(crate) unregistered_start_ms: Option<i64>,
    /// The host's cap on children in flight: Map iterations one Map state
    /// runs at once, and tasks, callbacks and activity tasks this execution
    /// has in flight at once ([`crate::set_max_concurrent_children`]).
    pub(crate) max_children: usize,
}

impl<'a, C: Clock + ?Sized> Recorder<'a, C> {
    pub(crate) fn new(machine: Arc<StateMachine>, info: ExecutionInfo, clock: &'a C, store: Option<&'a dyn Journal>) -> Self {
        let max_children = crate::max_concurrent_children();
        let mut execution = Execution::new(Arc::clone(&machine), info);
        execution.set_max_children(max_children);
        Recorder {
            execution,
            machine,
            decide_on_pool: false,
            history: Vec::new(),
            latest: HashMap::default(),
            clock,
            store,
            journaled: 0,
            forget_journaled: false,
            forgotten: 0,
            park_waits_over_ms: None,
            unregistered_start_ms: None,
            max_children,
        }
    }

    /// Events recorded so far, forgotten ones included.
    pub(crate) fn len(&self) -> usize {
        self.forgotten + self.history.len()
    }

    /// Drops the journaled events from memory, if this recorder forgets them.
    pub(crate) fn forget(&mut self) {
        if self.forget_journaled && self.store.is_some() {
            self.forgotten += self.journaled;
            self.history.drain(..self.journaled);
            self.journaled = 0;
        }
    }

    /// Journals this new, unjournaled execution in `store`: it is registered
    /// there with its first batch of events, in one step.
    pub(crate) fn journal_in(&mut self, store: &'a dyn Journal) {
        self.store = Some(store);
        self.journaled = 0;
        self.unregistered_start_ms = self.history.first().map(|e| e.timestamp_ms);
    }

    /// Writes the events the store does not have yet, all or none, through
    /// the store's group commit: the transaction may be shared with other
    /// executions' batches, and the wait holds no thread.
    pub(crate) async fn flush_grouped(&mut self) -> Result<(), DriverError> {
        if let Some(store) = self.store {
            if self.journaled < self.history.len() {
                let (info, events) = (self.execution.info(), &self.history[self.journaled..]);
                match self.unregistered_start_ms.take() {
                    Some(start_ms) => store.start_execution_async(info, start_ms, events).await?,
                    None => store.append_all_async(&info.execution_arn, events).await?,
                }
            }
        }
        self.journaled = self.history.len();
        self.forget();
        Ok(())
    }

    /// An execution stopped in the store while this driver ran it: its
    /// history becomes the stored one, which ends with `ExecutionAborted`,
    /// and that event's outcome is returned.
    pub(crate) fn stopped(&mut self) -> Result<Outcome, DriverError> {
        let arn = self.execution.info().execution_arn.clone();
        let history = match self.store {
            Some(store) => store.history(&arn)?,
            None => Vec::new(),
        };
        let Some(outcome) = history.last().and_then(|e| Outcome::ended_by(&e.kind)) else {
            return Err(DriverError::NotResumable { arn, reason: "it was stopped, but its stored history does not end".into() });
        };
        self.journaled = history.len();
        self.forgotten = 0;
        self.history = history;
        self.forget();
        Ok(outcome)
    }

    /// Folds an event that is already recorded (replay) into the state.
    pub(crate) fn replay(&mut self, event: HistoryEvent) -> Result<(), ReplayError> {
        self.execution.apply(&event)?;
        self.latest.insert(event.scope.clone(), event.id);
        self.history.push(event);
        self.journaled = self.history.len();
        Ok(())
    }

    pub(crate) fn record(&mut self, scope: Scope, kind: EventKind) -> Result<(), DriverError> {
        let id = self.len() as u64 + 1;
        // An event follows the latest one of its own branch or iteration; the
        // first of a branch follows its parent's latest (…StateStarted).
        let mut previous_event_id = 0;
        let mut ancestor: &[u32] = &scope.0;
        loop {
            if let Some(&latest) = self.latest.get(ancestor) {
                previous_event_id = latest;
                break;
            }
            let Some((_, parent)) = ancestor.split_last() else { break };
            ancestor = parent;
        }
        let event = HistoryEvent { id, previous_event_id, timestamp_ms: self.clock.now_ms(), scope, kind };
        // Applied first, so a bad event never reaches the store.
        self.execution.apply(&event)?;
        self.latest.insert(event.scope.clone(), id);
        self.history.push(event);
        Ok(())
    }
}
