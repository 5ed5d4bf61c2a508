//! A Distributed Map's ResultWriter: the child executions' results written
//! in AWS's layout to the local directory standing in for the S3 bucket.
//!
//! ```text
//! <Prefix>/<map run id>/SUCCEEDED_0.json   JSON arrays of results, split at MAX_RESULT_FILE_BYTES
//! <Prefix>/<map run id>/FAILED_0.json      (FAILED, TIMED_OUT and ABORTED children)
//! <Prefix>/<map run id>/PENDING_0.json     (children that never ran, or still running)
//! <Prefix>/<map run id>/manifest.json      written last: it names only files that exist
//! ```
//!
//! The map run id is the last `:`-separated part of the Map Run's ARN. Each
//! file is written atomically ([`super::buckets::write_object`]).

use super::buckets::{self, BucketError};
use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Map, Value};
use stepwasm_runtime::config::S3Buckets;

pub const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

/// Where a result file is split (AWS splits at 5 GB; this host keeps each
/// file in memory while it writes it).
pub const MAX_RESULT_FILE_BYTES: usize = 128 * 1024 * 1024;

/// One child execution of the Map Run, as the ResultWriter reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildResult {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    /// "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING", "RUNNING".
    pub status: String,
    /// The child's input, as JSON text.
    pub input: String,
    /// The child's output, as JSON text (a succeeded child's).
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
}

/// Why the results could not be written: `States.ResultWriterFailed`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("States.ResultWriterFailed: {cause}")]
pub struct ResultWriterError {
    cause: String,
}

impl ResultWriterError {
    fn new(cause: impl Into<String>) -> ResultWriterError {
        ResultWriterError { cause: cause.into() }
    }

    /// The error name AWS gives it.
    pub fn error(&self) -> &'static str {
        "States.ResultWriterFailed"
    }

    pub fn cause(&self) -> &str {
        &self.cause
    }
}

impl From<BucketError> for ResultWriterError {
    fn from(e: BucketError) -> ResultWriterError {
        ResultWriterError::new(e.to_string())
    }
}

/// The three files' groups, in the manifest's order.
const GROUPS: [&str; 3] = ["FAILED", "PENDING", "SUCCEEDED"];

fn group_of(status: &str) -> &'static str {
    match status {
        "SUCCEEDED" => "SUCCEEDED",
        "PENDING" | "RUNNING" => "PENDING",
        _ => "FAILED",
    }
}

fn date(ms: i64) -> Value {
    DateTime::from_timestamp_millis(ms).map_or(Value::Null, |d| Value::String(d.to_rfc3339_opts(SecondsFormat::Millis, true)))
}

/// A child's entry, with AWS's field names (in AWS's alphabetical order).
fn entry(child: &ChildResult) -> Value {
    let mut e = Map::new();
    let mut text = |name: &str, value: &str| {
        if !value.is_empty() {
            e.insert(name.into(), Value::String(value.into()));
        }
    };
    text("Cause", child.cause.as_deref().unwrap_or_default());
    text("Error", child.error.as_deref().unwrap_or_default());
    text("ExecutionArn", &child.execution_arn);
    text("Input", &child.input);
    e.insert("InputDetails".into(), json!({"Included": true}));
    if !child.name.is_empty() {
        e.insert("Name".into(), Value::String(child.name.clone()));
    }
    if let Some(output) = &child.output {
        e.insert("Output".into(), Value::String(output.clone()));
        e.insert("OutputDetails".into(), json!({"Included": true}));
    }
    let pending = group_of(&child.status) == "PENDING";
    if !pending {
        e.insert("RedriveCount".into(), json!(0));
        if child.status == "SUCCEEDED" {
            e.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
            e.insert("RedriveStatusReason".into(), json!("Execution is SUCCEEDED and cannot be redriven"));
        } else {
            e.insert("RedriveStatus".into(), json!("REDRIVABLE_BY_MAP_RUN"));
        }
        e.insert("StartDate".into(), date(child.start_ms));
    }
    if !child.state_machine_arn.is_empty() {
        e.insert("StateMachineArn".into(), Value::String(child.state_machine_arn.clone()));
    }
    e.insert("Status".into(), Value::String(child.status.clone()));
    if let Some(stop) = child.stop_ms.filter(|_| !pending) {
        e.insert("StopDate".into(), date(stop));
    }
    Value::Object(e)
}

/// Writes the results and the manifest; returns what the Map state outputs.
pub fn write_results(buckets: &S3Buckets, writer: &Value, map_run_arn: &str, results: &[ChildResult]) -> Result<Value, ResultWriterError> {
    write_results_split(buckets, writer, map_run_arn, results, MAX_RESULT_FILE_BYTES)
}

fn write_results_split(
    buckets: &S3Buckets,
    writer: &Value,
    map_run_arn: &str,
    results: &[ChildResult],
    max_file_bytes: usize,
) -> Result<Value, ResultWriterError> {
    let resource = writer.get("Resource").and_then(Value::as_str).unwrap_or_default();
    if resource != PUT_OBJECT {
        return Err(ResultWriterError::new(format!("ResultWriter Resource {resource:?} is not supported by this host ({PUT_OBJECT})")));
    }
    if let Some(config) = writer.get("WriterConfig") {
        let transformation = config.get("Transformation").and_then(Value::as_str).unwrap_or("NONE");
        let output_type = config.get("OutputType").and_then(Value::as_str).unwrap_or("JSON");
        if (transformation, output_type) != ("NONE", "JSON") {
            return Err(ResultWriterError::new(format!(
                "ResultWriter WriterConfig Transformation {transformation:?}, OutputType {output_type:?}: this host writes only NONE as JSON"
            )));
        }
    }
    let params = writer.get("Parameters").or_else(|| writer.get("Arguments")).unwrap_or(&Value::Null);
    let bucket = params
        .get("Bucket")
        .and_then(Value::as_str)
        .ok_or_else(|| ResultWriterError::new("ResultWriter Parameters.Bucket must be a string"))?;
    let prefix = match params.get("Prefix") {
        None | Some(Value::Null) => "",
        Some(Value::String(p)) => p.trim_end_matches('/'),
        Some(_) => return Err(ResultWriterError::new(format!("ResultWriter s3://{bucket}: Parameters.Prefix must be a string"))),
    };
    let run_id = crate::store::map_run_id(map_run_arn);
    if run_id.is_empty() || run_id.contains('/') {
        return Err(ResultWriterError::new(format!("ResultWriter s3://{bucket}: no map run id at the end of {map_run_arn:?}")));
    }
    let folder = if prefix.is_empty() { run_id.to_string() } else { format!("{prefix}/{run_id}") };
    let mut files: Map<String, Value> = GROUPS.iter().map(|g| (g.to_string(), Value::Array(Vec::new()))).collect();
    for group in GROUPS {
        let mut written = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut flush = |buf: &mut Vec<u8>| -> Result<(), ResultWriterError> {
            buf.push(b']');
            let key = format!("{folder}/{group}_{}.json", written.len());
            buckets::write_object(buckets, bucket, &key, buf)?;
            written.push(json!({"Key": key, "Size": buf.len()}));
            buf.clear();
            Ok(())
        };
        for child in results.iter().filter(|c| group_of(&c.status) == group) {
            let bytes = serde_json::to_vec(&entry(child)).map_err(|e| ResultWriterError::new(format!("s3://{bucket}/{folder}: {e}")))?;
            if !buf.is_empty() && buf.len() + 1 + bytes.len() + 1 > max_file_bytes {
                flush(&mut buf)?;
            }
            buf.push(if buf.is_empty() { b'[' } else { b',' });
            buf.extend_from_slice(&bytes);
        }
        if !buf.is_empty() {
            flush(&mut buf)?;
        }
        files.insert(group.to_string(), Value::Array(written));
    }
    let manifest_key = format!("{folder}/manifest.json");
    let manifest = json!({"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files});
    let bytes = serde_json::to_vec(&manifest).map_err(|e| ResultWriterError::new(format!("s3://{bucket}/{manifest_key}: {e}")))?;
    buckets::write_object(buckets, bucket, &manifest_key, &bytes)?;
    Ok(json!({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}))
}

#[cfg(test)]
mod tests {
    use super::super::buckets::TestDir;
    use super::*;
    use std::os::unix::fs::symlink;

    const RUN: &str = "arn:aws:states:us-east-2:123456789012:mapRun:csvProcess/Map:ad9b5f27-090b-3ac6-9beb-243cd77144a7";
    const ID: &str = "ad9b5f27-090b-3ac6-9beb-243cd77144a7";

    fn child(n: usize, status: &str) -> ChildResult {
        let ok = status == "SUCCEEDED";
        ChildResult {
            execution_arn: format!("arn:aws:states:us-east-2:123456789012:execution:csvProcess/Map:child-{n}"),
            name: format!("child-{n}"),
            state_machine_arn: "arn:aws:states:us-east-2:123456789012:stateMachine:csvProcess/Map".into(),
            status: status.into(),
            input: format!("{{\"n\":{n}}}"),
            output: ok.then(|| format!("{{\"done\":{n}}}")),
            error: (!ok).then(|| "States.TaskFailed".into()),
            cause: (!ok).then(|| "boom".into()),
            start_ms: 1_738_695_612_143,
            stop_ms: Some(1_738_695_612_258),
        }
    }

    fn read(t: &TestDir, rel: &str) -> Value {
        serde_json::from_slice(&std::fs::read(t.0.join(rel)).unwrap()).unwrap()
    }

    #[test]
    fn writes_aws_layout_and_manifest() {
        let t = TestDir::new("results");
        let b = t.buckets(&["out"]);
        let writer = json!({"Resource": PUT_OBJECT, "Parameters": {"Bucket": "out", "Prefix": "csvProcessJobs"}});
        let results = [child(0, "SUCCEEDED"), child(1, "FAILED"), child(2, "SUCCEEDED"), child(3, "TIMED_OUT")];
        let out = write_results(&b, &writer, RUN, &results).unwrap();
        let manifest_key = format!("csvProcessJobs/{ID}/manifest.json");
        assert_eq!(out, json!({"MapRunArn": RUN, "ResultWriterDetails": {"Bucket": "out", "Key": manifest_key}}));
        let manifest = read(&t, &format!("out/{manifest_key}"));
        let succeeded_key = format!("csvProcessJobs/{ID}/SUCCEEDED_0.json");
        let size = std::fs::metadata(t.0.join("out").join(&succeeded_key)).unwrap().len();
        assert_eq!(manifest["DestinationBucket"], json!("out"));
        assert_eq!(manifest["MapRunArn"], json!(RUN));
        assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([{"Key": succeeded_key, "Size": size}]));
        assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
        assert_eq!(manifest["ResultFiles"].as_object().unwrap().keys().collect::<Vec<_>>(), ["FAILED", "PENDING", "SUCCEEDED"]);
        let succeeded = read(&t, &format!("out/{succeeded_key}"));
        assert_eq!(
            succeeded[0],
            json!({
                "ExecutionArn": "arn:aws:states:us-east-2:123456789012:execution:csvProcess/Map:child-0",
                "Input": "{\"n\":0}",
                "InputDetails": {"Included": true},
                "Name": "child-0",
                "Output": "{\"done\":0}",
                "OutputDetails": {"Included": true},
                "RedriveCount": 0,
                "RedriveStatus": "NOT_REDRIVABLE",
                "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
                "StartDate": "2025-02-04T19:00:12.143Z",
                "StateMachineArn": "arn:aws:states:us-east-2:123456789012:stateMachine:csvProcess/Map",
                "Status": "SUCCEEDED",
                "StopDate": "2025-02-04T19:00:12.258Z"
            })
        );
        assert_eq!(succeeded.as_array().unwrap().len(), 2);
        let failed = read(&t, &format!("out/csvProcessJobs/{ID}/FAILED_0.json"));
        assert_eq!(failed.as_array().unwrap().iter().map(|f| f["Status"].as_str().unwrap()).collect::<Vec<_>>(), ["FAILED", "TIMED_OUT"]);
        assert_eq!(failed[0]["Error"], json!("States.TaskFailed"));
        assert_eq!(failed[0]["Cause"], json!("boom"));
        assert!(failed[0].get("Output").is_none());
    }

    #[test]
    fn files_split_at_the_cap_and_pending_children_are_listed() {
        let t = TestDir::new("results");
        let b = t.buckets(&["out"]);
        let writer = json!({"Resource": PUT_OBJECT, "Parameters": {"Bucket": "out"}});
        let mut results: Vec<_> = (0..5).map(|n| child(n, "SUCCEEDED")).collect();
        results.push(ChildResult {
            execution_arn: String::new(),
            name: String::new(),
            error: None,
            cause: None,
            stop_ms: None,
            ..child(9, "PENDING")
        });
        let one = serde_json::to_vec(&entry(&results[0])).unwrap().len();
        let out = write_results_split(&b, &writer, RUN, &results, 2 * one + 3).unwrap();
        assert_eq!(out["ResultWriterDetails"]["Key"], json!(format!("{ID}/manifest.json")));
        let manifest = read(&t, &format!("out/{ID}/manifest.json"));
        let files = manifest["ResultFiles"]["SUCCEEDED"].as_array().unwrap();
        assert_eq!(files.len(), 3, "{manifest}");
        let mut names = Vec::new();
        for (i, f) in files.iter().enumerate() {
            assert_eq!(f["Key"], json!(format!("{ID}/SUCCEEDED_{i}.json")));
            let entries = read(&t, &format!("out/{}", f["Key"].as_str().unwrap()));
            names.extend(entries.as_array().unwrap().iter().map(|e| e["Name"].as_str().unwrap().to_string()));
        }
        assert_eq!(names, ["child-0", "child-1", "child-2", "child-3", "child-4"]);
        let pending = read(&t, &format!("out/{ID}/PENDING_0.json"));
        assert_eq!(
            pending,
            json!([{"Input": "{\"n\":9}", "InputDetails": {"Included": true}, "StateMachineArn": results[5].state_machine_arn, "Status": "PENDING"}])
        );
    }

    #[test]
    fn bad_writers_and_escapes_are_result_writer_failures() {
        let t = TestDir::new("results");
        let b = t.buckets(&["out"]);
        let fail = |writer: Value| write_results(&b, &writer, RUN, &[child(0, "SUCCEEDED")]).unwrap_err();
        let err = fail(json!({"Resource": PUT_OBJECT, "Parameters": {"Bucket": "nope", "Prefix": "p"}}));
        assert_eq!(err.error(), "States.ResultWriterFailed");
        assert!(err.cause().contains("\"nope\""), "{}", err.cause());
        let err = fail(json!({"Resource": PUT_OBJECT, "Parameters": {"Bucket": "out", "Prefix": "../up"}}));
        assert!(err.cause().contains("s3://out/../up/") && err.cause().contains("'..'"), "{}", err.cause());
        std::fs::create_dir(t.0.join("elsewhere")).unwrap();
        symlink(t.0.join("elsewhere"), t.0.join("out/link")).unwrap();
        let err = fail(json!({"Resource": PUT_OBJECT, "Parameters": {"Bucket": "out", "Prefix": "link"}}));
        assert!(err.cause().contains("outside the bucket"), "{}", err.cause());
        assert_eq!(std::fs::read_dir(t.0.join("elsewhere")).unwrap().count(), 0);
        let err = fail(json!({"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "out"}}));
        assert!(err.cause().contains("not supported"), "{}", err.cause());
    }
}
