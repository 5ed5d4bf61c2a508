//! Definitions whose evaluation is CPU-heavy delay only themselves: while
//! `serve` runs executions with Choice rules of quadratic `StringMatches`
//! cases and JSONata states whose expressions each stay just under their
//! step budget (and TestState calls of such a state), a well-behaved client
//! is answered promptly and its own EXPRESS execution runs at once; the
//! heavy executions end with the error their definition deserves.

use crate::support::{scratch, ApiServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::000000000000:role/stepwasm";

/// A loose bound for one call of the well-behaved client, on a loaded
/// 2-core machine.
const PROMPT: Duration = Duration::from_secs(2);

/// A Choice whose 20 rules each cost the old backtracking matcher 4 * 10^8
/// steps on the input's 200 KB text; none matches and there is no Default.
fn string_matches_machine() -> Value {
    let run = "a".repeat(2_000);
    let rules: Vec<Value> =
        (0..20).map(|i| json!({"Variable": "$.text", "StringMatches": format!("*{run}b{i}"), "Next": "Done"})).collect();
    json!({"StartAt": "Match", "States": {
        "Match": {"Type": "Choice", "Choices": rules},
        "Done": {"Type": "Succeed"}
    }})
}

/// A JSONata Pass state whose Output has 400 fields, each an expression of
/// some 900,000 steps: under each expression's own caps, far over the
/// budget of one state's evaluation.
fn heavy_jsonata_state() -> Value {
    let fields: serde_json::Map<String, Value> =
        (0..400).map(|i| (format!("f{i}"), json!(format!("{{% $reduce([1..100000], function($a, $b) {{ $a + $b + {i} }}) %}}")))).collect();
    json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": fields, "End": true})
}

fn create(server: &ApiServer, name: &str, definition: &Value, kind: &str) -> String {
    let created = server.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE, "type": kind}),
    );
    created["stateMachineArn"].as_str().unwrap().to_string()
}

/// Calls `target` and checks it answered 200 within [`PROMPT`].
#[track_caller]
fn prompt(server: &ApiServer, target: &str, params: Value) -> Value {
    let started = Instant::now();
    let body = server.ok(target, params);
    let took = started.elapsed();
    assert!(took < PROMPT, "{target} took {took:?} while heavy evaluations ran (bound {PROMPT:?})");
    body
}

#[test]
fn heavy_evaluations_do_not_hold_up_the_api_or_other_executions() {
    let dir = scratch("hostile-evaluation");
    let server = ApiServer::start(&dir.join("store.sqlite"), &[]);
    let matching = create(&server, "matching", &string_matches_machine(), "STANDARD");
    let jsonata_state = heavy_jsonata_state();
    let jsonata = create(
        &server,
        "jsonata",
        &json!({"QueryLanguage": "JSONata", "StartAt": "Heavy", "States": {"Heavy": jsonata_state}}),
        "STANDARD",
    );
    let trivial = create(
        &server,
        "trivial",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": true}, "End": true}}}),
        "EXPRESS",
    );
    let text_input = json!({"text": "a".repeat(200_000)}).to_string();

    let mut heavy = Vec::new();
    for (i, machine) in [&matching, &jsonata, &matching, &jsonata].into_iter().enumerate() {
        let input = if *machine == matching { text_input.clone() } else { "{}".to_string() };
        let started =
            server.ok("AWSStepFunctions.StartExecution", json!({"stateMachineArn": machine, "name": format!("heavy-{i}"), "input": input}));
        heavy.push((machine.clone(), started["executionArn"].as_str().unwrap().to_string()));
    }

    std::thread::scope(|s| {
        let tested: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    server
                        .ok("AWSStepFunctions.TestState", json!({"definition": jsonata_state.to_string(), "roleArn": ROLE, "input": "{}"}))
                })
            })
            .collect();
        // Give the heavy work time to take the cores, then be a good client for a while.
        std::thread::sleep(Duration::from_millis(300));
        let until = Instant::now() + Duration::from_secs(4);
        let mut rounds = 0;
        while Instant::now() < until || rounds < 3 {
            let described = prompt(&server, "AWSStepFunctions.DescribeStateMachine", json!({"stateMachineArn": trivial}));
            assert_eq!(described["name"], "trivial");
            let listed = prompt(&server, "AWSStepFunctions.ListExecutions", json!({"stateMachineArn": jsonata}));
            assert_eq!(listed["executions"].as_array().map(Vec::len), Some(2), "{listed}");
            let ran = prompt(
                &server,
                "AWSStepFunctions.StartSyncExecution",
                json!({"stateMachineArn": trivial, "name": format!("quick-{rounds}")}),
            );
            assert_eq!((ran["status"].as_str(), ran["output"].as_str()), (Some("SUCCEEDED"), Some(r#"{"ok":true}"#)), "{ran}");
            rounds += 1;
        }
        for answer in tested {
            let answer = answer.join().unwrap();
            assert_eq!(
                (answer["status"].as_str(), answer["error"].as_str()),
                (Some("FAILED"), Some("States.QueryEvaluationError")),
                "{answer}"
            );
            assert!(answer["cause"].as_str().unwrap().contains("took longer than 1 s"), "{answer}");
        }
    });

    // The heavy executions end, each with its own error.
    let deadline = Instant::now() + Duration::from_secs(120);
    for (machine, arn) in heavy {
        let described = loop {
            let described = server.ok("AWSStepFunctions.DescribeExecution", json!({"executionArn": arn}));
            if described["status"] != "RUNNING" || Instant::now() > deadline {
                break described;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(described["status"], "FAILED", "{described}");
        if machine == matching {
            assert_eq!(described["error"], "States.NoChoiceMatched", "{described}");
        } else {
            assert_eq!(described["error"], "States.QueryEvaluationError", "{described}");
            let cause = described["cause"].as_str().unwrap();
            assert!(cause.contains("took longer than 1 s") && cause.contains("the limit on the evaluation of one state"), "{cause}");
        }
    }
}
