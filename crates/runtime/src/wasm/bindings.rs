//! The host side of the `stepwasm:task` WIT world (`wit/task.wit`), generated
//! by wasmtime: the [`Task`] world and its pre-instantiation [`TaskPre`], the
//! guest's exported handler, and the `Host` trait of each imported interface,
//! which [`capabilities`](super::capabilities) implements.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "task",
    // Host functions may trap: that is how a log or http limit ends the call.
    // Everything is async so a module computing or waiting on the network
    // yields its thread to other invocations.
    imports: { default: async | trappable },
    exports: { default: async },
});
