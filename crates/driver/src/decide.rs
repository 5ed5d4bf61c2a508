//! The engine's next decisions, made within the evaluation budget of one
//! state and never holding an async worker for long (see [`decide`]).

use crate::evaluation_pool::EvaluationPool;
use crate::recorder::Recorder;
use crate::{Clock, DriverError};
use std::sync::Arc;
use stepwasm_asl::errors;
use stepwasm_engine::{Decision, EventKind, Execution, Scope};
use stepwasm_jsonata::evaluation_budget::{self, Budget, INLINE_EVALUATION_LIMIT, STATE_EVALUATION_LIMIT};

/// The engine's decisions (all of them, or those an event that changed the
/// scope `after` can have changed: [`Execution::decide_after`]), made within the evaluation budget of one
/// state ([`evaluation_budget`]) and never holding an async worker for long.
///
/// On tokio, the decision is made here under the small inline budget
/// ([`INLINE_EVALUATION_LIMIT`]): nearly all are, at no cost but a clock
/// read. One that runs out of it is abandoned (`decide` is pure, so making
/// it again is safe) and made again on the [`EvaluationPool`] under the full
/// budget ([`STATE_EVALUATION_LIMIT`]); the execution's next decision then
/// goes to the pool at once, until one is fast again.
///
/// Past the full budget, the state fails: the evaluator that found it says
/// so in its error (`States.QueryEvaluationError`, `States.IntrinsicFailure`,
/// or `States.Runtime` for a Choice rule), and any other outcome (a path
/// that stopped selecting) becomes the execution's failure with
/// `States.Runtime`.
pub(crate) async fn decide<C: Clock + ?Sized>(rec: &mut Recorder<'_, C>, after: Option<Scope>) -> Result<Vec<Decision>, DriverError> {
    let decide = move |execution: &Execution| match &after {
        Some(changed) => execution.decide_after(changed),
        None => execution.decide_all(),
    };
    if !rec.decide_on_pool {
        let budget = Budget::start(INLINE_EVALUATION_LIMIT);
        let decisions = decide(&rec.execution);
        if !budget.exceeded() {
            return Ok(decisions);
        }
    }
    let info = rec.execution.info().clone();
    let arn = info.execution_arn.clone();
    // The execution goes to the pool and comes back (no copy of its state).
    let execution = std::mem::replace(&mut rec.execution, Execution::new(Arc::clone(&rec.machine), info));
    // (The stand-in is never decided: the execution comes back below.)
    let pool = EvaluationPool::shared().map_err(|e| DriverError::Evaluation { arn: arn.clone(), reason: e.to_string() })?;
    let decided = pool
        .run(move || {
            let started = std::time::Instant::now();
            let budget = Budget::start(STATE_EVALUATION_LIMIT);
            let decisions = decide(&execution);
            let exceeded = budget.exceeded();
            (execution, decisions, exceeded, started.elapsed())
        })
        .await;
    let (execution, decisions, exceeded, took) = decided.map_err(|e| DriverError::Evaluation { arn, reason: e.to_string() })?;
    rec.execution = execution;
    rec.decide_on_pool = took >= INLINE_EVALUATION_LIMIT;
    Ok(within_budget(decisions, exceeded))
}

/// Decisions made past the evaluation budget: kept when they hold the
/// failure an evaluator raised for it, else the execution fails with `States.Runtime`.
fn within_budget(decisions: Vec<Decision>, exceeded: bool) -> Vec<Decision> {
    if !exceeded || format!("{decisions:?}").contains(evaluation_budget::MARKER) {
        return decisions;
    }
    let cause = evaluation_budget::Exceeded { limit: STATE_EVALUATION_LIMIT }.to_string();
    vec![Decision::Record { scope: Scope::root(), event: EventKind::ExecutionFailed { error: errors::RUNTIME.into(), cause } }]
}
