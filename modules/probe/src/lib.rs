//! A test module that exercises the host's capabilities step by step, so the
//! capability tests (tests/it/capabilities.rs) can script exactly what a module
//! does: kv reads and writes, http calls, logging, failing, spinning.
//!
//! Input: `{"steps": [step, ...]}`, run in order. Each step is one of
//! `{"get": key}`, `{"set": [key, value]}`, `{"delete": key}`,
//! `{"incr": key}` (reads a number, writes it plus one),
//! `{"fetch": {"url", "method"?, "body"?}}`, `{"log": count}`,
//! `{"fail": error}`, `{"fail_before_attempt": n}` (fails with `NotYet` while
//! the attempt number is below n), `{"fail_unless_set": key}` (fails with
//! `NotSet` while kv has no such key: a failure something else can mend), `{"spin": true}` (loops until stopped),
//! `{"clock": true}` (the wall clock's sub-second nanoseconds).
//! The output lists each step's result; a capability error is a result too
//! (`{"error": message}`), so the test sees exactly what the host answered.

use serde_json::{json, Value};
use stepwasm_guest::{http, kv, log, Context, TaskError};

#[derive(serde::Deserialize)]
pub struct Script {
    steps: Vec<Value>,
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn step(s: &Value, ctx: &Context) -> Result<Value, TaskError> {
    let err = |e: String| json!({ "error": e });
    if let Some(key) = s.get("get") {
        return Ok(match kv::get(&text(key)) {
            Ok(v) => json!({ "value": v }),
            Err(e) => err(e.to_string()),
        });
    }
    if let Some(pair) = s.get("set") {
        let (k, v) = (text(&pair[0]), text(&pair[1]));
        return Ok(kv::set(&k, &v).map(|_| json!("ok")).unwrap_or_else(|e| err(e.to_string())));
    }
    if let Some(key) = s.get("delete") {
        return Ok(kv::delete(&text(key)).map(|_| json!("ok")).unwrap_or_else(|e| err(e.to_string())));
    }
    if let Some(key) = s.get("incr") {
        let key = text(key);
        let n: i64 = match kv::get(&key) {
            Ok(v) => v.and_then(|v| v.parse().ok()).unwrap_or(0),
            Err(e) => return Ok(err(e.to_string())),
        };
        return Ok(kv::set(&key, &(n + 1).to_string()).map(|_| json!(n + 1)).unwrap_or_else(|e| err(e.to_string())));
    }
    if let Some(f) = s.get("fetch") {
        let mut req = http::Request::get(&text(&f["url"]));
        if let Some(m) = f.get("method") {
            req.method = text(m);
        }
        if let Some(b) = f.get("body") {
            req.body = text(b).into_bytes();
        }
        return Ok(match http::fetch(&req) {
            Ok(r) => json!({ "status": r.status, "body": String::from_utf8_lossy(&r.body) }),
            Err(e) => err(e.to_string()),
        });
    }
    if let Some(n) = s.get("log").and_then(Value::as_u64) {
        for i in 0..n {
            log::info(&format!("line {i}"));
        }
        return Ok(json!(n));
    }
    if let Some(e) = s.get("fail") {
        return Err(TaskError::new(text(e), "the script said to fail"));
    }
    if let Some(key) = s.get("fail_unless_set") {
        let key = text(key);
        return match kv::get(&key) {
            Ok(Some(value)) => Ok(json!(value)),
            Ok(None) => Err(TaskError::new("NotSet", format!("kv has no key {key:?}"))),
            Err(e) => Ok(err(e.to_string())),
        };
    }
    if let Some(n) = s.get("fail_before_attempt").and_then(Value::as_u64) {
        if u64::from(ctx.attempt) < n {
            return Err(TaskError::new("NotYet", format!("attempt {} < {n}", ctx.attempt)));
        }
        return Ok(json!(ctx.attempt));
    }
    if s.get("clock").is_some() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return Ok(json!({ "subsec_nanos": now.subsec_nanos(), "unix_seconds": now.as_secs() }));
    }
    if s.get("spin").is_some() {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
    Err(TaskError::new("BadStep", format!("unknown step {s}")))
}

/// Runs the script.
pub fn run(script: Script, ctx: &Context) -> Result<Value, TaskError> {
    let mut results = Vec::new();
    for s in &script.steps {
        results.push(step(s, ctx)?);
    }
    Ok(json!({ "results": results }))
}

stepwasm_guest::handler!(run);
