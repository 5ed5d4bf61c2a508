//! Standard WASI HTTP (issue 20): a JavaScript handler's global `fetch()`,
//! which componentize-js compiles to `wasi:http/outgoing-handler`
//! (tests/hostile/js/fetcher, built with wasi:http kept by
//! scripts/build-js-examples.sh), is served under its resource's http grant,
//! the same as `stepwasm:task/http`'s: only allowed URL prefixes are reached
//! (other host, other port, dot segments, encoded slashes and user-info are
//! refused before anything leaves the host), a redirect is returned rather
//! than followed, the response cap and the timeout hold, the call limit fails
//! the invocation; and a component importing wasi:http without an http grant
//! is refused at load, naming the import.

use crate::support::{block_on, one_task_machine as machine, root, task_failure, TestServer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::Outcome;
use stepwasm::runtime::{ResourceMap, WasmRuntime};

/// Where scripts/build-js-examples.sh puts the fetcher component.
fn js_dir() -> PathBuf {
    let dir = root().join("target/guest-js");
    assert!(
        dir.join("fetcher_js.wasm").is_file(),
        "fetcher_js.wasm is missing from {}: run scripts/build-js-examples.sh (make test does)",
        dir.display()
    );
    dir
}

/// The JavaScript tests' compile cache (a StarlingMonkey component takes
/// seconds to compile, a cached one milliseconds to load).
fn cache_dir() -> PathBuf {
    root().join("target/guest-js/compile-cache")
}

/// `/ok/...` echoes the path and body, `/big/...` answers 64 KiB (with a
/// content-length), `/slow/...` waits 3 s first.
fn gateway() -> TestServer {
    TestServer::start(|path, body| {
        if path.starts_with("/slow/") {
            std::thread::sleep(Duration::from_secs(3));
            (200, "late".into())
        } else if path.starts_with("/big/") {
            (200, "x".repeat(64 << 10))
        } else {
            (200, json!({"path": path, "echo": body}).to_string())
        }
    })
}

/// A server answering `/redirect/` with a 302 to `location` and
/// `/stream/` with 64 KiB without a content-length (the body ends when the
/// connection closes); counts the requests it got.
struct RawServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

fn raw_server(location: String) -> RawServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
            }
            let _ = if line.contains("/redirect/") {
                write!(stream, "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            } else {
                write!(stream, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{}", "y".repeat(64 << 10))
            };
        }
    });
    RawServer { port, requests }
}

struct Host {
    runtime: WasmRuntime,
    machine: Arc<StateMachine>,
}

/// The fetcher granted the gateway's three prefixes and the raw server's,
/// 1 s per request, 16 KiB per response, 6 requests per invocation.
fn host(gw: &TestServer, raw: &RawServer) -> Host {
    let dir = js_dir();
    let allow = [gw.url("/ok/"), gw.url("/big/"), gw.url("/slow/"), format!("http://127.0.0.1:{}/", raw.port)];
    let allow = allow.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    let text = format!(
        "module_dir = {:?}\n[resources.\"fetcher\"]\nmodule = \"fetcher_js\"\nfuel = 2_000_000_000\nmemory_mib = 64\n\
         timeout_seconds = 10\nmax_http_calls = 6\nhttp = {{ allow = [{allow}], timeout_seconds = 1, max_response_kib = 16 }}\n",
        dir.to_str().unwrap()
    );
    let map = ResourceMap::parse(&text, &dir.join("wasi-http-test.toml")).unwrap();
    let machine = machine("fetcher");
    let runtime = WasmRuntime::for_machine_cached(&machine, &map, Some(&cache_dir())).unwrap_or_else(|e| panic!("{e}"));
    Host { runtime, machine }
}

fn run(host: &Host, requests: Value) -> ExecutionRecord {
    let input = json!({ "requests": requests });
    block_on(run_execution(host.machine.clone(), execution_info("fetcher", "t"), input, &host.runtime, &VirtualClock::new(0))).unwrap()
}

fn results(rec: &ExecutionRecord) -> Vec<Value> {
    match &rec.outcome {
        Outcome::Succeeded { output } => output.as_array().cloned().unwrap_or_default(),
        other => panic!("expected success, got {other:?}"),
    }
}

/// The host's reasons for the requests it refused, from the log.
fn refusals(host: &Host) -> Vec<String> {
    host.runtime.take_logs().into_iter().filter(|l| l.message.starts_with("wasi:http request refused")).map(|l| l.message).collect()
}

#[test]
fn fetch_over_wasi_http_reaches_only_granted_prefixes() {
    let gw = gateway();
    let other = gateway();
    let raw = raw_server(other.url("/ok/secret"));
    let host = host(&gw, &raw);

    // Allowed: a GET and a POST with a body.
    let out = results(&run(
        &host,
        json!([
            {"url": gw.url("/ok/get?x=1")},
            {"url": gw.url("/ok/post"), "method": "POST", "body": "hello", "headers": {"content-type": "text/plain"}},
        ]),
    ));
    assert_eq!(out[0]["status"], 200, "{out:?}");
    let body: Value = serde_json::from_str(out[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["path"], "/ok/get?x=1");
    assert_eq!(out[1]["status"], 200, "{out:?}");
    let body: Value = serde_json::from_str(out[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!((body["path"].as_str(), body["echo"].as_str()), (Some("/ok/post"), Some("hello")));
    assert_eq!(gw.seen(), vec!["/ok/get?x=1".to_string(), "/ok/post".to_string()]);
    let _ = refusals(&host);

    // Refused before anything leaves the host, each with its reason logged.
    let bypasses = [
        format!("http://localhost:{}/ok/", gw.port),                          // other host (same address)
        other.url("/ok/"),                                                    // other port
        gw.url("/ok/../secret"),                                              // dot segments
        gw.url("/ok/%2e%2e/secret"),                                          // encoded dot segments
        gw.url("/ok/..%2fsecret"),                                            // an encoded slash
        format!("http://127.0.0.1:{}@127.0.0.1:{}/ok/", gw.port, other.port), // user-info
        format!("http://user:pw@127.0.0.1:{}/ok/", gw.port),
    ];
    let mut why = Vec::new();
    for batch in bypasses.chunks(4) {
        let out = results(&run(&host, json!(batch.iter().map(|u| json!({"url": u})).collect::<Vec<_>>())));
        for (url, result) in batch.iter().zip(&out) {
            assert!(result["error"].is_string() && result.get("status").is_none(), "{url} was not refused: {result}");
        }
        why.extend(refusals(&host));
    }
    assert_eq!(gw.seen().len(), 2, "no refused request reached the gateway: {:?}", gw.seen());
    assert!(other.seen().is_empty(), "nothing reached the other port: {:?}", other.seen());
    // (fetch() resolves dot segments, encoded ones too, before sending: the
    // host sees /secret, outside the prefix; it passes user-info on.)
    assert_eq!(why.len(), bypasses.len(), "each refused by the host: {why:#?}");
    for (i, reason) in why.iter().enumerate() {
        let expected = match i {
            0..=3 => "is not in this resource's http grant",
            4 => "percent-encoded dots, slashes or backslashes in the path are not allowed",
            _ => "URLs with a user name or password are not allowed",
        };
        assert!(reason.contains(expected), "{}: {reason}", bypasses[i]);
    }

    // A redirect out of the grant: the host returns the 3xx and never
    // follows it; componentize-js's fetch() does not follow it either, even
    // with `redirect: 'follow'` (were it to, the host would refuse the second
    // request as any other).
    let redirect = format!("http://127.0.0.1:{}/redirect/", raw.port);
    let out = results(&run(&host, json!([{"url": redirect}, {"url": redirect, "redirect": "follow"}])));
    assert_eq!((out[0]["status"].as_u64(), out[0]["location"].as_str()), (Some(302), Some(other.url("/ok/secret").as_str())), "{out:?}");
    assert_eq!(out[1]["status"], 302, "{out:?}");
    assert_eq!(raw.requests.load(Ordering::SeqCst), 2);
    assert!(other.seen().is_empty(), "the redirect was not followed: {:?}", other.seen());
}

#[test]
fn fetch_over_wasi_http_is_capped_timed_and_counted() {
    let gw = gateway();
    let raw = raw_server("http://127.0.0.1:9/".into());
    let host = host(&gw, &raw);

    // Over the response cap: declared (content-length) and streamed.
    let started = Instant::now();
    let out = results(&run(
        &host,
        json!([
            {"url": gw.url("/big/")},
            {"url": format!("http://127.0.0.1:{}/stream/", raw.port)},
            {"url": gw.url("/slow/")},
        ]),
    ));
    eprintln!("cap and timeout: {out:#?} in {:?}", started.elapsed());
    assert!(out[0]["error"].is_string(), "a 64 KiB body over a 16 KiB cap: {}", out[0]);
    assert!(out[1]["error"].is_string(), "a 64 KiB body without a content-length over a 16 KiB cap: {}", out[1]);
    assert!(out[2]["error"].is_string(), "a 3 s answer under a 1 s timeout: {}", out[2]);
    assert!(started.elapsed() < Duration::from_millis(2900), "the timeout cut the wait: {:?}", started.elapsed());

    // The call limit fails the invocation, whatever the handler makes of the refusal.
    let ok = json!({"url": gw.url("/ok/")});
    let rec = run(&host, json!([ok, ok, ok, ok, ok, ok, ok]));
    let (_, error, cause) = task_failure(&rec);
    assert_eq!(error, "States.TaskFailed", "{cause}");
    assert!(cause.contains("http call limit exceeded: more than 6 requests"), "{cause}");
    assert_eq!(gw.seen().iter().filter(|p| *p == "/ok/").count(), 6);
    assert_eq!(results(&run(&host, json!([ok])))[0]["status"], 200, "the next invocation works");
}

#[test]
fn wasi_http_without_an_http_grant_is_refused_at_load() {
    let dir = js_dir();
    let text = format!("module_dir = {:?}\n[resources.\"fetcher\"]\nmodule = \"fetcher_js\"\n", dir.to_str().unwrap());
    let map = ResourceMap::parse(&text, &dir.join("wasi-http-test.toml")).unwrap();
    let err = WasmRuntime::for_machine_cached(&machine("fetcher"), &map, Some(&cache_dir())).err().expect("refused").to_string();
    assert!(err.contains("imports wasi:http/") && err.contains("not granted http"), "{err}");
}
