//! Task resources registered through the HTTP API (`Stepwasm.PutTaskResource`):
//! an uploaded component runs as the resource it was registered as, survives a
//! restart of `serve` (the store keeps its bytes), and a module that could not
//! run as that resource is refused with the reason.

mod support;

use base64::Engine;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{guest_dir, scratch, ApiServer};

const NOTIFY: &str = "arn:aws:lambda:us-east-1:123456789012:function:Hello";
const INVENTORY: &str = "arn:aws:lambda:us-east-1:123456789012:function:Stock";

fn upload(path: &std::path::Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
}

fn notify_input() -> String {
    json!({"kind": "order-confirmed", "orderId": "A-7", "customer": {"name": "Ada", "email": "ada@example.com"}, "amount": 5}).to_string()
}

/// Starts an execution and waits for its end; its DescribeExecution.
fn run(server: &ApiServer, machine_arn: &str, name: &str) -> Value {
    let started = server.ok("AWSStepFunctions.StartExecution", json!({"stateMachineArn": machine_arn, "name": name, "input": notify_input()}));
    let arn = started["executionArn"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = server.ok("AWSStepFunctions.DescribeExecution", json!({"executionArn": arn}));
        if described["status"] != "RUNNING" {
            return described;
        }
        assert!(Instant::now() < deadline, "{name} still running: {described}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refused(server: &ApiServer, params: Value) -> (String, String) {
    let (status, body) = server.call("Stepwasm.PutTaskResource", &params);
    assert_eq!(status, 400, "{body}");
    (body["__type"].as_str().unwrap().to_string(), body["message"].as_str().unwrap().to_string())
}

#[test]
fn uploaded_modules_run_as_their_resource_across_a_restart() {
    let guests = guest_dir();
    let dir = scratch("api-resources");
    let store = dir.join("store.sqlite");
    let server = ApiServer::start(&store, &[]);

    let put = server.ok("Stepwasm.PutTaskResource", json!({"resource": NOTIFY, "config": {"fuel": 50_000_000}, "moduleBytes": upload(&guests.join("notify.wasm"))}));
    assert!(put["modulePath"].as_str().unwrap().ends_with(".wasm"), "{put}");

    // Refusals name the reason; nothing of them is registered.
    let (code, message) = refused(&server, json!({"resource": INVENTORY, "moduleBytes": upload(&guests.join("inventory.wasm"))}));
    assert_eq!(code, "InvalidModule");
    assert!(message.contains("imports stepwasm:task/kv") && message.contains("not granted kv"), "{message}");
    let (code, message) = refused(&server, json!({"resource": "arn:junk", "moduleBytes": "aGVsbG8="}));
    assert_eq!(code, "InvalidModule");
    assert!(message.contains("not WebAssembly"), "{message}");
    let core_module = base64::engine::general_purpose::STANDARD.encode(wat::parse_str("(module)").unwrap());
    let (code, message) = refused(&server, json!({"resource": "arn:core", "moduleBytes": core_module}));
    assert_eq!(code, "InvalidModule", "{message}");
    let (code, message) = refused(&server, json!({"resource": "arn:typo", "config": {"module": "notify", "fuell": 1}}));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("fuell"), "{message}");
    let (code, _) = refused(&server, json!({"resource": "arn:b64", "moduleBytes": "not base64!"}));
    assert_eq!(code, "ValidationException");

    server.ok(
        "Stepwasm.PutTaskResource",
        json!({"resource": INVENTORY, "config": {"kv": {"namespace": "stock"}}, "moduleBytes": upload(&guests.join("inventory.wasm"))}),
    );
    let listed = server.ok("Stepwasm.ListTaskResources", json!({}));
    let names: Vec<&str> = listed["resources"].as_array().unwrap().iter().map(|r| r["resource"].as_str().unwrap()).collect();
    assert_eq!(names, [NOTIFY, INVENTORY]);
    assert_eq!(listed["resources"][1]["config"]["kv"]["namespace"], "stock");

    let definition = json!({"StartAt": "Tell", "States": {"Tell": {"Type": "Task", "Resource": NOTIFY, "End": true}}}).to_string();
    let created = server.ok("AWSStepFunctions.CreateStateMachine", json!({"name": "hello", "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}));
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();
    let first = run(&server, &machine, "before-restart");
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    let output: Value = serde_json::from_str(first["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["subject"], "Order A-7 confirmed");

    // A new serve maps the resource again, from the bytes in the store (the
    // files it wrote for wasmtime are gone).
    drop(server);
    std::fs::remove_dir_all(dir.join("store.sqlite.modules")).unwrap();
    let server = ApiServer::start(&store, &[]);
    let second = run(&server, &machine, "after-restart");
    assert_eq!(second["status"], "SUCCEEDED", "{second}");

    server.ok("Stepwasm.DeleteTaskResource", json!({"resource": NOTIFY}));
    let (status, body) = server.call("Stepwasm.DeleteTaskResource", &json!({"resource": NOTIFY}));
    assert_eq!((status, body["__type"].as_str()), (400, Some("ResourceNotFound")), "{body}");
    let (status, body) =
        server.call("AWSStepFunctions.CreateStateMachine", &json!({"name": "again", "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}));
    assert_eq!((status, body["__type"].as_str()), (400, Some("InvalidDefinition")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("no module is mapped"), "{body}");
}
