//! AWS Step Functions' quotas that the engine itself enforces.

/// AWS's limit on the events in one execution's history; it also stops a
/// definition that loops forever.
pub const MAX_HISTORY_EVENTS: usize = 25_000;

pub use crate::frame::MAX_PAYLOAD_BYTES;
