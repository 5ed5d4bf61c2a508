//! End to end: the web console of `stepwasm serve`, in headless Chromium.
//! The order example's three inputs run as executions through the HTTP API;
//! each execution's page is loaded by Chromium (`--dump-dom`) and every state
//! of the graph must carry the `data-status` its history implies, and the
//! history table every event. Also screenshots the declined payment's page
//! (its error caught): docs/console.png, the README's picture of the console.
//! And concurrency: branches and Map iterations at work at the same time all
//! shown in progress, a Map state's iteration counts, a branch stopped by its
//! sibling's failure shown stopped.

use crate::support;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// One AWS JSON 1.0 call: (HTTP status, JSON body).
fn call(endpoint: &str, action: &str, params: &Value) -> (u16, Value) {
    let config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build();
    let mut answer = ureq::Agent::new_with_config(config)
        .post(&format!("{endpoint}/"))
        .header("X-Amz-Target", &format!("AWSStepFunctions.{action}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .send(params.to_string())
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{action} answered {status} with non-JSON ({e}): {text}"));
    (status, body)
}

/// A call that must succeed.
fn ok(endpoint: &str, action: &str, params: Value) -> Value {
    let (status, body) = call(endpoint, action, &params);
    assert_eq!(status, 200, "{action} {params} -> {status} {body}");
    body
}

/// GetExecutionHistory, every page.
fn history(endpoint: &str, arn: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = json!({"executionArn": arn, "includeExecutionData": true});
        if let Some(t) = &token {
            params["nextToken"] = json!(t);
        }
        let page = ok(endpoint, "GetExecutionHistory", params);
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return events,
        }
    }
}

/// Each state's status as the console must show it, read from a flat
/// history (the order example has no Parallel or Map): a Fail state reached
/// is failed; entered and exited with the last task result a failure is
/// caught (this engine exits a state whose error a catcher took), otherwise
/// succeeded; entered and never exited in a finished execution is failed;
/// never entered is not run.
fn statuses_from_history(events: &[Value], states: &[String]) -> BTreeMap<String, &'static str> {
    let name = |e: &Value, key: &str| e[key]["name"].as_str().map(str::to_string);
    states
        .iter()
        .map(|state| {
            let entered = events.iter().position(|e| name(e, "stateEnteredEventDetails").as_ref() == Some(state));
            let exited = events.iter().position(|e| name(e, "stateExitedEventDetails").as_ref() == Some(state));
            let status = match (entered, exited) {
                (None, _) => "not-run",
                (Some(i), _) if events[i]["type"] == "FailStateEntered" => "failed",
                (Some(i), Some(j)) => {
                    let last_result = events[i..j].iter().rev().find_map(|e| match e["type"].as_str() {
                        Some("TaskSucceeded" | "LambdaFunctionSucceeded" | "ActivitySucceeded") => Some(true),
                        Some(
                            "TaskFailed"
                            | "TaskTimedOut"
                            | "LambdaFunctionFailed"
                            | "LambdaFunctionTimedOut"
                            | "ActivityFailed"
                            | "ActivityTimedOut",
                        ) => Some(false),
                        _ => None,
                    });
                    if last_result == Some(false) {
                        "caught"
                    } else {
                        "succeeded"
                    }
                }
                (Some(_), None) => "failed",
            };
            (state.clone(), status)
        })
        .collect()
}

/// Fails the test, saying how to get it, when Chromium is not installed.
fn need_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the console test drives Debian's Chromium; `make test` installs it (scripts/test-tools.sh: apt-get install -y chromium)"
    );
}

/// Runs Chromium headless on `url` with `extra` arguments; its stdout.
fn chromium(profile: &Path, url: &str, extra: &[&str]) -> String {
    need_chromium();
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            // Chromium holds virtual time while requests are in flight, so
            // the page's fetches all finish before the DOM is taken.
            "--virtual-time-budget=10000",
        ])
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read in threads so a full pipe cannot stall Chromium.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let Some(status) = support::exit_within(&mut child, Duration::from_secs(120)) else {
        panic!("chromium took over 2 minutes on {url}: {}", err.join().unwrap());
    };
    let (out, err) = (out.join().unwrap().unwrap(), err.join().unwrap());
    assert!(status.success(), "chromium on {url}: {status}\n{err}");
    out
}

/// The attributes of every start tag named `tag` in serialised HTML, values
/// unescaped (Chromium's serialiser escapes `&`, `"`, `<`, `>` and U+00A0).
fn tags(html: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let unescape =
        |v: &str| v.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&");
    let open = format!("<{tag} ");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        let end = rest.find('>').expect("a start tag ends");
        let mut attrs = BTreeMap::new();
        let mut text = &rest[..end];
        // name="value" pairs; the serialiser always quotes with ".
        while let Some(eq) = text.find("=\"") {
            // Valueless attributes (`required`) may come before the name.
            let name = text[..eq].split_whitespace().last().unwrap_or_default().to_string();
            let close = text[eq + 2..].find('"').expect("a quoted value ends");
            attrs.insert(name, unescape(&text[eq + 2..eq + 2 + close]));
            text = &text[eq + 2 + close + 1..];
        }
        found.push(attrs);
        rest = &rest[end..];
    }
    found
}

/// The URL of an execution's console page.
fn page_url(endpoint: &str, execution_arn: &str) -> String {
    // As JavaScript's encodeURIComponent, which the page's links use.
    let encoded: String = execution_arn
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{endpoint}/#/exec/{encoded}")
}

#[test]
fn execution_pages_colour_every_state_by_its_history() {
    need_chromium();
    support::guest_dir();
    let root = support::root();
    let scratch = support::scratch("console");
    let config = root.join("examples/order/stepwasm.toml");
    let server = support::ApiServer::start(&scratch.join("store.db"), &["--config", config.to_str().unwrap()]);
    let endpoint = server.endpoint.as_str();

    let definition = std::fs::read_to_string(root.join("examples/order/order.asl.json")).unwrap();
    let states: Vec<String> = serde_json::from_str::<Value>(&definition).unwrap()["States"].as_object().unwrap().keys().cloned().collect();
    let machine = ok(
        endpoint,
        "CreateStateMachine",
        json!({"name": "order", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/stepwasm"}),
    );
    let machine_arn = machine["stateMachineArn"].as_str().unwrap().to_string();

    // What each example input must come to (README, "The example"); checked
    // against the history below, so the console is measured against the engine.
    let cases = [
        (
            "declined-payment",
            "SUCCEEDED",
            [
                ("VerifyPayment", "caught"),
                ("NotifyCustomerFailedPayment", "succeeded"),
                ("UpdateInventory", "not-run"),
                ("NotifyCustomer", "not-run"),
                ("HandleInventoryError", "not-run"),
            ],
        ),
        (
            "paid-order",
            "SUCCEEDED",
            [
                ("VerifyPayment", "succeeded"),
                ("UpdateInventory", "succeeded"),
                ("NotifyCustomer", "succeeded"),
                ("NotifyCustomerFailedPayment", "not-run"),
                ("HandleInventoryError", "not-run"),
            ],
        ),
        (
            "stock-shortage",
            "FAILED",
            [
                ("VerifyPayment", "succeeded"),
                ("UpdateInventory", "caught"),
                ("HandleInventoryError", "failed"),
                ("NotifyCustomer", "not-run"),
                ("NotifyCustomerFailedPayment", "not-run"),
            ],
        ),
    ];
    let mut executions = Vec::new();
    for (input, ..) in &cases {
        let text = std::fs::read_to_string(root.join(format!("examples/order/inputs/{input}.json"))).unwrap();
        let started = ok(endpoint, "StartExecution", json!({"stateMachineArn": machine_arn, "name": input, "input": text}));
        executions.push(started["executionArn"].as_str().unwrap().to_string());
    }

    for ((input, want_status, want), arn) in cases.iter().zip(&executions) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let described = loop {
            let d = ok(endpoint, "DescribeExecution", json!({"executionArn": arn}));
            if d["status"] != "RUNNING" {
                break d;
            }
            assert!(Instant::now() < deadline, "{input} still RUNNING after 60 s: {d}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(described["status"], *want_status, "{input}: {described}");

        let events = history(endpoint, arn);
        let want: BTreeMap<String, &str> = want.iter().map(|(s, v)| (s.to_string(), *v)).collect();
        let mut sorted_states = states.clone();
        sorted_states.sort();
        assert_eq!(want.keys().cloned().collect::<Vec<_>>(), sorted_states, "every state has an expectation");
        assert_eq!(statuses_from_history(&events, &states), want, "{input}: the history says otherwise: {events:#?}");

        let dom = chromium(&scratch.join(format!("profile-{input}")), &page_url(endpoint, arn), &["--dump-dom"]);
        let body = tags(&dom, "body");
        assert_eq!(
            body.first().and_then(|b| b.get("data-ready")).map(String::as_str),
            Some("done"),
            "{input}: the page did not finish:\n{dom}"
        );

        let drawn =
            tags(&dom, "g").into_iter().filter(|g| g.get("class").is_some_and(|c| c.split(' ').any(|c| c == "state"))).collect::<Vec<_>>();
        let shown: BTreeMap<String, &str> =
            drawn.iter().map(|g| (g["data-state"].clone(), g.get("data-status").map_or("(none)", String::as_str))).collect();
        assert_eq!(drawn.len(), states.len(), "{input}: one <g class=\"state\"> per state:\n{dom}");
        assert_eq!(shown, want, "{input}: the graph's colours");

        // The history table: a row per event, every type named.
        let table = &dom[dom.find("id=\"history\"").unwrap_or_else(|| panic!("{input}: no history table:\n{dom}"))..];
        let rows = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
        assert_eq!(rows.matches("<tr").count(), events.len(), "{input}: a history row per event");
        for e in &events {
            assert!(rows.contains(&format!(">{}<", e["type"].as_str().unwrap())), "{input}: row of {e}");
        }
        // What the execution came to, on the page.
        if *want_status == "FAILED" {
            let error = described["error"].as_str().unwrap();
            assert!(dom.contains("<h3>Error</h3>") && dom.contains(error), "{input}: {error} on the page");
        } else {
            assert!(dom.contains("<h3>Output</h3>"), "{input}: its output on the page");
        }
    }

    // The README's picture: the declined payment, caught and told. Taken
    // every run; docs/console.png is only written when missing or asked for
    // (STEPWASM_UPDATE_DOCS=1), so that tests leave the work tree clean.
    let png = scratch.join("console.png");
    chromium(
        &scratch.join("profile-screenshot"),
        &page_url(endpoint, &executions[0]),
        &[&format!("--screenshot={}", png.display()), "--window-size=1280,1000", "--hide-scrollbars"],
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000, "the screenshot is a real picture ({} bytes)", bytes.len());
    let docs = root.join("docs/console.png");
    if !docs.exists() || std::env::var_os("STEPWASM_UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::copy(&png, &docs).unwrap();
    }
    // Chromium's profiles are megabytes; a failed run keeps them to look at.
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn the_console_asks_for_the_api_secret_when_the_server_wants_one() {
    let scratch = support::scratch("console-auth");
    let server = support::ApiServer::start(&scratch.join("store.db"), &["--api-secret", "console:s3cret"]);
    let dom = chromium(&scratch.join("profile"), &format!("{}/#/", server.endpoint), &["--dump-dom"]);
    let body = tags(&dom, "body");
    assert_eq!(body.first().and_then(|b| b.get("data-ready")).map(String::as_str), Some("auth"), "{dom}");
    assert!(dom.contains("id=\"auth-form\"") && dom.contains("type=\"password\""), "{dom}");
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Each state of the graph on a page Chromium finished, by name: its
/// `data-status`.
fn shown_states(dom: &str) -> BTreeMap<String, String> {
    let body = tags(dom, "body");
    assert_eq!(body.first().and_then(|b| b.get("data-ready")).map(String::as_str), Some("done"), "the page did not finish:\n{dom}");
    tags(dom, "g")
        .into_iter()
        .filter(|g| g.get("class").is_some_and(|c| c.split(' ').any(|c| c == "state")))
        .map(|g| (g["data-state"].clone(), g.get("data-status").cloned().unwrap_or_else(|| "(none)".into())))
        .collect()
}

/// Counts `type` events in a history.
fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// Branches and Map iterations run at once: with two branches in their
/// Waits and a Map whose iterations are partly done, every state at work is
/// coloured in progress (not only the latest entered), and the Map state
/// carries its iteration counts. A branch a sibling's failure stopped is
/// shown stopped. Each expectation is first checked against the history.
#[test]
fn concurrent_branches_and_map_iterations_are_coloured_and_counted() {
    need_chromium();
    let scratch = support::scratch("console-concurrent");
    let server = support::ApiServer::start(&scratch.join("store.db"), &[]);
    let endpoint = server.endpoint.as_str();
    let role = "arn:aws:iam::123456789012:role/stepwasm";

    // Two branches wait 60 s; the third maps four items: two pass, two wait
    // 60 s. The test never waits for them. (An inline Map fails at its first
    // failed item; a DISTRIBUTED one runs its items as child executions, not
    // in this history.)
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "HoldA", "States": {"HoldA": {"Type": "Wait", "Seconds": 60, "End": true}}},
        {"StartAt": "HoldB", "States": {"HoldB": {"Type": "Wait", "Seconds": 60, "End": true}}},
        {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"StartAt": "Which", "States": {
                "Which": {"Type": "Choice", "Choices": [
                    {"Variable": "$.do", "StringEquals": "hold", "Next": "Hold"}], "Default": "Quick"},
                "Quick": {"Type": "Pass", "End": true},
                "Hold": {"Type": "Wait", "Seconds": 60, "End": true}}}}}}]}}});
    let machine = ok(endpoint, "CreateStateMachine", json!({"name": "concurrent", "definition": definition.to_string(), "roleArn": role}));
    let items = json!({"items": [{"do": "pass"}, {"do": "pass"}, {"do": "hold"}, {"do": "hold"}]});
    let arn = server.start_execution(machine["stateMachineArn"].as_str().unwrap(), "at-once", &items.to_string());
    let mut events = Vec::new();
    support::wait_for("two branches and two iterations in their Waits, two iterations ended", || {
        events = history(endpoint, &arn);
        count(&events, "WaitStateEntered") == 4 && count(&events, "MapIterationSucceeded") == 2
    });
    assert_eq!(count(&events, "MapIterationStarted"), 4, "{events:#?}");
    assert_eq!(count(&events, "WaitStateExited"), 0, "{events:#?}");
    assert_eq!(ok(endpoint, "DescribeExecution", json!({"executionArn": arn}))["status"], "RUNNING");

    let dom = chromium(&scratch.join("profile-running"), &page_url(endpoint, &arn), &["--dump-dom"]);
    let want: BTreeMap<String, String> = [
        ("Fan", "in-progress"),
        ("HoldA", "in-progress"),
        ("HoldB", "in-progress"),
        ("Each", "in-progress"),
        ("Which", "succeeded"),
        ("Quick", "succeeded"),
        ("Hold", "in-progress"),
    ]
    .into_iter()
    .map(|(s, v)| (s.to_string(), v.to_string()))
    .collect();
    assert_eq!(shown_states(&dom), want, "the graph's colours while branches and iterations run at once");
    // The counts: on the graph, and listed with each number.
    assert!(dom.contains(">2/4 ✓ · 2 running</text>"), "the Map's counts label on the graph:\n{dom}");
    let listed = tags(&dom, "li").into_iter().find(|li| li.get("data-state").map(String::as_str) == Some("Each"));
    let listed = listed.unwrap_or_else(|| panic!("no counts listed for Each:\n{dom}"));
    let numbers: Vec<&str> =
        ["data-started", "data-succeeded", "data-failed", "data-aborted", "data-running"].iter().map(|k| listed[*k].as_str()).collect();
    assert_eq!(numbers, ["4", "2", "0", "0", "2"], "{listed:?}");
    ok(endpoint, "StopExecution", json!({"executionArn": arn}));

    // A branch stopped by its sibling's failure: the sibling's activity task
    // is failed once the Wait has begun.
    let activity = ok(endpoint, "CreateActivity", json!({"name": "work"}))["activityArn"].as_str().unwrap().to_string();
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": true}}},
        {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity, "End": true}}}]}}});
    let machine = ok(endpoint, "CreateStateMachine", json!({"name": "stops", "definition": definition.to_string(), "roleArn": role}));
    let arn = server.start_execution(machine["stateMachineArn"].as_str().unwrap(), "stopped-branch", "{}");
    support::wait_for("the Wait begun and the activity task queued", || {
        let events = history(endpoint, &arn);
        count(&events, "WaitStateEntered") == 1 && count(&events, "ActivityScheduled") == 1
    });
    let task = ok(endpoint, "GetActivityTask", json!({"activityArn": activity, "workerName": "test"}));
    ok(endpoint, "SendTaskFailure", json!({"taskToken": task["taskToken"], "error": "Broke", "cause": "on purpose"}));
    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "FAILED", "{described}");
    let events = history(endpoint, &arn);
    assert_eq!((count(&events, "WaitStateAborted"), count(&events, "WaitStateExited")), (1, 0), "{events:#?}");
    let dom = chromium(&scratch.join("profile-stopped"), &page_url(endpoint, &arn), &["--dump-dom"]);
    let want: BTreeMap<String, String> =
        [("Fan", "failed"), ("Hold", "aborted"), ("Work", "failed")].into_iter().map(|(s, v)| (s.to_string(), v.to_string())).collect();
    assert_eq!(shown_states(&dom), want, "the graph's colours after a sibling's failure");
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
}
