//! The order example end to end on the real components: each input ends in the
//! expected state with the expected output, through the library and the CLI.

use crate::support::{self, block_on, guest_dir, root, stepwasm, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use stepwasm::asl::{parse_definition, StateMachine};
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::{EventKind, Outcome};
use stepwasm::runtime::{ResourceMap, WasmRuntime};

fn setup() -> (Arc<StateMachine>, WasmRuntime) {
    setup_definition("order.asl.json")
}

/// `definition` of examples/order/ with the example's modules.
fn setup_definition(definition: &str) -> (Arc<StateMachine>, WasmRuntime) {
    guest_dir();
    let dir = root().join("examples/order");
    let machine = Arc::new(parse_definition(&std::fs::read_to_string(dir.join(definition)).unwrap()).unwrap());
    let map = ResourceMap::load(&dir.join("stepwasm.toml")).unwrap();
    let runtime = WasmRuntime::for_machine(&machine, &map).unwrap();
    (machine, runtime)
}

fn input(name: &str) -> Value {
    let path = root().join("examples/order/inputs").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(machine: &Arc<StateMachine>, runtime: &WasmRuntime, name: &str) -> ExecutionRecord {
    block_on(run_execution(machine.clone(), execution_info("order", name), input(name), runtime, &VirtualClock::new(0))).unwrap()
}

fn states_entered(rec: &ExecutionRecord) -> Vec<&str> {
    rec.history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateEntered { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn paid_order_is_charged_reserved_and_confirmed() {
    let (machine, runtime) = setup();
    let rec = run(&machine, &runtime, "paid-order.json");
    assert_eq!(states_entered(&rec), ["VerifyPayment", "UpdateInventory", "NotifyCustomer"]);
    let Outcome::Succeeded { output } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["paymentResult"]["approved"], true);
    assert_eq!(output["paymentResult"]["amount"], 64.97);
    assert_eq!(output["paymentResult"]["cardLast4"], "1111");
    assert!(output["paymentResult"]["authorizationCode"].as_str().unwrap().starts_with("AUTH-"));
    assert_eq!(output["inventoryResult"]["remainingStock"], json!({"WIDGET-1": 7, "GADGET-2": 3}));
    assert_eq!(output["notification"]["subject"], "Order ORD-1001 confirmed");
    assert_eq!(output["notification"]["to"], "ada@example.com");
    // Each module passes the order on with its result added.
    assert_eq!(output["orderId"], "ORD-1001");
    let keys: Vec<&str> = output.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["orderId", "customer", "payment", "items", "paymentResult", "inventoryResult", "notification"]);
    let types: Vec<&str> = rec.history.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(types.iter().filter(|t| **t == "LambdaFunctionSucceeded").count(), 3, "direct Lambda ARNs: {types:?}");
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
}

/// The seed document's definition, exactly as written there (no Parameters,
/// no ResultPath: each state's output is the next one's input), runs with the
/// example's modules: every input ends where the seed says.
#[test]
fn the_seed_definition_runs_as_written() {
    let seed = root().join("examples/order/seed.asl.json");
    let text = std::fs::read_to_string(&seed).unwrap();
    for field in ["Parameters", "ResultPath", "ResultSelector", "OutputPath", "InputPath"] {
        assert!(!text.contains(field), "the seed's definition has no {field}");
    }
    let (machine, runtime) = setup_definition("seed.asl.json");

    let paid = run(&machine, &runtime, "paid-order.json");
    assert_eq!(states_entered(&paid), ["VerifyPayment", "UpdateInventory", "NotifyCustomer"]);
    let Outcome::Succeeded { output } = &paid.outcome else { panic!("{:?}", paid.outcome) };
    assert_eq!(output["paymentResult"]["amount"], 64.97);
    assert_eq!(output["inventoryResult"]["remainingStock"], json!({"WIDGET-1": 7, "GADGET-2": 3}));
    assert_eq!(output["notification"]["subject"], "Order ORD-1001 confirmed");
    assert!(output["notification"]["body"].as_str().unwrap().contains("64.97"), "{output}");

    let declined = run(&machine, &runtime, "declined-payment.json");
    assert_eq!(states_entered(&declined), ["VerifyPayment", "NotifyCustomerFailedPayment"]);
    assert_eq!(
        declined.outcome,
        Outcome::Failed {
            error: "PaymentVerificationFailed".into(),
            cause: "Payment verification failed. Please check payment details.".into()
        }
    );

    let short = run(&machine, &runtime, "stock-shortage.json");
    assert_eq!(states_entered(&short), ["VerifyPayment", "UpdateInventory", "HandleInventoryError"]);
    assert_eq!(
        short.outcome,
        Outcome::Failed {
            error: "InventoryUpdateFailed".into(),
            cause: "Inventory update failed. Please check stock availability.".into()
        }
    );

    // And through the CLI, as a user would run it.
    let (code, out, err) = stepwasm(&["run", "examples/order/seed.asl.json", "--input", "@examples/order/inputs/paid-order.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("SUCCEEDED"), "{out}");
}

/// The order workflow as most definitions call Lambda today: the optimized
/// integration `lambda:invoke` with FunctionName (a name, a qualified ARN,
/// and one computed from the input) and `Payload.$`, the result read from
/// `$.Payload`; the config maps the functions by their ARNs as for direct
/// calls.
const LAMBDA_INVOKE_ORDER: &str = r#"{"StartAt": "VerifyPayment", "States": {
  "VerifyPayment": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "VerifyPaymentFunction", "Payload.$": "$"}, "OutputPath": "$.Payload",
    "Catch": [{"ErrorEquals": ["PaymentVerificationFailed"], "ResultPath": "$.error", "Next": "Declined"}], "Next": "UpdateInventory"},
  "UpdateInventory": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:UpdateInventoryFunction:$LATEST", "Payload.$": "$"},
    "ResultSelector": {"reserved.$": "$.Payload.inventoryResult.reserved", "status.$": "$.StatusCode", "version.$": "$.ExecutedVersion"},
    "ResultPath": "$.inventory", "Next": "NotifyCustomer"},
  "NotifyCustomer": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName.$": "$.notifier", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true},
  "Declined": {"Type": "Pass", "End": true}}}"#;

#[test]
fn lambda_invoke_runs_the_mapped_function_on_its_payload_and_wraps_the_result() {
    guest_dir();
    let dir = root().join("examples/order");
    let machine = Arc::new(parse_definition(LAMBDA_INVOKE_ORDER).unwrap());
    let map = ResourceMap::load(&dir.join("stepwasm.toml")).unwrap();
    let runtime = WasmRuntime::for_machine(&machine, &map).unwrap();
    let with_notifier = |name: &str| {
        let mut order = input(name);
        order["notifier"] = json!("123456789012:function:NotifyCustomerFunction");
        order
    };
    let run_on = |name: &str| {
        block_on(run_execution(machine.clone(), execution_info("lambda", name), with_notifier(name), &runtime, &VirtualClock::new(0)))
            .unwrap()
    };

    let paid = run_on("paid-order.json");
    let Outcome::Succeeded { output } = &paid.outcome else { panic!("{:?}", paid.outcome) };
    assert_eq!(
        output["inventory"],
        json!({"reserved": [{"sku": "WIDGET-1", "quantity": 3}, {"sku": "GADGET-2", "quantity": 1}], "status": 200, "version": "$LATEST"})
    );
    assert_eq!(output["notification"]["subject"], "Order ORD-1001 confirmed");
    assert_eq!(output["paymentResult"]["amount"], 64.97);
    let scheduled: Vec<Value> = paid
        .history
        .iter()
        .map(|e| e.to_aws_json("local"))
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| e["taskScheduledEventDetails"].clone())
        .collect();
    assert_eq!(scheduled.len(), 3);
    for details in &scheduled {
        assert_eq!((details["resourceType"].as_str(), details["resource"].as_str()), (Some("lambda"), Some("invoke")), "{details}");
        assert_eq!(details["region"], "local", "the execution's region: {details}");
    }

    // A handler's error is a Lambda function error: its name, and the cause
    // as the JSON Lambda reports.
    let declined = run_on("declined-payment.json");
    let Outcome::Succeeded { output } = &declined.outcome else { panic!("{:?}", declined.outcome) };
    assert_eq!(output["error"]["Error"], "PaymentVerificationFailed");
    let cause: Value = serde_json::from_str(output["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "PaymentVerificationFailed");
    assert!(cause["errorMessage"].as_str().unwrap().contains("declined by the issuer"), "{cause}");

    // A function that is not mapped is refused when the definition is loaded, naming what to add.
    let unmapped = LAMBDA_INVOKE_ORDER.replace("\"VerifyPaymentFunction\"", "\"RefundFunction\"");
    let Err(e) = WasmRuntime::for_machine(&parse_definition(&unmapped).unwrap(), &map) else { panic!("an unmapped function loaded") };
    assert!(e.to_string().contains("States.VerifyPayment.Resource") && e.to_string().contains("function:RefundFunction"), "{e}");
}

/// `run --output json`: one JSON object a script can read, for a success
/// and a failure (exit 1), with the logs and the history when asked.
#[test]
fn run_prints_one_json_object_with_output_json() {
    guest_dir();
    let run_json = |input: &str, extra: &[&str]| {
        let input = format!("@examples/order/inputs/{input}");
        let mut args = vec!["run", "examples/order/seed.asl.json", "--input", &input, "--output", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = stepwasm(&args);
        assert_eq!(out.lines().count(), 1, "one line of JSON: {out}{err}");
        (code, serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
    };
    let (code, paid) = run_json("paid-order.json", &["--logs", "--history"]);
    assert_eq!(code, 0, "{paid}");
    assert_eq!((paid["status"].as_str(), paid["lastState"].as_str()), (Some("SUCCEEDED"), Some("NotifyCustomer")), "{paid}");
    assert!(paid["executionArn"].as_str().unwrap().starts_with("arn:aws:states:"), "{paid}");
    assert_eq!(paid["output"]["notification"]["subject"], "Order ORD-1001 confirmed");
    assert!(paid["logs"].as_array().unwrap().iter().any(|l| l["state"] == "VerifyPayment"), "{paid}");
    let events = paid["events"].as_array().unwrap();
    assert_eq!(
        (events[0]["type"].as_str(), events.last().unwrap()["type"].as_str()),
        (Some("ExecutionStarted"), Some("ExecutionSucceeded"))
    );

    let (code, declined) = run_json("declined-payment.json", &[]);
    assert_eq!(code, 1, "{declined}");
    assert_eq!(declined["status"], "FAILED");
    assert_eq!(declined["error"], "PaymentVerificationFailed");
    assert_eq!(declined["cause"], "Payment verification failed. Please check payment details.");
    assert!(declined.get("output").is_none() && declined.get("events").is_none(), "{declined}");
}

#[test]
fn declined_payment_is_caught_and_the_customer_told() {
    let (machine, runtime) = setup();
    let rec = run(&machine, &runtime, "declined-payment.json");
    assert_eq!(states_entered(&rec), ["VerifyPayment", "NotifyCustomerFailedPayment"]);
    let Outcome::Succeeded { output } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["error"], json!({"Error": "PaymentVerificationFailed", "Cause": "card ending 0002 was declined by the issuer"}));
    assert_eq!(output["notification"]["subject"], "Payment for order ORD-1002 failed");
    assert!(output["notification"]["body"].as_str().unwrap().contains("declined by the issuer"));
    assert!(output.get("inventoryResult").is_none(), "inventory must not be touched");
    let failed = rec.history.iter().find(|e| e.kind.type_name() == "LambdaFunctionFailed").unwrap();
    assert!(matches!(&failed.kind, EventKind::TaskFailed { error, .. } if error == "PaymentVerificationFailed"));
}

/// The order workflow (VerifyPayment reads the whole order, its `gateway`
/// included) with a config granting payment http to `gateway_prefix` only.
fn setup_with_gateway(gateway_prefix: &str) -> (Arc<StateMachine>, WasmRuntime) {
    let dir = root().join("examples/order");
    let machine = Arc::new(parse_definition(&std::fs::read_to_string(dir.join("order.asl.json")).unwrap()).unwrap());
    let config = std::fs::read_to_string(dir.join("stepwasm.toml")).unwrap().replace("http://127.0.0.1:8099/", gateway_prefix);
    let map = ResourceMap::parse(&config, &dir.join("stepwasm.toml")).unwrap();
    (machine.clone(), WasmRuntime::for_machine(&machine, &map).unwrap())
}

#[test]
fn a_payment_gateway_reached_through_the_http_grant_decides_and_stock_is_kept_in_kv() {
    // Approves amounts under 50, declines the rest.
    let gw = TestServer::start(|_, body| {
        let order: Value = serde_json::from_str(body).unwrap_or_default();
        let amount = order["amount"].as_f64().unwrap_or(f64::MAX);
        if amount < 50.0 {
            (200, json!({"approved": true, "authorization": format!("GW-{}", order["orderId"].as_str().unwrap_or("?"))}).to_string())
        } else {
            (200, json!({"approved": false, "reason": "over the gateway's limit"}).to_string())
        }
    });
    let (machine, runtime) = setup_with_gateway(&gw.url("/pay/"));
    let mut small = input("paid-order.json");
    small["items"] = json!([{ "sku": "WIDGET-1", "quantity": 2, "price": 19.99 }]);
    small["payment"]["amount"] = json!(39.98);
    small["gateway"] = json!(gw.url("/pay/authorize"));
    let run_with = |input: &Value| {
        block_on(run_execution(machine.clone(), execution_info("order", "gw"), input.clone(), &runtime, &VirtualClock::new(0))).unwrap()
    };

    let rec = run_with(&small);
    let Outcome::Succeeded { output } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["paymentResult"]["authorizationCode"], "GW-ORD-1001");
    assert_eq!(output["inventoryResult"]["remainingStock"], json!({"WIDGET-1": 8}));
    // The reservation was committed to the kv store: the next order sees it.
    let rec = run_with(&small);
    let Outcome::Succeeded { output } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["inventoryResult"]["remainingStock"], json!({"WIDGET-1": 6}));

    let mut large = input("paid-order.json");
    large["gateway"] = json!(gw.url("/pay/authorize"));
    let rec = run_with(&large);
    assert_eq!(states_entered(&rec), ["VerifyPayment", "NotifyCustomerFailedPayment"]);
    let Outcome::Succeeded { output } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["error"]["Error"], "PaymentVerificationFailed");
    assert!(output["error"]["Cause"].as_str().unwrap().contains("over the gateway's limit"), "{}", output["error"]);

    // A gateway outside the grant is never contacted; payment reports it as
    // unavailable, which the definition does not catch.
    let mut elsewhere = small.clone();
    elsewhere["gateway"] = json!(gw.url("/admin/authorize"));
    let rec = run_with(&elsewhere);
    let Outcome::Failed { error, .. } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(error, "PaymentGatewayUnavailable");
    assert_eq!(gw.seen(), vec!["/pay/authorize"; 3], "only the granted prefix was reached");
}

#[test]
fn stock_shortage_ends_in_handle_inventory_error() {
    let (machine, runtime) = setup();
    let rec = run(&machine, &runtime, "stock-shortage.json");
    assert_eq!(states_entered(&rec), ["VerifyPayment", "UpdateInventory", "HandleInventoryError"]);
    assert_eq!(
        rec.outcome,
        Outcome::Failed { error: "InventoryUpdateFailed".into(), cause: "The order could not be fulfilled: not enough stock.".into() }
    );
    let cause = rec.history.iter().find_map(|e| match &e.kind {
        EventKind::TaskFailed { cause, .. } => Some(cause.clone()),
        _ => None,
    });
    assert_eq!(cause.as_deref(), Some("insufficient stock for GADGET-2: requested 5, available 4"));
}

#[test]
fn cli_prints_status_output_and_history_with_exit_codes() {
    guest_dir();
    let def = "examples/order/order.asl.json";
    let (code, out, err) = stepwasm(&["run", def, "--input", "@examples/order/inputs/paid-order.json", "--history"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("status: SUCCEEDED"), "{out}");
    assert!(out.contains("\"subject\": \"Order ORD-1001 confirmed\""), "{out}");
    for t in [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ] {
        assert!(out.contains(t), "history table lacks {t}:\n{out}");
    }
    let (code, out, _) = stepwasm(&["run", def, "--input", "@examples/order/inputs/stock-shortage.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("status: FAILED") && out.contains("error: InventoryUpdateFailed"), "{out}");
    let (code, _, err) = stepwasm(&["run", def, "--input", "{not json"]);
    assert_eq!(code, 2);
    assert!(err.contains("--input: the input is not valid JSON"), "{err}");
}

#[test]
fn unknown_resource_is_rejected_before_anything_runs() {
    guest_dir();
    let dir = support::scratch("unknown-resource");
    let def = dir.join("def.json");
    std::fs::write(
        &def,
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Nope", "Next": "B"},
            "B": {"Type": "Task", "Resource": "wasm:missing-module", "End": true}}}"#,
    )
    .unwrap();
    let config = root().join("examples/order/stepwasm.toml");
    let (code, out, err) = stepwasm(&["run", def.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "nothing may run: {out}");
    assert!(err.contains("States.A.Resource: no module is mapped to \"arn:aws:lambda:us-east-1:1:function:Nope\""), "{err}");
    assert!(err.contains("States.B.Resource: module file") && err.contains("missing-module.wasm not found"), "{err}");
}

#[test]
fn the_compile_cache_is_reused_and_a_damaged_entry_is_replaced() {
    guest_dir();
    let cache = support::scratch("cache");
    let cache_dir = cache.to_str().unwrap();
    let def = "examples/order/order.asl.json";
    let paid = "@examples/order/inputs/paid-order.json";
    let (code, _, err) = stepwasm(&["run", def, "--input", paid, "--cache-dir", cache_dir]);
    assert_eq!(code, 0, "{err}");
    let mut entries: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    assert_eq!(entries.len(), 3, "one compiled artefact per module: {entries:?}");
    let stamps: Vec<_> = entries.iter().map(|p| std::fs::metadata(p).unwrap().modified().unwrap()).collect();

    // A second process loads them instead of compiling (the files stay as they are).
    let (code, out, err) = stepwasm(&["run", def, "--input", paid, "--cache-dir", cache_dir]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let again: Vec<_> = entries.iter().map(|p| std::fs::metadata(p).unwrap().modified().unwrap()).collect();
    assert_eq!(stamps, again);

    // A damaged entry is detected, never run: the module is compiled again,
    // the entry replaced, and the run succeeds with a warning.
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&entries[0], &bytes).unwrap();
    let (code, out, err) = stepwasm(&["run", def, "--input", paid, "--cache-dir", cache_dir]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("failed its integrity check") && err.contains("recompiled"), "{err}");
    let (code, _, err) = stepwasm(&["run", def, "--input", paid, "--cache-dir", cache_dir]);
    assert_eq!((code, err.as_str()), (0, ""));
    let _ = std::fs::remove_dir_all(&cache);
}
