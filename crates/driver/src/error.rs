//! Why the driver stopped without an outcome ([`DriverError`]).

use stepwasm_engine::ReplayError;
use stepwasm_store::StoreError;

/// Why the driver stopped without an outcome.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The engine refused an event: a bug if the driver made it, a corrupt
    /// or foreign history if it came from the store.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The store could not keep an event; the execution stops there and can
    /// be resumed from what was kept.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored history that cannot be resumed.
    #[error("cannot resume execution {arn:?}: {reason}")]
    NotResumable { arn: String, reason: String },
    /// The evaluation pool could not decide the execution's next step.
    #[error("cannot decide the next step of execution {arn:?}: {reason}")]
    Evaluation { arn: String, reason: String },
    /// A task could not keep what it did, for a cause that may pass
    /// ([`TaskOutcome::StoreUnavailable`]); nothing of the attempt was
    /// recorded, so driving the execution again later runs it again.
    #[error("execution {arn:?}: task {resource} could not keep its result: {cause}")]
    TaskStore { arn: String, resource: String, cause: String },
}
