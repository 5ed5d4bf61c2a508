//! A Distributed Map run as child executions (`ProcessorConfig.Mode:
//! DISTRIBUTED` on a host that runs them, [`crate::Execution::set_map_runs`]):
//! what the engine records when such a state starts its work
//! (`MapRunStarted` with a [`MapRunRequest`]: the map run's ARN, the items or
//! the resolved `ItemReader`, the resolved `ResultWriter`, the concurrency and
//! tolerated failures), handed to the host as a task on [`MAP_RUN_RESOURCE`];
//! the host runs the children and answers with the state's result
//! (`MapRunSucceeded`) or its failure (`MapRunFailed`). Retry, Catch and
//! result processing are the Map state's, as for a Task.
//!
//! Items the host reads (an `ItemReader`) go through the state's
//! `ItemSelector` and `ItemBatcher` here ([`prepare_read_items`]), with the
//! context object the request recorded.

use super::fanout;
pub use super::fanout::tolerance_exceeded;
use super::Failure;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use stepwasm_asl::definition::{Distributed, MapState};
use stepwasm_asl::path::Bindings;
use stepwasm_asl::template::Template;

/// The resource of the task that stands for a map run (never a real ARN).
pub const MAP_RUN_RESOURCE: &str = "stepwasm:mapRun";

/// The most items a map run with an `ItemReader` reads (an inline Map, or a
/// Distributed one over its input, takes [`fanout::MAX_MAP_ITEMS`]).
pub const MAX_READ_ITEMS: usize = 1_000_000;

/// The parsed `DISTRIBUTED` settings of the Map state a map-run task runs,
/// compared by identity (a definition's parts are not comparable).
#[derive(Debug, Clone)]
pub struct MapRunSpec(pub Arc<Distributed>);

impl PartialEq for MapRunSpec {
    fn eq(&self, other: &MapRunSpec) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What `MapRunStarted` records for the host: everything resolved against
/// the state's input when the state started, so a map run started again
/// after a crash runs the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapRunRequest {
    pub map_run_arn: String,
    /// The child executions' state machine: `<the machine's ARN>/<label>`.
    pub state_machine_arn: String,
    /// The state's input (JSONata's `$states.input`) and effective input
    /// (after `InputPath`: what a JSONPath `ItemSelector` reads as `$`).
    pub input: Value,
    pub effective_input: Value,
    /// The context object as the state's fields see it (`null` when none reads it).
    pub context: Value,
    /// Each child's input (after ItemSelector and ItemBatcher), when the
    /// items come from the input; `None` with an `ItemReader`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// `{"Resource", "Parameters" (resolved), "ReaderConfig" (with `MaxItems` resolved)}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_reader: Option<Value>,
    /// `{"Resource", "Parameters" (resolved)}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_writer: Option<Value>,
    /// 0: as many as the host allows.
    pub max_concurrency: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_percentage: Option<f64>,
    /// Set on the task of a redriven map run (`MapRunRedriven`): its
    /// children that did not succeed run again, once per redrive. Never
    /// recorded in `MapRunStarted`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redrive_count: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The map run ARN of a Distributed Map state of `execution_arn`:
/// `arn:…:mapRun:<machine>/<label>:<id>`, the id derived from the state's
/// entry and attempt (recorded, so only a first start computes it).
pub fn map_run_arn(execution_arn: &str, label: &str, entered_id: u64, attempt: u32) -> (String, String) {
    let parts: Vec<&str> = execution_arn.splitn(8, ':').collect();
    let (prefix, machine) = match parts.as_slice() {
        [arn, partition, service, region, account, _execution, machine, _name] => {
            (format!("{arn}:{partition}:{service}:{region}:{account}"), *machine)
        }
        _ => ("arn:aws:states:local:000000000000".to_string(), "stateMachine"),
    };
    let id = uuid_shaped(&format!("{execution_arn}#{entered_id}.{attempt}"));
    let child_machine = format!("{prefix}:stateMachine:{machine}/{label}");
    (format!("{prefix}:mapRun:{machine}/{label}:{id}"), child_machine)
}

/// A label for ARNs: the state's `Label`, else its name with what an ARN
/// part cannot hold replaced by `_` (at most 40 characters, as AWS's labels).
pub fn label_of(distributed: &Distributed, state_name: &str) -> String {
    if let Some(label) = &distributed.label {
        return label.clone();
    }
    state_name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(40).collect()
}

/// A UUID-shaped id from two FNV-1a hashes of `text`: stable across builds.
fn uuid_shaped(text: &str) -> String {
    let fnv = |seed: u64| text.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let hex = format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The request of a Distributed Map `map` entering its work: `prepared`
/// holds its items (after ItemSelector and ItemBatcher) when they come from
/// the input, or is `None` when its `ItemReader` will read them.
#[allow(clippy::too_many_arguments)]
pub(super) fn request(
    map: &MapState,
    distributed: &Distributed,
    state_input: &Value,
    b: &Bindings,
    map_run_arn: String,
    state_machine_arn: String,
) -> Result<MapRunRequest, Failure> {
    let effective_input = fanout::map_effective_input(map, state_input, b)?;
    let items = match distributed.item_reader {
        Some(_) => None,
        None => Some(fanout::map_items(map, state_input, b)?),
    };
    let render = |t: &Option<Template>, data: &Value| -> Result<Value, Failure> {
        match t {
            None => Ok(Value::Object(Map::new())),
            Some(t) => t.render_with(data, b).map_err(|e| Failure::new(e.error, e.cause)),
        }
    };
    // JSONata's Arguments read `$states.input`; JSONPath's `.$` fields the effective input.
    let data = if distributed.jsonata { state_input } else { &effective_input };
    let item_reader = match &distributed.item_reader {
        None => None,
        Some(reader) => {
            let mut config = reader.reader_config.clone();
            let max_items = fanout::number_setting(&reader.max_items, state_input, b, "MaxItems", 0.0, 100_000_000.0)?;
            if let (Some(n), Value::Object(fields)) = (max_items, &mut config) {
                fields.insert("MaxItems".into(), Value::from(n as u64));
            }
            Some(serde_json::json!({"Resource": reader.resource, "Parameters": render(&reader.parameters, data)?, "ReaderConfig": config}))
        }
    };
    let result_writer = match &distributed.result_writer {
        None => None,
        Some(writer) => Some(serde_json::json!({"Resource": writer.resource, "Parameters": render(&writer.parameters, data)?})),
    };
    let max_concurrency = fanout::number_setting(&map.max_concurrency, state_input, b, "MaxConcurrency", 0.0, f64::from(u32::MAX))?;
    let count = fanout::number_setting(&map.tolerated_failure_count, state_input, b, "ToleratedFailureCount", 0.0, f64::MAX)?;
    let percentage = fanout::number_setting(&map.tolerated_failure_percentage, state_input, b, "ToleratedFailurePercentage", 0.0, 100.0)?;
    Ok(MapRunRequest {
        map_run_arn,
        state_machine_arn,
        input: state_input.clone(),
        effective_input,
        context: b.context.clone(),
        items,
        item_reader,
        result_writer,
        max_concurrency: max_concurrency.map_or(0, |n| n as u32),
        tolerated_failure_count: count.map(|c| c as u64),
        tolerated_failure_percentage: percentage,
        redrive_count: 0,
    })
}

/// Items an `ItemReader` read, through the state's `ItemSelector` (with
/// `$$.Map.Item.Index/Value`) and `ItemBatcher`: each child's input.
/// Variables are not visible here (a child execution sees none either).
pub fn prepare_read_items(spec: &MapRunSpec, request: &MapRunRequest, items: Vec<Value>) -> Result<Vec<Value>, Failure> {
    let distributed = &*spec.0;
    let b = Bindings::new(&request.context, &[]);
    fanout::select_and_batch(
        distributed.item_selector.as_ref(),
        distributed.item_batcher.as_ref(),
        distributed.jsonata,
        &request.input,
        &request.effective_input,
        items,
        &b,
        MAX_READ_ITEMS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_run_arns_name_the_machine_label_and_a_stable_id() {
        let execution = "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1";
        let (arn, machine) = map_run_arn(execution, "Items", 4, 1);
        assert!(arn.starts_with("arn:aws:states:eu-west-1:123456789012:mapRun:orders/Items:"), "{arn}");
        assert_eq!(machine, "arn:aws:states:eu-west-1:123456789012:stateMachine:orders/Items");
        let id = arn.rsplit(':').next().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(map_run_arn(execution, "Items", 4, 1).0, arn, "the same attempt, the same ARN");
        assert_ne!(map_run_arn(execution, "Items", 4, 2).0, arn, "a retry, another run");
    }

    #[test]
    fn tolerance_is_none_by_default_and_counts_or_percentages_when_declared() {
        assert!(!tolerance_exceeded(None, None, 0, 10) && tolerance_exceeded(None, None, 1, 10));
        assert!(!tolerance_exceeded(Some(2), None, 2, 10) && tolerance_exceeded(Some(2), None, 3, 10));
        assert!(!tolerance_exceeded(None, Some(25.0), 1, 4) && tolerance_exceeded(None, Some(25.0), 2, 4));
    }
}
