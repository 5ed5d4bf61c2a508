//! A deliberately misbehaving module for the host's limit tests.
//!
//! The input's `mode` picks the misbehaviour: `trap` or `unreachable` (executes
//! `unreachable`), `panic` (a Rust panic, which aborts), `loop` (spins forever),
//! `alloc` (grows memory without bound), `recurse` (overflows the stack),
//! `not-json` (returns text that is not JSON), `huge` (returns `bytes` bytes of
//! JSON), `ok` (behaves), `fail` (returns the handled error named `error`
//! with `cause`, e.g. a name Step Functions reserves).
//!
//! Three modes probe the sandbox and report what they got, as JSON, so a test
//! can assert that nothing got through:
//! * `read-file`: reads `/etc/passwd` (and `path`, if given) and lists `.`;
//!   `{"read": bool, "read_error": string|null, "listed": bool,
//!   "list_error": string|null}`;
//! * `env`: `{"count": <number of env vars>, "vars": [names], "home": .., "path":
//!   .., "secret": <value of `var`, if named>, "args": <number of args>}`.
//!
//! There is no `socket` mode: std::net does not link on the Debian guest
//! toolchain (its 2022 wasi-libc has no `socket`/`connect`/`getaddrinfo`);
//! tests/hostile/socket.wat calls wasi:sockets directly instead.
//!
//! It uses the raw bindings rather than `handler!` so it can return non-JSON.

#[cfg(target_arch = "wasm32")]
mod component {
    use serde_json::{json, Value};
    use stepwasm_guest::bindings::exports::stepwasm::task::handler::Guest;
    use stepwasm_guest::bindings::stepwasm::task::types::{Context, TaskError};

    struct Hostile;

    #[inline(never)]
    #[allow(unconditional_recursion)] // the point: it overflows the stack
    fn recurse(depth: u64, pad: &mut [u8; 256]) -> u64 {
        pad[(depth % 256) as usize] = depth as u8;
        let mut next = [0u8; 256];
        next.copy_from_slice(pad);
        recurse(depth + 1, &mut next) + next[0] as u64
    }

    fn read_file(v: &Value) -> Value {
        let path = v["path"].as_str().unwrap_or("/etc/passwd");
        let (read, read_error) = match std::fs::read_to_string(path) {
            Ok(text) => (true, Value::String(format!("read {} bytes", text.len()))),
            Err(e) => (false, Value::String(e.to_string())),
        };
        let (listed, list_error) = match std::fs::read_dir(".") {
            Ok(entries) => (true, Value::String(format!("{} entries", entries.count()))),
            Err(e) => (false, Value::String(e.to_string())),
        };
        json!({"read": read, "read_error": if read { Value::Null } else { read_error },
               "listed": listed, "list_error": if listed { Value::Null } else { list_error }})
    }

    fn env(v: &Value) -> Value {
        let vars: Vec<String> = std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        let secret = v["var"].as_str().map(|name| std::env::var(name).ok());
        json!({
            "count": vars.len(),
            "vars": vars,
            "home": std::env::var("HOME").ok(),
            "path": std::env::var("PATH").ok(),
            "secret": secret.flatten(),
            "args": std::env::args_os().count(),
        })
    }

    impl Guest for Hostile {
        fn handle(input: String, _ctx: Context) -> Result<String, TaskError> {
            let v: Value = serde_json::from_str(&input).unwrap_or_default();
            match v["mode"].as_str().unwrap_or("") {
                "trap" | "unreachable" => core::arch::wasm32::unreachable(),
                "panic" => panic!("hostile module panicked on purpose"),
                "loop" => {
                    let mut i: u64 = 0;
                    loop {
                        i = std::hint::black_box(i.wrapping_add(1));
                    }
                }
                "alloc" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "recurse" => Ok(recurse(0, &mut [0u8; 256]).to_string()),
                "not-json" => Ok("this is { not json".to_string()),
                "huge" => {
                    let n = v["bytes"].as_u64().unwrap_or(1 << 20) as usize;
                    Ok(format!("\"{}\"", "x".repeat(n)))
                }
                "read-file" => Ok(read_file(&v).to_string()),
                "env" => Ok(env(&v).to_string()),
                "ok" => Ok(r#"{"fine":true}"#.to_string()),
                "fail" => Err(TaskError {
                    error: v["error"].as_str().unwrap_or("HostileFailure").to_string(),
                    cause: v["cause"].as_str().unwrap_or("failed on purpose").to_string(),
                }),
                other => Err(TaskError { error: "UnknownMode".into(), cause: format!("mode {other:?}") }),
            }
        }
    }

    stepwasm_guest::bindings::__export_task_handler!(Hostile with_types_in stepwasm_guest::bindings);
}
