//! The misbehaviours that depend on the guest SDK's `no_std` runtime (its
//! allocator and panic handler, guest-sdk/src/no_std_rt.rs), in a module
//! built the way handlers are by default: no std, so no WASI imports.
//! (`modules/hostile` covers the rest, built with std.)
//!
//! The input's `mode` picks what it does:
//! * `panic`: a Rust panic whose message names `bytes`;
//! * `alloc`: allocates `bytes` bytes in 64 KiB blocks, writes each byte, and
//!   returns `{"blocks": n, "checksum": sum of all bytes}` (block k is filled
//!   with the byte `k % 251 + 1`, so overlapping blocks would change the sum).
//!   More than the initial memory's free tail, so
//!   the allocator must grow linear memory; past the memory cap, it fails;
//! * `ok`: returns `{"ok": true}`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{format, string::String, vec, vec::Vec};
use serde::Deserialize;
use serde_json::{json, Value};
use stepwasm_guest::{Context, TaskError};

const BLOCK_BYTES: u64 = 64 * 1024;

#[derive(Deserialize)]
pub struct Orders {
    pub mode: String,
    #[serde(default)]
    pub bytes: u64,
}

pub fn misbehave(orders: Orders, _ctx: &Context) -> Result<Value, TaskError> {
    match orders.mode.as_str() {
        "panic" => panic!("hostile no_std module panicked on purpose ({} bytes)", orders.bytes),
        "alloc" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            let mut left = orders.bytes;
            while left > 0 {
                let n = left.min(BLOCK_BYTES) as usize;
                let mut block = vec![0u8; n];
                block.fill((blocks.len() % 251) as u8 + 1);
                blocks.push(block);
                left -= n as u64;
            }
            // Read everything back: the blocks must not overlap.
            let checksum: u64 = blocks.iter().flatten().map(|b| u64::from(*b)).sum();
            Ok(json!({ "blocks": blocks.len(), "checksum": checksum }))
        }
        "ok" => Ok(json!({ "ok": true })),
        other => Err(TaskError::new("UnknownMode", format!("no mode {other:?}"))),
    }
}

stepwasm_guest::handler!(misbehave);
