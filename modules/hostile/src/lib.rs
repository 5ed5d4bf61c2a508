//! A deliberately misbehaving module for the host's limit tests.
//!
//! The input's `mode` picks the misbehaviour: `trap` (executes `unreachable`),
//! `panic` (a Rust panic, which aborts), `loop` (spins forever), `alloc` (grows
//! memory without bound), `recurse` (overflows the stack), `not-json` (returns
//! text that is not JSON), `huge` (returns `bytes` bytes of JSON), `ok` (behaves).
//! It uses the raw bindings rather than `handler!` so it can return non-JSON.

#[cfg(target_arch = "wasm32")]
mod component {
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

    impl Guest for Hostile {
        fn handle(input: String, _ctx: Context) -> Result<String, TaskError> {
            let v: serde_json::Value = serde_json::from_str(&input).unwrap_or_default();
            match v["mode"].as_str().unwrap_or("") {
                "trap" => core::arch::wasm32::unreachable(),
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
                "ok" => Ok(r#"{"fine":true}"#.to_string()),
                other => Err(TaskError { error: "UnknownMode".into(), cause: format!("mode {other:?}") }),
            }
        }
    }

    stepwasm_guest::bindings::__export_task_handler!(Hostile with_types_in stepwasm_guest::bindings);
}
