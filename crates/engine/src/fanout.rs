//! The children of a running Parallel or Map state, and how their results
//! come together.
//!
//! Children run one after another in a fixed order (branch 0 first, item 0
//! first), so an execution is deterministic and its history replays exactly;
//! `MaxConcurrency` is validated and resolved but changes nothing yet. A
//! Parallel state fails with the first failing branch's error. A Map state
//! records each iteration's end (`MapIterationSucceeded`/`Failed`); an inline
//! Map fails with the failing iteration's error, while a Map that declares a
//! tolerated failure count or percentage, or runs in DISTRIBUTED mode (which
//! tolerates none by default), fails with
//! `States.ExceedToleratedFailureThreshold` once the failures go beyond it. A
//! tolerated failure contributes its `{"Error", "Cause"}` object to the
//! result array in the item's place. Children's failures go back to the
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
use stepwasm_asl::errors;
use stepwasm_asl::path::{Bindings, Path};
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
        /// The first iteration that has neither ended nor started: the next
        /// to start (iterations start in index order, a redrive's too).
        next_pending: usize,
        /// The frames of the iterations that failed, by index: a redrive
        /// runs each again from where it failed (see [`Fanout::redrive`]).
        failed: BTreeMap<u32, Box<Frame>>,
        last_failure: Option<Failure>,
        /// The frames a redrive left to run again (failed or unfinished
        /// iterations), each taken up by its next `MapIterationStarted`.
        redriven: BTreeMap<u32, Box<Frame>>,
        /// The iteration running now, with its index (the frame is boxed:
        /// it is large, and the `Parallel` variant is only a `Vec`).
        current: Option<(u32, Box<Frame>)>,
    },
}

impl Fanout {
    pub fn new_map(processor: Arc<Graph>, items: Vec<Value>) -> Fanout {
        let results = vec![None; items.len()];
        Fanout::Map {
            processor,
            items,
            results,
            next_pending: 0,
            failed: BTreeMap::new(),
            last_failure: None,
            redriven: BTreeMap::new(),
            current: None,
        }
    }

    /// After the execution was redriven: the children that succeeded keep
    /// their results, the others run again. A Parallel branch that failed or
    /// did not finish goes on from the state it ended in
    /// ([`Frame::redrive`]); one that never started starts. A Map iteration
    /// that failed or was running is started again (`MapIterationStarted`)
    /// and goes on from the state it ended in; one that never started starts.
    /// Everything here is the fold of recorded events, so a replay redrives
    /// the same children.
    pub fn redrive(&mut self) {
        match self {
            Fanout::Parallel { branches } => branches.iter_mut().for_each(Frame::redrive),
            Fanout::Map { results, next_pending, failed, last_failure, redriven, current, .. } => {
                redriven.append(failed);
                if let Some((index, frame)) = current.take() {
                    redriven.insert(index, frame);
                }
                for (index, frame) in redriven.iter_mut() {
                    frame.redrive();
                    if let Some(result) = results.get_mut(*index as usize) {
                        *result = None;
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
            Fanout::Map { current: Some((i, frame)), .. } if *i == index => Some(frame.as_mut()),
            Fanout::Map { .. } => None,
        }
    }

    /// The running child `index`, read only.
    pub fn child(&self, index: u32) -> Option<&Frame> {
        match self {
            Fanout::Parallel { branches } => branches.get(index as usize),
            Fanout::Map { current: Some((i, frame)), .. } if *i == index => Some(frame.as_ref()),
            Fanout::Map { .. } => None,
        }
    }

    /// Folds a `MapIteration…` event.
    pub fn apply_iteration(&mut self, event: &EventKind) -> Result<(), String> {
        let Fanout::Map { processor, items, results, next_pending, failed, last_failure, redriven, current } = self else {
            return Err("a Parallel state has no iterations".into());
        };
        match event {
            EventKind::MapIterationStarted { index, .. } => {
                if current.is_some() || *index as usize != *next_pending {
                    return Err(format!("iteration {index} cannot start now (next is {next_pending})"));
                }
                let input = items.get(*index as usize).ok_or_else(|| format!("there is no item {index}"))?;
                let frame = redriven.remove(index).unwrap_or_else(|| Box::new(Frame::new(Arc::clone(processor), input.clone())));
                *current = Some((*index, frame));
                *next_pending = (*next_pending + 1..results.len()).find(|&i| results[i].is_none()).unwrap_or(results.len());
            }
            EventKind::MapIterationSucceeded { index, output, .. } => {
                take_current(current, *index)?;
                results[*index as usize] = Some(output.clone());
            }
            EventKind::MapIterationFailed { index, error, cause, .. } => {
                let frame = take_current(current, *index)?;
                results[*index as usize] = Some(json!({"Error": error, "Cause": cause}));
                failed.insert(*index, frame);
                *last_failure = Some(Failure::new(error, cause.clone()));
            }
            other => return Err(format!("{} is not an iteration event", other.type_name())),
        }
        Ok(())
    }

    /// What the running children need next, or the state's own result; Err
    /// when the children failed (the frame decides on Retry and Catch).
    pub fn decide(&self, env: &Env, scope: &Scope, state: &State, state_input: &Value, b: &Bindings) -> Result<Next, Failure> {
        let record = |event| Next::Record { scope: scope.clone(), event };
        match self {
            Fanout::Parallel { branches } => {
                let mut outputs = Vec::with_capacity(branches.len());
                for (i, branch) in branches.iter().enumerate() {
                    match branch.decide(env, &scope.child(i as u32)) {
                        Next::Done(Ok(output)) => outputs.push(output),
                        Next::Done(Err(f)) => return Err(f),
                        other => return Ok(other),
                    }
                }
                Ok(record(EventKind::ParallelStateSucceeded { output: Value::Array(outputs) }))
            }
            Fanout::Map { items, results, next_pending, failed, last_failure, current, .. } => {
                let name = state.name.clone();
                if let Some((index, frame)) = current {
                    let index = *index;
                    return Ok(match frame.decide(env, &scope.child(index)) {
                        Next::Done(Ok(output)) => record(EventKind::MapIterationSucceeded { name, index, output }),
                        Next::Done(Err(f)) => record(EventKind::MapIterationFailed { name, index, error: f.error, cause: f.cause }),
                        other => other,
                    });
                }
                let failed = failed.len() as u32;
                if let (Some(failure), StateKind::Map(map)) = (last_failure, &state.kind) {
                    let tolerance = Tolerance::of(map, state_input, b)?;
                    if tolerance.exceeded(failed, items.len()) {
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
                Ok(if *next_pending < items.len() {
                    record(EventKind::MapIterationStarted { name, index: *next_pending as u32 })
                } else {
                    record(EventKind::MapStateSucceeded { output: Value::Array(results.iter().flatten().cloned().collect()) })
                })
            }
        }
    }
}

fn take_current(current: &mut Option<(u32, Box<Frame>)>, index: u32) -> Result<Box<Frame>, String> {
    match current.take() {
        Some((i, frame)) if i == index => Ok(frame),
        other => {
            let running = other.as_ref().map(|(i, _)| *i);
            *current = other;
            Err(format!("iteration {index} is not the one running ({running:?})"))
        }
    }
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
        let over_count = self.count.is_some_and(|c| u64::from(failed) > c);
        let over_percentage = self.percentage.is_some_and(|p| total > 0 && f64::from(failed) * 100.0 / total as f64 > p);
        over_count || over_percentage
    }
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
    let (effective, items) = if map.io.jsonata {
        let items = match &map.items {
            Some(t) => render(t, state_input, b)?,
            None => state_input.clone(),
        };
        (state_input.clone(), items)
    } else {
        let effective = match &map.io.input_path {
            PathSetting::Default => state_input.clone(),
            PathSetting::Null => Value::Object(Map::new()),
            PathSetting::Path(path) => select_input(path, state_input, b)?,
        };
        let items = match &map.items_path {
            None => effective.clone(),
            Some(path) => path.resolve(&effective, b).ok_or_else(|| {
                Failure::new(errors::RUNTIME, format!("Invalid path '{path}' : No results for path: ItemsPath of the state's data"))
            })?,
        };
        (effective, items)
    };
    let Value::Array(items) = items else {
        let (error, field) = if map.io.jsonata { (errors::QUERY_EVALUATION_ERROR, "Items") } else { (errors::RUNTIME, "ItemsPath") };
        return Err(Failure::new(error, format!("{field} must give a JSON array, got {}", stepwasm_asl::path::describe_kind(&items))));
    };
    let selected = match &map.item_selector {
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
                let item_bindings = if map.io.jsonata { item_bindings.with_states(&states) } else { item_bindings };
                out.push(selector.render_within(&effective, &item_bindings, &mut budget).map_err(|e| Failure::new(e.error, e.cause))?);
            }
            out
        }
    };
    match &map.item_batcher {
        None => Ok(selected),
        Some(batcher) => {
            let max_items = number(&batcher.max_items, state_input, b, "MaxItemsPerBatch", 1.0, f64::MAX)?;
            let max_bytes = number(&batcher.max_bytes, state_input, b, "MaxInputBytesPerBatch", 1.0, 262_144.0)?;
            let batch_input = batcher.batch_input.as_ref().map(|t| render(t, &effective, b)).transpose()?;
            batch(selected, max_items.map(|n| n as usize), max_bytes.map(|n| n as usize), batch_input)
        }
    }
}

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
    fn tolerance_counts_and_percentages() {
        let t = Tolerance { declared: true, count: Some(1), percentage: None };
        assert!(!t.exceeded(1, 10) && t.exceeded(2, 10));
        let t = Tolerance { declared: true, count: None, percentage: Some(25.0) };
        assert!(!t.exceeded(1, 4) && t.exceeded(2, 4));
        let t = Tolerance { declared: false, count: None, percentage: None };
        assert!(t.exceeded(1, 100));
    }
}
