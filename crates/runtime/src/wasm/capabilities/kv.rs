//! The `kv` capability: reads and staged writes in the granted namespace of
//! the kv store, through the invocation's transaction (committed, or not, by
//! [`invoke`](crate::wasm::invoke)).

use super::limit_trap;
use crate::kv::{KvCallError, KvStore, KvTransaction};
use crate::wasm::bindings::stepwasm::task::kv::Host;
use crate::wasm::invocation::Invocation;

impl Invocation {
    /// The kv transaction; a module can only call kv when it was granted (the
    /// linker has no kv otherwise), so its absence is a host bug, not a guest's.
    fn kv(&mut self) -> wasmtime::Result<(&KvStore, &mut KvTransaction)> {
        match &mut self.kv {
            Some((kv_store, tx)) => Ok((kv_store, tx)),
            None => Err(wasmtime::Error::msg("kv called without a kv grant")),
        }
    }
}

impl Host for Invocation {
    // The kv store is SQLite behind a mutex: calls are short and do not await.
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, String>> {
        let (kv_store, tx) = self.kv()?;
        match tx.get_checked(kv_store, &key) {
            Err(KvCallError::Limit(what)) => Err(limit_trap(&mut self.limiter, what)),
            read => Ok(read.map_err(|e| e.to_string())),
        }
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), String>> {
        Ok(self.kv()?.1.set(key, value))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        Ok(self.kv()?.1.delete(key))
    }
}
