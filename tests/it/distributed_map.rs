//! Distributed Map (issue 17), end to end: map runs of child executions,
//! items read from and results written to directories standing in for S3
//! buckets (`[s3.buckets]`), and the Map Run API.
//!
//! - A 10,000-line CSV (quoted fields with commas and quotes) through
//!   `serve`: one child execution per row, listed by ListExecutions
//!   (`mapRunArn`) and described with their map run; the ResultWriter's
//!   manifest and SUCCEEDED file read back, every row's output there once;
//!   DescribeMapRun's counts; the parent's history as AWS records it
//!   (`MapRunStarted`, `MapRunSucceeded`); the child machine hidden from
//!   ListStateMachines.
//! - A JSON Lines file: batches (`ItemBatcher`) without a ResultWriter
//!   (outputs in item order); tolerated failures written to the FAILED
//!   file; one failure too many is `States.ExceedToleratedFailureThreshold`,
//!   caught.
//! - Bad sources through `stepwasm run` (children in-process): a malformed
//!   CSV and JSON Lines file fail with `States.ItemReaderFailed` naming the
//!   line; keys outside the bucket (`../`, absolute, a symlink out) and an
//!   unmapped bucket are refused; `run --store` (children kept nowhere) stops
//!   at a map run, leaving the execution RUNNING for `serve`.
//! - UpdateMapRun raises MaxConcurrency while the run goes on (children
//!   that each wait for a local server's answer: more than one in flight only
//!   after the update); StopExecution of the parent, or its TimeoutSeconds,
//!   aborts the run and its running children.
//! - RedriveExecution of a parent whose map run failed: the same map run
//!   runs again (`MapRunRedriven`, DescribeMapRun's redriveCount), its
//!   failed and stopped children are redriven, those not started start,
//!   and those that succeeded are neither rerun nor redriven.
//! - Three kill -9s of `serve` (`--crash-limit 2`) during a 300-item map run
//!   whose children count in the kv store, then wait a second: every item
//!   counted once, one child per item, one `MapRunStarted`, the parent not
//!   failed as a crash loop.

use crate::support::{exit_within, guest_dir, kill_at_goals, scratch, spawn_serve, stepwasm, wait_for, ApiServer, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm::engine::EventKind;
use stepwasm::store::{ExecutionStatus, Journal, SqliteStore, Store};

const ROLE: &str = "arn:aws:iam::000000000000:role/r";

/// A config mapping bucket `my-bucket` to `dir/data` (plus `extra` lines).
fn bucket_config(dir: &Path, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("stepwasm.toml");
    std::fs::write(&config, format!("{extra}\n[s3.buckets]\nmy-bucket = \"data/\"\n")).unwrap();
    config
}

/// A bucket config granting resource `probe` (the probe module) kv in
/// namespace `probe`, where children count their items.
fn counting_config(dir: &Path) -> PathBuf {
    let probe = format!(
        "module_dir = {:?}\n[resources.\"probe\"]\nmodule = \"probe\"\nkv = {{ namespace = \"probe\" }}\n\
         http = {{ allow = [\"http://127.0.0.1:9/unused/\"] }}\n",
        guest_dir().to_str().unwrap()
    );
    bucket_config(dir, &probe)
}

fn serve(dir: &Path, config: &Path) -> ApiServer {
    let cache = dir.join("cache");
    ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()])
}

fn history_types(server: &ApiServer, arn: &str) -> Vec<String> {
    let events = server.action("GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000}));
    events["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

fn only_map_run(server: &ApiServer, execution_arn: &str) -> String {
    let runs = server.action("ListMapRuns", json!({"executionArn": execution_arn}));
    let runs = runs["mapRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0]["mapRunArn"].as_str().unwrap().to_string()
}

/// Every child of a map run, through ListExecutions' pages.
fn children(server: &ApiServer, map_run_arn: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut params = json!({"mapRunArn": map_run_arn, "maxResults": 1000});
    loop {
        let page = server.action("ListExecutions", params.clone());
        all.extend(page["executions"].as_array().unwrap().iter().cloned());
        match page.get("nextToken").and_then(Value::as_str) {
            Some(token) => params["nextToken"] = json!(token),
            None => return all,
        }
    }
}

/// The ResultWriter's manifest and files under `data/`, read back.
fn results_of(dir: &Path, output: &Value) -> (Value, Vec<Value>, Vec<Value>) {
    let details = &output["ResultWriterDetails"];
    assert_eq!(details["Bucket"], "my-bucket", "{output}");
    let manifest_key = details["Key"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("data").join(manifest_key)).unwrap()).unwrap();
    assert_eq!(manifest["MapRunArn"], output["MapRunArn"]);
    assert_eq!(manifest["DestinationBucket"], "my-bucket");
    let read = |status: &str| -> Vec<Value> {
        let mut all = Vec::new();
        for file in manifest["ResultFiles"][status].as_array().unwrap() {
            let key = file["Key"].as_str().unwrap();
            assert!(key.starts_with(manifest_key.trim_end_matches("manifest.json")), "{key}");
            let bytes = std::fs::read(dir.join("data").join(key)).unwrap();
            assert_eq!(file["Size"], json!(bytes.len()), "{key}");
            all.extend(serde_json::from_slice::<Vec<Value>>(&bytes).unwrap());
        }
        all
    };
    let (succeeded, failed) = (read("SUCCEEDED"), read("FAILED"));
    (manifest, succeeded, failed)
}

#[test]
fn a_10000_line_csv_runs_as_child_executions_and_its_results_are_written() {
    const ROWS: usize = 10_000;
    let dir = scratch("dmap-csv");
    let config = bucket_config(&dir, "");
    let mut csv = String::from("id,name,note\n");
    for i in 0..ROWS {
        csv.push_str(&format!("{i},\"item {i}, \"\"boxed\"\"\",n{}\n", i % 7));
    }
    std::fs::write(dir.join("data/rows.csv"), csv).unwrap();
    let server = serve(&dir, &config);
    let definition = json!({"StartAt": "Rows", "States": {"Rows": {"Type": "Map", "Label": "EachRow",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket": "my-bucket", "Key.$": "$.key"}},
        "ItemSelector": {"row.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Shape", "States": {"Shape": {"Type": "Pass", "Parameters": {"id.$": "$.row.id", "name.$": "$.row.name", "at.$": "$.index"}, "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "my-bucket", "Prefix": "out"}},
        "End": true}}});
    let machine = server.create_machine("rows", &definition, ROLE);
    let arn = server.start_execution(&machine, "all", &json!({"key": "rows.csv"}).to_string());
    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();

    // The parent's history is AWS's: the children are not in it.
    assert_eq!(
        history_types(&server, &arn),
        ["ExecutionStarted", "MapStateEntered", "MapRunStarted", "MapRunSucceeded", "MapStateExited", "ExecutionSucceeded"]
    );
    let map_run = only_map_run(&server, &arn);
    assert_eq!(output["MapRunArn"], json!(map_run));
    assert!(map_run.contains(":mapRun:rows/EachRow:"), "{map_run}");
    let run = server.action("DescribeMapRun", json!({"mapRunArn": map_run}));
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["executionArn"], json!(arn));
    for counts in ["itemCounts", "executionCounts"] {
        assert_eq!(run[counts]["succeeded"], json!(ROWS), "{run}");
        assert_eq!(run[counts]["total"], json!(ROWS), "{run}");
        assert_eq!(run[counts]["failed"], json!(0), "{run}");
        assert_eq!(run[counts]["resultsWritten"], json!(ROWS), "{run}");
    }

    // One child execution per row, each with its own history.
    let listed = children(&server, &map_run);
    assert_eq!(listed.len(), ROWS);
    let names: BTreeSet<&str> = listed.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), ROWS, "a child listed twice");
    assert!(listed
        .iter()
        .all(|e| e["status"] == "SUCCEEDED" && e["stateMachineArn"].as_str().unwrap().ends_with(":stateMachine:rows/EachRow")));
    let child = listed[0]["executionArn"].as_str().unwrap();
    let child_described = server.action("DescribeExecution", json!({"executionArn": child}));
    assert_eq!(child_described["mapRunArn"], json!(map_run), "{child_described}");
    assert_eq!(history_types(&server, child), ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    let machines = server.action("ListStateMachines", json!({}));
    let machine_names: Vec<&str> = machines["stateMachines"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(machine_names, ["rows"], "the child machine is not listed");

    // The ResultWriter's files: every row once, with its quoted name intact.
    let (manifest, succeeded, failed) = results_of(&dir, &output);
    assert!(failed.is_empty() && manifest["ResultFiles"]["PENDING"].as_array().unwrap().is_empty(), "{manifest}");
    assert_eq!(succeeded.len(), ROWS);
    let mut seen = vec![false; ROWS];
    for result in &succeeded {
        assert_eq!(result["Status"], "SUCCEEDED", "{result}");
        let out: Value = serde_json::from_str(result["Output"].as_str().unwrap()).unwrap();
        let at = out["at"].as_u64().unwrap() as usize;
        assert_eq!(out["id"], json!(at.to_string()), "{out}");
        assert_eq!(out["name"], json!(format!("item {at}, \"boxed\"")), "{out}");
        assert!(!std::mem::replace(&mut seen[at], true), "row {at} written twice");
        assert!(names.contains(result["Name"].as_str().unwrap()), "{result}");
    }
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Map over a JSON Lines file `items.jsonl` whose items with `"bad"` fail.
fn tolerant_definition(tolerated: u64, batch: Option<u64>, writer: bool) -> Value {
    let mut map = json!({"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": "my-bucket", "Key": "items.jsonl"}},
        "ToleratedFailureCount": tolerated,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.bad", "IsPresent": true, "Next": "Boom"}], "Default": "Fine"},
            "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "a bad item"},
            "Fine": {"Type": "Pass", "End": true}}},
        "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.caught", "Next": "TooMany"}],
        "End": true});
    if let Some(size) = batch {
        map["ItemBatcher"] = json!({"MaxItemsPerBatch": size, "BatchInput": {"run": "r1"}});
        map["ItemProcessor"]["States"] = json!({"Count": {"Type": "Pass",
            "Parameters": {"count.$": "States.ArrayLength($.Items)", "first.$": "$.Items[0].n", "run.$": "$.BatchInput.run"}, "End": true}});
        map["ItemProcessor"]["StartAt"] = json!("Count");
    }
    if writer {
        map["ResultWriter"] =
            json!({"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "my-bucket", "Prefix": "tolerant"}});
    }
    json!({"StartAt": "Each", "States": {"Each": map, "TooMany": {"Type": "Pass", "End": true}}})
}

#[test]
fn json_lines_batches_and_tolerated_failures() {
    let dir = scratch("dmap-jsonl");
    let config = bucket_config(&dir, "");
    let lines: Vec<String> =
        (0..1000).map(|n| if n % 400 == 7 { json!({"n": n, "bad": true}) } else { json!({"n": n}) }.to_string()).collect();
    std::fs::write(dir.join("data/items.jsonl"), lines.join("\n") + "\n").unwrap();
    let server = serve(&dir, &config);

    // Batches of 50, no writer: the children's outputs in item order.
    let batched = server.create_machine("batched", &tolerant_definition(0, Some(50), false), ROLE);
    let described = server.run_to_end(&batched, "b", "{}");
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    let expected: Vec<Value> = (0..20).map(|b| json!({"count": 50, "first": b * 50, "run": "r1"})).collect();
    assert_eq!(output, json!(expected));
    let run = server.action("DescribeMapRun", json!({"mapRunArn": only_map_run(&server, described["executionArn"].as_str().unwrap())}));
    assert_eq!((&run["itemCounts"]["total"], &run["executionCounts"]["total"]), (&json!(1000), &json!(20)), "{run}");

    // Three bad items of 1,000, three tolerated: SUCCEEDED, the failures in FAILED_0.json.
    let tolerant = server.create_machine("tolerant", &tolerant_definition(3, None, true), ROLE);
    let described = server.run_to_end(&tolerant, "t", "{}");
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    let (_, succeeded, failed) = results_of(&dir, &output);
    assert_eq!((succeeded.len(), failed.len()), (997, 3));
    for f in &failed {
        assert_eq!((&f["Status"], &f["Error"], &f["Cause"]), (&json!("FAILED"), &json!("Item.Bad"), &json!("a bad item")), "{f}");
        let input: Value = serde_json::from_str(f["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["bad"], true, "{f}");
    }
    let run = server.action("DescribeMapRun", json!({"mapRunArn": output["MapRunArn"]}));
    assert_eq!((&run["itemCounts"]["failed"], &run["itemCounts"]["succeeded"]), (&json!(3), &json!(997)), "{run}");

    // Two tolerated: the third failure fails the state, which its Catch takes.
    let strict = server.create_machine("strict", &tolerant_definition(2, None, false), ROLE);
    let arn = server.start_execution(&strict, "s", "{}");
    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["caught"]["Error"], "States.ExceedToleratedFailureThreshold", "{output}");
    let types = history_types(&server, &arn);
    assert!(types.contains(&"MapRunFailed".to_string()) && types.contains(&"MapStateExited".to_string()), "{types:?}");
    let run = server.action("DescribeMapRun", json!({"mapRunArn": only_map_run(&server, &arn)}));
    assert_eq!(run["status"], "FAILED", "{run}");
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `stepwasm run` of a Map reading `key` with `reader_config`: its error and cause.
fn run_reader(dir: &Path, config: &Path, bucket: &str, key: &str, reader_config: Value) -> (String, String) {
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": reader_config, "Parameters": {"Bucket": bucket, "Key": key}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let path = dir.join("reader.asl.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let (code, out, err) = stepwasm(&["run", path.to_str().unwrap(), "--config", config.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 1, "the execution fails: {out}{err}");
    let result: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (result["error"].as_str().unwrap_or_default().to_string(), result["cause"].as_str().unwrap_or_default().to_string())
}

#[test]
fn bad_item_sources_fail_the_state_saying_where() {
    let dir = scratch("dmap-bad");
    let config = bucket_config(&dir, "");
    std::fs::write(dir.join("data/broken.csv"), "a,b\n1,2\n3,\"open\n").unwrap();
    std::fs::write(dir.join("data/broken.jsonl"), "{\"n\": 1}\n{\"n\": \n{\"n\": 3}\n").unwrap();
    std::fs::write(dir.join("secret.json"), "[1]").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.json"), dir.join("data/link.json")).unwrap();
    let csv = json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"});
    let (error, cause) = run_reader(&dir, &config, "my-bucket", "broken.csv", csv);
    assert_eq!(error, "States.ItemReaderFailed", "{cause}");
    assert!(cause.contains("broken.csv") && cause.contains("line 3"), "{cause}");
    let (error, cause) = run_reader(&dir, &config, "my-bucket", "broken.jsonl", json!({"InputType": "JSONL"}));
    assert_eq!(error, "States.ItemReaderFailed", "{cause}");
    assert!(cause.contains("broken.jsonl") && cause.contains("line 2"), "{cause}");
    for key in ["../secret.json", "/etc/passwd", "link.json"] {
        let (error, cause) = run_reader(&dir, &config, "my-bucket", key, json!({"InputType": "JSON"}));
        assert_eq!(error, "States.ItemReaderFailed", "{key}: {cause}");
        assert!(!cause.is_empty() && cause.contains(key.trim_start_matches("../")), "{key}: {cause}");
    }
    let (error, cause) = run_reader(&dir, &config, "other-bucket", "x.json", json!({"InputType": "JSON"}));
    assert_eq!(error, "States.ItemReaderFailed", "{cause}");
    assert!(cause.contains("other-bucket"), "{cause}");
    // Journaled without serve, children would be kept nowhere: refused.
    let store = dir.join("store.sqlite");
    let (code, out, err) = stepwasm(&[
        "run",
        dir.join("reader.asl.json").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("stepwasm serve") && err.contains("left RUNNING"), "{out}{err}");
    let (code, out, err) = stepwasm(&["executions", "list", "--store", store.to_str().unwrap()]);
    assert!(code == 0 && out.contains("RUNNING"), "the execution waits for serve: {out}{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn update_map_run_raises_concurrency_and_stopping_the_parent_aborts_the_run() {
    let dir = scratch("dmap-update");
    // Each child calls a local server, which answers only once released:
    // what runs at once is decided by the map run, not by timing.
    let released = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (r, f) = (Arc::clone(&released), Arc::clone(&in_flight));
    let server_http = TestServer::start(move |_, _| {
        f.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while r.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        f.fetch_sub(1, Ordering::SeqCst);
        (200, "{}".into())
    });
    let probe = format!(
        "module_dir = {:?}\n[resources.\"probe\"]\nmodule = \"probe\"\nkv = {{ namespace = \"probe\" }}\ntimeout_seconds = 120\n\
         http = {{ allow = [\"{}\"], timeout_seconds = 120 }}\n",
        guest_dir().to_str().unwrap(),
        server_http.url("/")
    );
    let config = bucket_config(&dir, &probe);
    let server = serve(&dir, &config);
    let items: Vec<Value> = (0..8).map(|i| json!({"i": i})).collect();
    let definition = |concurrency: u64| {
        json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": "probe", "Parameters": {"steps": [{"fetch": {"url": server_http.url("/hold")}}]}, "End": true}}},
            "End": true}}})
    };
    let machine = server.create_machine("held", &definition(1), ROLE);
    let arn = server.start_execution(&machine, "u", &json!({"items": items}).to_string());
    wait_for("the first child to call", || in_flight.load(Ordering::SeqCst) == 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(in_flight.load(Ordering::SeqCst), 1, "MaxConcurrency 1 holds the others back");
    let map_run = only_map_run(&server, &arn);
    server.action("UpdateMapRun", json!({"mapRunArn": map_run, "maxConcurrency": 4}));
    assert_eq!(server.action("DescribeMapRun", json!({"mapRunArn": map_run}))["maxConcurrency"], 4);
    // The run reads its settings as children end: release the first one.
    released.store(1, Ordering::SeqCst);
    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let listed = children(&server, &map_run);
    let spans: Vec<(f64, f64)> = listed.iter().map(|e| (e["startDate"].as_f64().unwrap(), e["stopDate"].as_f64().unwrap())).collect();
    let overlapping = spans.iter().any(|a| spans.iter().filter(|b| b.0 < a.1 && a.0 < b.1).count() > 1);
    assert!(overlapping, "after UpdateMapRun children ran at once: {spans:?}");
    let (status, refused) = server.call(
        "AWSStepFunctions.UpdateMapRun",
        &json!({"mapRunArn": map_run.replace(map_run.rsplit(':').next().unwrap(), "00000000-0000-0000-0000-000000000000"), "maxConcurrency": 2}),
    );
    assert_eq!((status, &refused["__type"]), (400, &json!("ResourceNotFound")), "{refused}");

    // Stopped while two children hold: the run and its running children are aborted.
    released.store(0, Ordering::SeqCst);
    let machine = server.create_machine("stopped", &definition(2), ROLE);
    let arn = server.start_execution(&machine, "s", &json!({"items": items}).to_string());
    wait_for("two children to call", || in_flight.load(Ordering::SeqCst) == 2);
    server.action("StopExecution", json!({"executionArn": arn, "error": "Halt", "cause": "enough"}));
    let map_run = only_map_run(&server, &arn);
    // The run is ABORTED first, then its running children are stopped.
    let aborted = |map_run: &str| {
        server.action("DescribeMapRun", json!({"mapRunArn": map_run}))["status"] == "ABORTED"
            && children(&server, map_run).iter().all(|e| e["status"] == "ABORTED")
    };
    wait_for("the run and its running children to be aborted", || aborted(&map_run));
    let listed = children(&server, &map_run);
    assert_eq!(listed.len(), 2, "only the running children were started: {listed:?}");

    // Timed out (the parent's TimeoutSeconds) while two children hold: the same.
    let mut timed = definition(2);
    timed["TimeoutSeconds"] = json!(1);
    let machine = server.create_machine("timed", &timed, ROLE);
    let arn = server.start_execution(&machine, "t", &json!({"items": items}).to_string());
    assert_eq!(server.wait_for_end(&arn)["status"], "TIMED_OUT");
    let map_run = only_map_run(&server, &arn);
    wait_for("the timed-out run and its running children to be aborted", || aborted(&map_run));
    assert!(!children(&server, &map_run).is_empty());
    released.store(1, Ordering::SeqCst);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn redriving_the_parent_redrives_its_map_run_rerunning_only_the_unsuccessful_children() {
    let dir = scratch("dmap-redrive");
    let config = counting_config(&dir);
    let server = serve(&dir, &config);
    // Each child counts its item, then passes its gate: items 4 and 9 fail
    // there until kv holds "fixed" (set by another execution between the runs).
    let items: Vec<Value> = (0..12)
        .map(|i| {
            let gate = if i == 4 || i == 9 { json!([{"fail_unless_set": "fixed"}]) } else { json!([]) };
            json!({"i": i, "gate": gate})
        })
        .collect();
    let definition = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Count", "States": {
            "Count": {"Type": "Task", "Resource": "probe", "ResultPath": null,
                "Parameters": {"steps": [{"incr.$": "States.Format('ran-{}', $.i)"}]}, "Next": "Gate"},
            "Gate": {"Type": "Task", "Resource": "probe", "Parameters": {"steps.$": "$.gate"}, "ResultSelector": {"done": true},
                "ResultPath": "$.gate", "OutputPath": "$.i", "End": true}}},
        "End": true}}});
    let machine = server.create_machine("redriven", &definition, ROLE);
    let arn = server.start_execution(&machine, "r", &json!({"items": items}).to_string());
    let described = server.wait_for_end(&arn);
    assert_eq!(
        (&described["status"], &described["error"]),
        (&json!("FAILED"), &json!("States.ExceedToleratedFailureThreshold")),
        "{described}"
    );
    let map_run = only_map_run(&server, &arn);
    let first: Vec<Value> = children(&server, &map_run);
    let succeeded_first: Vec<(String, usize)> = first
        .iter()
        .filter(|e| e["status"] == "SUCCEEDED")
        .map(|e| {
            let child = e["executionArn"].as_str().unwrap().to_string();
            let events = history_types(&server, &child).len();
            (child, events)
        })
        .collect();
    assert!(first.iter().any(|e| e["status"] == "FAILED"), "{first:?}");
    assert!(first.len() < 12 || first.iter().any(|e| e["status"] == "ABORTED"), "the failure stopped the run early: {first:?}");

    let fix = server.create_machine(
        "fix",
        &json!({"StartAt": "Set", "States": {"Set": {"Type": "Task", "Resource": "probe",
            "Parameters": {"steps": [{"set": ["fixed", "yes"]}]}, "End": true}}}),
        ROLE,
    );
    assert_eq!(server.run_to_end(&fix, "f", "{}")["status"], "SUCCEEDED");
    server.action("RedriveExecution", json!({"executionArn": arn}));
    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!((0..12).collect::<Vec<_>>()), "every item's output, in item order");

    // The same run, redriven once; the parent's history says so.
    assert_eq!(only_map_run(&server, &arn), map_run, "no second map run");
    let run = server.action("DescribeMapRun", json!({"mapRunArn": map_run}));
    assert_eq!((&run["status"], &run["redriveCount"]), (&json!("SUCCEEDED"), &json!(1)), "{run}");
    assert!(run["redriveDate"].is_number(), "{run}");
    assert_eq!((&run["executionCounts"]["succeeded"], &run["executionCounts"]["total"]), (&json!(12), &json!(12)), "{run}");
    let types = history_types(&server, &arn);
    let position = |t: &str| types.iter().position(|x| x == t);
    assert_eq!(types.iter().filter(|t| *t == "MapRunStarted").count(), 1, "{types:?}");
    assert!(
        position("ExecutionRedriven") < position("MapRunRedriven") && position("MapRunRedriven") < position("MapRunSucceeded"),
        "{types:?}"
    );

    // Children that succeeded the first time were left alone; the others were redriven or started.
    let second = children(&server, &map_run);
    assert_eq!(second.len(), 12, "one child per item: {second:?}");
    for (child, events) in &succeeded_first {
        let now = server.action("DescribeExecution", json!({"executionArn": child}));
        assert_eq!(now["redriveCount"], 0, "{now}");
        assert_eq!(history_types(&server, child).len(), *events, "{child} gained no events");
    }
    for e in first.iter().filter(|e| e["status"] != "SUCCEEDED") {
        let now = server.action("DescribeExecution", json!({"executionArn": e["executionArn"]}));
        assert_eq!((&now["status"], &now["redriveCount"]), (&json!("SUCCEEDED"), &json!(1)), "{now}");
    }
    drop(server);
    // Every item counted once (a failed child resumed at its gate, after its
    // count), except one stopped while counting, which may count again.
    let stopped: BTreeSet<String> = first
        .iter()
        .filter(|e| e["status"] == "ABORTED")
        .map(|e| e["name"].as_str().unwrap().rsplit('-').next().unwrap().trim_start_matches('0').to_string())
        .collect();
    let kv = stepwasm::runtime::KvStore::open(&dir.join("store.sqlite")).unwrap().entries("probe").unwrap();
    for i in 0..12 {
        let count = kv.iter().find(|(k, _)| *k == format!("ran-{i}")).map(|(_, v)| v.as_str());
        let index = if i == 0 { String::new() } else { i.to_string() };
        if stopped.contains(&index) {
            assert!(matches!(count, Some("1" | "2")), "item {i}: {kv:?}");
        } else {
            assert_eq!(count, Some("1"), "item {i}: {kv:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_9_during_a_map_run_counts_every_item_once() {
    const ITEMS: usize = 300;
    let dir = scratch("dmap-kill");
    let config = counting_config(&dir);
    let lines: Vec<String> = (0..ITEMS).map(|i| json!({"i": i}).to_string()).collect();
    std::fs::write(dir.join("data/items.jsonl"), lines.join("\n")).unwrap();
    let definition = dir.join("count.asl.json");
    std::fs::write(
        &definition,
        json!({"StartAt": "Count", "States": {"Count": {"Type": "Map", "MaxConcurrency": 20,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                "Parameters": {"Bucket": "my-bucket", "Key": "items.jsonl"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Incr", "States": {
                "Incr": {"Type": "Task", "Resource": "probe", "Parameters": {"steps": [{"incr.$": "States.Format('item-{}', $.i)"}]},
                    "ResultSelector": {"count.$": "$.results[0]"}, "Next": "Pause"},
                "Pause": {"Type": "Wait", "Seconds": 1, "End": true}}},
            "End": true}}})
        .to_string(),
    )
    .unwrap();
    let store_path = dir.join("store.sqlite");
    let cache = dir.join("cache");
    let (store_arg, config_arg, cache_arg) = (store_path.to_str().unwrap(), config.to_str().unwrap(), cache.to_str().unwrap());
    let (code, out, err) =
        stepwasm(&["start", definition.to_str().unwrap(), "--store", store_arg, "--config", config_arg, "--name", "big"]);
    assert_eq!(code, 0, "{out}{err}");
    let arn = out.trim().to_string();
    // Two host stops in a row without progress fail an execution; the
    // parent's history does not grow while its children progress.
    let base = ["--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg, "--crash-limit", "2"];
    let serve = |extra: &[&str]| spawn_serve(&[&base[..], extra].concat());
    let store = SqliteStore::open(&store_path).unwrap();
    let done = || {
        let runs = store.map_runs_of(&arn).unwrap();
        runs.first().map_or(0, |run| {
            store.map_run_children(&run.map_run_arn).unwrap().iter().filter(|c| c.status == ExecutionStatus::Succeeded).count()
        })
    };
    let running = || store.execution(&arn).unwrap().unwrap().status == ExecutionStatus::Running;
    // 20 children at a time, each about a second: kills seconds apart, long
    // after the parent's last event.
    let mid_run_kills = kill_at_goals(|| serve(&[]), [60, 120, 180], done, running);
    assert!(mid_run_kills >= 2, "only {mid_run_kills} kill(s) landed while the map run was under way");
    let mut last = serve(&["--exit-when-idle"]);
    let status = exit_within(&mut last, Duration::from_secs(120)).expect("serve finishes the map run within two minutes");
    assert!(status.success(), "{status:?}");

    assert_eq!(store.execution(&arn).unwrap().unwrap().status, ExecutionStatus::Succeeded);
    let history = store.history(&arn).unwrap();
    let started = history.iter().filter(|e| matches!(e.kind, EventKind::MapRunStarted { .. })).count();
    assert_eq!(started, 1, "one map run, resumed, not started again");
    let Some(EventKind::ExecutionSucceeded { output }) = history.last().map(|e| &e.kind) else { panic!("no end") };
    assert_eq!(**output, json!(vec![json!({"count": 1}); ITEMS]), "every item counted once, in item order");
    let runs = store.map_runs_of(&arn).unwrap();
    assert_eq!(runs.len(), 1);
    let children = store.map_run_children(&runs[0].map_run_arn).unwrap();
    assert_eq!(children.len(), ITEMS, "one child per item");
    let kv = stepwasm::runtime::KvStore::open(&store_path).unwrap().entries("probe").unwrap();
    assert_eq!(kv.len(), ITEMS);
    let twice: Vec<&(String, String)> = kv.iter().filter(|(_, count)| count != "1").collect();
    assert!(twice.is_empty(), "counted more than once: {twice:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
