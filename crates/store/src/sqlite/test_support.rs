//! What the store's unit tests share: an execution and its events.

use stepwasm_engine::{EventKind, ExecutionInfo, HistoryEvent, Scope};

/// An execution of the state machine `sm`.
pub(super) fn info(name: &str) -> ExecutionInfo {
    stepwasm_engine::execution_info("sm", name)
}

/// Top-level event `id`, at 1,000 + `id` ms.
pub(super) fn event(id: u64, kind: EventKind) -> HistoryEvent {
    HistoryEvent { id, previous_event_id: id.saturating_sub(1), timestamp_ms: 1_000 + id as i64, scope: Scope::root(), kind }
}
