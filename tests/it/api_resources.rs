//! Task resources registered through the HTTP API (`Stepwasm.PutTaskResource`):
//! an uploaded component runs as the resource it was registered as, survives a
//! restart of `serve` (the store keeps its bytes), and a module that could not
//! run as that resource is refused with the reason.
//!
//! An uploader cannot escape the operator's `[uploads]` policy: it cannot
//! replace or delete a resource the config defines, reach another resource's
//! kv data, get http outside the allowed prefixes or limits over the
//! ceilings, or name a file on the host as its module (a missing path and a
//! file that is not WebAssembly answer alike); a registration the policy
//! refuses after a restart is left unmapped.

use crate::support::{guest_dir, scratch, ApiServer};
use base64::Engine;
use serde_json::{json, Value};

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
    run_with(server, machine_arn, name, &notify_input())
}

/// Starts an execution with `input` and waits for its end; its DescribeExecution.
fn run_with(server: &ApiServer, machine_arn: &str, name: &str, input: &str) -> Value {
    server.run_to_end(machine_arn, name, input)
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

    let put = server.ok(
        "Stepwasm.PutTaskResource",
        json!({"resource": NOTIFY, "config": {"fuel": 50_000_000}, "moduleBytes": upload(&guests.join("notify.wasm"))}),
    );
    assert_eq!(put["moduleSha256"].as_str().unwrap().len(), 64, "{put}");
    assert_eq!((put["limits"]["fuel"].as_u64(), &put["kvNamespace"]), (Some(50_000_000), &Value::Null), "{put}");
    assert!(!put.to_string().contains(dir.to_str().unwrap()), "the answer shows no host path: {put}");

    // Refusals name the reason; nothing of them is registered.
    let (code, message) = refused(&server, json!({"resource": INVENTORY, "moduleBytes": upload(&guests.join("inventory.wasm"))}));
    assert_eq!(code, "InvalidModule");
    assert!(message.contains("imports stepwasm:task/kv") && message.contains("not granted kv"), "{message}");
    assert!(
        message.starts_with("the uploaded module imports") && message.contains("give \"kv\": true in the upload's config"),
        "{message}"
    );
    let (code, message) = refused(&server, json!({"resource": "arn:junk", "moduleBytes": "aGVsbG8="}));
    assert_eq!(code, "InvalidModule");
    assert!(message.contains("the uploaded module is not WebAssembly"), "{message}");
    assert!(!message.contains(dir.to_str().unwrap()), "no host path in {message}");
    let core_module = base64::engine::general_purpose::STANDARD.encode(wat::parse_str("(module)").unwrap());
    let (code, message) = refused(&server, json!({"resource": "arn:core", "moduleBytes": core_module}));
    assert_eq!(code, "InvalidModule", "{message}");
    let (code, message) =
        refused(&server, json!({"resource": "arn:typo", "config": {"fuell": 1}, "moduleBytes": upload(&guests.join("notify.wasm"))}));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("fuell"), "{message}");
    let (code, _) = refused(&server, json!({"resource": "arn:b64", "moduleBytes": "not base64!"}));
    assert_eq!(code, "ValidationException");

    server.ok(
        "Stepwasm.PutTaskResource",
        json!({"resource": INVENTORY, "config": {"kv": true}, "moduleBytes": upload(&guests.join("inventory.wasm"))}),
    );
    let listed = server.ok("Stepwasm.ListTaskResources", json!({}));
    let names: Vec<&str> = listed["resources"].as_array().unwrap().iter().map(|r| r["resource"].as_str().unwrap()).collect();
    assert_eq!(names, [NOTIFY, INVENTORY]);
    assert_eq!(listed["resources"][1]["config"]["kv"], true);

    let definition = json!({"StartAt": "Tell", "States": {"Tell": {"Type": "Task", "Resource": NOTIFY, "End": true}}}).to_string();
    let created = server.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": "hello", "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();
    let first = run(&server, &machine, "before-restart");
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    let output: Value = serde_json::from_str(first["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["notification"]["subject"], "Order A-7 confirmed");

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
    // Accepted, as AWS accepts any resource; an execution fails at the task.
    let again = server.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": "again", "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    let ended = server.run_to_end(again["stateMachineArn"].as_str().unwrap(), "unmapped", "{}");
    assert_eq!(ended["status"], "FAILED", "{ended}");
    assert!(ended["cause"].as_str().unwrap().contains("no module is mapped"), "{ended}");
}

/// A one-Task state machine on `resource`; its ARN.
fn one_task(server: &ApiServer, name: &str, resource: &str) -> String {
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}}).to_string();
    let created = server.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": name, "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    created["stateMachineArn"].as_str().unwrap().to_string()
}

/// The output of a SUCCEEDED execution.
fn succeeded(described: &Value) -> Value {
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    serde_json::from_str(described["output"].as_str().unwrap()).unwrap()
}

/// The operator's resources: notify, and probe with the kv namespace
/// "stock" holding a secret; uploads may have http under one prefix.
const OPERATOR: &str = "arn:aws:lambda:us-east-1:123456789012:function:Operator";
const OPERATOR_KV: &str = "arn:aws:lambda:us-east-1:123456789012:function:OperatorStock";
const ALLOWED: &str = "http://127.0.0.1:9/unused/";

fn write_config(dir: &std::path::Path, uploads: &str) -> String {
    let text = format!(
        "module_dir = {:?}\n\
         [resources.{OPERATOR:?}]\nmodule = \"notify\"\n\
         [resources.{OPERATOR_KV:?}]\nmodule = \"probe\"\nkv = {{ namespace = \"stock\" }}\nhttp = {{ allow = [{ALLOWED:?}] }}\n\
         [kv.seed.stock]\nsecret = \"operator data\"\n\
         {uploads}",
        guest_dir().to_str().unwrap()
    );
    let path = dir.join("stepwasm.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn probe_input(steps: Value) -> String {
    json!({ "steps": steps }).to_string()
}

#[test]
fn the_operators_resources_cannot_be_replaced_or_deleted() {
    let dir = scratch("api-resources-operator");
    let config = write_config(&dir, "");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", &config]);
    let notify = upload(&guest_dir().join("notify.wasm"));
    for resource in [OPERATOR.to_string(), format!("{OPERATOR}.waitForTaskToken"), "wasm:notify".to_string()] {
        let (code, message) = refused(&server, json!({"resource": resource, "moduleBytes": notify}));
        assert_eq!(code, "ConflictException", "{resource}: {message}");
        assert!(
            message.contains(&format!("resource {resource:?} is")) && message.contains("cannot be replaced or deleted through the API"),
            "{message}"
        );
        let (status, body) = server.call("Stepwasm.DeleteTaskResource", &json!({"resource": resource}));
        assert_eq!((status, body["__type"].as_str()), (400, Some("ConflictException")), "{resource}: {body}");
    }
    let (_, message) = refused(&server, json!({"resource": OPERATOR, "moduleBytes": notify}));
    assert!(message.contains("defined by the operator's config") && !message.contains(&config), "{message}");
    assert_eq!(server.ok("Stepwasm.ListTaskResources", json!({}))["resources"], json!([]));
    // The operator's module still runs as its resource.
    let machine = one_task(&server, "operator", OPERATOR);
    assert_eq!(succeeded(&run(&server, &machine, "still-the-operators"))["notification"]["subject"], "Order A-7 confirmed");
}

#[test]
fn an_upload_gets_its_own_kv_namespace_never_another_resources() {
    let dir = scratch("api-resources-kv");
    let config = write_config(&dir, &format!("[uploads]\nhttp_allow = [{ALLOWED:?}]\n"));
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", &config]);
    let probe = upload(&guest_dir().join("probe.wasm"));
    let thief = "arn:aws:lambda:us-east-1:123456789012:function:Thief";
    let (code, message) = refused(
        &server,
        json!({"resource": thief, "config": {"kv": {"namespace": "stock"}, "http": {"allow": [ALLOWED]}}, "moduleBytes": probe}),
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains(&format!(
            "resources.{thief:?}.kv.namespace: an upload cannot choose its kv namespace; it gets its own, \"upload:{thief}\""
        )),
        "{message}"
    );
    // Within the policy (kv, http under the allowed prefix) it is accepted,
    // with a namespace of its own.
    let put = server.ok(
        "Stepwasm.PutTaskResource",
        json!({"resource": thief, "config": {"kv": true, "http": {"allow": [ALLOWED]}}, "moduleBytes": probe}),
    );
    assert_eq!(put["kvNamespace"], format!("upload:{thief}"), "{put}");
    assert_eq!(put["httpAllow"], json!([ALLOWED]), "{put}");
    let steal = probe_input(json!([{"get": "secret"}, {"set": ["secret", "pwned"]}, {"get": "secret"}]));
    let stolen = succeeded(&run_with(&server, &one_task(&server, "thief", thief), "steal", &steal));
    assert_eq!(stolen["results"], json!([{"value": null}, "ok", {"value": "pwned"}]), "it sees only its own data");
    let operator = one_task(&server, "operator", OPERATOR_KV);
    let read = succeeded(&run_with(&server, &operator, "read", &probe_input(json!([{"get": "secret"}]))));
    // Seed values are stored as JSON text.
    assert_eq!(read["results"], json!([{"value": "\"operator data\""}]), "the operator's data is untouched");
}

#[test]
fn uploads_are_held_to_the_operators_policy() {
    let guests = guest_dir();
    let dir = scratch("api-resources-policy");
    let config = write_config(&dir, &format!("[uploads]\nhttp_allow = [{ALLOWED:?}]\nmax_http_calls = 3\n"));
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", &config]);
    let probe = upload(&guests.join("probe.wasm"));
    let mine = "arn:aws:lambda:us-east-1:123456789012:function:Mine";
    let http = json!({"allow": [ALLOWED]});
    // probe imports kv and http: it is granted both in every request below
    // but the one about the grant in question.
    // Limits over a ceiling: refused (not clamped), naming field, value and ceiling.
    for (config, says) in [
        (
            json!({"fuel": u64::MAX, "kv": true, "http": http}),
            ".fuel = 18446744073709551615 is over this host's ceiling for uploads, 100000000 (the operator's [uploads] fuel)",
        ),
        (
            json!({"timeout_seconds": 31_536_000, "kv": true, "http": http}),
            ".timeout_seconds = 31536000 is over this host's ceiling for uploads, 10",
        ),
        (json!({"memory_mib": 4096, "kv": true, "http": http}), ".memory_mib = 4096 is over this host's ceiling for uploads, 64"),
        (json!({"max_http_calls": 4, "kv": true, "http": http}), ".max_http_calls = 4 is over this host's ceiling for uploads, 3"),
        (
            json!({"kv": true, "http": {"allow": [ALLOWED], "timeout_seconds": 300}}),
            ".http.timeout_seconds = 300 is over this host's ceiling for uploads, 10",
        ),
    ] {
        let (code, message) = refused(&server, json!({"resource": mine, "config": config, "moduleBytes": probe}));
        assert_eq!(code, "ValidationException", "{message}");
        assert!(message.contains(&format!("resources.{mine:?}{says}")), "{message}");
    }
    // http outside the allowed prefixes, the host's own API included.
    for url in [format!("{}/", server.endpoint), "http://127.0.0.1:9/unusedx/".to_string(), "http://127.0.0.1:9/".to_string()] {
        let (code, message) =
            refused(&server, json!({"resource": mine, "config": {"kv": true, "http": {"allow": [url]}}, "moduleBytes": probe}));
        assert_eq!(code, "ValidationException", "{message}");
        assert!(message.contains(&format!("{url:?} is refused: uploads may be granted only URLs under {ALLOWED}")), "{message}");
    }
    // A module named by path or name: refused alike, whether the file is
    // missing, is not WebAssembly, or is a real module.
    std::fs::write(dir.join("junk.wasm"), "not wasm").unwrap();
    let answers: Vec<(u16, Value)> = [
        dir.join("missing.wasm").to_str().unwrap().to_string(),
        dir.join("junk.wasm").to_str().unwrap().to_string(),
        guests.join("notify.wasm").to_str().unwrap().to_string(),
        "notify".to_string(),
    ]
    .iter()
    .map(|module| server.call("Stepwasm.PutTaskResource", &json!({"resource": mine, "config": {"module": module}})))
    .collect();
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 400);
    assert_eq!(answers[0].1["__type"], "ValidationException");
    assert!(answers[0].1["message"].as_str().unwrap().contains(".module: through the API a module is given as its bytes"), "{answers:?}");
    let (code, message) = refused(&server, json!({"resource": mine}));
    assert_eq!(code, "ValidationException");
    assert!(message.contains("no module (upload its bytes as moduleBytes)"), "{message}");
    assert_eq!(server.ok("Stepwasm.ListTaskResources", json!({}))["resources"], json!([]), "nothing refused was registered");

    // Within the policy: accepted, and it runs (its limits are the defaults').
    let put = server.ok(
        "Stepwasm.PutTaskResource",
        json!({"resource": mine, "config": {"kv": true, "http": http, "max_http_calls": 3}, "moduleBytes": probe}),
    );
    assert_eq!((put["limits"]["fuel"].as_u64(), put["limits"]["max_http_calls"].as_u64()), (Some(100_000_000), Some(3)), "{put}");
    let logged = succeeded(&run_with(&server, &one_task(&server, "mine", mine), "mine", &probe_input(json!([{"log": 2}]))));
    assert_eq!(logged["results"], json!([2]));
}

#[test]
fn uploads_can_be_turned_off() {
    let dir = scratch("api-resources-off");
    let config = write_config(&dir, "[uploads]\nenabled = false\n");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", &config]);
    let (status, body) =
        server.call("Stepwasm.PutTaskResource", &json!({"resource": "arn:x", "moduleBytes": upload(&guest_dir().join("notify.wasm"))}));
    assert_eq!((status, body["__type"].as_str()), (400, Some("AccessDeniedException")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("uploads are turned off on this host"), "{body}");
}

#[test]
fn a_registration_the_policy_now_refuses_is_left_unmapped_at_restart() {
    let dir = scratch("api-resources-restart-policy");
    let store = dir.join("store.sqlite");
    let config = write_config(&dir, &format!("[uploads]\nhttp_allow = [{ALLOWED:?}]\n"));
    let server = ApiServer::start(&store, &["--config", &config]);
    let mine = "arn:aws:lambda:us-east-1:123456789012:function:Mine";
    server.ok("Stepwasm.PutTaskResource", json!({"resource": mine, "config": {"kv": true, "http": {"allow": [ALLOWED]}}, "moduleBytes": upload(&guest_dir().join("probe.wasm"))}));
    one_task(&server, "mine", mine);
    drop(server);
    // The operator withdraws http from uploads: the registration stays in
    // the store, but no longer maps the resource.
    let config = write_config(&dir, "");
    let server = ApiServer::start(&store, &["--config", &config]);
    let listed = server.ok("Stepwasm.ListTaskResources", json!({}));
    assert_eq!(listed["resources"][0]["resource"], mine, "{listed}");
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": mine, "End": true}}}).to_string();
    // Accepted, as AWS accepts any resource; an execution fails at the task.
    let again = server.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": "again", "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    let ended = server.run_to_end(again["stateMachineArn"].as_str().unwrap(), "unmapped", "{}");
    assert_eq!(ended["status"], "FAILED", "{ended}");
    assert!(ended["cause"].as_str().unwrap().contains("no module is mapped"), "{ended}");
}
