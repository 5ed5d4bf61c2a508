//! The wasmtime engines' settings: fuel, epoch interruption, the component
//! model, and the pooling allocator sized from the process's instance slots.

use crate::config::Limits;
use crate::instance_slots::{InstanceSlots, PoolSizes};
use crate::precheck::MAX_INSTANCES;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Linear memories one component instance may have (the guests: 1 or 2).
const MAX_MEMORIES_PER_COMPONENT: u32 = 32;
/// Tables one component instance may have (the guests: a few).
const MAX_TABLES_PER_COMPONENT: u32 = 64;

fn engine_config(max_memory_bytes: usize, pooling: bool) -> Config {
    let mut config = Config::new();
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if pooling {
        // As many instances as the process has slots: an invocation waits
        // for a slot before it asks the pool (see instance_slots).
        let sizes = PoolSizes::for_instances(InstanceSlots::global().capacity());
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(sizes.component_instances);
        pool.total_core_instances(sizes.core_instances);
        pool.total_memories(sizes.memories);
        pool.total_tables(sizes.tables);
        pool.total_stacks(sizes.stacks);
        // Per component, whatever passed the pre-check of uploads (or came
        // from the operator): one component cannot take the whole pool.
        pool.max_core_instances_per_component(MAX_INSTANCES as u32);
        pool.max_memories_per_component(MAX_MEMORIES_PER_COMPONENT);
        pool.max_tables_per_component(MAX_TABLES_PER_COMPONENT);
        pool.max_memory_size(max_memory_bytes);
        // Reset reused slots with memset (the first MiB of a memory is about
        // what a handler touches) and batch the rest of the decommits: each
        // madvise costs page faults and, with several threads, TLB-shootdown
        // interrupts — most of an invocation's time without these.
        pool.linear_memory_keep_resident(1 << 20);
        pool.table_keep_resident(64 << 10);
        pool.decommit_batch_size(32);
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// The engine tasks run on, whose memory caps may go up to `max_memory_bytes`.
///
/// The pool's memories are never made smaller than the default cap (64 MiB):
/// the pool refuses to compile a component whose memory starts larger than
/// its slots, with a message about the allocator's configuration, while the
/// resource's own cap (the limiter, and the check at load, which says how
/// much the module needs) is what should refuse it. A CPython component's
/// memory starts at 12.7 MiB, its interpreter's snapshot. A slot reserves
/// its address space whatever this size (`memory_reservation`, 4 GiB on
/// 64-bit hosts), so a larger one costs nothing.
pub(super) fn runtime_engine(max_memory_bytes: usize) -> wasmtime::Result<Engine> {
    let max_memory_bytes = max_memory_bytes.max(Limits::default().memory_bytes);
    // The pooling allocator reserves address space up front; where the
    // system refuses that, fall back to on-demand allocation.
    Engine::new(&engine_config(max_memory_bytes, true)).or_else(|_| Engine::new(&engine_config(max_memory_bytes, false)))
}

/// An engine with the host's compilation settings and no instance pool
/// (the pooling allocator changes no compiled code, and its address-space
/// reservation would not fit the worker's memory limit), compiling on one
/// thread: the compile worker's. Its artefacts load into
/// [`WasmRuntime`](super::WasmRuntime)'s engine.
pub(crate) fn compile_engine() -> wasmtime::Result<Engine> {
    let mut config = engine_config(Limits::default().memory_bytes, false);
    config.parallel_compilation(false);
    Engine::new(&config)
}
