//! Property: whatever definition and input it is given, stepwasm never panics.
//! Bad definitions are located errors; valid ones run to an outcome (the
//! 25,000-event cap ends endless loops). The generator is a fixed-seed
//! xorshift, so a failure reproduces; the failing case is printed.

use crate::support::block_on;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use stepwasm::asl::parse_definition;
use stepwasm::driver::{execution_info, run_execution, TaskOutcome, TaskRunner, VirtualClock};
use stepwasm::engine::TaskInvocation;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const PATH_PARTS: &[&str] = &[
    ".a",
    ".b",
    "[0]",
    "[-1]",
    "[*]",
    ".*",
    "..a",
    "['x y']",
    "[1:3]",
    "[::2]",
    "[0,1]",
    "[1:2:9223372036854775807]",
    ".",
    "[",
    "]",
    "[?(@.a)]",
    "[?(@.a > 1 && !(@.b == 'x'))]",
    "[?(@.a <= $.b)]",
    "[?((((@",
    "[?(@.a ==)]",
    "@",
    ",",
    "['",
    "[-9223372036854775808]",
    "[99999999999999999999]",
    ".Execution.Id",
];
const INTRINSICS: &[&str] = &[
    "States.Format('{} and {}', $.a, $.b)",
    "States.Array($.a, 1, 'x')",
    "States.ArrayGetItem($.a, 5)",
    "States.ArrayRange(1, $.a, 0)",
    "States.StringToJson($.a)",
    "States.MathAdd($.a, 2147483647)",
    "States.Hash($.a, 'SHA-256')",
    "States.Base64Decode($.a)",
    "States.JsonMerge($.a, $.b, false)",
    "States.ArrayPartition($.a, 0)",
    "States.Format('{}'",
    "States.Nope(1)",
    "States.UUID()",
];
const FIELDS: &[&str] = &[
    "Type",
    "Next",
    "End",
    "Comment",
    "Resource",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "Choices",
    "Default",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Error",
    "Cause",
    "ErrorPath",
    "CausePath",
    "Bogus",
];
const TYPES: &[&str] = &["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Bogus"];
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringMatches",
    "NumericLessThan",
    "NumericEqualsPath",
    "BooleanEquals",
    "TimestampGreaterThan",
    "IsPresent",
    "IsNull",
    "IsTimestamp",
    "StringLessThanEqualsPath",
    "NotAnOperator",
];
const ERRORS: &[&str] = &["States.ALL", "States.TaskFailed", "States.Timeout", "States.Runtime", "E1", "E2"];

fn path(rng: &mut Rng) -> String {
    let mut p = if rng.chance(10) {
        "$$".to_string()
    } else if rng.chance(3) {
        String::new()
    } else {
        "$".to_string()
    };
    for _ in 0..rng.below(4) {
        let part = *rng.pick(PATH_PARTS);
        p.push_str(part);
    }
    p
}

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(rng.below(5)),
        3 => json!(-(rng.below(1000) as i64)),
        4 => json!(u64::MAX - rng.below(3) as u64),
        5 => json!(1.5e300),
        6 => json!(if rng.chance(30) { rng.pick(INTRINSICS).to_string() } else { path(rng) }),
        7 => json!(["2026-01-01T00:00:00Z", "2026-13-99T00:00:00Z", "not a time"][rng.below(3)]),
        _ => json!(format!("s{}", rng.below(3))),
    }
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 || rng.chance(50) {
        return scalar(rng);
    }
    if rng.chance(50) {
        Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect())
    } else {
        let mut m = Map::new();
        for _ in 0..rng.below(4) {
            let key =
                if rng.chance(40) { format!("{}.$", ["a", "b", "c"][rng.below(3)]) } else { ["a", "b", "c"][rng.below(3)].to_string() };
            m.insert(key, value(rng, depth - 1));
        }
        Value::Object(m)
    }
}

fn state_name(rng: &mut Rng, n: usize) -> Value {
    prefixed_state_name(rng, "", n)
}

/// A name of the graph whose states are `{prefix}S0..S{n-1}`, sometimes a dangling one.
fn prefixed_state_name(rng: &mut Rng, prefix: &str, n: usize) -> Value {
    if rng.chance(5) {
        json!("Nowhere")
    } else {
        json!(format!("{prefix}S{}", rng.below(n)))
    }
}

fn rule(rng: &mut Rng, n: usize, depth: usize, top: bool) -> Value {
    prefixed_rule(rng, "", n, depth, top)
}

fn prefixed_rule(rng: &mut Rng, prefix: &str, n: usize, depth: usize, top: bool) -> Value {
    let mut r = Map::new();
    match rng.below(if depth == 0 { 1 } else { 4 }) {
        0 => {
            r.insert("Variable".into(), json!(path(rng)));
            r.insert(rng.pick(OPERATORS).to_string(), scalar(rng));
        }
        1 => drop(r.insert("Not".into(), prefixed_rule(rng, prefix, n, depth - 1, false))),
        k => {
            let parts: Vec<Value> = (0..rng.below(3)).map(|_| prefixed_rule(rng, prefix, n, depth - 1, false)).collect();
            r.insert(if k == 2 { "And" } else { "Or" }.into(), json!(parts));
        }
    }
    if top || rng.chance(5) {
        r.insert("Next".into(), prefixed_state_name(rng, prefix, n));
    }
    Value::Object(r)
}

fn field_value(rng: &mut Rng, field: &str, n: usize) -> Value {
    match field {
        "Type" => json!(rng.pick(TYPES)),
        "Next" | "Default" => state_name(rng, n),
        "End" => json!(rng.chance(90)),
        "Resource" => json!("r"),
        "InputPath" | "OutputPath" | "ResultPath" | "TimeoutSecondsPath" | "SecondsPath" | "TimestampPath" | "ErrorPath" | "CausePath" => {
            if rng.chance(10) {
                Value::Null
            } else {
                json!(path(rng))
            }
        }
        "Parameters" | "ResultSelector" | "Result" => value(rng, 3),
        "Choices" => json!((0..rng.below(3)).map(|_| rule(rng, n, 3, true)).collect::<Vec<_>>()),
        "Retry" | "Catch" => {
            let entries: Vec<Value> = (0..rng.below(3))
                .map(|_| {
                    let errors: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(ERRORS)).collect();
                    let mut e = json!({"ErrorEquals": errors});
                    if field == "Catch" {
                        e["Next"] = state_name(rng, n);
                        if rng.chance(30) {
                            e["ResultPath"] = json!(path(rng));
                        }
                    } else {
                        for k in ["IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy"] {
                            if rng.chance(30) {
                                e[k] = if k == "JitterStrategy" { json!(["FULL", "NONE", "X"][rng.below(3)]) } else { scalar(rng) };
                            }
                        }
                    }
                    e
                })
                .collect();
            json!(entries)
        }
        _ => scalar(rng),
    }
}

const VALID_PATHS: &[&str] = &["$", "$.a", "$.b", "$.a[0]", "$.a.b", "$..a", "$.a[*]", "$$.Execution.Id", "$$.State.RetryCount"];

/// A well-formed Retry or Catch list whose catchers name states of the graph
/// `{prefix}S0..S{n-1}`.
fn plausible_recovery(rng: &mut Rng, field: &str, prefix: &str, n: usize) -> Value {
    let names: &[&str] = &["E1", "E2", "States.TaskFailed", "States.Timeout", "States.BranchFailed"];
    let mut entries: Vec<Value> = (0..rng.below(3)).map(|_| json!({"ErrorEquals": [*rng.pick(names)]})).collect();
    if rng.chance(50) {
        entries.push(json!({"ErrorEquals": ["States.ALL"]}));
    }
    for e in &mut entries {
        if field == "Catch" {
            e["Next"] = json!(format!("{prefix}S{}", rng.below(n)));
            if rng.chance(30) {
                e["ResultPath"] = json!("$.error");
            }
        } else {
            e["MaxAttempts"] = json!(rng.below(3));
            e["IntervalSeconds"] = json!(1 + rng.below(3));
        }
    }
    json!(entries)
}

/// A graph of `n` mostly valid states named `{prefix}S0..`, Parallel and Map
/// states (with graphs of their own) included while `depth` lasts.
fn plausible_graph(rng: &mut Rng, prefix: &str, depth: usize) -> Value {
    let n = 1 + rng.below(if depth == 0 { 3 } else { 5 });
    let mut states = Map::new();
    for i in 0..n {
        states.insert(format!("{prefix}S{i}"), plausible_state(rng, prefix, i, n, depth));
    }
    json!({"StartAt": format!("{prefix}S0"), "States": states})
}

/// A state of a supported type with mostly valid fields, chained to the next.
fn plausible_state(rng: &mut Rng, prefix: &str, i: usize, n: usize, depth: usize) -> Value {
    let kinds: &[&str] = if depth == 0 {
        &["Task", "Task", "Pass", "Choice", "Wait", "Succeed", "Fail"]
    } else {
        &["Task", "Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"]
    };
    let mut kind = *rng.pick(kinds);
    // A terminal state before the end would strand the states after it.
    if i + 1 < n && matches!(kind, "Succeed" | "Fail") && rng.chance(90) {
        kind = "Pass";
    }
    let next = if i + 1 < n { json!({"Next": format!("{prefix}S{}", i + 1)}) } else { json!({"End": true}) };
    let mut state = json!({"Type": kind});
    let valid_path = |rng: &mut Rng| json!(if rng.chance(90) { *rng.pick(VALID_PATHS) } else { "$.c" });
    match kind {
        "Task" | "Pass" | "Parallel" | "Map" => {
            state.as_object_mut().unwrap().extend(next.as_object().unwrap().clone());
            if kind != "Pass" {
                if kind == "Task" {
                    state["Resource"] = json!("r");
                }
                for f in ["Retry", "Catch"] {
                    if rng.chance(50) {
                        state[f] = if depth < 2 || rng.chance(70) { plausible_recovery(rng, f, prefix, n) } else { field_value(rng, f, n) };
                    }
                }
            }
            let own = format!("{prefix}S{i}");
            if kind == "Parallel" {
                let branches: Vec<Value> = (0..1 + rng.below(3)).map(|b| plausible_graph(rng, &format!("{own}b{b}_"), depth - 1)).collect();
                state["Branches"] = json!(branches);
            }
            if kind == "Map" {
                state["ItemProcessor"] = plausible_graph(rng, &format!("{own}m_"), depth - 1);
                if rng.chance(70) {
                    state["ItemsPath"] = json!(*rng.pick(&["$.a", "$.b", "$", "$.a[0]"]));
                }
                if rng.chance(30) {
                    state["ItemSelector"] = json!({"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "x.$": valid_path(rng)});
                }
                if rng.chance(30) {
                    state["ItemProcessor"]["ProcessorConfig"] = json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"});
                    match rng.below(4) {
                        0 => state["ToleratedFailureCount"] = json!(rng.below(3)),
                        1 => state["ToleratedFailurePercentage"] = json!(rng.below(101)),
                        2 => state["ItemBatcher"] = json!({"MaxItemsPerBatch": 1 + rng.below(3)}),
                        _ => state["ToleratedFailureCountPath"] = valid_path(rng),
                    }
                }
                if rng.chance(20) {
                    state["MaxConcurrency"] = json!(rng.below(3));
                }
            }
            for f in ["InputPath", "OutputPath"] {
                if rng.chance(25) {
                    state[f] = valid_path(rng);
                }
            }
            if rng.chance(30) {
                state["ResultPath"] = json!(*rng.pick(&["$.r", "$.a.b", "$", "$.b[0]"]));
            }
            if rng.chance(30) && kind != "Map" {
                state["Parameters"] = json!({"x.$": valid_path(rng), "k": 1});
            }
        }
        "Choice" => {
            state["Choices"] = json!((0..1 + rng.below(2)).map(|_| prefixed_rule(rng, prefix, n, 2, true)).collect::<Vec<_>>());
            if rng.chance(70) {
                // Usually the next state, so the chain stays reachable.
                state["Default"] = json!(format!("{prefix}S{}", if rng.chance(70) { (i + 1).min(n - 1) } else { n - 1 }));
            }
        }
        "Wait" => {
            state.as_object_mut().unwrap().extend(next.as_object().unwrap().clone());
            let (f, v) = match rng.below(3) {
                0 => ("Seconds", json!(rng.below(100))),
                1 => ("SecondsPath", valid_path(rng)),
                _ => ("TimestampPath", valid_path(rng)),
            };
            state[f] = v;
        }
        "Fail" if rng.chance(50) => state["ErrorPath"] = valid_path(rng),
        _ => {}
    }
    state
}

/// JSONata expressions, well-formed or not, some hostile (deep, huge, slow).
const EXPRESSIONS: &[&str] = &[
    "{% $states.input %}",
    "{% $states.input.a %}",
    "{% $states.result %}",
    "{% $states.context.Execution.Name %}",
    "{% $sum($states.input.a) %}",
    "{% $count($states.input.a) > 1 %}",
    "{% $x %}",
    "{% $x + 1 %}",
    "{% true %}",
    "{% $states.input.a[0] %}",
    "{% [1..5] %}",
    "{% $map([1,2,3], function($v){$v*2}) %}",
    "{% $string($states) %}",
    "{% $error('boom') %}",
    "{% $states.errorOutput.Error %}",
    "{% $partition([1,2,3,4], 2) %}",
    "{% $range(0, 10, 2) %}",
    "{% $hash('a', 'SHA-256') %}",
    "{% $parse('{\"k\": 1}') %}",
    "{% 1/0 %}",
    "{% ( %}",
    "{% $states.input. %}",
    "{% [1..100000000] %}",
    "{% (function($f){$f($f)})(function($f){$f($f)}) %}",
    "{% $reduce([1..100000], function($a,$b){$a+$b}) %}",
    "{% $join($states.input.a, ',') %}",
    "{% $lookup($states.input, 'b') %}",
    "{% $keys($states.input) %}",
    "plain text",
    "{% $x ? 'yes' : 'no' %}",
    "{% $uuid() %}",
    "{% $now() %}",
];

/// Expressions that run into the evaluator's caps (steps, call depth) or
/// build big values: each ends in an error or a result within a second,
/// so they are picked rarely to keep the test fast.
const HOSTILE_EXPRESSIONS: &[&str] = &[
    "{% (function($f){$f($f)})(function($f){$f($f)}) %}",
    "{% $reduce([1..100000], function($a,$b){$a+$b}) %}",
    "{% $map([1..300000], function($v){$v*2}) %}",
];

/// A JSONata state machine: Pass, Choice, Task, Map, Parallel, Wait and
/// Fail states whose fields are expressions from [`EXPRESSIONS`].
fn jsonata_definition(rng: &mut Rng, prefix: &str, depth: usize) -> Value {
    let n = 1 + rng.below(4);
    let mut states = Map::new();
    let expr = |rng: &mut Rng| {
        let list = if rng.chance(1) { HOSTILE_EXPRESSIONS } else { EXPRESSIONS };
        json!(*rng.pick(list))
    };
    for i in 0..n {
        let next = if i + 1 < n { json!({"Next": format!("{prefix}S{}", i + 1)}) } else { json!({"End": true}) };
        let mut state = match rng.below(if depth == 0 { 5 } else { 7 }) {
            0 => json!({"Type": "Pass", "Output": {"v": expr(rng)}, "Assign": {"x": expr(rng)}}),
            1 => {
                let mut task = json!({"Type": "Task", "Resource": "r", "Arguments": {"a": expr(rng)}, "Output": expr(rng)});
                // A catcher leads forward only: a loop of failing expensive
                // expressions would run to the 25,000-event cap.
                if i + 1 < n {
                    task["Catch"] =
                        json!([{"ErrorEquals": ["States.ALL"], "Output": {"e": expr(rng)}, "Next": format!("{prefix}S{}", n - 1)}]);
                }
                task
            }
            2 => json!({"Type": "Wait", "Seconds": if rng.chance(50) { expr(rng) } else { json!(1) }}),
            3 => {
                let last = format!("{prefix}S{}", n - 1);
                json!({"Type": "Choice", "Choices": [{"Condition": expr(rng), "Next": last, "Assign": {"x": expr(rng)}}], "Default": last})
            }
            4 => json!({"Type": "Fail", "Error": expr(rng), "Cause": expr(rng)}),
            5 => json!({"Type": "Map", "Items": expr(rng), "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
                        "ItemProcessor": jsonata_definition(rng, &format!("{prefix}S{i}m_"), depth - 1)}),
            _ => {
                json!({"Type": "Parallel", "Branches": [jsonata_definition(rng, &format!("{prefix}S{i}b_"), depth - 1)], "Output": expr(rng)})
            }
        };
        if !matches!(state["Type"].as_str(), Some("Choice" | "Fail")) {
            state.as_object_mut().unwrap().extend(next.as_object().unwrap().clone());
        }
        states.insert(format!("{prefix}S{i}"), state);
    }
    let mut def = json!({"StartAt": format!("{prefix}S0"), "States": states});
    if depth == 2 {
        def["QueryLanguage"] = json!("JSONata");
    }
    def
}

fn definition(rng: &mut Rng) -> Value {
    if rng.chance(15) {
        return jsonata_definition(rng, "J", 2);
    }
    if rng.chance(50) {
        return plausible_graph(rng, "", 2);
    }
    let n = 1 + rng.below(5);
    let mut states = Map::new();
    for i in 0..n {
        let mut state = Map::new();
        state.insert("Type".into(), json!(rng.pick(TYPES)));
        for _ in 0..rng.below(6) {
            let f = *rng.pick(FIELDS);
            let v = field_value(rng, f, n);
            state.insert(f.into(), v);
        }
        states.insert(format!("S{i}"), Value::Object(state));
    }
    let mut def = json!({"StartAt": "S0", "States": states});
    if rng.chance(5) {
        def["StartAt"] = json!("Nowhere");
    }
    if rng.chance(5) {
        def["Bogus"] = json!(1);
    }
    def
}

/// Tasks succeed with random output, fail with random errors, or time out.
struct RandomTasks(std::sync::Mutex<Rng>);

impl TaskRunner for RandomTasks {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        std::future::ready(self.answer(task))
    }
}

impl RandomTasks {
    fn answer(&self, task: &TaskInvocation) -> TaskOutcome {
        let mut rng = self.0.lock().unwrap();
        match rng.below(4) {
            0 => TaskOutcome::Succeeded((*task.input).clone()),
            1 => TaskOutcome::Succeeded(value(&mut rng, 3)),
            2 => TaskOutcome::Failed { error: rng.pick(ERRORS).to_string(), cause: "c".into() },
            _ => TaskOutcome::TimedOut { cause: "t".into() },
        }
    }
}

#[test]
fn random_definitions_and_inputs_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut valid, mut invalid, mut nested, mut jsonata_run) = (0, 0, 0, 0);
    for i in 0..20_000 {
        let def = definition(&mut rng);
        // Half the inputs have an array at $.a for Map states to iterate.
        let input = if rng.chance(50) {
            let items: Vec<Value> = (0..rng.below(4)).map(|_| value(&mut rng, 2)).collect();
            json!({"a": items, "b": value(&mut rng, 2)})
        } else {
            value(&mut rng, 3)
        };
        let seed = rng.next() | 1;
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(|| match parse_definition(&def.to_string()) {
            Err(e) => {
                assert!(!e.0.is_empty());
                assert!(e.0.iter().all(|p| !p.message.is_empty()));
                None
            }
            Ok(machine) => {
                let runner = RandomTasks(std::sync::Mutex::new(Rng(seed)));
                let rec =
                    block_on(run_execution(Arc::new(machine), execution_info("fuzz", "f"), input.clone(), &runner, &VirtualClock::new(0)))
                        .expect("the engine accepts the events the driver records");
                assert!(!rec.history.is_empty());
                // Did it run anything inside a Parallel branch or Map iteration?
                Some(rec.history.iter().any(|e| !e.scope.is_root()))
            }
        });
        // Every evaluation is capped, so no single case may take long.
        assert!(started.elapsed().as_secs() < 20, "case {i} took {:?}:\ndefinition: {def}", started.elapsed());
        match outcome {
            Ok(Some(went_deeper)) => {
                jsonata_run += usize::from(def.get("QueryLanguage").is_some());
                valid += 1;
                nested += usize::from(went_deeper);
            }
            Ok(None) => invalid += 1,
            Err(_) => panic!("case {i} panicked:\ndefinition: {def}\ninput: {input}"),
        }
    }
    println!(
        "{valid} valid definitions run ({nested} into Parallel branches or Map iterations, {jsonata_run} in JSONata), {invalid} rejected with located errors"
    );
    // The generator must exercise both sides, or the property says little.
    assert!(
        valid > 1000 && invalid > 1000 && nested > 100 && jsonata_run > 500,
        "valid {valid}, nested {nested}, JSONata {jsonata_run}, invalid {invalid}"
    );
}

#[test]
fn corrupted_definition_text_never_panics() {
    let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/order/order.asl.json")).unwrap();
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    for _ in 0..3000 {
        let mut bytes = text.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = rng.next() as u8,
                1 => drop(bytes.remove(at)),
                _ => bytes.insert(at, *rng.pick(b"{}[]\",:$.")),
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if std::panic::catch_unwind(|| parse_definition(&text).map(|_| ())).is_err() {
            panic!("parsing panicked on:\n{text}");
        }
    }
}
