//! Mocked Task results in the format AWS Step Functions Local reads
//! (`MockConfigFile.json`): `StateMachines` → state machine name →
//! `TestCases` → test case name → Task state name → mocked response name;
//! `MockedResponses` → name → invocation keys (`"0"`, `"1-2"`, …) →
//! `{"Return": result}` or `{"Throw": {"Error", "Cause"}}`.
//!
//! As SFN Local reads it: the keys cover every invocation from `"0"` on,
//! without gaps or overlaps; a state's invocation count is how many times
//! the execution ran its task before (retries, loops and Map iterations
//! included: [`TaskInvocation::invocation`], counted from the history); an
//! invocation past the last key fails the execution (`States.Runtime`, which
//! no Catch takes: SFN Local fails the execution). `Return` is the task's
//! result (what `ResultSelector` and `ResultPath` then see); `Throw` is its
//! error, matched by `Retry` and `Catch`. A bad file is refused whole, each
//! problem located by its path in the file.
//!
//! [`TaskInvocation::invocation`]: crate::engine::TaskInvocation::invocation

use crate::asl::errors;
use crate::engine::{check_error_and_cause, TaskOutcome, MAX_PAYLOAD_BYTES};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// The largest mock config read (a file of test data, not of payloads).
pub const MAX_MOCK_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A mock config file, checked whole.
#[derive(Debug)]
pub struct MockConfig {
    /// The file it was read from, for messages.
    origin: String,
    /// State machine name → test case name → test case.
    machines: BTreeMap<String, BTreeMap<String, Arc<TestCase>>>,
}

/// One test case of one state machine: which Task states answer from which
/// mocked response.
#[derive(Debug)]
pub struct TestCase {
    pub machine: String,
    pub name: String,
    /// State name → (mocked response name, the response).
    states: BTreeMap<String, (String, Arc<MockedResponse>)>,
}

/// A mocked response: an answer for each invocation, from 0 on.
#[derive(Debug, PartialEq)]
pub struct MockedResponse {
    /// (first, last, answer), in order, each `first` one after the last `last`.
    ranges: Vec<(u32, u32, MockAnswer)>,
}

/// What a mocked invocation answers.
#[derive(Debug, Clone, PartialEq)]
pub enum MockAnswer {
    /// The task's result.
    Return(Value),
    /// The task's error.
    Throw { error: String, cause: String },
}

/// Why a mock config cannot be used: the file, where in it, and why.
#[derive(Debug, thiserror::Error)]
#[error("mock config {origin}: {location}: {message}")]
pub struct MockConfigError {
    pub origin: String,
    /// A path into the file (`MockedResponses.Name."1-2".Throw`), or
    /// `(file)` for the file as a whole.
    pub location: String,
    pub message: String,
}

impl MockConfig {
    /// Reads and checks the mock config at `path`.
    pub fn load(path: &Path) -> Result<MockConfig, MockConfigError> {
        let origin = path.display().to_string();
        let whole = |message: String| MockConfigError { origin: origin.clone(), location: "(file)".into(), message };
        let size = std::fs::metadata(path).map_err(|e| whole(format!("cannot read it: {e}")))?.len();
        if size > MAX_MOCK_CONFIG_BYTES {
            return Err(whole(format!("{size} bytes, over the limit of {MAX_MOCK_CONFIG_BYTES}")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| whole(format!("cannot read it: {e}")))?;
        MockConfig::parse(&text, &origin)
    }

    /// Checks the mock config `text`; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<MockConfig, MockConfigError> {
        let fail = |location: &str, message: String| MockConfigError { origin: origin.into(), location: location.into(), message };
        let root: Value =
            serde_json::from_str(text).map_err(|e| fail("(file)", format!("not JSON: {e} (line {}, column {})", e.line(), e.column())))?;
        let root = object(&root, "(file)").map_err(|m| fail("(file)", m))?;
        only_keys(root, &["StateMachines", "MockedResponses"]).map_err(|m| fail("(file)", m))?;
        let mut responses = BTreeMap::new();
        if let Some(all) = root.get("MockedResponses") {
            for (name, response) in object(all, "MockedResponses").map_err(|m| fail("MockedResponses", m))? {
                let at = format!("MockedResponses.{}", key(name));
                let parsed = mocked_response(response, &at).map_err(|(location, message)| fail(&location, message))?;
                responses.insert(name.clone(), Arc::new(parsed));
            }
        }
        let mut machines = BTreeMap::new();
        let Some(all) = root.get("StateMachines") else { return Err(fail("(file)", "it has no StateMachines".into())) };
        for (machine, config) in object(all, "StateMachines").map_err(|m| fail("StateMachines", m))? {
            let at = format!("StateMachines.{}", key(machine));
            let config = object(config, &at).map_err(|m| fail(&at, m))?;
            only_keys(config, &["TestCases"]).map_err(|m| fail(&at, m))?;
            let at = format!("{at}.TestCases");
            let cases = config.get("TestCases").ok_or_else(|| fail(&at, "missing: a state machine's mocks are its TestCases".into()))?;
            let mut test_cases = BTreeMap::new();
            for (case, states) in object(cases, &at).map_err(|m| fail(&at, m))? {
                let at = format!("{at}.{}", key(case));
                let mut mocked = BTreeMap::new();
                for (state, response) in object(states, &at).map_err(|m| fail(&at, m))? {
                    let at = format!("{at}.{}", key(state));
                    let Some(response_name) = response.as_str() else {
                        return Err(fail(&at, format!("the name of a mocked response is a string, not {}", kind(response))));
                    };
                    let Some(found) = responses.get(response_name) else {
                        return Err(fail(
                            &at,
                            format!("names the mocked response {response_name:?}, which MockedResponses does not define"),
                        ));
                    };
                    mocked.insert(state.clone(), (response_name.to_string(), Arc::clone(found)));
                }
                let test_case = TestCase { machine: machine.clone(), name: case.clone(), states: mocked };
                test_cases.insert(case.clone(), Arc::new(test_case));
            }
            machines.insert(machine.clone(), test_cases);
        }
        Ok(MockConfig { origin: origin.to_string(), machines })
    }

    /// The test case `name` of the state machine named `machine`, or why
    /// there is none (for StartExecution's error and `run --test-case`).
    pub fn test_case(&self, machine: &str, name: &str) -> Result<Arc<TestCase>, String> {
        let Some(cases) = self.machines.get(machine) else {
            let known: Vec<&str> = self.machines.keys().map(String::as_str).collect();
            return Err(format!("the mock config {} has no state machine named {machine:?} (it has: {})", self.origin, listed(&known)));
        };
        cases.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = cases.keys().map(String::as_str).collect();
            format!("state machine {machine:?} has no test case {name:?} in the mock config {} (it has: {})", self.origin, listed(&known))
        })
    }
}

impl TestCase {
    /// The mocked outcome of invocation `invocation` (0 the first) of
    /// `state`'s task, or `None` when this test case does not mock `state`.
    pub fn answer(&self, state: &str, invocation: u32) -> Option<TaskOutcome> {
        let (response_name, response) = self.states.get(state)?;
        let found = response.ranges.iter().find(|(first, last, _)| (*first..=*last).contains(&invocation));
        Some(match found {
            Some((_, _, MockAnswer::Return(result))) => TaskOutcome::Answered(result.clone()),
            Some((_, _, MockAnswer::Throw { error, cause })) => TaskOutcome::Failed { error: error.clone(), cause: cause.clone() },
            None => TaskOutcome::Failed {
                error: errors::RUNTIME.into(),
                cause: format!(
                    "mock test case {:?} of state machine {:?}: state {state:?} is run for the {} time, but its mocked response {response_name:?} \
                     answers invocations {} only",
                    self.name,
                    self.machine,
                    ordinal(invocation.saturating_add(1)),
                    response.covered()
                ),
            },
        })
    }

    /// A test case mocking only `state`, with `answer` for every invocation
    /// (TestState's `mock`).
    pub fn one_state(state: &str, answer: MockAnswer) -> TestCase {
        let response = MockedResponse { ranges: vec![(0, u32::MAX, answer)] };
        let states = BTreeMap::from([(state.to_string(), ("mock".to_string(), Arc::new(response)))]);
        TestCase { machine: "TestState".into(), name: "mock".into(), states }
    }

    /// Whether this test case mocks `state`.
    pub fn mocks(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }
}

impl MockedResponse {
    /// The invocations answered, as the keys say them (`0-3`).
    fn covered(&self) -> String {
        let last = self.ranges.last().map_or(0, |(_, last, _)| *last);
        if last == 0 {
            "0".into()
        } else {
            format!("0-{last}")
        }
    }
}

/// `MockedResponses.<name>`: its invocation keys, checked to cover 0 to
/// the last without gaps or overlaps. Err is (location, message).
fn mocked_response(value: &Value, at: &str) -> Result<MockedResponse, (String, String)> {
    let keys = object(value, at).map_err(|m| (at.to_string(), m))?;
    if keys.is_empty() {
        return Err((at.to_string(), "has no invocations: give at least \"0\"".into()));
    }
    let mut ranges = Vec::with_capacity(keys.len());
    for (range, answer) in keys {
        let here = format!("{at}.{}", key(range));
        let (first, last) = invocation_range(range).map_err(|m| (here.clone(), m))?;
        ranges.push((first, last, mock_answer(answer, &here)?));
    }
    ranges.sort_by_key(|(first, _, _)| *first);
    let mut next = 0u32;
    for (first, last, _) in &ranges {
        let shown = if first == last { format!("{first:?}") } else { format!("\"{first}-{last}\"") };
        if *first > next {
            let missing = if *first - 1 == next { format!("{next}") } else { format!("{next}-{}", first - 1) };
            return Err((at.to_string(), format!("no response for invocation {missing}: every invocation from \"0\" on needs one")));
        }
        if *first < next {
            return Err((at.to_string(), format!("the key {shown} overlaps another: each invocation has one response")));
        }
        next = last.saturating_add(1);
    }
    Ok(MockedResponse { ranges })
}

/// An invocation key: `"3"` or the inclusive range `"1-2"`.
fn invocation_range(range: &str) -> Result<(u32, u32), String> {
    let number = |text: &str| -> Option<u32> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    let bad = || format!("an invocation key is a number (\"0\") or an inclusive range (\"1-2\"), not {range:?}");
    match range.split_once('-') {
        None => number(range).map(|n| (n, n)).ok_or_else(bad),
        Some((first, last)) => {
            let (first, last) = (number(first).ok_or_else(bad)?, number(last).ok_or_else(bad)?);
            if first > last {
                return Err(format!("the range {range:?} ends before it starts"));
            }
            Ok((first, last))
        }
    }
}

/// `{"Return": …}` or `{"Throw": {"Error", "Cause"}}`. Err is (location, message).
fn mock_answer(value: &Value, at: &str) -> Result<MockAnswer, (String, String)> {
    let fields = object(value, at).map_err(|m| (at.to_string(), m))?;
    only_keys(fields, &["Return", "Throw"]).map_err(|m| (at.to_string(), m))?;
    match (fields.get("Return"), fields.get("Throw")) {
        (Some(result), None) => {
            let size = crate::asl::size::json_size(result);
            if size > MAX_PAYLOAD_BYTES {
                return Err((format!("{at}.Return"), format!("{size} bytes, over the limit of {MAX_PAYLOAD_BYTES} for a task's result")));
            }
            Ok(MockAnswer::Return(result.clone()))
        }
        (None, Some(thrown)) => {
            let at = format!("{at}.Throw");
            let thrown = object(thrown, &at).map_err(|m| (at.clone(), m))?;
            only_keys(thrown, &["Error", "Cause"]).map_err(|m| (at.clone(), m))?;
            let text = |field: &str| match thrown.get(field) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err((format!("{at}.{field}"), format!("a string, not {}", kind(other)))),
            };
            let error = text("Error")?.ok_or_else(|| (at.clone(), "missing Error: the error name Retry and Catch match".to_string()))?;
            let cause = text("Cause")?.unwrap_or_default();
            check_error_and_cause(&error, &cause).map_err(|e| (at.clone(), e.to_string()))?;
            Ok(MockAnswer::Throw { error, cause })
        }
        (Some(_), Some(_)) => Err((at.to_string(), "has both Return and Throw: a response is one of them".into())),
        (None, None) => Err((at.to_string(), "has neither Return nor Throw".into())),
    }
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("{at} is an object, not {}", kind(value)))
}

/// Refuses a member outside `allowed` (a misspelt `TestCase` would
/// otherwise mock nothing, silently).
fn only_keys(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(format!("unknown member {unknown:?} (expected {})", allowed.join(" or "))),
    }
}

/// A key as a location shows it: bare when plain, quoted otherwise.
fn key(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Up to 20 names, then how many more.
fn listed(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    let mut out = String::new();
    for (i, name) in names.iter().take(20).enumerate() {
        let _ = write!(out, "{}{name:?}", if i > 0 { ", " } else { "" });
    }
    if names.len() > 20 {
        let _ = write!(out, " and {} more", names.len() - 20);
    }
    out
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AWS_EXAMPLE: &str = r#"{
      "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
        "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
        "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"}}}},
      "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "Hello"}}}},
        "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m-1"}}},
        "MockedLambdaRetry": {
          "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
          "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "timed out"}},
          "3": {"Return": {"StatusCode": 200}}}}
    }"#;

    fn error(text: &str) -> String {
        MockConfig::parse(text, "m.json").unwrap_err().to_string()
    }

    #[test]
    fn invocations_pick_their_ranges_and_past_the_last_fails_the_execution() {
        let config = MockConfig::parse(AWS_EXAMPLE, "m.json").unwrap();
        let retry = config.test_case("LambdaSQSIntegration", "RetryPath").unwrap();
        let failed = |error: &str, cause: &str| TaskOutcome::Failed { error: error.into(), cause: cause.into() };
        assert_eq!(retry.answer("LambdaState", 0), Some(failed("Lambda.ResourceNotReadyException", "not ready")));
        assert_eq!(retry.answer("LambdaState", 1), Some(failed("Lambda.TimeoutException", "timed out")));
        assert_eq!(retry.answer("LambdaState", 2), Some(failed("Lambda.TimeoutException", "timed out")));
        assert_eq!(retry.answer("LambdaState", 3), Some(TaskOutcome::Answered(json!({"StatusCode": 200}))));
        let Some(TaskOutcome::Failed { error, cause }) = retry.answer("LambdaState", 4) else { panic!("past the last key") };
        assert_eq!(error, "States.Runtime");
        assert!(cause.contains("state \"LambdaState\" is run for the 5th time") && cause.contains("invocations 0-3 only"), "{cause}");
        assert_eq!(retry.answer("Unmocked", 0), None);
    }

    #[test]
    fn an_unknown_test_case_or_machine_is_named_with_what_there_is() {
        let config = MockConfig::parse(AWS_EXAMPLE, "m.json").unwrap();
        let e = config.test_case("LambdaSQSIntegration", "SadPath").unwrap_err();
        assert!(e.contains("has no test case \"SadPath\"") && e.contains("\"HappyPath\", \"RetryPath\""), "{e}");
        let e = config.test_case("Other", "HappyPath").unwrap_err();
        assert!(e.contains("no state machine named \"Other\"") && e.contains("\"LambdaSQSIntegration\""), "{e}");
    }

    #[test]
    fn a_bad_file_is_refused_where_it_is_wrong() {
        let cases = [
            ("{", "(file): not JSON"),
            ("[]", "(file): (file) is an object, not an array"),
            (r#"{"StateMachines": {}, "Mocks": {}}"#, "unknown member \"Mocks\""),
            (r#"{"MockedResponses": {}}"#, "it has no StateMachines"),
            (r#"{"StateMachines": {"M": {"TestCase": {}}}}"#, "StateMachines.M: unknown member \"TestCase\""),
            (
                r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}}}"#,
                "StateMachines.M.TestCases.T.S: names the mocked response \"R\"",
            ),
            (
                r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": 1}}}}}"#,
                "StateMachines.M.TestCases.T.S: the name of a mocked response is a string",
            ),
            (r#"{"StateMachines": {}, "MockedResponses": {"R": {"1": {"Return": 1}}}}"#, "MockedResponses.R: no response for invocation 0"),
            (
                r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1}, "3-4": {"Return": 1}}}}"#,
                "no response for invocation 1-2",
            ),
            (r#"{"StateMachines": {}, "MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 1}}}}"#, "overlaps another"),
            (
                r#"{"StateMachines": {}, "MockedResponses": {"R": {"2-1": {"Return": 1}}}}"#,
                "MockedResponses.R.\"2-1\": the range \"2-1\" ends before it starts",
            ),
            (r#"{"StateMachines": {}, "MockedResponses": {"R": {"first": {"Return": 1}}}}"#, "an invocation key is a number"),
            (r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}"#, "both Return and Throw"),
            (r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {}}}}"#, "neither Return nor Throw"),
            (
                r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}}"#,
                "MockedResponses.R.0.Throw: missing Error",
            ),
            (
                r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": 5}}}}}"#,
                "MockedResponses.R.0.Throw.Error: a string, not a number",
            ),
            (r#"{"StateMachines": {}, "MockedResponses": {"R": {}}}"#, "has no invocations"),
        ];
        for (text, expected) in cases {
            let e = error(text);
            assert!(e.starts_with("mock config m.json: ") && e.contains(expected), "{text}: {e}");
        }
        let big = format!(r#"{{"StateMachines": {{}}, "MockedResponses": {{"R": {{"0": {{"Return": "{}"}}}}}}}}"#, "x".repeat(300_000));
        assert!(error(&big).contains("MockedResponses.R.0.Return: 300002 bytes, over the limit of 262144"), "{}", error(&big));
        let long_error =
            format!(r#"{{"StateMachines": {{}}, "MockedResponses": {{"R": {{"0": {{"Throw": {{"Error": "{}"}}}}}}}}}}"#, "E".repeat(300));
        assert!(error(&long_error).contains("MockedResponses.R.0.Throw: "), "{}", error(&long_error));
    }
}
