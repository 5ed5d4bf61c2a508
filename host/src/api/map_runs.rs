//! Distributed Map's map runs as AWS shows them: ListMapRuns (an
//! execution's runs), DescribeMapRun (where one stands, its settings and
//! counts), UpdateMapRun (its concurrency and tolerated failures, changed
//! while it runs); and what ListExecutions and DescribeExecution need of
//! them: a run's child executions, and the run a child belongs to.
//!
//! A map run's ARN is `arn:<partition>:states:<region>:<account>:mapRun:<state
//! machine>/<label>:<id>`; its child executions run the state machine
//! `…:stateMachine:<state machine>/<label>` and are named `<id>-<index>`.
//! Each action works on the store alone (the map run itself reads its
//! settings from there).

use super::pagination::{number_key, page, Order};
use super::protocol::{check_arn, date, ApiError, ArnKind, Params};
use super::Api;
use crate::store::{ExecutionSummary, Journal, MapRunCounts, MapRunRecord, SqliteStore, Store};
use serde_json::{json, Value};

/// The most child executions a map run may run at once (AWS's limit of a
/// Distributed Map's MaxConcurrency); 0 is no limit.
const MAX_CONCURRENCY: u64 = 10_000;

/// The longest ARN a map run can have (botocore's `LongArn`).
const MAX_ARN_CHARS: usize = 2000;

/// Checks that `arn` is a map run's ARN, or `InvalidArn` naming `field`.
pub fn check_map_run_arn<'a>(field: &str, arn: &'a str) -> Result<&'a str, ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = arn.chars().count() <= MAX_ARN_CHARS
        && parts.len() == 8
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "states"
        && parts[5] == "mapRun"
        && parts[6].split_once('/').is_some_and(|(machine, label)| !machine.is_empty() && !label.is_empty())
        && !parts[7].is_empty();
    if well_formed {
        Ok(arn)
    } else {
        Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: '{field}' is {arn:?}, expected arn:aws:states:<region>:<account>:mapRun:<state machine>/<label>:<id>"),
        ))
    }
}

/// The map run `arn` names, or `ResourceNotFound`.
fn existing(store: &SqliteStore, field: &str, arn: &str) -> Result<MapRunRecord, ApiError> {
    let arn = check_map_run_arn(field, arn)?;
    store.map_run(arn)?.ok_or_else(|| ApiError::new("ResourceNotFound", format!("Resource Not Found: '{arn}'")))
}

/// The child executions of the map run `arn` names (ListExecutions with
/// `mapRunArn`), oldest first; `InvalidArn` or `ResourceNotFound` as AWS
/// answers them.
pub fn children(api: &Api, field: &str, arn: &str) -> Result<Vec<ExecutionSummary>, ApiError> {
    let run = existing(&api.store, field, arn)?;
    Ok(api.store.map_run_children(&run.map_run_arn)?)
}

/// The ARN of the map run a child execution belongs to, if it is one (its
/// state machine's name has a `/`; its name is `<map run id>-<index>`) and
/// the run is kept.
pub fn run_of_child(store: &SqliteStore, execution: &ExecutionSummary) -> Result<Option<String>, ApiError> {
    let Some(arn) = child_run_arn(&execution.info.state_machine_arn, &execution.info.name) else { return Ok(None) };
    Ok(store.map_run(&arn)?.map(|run| run.map_run_arn))
}

/// `…:stateMachine:<machine>/<label>` and `<id>-<index>` →
/// `…:mapRun:<machine>/<label>:<id>`.
fn child_run_arn(state_machine_arn: &str, execution_name: &str) -> Option<String> {
    let (account, machine) = state_machine_arn.split_once(":stateMachine:")?;
    if !machine.contains('/') || machine.contains(':') {
        return None;
    }
    let (id, index) = execution_name.rsplit_once('-')?;
    let numbered = !id.is_empty() && !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    numbered.then(|| format!("{account}:mapRun:{machine}:{id}"))
}

fn counts(counts: &MapRunCounts) -> Value {
    json!({
        "pending": counts.pending,
        "running": counts.running,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "timedOut": counts.timed_out,
        "aborted": counts.aborted,
        "total": counts.total,
        "resultsWritten": counts.results_written,
        // A redrive reruns its children as it starts: none waits for one.
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    })
}

pub fn list(api: &Api, params: &Params) -> Result<Value, ApiError> {
    list_in(&api.store, params)
}

pub fn describe(api: &Api, params: &Params) -> Result<Value, ApiError> {
    describe_in(&api.store, params)
}

pub fn update(api: &Api, params: &Params) -> Result<Value, ApiError> {
    update_in(&api.store, params)
}

/// ListMapRuns: an execution's map runs, oldest first.
fn list_in(store: &SqliteStore, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let arn = check_arn("executionArn", params.required_str("executionArn")?, ArnKind::Execution)?;
    if store.execution(arn)?.is_none() {
        return Err(ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'")));
    }
    let runs = store.map_runs_of(arn)?;
    // Bound to the execution: a token of one execution's runs is refused by another's.
    let operation = format!("ListMapRuns {arn}");
    let key = |run: &MapRunRecord| format!("{}\n{}", number_key(run.start_ms), run.map_run_arn);
    let (shown, next) = page(&runs, params.optional_str("nextToken")?, size, &operation, Order::Ascending, key)?;
    let listed: Vec<Value> = shown
        .iter()
        .map(|run| {
            let mut item = json!({
                "executionArn": run.execution_arn,
                "mapRunArn": run.map_run_arn,
                "stateMachineArn": run.state_machine_arn,
                "startDate": date(run.start_ms),
            });
            if let Some(stop) = run.stop_ms {
                item["stopDate"] = date(stop);
            }
            item
        })
        .collect();
    let mut response = json!({"mapRuns": listed});
    if let Some(token) = next {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

/// DescribeMapRun.
fn describe_in(store: &SqliteStore, params: &Params) -> Result<Value, ApiError> {
    let run = existing(store, "mapRunArn", params.required_str("mapRunArn")?)?;
    let mut response = json!({
        "mapRunArn": run.map_run_arn,
        "executionArn": run.execution_arn,
        "status": run.status.as_str(),
        "startDate": date(run.start_ms),
        "maxConcurrency": run.max_concurrency,
        "toleratedFailurePercentage": run.tolerated_failure_percentage,
        "toleratedFailureCount": run.tolerated_failure_count,
        "itemCounts": counts(&run.item_counts),
        "executionCounts": counts(&run.execution_counts),
        "redriveCount": run.redrive_count,
    });
    if let Some(stop) = run.stop_ms {
        response["stopDate"] = date(stop);
    }
    if let Some(redriven) = run.redrive_ms {
        response["redriveDate"] = date(redriven);
    }
    Ok(response)
}

/// A 'Member must …' ValidationException as AWS words it.
fn out_of_range(field: &str, value: &serde_json::Number, constraint: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {constraint}"
    ))
}

/// An integer field within `0..=max`.
fn whole(params: &Params, field: &str, max: u64) -> Result<Option<u64>, ApiError> {
    let Some(n) = params.optional_number(field)? else { return Ok(None) };
    if n.as_u64().is_none() && n.as_i64().is_none() {
        return Err(ApiError::new("SerializationException", format!("'{field}' must be an integer, not {n}")));
    }
    match n.as_u64() {
        Some(value) if value <= max => Ok(Some(value)),
        _ if max == u64::MAX => Err(out_of_range(field, n, "greater than or equal to 0")),
        _ => Err(out_of_range(field, n, &format!("less than or equal to {max} and greater than or equal to 0"))),
    }
}

/// UpdateMapRun: a run's concurrency and tolerated failures.
fn update_in(store: &SqliteStore, params: &Params) -> Result<Value, ApiError> {
    let arn = check_map_run_arn("mapRunArn", params.required_str("mapRunArn")?)?;
    let max_concurrency = whole(params, "maxConcurrency", MAX_CONCURRENCY)?.and_then(|n| u32::try_from(n).ok());
    let tolerated_count = whole(params, "toleratedFailureCount", u64::MAX)?;
    let tolerated_percentage = match params.optional_number("toleratedFailurePercentage")? {
        None => None,
        Some(n) => match n.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => Some(p),
            _ => return Err(out_of_range("toleratedFailurePercentage", n, "less than or equal to 100 and greater than or equal to 0")),
        },
    };
    if max_concurrency.is_none() && tolerated_count.is_none() && tolerated_percentage.is_none() {
        return Err(ApiError::validation("give maxConcurrency, toleratedFailurePercentage or toleratedFailureCount to update"));
    }
    if !store.update_map_run(arn, max_concurrency, tolerated_count, tolerated_percentage)? {
        return Err(ApiError::new("ResourceNotFound", format!("Resource Not Found: '{arn}'")));
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ExecutionStatus, MapRunStatus};

    const RUN: &str = "arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:0b4f2f3c-1111-2222-3333-444455556666";
    const PARENT: &str = "arn:aws:states:us-east-1:123456789012:execution:orders:e1";
    const CHILD_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:orders/ProcessItems";

    fn params(body: Value) -> Params {
        Params::parse(body.to_string().as_bytes()).unwrap()
    }

    fn store_with_run() -> SqliteStore {
        let store = SqliteStore::in_memory().unwrap();
        let parent = crate::engine::execution_info("orders", "e1");
        assert_eq!(parent.execution_arn.rsplit(':').next(), Some("e1"));
        let parent = crate::engine::ExecutionInfo { execution_arn: PARENT.into(), ..parent };
        store.create_execution(&parent, 1_000).unwrap();
        let run = MapRunRecord {
            map_run_arn: RUN.into(),
            execution_arn: PARENT.into(),
            state_machine_arn: CHILD_MACHINE.into(),
            status: MapRunStatus::Running,
            start_ms: 1_500,
            stop_ms: None,
            max_concurrency: 5,
            tolerated_failure_count: 1,
            tolerated_failure_percentage: 0.0,
            item_counts: MapRunCounts { pending: 2, running: 1, total: 3, ..MapRunCounts::default() },
            execution_counts: MapRunCounts { running: 1, total: 1, ..MapRunCounts::default() },
            redrive_count: 0,
            redrive_ms: None,
        };
        store.create_map_run(&run).unwrap();
        store
    }

    #[test]
    fn a_run_is_described_with_its_counts_and_its_end_once_it_ended() {
        let store = store_with_run();
        let described = describe_in(&store, &params(json!({"mapRunArn": RUN}))).unwrap();
        assert_eq!(described["status"], "RUNNING");
        assert_eq!(described["startDate"], json!(1.5));
        assert_eq!(described["maxConcurrency"], 5);
        assert_eq!(described["itemCounts"]["pending"], 2);
        assert_eq!(described["executionCounts"]["timedOut"], 0);
        assert!(described.get("stopDate").is_none());
        store.finish_map_run(RUN, MapRunStatus::Succeeded, 2_500).unwrap();
        let described = describe_in(&store, &params(json!({"mapRunArn": RUN}))).unwrap();
        assert_eq!((described["status"].clone(), described["stopDate"].clone()), (json!("SUCCEEDED"), json!(2.5)));
        let missing = RUN.replace("0b4f", "ffff");
        assert_eq!(describe_in(&store, &params(json!({"mapRunArn": missing}))).unwrap_err().code, "ResourceNotFound");
        assert_eq!(describe_in(&store, &params(json!({"mapRunArn": PARENT}))).unwrap_err().code, "InvalidArn");
    }

    #[test]
    fn an_executions_runs_are_listed_in_pages() {
        let store = store_with_run();
        let second = MapRunRecord { map_run_arn: format!("{RUN}-2"), start_ms: 1_600, ..store.map_run(RUN).unwrap().unwrap() };
        store.create_map_run(&second).unwrap();
        let first = list_in(&store, &params(json!({"executionArn": PARENT, "maxResults": 1}))).unwrap();
        assert_eq!(first["mapRuns"][0]["mapRunArn"], RUN);
        assert_eq!(first["mapRuns"][0]["stateMachineArn"], CHILD_MACHINE);
        let token = first["nextToken"].as_str().unwrap();
        let rest = list_in(&store, &params(json!({"executionArn": PARENT, "maxResults": 1, "nextToken": token}))).unwrap();
        assert_eq!(rest["mapRuns"][0]["mapRunArn"], second.map_run_arn);
        assert!(rest.get("nextToken").is_none());
        let unknown = PARENT.replace("e1", "e2");
        assert_eq!(list_in(&store, &params(json!({"executionArn": unknown}))).unwrap_err().code, "ExecutionDoesNotExist");
        assert_eq!(list_in(&store, &params(json!({"executionArn": RUN}))).unwrap_err().code, "InvalidArn");
    }

    #[test]
    fn an_update_changes_what_it_gives_and_bad_values_are_refused() {
        let store = store_with_run();
        update_in(&store, &params(json!({"mapRunArn": RUN, "maxConcurrency": 0, "toleratedFailurePercentage": 12.5}))).unwrap();
        let run = store.map_run(RUN).unwrap().unwrap();
        assert_eq!((run.max_concurrency, run.tolerated_failure_count, run.tolerated_failure_percentage), (0, 1, 12.5));
        let code = |body: Value| update_in(&store, &params(body)).unwrap_err().code;
        assert_eq!(code(json!({"mapRunArn": RUN, "maxConcurrency": 10_001})), "ValidationException");
        assert_eq!(code(json!({"mapRunArn": RUN, "maxConcurrency": -1})), "ValidationException");
        assert_eq!(code(json!({"mapRunArn": RUN, "toleratedFailureCount": -1})), "ValidationException");
        assert_eq!(code(json!({"mapRunArn": RUN, "toleratedFailurePercentage": 100.5})), "ValidationException");
        assert_eq!(code(json!({"mapRunArn": RUN})), "ValidationException");
        assert_eq!(code(json!({"mapRunArn": RUN, "maxConcurrency": "3"})), "SerializationException");
        assert_eq!(code(json!({"mapRunArn": RUN, "maxConcurrency": 1.5})), "SerializationException");
        assert_eq!(code(json!({"mapRunArn": RUN.replace("0b4f", "ffff"), "maxConcurrency": 1})), "ResourceNotFound");
        assert_eq!(code(json!({"mapRunArn": CHILD_MACHINE, "maxConcurrency": 1})), "InvalidArn");
        assert_eq!(store.map_run(RUN).unwrap().unwrap().max_concurrency, 0, "a refused update changes nothing");
    }

    /// An API over `store`, with no modules.
    fn api(store: SqliteStore) -> Api {
        let dir = std::env::temp_dir().join(format!("stepwasm-map-runs-api-{}", std::process::id()));
        let settings = crate::machines::MachineSettings {
            resources: crate::runtime::ResourceMap::with_module_dir(&dir),
            cache_dir: None,
            mocks: None,
        };
        Api {
            store: std::sync::Arc::new(store),
            machines: std::sync::Arc::new(crate::machines::StoredMachines::new(settings, &dir.join("store.sqlite"))),
            wake_host: Default::default(),
            access: super::super::Access::Open,
            arns: Default::default(),
            open_executions: std::sync::Arc::new(super::super::open_executions::OpenExecutions::new(10)),
            resolved: Default::default(),
        }
    }

    /// A child execution of [`RUN`] of `index`, started at `start_ms`.
    fn start_child(store: &SqliteStore, index: u32, start_ms: i64) -> String {
        let name = format!("{}-{index:06}", RUN.rsplit(':').next().unwrap_or_default());
        let info = crate::engine::ExecutionInfo {
            execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:orders/ProcessItems:{name}"),
            state_machine_arn: CHILD_MACHINE.into(),
            state_machine_name: "orders/ProcessItems".into(),
            name,
            ..crate::engine::execution_info("orders", "x")
        };
        store.create_execution(&info, start_ms).unwrap();
        info.execution_arn
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_actions_list_a_runs_children_name_a_childs_run_and_hide_child_machines() {
        let store = store_with_run();
        store.put_state_machine("arn:aws:states:us-east-1:123456789012:stateMachine:orders", "orders", "{}").unwrap();
        store.put_state_machine(CHILD_MACHINE, "orders/ProcessItems", "{}").unwrap();
        let first = start_child(&store, 0, 2_000);
        let second = start_child(&store, 1, 3_000);
        store.stop_execution(&first, "", "", 4_000).unwrap();
        let api = api(store);
        let call = |action: &'static str, body: Value| {
            let api = &api;
            async move { super::super::actions::dispatch(api, action, params(body)).await }
        };

        let machines = call("ListStateMachines", json!({})).await.unwrap();
        let names: Vec<_> = machines["stateMachines"].as_array().unwrap().iter().map(|m| m["name"].clone()).collect();
        assert_eq!(names, [json!("orders")], "a child machine is not listed");

        let listed = call("ListExecutions", json!({"mapRunArn": RUN})).await.unwrap();
        let arns: Vec<_> = listed["executions"].as_array().unwrap().iter().map(|e| e["executionArn"].clone()).collect();
        assert_eq!(arns, [json!(second), json!(first)], "newest first");
        assert_eq!(listed["executions"][0]["mapRunArn"], RUN);
        let page = call("ListExecutions", json!({"mapRunArn": RUN, "maxResults": 1})).await.unwrap();
        let token = page["nextToken"].clone();
        let rest = call("ListExecutions", json!({"mapRunArn": RUN, "maxResults": 1, "nextToken": token})).await.unwrap();
        assert_eq!(rest["executions"][0]["executionArn"], json!(first));
        let aborted = call("ListExecutions", json!({"mapRunArn": RUN, "statusFilter": "ABORTED"})).await.unwrap();
        assert_eq!(aborted["executions"].as_array().unwrap().len(), 1);
        let both = json!({"mapRunArn": RUN, "stateMachineArn": CHILD_MACHINE});
        assert_eq!(call("ListExecutions", both).await.unwrap_err().code, "ValidationException");
        assert_eq!(call("ListExecutions", json!({})).await.unwrap_err().code, "ValidationException");
        let unknown = json!({"mapRunArn": RUN.replace("0b4f", "ffff")});
        assert_eq!(call("ListExecutions", unknown).await.unwrap_err().code, "ResourceNotFound");

        let child = call("DescribeExecution", json!({"executionArn": second})).await.unwrap();
        assert_eq!(child["mapRunArn"], RUN);
        let parent = call("DescribeExecution", json!({"executionArn": PARENT})).await.unwrap();
        assert!(parent.get("mapRunArn").is_none());
        let runs = call("ListMapRuns", json!({"executionArn": PARENT})).await.unwrap();
        assert_eq!(runs["mapRuns"][0]["mapRunArn"], RUN);
        call("UpdateMapRun", json!({"mapRunArn": RUN, "toleratedFailureCount": 4})).await.unwrap();
        assert_eq!(call("DescribeMapRun", json!({"mapRunArn": RUN})).await.unwrap()["toleratedFailureCount"], 4);
    }

    #[test]
    fn a_child_names_its_run_and_other_executions_none() {
        let store = store_with_run();
        let child = |machine: &str, name: &str| ExecutionSummary {
            info: crate::engine::ExecutionInfo {
                state_machine_arn: machine.into(),
                name: name.into(),
                ..crate::engine::execution_info("orders", name)
            },
            status: ExecutionStatus::Running,
            start_ms: 0,
            stop_ms: None,
            wake_ms: None,
            redrive_count: 0,
            redrive_ms: None,
        };
        let id = RUN.rsplit(':').next().unwrap();
        assert_eq!(run_of_child(&store, &child(CHILD_MACHINE, &format!("{id}-000002"))).unwrap().as_deref(), Some(RUN));
        assert_eq!(run_of_child(&store, &child(CHILD_MACHINE, "other-000002")).unwrap(), None, "no such run");
        assert_eq!(
            run_of_child(&store, &child("arn:aws:states:us-east-1:123456789012:stateMachine:orders", &format!("{id}-1"))).unwrap(),
            None
        );
        assert_eq!(child_run_arn(CHILD_MACHINE, "no-index-x"), None);
        for bad in
            [CHILD_MACHINE, "arn:aws:states:r:1:mapRun:orders:id", "arn:aws:states:r:1:mapRun:orders/L:", "arn:aws:states:r:1:mapRun:/L:id"]
        {
            assert_eq!(check_map_run_arn("mapRunArn", bad).unwrap_err().code, "InvalidArn", "{bad}");
        }
    }
}
