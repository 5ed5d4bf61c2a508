//! WASI with nothing granted: the guest's stderr goes to a small buffer,
//! clocks are coarse, and there are no sockets, files or environment.

use crate::clocks::{CoarseMonotonicClock, CoarseWallClock};
use crate::wasm::invocation::Invocation;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// WASI with nothing granted: stderr into `stderr`, coarse clocks, no
/// sockets, no files, no environment.
fn empty_wasi(stderr: MemoryOutputPipe) -> WasiCtx {
    WasiCtxBuilder::new()
        .stderr(stderr)
        .wall_clock(CoarseWallClock)
        .monotonic_clock(CoarseMonotonicClock::new())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl WasiView for Invocation {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self.wasi.get_or_insert_with(|| empty_wasi(self.stderr.clone()));
        WasiCtxView { ctx, table: &mut self.table }
    }
}
