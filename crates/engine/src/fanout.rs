//! The children of a running Parallel or Map state, and how their results
//! come together.
//!
//! Children run at the same time: every branch of a Parallel state, and as
//! many Map iterations as `MaxConcurrency` allows (0 or absent: the host's
//! cap, [`Env::max_children`]), started in item order as slots free up.
//! Their events interleave in the history in the order things happened; the
//! state is a fold of that order, so a replay reaches the same state. A
//! Parallel state fails with the first failing branch's error, once the
//! branches still working are stopped (`…StateAborted`). A Map state
//! records each iteration's end (`MapIterationSucceeded`/`Failed`); an inline
//! Map fails with the failing iteration's error, while a Map that declares a
//! tolerated failure count or percentage, or runs in DISTRIBUTED mode (which
//! tolerates none by default), fails with
//! `States.ExceedToleratedFailureThreshold` once the failures go beyond it. A
//! tolerated failure contributes its `{"Error", "Cause"}` object to the
//! result array in the item's place; once the state fails, the iterations
//! still running are stopped (`MapIterationAborted`). Children's failures go back to the
//! frame, which retries the state or records its failure (see
//! `Frame::children_failed`). A failed state keeps its children, so that a
//! redrive runs again only those that failed or did not finish
//! ([`Fanout::redrive`]); a retry runs them all again.

use super::frame::{Env, Frame, Next};
use super::history::{EventKind, Scope};
use super::Failure;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use stepwasm_asl::definition::ItemBatcher;
use stepwasm_asl::errors;
use stepwasm_asl::path::{Bindings, Path, Root};
use stepwasm_asl::size::SizeBudget;
use stepwasm_asl::template::Template;
use stepwasm_asl::{Graph, MapState, NumberSetting, PathSetting, State, StateKind};

#[derive(Debug, Clone)]
pub(super) enum Fanout {
    Parallel {
        branches: Vec<Frame>,
    },
    Map {
        processor: Arc<Graph>,
        /// Each iteration's input.
        items: Vec<Value>,
        /// Each iteration's result once it has ended (a failed one's
        /// `{"Error", "Cause"}`), in item order; None while it has not.
        results: Vec<Option<Value>>,
        /// How many of `results` are set: all of them ends the state.
        ended: usize,
        /// The first iteration that has neither ended nor started: the next
        /// to start (iterations start in index order, a redrive's too).
        next_pending: usize,
        /// The iterations running now, by index (each frame boxed: it is
        /// large, and the `Parallel` variant is only a `Vec`).
        running: BTreeMap<u32, Box<Frame>>,
        /// The frames of the iterations that failed, by index: a redrive
        /// runs each again from where it failed (see [`Fanout::redrive`]).
        failed: BTreeMap<u32, Box<Frame>>,
        /// The frames of the iterations stopped when the state failed
        /// (`MapIterationAborted`): a redrive runs them again too.
        stopped: BTreeMap<u32, Box<Frame>>,
        last_failure: Option<Failure>,
        /// The frames a redrive left to run again (failed or unfinished
        /// iterations), each taken up by its next `MapIterationStarted`.
        redriven: BTreeMap<u32, Box<Frame>>,
    },
}

/// Which part of a frame's tree a decision covers (see
/// [`crate::Execution::decide_after`]): after an event, only the frames it
/// can have changed are decided again.
#[derive(Debug, Clone, Copy)]
pub(super) enum Focus<'p> {
    /// The frame and everything below it.
    All,
    /// Along this path of child indices (empty: [`Focus::All`]): the child
    /// it leads to is decided, the others only asked whether they have ended.
    Path(&'p [u32]),
    /// The frame's own level: a running Parallel or Map state is busy.
    Shallow,
}

impl<'p> Focus<'p> {
    /// The focus of child `index` of a frame decided with this focus.
    fn of_child(self, index: u32) -> Focus<'p> {
        match self {
            Focus::All => Focus::All,
            Focus::Path([first, rest @ ..]) if *first == index => {
                if rest.is_empty() {
                    Focus::All
                } else {
                    Focus::Path(rest)
                }
            }
            Focus::Path([]) => Focus::All,
            Focus::Path(_) | Focus::Shallow => Focus::Shallow,
        }
    }
}

impl Fanout {
    pub fn new_map(processor: Arc<Graph>, items: Vec<Value>) -> Fanout {
        let results = vec![None; items.len()];
        Fanout::Map {
            processor,
            items,
            results,
            ended: 0,
            next_pending: 0,
            running: BTreeMap::new(),
            failed: BTreeMap::new(),
            stopped: BTreeMap::new(),
            last_failure: None,
            redriven: BTreeMap::new(),
        }
    }

    /// After the execution was redriven: the children that succeeded keep
    /// their results, the others run again. A Parallel branch that failed or
    /// did not finish goes on from the state it ended in
    /// ([`Frame::redrive`]); one that never started starts. A Map iteration
    /// that failed, was stopped or was running is started again
    /// (`MapIterationStarted`) and goes on from the state it ended in; one
    /// that never started starts. Everything here is the fold of recorded
    /// events, so a replay redrives the same children.
    pub fn redrive(&mut self) {
        match self {
            Fanout::Parallel { branches } => branches.iter_mut().for_each(Frame::redrive),
            Fanout::Map { results, ended, next_pending, running, failed, stopped, last_failure, redriven, .. } => {
                redriven.append(failed);
                redriven.append(stopped);
                redriven.append(running);
                for (index, frame) in redriven.iter_mut() {
                    frame.redrive();
                    if let Some(result) = results.get_mut(*index as usize) {
                        if result.take().is_some() {
                            *ended -= 1;
                        }
                    }
                }
                *last_failure = None;
                *next_pending = results.iter().position(Option::is_none).unwrap_or(results.len());
            }
        }
    }

    pub fn child_mut(&mut self, index: u32) -> Option<&mut Frame> {
        match self {
            Fanout::Parallel { branches } => branches.get_mut(index as usize),
            Fanout::Map { running, .. } => running.get_mut(&index).map(Box::as_mut),
        }
    }

    /// The running child `index`, read only.
    pub fn child(&self, index: u32) -> Option<&Frame> {
        match self {
            Fanout::Parallel { branches } => branches.get(index as usize),
            Fanout::Map { running, .. } => running.get(&index).map(Box::as_ref),
        }
    }

    /// The running children, for the variables they hold.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Frame> + '_> {
        match self {
            Fanout::Parallel { branches } => Box::new(branches.iter()),
            Fanout::Map { running, .. } => Box::new(running.values().map(Box::as_ref)),
        }
    }

    /// Folds a `MapIteration…` event.
    pub fn apply_iteration(&mut self, event: &EventKind) -> Result<(), String> {
        let Fanout::Map { processor, items, results, ended, next_pending, running, failed, stopped, last_failure, redriven } = self else {
            return Err("a Parallel state has no iterations".into());
        };
        match event {
            EventKind::MapIterationStarted { index, .. } => {
                if *index as usize != *next_pending {
                    return Err(format!("iteration {index} cannot start now (next is {next_pending})"));
                }
                let input = items.get(*index as usize).ok_or_else(|| format!("there is no item {index}"))?;
                let frame =
                    redriven.remove(index).unwrap_or_else(|| Box::new(Frame::child(Arc::clone(processor), Arc::new(input.clone()))));
                running.insert(*index, frame);
                *next_pending = (*next_pending + 1..results.len()).find(|&i| results[i].is_none()).unwrap_or(results.len());
            }
            EventKind::MapIterationSucceeded { index, output, .. } => {
                take_running(running, *index)?;
                results[*index as usize] = Some(output.clone());
                *ended += 1;
            }
            EventKind::MapIterationFailed { index, error, cause, .. } => {
                let frame = take_running(running, *index)?;
                results[*index as usize] = Some(json!({"Error": error, "Cause": cause}));
                *ended += 1;
                failed.insert(*index, frame);
                *last_failure = Some(Failure::new(error, cause.clone()));
            }
            EventKind::MapIterationAborted { index, .. } => {
                if last_failure.is_none() {
                    return Err(format!("iteration {index} is stopped only when the state fails"));
                }
                let frame = take_running(running, *index)?;
                stopped.insert(*index, frame);
            }
            other => return Err(format!("{} is not an iteration event", other.type_name())),
        }
        Ok(())
    }

    /// What the running children need next: their actions go to `out`
    /// (those `focus` covers), and the state's own next event, if it has
    /// one now, is returned (an iteration's end, a branch or iteration
    /// stopped, the next iteration started, the state's result); Err when
    /// the children failed and none is left running (the frame decides on
    /// Retry and Catch).
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        env: &Env,
        scope: &Scope,
        state: &State,
        state_input: &Value,
        b: &Bindings,
        focus: Focus,
        out: &mut Vec<Next>,
    ) -> Result<Option<Next>, Failure> {
        let record = |event| Some(Next::Record { scope: scope.clone(), event });
        match self {
            Fanout::Parallel { branches } => {
                let mut ended = vec![false; branches.len()];
                let mut failure = None;
                let mut scratch = Vec::new();
                for (i, branch) in branches.iter().enumerate() {
                    let child_focus = focus.of_child(i as u32);
                    // Branches off the focus are asked only whether they ended:
                    // their actions are known to the caller already.
                    let actions = if matches!(child_focus, Focus::Shallow) { &mut scratch } else { &mut *out };
                    match branch.decide(env, &scope.child(i as u32), child_focus, actions) {
                        Some(Ok(_)) => ended[i] = true,
                        Some(Err(f)) => {
                            ended[i] = true;
                            failure.get_or_insert(f);
                        }
                        None => {}
                    }
                    scratch.clear();
                }
                if let Some(failure) = failure {
                    // The first failure fails the state; the branches still
                    // in a state that does work are stopped first (one
                    // between two states goes on until it enters one).
                    for (i, branch) in branches.iter().enumerate() {
                        if let (false, Some(event)) = (ended[i], branch.abort_event()) {
                            return Ok(Some(Next::Record { scope: scope.child(i as u32), event }));
                        }
                    }
                    if ended.iter().zip(branches).any(|(ended, branch)| !ended && !branch.stopped()) {
                        return Ok(None);
                    }
                    return Err(failure);
                }
                if ended.iter().any(|e| !e) {
                    return Ok(None);
                }
                let mut outputs = Vec::with_capacity(branches.len());
                for (i, branch) in branches.iter().enumerate() {
                    if let Some(Ok(output)) = branch.decide(env, &scope.child(i as u32), Focus::Shallow, &mut scratch) {
                        outputs.push(Arc::unwrap_or_clone(output));
                    }
                }
                Ok(record(EventKind::ParallelStateSucceeded { output: Value::Array(outputs) }))
            }
            Fanout::Map { items, results, ended, next_pending, running, failed, last_failure, .. } => {
                let name = &state.name;
                let map = match &state.kind {
                    StateKind::Map(map) => map,
                    _ => return Err(Failure::new(errors::RUNTIME, "a Map state's children under another state type")),
                };
                // Iterations that ended: the first is recorded now, the others
                // are decided again after it.
                let mut iteration_ended = None;
                let mut decide_child = |index: u32, frame: &Frame, child_focus: Focus, out: &mut Vec<Next>| {
                    let ended = match frame.decide(env, &scope.child(index), child_focus, out)? {
                        Ok(output) => EventKind::MapIterationSucceeded { name: name.clone(), index, output: Arc::unwrap_or_clone(output) },
                        Err(f) => EventKind::MapIterationFailed { name: name.clone(), index, error: f.error, cause: f.cause },
                    };
                    iteration_ended.get_or_insert(ended);
                    Some(())
                };
                match focus {
                    Focus::All | Focus::Path([]) => {
                        for (index, frame) in running {
                            decide_child(*index, frame, Focus::All, out);
                        }
                    }
                    Focus::Path([index, ..]) => {
                        if let Some(frame) = running.get(index) {
                            decide_child(*index, frame, focus.of_child(*index), out);
                        }
                    }
                    Focus::Shallow => return Ok(None),
                }
                if let Some(event) = iteration_ended {
                    return Ok(record(event));
                }
                let failed = failed.len() as u32;
                if let Some(failure) = last_failure {
                    let tolerance = Tolerance::of(map, state_input, b)?;
                    if tolerance.exceeded(failed, items.len()) {
                        // The state fails: the iterations still running are stopped first.
                        if let Some(&index) = running.keys().next() {
                            return Ok(record(EventKind::MapIterationAborted { name: name.clone(), index }));
                        }
                        return Err(if tolerance.declared {
                            Failure::new(
                                errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                format!(
                                    "{failed} of {} iterations failed, more than tolerated; the last: {}: {}",
                                    items.len(),
                                    failure.error,
                                    failure.cause
                                ),
                            )
                        } else {
                            failure.clone()
                        });
                    }
                }
                if *next_pending < items.len() && running.len() < max_concurrency(map, state_input, b, env.max_children)? {
                    return Ok(record(EventKind::MapIterationStarted { name: name.clone(), index: *next_pending as u32 }));
                }
                if *ended == items.len() {
                    return Ok(record(EventKind::MapStateSucceeded { output: Value::Array(results.iter().flatten().cloned().collect()) }));
                }
                Ok(None)
            }
        }
    }
}

/// How many iterations of `map` may run at once: its `MaxConcurrency` (0 or
/// absent: no limit of its own), never more than the host's `host_cap`.
fn max_concurrency(map: &MapState, state_input: &Value, b: &Bindings, host_cap: usize) -> Result<usize, Failure> {
    let declared = number(&map.max_concurrency, state_input, b, "MaxConcurrency", 0.0, f64::from(u32::MAX))?;
    let cap = host_cap.max(1);
    Ok(match declared {
        Some(n) if n >= 1.0 => (n as usize).min(cap),
        _ => cap,
    })
}

/// Whether a Map state's own settings (`MaxConcurrency…`,
/// `ToleratedFailure…`), decided while its iterations run, may read the
/// context object or `$states` (a JSONata expression may).
pub(super) fn settings_read_context(map: &MapState) -> bool {
    [&map.max_concurrency, &map.tolerated_failure_count, &map.tolerated_failure_percentage].into_iter().any(|setting| match setting {
        Some(NumberSetting::Path(path)) => path.root() == Root::Context,
        Some(NumberSetting::Expr(_)) => true,
        Some(NumberSetting::Fixed(_)) | None => false,
    })
}

fn take_running(running: &mut BTreeMap<u32, Box<Frame>>, index: u32) -> Result<Box<Frame>, String> {
    running.remove(&index).ok_or_else(|| format!("iteration {index} is not running"))
}

/// How many failed iterations a Map accepts.
struct Tolerance {
    /// A tolerated count or percentage was declared.
    declared: bool,
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    fn of(map: &MapState, state_input: &Value, b: &Bindings) -> Result<Tolerance, Failure> {
        let count = number(&map.tolerated_failure_count, state_input, b, "ToleratedFailureCount", 0.0, f64::MAX)?;
        let percentage = number(&map.tolerated_failure_percentage, state_input, b, "ToleratedFailurePercentage", 0.0, 100.0)?;
        // A distributed Map tolerates 0 failures by default, and exceeding that
        // is States.ExceedToleratedFailureThreshold; an inline Map fails with
        // the iteration's own error.
        let declared = count.is_some() || percentage.is_some() || map.distributed;
        Ok(Tolerance { declared, count: count.map(|c| c as u64).or(Some(0).filter(|_| percentage.is_none())), percentage })
    }

    fn exceeded(&self, failed: u32, total: usize) -> bool {
        if !self.declared {
            return failed > 0;
        }
        tolerance_exceeded(self.count, self.percentage, u64::from(failed), total as u64)
    }
}

/// Whether `failed` of `total` children are more than a tolerated `count`
/// or `percentage` allow (neither given: none is tolerated, as in a
/// distributed Map by default).
pub fn tolerance_exceeded(count: Option<u64>, percentage: Option<f64>, failed: u64, total: u64) -> bool {
    let count = match (count, percentage) {
        (None, None) => Some(0),
        (count, _) => count,
    };
    let over_count = count.is_some_and(|c| failed > c);
    let over_percentage = percentage.is_some_and(|p| total > 0 && failed as f64 * 100.0 / total as f64 > p);
    over_count || over_percentage
}

/// A `NumberSetting` resolved against the state's input: a `…Path` must
/// select a number in `min..=max`, else `States.Runtime`; an expression
/// (JSONata) must give one, else `States.QueryEvaluationError`.
fn number(setting: &Option<NumberSetting>, input: &Value, b: &Bindings, field: &str, min: f64, max: f64) -> Result<Option<f64>, Failure> {
    match setting {
        None => Ok(None),
        Some(NumberSetting::Fixed(n)) => Ok(Some(*n)),
        Some(NumberSetting::Path(path)) => match path.resolve(input, b).as_ref().and_then(Value::as_f64) {
            Some(n) if n >= min && n <= max => Ok(Some(n)),
            _ => Err(Failure::new(
                errors::RUNTIME,
                format!("{field}Path '{path}' must select a number from {min} to {max} in the state's input"),
            )),
        },
        Some(NumberSetting::Expr(t)) => match t.render_with(input, b).map_err(|e| Failure::new(e.error, e.cause))? {
            Value::Number(n) if n.as_f64().is_some_and(|n| n >= min && n <= max) => Ok(n.as_f64()),
            other => {
                Err(Failure::new(errors::QUERY_EVALUATION_ERROR, format!("{field} must be a number from {min} to {max}, got {other}")))
            }
        },
    }
}

/// Each iteration's input. JSONPath: `InputPath`, then `ItemsPath` (which
/// must select an array), then `ItemSelector` per item (reading the state's
/// effective input as `$` and `$$.Map.Item.Index/Value`), then `ItemBatcher`.
/// JSONata: `Items` (or the state input) must give an array, and
/// `ItemSelector` reads `$states.context.Map.Item.Index/Value`.
/// `MaxConcurrencyPath` and the tolerated-failure settings are checked here
/// too, so a bad one fails the state before any iteration.
pub(super) fn map_items(map: &MapState, state_input: &Value, b: &Bindings) -> Result<Vec<Value>, Failure> {
    number(&map.max_concurrency, state_input, b, "MaxConcurrency", 0.0, f64::from(u32::MAX))?;
    Tolerance::of(map, state_input, b)?;
    let render = |t: &Template, data: &Value, b: &Bindings| t.render_with(data, b).map_err(|e| Failure::new(e.error, e.cause));
    let effective = map_effective_input(map, state_input, b)?;
    let items = if map.io.jsonata {
        match &map.items {
            Some(t) => render(t, state_input, b)?,
            None => state_input.clone(),
        }
    } else {
        match &map.items_path {
            None => effective.clone(),
            Some(path) => path.resolve(&effective, b).ok_or_else(|| {
                Failure::new(errors::RUNTIME, format!("Invalid path '{path}' : No results for path: ItemsPath of the state's data"))
            })?,
        }
    };
    let Value::Array(items) = items else {
        let (error, field) = if map.io.jsonata { (errors::QUERY_EVALUATION_ERROR, "Items") } else { (errors::RUNTIME, "ItemsPath") };
        return Err(Failure::new(error, format!("{field} must give a JSON array, got {}", stepwasm_asl::path::describe_kind(&items))));
    };
    select_and_batch(
        map.item_selector.as_ref(),
        map.item_batcher.as_ref(),
        map.io.jsonata,
        state_input,
        &effective,
        items,
        b,
        MAX_MAP_ITEMS,
    )
}

/// A Map state's effective input: the state's input after `InputPath`
/// (JSONata: the state's input).
pub(super) fn map_effective_input(map: &MapState, state_input: &Value, b: &Bindings) -> Result<Value, Failure> {
    if map.io.jsonata {
        return Ok(state_input.clone());
    }
    match &map.io.input_path {
        PathSetting::Default => Ok(state_input.clone()),
        PathSetting::Null => Ok(Value::Object(Map::new())),
        PathSetting::Path(path) => select_input(path, state_input, b),
    }
}

/// `items` (at most `max_items`) through `ItemSelector` (reading `effective`
/// as `$` and `$$.Map.Item.Index/Value`; JSONata: `$states.input` and
/// `$states.context.Map.Item…`), then `ItemBatcher`.
#[allow(clippy::too_many_arguments)]
pub(super) fn select_and_batch(
    item_selector: Option<&Template>,
    item_batcher: Option<&ItemBatcher>,
    jsonata: bool,
    state_input: &Value,
    effective: &Value,
    items: Vec<Value>,
    b: &Bindings,
    max_items: usize,
) -> Result<Vec<Value>, Failure> {
    let render = |t: &Template, data: &Value, b: &Bindings| t.render_with(data, b).map_err(|e| Failure::new(e.error, e.cause));
    if items.len() > max_items {
        return Err(Failure::new(
            errors::RUNTIME,
            format!("the Map state has {} items, more than the {max_items} one Map state runs", items.len()),
        ));
    }
    let selected = match item_selector {
        None => items,
        Some(selector) => {
            // One budget for all the items: each copying the whole input
            // must not multiply it by the item count.
            let mut budget = SizeBudget::new(MAX_MAP_ITEMS_BYTES);
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let mut context = b.context.clone();
                if let Value::Object(fields) = &mut context {
                    fields.insert("Map".into(), json!({"Item": {"Index": index, "Value": item}}));
                }
                let states = json!({"input": state_input, "context": context});
                let item_bindings = Bindings { context: &context, ..*b };
                let item_bindings = if jsonata { item_bindings.with_states(&states) } else { item_bindings };
                out.push(selector.render_within(effective, &item_bindings, &mut budget).map_err(|e| Failure::new(e.error, e.cause))?);
            }
            out
        }
    };
    match item_batcher {
        None => Ok(selected),
        Some(batcher) => {
            let max_items = number(&batcher.max_items, state_input, b, "MaxItemsPerBatch", 1.0, f64::MAX)?;
            let max_bytes = number(&batcher.max_bytes, state_input, b, "MaxInputBytesPerBatch", 1.0, 262_144.0)?;
            let batch_input = batcher.batch_input.as_ref().map(|t| render(t, effective, b)).transpose()?;
            batch(selected, max_items.map(|n| n as usize), max_bytes.map(|n| n as usize), batch_input)
        }
    }
}

/// A `NumberSetting` resolved against the state's input (see [`number`]).
pub(super) fn number_setting(
    setting: &Option<NumberSetting>,
    input: &Value,
    b: &Bindings,
    field: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, Failure> {
    number(setting, input, b, field, min, max)
}

/// The most items one Map state runs (its item list is kept in the history
/// and in memory while it runs); more fail the state with `States.Runtime`.
pub const MAX_MAP_ITEMS: usize = 100_000;

/// The most JSON the `ItemSelector` of one Map state may build for all its
/// items together (each item is also held to the 256 KiB payload limit).
const MAX_MAP_ITEMS_BYTES: usize = 16 << 20;

fn select_input(path: &Path, input: &Value, b: &Bindings) -> Result<Value, Failure> {
    path.resolve(input, b)
        .ok_or_else(|| Failure::new(errors::RUNTIME, format!("Invalid path '{path}' : No results for path: InputPath of the state's data")))
}

/// Groups items into `{"Items": [...], "BatchInput": ...}` objects of at most
/// `max_items` items each, whose `Items` array is at most `max_bytes` bytes
/// of JSON.
fn batch(items: Vec<Value>, max_items: Option<usize>, max_bytes: Option<usize>, batch_input: Option<Value>) -> Result<Vec<Value>, Failure> {
    let wrap = |items: Vec<Value>| {
        let mut batch = Map::new();
        if let Some(input) = &batch_input {
            batch.insert("BatchInput".into(), input.clone());
        }
        batch.insert("Items".into(), Value::Array(items));
        Value::Object(batch)
    };
    const EMPTY_ARRAY_BYTES: usize = 2;
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut current_bytes = EMPTY_ARRAY_BYTES;
    for item in items {
        let text_bytes = item.to_string().len();
        // The item, plus a separating comma unless it comes first.
        let added = |current: &Vec<Value>| text_bytes + usize::from(!current.is_empty());
        let full_by_count = max_items.is_some_and(|m| current.len() >= m);
        let full_by_bytes = max_bytes.is_some_and(|m| current_bytes + added(&current) > m);
        if !current.is_empty() && (full_by_count || full_by_bytes) {
            batches.push(wrap(std::mem::take(&mut current)));
            current_bytes = EMPTY_ARRAY_BYTES;
        }
        if let Some(m) = max_bytes {
            if current_bytes + added(&current) > m {
                return Err(Failure::new(
                    errors::RUNTIME,
                    format!("an item of {text_bytes} bytes does not fit in a batch of at most {m} bytes (MaxInputBytesPerBatch)"),
                ));
            }
        }
        current_bytes += added(&current);
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(wrap(current));
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_bytes() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let b = batch(items.clone(), Some(2), None, None).unwrap();
        assert_eq!(b, vec![json!({"Items": [0, 1]}), json!({"Items": [2, 3]}), json!({"Items": [4]})]);
        // "[0,1,2]" is 7 bytes: at most 7 bytes per batch fits three items.
        let b = batch(items.clone(), None, Some(7), Some(json!({"k": 1}))).unwrap();
        assert_eq!(b, vec![json!({"Items": [0, 1, 2], "BatchInput": {"k": 1}}), json!({"Items": [3, 4], "BatchInput": {"k": 1}})]);
        assert!(batch(vec![json!("a long string that cannot fit")], None, Some(10), None).is_err());
        assert_eq!(batch(Vec::new(), Some(3), None, None).unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn a_map_over_more_items_than_the_cap_fails_before_it_starts() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
        let machine = stepwasm_asl::parse_definition(&def.to_string()).unwrap();
        let StateKind::Map(map) = &machine.root.state("M").unwrap().kind else { panic!("a Map") };
        let context = Value::Null;
        let b = Bindings::new(&context, &[]);
        let over = Value::Array(vec![json!(0); MAX_MAP_ITEMS + 1]);
        let failure = map_items(map, &over, &b).unwrap_err();
        assert_eq!(failure.error, "States.Runtime");
        assert!(failure.cause.contains("100001 items, more than the 100000"), "{}", failure.cause);
        assert_eq!(map_items(map, &Value::Array(vec![json!(0); MAX_MAP_ITEMS]), &b).unwrap().len(), MAX_MAP_ITEMS);
    }

    #[test]
    fn tolerance_counts_and_percentages() {
        let t = Tolerance { declared: true, count: Some(1), percentage: None };
        assert!(!t.exceeded(1, 10) && t.exceeded(2, 10));
        let t = Tolerance { declared: true, count: None, percentage: Some(25.0) };
        assert!(!t.exceeded(1, 4) && t.exceeded(2, 4));
        let t = Tolerance { declared: false, count: None, percentage: None };
        assert!(t.exceeded(1, 100));
    }
}
